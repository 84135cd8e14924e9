//! Avatars: the person's own body and how it moves, and the bodies of others
//! (for now, the idle avatars that drift through the lobby).

pub mod body;
pub mod controller;
pub mod floating;
mod plugin;

pub use controller::{ControlsBlocked, Motion, MoveIntent, Player, TrackedBody};
pub use plugin::AvatarPlugin;
