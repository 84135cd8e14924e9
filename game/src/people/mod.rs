//! Other people: who is in the world and where (the roster), their avatars moving
//! smoothly from the poses they send, and their name tags. The network bridge feeds
//! this feature through [`PeerUpdate`] messages; nothing here knows about the network.

pub mod interpolation;
mod name_tags;
mod panel;
mod plugin;

pub use interpolation::{Limbs, Snapshot};
pub use name_tags::NameTagsPlugin;
pub use panel::{InviteTicket, PeoplePanelPlugin};
pub use plugin::{PeerUpdate, PeoplePlugin, PoseBuffers, RemoteAvatar, Roster, RosterEntry};
