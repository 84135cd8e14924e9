//! Storage between real nodes on loopback: a blob added on one node is fetched by ticket
//! on another, byte for byte; a holder that sends wrong bytes is refused and the next one
//! asked, and so is one that cuts its answer short (keeping what it did send); a fetch
//! that stopped resumes after a restart; only served blobs are given out;
//! the quota, bad tickets and unreadable files each fail with one clear line.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use common::*;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use sanctuary_net::storage::{self, FetchRequest, StorageError};
use sanctuary_net::{Node, NodeConfig, Storage};

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-storage-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn open(dir: &std::path::Path, quota: u64) -> Storage {
    Storage::open(dir, quota).await.unwrap().0
}

async fn node_with(seed: u8, storage: &Storage) -> Node {
    let mut config = NodeConfig::loopback(keypair(seed));
    config.storage = Some(storage.clone());
    Node::spawn(config).await.unwrap()
}

/// Bytes that differ everywhere, so a misplaced chunk shows.
fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8).collect()
}

fn request(hash: sanctuary_protocols::BlobHash, holders: Vec<iroh::EndpointAddr>) -> FetchRequest {
    FetchRequest {
        hash,
        name: "fetched".into(),
        holders,
        pin: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_blob_shared_by_ticket_arrives_identical_and_is_counted_as_served() {
    init_tracing();
    let (dir_a, dir_b) = (folder("share-a"), folder("share-b"));
    let (a, b) = (open(&dir_a, 1 << 30).await, open(&dir_b, 1 << 30).await);
    let (_node_a, node_b) = (node_with(1, &a).await, node_with(2, &b).await);
    let bytes = sample(3 << 20);
    let file = dir_a.join("holiday.bin");
    std::fs::write(&file, &bytes).unwrap();
    let added = a.add_file(&file).await.unwrap();
    assert_eq!(added.name, "holiday.bin");
    assert_eq!(added.size, bytes.len() as u64);
    let ticket = a.ticket(added.hash).unwrap();

    // Not served yet: the holder refuses.
    let (hash, holder) = storage::parse_ticket(&ticket).unwrap();
    assert_eq!(hash, added.hash);
    let refused = b.fetch(request(hash, vec![holder.clone()]), |_| {}).await;
    assert!(
        matches!(refused, Err(StorageError::NoHolder { .. })),
        "{refused:?}"
    );
    assert!(a.served().refused > 0);

    a.set_serving(added.hash, true).unwrap();
    let mut seen = Vec::new();
    let fetched = b
        .fetch(request(hash, vec![holder.clone()]), |p| seen.push(p))
        .await
        .unwrap();
    assert!(fetched.complete && fetched.pinned);
    assert_eq!(b.read(hash, 16 << 20).await.unwrap().as_ref(), &bytes[..]);
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (bytes.len() as u64, bytes.len() as u64));
    let out = dir_b.join("out.bin");
    b.export(hash, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);

    // The holder counts what it sent, per blob and per peer.
    wait_until("the holder to count the bytes it served", || {
        a.served().per_peer.get(&node_b.peer_id()).copied().unwrap_or(0) >= bytes.len() as u64
    })
    .await;
    assert!(a.served().per_blob[&hash] >= bytes.len() as u64);

    // Unchecking stops serving for the next asker.
    a.set_serving(added.hash, false).unwrap();
    let dir_c = folder("share-c");
    let c = open(&dir_c, 1 << 30).await;
    let node_c = node_with(3, &c).await;
    let late = c.fetch(request(hash, vec![holder.clone()]), |_| {}).await;
    assert!(matches!(late, Err(StorageError::NoHolder { .. })), "{late:?}");

    // Served to c alone (a buyer): c gets it, d still does not.
    a.serve_to(added.hash, node_c.peer_id()).unwrap();
    let bought = c
        .fetch(request(hash, vec![holder.clone()]), |_| {})
        .await
        .unwrap();
    assert!(bought.complete);
    let dir_d = folder("share-d");
    let d = open(&dir_d, 1 << 30).await;
    let _node_d = node_with(4, &d).await;
    let refused = d.fetch(request(hash, vec![holder]), |_| {}).await;
    assert!(
        matches!(refused, Err(StorageError::NoHolder { .. })),
        "{refused:?}"
    );
}

/// A bare iroh endpoint on loopback, for holders that do not follow the rules.
async fn bare_endpoint(seed: u8) -> iroh::Endpoint {
    let endpoint = iroh::Endpoint::builder(iroh::endpoint::presets::Minimal)
        .secret_key(iroh::SecretKey::from_bytes(&keypair(seed).to_bytes()))
        .relay_mode(iroh::RelayMode::Disabled)
        .clear_ip_transports()
        .bind_addr("127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap())
        .unwrap()
        .bind()
        .await
        .unwrap();
    wait_until("a bare endpoint's address", || {
        endpoint.addr().ip_addrs().next().is_some()
    })
    .await;
    endpoint
}

/// A holder that answers every blob request with the right length of wrong bytes.
#[derive(Debug, Clone)]
struct Liar;

impl ProtocolHandler for Liar {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let _ = recv.read(&mut [0u8; 256]).await;
            let mut answer = (3u64 << 20).to_le_bytes().to_vec();
            answer.extend(sample(64 << 10).iter().map(|b| b ^ 0x5a));
            let _ = send.write_all(&answer).await;
            let _ = send.finish();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_bytes_from_one_holder_are_refused_and_the_next_holder_asked() {
    init_tracing();
    let (dir_a, dir_b) = (folder("liar-a"), folder("liar-b"));
    let (a, b) = (open(&dir_a, 1 << 30).await, open(&dir_b, 1 << 30).await);
    let (node_a, _node_b) = (node_with(4, &a).await, node_with(5, &b).await);
    let bytes = sample(3 << 20);
    let added = a.add_bytes("map.bin", bytes.clone()).await.unwrap();
    a.set_serving(added.hash, true).unwrap();

    let liar_endpoint = bare_endpoint(66).await;
    let liar = Router::builder(liar_endpoint.clone())
        .accept(iroh_blobs::ALPN, Liar)
        .spawn();
    wait_until("the liar to have an address", || {
        liar_endpoint.addr().ip_addrs().next().is_some()
    })
    .await;

    let holders = vec![liar_endpoint.addr(), node_a.addr()];
    let from = Arc::new(Mutex::new(Vec::new()));
    let seen = from.clone();
    let fetched = b
        .fetch(request(added.hash, holders), move |p| {
            seen.lock().unwrap().push(p.from)
        })
        .await
        .unwrap();
    assert_eq!(b.read(added.hash, 16 << 20).await.unwrap().as_ref(), &bytes[..]);
    assert_eq!(
        fetched.origin,
        sanctuary_net::BlobOrigin::Fetched {
            from: node_a.peer_id()
        }
    );
    let liar_id = sanctuary_protocols::PeerId::from_bytes(*liar_endpoint.id().as_bytes());
    assert!(
        !from.lock().unwrap().contains(&liar_id),
        "no progress may come from the liar"
    );

    // With only the liar to ask, the fetch fails with one line and stores nothing whole.
    let other = a.add_bytes("other.bin", sample(100_000)).await.unwrap();
    let failed = b
        .fetch(request(other.hash, vec![liar_endpoint.addr()]), |_| {})
        .await;
    let error = failed.unwrap_err();
    assert!(matches!(error, StorageError::NoHolder { .. }));
    assert!(!error.to_string().contains('\n'));
    assert!(b.read(other.hash, 1 << 20).await.is_err());
    liar.shutdown().await.ok();
}

/// A holder that passes requests on to an honest one but cuts every answer short after
/// [`Truncator::LIMIT`] bytes, as a holder with a truncated copy (or one that gives up)
/// would.
#[derive(Debug, Clone)]
struct Truncator {
    endpoint: iroh::Endpoint,
    honest: iroh::EndpointAddr,
}

impl Truncator {
    const LIMIT: usize = 1 << 20;
}

impl ProtocolHandler for Truncator {
    async fn accept(&self, connection: Connection) -> Result<(), AcceptError> {
        let Ok(upstream) = self.endpoint.connect(self.honest.clone(), iroh_blobs::ALPN).await else {
            return Ok(());
        };
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            let Ok(request) = recv.read_to_end(8192).await else {
                break;
            };
            let Ok((mut up_send, mut up_recv)) = upstream.open_bi().await else {
                break;
            };
            if up_send.write_all(&request).await.is_err() || up_send.finish().is_err() {
                break;
            }
            let mut passed = 0;
            let mut buffer = vec![0u8; 64 << 10];
            while passed < Self::LIMIT {
                match up_recv.read(&mut buffer).await {
                    Ok(Some(n)) => {
                        let n = n.min(Self::LIMIT - passed);
                        if send.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                        passed += n;
                    }
                    _ => break,
                }
            }
            let _ = send.finish();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_truncated_answer_is_refused_and_the_rest_fetched_from_the_next_holder() {
    init_tracing();
    let (dir_a, dir_b) = (folder("cut-a"), folder("cut-b"));
    let (a, b) = (open(&dir_a, 1 << 30).await, open(&dir_b, 1 << 30).await);
    let (node_a, _node_b) = (node_with(10, &a).await, node_with(11, &b).await);
    let bytes = sample(6 << 20);
    let added = a.add_bytes("atlas.bin", bytes.clone()).await.unwrap();
    a.set_serving(added.hash, true).unwrap();

    let cutter_endpoint = bare_endpoint(67).await;
    let cutter = Router::builder(cutter_endpoint.clone())
        .accept(
            iroh_blobs::ALPN,
            Truncator {
                endpoint: cutter_endpoint.clone(),
                honest: node_a.addr(),
            },
        )
        .spawn();
    wait_until("the cutter to have an address", || {
        cutter_endpoint.addr().ip_addrs().next().is_some()
    })
    .await;

    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let holders = vec![cutter_endpoint.addr(), node_a.addr()];
    let fetched = b
        .fetch(request(added.hash, holders), move |p| {
            seen.lock().unwrap().push((p.from, p.done))
        })
        .await
        .unwrap();
    assert_eq!(b.read(added.hash, 16 << 20).await.unwrap().as_ref(), &bytes[..]);
    assert_eq!(
        fetched.origin,
        sanctuary_net::BlobOrigin::Fetched {
            from: node_a.peer_id()
        }
    );
    // What the cutter gave was verified and kept: the honest holder only sent the rest.
    let reports = reports.lock().unwrap().clone();
    let cutter_id = sanctuary_protocols::PeerId::from_bytes(*cutter_endpoint.id().as_bytes());
    assert!(
        reports.iter().any(|(from, done)| *from == cutter_id && *done > 0),
        "{reports:?}"
    );
    let honest_start = reports
        .iter()
        .find(|(from, _)| *from == node_a.peer_id())
        .unwrap()
        .1;
    assert!(
        honest_start > 0 && honest_start < bytes.len() as u64,
        "the honest holder started at {honest_start}"
    );
    cutter.shutdown().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fetch_that_stopped_resumes_after_a_restart() {
    init_tracing();
    let (dir_a, dir_b) = (folder("resume-a"), folder("resume-b"));
    let a = open(&dir_a, 1 << 30).await;
    let node_a = node_with(7, &a).await;
    let bytes = sample(48 << 20);
    let added = a.add_bytes("film.bin", bytes.clone()).await.unwrap();
    a.set_serving(added.hash, true).unwrap();
    let total = bytes.len() as u64;

    // First run: stop the fetch part way, as a closed window or a kill would.
    {
        let b = open(&dir_b, 1 << 30).await;
        let node_b = node_with(8, &b).await;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let mut stop_tx = Some(stop_tx);
        let fetch = b.fetch(request(added.hash, vec![node_a.addr()]), move |p| {
            if p.done > total / 8
                && let Some(stop) = stop_tx.take()
            {
                stop.send(()).ok();
            }
        });
        tokio::select! {
            biased;
            _ = stop_rx => {}
            result = fetch => panic!("the fetch was meant to be stopped, it ended: {result:?}"),
        }
        node_b.shutdown().await;
        b.shutdown().await;
    }

    // Second run: the unfinished fetch is listed and goes on from where it stopped.
    let b = open(&dir_b, 1 << 30).await;
    let _node_b = node_with(8, &b).await;
    let unfinished = b.unfinished();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].hash, added.hash);
    let mut first = None;
    b.fetch(request(added.hash, vec![node_a.addr()]), |p| {
        first.get_or_insert(p.done);
    })
    .await
    .unwrap();
    let first = first.unwrap();
    assert!(
        first > 0 && first < total,
        "the second fetch started at {first} of {total}"
    );
    assert_eq!(b.read(added.hash, 64 << 20).await.unwrap().as_ref(), &bytes[..]);
    assert!(b.unfinished().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_bad_tickets_and_unreadable_files_fail_in_one_line_and_lose_nothing() {
    init_tracing();
    let dir = folder("quota");
    let s = open(&dir, 1000).await;
    let first = s.add_bytes("first", sample(600)).await.unwrap();
    let full = s.add_bytes("second", sample(601)).await.unwrap_err();
    assert!(
        matches!(
            full,
            StorageError::QuotaFull {
                needed: 601,
                free: 400,
                ..
            }
        ),
        "{full}"
    );
    assert!(full.to_string().starts_with("storage is full"));
    assert_eq!(s.entries().len(), 1);
    assert_eq!(s.read(first.hash, 1000).await.unwrap().len(), 600);

    // An unpinned blob makes room; a pinned one never does.
    s.set_pinned(first.hash, false).unwrap();
    let second = s.add_bytes("second", sample(601)).await.unwrap();
    assert!(s.entry(first.hash).is_none());
    assert_eq!(s.entries().len(), 1);
    assert_eq!(s.usage(), (601, 1000));

    for text in ["", "hello", "blobabc", &format!("blob{}", "a".repeat(80))] {
        let error = storage::parse_ticket(text).unwrap_err();
        assert!(matches!(error, StorageError::BadTicket(_)), "{text}: {error}");
        assert!(!error.to_string().contains('\n'));
    }
    let missing = s.add_file(&dir.join("no-such-file.png")).await.unwrap_err();
    assert!(matches!(missing, StorageError::Unreadable { .. }), "{missing}");
    let a_folder = s.add_file(&dir).await.unwrap_err();
    assert!(a_folder.to_string().contains("not a file"), "{a_folder}");

    // Deleting forgets the blob; the rest survive a restart.
    s.delete(second.hash).await.unwrap();
    assert!(matches!(
        s.read(second.hash, 1000).await,
        Err(StorageError::NotFound(_))
    ));
    let kept = s.add_bytes("kept", sample(10)).await.unwrap();
    s.shutdown().await;
    let again = open(&dir, 1000).await;
    assert_eq!(
        again.entries().iter().map(|e| e.hash).collect::<Vec<_>>(),
        vec![kept.hash]
    );
    assert_eq!(
        again.read(kept.hash, 1000).await.unwrap().as_ref(),
        &sample(10)[..]
    );
}
