//! Signed records: the unit a space's building document is made of and travels in.
//!
//! A [`Record`] says the latest about one thing: a piece (where it stands, or that it was
//! removed) or one person's build rights in one zone. Its author signs it together with a
//! clock reading, the world and the space ([`SignedRecord::sign`]), so a record cannot be
//! moved into another world or space, and each one can be checked on its own, however it
//! arrived: live over the room, from a peer's snapshot, or from the disk.
//!
//! Records are state, not messages: receiving one twice changes nothing, and an older one
//! never replaces a newer one. "Newer" is the [`Stamp`]: the author's clock (Unix
//! milliseconds, moved past every clock reading seen, so it counts up even across machines
//! whose clocks disagree), then the author, then the signature, so every peer picks the
//! same winner.
//!
//! The signature is made over [`RECORD_SIGNING_DOMAIN`], the world id (32 bytes), the space
//! name (a length byte and its bytes), the author (32 bytes), the clock (8 bytes
//! little-endian) and the postcard record.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::piece::{Piece, PieceId};
use super::rules::ZoneName;
use crate::identity::{Keypair, PeerId, Signature, VerifyError};
use crate::limits::BUILD_BATCH_MAX;
use crate::text::SpaceName;
use crate::world::WorldId;

/// Signatures on records are made over this prefix first, so no other signature in
/// Sanctuary can pass for one.
pub const RECORD_SIGNING_DOMAIN: &[u8] = b"sanctuary/build/1\0";

/// What one record says. The variant order is part of the wire format.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Record {
    /// A piece stands like this in `zone`, or (`None`) was removed from it.
    Piece {
        /// Which piece.
        id: PieceId,
        /// The zone it stands in.
        zone: ZoneName,
        /// How it stands now; `None` once removed.
        piece: Option<Piece>,
    },
    /// An owner of `zone` lets `person` build there, or no longer does.
    Grant {
        /// The zone.
        zone: ZoneName,
        /// Who.
        person: PeerId,
        /// Whether they may build.
        allowed: bool,
    },
}

/// What a record is about: the document keeps the newest record for each key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordKey {
    /// One piece.
    Piece(PieceId),
    /// One person's rights in one zone.
    Grant(ZoneName, PeerId),
}

impl Record {
    /// What the record is about.
    pub fn key(&self) -> RecordKey {
        match self {
            Record::Piece { id, .. } => RecordKey::Piece(*id),
            Record::Grant { zone, person, .. } => RecordKey::Grant(zone.clone(), *person),
        }
    }

    /// The zone the record is about.
    pub fn zone(&self) -> &ZoneName {
        match self {
            Record::Piece { zone, .. } | Record::Grant { zone, .. } => zone,
        }
    }
}

/// A record with its author, clock reading and signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignedRecord {
    record: Record,
    clock: u64,
    author: PeerId,
    signature: Signature,
}

/// Which of two records about the same thing wins: later clock, then author, then
/// signature bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp<'a> {
    /// The author's clock, Unix milliseconds or later.
    pub clock: u64,
    /// The author.
    pub author: &'a PeerId,
    /// The signature's bytes.
    pub signature: &'a [u8; 64],
}

impl PartialOrd for Stamp<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stamp<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.clock, self.author, self.signature).cmp(&(other.clock, other.author, other.signature))
    }
}

impl SignedRecord {
    /// Signs `record` by `keypair` at `clock` for `space` of `world`.
    pub fn sign(keypair: &Keypair, world: WorldId, space: &SpaceName, clock: u64, record: Record) -> Self {
        let author = keypair.peer_id();
        let signature = keypair.sign(&signed_bytes(world, space, &author, clock, &record));
        Self {
            record,
            clock,
            author,
            signature,
        }
    }

    /// Checks the signature against the world and space the record is used in.
    pub fn verify(&self, world: WorldId, space: &SpaceName) -> Result<(), VerifyError> {
        let bytes = signed_bytes(world, space, &self.author, self.clock, &self.record);
        self.author.verify(&bytes, &self.signature)
    }

    /// What it says. Read it only after [`verify`](Self::verify).
    pub fn record(&self) -> &Record {
        &self.record
    }

    /// Who signed it.
    pub fn author(&self) -> PeerId {
        self.author
    }

    /// The author's clock when it was signed.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// What decides which of two records about the same thing wins.
    pub fn stamp(&self) -> Stamp<'_> {
        Stamp {
            clock: self.clock,
            author: &self.author,
            signature: self.signature.as_bytes(),
        }
    }

    /// The record's bytes (postcard), as stored on disk and hashed.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads one record from exactly `bytes`; anything left over, or a form that does not
    /// encode back the same, is refused.
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordDecodeError> {
        let (record, rest) = postcard::take_from_bytes::<Self>(bytes)?;
        if !rest.is_empty() {
            return Err(RecordDecodeError::TrailingBytes(rest.len()));
        }
        if record.encode() != bytes {
            return Err(RecordDecodeError::NonCanonical);
        }
        Ok(record)
    }
}

/// Records sent together: the edits of one frame on the room, or a page of a snapshot.
/// At most [`BUILD_BATCH_MAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<SignedRecord>", into = "Vec<SignedRecord>")]
pub struct RecordBatch(Vec<SignedRecord>);

impl RecordBatch {
    /// Wraps `records`, or gives them back when there are too many.
    pub fn new(records: Vec<SignedRecord>) -> Result<Self, TooManyRecords> {
        if records.len() > BUILD_BATCH_MAX {
            return Err(TooManyRecords(records.len()));
        }
        Ok(Self(records))
    }

    /// The records.
    pub fn records(&self) -> &[SignedRecord] {
        &self.0
    }

    /// The records, owned.
    pub fn into_records(self) -> Vec<SignedRecord> {
        self.0
    }
}

/// A batch with more than [`BUILD_BATCH_MAX`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} records in one batch, over the limit of {BUILD_BATCH_MAX}")]
pub struct TooManyRecords(pub usize);

impl TryFrom<Vec<SignedRecord>> for RecordBatch {
    type Error = TooManyRecords;
    fn try_from(records: Vec<SignedRecord>) -> Result<Self, TooManyRecords> {
        Self::new(records)
    }
}

impl From<RecordBatch> for Vec<SignedRecord> {
    fn from(batch: RecordBatch) -> Self {
        batch.0
    }
}

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordDecodeError {
    /// Not a record at all.
    #[error("malformed record: {0}")]
    Malformed(#[from] postcard::Error),
    /// Bytes after the record.
    #[error("{0} bytes after the end of the record")]
    TrailingBytes(usize),
    /// Not the one encoding of what it says.
    #[error("record is not in canonical form")]
    NonCanonical,
}

fn signed_bytes(world: WorldId, space: &SpaceName, author: &PeerId, clock: u64, record: &Record) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(RECORD_SIGNING_DOMAIN.len() + 32 + 33 + 32 + 8 + 64);
    bytes.extend_from_slice(RECORD_SIGNING_DOMAIN);
    bytes.extend_from_slice(world.as_bytes());
    // Space names are at most 32 bytes, so the length fits in one byte.
    bytes.push(space.as_str().len() as u8);
    bytes.extend_from_slice(space.as_str().as_bytes());
    bytes.extend_from_slice(author.as_bytes());
    bytes.extend_from_slice(&clock.to_le_bytes());
    postcard::to_extend(record, bytes).unwrap_or_default()
}
