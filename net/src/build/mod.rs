//! Building in a world: each space's [`Document`] of signed records, kept on disk, changed
//! by the person's edits and by what peers send, and synced with peers that hold
//! something else.
//!
//! - The world's actor passes every [`Body::Build`](sanctuary_protocols::Body::Build)
//!   batch from the room to the [`BuildStore`], which checks each record against the
//!   space's rules (see [`Document::offer`]), writes what it keeps to the disk, and the
//!   actor reports the pieces that changed as a [`WorldEvent::Build`](crate::WorldEvent).
//! - Now and then each peer says what it holds on the room
//!   ([`BuildState`](sanctuary_protocols::build::BuildState)); a peer that holds
//!   something else fetches the sender's whole document on the sync connection ([`sync`])
//!   and keeps what it did not have. That is how a late joiner gets the structures (from
//!   anyone who has them, the host or not) and how peers that were apart converge.
//! - The game edits through a [`BuildHandle`]: an edit is checked, signed, written to the
//!   disk and applied at once, then sent to the room by the actor.
//!
//! Files: `<folder>/<world id in hex>/<space>.records`, see [`log`].

pub(crate) mod log;
pub(crate) mod sync;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sanctuary_protocols::build::{
    BuildRules, BuildState, Document, Offer, Piece, PieceId, Record, Refusal, RulesError, SignedRecord,
    ZoneName,
};
use sanctuary_protocols::{Keypair, PeerId, SpaceName, WorldId};
use tokio::sync::mpsc;

use crate::node::unix_ms;
use log::RecordLog;

/// How often a peer says what it holds of its space's document, by default.
pub const BUILD_STATE_EVERY: Duration = Duration::from_secs(5);

/// Edits waiting to be sent to the room, at most.
const OUTBOX: usize = 256;

/// What a world needs to know for building: each space's rules, and where to keep the
/// documents.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildSetup {
    /// The rules of each space that allows building. Spaces not listed allow none.
    pub rules: BTreeMap<SpaceName, BuildRules>,
    /// The folder the documents are kept in; in memory only when `None`.
    pub folder: Option<PathBuf>,
    /// How often to say what we hold. Default [`BUILD_STATE_EVERY`]. It is said with the
    /// world's heartbeat, so no more often than that.
    pub state_every: Option<Duration>,
}

/// Why an edit was not made, or a document could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The rules refuse it.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The space allows no building.
    #[error("nobody may build in {0}")]
    NoRules(SpaceName),
    /// The space's rules are broken.
    #[error("the building rules of {0} are broken: {1}")]
    BadRules(SpaceName, RulesError),
    /// The disk refused the read or write.
    #[error("the building file could not be used: {0}")]
    Disk(#[from] std::io::Error),
    /// The documents' lock was poisoned by a panic elsewhere.
    #[error("building stopped after an internal error")]
    Unavailable,
}

/// Counts of what arrived, for tools and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildCounters {
    /// Records kept (newer than what we had).
    pub applied: u64,
    /// Records we already had, or older.
    pub stale: u64,
    /// Records refused by the checks.
    pub refused: u64,
    /// Syncs that brought us records.
    pub syncs: u64,
}

#[derive(Debug, Default)]
struct Counters {
    applied: AtomicU64,
    stale: AtomicU64,
    refused: AtomicU64,
    syncs: AtomicU64,
}

/// One space's document and its file.
struct SpaceDoc {
    doc: Document,
    log: Option<RecordLog>,
}

/// What offering a batch did.
#[derive(Debug, Default)]
pub(crate) struct Offered {
    /// Pieces whose showing may have changed.
    pub changed: Vec<PieceId>,
    /// Why records were refused.
    pub refused: Vec<Refusal>,
}

/// The documents of one world's spaces, shared by the actor, the sync handler and the game.
pub(crate) struct BuildStore {
    world: WorldId,
    setup: BuildSetup,
    spaces: Mutex<HashMap<SpaceName, SpaceDoc>>,
    counters: Counters,
    notices: Mutex<Vec<String>>,
}

