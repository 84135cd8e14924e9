//! One space's building document: the newest signed record about each piece and each
//! grant, checked against the space's rules as it comes in.
//!
//! The document is a state-based CRDT: a record is kept when it is newer (by its
//! [`Stamp`](super::Stamp)) than what the document holds about the same thing, so peers
//! that received the same records, in any order, any number of times, hold the same
//! document. Peers that were apart exchange their records when they meet and end up
//! holding the same again.
//!
//! What is *shown* is a function of the document alone: every piece record whose author
//! may build in its zone, as the document's grants say now. Revoking a person's rights in
//! a zone therefore takes down what they built there on every peer, and granting them
//! again brings it back. [`Document::hash`] covers exactly what is shown, so two peers
//! with the same hash show the same world. The hash is kept up to date as records come
//! in (a sum of one hash per record shown), so asking for it costs nothing.
//!
//! Every record is checked before it is kept ([`Document::offer`]): its signature (for
//! this world and space), the piece's own shape, the zone's box and limits, and the
//! author's rights. A refused record changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::piece::{Piece, PieceError, PieceId};
use super::record::{Record, RecordKey, SignedRecord};
use super::rules::{BuildRules, CheckedZone, LimitError, RulesError, ZoneName};
use crate::identity::{Keypair, PeerId, VerifyError};
use crate::limits::{DOCUMENT_RECORDS_MAX, TIMESTAMP_SKEW_MAX_MS};
use crate::text::SpaceName;
use crate::world::WorldId;

/// Why a record was refused. The document is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The signature does not match the author, world and space.
    #[error("bad signature: {0}")]
    Signature(#[from] VerifyError),
    /// The clock reading is further ahead of ours than clocks may disagree.
    #[error("clock {clock} is ahead of ours ({now}) by more than clocks may differ")]
    FromTheFuture {
        /// The record's clock.
        clock: u64,
        /// Ours.
        now: u64,
    },
    /// The piece is not well formed.
    #[error("malformed piece: {0}")]
    Piece(#[from] PieceError),
    /// The space has no zone of that name.
    #[error("this space has no zone {0:?}")]
    NoSuchZone(String),
    /// The piece does not fit the zone.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The author may not build in the zone.
    #[error("{author} may not build in zone {zone:?}")]
    NoRights {
        /// The author.
        author: PeerId,
        /// The zone.
        zone: String,
    },
    /// The author changes someone else's piece without owning its zone.
    #[error("{author} changes a piece of {creator} without owning its zone")]
    NotYours {
        /// The author.
        author: PeerId,
        /// Who made the piece.
        creator: PeerId,
    },
    /// A grant by someone who does not own the zone.
    #[error("{author} grants rights in zone {zone:?} without owning it")]
    NotOwner {
        /// The author.
        author: PeerId,
        /// The zone.
        zone: String,
    },
    /// The creator already has as many pieces standing in the zone as it allows, or as
    /// many records there as the document keeps for one person.
    #[error("{creator} has reached the limit of {limit} in zone {zone:?}")]
    OverLimit {
        /// Whose pieces.
        creator: PeerId,
        /// The zone.
        zone: String,
        /// The limit.
        limit: u32,
    },
    /// The document holds as many records as it may.
    #[error("the space's document is full ({DOCUMENT_RECORDS_MAX} records)")]
    Full,
}

/// What a record that was not refused did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// It was newer and is kept now. The pieces whose showing may have changed (the
    /// piece itself, a grantee's pieces, a piece pushed over or back under its creator's
    /// limit), in id order: ask [`Document::shown`] about each.
    Applied(Vec<PieceId>),
    /// The document already holds it or something newer about the same thing.
    Stale,
}

