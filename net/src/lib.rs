//! Sanctuary's networking: an iroh endpoint per person, worlds joined by ticket, presence
//! and chat over iroh-gossip, private messages and pose datagrams on direct QUIC
//! connections. Every incoming message is checked (size, decode, signature against where
//! it arrived, timestamp, rate, replay, budgets) before it becomes a [`WorldEvent`], and
//! only what a peer provably did counts against it. No Bevy here: the game talks to this
//! crate through a [`session`], and this crate runs on tokio.
//!
//! - [`node`]: [`Node`], [`NodeConfig`], [`RelayChoice`]: the endpoint, its protocol
//!   handlers and its transport limits.
//! - [`world`]: [`WorldHandle`], [`WorldEvent`], [`WorldConfig`]: being in a world.
//! - [`build`]: each space's building document, kept on disk and synced with peers.
//! - [`roster`]: who is in a world, bounded.
//! - [`gate`]: the receive-side checks and their [`Counters`].
//! - [`session`]: a world on its own thread, driven through channels (what the game uses).
//! - [`ticket`]: world tickets as addresses to dial.
//! - [`home`]: [`Home`], the personal server, and [`HomeConnection`] to talk to one.
//! - [`nearby`]: worlds announced on the local network, joined without a ticket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use sanctuary_net::{JoinTarget, Node, NodeConfig, WorldId};
//! use sanctuary_protocols::{AvatarShape, DisplayName, Keypair, Presence, Rgb, SpaceName};
//!
//! let node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
//! let presence = Presence {
//!     name: DisplayName::new("Ada")?,
//!     color: Rgb { r: 200, g: 40, b: 90 },
//!     shape: AvatarShape::Capsule,
//!     space: SpaceName::new("lobby")?,
//! };
//! let mut world = node.join_world(JoinTarget::host(WorldId::random()?), presence).await?;
//! println!("join with: {}", world.ticket());
//! while let Some(event) = world.events().recv().await {
//!     println!("{event:?}");
//! }
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod build;
pub mod data_dir;
mod dialer;
mod error;
pub mod gate;
pub mod home;
mod inbound;
pub mod nearby;
pub mod node;
pub mod roster;
pub mod session;
pub mod storage;
pub mod ticket;
pub mod world;

pub use build::{BuildCounters, BuildError, BuildHandle, BuildSetup, Edited};
pub use error::NetError;
pub use gate::{Counters, GossipBudgets, MuteRules, Origin, PeerCounters, RejectReason, Rejection};
pub use home::{Home, HomeConnection, HomeError, HomeEvent};
pub use nearby::{Nearby, NearbyWorld, NearbyWorlds};
pub use node::{Node, NodeConfig, RelayChoice};
pub use roster::RosterEntry;
pub use sanctuary_protocols::{ParseTicketError, WorldId, WorldTicket};
pub use storage::{BlobEntry, BlobOrigin, FetchProgress, FetchRequest, ServedReport, Storage, StorageError};
#[cfg(feature = "test-utils")]
pub use world::RawTopic;
pub use world::{
    DirectSender, JoinTarget, LeaveReason, Neighbors, VoiceSender, VoiceTo, WorldConfig, WorldEvent,
    WorldHandle,
};
