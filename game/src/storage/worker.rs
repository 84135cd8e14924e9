//! The storage thread: a small tokio runtime that owns the [`Storage`] and carries out the
//! apps' blob requests, so that adding a large file or fetching one never holds a frame.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sanctuary_net::storage::{self, FetchRequest};
use sanctuary_net::{BlobEntry, BlobOrigin, Storage};
use sanctuary_plugin_api::{BLOB_READ_MAX, BlobHash, BlobInfo, BlobLibrary, BlobReply, BlobRequest};
use tokio::sync::mpsc;

/// How often the library is refreshed without a request (served counts, online state).
const REFRESH: Duration = Duration::from_millis(500);
/// Fetches running at once, at most; more wait their turn.
const FETCHES_AT_ONCE: usize = 4;

/// What the thread sends to the frame loop.
#[derive(Debug)]
pub(crate) enum FromWorker {
    /// An answer for one app.
    Reply(String, BlobReply),
    /// The store's contents changed.
    Library(BlobLibrary),
}

/// Fetches under way, shown in the library.
type Fetching = Arc<Mutex<HashMap<BlobHash, sanctuary_plugin_api::FetchStatus>>>;

/// Opens the store in `dir` on a new thread and returns it with the channels to it.
pub(crate) fn start(
    dir: std::path::PathBuf,
    quota: u64,
) -> Result<
    (
        Storage,
        mpsc::Sender<(String, BlobRequest)>,
        std::sync::mpsc::Receiver<FromWorker>,
    ),
    String,
> {
    let (opened_tx, opened_rx) = std::sync::mpsc::channel();
    let (requests_tx, requests_rx) = mpsc::channel(256);
    let (out_tx, out_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sanctuary-storage".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sanctuary-storage-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    opened_tx
                        .send(Err(format!("cannot start the storage thread: {error}")))
                        .ok();
                    return;
                }
            };
            runtime.block_on(async move {
                let storage = match open(&dir, quota).await {
                    Ok((storage, note)) => {
                        if let Some(note) = note {
                            bevy::log::warn!("{note}");
                        }
                        storage
                    }
                    Err(error) => {
                        opened_tx.send(Err(error.to_string())).ok();
                        return;
                    }
                };
                opened_tx.send(Ok(storage.clone())).ok();
                run(storage, requests_rx, out_tx).await;
            });
        })
        .map_err(|error| format!("cannot start the storage thread: {error}"))?;
    let storage = opened_rx
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| "the store did not open in time".to_string())??;
    Ok((storage, requests_tx, out_rx))
}