/// The document of one space of one world.
#[derive(Debug, Clone)]
pub struct Document {
    world: WorldId,
    space: SpaceName,
    zones: Vec<CheckedZone>,
    /// What the rules mean, hashed: see [`rules_digest`](Self::rules_digest).
    rules: [u8; 32],
    records: BTreeMap<RecordKey, SignedRecord>,
    /// Per zone and creator: the pieces standing there, in id order.
    standing: HashMap<(usize, PeerId), BTreeSet<PieceId>>,
    /// Per zone and creator: records of pieces of any state.
    piece_records: HashMap<(usize, PeerId), u32>,
    /// The highest clock reading seen.
    clock: u64,
    /// The records that count towards [`hash`](Self::hash), each with its own hash.
    counted: HashMap<RecordKey, Lanes>,
    /// The sum of the hashes in `counted`.
    sum: Lanes,
}

/// A record's hash as four numbers, summed lane by lane (wrapping) into the document's:
/// a sum does not depend on the order records came in, and one record can be taken out
/// again by subtracting it.
type Lanes = [u64; 4];

/// How many records (standing pieces and removals) one person may have in a zone, as a
/// multiple of the pieces they may have standing there: undo and redo leave removals
/// behind, but a person cannot fill the document with them.
const RECORDS_PER_PIECE: u32 = 4;

impl Document {
    /// An empty document for `space` of `world`, under `rules`.
    pub fn new(world: WorldId, space: SpaceName, rules: &BuildRules) -> Result<Self, RulesError> {
        let zones = rules.checked()?;
        Ok(Self {
            world,
            space,
            rules: super::rules::digest(&zones),
            zones,
            records: BTreeMap::new(),
            standing: HashMap::new(),
            piece_records: HashMap::new(),
            clock: 0,
            counted: HashMap::new(),
            sum: [0; 4],
        })
    }

    /// The world the document belongs to.
    pub fn world(&self) -> WorldId {
        self.world
    }

    /// The space it belongs to.
    pub fn space(&self) -> &SpaceName {
        &self.space
    }

    /// A hash of what the rules it checks records against mean (bounds in millimetres,
    /// keys and kinds in order): equal for peers whose space files say the same thing.
    pub fn rules_digest(&self) -> [u8; 32] {
        self.rules
    }

    /// The clock reading for a new record made at `now_ms`: past every reading seen, so a
    /// new edit always wins over what it replaces.
    pub fn next_clock(&self, now_ms: u64) -> u64 {
        now_ms.max(self.clock.saturating_add(1))
    }

    /// Signs `record` by `keypair` with the next clock reading. It is not kept yet: offer
    /// it (and send it) once it is stored.
    pub fn sign(&self, keypair: &Keypair, record: Record, now_ms: u64) -> SignedRecord {
        SignedRecord::sign(keypair, self.world, &self.space, self.next_clock(now_ms), record)
    }

    /// Checks `record` (signature first) and keeps it when it is newer than what the
    /// document holds about the same thing. `now_ms` is the receiver's clock, for the
    /// check that the record does not come from the future.
    pub fn offer(&mut self, record: SignedRecord, now_ms: u64) -> Result<Offer, Refusal> {
        self.check_clock(&record, now_ms)?;
        if self.is_stale(&record) {
            return Ok(Offer::Stale);
        }
        record.verify(self.world, &self.space)?;
        self.admit(record)
    }

    /// Like [`offer`](Self::offer) for a record whose signature was checked before it was
    /// stored (read back from our own disk): every other check still applies.
    pub fn offer_verified(&mut self, record: SignedRecord) -> Result<Offer, Refusal> {
        if self.is_stale(&record) {
            return Ok(Offer::Stale);
        }
        self.admit(record)
    }

    /// Checks everything but the signature and the clock, without keeping the record: what
    /// an edit made here must pass before it is signed and sent.
    pub fn check(&self, author: &PeerId, record: &Record) -> Result<(), Refusal> {
        self.check_rules(author, record, true)
    }

    fn check_clock(&self, record: &SignedRecord, now_ms: u64) -> Result<(), Refusal> {
        if record.clock() > now_ms.saturating_add(TIMESTAMP_SKEW_MAX_MS) {
            return Err(Refusal::FromTheFuture {
                clock: record.clock(),
                now: now_ms,
            });
        }
        Ok(())
    }

    fn is_stale(&self, record: &SignedRecord) -> bool {
        self.records
            .get(&record.record().key())
            .is_some_and(|held| held.stamp() >= record.stamp())
    }