impl BuildStore {
    pub fn new(world: WorldId, setup: BuildSetup) -> Self {
        Self {
            world,
            setup,
            spaces: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            notices: Mutex::new(Vec::new()),
        }
    }

    pub fn world(&self) -> WorldId {
        self.world
    }

    pub fn state_every(&self) -> Duration {
        self.setup.state_every.unwrap_or(BUILD_STATE_EVERY)
    }

    /// Runs `f` on `space`'s document, opening it (and reading its file) the first time.
    fn with_space<R>(&self, space: &SpaceName, f: impl FnOnce(&mut SpaceDoc) -> R) -> Result<R, BuildError> {
        let mut spaces = self
            .spaces
            .lock()
            .map_err(|_| BuildError::NoRules(space.clone()))?;
        if !spaces.contains_key(space) {
            let opened = self.open(space)?;
            spaces.insert(space.clone(), opened);
        }
        let doc = spaces
            .get_mut(space)
            .ok_or_else(|| BuildError::NoRules(space.clone()))?;
        Ok(f(doc))
    }

    fn open(&self, space: &SpaceName) -> Result<SpaceDoc, BuildError> {
        let rules = self
            .setup
            .rules
            .get(space)
            .ok_or_else(|| BuildError::NoRules(space.clone()))?;
        let mut doc = Document::new(self.world, space.clone(), rules)
            .map_err(|err| BuildError::BadRules(space.clone(), err))?;
        let Some(folder) = &self.setup.folder else {
            return Ok(SpaceDoc { doc, log: None });
        };
        let path = folder
            .join(crate::data_dir::world_hex(&self.world))
            .join(format!("{}.records", space.as_str()));
        let loaded = RecordLog::open(&path)?;
        if let Some(notice) = loaded.notice {
            self.notice(notice);
        }
        let mut dropped = 0;
        for record in loaded.records {
            // Checked when it arrived; the rules may have changed since.
            if doc.offer_verified(record).is_err() {
                dropped += 1;
            }
        }
        if dropped > 0 {
            tracing::info!(%space, dropped, "records on disk that today's rules refuse were left out");
        }
        let mut log = loaded.log;
        if log.frames() > compact_above(doc.len()) {
            log.compact(doc.records())?;
        }
        Ok(SpaceDoc { doc, log: Some(log) })
    }

