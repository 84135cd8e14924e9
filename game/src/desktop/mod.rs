//! Desktop controls: a first-person camera on the person's head, mouse look, the cursor
//! grab (click to grab, Esc to release), the mouse pointing at panels in the world, and
//! the smaller picture of the world that low quality draws.

pub mod picture;
mod plugin;
pub mod pointer;

pub use plugin::{CursorGrab, DesktopPlugin, MainCamera};