    fn zone_index(&self, name: &ZoneName) -> Result<usize, Refusal> {
        self.zones
            .iter()
            .position(|zone| &zone.name == name)
            .ok_or_else(|| Refusal::NoSuchZone(name.as_str().to_owned()))
    }

    /// Whether `person` may build in zone `zone` now: everyone may in an open zone, the
    /// owners and invited always, others while an owner's grant says so.
    pub fn may_build(&self, zone: &ZoneName, person: &PeerId) -> bool {
        let Ok(index) = self.zone_index(zone) else {
            return false;
        };
        self.zones[index].builds_without_grant(person) || self.granted(zone, person)
    }

    /// Whether `person` owns zone `zone`.
    pub fn owns(&self, zone: &ZoneName, person: &PeerId) -> bool {
        self.zone_index(zone)
            .is_ok_and(|index| self.zones[index].owners.contains(person))
    }

    fn granted(&self, zone: &ZoneName, person: &PeerId) -> bool {
        self.records
            .get(&RecordKey::Grant(zone.clone(), *person))
            .is_some_and(|held| matches!(held.record(), Record::Grant { allowed: true, .. }))
    }

    /// Checks `record` by `author` against the rules and the document as it is. `strict`
    /// also holds a new piece to the creator's limit of standing pieces: an edit made here
    /// is, while one received is kept (and shown only within the limit, see
    /// [`shown`](Self::shown)), so that peers that got a person's pieces in different
    /// orders still keep the same ones.
    fn check_rules(&self, author: &PeerId, record: &Record, strict: bool) -> Result<(), Refusal> {
        let index = self.zone_index(record.zone())?;
        let zone = &self.zones[index];
        let zone_name = || zone.name.as_str().to_owned();
        match record {
            Record::Grant { .. } => {
                if !zone.owners.contains(author) {
                    return Err(Refusal::NotOwner {
                        author: *author,
                        zone: zone_name(),
                    });
                }
            }
            Record::Piece { id, piece, .. } => {
                let owner = zone.owners.contains(author);
                if !owner && *author != id.creator {
                    return Err(Refusal::NotYours {
                        author: *author,
                        creator: id.creator,
                    });
                }
                let held = self.records.get(&RecordKey::Piece(*id));
                if let Some(Record::Piece { zone: held_zone, .. }) = held.map(SignedRecord::record)
                    && held_zone != &zone.name
                    && *author != id.creator
                    && !self.owns(held_zone, author)
                {
                    return Err(Refusal::NotYours {
                        author: *author,
                        creator: id.creator,
                    });
                }
                if let Some(piece) = piece {
                    piece.check()?;
                    zone.fits(piece)?;
                    // A record from someone an owner has ever granted or revoked rights is
                    // kept whatever the grant says now, and shown while it allows building:
                    // otherwise peers that got the grants and the piece in different
                    // orders would keep different records.
                    let ever_granted = !strict
                        && self
                            .records
                            .contains_key(&RecordKey::Grant(zone.name.clone(), *author));
                    if !owner && !ever_granted && !self.may_build(&zone.name, author) {
                        return Err(Refusal::NoRights {
                            author: *author,
                            zone: zone_name(),
                        });
                    }
                }
                let limit = zone.pieces_per_person;
                let held_here = matches!(
                    held.map(SignedRecord::record),
                    Some(Record::Piece { zone: held_zone, .. }) if held_zone == &zone.name
                );
                let records = self.piece_records.get(&(index, id.creator)).copied().unwrap_or(0);
                let records_limit = limit.saturating_mul(RECORDS_PER_PIECE);
                if !held_here && records >= records_limit {
                    return Err(Refusal::OverLimit {
                        creator: id.creator,
                        zone: zone_name(),
                        limit: records_limit,
                    });
                }
                let standing = self.standing.get(&(index, id.creator));
                let stands_here = standing.is_some_and(|set| set.contains(id));
                let standing = standing.map_or(0, BTreeSet::len);
                if strict && piece.is_some() && !stands_here && standing >= limit as usize {
                    return Err(Refusal::OverLimit {
                        creator: id.creator,
                        zone: zone_name(),
                        limit,
                    });
                }
            }
        }
        Ok(())
    }

