//! Desktop controls: a first-person camera on the person's head, mouse look, and the
//! cursor grab (click to grab, Esc to release).

mod plugin;

pub use plugin::{CursorGrab, DesktopPlugin, MainCamera};
