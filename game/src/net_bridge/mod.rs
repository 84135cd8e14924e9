//! The bridge between the Bevy world and the network. `net` runs on its own tokio
//! runtime in its own thread; the bridge moves messages through bounded channels so a
//! frame never waits on the network. Poses coalesce (the newest wins); what peers say and
//! do arrives as [`PeerUpdate`](crate::people::PeerUpdate)s and chat lines.

mod plugin;
mod runtime;

pub use plugin::{NetBridgePlugin, NetMode, NetOptions, NetStatus};
