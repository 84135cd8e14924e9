//! The heads-up display: which space you are in, a crosshair while the mouse steers,
//! the fade between spaces, and the F1 help overlay listing the controls.

mod plugin;

pub use plugin::{CONTROLS, HelpOverlay, HudPlugin};
