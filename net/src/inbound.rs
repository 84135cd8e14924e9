//! What the protocol handlers and topic readers hand the world they belong to.

use iroh_gossip::api::Event as GossipEvent;
use sanctuary_protocols::{PeerId, SpaceName};

use crate::build::Offered;

use crate::gate::RejectReason;

/// One item for a world's actor: bytes to check, or news about a topic.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A direct-message stream's bytes.
    Direct { from: PeerId, bytes: Vec<u8> },
    /// A direct-message stream refused before it was read in full.
    Refused { from: PeerId, reason: RejectReason },
    /// A pose datagram.
    Pose {
        from: PeerId,
        connection: u64,
        bytes: Vec<u8>,
    },
    /// A voice datagram.
    Voice { from: PeerId, bytes: Vec<u8> },
    /// Something from a gossip topic, already within its budgets.
    Gossip {
        kind: TopicKind,
        generation: u64,
        event: GossipEvent,
    },
    /// A topic subscription ended.
    TopicClosed { kind: TopicKind, generation: u64 },
    /// A room neighbour told us the earlier chat of `space` (lines not checked yet), or
    /// could not.
    History {
        /// Which visit to the space asked.
        round: u64,
        space: SpaceName,
        peer: PeerId,
        result: Result<sanctuary_protocols::history::HistoryAnswer, String>,
    },
    /// A building sync with `peer` finished: what it changed, or why it failed.
    BuildSynced {
        space: SpaceName,
        peer: PeerId,
        result: Result<Offered, String>,
    },
}

/// Which of a world's two subscriptions something came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopicKind {
    /// The world-wide topic.
    World,
    /// The room of the current space.
    Room,
}
