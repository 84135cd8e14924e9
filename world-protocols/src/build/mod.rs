//! Building: the pieces people place in a space, the rules each space sets for it, and the
//! signed records that carry every edit between peers and into the data folder.
//!
//! - [`piece`]: [`Piece`] (kind, position, turn, size, colour, sign text) and [`PieceId`].
//! - [`rules`]: [`BuildRules`], the zones of a space file and who may build there.
//! - [`record`]: [`SignedRecord`], one signed fact about a piece or a grant, and the
//!   [`RecordBatch`] records travel in.
//! - [`document`]: [`Document`], a space's records checked against its rules, the CRDT
//!   every peer converges on.
//! - [`sync`]: the request and pages of the sync connection.
//!
//! Records travel live in [`Body::Build`](crate::Body::Build) on the space's room, and
//! whole documents on the [`ALPN_BUILD`](crate::alpn::ALPN_BUILD) connection. Peers say
//! what they hold with [`Body::BuildState`](crate::Body::BuildState) so that peers that
//! were apart find out and exchange what they missed.

pub mod document;
pub mod piece;
pub mod record;
pub mod rules;
pub mod sync;

use serde::{Deserialize, Serialize};

pub use document::{Document, Offer, Refusal};
pub use piece::{Piece, PieceError, PieceId, PieceKind, SignText, YAW_STEPS};
pub use record::{Record, RecordBatch, RecordDecodeError, RecordKey, SignedRecord, Stamp, TooManyRecords};
pub use rules::{BuildRules, Builders, KeyText, LimitError, Limits, RulesError, Zone, ZoneName};

/// What a peer holds of a space's document: sent now and then on the space's room, so
/// that a peer holding something else asks for a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildState {
    /// How many records the peer keeps.
    pub records: u32,
    /// [`Document::hash`] of what it shows.
    pub hash: [u8; 32],
    /// [`Document::rules_digest`] of the rules it checks edits against: peers whose space
    /// files differ cannot come to show the same, and say so rather than sync in vain.
    pub rules: [u8; 32],
}