    fn admit(&mut self, record: SignedRecord) -> Result<Offer, Refusal> {
        let author = record.author();
        self.check_rules(&author, record.record(), false)?;
        let key = record.record().key();
        if !self.records.contains_key(&key) && self.records.len() >= DOCUMENT_RECORDS_MAX {
            return Err(Refusal::Full);
        }
        self.clock = self.clock.max(record.clock());
        self.uncount(&key);
        let mut changed = Vec::new();
        match record.record() {
            Record::Piece { id, .. } => {
                changed.push(*id);
                let id = *id;
                let old_place = self.records.remove(&key).and_then(|old| self.count(&old, false));
                let new_place = self.count(&record, true);
                self.records.insert(key.clone(), record);
                for place in [new_place, old_place].into_iter().flatten() {
                    changed.extend(self.limit_edge(place, id.creator));
                }
            }
            Record::Grant { zone, person, .. } => {
                let (zone, person) = (zone.clone(), *person);
                self.records.insert(key.clone(), record);
                changed = self.pieces_signed_by(&zone, &person);
            }
        }
        changed.sort_unstable();
        changed.dedup();
        self.recount(&key);
        for id in &changed {
            self.recount(&RecordKey::Piece(*id));
        }
        Ok(Offer::Applied(changed))
    }

    /// Adds (or takes away) `record`'s piece in the counts; returns the zone's index.
    fn count(&mut self, record: &SignedRecord, add: bool) -> Option<usize> {
        let Record::Piece { id, zone, piece } = record.record() else {
            return None;
        };
        let index = self.zone_index(zone).ok()?;
        let place = (index, id.creator);
        let records = self.piece_records.entry(place).or_default();
        *records = if add {
            records.saturating_add(1)
        } else {
            records.saturating_sub(1)
        };
        if *records == 0 {
            self.piece_records.remove(&place);
        }
        if piece.is_some() {
            let set = self.standing.entry(place).or_default();
            if add {
                set.insert(*id);
            } else {
                set.remove(id);
            }
            if set.is_empty() {
                self.standing.remove(&place);
            }
        }
        Some(index)
    }

    /// The pieces of `creator` in zone `index` on either side of its limit: those whose
    /// showing changes when a piece before them comes or goes.
    fn limit_edge(&self, index: usize, creator: PeerId) -> Vec<PieceId> {
        let limit = self.zones[index].pieces_per_person as usize;
        let Some(set) = self.standing.get(&(index, creator)) else {
            return Vec::new();
        };
        if set.len() < limit {
            // Everything stands within the limit: nothing crossed it.
            return Vec::new();
        }
        set.iter()
            .skip(limit.saturating_sub(1))
            .take(2)
            .copied()
            .collect()
    }

    /// The piece as shown, if it stands, its author may build where it stands, and it is
    /// among the first pieces (by id) its creator has standing in that zone, up to the
    /// zone's limit.
    pub fn shown(&self, id: &PieceId) -> Option<&Piece> {
        let record = self.records.get(&RecordKey::Piece(*id))?;
        let piece = self.authorised(record)?;
        let index = self.zone_index(record.record().zone()).ok()?;
        let limit = self.zones[index].pieces_per_person as usize;
        let set = self.standing.get(&(index, id.creator))?;
        (set.len() <= limit || set.range(..id).take(limit).count() < limit).then_some(piece)
    }

