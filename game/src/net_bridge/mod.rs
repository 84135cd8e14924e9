//! The bridge between the Bevy world and the network. The network runs as a
//! [`sanctuary_net::session`] on its own thread; the bridge only moves messages through its
//! bounded channels, so a frame never waits on the network. Poses coalesce (the newest
//! wins); what peers say and do arrives as [`PeerUpdate`](crate::people::PeerUpdate)s and
//! chat lines. With `--lan`, the worlds hosted nearby arrive as the [`Nearby`] list, and a
//! [`JoinNearby`] enters one.

mod plugin;

pub use plugin::{Bridge, JoinNearby, Nearby, NetBridgePlugin, NetMode, NetOptions, NetStatus};
