//! Storage: content-addressed files a person owns, kept in an iroh-blobs store in their
//! data folder, shared by ticket, fetched from whoever holds them and served to others.
//!
//! A [`Storage`] works offline (add, list, read, pin, delete); attached to a [`Node`]
//! (through [`NodeConfig::storage`](crate::NodeConfig::storage)) it also serves the blobs
//! marked for serving on the iroh-blobs ALPN and fetches by [ticket](parse_ticket) or from
//! a list of holders. Every byte fetched is checked against the hash (BLAKE3 verified
//! streaming), so a holder that sends anything else is dropped and the next one asked;
//! what was verified stays, so a fetch that stopped (even with the process killed)
//! resumes where it was.
//!
//! Next to the store, a [catalogue](BlobEntry) keeps each blob's name, origin, pin and
//! serving choice. Every blob in the catalogue is also held by a tag in the store, so the
//! store's garbage collection only ever removes what was deleted here.

mod catalogue;
mod serve;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use iroh::endpoint::{ConnectOptions, QuicTransportConfig, VarInt};
use iroh::{Endpoint, EndpointAddr};
use iroh_blobs::api::remote::GetProgressItem;
use iroh_blobs::store::GcConfig;
use iroh_blobs::store::fs::FsStore;
use iroh_blobs::store::fs::options::Options;
use iroh_blobs::ticket::BlobTicket;
use iroh_blobs::{BlobFormat, BlobsProtocol, Hash};
use n0_future::StreamExt;
use sanctuary_protocols::{BlobHash, PeerId};

pub use catalogue::{BlobEntry, BlobOrigin};
pub use serve::{
    MAX_BLOB_CONNECTIONS, MAX_BLOB_CONNECTIONS_PER_PEER, MAX_PRIVATE_SERVES, MAX_SERVED_PEERS, ServedReport,
};

use crate::node::{endpoint_id, peer_id, unix_ms};
use catalogue::Catalogue;
use serve::Gatekeeper;

/// The quota when none is chosen: 2 GiB.
pub const DEFAULT_QUOTA: u64 = 2 << 30;
/// How long connecting to one holder may take before the next is asked.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a holder may stay silent during a fetch before the next is asked.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How often deleted blobs' bytes are swept from the disk.
const GC_INTERVAL: Duration = Duration::from_secs(20);
/// Receive windows of a connection that fetches blobs: larger than the room's
/// connections', so that a fetch is not held to a few small messages per round trip, but
/// within what QUIC's receive buffer accepts out of order (about a thousand packets
/// waiting; more makes it drop the connection).
const FETCH_STREAM_WINDOW: u32 = 1 << 20;
const FETCH_CONNECTION_WINDOW: u32 = 2 << 20;
/// Holders remembered per unfinished fetch, to resume from after a restart.
const MAX_REMEMBERED_HOLDERS: usize = 8;
/// Tags that hold our blobs in the store start with this.
const TAG_PREFIX: &str = "sanctuary/";

/// Why a storage operation failed; each prints as one line for a panel or the CLI.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The text is not an iroh-blobs ticket.
    #[error("that is not a blob ticket: {0}")]
    BadTicket(String),
    /// A file to add could not be read.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why, from the system.
        error: String,
    },
    /// The blob does not fit in the quota even after unpinned blobs made room.
    #[error(
        "storage is full: {name} needs {needed} bytes but {free} of the {quota}-byte quota are free; delete or unpin something"
    )]
    QuotaFull {
        /// What was being stored.
        name: String,
        /// Bytes it needs.
        needed: u64,
        /// Bytes free in the quota.
        free: u64,
        /// The quota.
        quota: u64,
    },
    /// The disk that holds storage has no room for the blob, whatever the quota allows.
    #[error(
        "the disk is full: {name} needs {needed} bytes and {free} are free where storage is kept; free some space on the disk"
    )]
    DiskFull {
        /// What was being stored.
        name: String,
        /// Bytes it needs.
        needed: u64,
        /// Bytes free on the disk.
        free: u64,
    },
    /// No blob with this hash is in storage.
    #[error("no blob {0} in storage")]
    NotFound(BlobHash),
    /// The blob is here only in part.
    #[error("{0} is not complete yet; fetch it first")]
    Incomplete(BlobHash),
    /// A blob is larger than the caller can take in memory.
    #[error("{hash} is {size} bytes, more than the {limit} allowed here")]
    TooLarge {
        /// Which blob.
        hash: BlobHash,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// No holder gave the blob.
    #[error("could not fetch {hash}: no holder gave it ({last})")]
    NoHolder {
        /// Which blob.
        hash: BlobHash,
        /// What went wrong with the last holder asked.
        last: String,
    },
    /// Fetching needs the network.
    #[error("not online: storage fetches only while connected")]
    Offline,
    /// The store or the disk failed (a full disk shows here).
    #[error("the blob store failed: {0}")]
    Store(String),
}