    /// Offers records that came from peers: each is checked, what is kept goes to the
    /// disk before this returns.
    pub fn offer(&self, space: &SpaceName, records: Vec<SignedRecord>) -> Result<Offered, BuildError> {
        let now = unix_ms();
        let mut offered = Offered::default();
        let mut kept = Vec::new();
        let result = self.with_space(space, |doc| {
            for record in records {
                match doc.doc.offer(record.clone(), now) {
                    Ok(Offer::Applied(changed)) => {
                        offered.changed.extend(changed);
                        kept.push(record);
                    }
                    Ok(Offer::Stale) => {
                        self.counters.stale.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(refusal) => offered.refused.push(refusal),
                }
            }
            doc.keep(&kept)
        })?;
        self.counters
            .applied
            .fetch_add(kept.len() as u64, Ordering::Relaxed);
        self.counters
            .refused
            .fetch_add(offered.refused.len() as u64, Ordering::Relaxed);
        result?;
        offered.changed.sort_unstable();
        offered.changed.dedup();
        Ok(offered)
    }

    /// Checks, signs, keeps and applies the person's own edits. Each is checked before any
    /// is applied; one that a change earlier in the same batch makes impossible stops the
    /// batch there, with what came before it kept.
    pub fn edit(
        &self,
        keypair: &Keypair,
        space: &SpaceName,
        records: Vec<Record>,
    ) -> Result<Edited, BuildError> {
        let now = unix_ms();
        let author = keypair.peer_id();
        self.with_space(space, |doc| {
            for record in &records {
                doc.doc.check(&author, record)?;
            }
            let mut signed = Vec::with_capacity(records.len());
            let mut changed = Vec::new();
            let mut refused = None;
            for record in records {
                let record = doc.doc.sign(keypair, record, now);
                match doc.doc.offer_verified(record.clone()) {
                    Ok(Offer::Applied(ids)) => changed.extend(ids),
                    Ok(Offer::Stale) => {}
                    Err(refusal) => {
                        refused = Some(refusal);
                        break;
                    }
                }
                signed.push(record);
            }
            doc.keep(&signed)?;
            changed.sort_unstable();
            changed.dedup();
            Ok(Edited {
                signed,
                changed,
                refused,
            })
        })?
    }

    pub fn pieces(&self, space: &SpaceName) -> Vec<(PieceId, Piece)> {
        self.with_space(space, |doc| {
            doc.doc.pieces().map(|(id, piece)| (id, piece.clone())).collect()
        })
        .unwrap_or_default()
    }

    pub fn shown(&self, space: &SpaceName, ids: &[PieceId]) -> Vec<(PieceId, Option<Piece>)> {
        self.with_space(space, |doc| {
            ids.iter().map(|id| (*id, doc.doc.shown(id).cloned())).collect()
        })
        .unwrap_or_default()
    }

    /// What we hold of `space`, if it allows building.
    pub fn state(&self, space: &SpaceName) -> Option<BuildState> {
        self.with_space(space, |doc| BuildState {
            records: u32::try_from(doc.doc.len()).unwrap_or(u32::MAX),
            hash: doc.doc.hash(),
            rules: doc.doc.rules_digest(),
        })
        .ok()
    }

    pub fn records(&self, space: &SpaceName) -> Vec<SignedRecord> {
        self.with_space(space, |doc| doc.doc.records().cloned().collect())
            .unwrap_or_default()
    }

    pub fn with_document<R>(&self, space: &SpaceName, f: impl FnOnce(&Document) -> R) -> Option<R> {
        self.with_space(space, |doc| f(&doc.doc)).ok()
    }

    pub fn counted_sync(&self) {
        self.counters.syncs.fetch_add(1, Ordering::Relaxed);
    }

    pub fn counters(&self) -> BuildCounters {
        BuildCounters {
            applied: self.counters.applied.load(Ordering::Relaxed),
            stale: self.counters.stale.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
            syncs: self.counters.syncs.load(Ordering::Relaxed),
        }
    }

    /// Keeps `notice` for the person (the newest [`NOTICES_MAX`]).
    pub fn notice(&self, notice: String) {
        if let Ok(mut notices) = self.notices.lock() {
            if notices.len() >= NOTICES_MAX {
                notices.remove(0);
            }
            notices.push(notice);
        }
    }

    fn take_notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .map(|mut notices| std::mem::take(&mut *notices))
            .unwrap_or_default()
    }
}

/// Most notices kept for the person until they are read.
const NOTICES_MAX: usize = 32;

/// The file is rewritten when it holds this many frames for a document of `len` records.
fn compact_above(len: usize) -> usize {
    len.saturating_mul(3).max(4096)
}

impl SpaceDoc {
    /// Writes records the document just kept to the disk.
    fn keep(&mut self, records: &[SignedRecord]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let Some(log) = &mut self.log else {
            return Ok(());
        };
        log.append(records)?;
        if log.frames() > compact_above(self.doc.len()) {
            log.compact(self.doc.records())?;
        }
        Ok(())
    }
}

/// The person's edits once made.
#[derive(Debug, Clone)]
pub struct Edited {
    /// The records as signed, on their way to the room.
    pub signed: Vec<SignedRecord>,
    /// Pieces whose showing may have changed.
    pub changed: Vec<PieceId>,
    /// Why the batch stopped early, if it did.
    pub refused: Option<Refusal>,
}

/// What the game builds through: read a space's pieces, make edits. Cheap to clone.
#[derive(Clone)]
pub struct BuildHandle {
    store: Arc<BuildStore>,
    keypair: Arc<Keypair>,
    outbox: mpsc::Sender<(SpaceName, Vec<SignedRecord>)>,
    next_number: Arc<AtomicU64>,
}

