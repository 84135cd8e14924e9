//! Sanctuary's networking: an iroh endpoint per person, worlds joined by ticket, presence
//! and chat over iroh-gossip, private messages and pose datagrams on direct QUIC
//! connections. Every incoming message is checked (size, decode, rate, signature, replay)
//! before it becomes a [`WorldEvent`]. No Bevy here: the game talks to this crate through
//! its bridge, and this crate runs on tokio.
//!
//! - [`node`]: [`Node`], [`NodeConfig`], [`RelayChoice`]: the endpoint and its protocol
//!   handlers.
//! - [`ticket`]: [`WorldId`] and the printable [`WorldTicket`].
//! - [`world`]: [`WorldHandle`], [`WorldEvent`], [`WorldConfig`]: being in a world.
//! - [`gate`]: the receive-side checks and their [`Counters`].
//! - [`fuzzing`]: decoder entry points for the fuzz targets.
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

mod error;
pub mod fuzzing;
pub mod gate;
pub mod node;
pub mod ticket;
pub mod world;

pub use error::NetError;
pub use gate::{Counters, MuteRules, PeerCounters, RejectReason, Rejection};
pub use node::{Node, NodeConfig, RelayChoice};
pub use ticket::{ParseTicketError, WorldId, WorldTicket};
#[cfg(feature = "test-utils")]
pub use world::RawTopic;
pub use world::{JoinTarget, LeaveReason, Neighbors, RosterEntry, WorldConfig, WorldEvent, WorldHandle};