    /// The record's piece, if it stands and its author may build where it stands.
    fn authorised<'a>(&self, record: &'a SignedRecord) -> Option<&'a Piece> {
        let Record::Piece {
            zone,
            piece: Some(piece),
            ..
        } = record.record()
        else {
            return None;
        };
        let author = record.author();
        (self.owns(zone, &author) || self.may_build(zone, &author)).then_some(piece)
    }

    /// The pieces within their creators' limits: for each zone and creator, the first
    /// standing pieces by id.
    fn within_limits(&self) -> BTreeSet<PieceId> {
        let mut within = BTreeSet::new();
        for (&(index, _), set) in &self.standing {
            within.extend(set.iter().take(self.zones[index].pieces_per_person as usize));
        }
        within
    }

    /// Every piece shown, in id order.
    pub fn pieces(&self) -> impl Iterator<Item = (PieceId, &Piece)> {
        let within = self.within_limits();
        self.records
            .values()
            .filter_map(move |record| match record.record() {
                Record::Piece { id, .. } if within.contains(id) => {
                    self.authorised(record).map(|piece| (*id, piece))
                }
                _ => None,
            })
    }

    /// The pieces whose records `person` signed in `zone`: those whose showing depends on
    /// that person's rights there.
    pub fn pieces_signed_by(&self, zone: &ZoneName, person: &PeerId) -> Vec<PieceId> {
        self.records
            .values()
            .filter(|record| record.author() == *person && record.record().zone() == zone)
            .filter_map(|record| match record.record() {
                Record::Piece { id, .. } => Some(*id),
                Record::Grant { .. } => None,
            })
            .collect()
    }

    /// Who holds a grant in `zone`, and whether it allows building now.
    pub fn grants(&self, zone: &ZoneName) -> Vec<(PeerId, bool)> {
        self.records
            .values()
            .filter_map(|record| match record.record() {
                Record::Grant {
                    zone: z,
                    person,
                    allowed,
                } if z == zone => Some((*person, *allowed)),
                _ => None,
            })
            .collect()
    }

    /// Every record kept, in key order: what a snapshot or a sync sends.
    pub fn records(&self) -> impl Iterator<Item = &SignedRecord> {
        self.records.values()
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is kept.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A BLAKE3 hash of what the document shows: every grant and removal, and every piece
    /// shown. Two peers with the same hash show the same world.
    pub fn hash(&self) -> [u8; 32] {
        hash_of_sum(&self.sum)
    }

    /// Whether `record` counts towards the hash: grants and removals always, pieces while
    /// they are shown.
    fn counts(&self, record: &SignedRecord) -> bool {
        match record.record() {
            Record::Piece {
                id, piece: Some(_), ..
            } => self.shown(id).is_some(),
            _ => true,
        }
    }

    /// Takes the record held under `key` out of the hash, if it counted.
    fn uncount(&mut self, key: &RecordKey) {
        if let Some(lanes) = self.counted.remove(key) {
            for (sum, lane) in self.sum.iter_mut().zip(lanes) {
                *sum = sum.wrapping_sub(lane);
            }
        }
    }

    /// Brings the hash up to date for the record held under `key`: in when it counts now
    /// and did not, out when it did and does not.
    fn recount(&mut self, key: &RecordKey) {
        let counts = self.records.get(key).is_some_and(|record| self.counts(record));
        match (counts, self.counted.contains_key(key)) {
            (true, false) => {
                let lanes = record_lanes(&self.records[key]);
                for (sum, lane) in self.sum.iter_mut().zip(lanes) {
                    *sum = sum.wrapping_add(lane);
                }
                self.counted.insert(key.clone(), lanes);
            }
            (false, true) => self.uncount(key),
            _ => {}
        }
    }
}

/// One record's share of the document's hash: a hash of its author and signature, which
/// stand for all it says (the signature covers the record, its clock, world and space).
fn record_lanes(record: &SignedRecord) -> Lanes {
    let stamp = record.stamp();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"sanctuary/build-record/1\0");
    hasher.update(stamp.author.as_bytes());
    hasher.update(stamp.signature);
    let bytes = hasher.finalize();
    let mut lanes = [0u64; 4];
    for (lane, chunk) in lanes.iter_mut().zip(bytes.as_bytes().chunks_exact(8)) {
        *lane = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
    }
    lanes
}

/// The document's hash from the sum of its records' shares.
fn hash_of_sum(sum: &Lanes) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"sanctuary/build-document/2\0");
    for lane in sum {
        hasher.update(&lane.to_le_bytes());
    }
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests;