fn store_error(error: impl std::fmt::Display) -> StorageError {
    StorageError::Store(error.to_string())
}

/// How a fetch is going.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FetchProgress {
    /// The blob.
    pub hash: BlobHash,
    /// Bytes here so far (including those that were here before).
    pub done: u64,
    /// Its size.
    pub total: u64,
    /// Bytes per second over this fetch so far.
    pub bytes_per_second: f64,
    /// The holder sending it.
    pub from: PeerId,
}

/// What to fetch and from whom.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    /// The blob.
    pub hash: BlobHash,
    /// A name for the catalogue, if it is new there.
    pub name: String,
    /// Who may hold it, asked in this order.
    pub holders: Vec<EndpointAddr>,
    /// Pin it once fetched (what a person fetches by hand); unpinned blobs make room
    /// for others when storage is full.
    pub pin: bool,
}

/// Reads a BlobTicket: the blob's hash and the address of a holder.
pub fn parse_ticket(text: &str) -> Result<(BlobHash, EndpointAddr), StorageError> {
    let trimmed = text.trim();
    let ticket: BlobTicket = trimmed
        .parse()
        .map_err(|err| StorageError::BadTicket(format!("{err}")))?;
    if ticket.format() != BlobFormat::Raw {
        return Err(StorageError::BadTicket(
            "it names a collection, not a single file".into(),
        ));
    }
    Ok((blob_hash(ticket.hash()), ticket.addr().clone()))
}

/// A person's blob store. Cheap to clone; the clones share one store.
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    quota: u64,
    store: FsStore,
    catalogue: Arc<Mutex<Catalogue>>,
    gate: Arc<Gatekeeper>,
    protocol: BlobsProtocol,
    /// The endpoint of the node we are attached to, while online.
    endpoint: Mutex<Option<Endpoint>>,
}