impl std::fmt::Debug for BuildHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildHandle")
            .field("world", &self.store.world)
            .finish()
    }
}

impl BuildHandle {
    pub(crate) fn new(
        store: Arc<BuildStore>,
        keypair: Arc<Keypair>,
    ) -> (Self, mpsc::Receiver<(SpaceName, Vec<SignedRecord>)>) {
        let (outbox, rx) = mpsc::channel(OUTBOX);
        // Numbers start from the clock, so a restarted client never reuses one.
        let next_number = Arc::new(AtomicU64::new(unix_ms().saturating_mul(1000)));
        (
            Self {
                store,
                keypair,
                outbox,
                next_number,
            },
            rx,
        )
    }

    pub(crate) fn store(&self) -> &Arc<BuildStore> {
        &self.store
    }

    /// Our own key.
    pub fn me(&self) -> PeerId {
        self.keypair.peer_id()
    }

    /// A fresh id for a piece we place.
    pub fn new_piece_id(&self) -> PieceId {
        PieceId {
            creator: self.me(),
            number: self.next_number.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The building rules of `space`, if it allows building.
    pub fn rules(&self, space: &SpaceName) -> Option<&BuildRules> {
        self.store.setup.rules.get(space)
    }

    /// Every piece shown in `space`.
    pub fn pieces(&self, space: &SpaceName) -> Vec<(PieceId, Piece)> {
        self.store.pieces(space)
    }

    /// How each of `ids` is shown now (`None`: not at all).
    pub fn shown(&self, space: &SpaceName, ids: &[PieceId]) -> Vec<(PieceId, Option<Piece>)> {
        self.store.shown(space, ids)
    }

    /// Whether `person` may build in `zone` of `space` now.
    pub fn may_build(&self, space: &SpaceName, zone: &ZoneName, person: &PeerId) -> bool {
        self.store
            .with_document(space, |doc| doc.may_build(zone, person))
            .unwrap_or(false)
    }

    /// Whether `person` owns `zone` of `space`.
    pub fn owns(&self, space: &SpaceName, zone: &ZoneName, person: &PeerId) -> bool {
        self.store
            .with_document(space, |doc| doc.owns(zone, person))
            .unwrap_or(false)
    }

    /// The grants an owner gave in `zone` of `space`.
    pub fn grants(&self, space: &SpaceName, zone: &ZoneName) -> Vec<(PeerId, bool)> {
        self.store
            .with_document(space, |doc| doc.grants(zone))
            .unwrap_or_default()
    }

    /// Whether `record` would be allowed as our edit in `space` now, without making it:
    /// what a preview asks before it shows a piece as placeable.
    pub fn check(&self, space: &SpaceName, record: &Record) -> Result<(), BuildError> {
        let me = self.me();
        match self.store.with_document(space, |doc| doc.check(&me, record)) {
            Some(result) => Ok(result?),
            None => Err(BuildError::NoRules(space.clone())),
        }
    }

    /// What we hold of `space`: how many records, and the hash of what is shown.
    pub fn state(&self, space: &SpaceName) -> Option<BuildState> {
        self.store.state(space)
    }

    /// Makes `records` our edits in `space`: they are checked against the rules (any
    /// refusal and none is made), signed, written to the disk and applied; then they go to
    /// the room. See [`Edited`] for a batch that stopped early.
    pub fn edit(&self, space: &SpaceName, records: Vec<Record>) -> Result<Edited, BuildError> {
        let edited = self.store.edit(&self.keypair, space, records)?;
        if !edited.signed.is_empty()
            && self
                .outbox
                .try_send((space.clone(), edited.signed.clone()))
                .is_err()
        {
            // Kept and shown here; peers get it with the next sync.
            tracing::warn!("the room's send queue is full: an edit waits for the next sync");
        }
        Ok(edited)
    }

    /// Counts of records received.
    pub fn counters(&self) -> BuildCounters {
        self.store.counters()
    }

    /// Messages for the person (a damaged file set aside), each given once.
    pub fn take_notices(&self) -> Vec<String> {
        self.store.take_notices()
    }
}