/// Opens the store, waiting a little for an earlier copy of the client (just closed, or a
/// test's previous run) to let go of it.
async fn open(
    dir: &std::path::Path,
    quota: u64,
) -> Result<(Storage, Option<String>), sanctuary_net::StorageError> {
    let mut tries = 0;
    loop {
        match Storage::open(dir, quota).await {
            Err(error) if tries < OPEN_TRIES => {
                tries += 1;
                bevy::log::debug!("the store is not ready yet ({error}); trying again");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            result => return result,
        }
    }
}

/// How often opening the store is tried before storage is given up for this run.
const OPEN_TRIES: u32 = 12;

async fn run(
    storage: Storage,
    mut requests: mpsc::Receiver<(String, BlobRequest)>,
    out: std::sync::mpsc::Sender<FromWorker>,
) {
    let fetching: Fetching = Arc::default();
    let permits = Arc::new(tokio::sync::Semaphore::new(FETCHES_AT_ONCE));
    let mut was_online = false;
    let mut refresh = tokio::time::interval(REFRESH);
    loop {
        tokio::select! {
            request = requests.recv() => {
                let Some((app, request)) = request else { break };
                let job = Job { storage: storage.clone(), out: out.clone(), fetching: fetching.clone(), permits: permits.clone(), app };
                tokio::spawn(job.handle(request));
            }
            _ = refresh.tick() => {
                let online = storage.online();
                if online && !was_online {
                    resume(&storage, &out, &fetching, &permits);
                }
                was_online = online;
            }
        }
        if out
            .send(FromWorker::Library(library(&storage, &fetching)))
            .is_err()
        {
            break;
        }
    }
    // The client closed: let go of the store so that the next run can open it.
    storage.shutdown().await;
}

/// Goes on with fetches a restart interrupted, from the holders they were started with.
fn resume(
    storage: &Storage,
    out: &std::sync::mpsc::Sender<FromWorker>,
    fetching: &Fetching,
    permits: &Arc<tokio::sync::Semaphore>,
) {
    for entry in storage.unfinished() {
        if entry.holders.is_empty() {
            continue;
        }
        let job = Job {
            storage: storage.clone(),
            out: out.clone(),
            fetching: fetching.clone(),
            permits: permits.clone(),
            app: "storage".into(),
        };
        let request = FetchRequest {
            hash: entry.hash,
            name: entry.name.clone(),
            holders: entry.holders.clone(),
            pin: entry.pinned,
        };
        tokio::spawn(async move {
            if let Some(reply) = job.fetch(request).await {
                job.out.send(FromWorker::Reply(job.app.clone(), reply)).ok();
            }
        });
    }
}

/// One request from one app.
struct Job {
    storage: Storage,
    out: std::sync::mpsc::Sender<FromWorker>,
    fetching: Fetching,
    permits: Arc<tokio::sync::Semaphore>,
    app: String,
}

impl Job {
    async fn handle(self, request: BlobRequest) {
        let reply = self.answer(request).await;
        if let Some(reply) = reply {
            self.out.send(FromWorker::Reply(self.app.clone(), reply)).ok();
        }
        self.out
            .send(FromWorker::Library(library(&self.storage, &self.fetching)))
            .ok();
    }

    async fn answer(&self, request: BlobRequest) -> Option<BlobReply> {
        let failed = |hash: Option<BlobHash>, error: String| Some(BlobReply::Failed { hash, error });
        match request {
            BlobRequest::AddFile(path) => match self.storage.add_file(&path).await {
                Ok(entry) => Some(BlobReply::Added(info(&entry, 0))),
                Err(error) => failed(None, error.to_string()),
            },
            BlobRequest::FetchTicket(text) => match storage::parse_ticket(&text) {
                Ok((hash, holder)) => {
                    let name = self
                        .storage
                        .entry(hash)
                        .map_or_else(|| hash.short(), |entry| entry.name);
                    self.fetch(FetchRequest {
                        hash,
                        name,
                        holders: vec![holder],
                        pin: true,
                    })
                    .await
                }
                Err(error) => failed(None, error.to_string()),
            },
            BlobRequest::FetchFrom {
                hash,
                name,
                holders,
                pin,
            } => {
                let holders = holders.into_iter().filter_map(storage::holder).collect();
                self.fetch(FetchRequest {
                    hash,
                    name,
                    holders,
                    pin,
                })
                .await
            }
            BlobRequest::Share(hash) => {
                let shared = self
                    .storage
                    .set_serving(hash, true)
                    .and_then(|()| self.storage.ticket(hash));
                match shared {
                    Ok(ticket) => Some(BlobReply::Ticket { hash, ticket }),
                    Err(error) => failed(Some(hash), error.to_string()),
                }
            }
            BlobRequest::ShareWith(hash, peer) => {
                let shared = self
                    .storage
                    .serve_to(hash, peer)
                    .and_then(|()| self.storage.ticket(hash));
                match shared {
                    Ok(ticket) => Some(BlobReply::Ticket { hash, ticket }),
                    Err(error) => failed(Some(hash), error.to_string()),
                }
            }
            BlobRequest::SetPinned(hash, pinned) => self
                .storage
                .set_pinned(hash, pinned)
                .err()
                .and_then(|error| failed(Some(hash), error.to_string())),
            BlobRequest::SetServing(hash, serving) => self
                .storage
                .set_serving(hash, serving)
                .err()
                .and_then(|error| failed(Some(hash), error.to_string())),
            BlobRequest::Delete(hash) => self
                .storage
                .delete(hash)
                .await
                .err()
                .and_then(|error| failed(Some(hash), error.to_string())),
            BlobRequest::Read(hash) => match self.storage.read(hash, BLOB_READ_MAX).await {
                Ok(bytes) => Some(BlobReply::Bytes {
                    hash,
                    bytes: Arc::from(bytes.as_ref()),
                }),
                Err(error) => failed(Some(hash), error.to_string()),
            },
        }
    }

    /// Fetches with progress shown in the library; one fetch per blob at a time.
    async fn fetch(&self, request: FetchRequest) -> Option<BlobReply> {
        let hash = request.hash;
        {
            let mut fetching = self.fetching.lock().ok()?;
            if fetching.contains_key(&hash) {
                return None;
            }
            fetching.insert(
                hash,
                sanctuary_plugin_api::FetchStatus {
                    hash,
                    name: request.name.clone(),
                    done: 0,
                    total: 0,
                    bytes_per_second: 0.0,
                },
            );
        }
        let _permit = self.permits.acquire().await.ok()?;
        let shown = self.fetching.clone();
        let out = self.out.clone();
        let storage = self.storage.clone();
        let mut last_sent = std::time::Instant::now();
        let result = self
            .storage
            .fetch(request, |progress| {
                if let Ok(mut shown) = shown.lock()
                    && let Some(status) = shown.get_mut(&progress.hash)
                {
                    status.done = progress.done;
                    status.total = progress.total;
                    status.bytes_per_second = progress.bytes_per_second;
                }
                if last_sent.elapsed() >= Duration::from_millis(100) {
                    last_sent = std::time::Instant::now();
                    out.send(FromWorker::Library(library(&storage, &shown))).ok();
                }
            })
            .await;
        if let Ok(mut fetching) = self.fetching.lock() {
            fetching.remove(&hash);
        }
        Some(match result {
            Ok(entry) => BlobReply::Fetched(info(&entry, 0)),
            Err(error) => BlobReply::Failed {
                hash: Some(hash),
                error: error.to_string(),
            },
        })
    }
}

/// The library apps see: entries, usage, what was served, fetches under way.
fn library(storage: &Storage, fetching: &Fetching) -> BlobLibrary {
    let served = storage.served();
    let (used, quota) = storage.usage();
    let mut served_to: Vec<_> = served
        .per_peer
        .iter()
        .map(|(peer, bytes)| (*peer, *bytes))
        .collect();
    served_to.sort_by_key(|(_, bytes)| std::cmp::Reverse(*bytes));
    let mut fetches: Vec<_> = fetching
        .lock()
        .map(|f| f.values().cloned().collect())
        .unwrap_or_default();
    fetches.sort_by(|a: &sanctuary_plugin_api::FetchStatus, b| a.name.cmp(&b.name));
    BlobLibrary {
        problem: None,
        online: storage.online(),
        blobs: storage
            .entries()
            .iter()
            .map(|entry| info(entry, served.per_blob.get(&entry.hash).copied().unwrap_or(0)))
            .collect(),
        used,
        quota,
        served_to,
        fetching: fetches,
    }
}

fn info(entry: &BlobEntry, served: u64) -> BlobInfo {
    BlobInfo {
        hash: entry.hash,
        name: entry.name.clone(),
        size: entry.size,
        complete: entry.complete,
        pinned: entry.pinned,
        serving: entry.serving,
        origin: match &entry.origin {
            BlobOrigin::Added { path } if path.is_empty() => "added here".into(),
            BlobOrigin::Added { path } => format!("added from {path}"),
            BlobOrigin::Fetched { from } => {
                format!("fetched from {}", from.to_string().get(..8).unwrap_or_default())
            }
        },
        served,
    }
}