impl Storage {
    /// Opens (or creates) the store in `dir` with a quota in bytes. Must be called inside
    /// a tokio runtime. The second value is a note for the person when the catalogue was
    /// unreadable and had to be rebuilt.
    pub async fn open(dir: &Path, quota: u64) -> Result<(Self, Option<String>), StorageError> {
        std::fs::create_dir_all(dir)
            .map_err(|err| StorageError::Store(format!("cannot create {}: {err}", dir.display())))?;
        let mut options = Options::new(dir);
        options.gc = Some(GcConfig {
            interval: GC_INTERVAL,
            add_protected: None,
        });
        let store = FsStore::load_with_opts(dir.join("blobs.db"), options)
            .await
            .map_err(store_error)?;
        let (mut catalogue, note) = Catalogue::load(dir);
        let rebuilt = note.is_some();
        // Blobs held by a tag but missing from the catalogue (after it was set aside, or a
        // crash between the two writes) come back under their hash.
        let tags = store.tags().list_prefix(TAG_PREFIX).await.map_err(store_error)?;
        let mut tags = std::pin::pin!(tags);
        while let Some(tag) = tags.next().await {
            let tag = tag.map_err(store_error)?;
            let hash = blob_hash(tag.hash);
            if catalogue.entries.contains_key(&hash) {
                continue;
            }
            let (size, complete) = status(&store, tag.hash).await?;
            catalogue.entries.insert(
                hash,
                BlobEntry {
                    hash,
                    name: hash.to_string(),
                    size,
                    complete,
                    pinned: true,
                    serving: false,
                    origin: BlobOrigin::Added { path: String::new() },
                    added_ms: unix_ms(),
                    holders: Vec::new(),
                },
            );
        }
        let catalogue = Arc::new(Mutex::new(catalogue));
        let gate = Arc::new(Gatekeeper::new(catalogue.clone()));
        let protocol = BlobsProtocol::new(&store, Some(serve::spawn_gate(gate.clone())));
        let storage = Self {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                quota,
                store,
                catalogue,
                gate,
                protocol,
                endpoint: Mutex::new(None),
            }),
        };
        if rebuilt {
            storage.save()?;
        }
        Ok((storage, note))
    }

    /// Everything held, newest first.
    pub fn entries(&self) -> Vec<BlobEntry> {
        let mut entries: Vec<BlobEntry> = self
            .inner
            .catalogue
            .lock()
            .map(|c| c.entries.values().cloned().collect())
            .unwrap_or_default();
        entries.sort_by(|a, b| b.added_ms.cmp(&a.added_ms).then(a.name.cmp(&b.name)));
        entries
    }

    /// One blob's entry.
    pub fn entry(&self, hash: BlobHash) -> Option<BlobEntry> {
        self.inner.catalogue.lock().ok()?.entries.get(&hash).cloned()
    }

    /// Bytes used and the quota.
    pub fn usage(&self) -> (u64, u64) {
        let used = self.inner.catalogue.lock().map(|c| c.used()).unwrap_or(0);
        (used, self.inner.quota)
    }

    /// Bytes served since start, per blob and per peer.
    pub fn served(&self) -> ServedReport {
        self.inner
            .gate
            .served
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Adds the file at `path`, pinned and not served, named after the file.
    pub async fn add_file(&self, path: &Path) -> Result<BlobEntry, StorageError> {
        let unreadable = |error: String| StorageError::Unreadable {
            path: path.display().to_string(),
            error,
        };
        let metadata = std::fs::metadata(path).map_err(|err| unreadable(err.to_string()))?;
        if !metadata.is_file() {
            return Err(unreadable("not a file".into()));
        }
        // Opening proves it can be read before the store is asked to copy it.
        std::fs::File::open(path).map_err(|err| unreadable(err.to_string()))?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.make_room(&name, metadata.len(), None)?;
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let tag = self
            .inner
            .store
            .add_path(&absolute)
            .temp_tag()
            .await
            .map_err(|err| {
                // The file was readable a moment ago: a disk that filled up meanwhile is
                // the likelier cause, and says so.
                match disk_free(&self.inner.dir) {
                    Some(free) if free < DISK_MARGIN => StorageError::DiskFull {
                        name: name.clone(),
                        needed: metadata.len(),
                        free,
                    },
                    _ => unreadable(err.to_string()),
                }
            })?;
        let origin = BlobOrigin::Added {
            path: absolute.display().to_string(),
        };
        self.remember(tag.hash(), name, metadata.len(), origin).await
    }

    /// Refuses a blob of `needed` bytes that the disk has no room for (with its outboard
    /// and some room for the database), before anything is written.
    fn check_disk(&self, name: &str, needed: u64) -> Result<(), StorageError> {
        let Some(free) = disk_free(&self.inner.dir) else {
            return Ok(());
        };
        if free < needed.saturating_add(needed / 128).saturating_add(DISK_MARGIN) {
            return Err(StorageError::DiskFull {
                name: name.to_owned(),
                needed,
                free,
            });
        }
        Ok(())
    }

    /// Adds `bytes` under `name`, pinned and not served.
    pub async fn add_bytes(
        &self,
        name: &str,
        bytes: impl Into<bytes::Bytes>,
    ) -> Result<BlobEntry, StorageError> {
        let bytes = bytes.into();
        self.make_room(name, bytes.len() as u64, None)?;
        let size = bytes.len() as u64;
        let tag = self
            .inner
            .store
            .add_bytes(bytes)
            .temp_tag()
            .await
            .map_err(store_error)?;
        let origin = BlobOrigin::Added { path: String::new() };
        self.remember(tag.hash(), name.to_owned(), size, origin).await
    }

    async fn remember(
        &self,
        hash: Hash,
        name: String,
        size: u64,
        origin: BlobOrigin,
    ) -> Result<BlobEntry, StorageError> {
        self.tag(hash).await?;
        let key = blob_hash(hash);
        let entry = self.update_catalogue(|catalogue| {
            let entry = catalogue.entries.entry(key).or_insert_with(|| BlobEntry {
                hash: key,
                name,
                size,
                complete: true,
                pinned: true,
                serving: false,
                origin,
                added_ms: unix_ms(),
                holders: Vec::new(),
            });
            // Adding what a fetch left partial completes it.
            entry.complete = true;
            entry.holders.clear();
            entry.size = size;
            entry.clone()
        })?;
        Ok(entry)
    }

    /// Pins or unpins a blob.
    pub fn set_pinned(&self, hash: BlobHash, pinned: bool) -> Result<(), StorageError> {
        self.update_existing(hash, |entry| entry.pinned = pinned)
    }

    /// Starts or stops serving a blob to peers who ask for it. Stopping refuses the next
    /// request at once.
    pub fn set_serving(&self, hash: BlobHash, serving: bool) -> Result<(), StorageError> {
        self.update_existing(hash, |entry| entry.serving = serving)
    }

    /// Serves a blob held here to `peer` alone (a buyer), even while it is not served to
    /// everyone; until the client stops, or [`MAX_PRIVATE_SERVES`]
    /// later pairs push it out.
    pub fn serve_to(&self, hash: BlobHash, peer: PeerId) -> Result<(), StorageError> {
        if self.entry(hash).is_none() {
            return Err(StorageError::NotFound(hash));
        }
        self.inner.gate.serve_to(hash, peer);
        Ok(())
    }

    /// Renames a blob in the catalogue.
    pub fn rename(&self, hash: BlobHash, name: &str) -> Result<(), StorageError> {
        self.update_existing(hash, |entry| entry.name = name.to_owned())
    }

    /// Forgets a blob: it leaves the catalogue at once and its bytes leave the disk at the
    /// store's next sweep.
    pub async fn delete(&self, hash: BlobHash) -> Result<(), StorageError> {
        let existed = self.update_catalogue(|catalogue| catalogue.entries.remove(&hash).is_some())?;
        if !existed {
            return Err(StorageError::NotFound(hash));
        }
        self.inner
            .store
            .tags()
            .delete(tag_name(hash))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// A complete blob's bytes, if it is at most `limit` bytes.
    pub async fn read(&self, hash: BlobHash, limit: u64) -> Result<bytes::Bytes, StorageError> {
        let entry = self.entry(hash).ok_or(StorageError::NotFound(hash))?;
        if !entry.complete {
            return Err(StorageError::Incomplete(hash));
        }
        if entry.size > limit {
            return Err(StorageError::TooLarge {
                hash,
                size: entry.size,
                limit,
            });
        }
        self.inner
            .store
            .get_bytes(iroh_hash(hash))
            .await
            .map_err(store_error)
    }

    /// Writes a complete blob to a file.
    pub async fn export(&self, hash: BlobHash, target: &Path) -> Result<u64, StorageError> {
        let entry = self.entry(hash).ok_or(StorageError::NotFound(hash))?;
        if !entry.complete {
            return Err(StorageError::Incomplete(hash));
        }
        let target = std::path::absolute(target).unwrap_or_else(|_| target.to_owned());
        self.inner
            .store
            .export(iroh_hash(hash), &target)
            .finish()
            .await
            .map_err(|err| StorageError::Store(format!("cannot write {}: {err}", target.display())))
    }

    /// A ticket for a blob held here, naming this node as its holder. Others can fetch
    /// with it while the blob is served ([`set_serving`](Self::set_serving)), or served to
    /// them ([`serve_to`](Self::serve_to)).
    pub fn ticket(&self, hash: BlobHash) -> Result<String, StorageError> {
        if self.entry(hash).is_none() {
            return Err(StorageError::NotFound(hash));
        }
        let endpoint = self.endpoint().ok_or(StorageError::Offline)?;
        Ok(BlobTicket::new(endpoint.addr(), iroh_hash(hash), BlobFormat::Raw).to_string())
    }

    /// Fetches a blob from the first holder that gives it whole and verified, reporting
    /// progress on the way. What was already here (a fetch that stopped) is not fetched
    /// again. Pinned, unless `request.pin` is false.
    pub async fn fetch(
        &self,
        request: FetchRequest,
        mut progress: impl FnMut(FetchProgress),
    ) -> Result<BlobEntry, StorageError> {
        let hash = request.hash;
        if let Some(entry) = self.entry(hash)
            && entry.complete
        {
            if request.pin && !entry.pinned {
                self.set_pinned(hash, true)?;
            }
            return self.entry(hash).ok_or(StorageError::NotFound(hash));
        }
        let endpoint = self.endpoint().ok_or(StorageError::Offline)?;
        let content = iroh_hash(hash);
        // Remember the fetch before the first byte, tagged so that the partial blob
        // survives sweeps and restarts and can be resumed.
        self.tag(content).await?;
        self.update_catalogue(|catalogue| {
            let entry = catalogue.entries.entry(hash).or_insert_with(|| BlobEntry {
                hash,
                name: request.name.clone(),
                size: 0,
                complete: false,
                pinned: request.pin,
                serving: false,
                origin: BlobOrigin::Fetched {
                    from: request
                        .holders
                        .first()
                        .map_or(PeerId::from_bytes([0; 32]), |h| peer_id(h.id)),
                },
                added_ms: unix_ms(),
                holders: Vec::new(),
            });
            entry.holders = request
                .holders
                .iter()
                .take(MAX_REMEMBERED_HOLDERS)
                .cloned()
                .collect();
        })?;
        let mut last = String::from("no holders were given");
        for holder in request.holders {
            let from = peer_id(holder.id);
            if from == self.me(&endpoint) {
                continue;
            }
            match self
                .fetch_from(&endpoint, holder, hash, &request.name, &mut progress)
                .await
            {
                Ok(()) => {
                    return self
                        .update_catalogue(|catalogue| {
                            let entry = catalogue.entries.get_mut(&hash)?;
                            entry.complete = true;
                            entry.holders.clear();
                            entry.pinned |= request.pin;
                            entry.origin = BlobOrigin::Fetched { from };
                            Some(entry.clone())
                        })?
                        .ok_or(StorageError::NotFound(hash));
                }
                Err(error @ StorageError::QuotaFull { .. }) => return Err(error),
                Err(error) => {
                    tracing::info!(%hash, holder = %from, %error, "a holder did not give the blob; asking the next");
                    last = format!("{}: {error}", from.to_string().get(..8).unwrap_or_default());
                }
            }
        }
        Err(StorageError::NoHolder { hash, last })
    }

    async fn fetch_from(
        &self,
        endpoint: &Endpoint,
        holder: EndpointAddr,
        hash: BlobHash,
        name: &str,
        progress: &mut impl FnMut(FetchProgress),
    ) -> Result<(), StorageError> {
        let from = peer_id(holder.id);
        let transport = QuicTransportConfig::builder()
            .stream_receive_window(VarInt::from_u32(FETCH_STREAM_WINDOW))
            .receive_window(VarInt::from_u32(FETCH_CONNECTION_WINDOW))
            .build();
        let options = ConnectOptions::new().with_transport_config(transport);
        let connecting = endpoint.connect_with_opts(holder, iroh_blobs::ALPN, options);
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT, async {
            connecting.await.map_err(store_error)?.await.map_err(store_error)
        })
        .await
        {
            Ok(connection) => connection?,
            Err(_) => return Err(StorageError::Store("no answer".into())),
        };
        let content = iroh_hash(hash);
        let size = tokio::time::timeout(
            STALL_TIMEOUT,
            iroh_blobs::get::request::get_verified_size(&connection, &content),
        )
        .await
        .map_err(|_| StorageError::Store("no answer".into()))?
        .map_err(store_error)?
        .0;
        self.make_room(name, size, Some(hash))?;
        self.update_catalogue(|catalogue| {
            if let Some(entry) = catalogue.entries.get_mut(&hash) {
                entry.size = size;
            }
        })?;
        let local = self
            .inner
            .store
            .remote()
            .local(content)
            .await
            .map_err(store_error)?;
        let before = local.local_bytes().min(size);
        let started = Instant::now();
        let mut report = |done: u64| {
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            progress(FetchProgress {
                hash,
                done: (before + done).min(size),
                total: size,
                bytes_per_second: done as f64 / seconds,
                from,
            })
        };
        report(0);
        let mut items = std::pin::pin!(
            self.inner
                .store
                .remote()
                .fetch(connection.clone(), content)
                .stream()
        );
        loop {
            let item = tokio::time::timeout(STALL_TIMEOUT, items.next())
                .await
                .map_err(|_| StorageError::Store("the holder went silent".into()))?;
            match item {
                Some(GetProgressItem::Progress(done)) => report(done),
                Some(GetProgressItem::Done(_)) => break,
                Some(GetProgressItem::Error(error)) => return Err(store_error(error)),
                None => return Err(StorageError::Store("the fetch ended early".into())),
            }
        }
        connection.close(0u32.into(), b"done");
        match status(&self.inner.store, content).await? {
            (_, true) => {
                report(size - before);
                Ok(())
            }
            (_, false) => Err(StorageError::Store("the holder sent only part of it".into())),
        }
    }

    /// Blobs whose fetch stopped before they were complete (to resume after a restart).
    pub fn unfinished(&self) -> Vec<BlobEntry> {
        self.entries()
            .into_iter()
            .filter(|entry| !entry.complete)
            .collect()
    }

    /// The iroh-blobs protocol handler that serves this store, for the node's router.
    pub(crate) fn protocol(&self) -> serve::ServeBlobs {
        serve::ServeBlobs(self.inner.protocol.clone())
    }

    /// Fetches go through `endpoint` from now on (the node's, while it runs).
    pub(crate) fn attach(&self, endpoint: Option<Endpoint>) {
        if let Ok(mut slot) = self.inner.endpoint.lock() {
            *slot = endpoint;
        }
    }

    /// Whether fetching and sharing work now: the store is attached to a running node.
    pub fn online(&self) -> bool {
        self.endpoint().is_some()
    }

    fn endpoint(&self) -> Option<Endpoint> {
        self.inner.endpoint.lock().ok()?.clone()
    }

    fn me(&self, endpoint: &Endpoint) -> PeerId {
        peer_id(endpoint.id())
    }

    /// Frees room for `needed` bytes (less what `replacing` already counts) by dropping
    /// unpinned complete blobs, oldest first.
    fn make_room(&self, name: &str, needed: u64, replacing: Option<BlobHash>) -> Result<(), StorageError> {
        self.check_disk(name, needed)?;
        let quota = self.inner.quota;
        let mut evicted = Vec::new();
        let result = self.update_catalogue(|catalogue| {
            let counted = replacing
                .and_then(|hash| catalogue.entries.get(&hash))
                .map_or(0, |entry| entry.size);
            let used = catalogue.used() - counted;
            if used + needed <= quota {
                return Ok(());
            }
            let mut candidates: Vec<(u64, BlobHash, u64)> = catalogue
                .entries
                .values()
                .filter(|entry| !entry.pinned && entry.complete && Some(entry.hash) != replacing)
                .map(|entry| (entry.added_ms, entry.hash, entry.size))
                .collect();
            candidates.sort();
            let mut free = quota.saturating_sub(used);
            let mut chosen = Vec::new();
            for (_, hash, size) in candidates {
                if free >= needed {
                    break;
                }
                free += size;
                chosen.push(hash);
            }
            if free < needed {
                return Err(StorageError::QuotaFull {
                    name: name.to_owned(),
                    needed,
                    free: quota.saturating_sub(used),
                    quota,
                });
            }
            for hash in chosen {
                catalogue.entries.remove(&hash);
                evicted.push(hash);
            }
            Ok(())
        })?;
        result?;
        if !evicted.is_empty() {
            let store = self.inner.store.clone();
            tokio::spawn(async move {
                for hash in evicted {
                    store.tags().delete(tag_name(hash)).await.ok();
                }
            });
        }
        Ok(())
    }

    async fn tag(&self, hash: Hash) -> Result<(), StorageError> {
        self.inner
            .store
            .tags()
            .set(tag_name(blob_hash(hash)), iroh_blobs::HashAndFormat::raw(hash))
            .await
            .map_err(store_error)
    }

    fn update_existing(
        &self,
        hash: BlobHash,
        change: impl FnOnce(&mut BlobEntry),
    ) -> Result<(), StorageError> {
        self.update_catalogue(|catalogue| catalogue.entries.get_mut(&hash).map(change))?
            .ok_or(StorageError::NotFound(hash))
    }

    /// Changes the catalogue and writes it before returning.
    fn update_catalogue<T>(&self, change: impl FnOnce(&mut Catalogue) -> T) -> Result<T, StorageError> {
        let mut catalogue = self
            .inner
            .catalogue
            .lock()
            .map_err(|_| StorageError::Store("the catalogue lock was poisoned".into()))?;
        let value = change(&mut catalogue);
        catalogue
            .save(&self.inner.dir)
            .map_err(|err| StorageError::Store(format!("cannot save the catalogue: {err}")))?;
        Ok(value)
    }

    fn save(&self) -> Result<(), StorageError> {
        self.update_catalogue(|_| ())
    }

    /// Stops the store, writing what it holds in memory.
    pub async fn shutdown(&self) {
        self.attach(None);
        if let Err(err) = self.inner.store.shutdown().await {
            tracing::warn!(%err, "the blob store did not shut down cleanly");
        }
    }
}

/// The endpoint id of a peer, for [`FetchRequest::holders`] when only the id is known
/// Room kept free on the disk beyond a blob's bytes and outboard, for the database.
const DISK_MARGIN: u64 = 1 << 20;

/// Bytes free on the disk that holds `dir`, where the system says.
fn disk_free(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let stats = rustix::fs::statvfs(dir).ok()?;
        Some(stats.f_bavail.saturating_mul(stats.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// (the node finds its addresses from the world).
pub fn holder(peer: PeerId) -> Option<EndpointAddr> {
    endpoint_id(peer).ok().map(EndpointAddr::from)
}

async fn status(store: &FsStore, hash: Hash) -> Result<(u64, bool), StorageError> {
    use iroh_blobs::api::proto::BlobStatus;
    Ok(match store.blobs().status(hash).await.map_err(store_error)? {
        BlobStatus::NotFound => (0, false),
        BlobStatus::Partial { size } => (size.unwrap_or(0), false),
        BlobStatus::Complete { size } => (size, true),
    })
}

fn tag_name(hash: BlobHash) -> String {
    format!("{TAG_PREFIX}{hash}")
}

fn blob_hash(hash: Hash) -> BlobHash {
    BlobHash::from_bytes(*hash.as_bytes())
}

fn iroh_hash(hash: BlobHash) -> Hash {
    Hash::from_bytes(*hash.as_bytes())
}
