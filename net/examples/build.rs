//! Benchmark: building documents, on loopback in one process.
//!
//! ```sh
//! cargo run -p sanctuary-net --example build -- converge PEERS PIECES
//! cargo run -p sanctuary-net --example build -- load PIECES
//! cargo run -p sanctuary-net --example build -- fill DATA_DIR PIECES
//! ```
//!
//! - `converge`: PEERS peers in one world; half of them leave (a partition), both halves
//!   build PIECES pieces each, the half comes back; reports the time from its return until
//!   every peer shows the same document.
//! - `load`: builds a document of PIECES pieces, then reports its size on disk and how long
//!   it takes to open it again (read, decode, check against the rules).
//! - `fill`: writes PIECES pieces into the lobby of the world a client with this data folder
//!   hosts (`hosted-world`, made if missing), for frame-time benchmarks; the space file must
//!   allow that many (see `scripts/bench-build.sh`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sanctuary_net::{
    BuildHandle, BuildSetup, JoinTarget, Node, NodeConfig, WorldConfig, WorldHandle, WorldId,
};
use sanctuary_protocols::build::{BuildRules, Builders, Limits, Piece, PieceKind, Record, Zone, ZoneName};
use sanctuary_protocols::{AvatarShape, DisplayName, Keypair, Presence, Rgb, SpaceName};

type Error = Box<dyn std::error::Error>;

/// Pieces per edit: one write to the disk each.
const BATCH: usize = 1000;

fn lobby() -> SpaceName {
    SpaceName::new("lobby").unwrap_or_else(|_| unreachable!("a valid name"))
}

fn zone() -> ZoneName {
    ZoneName::new("everywhere").unwrap_or_else(|_| unreachable!("a valid name"))
}

/// A zone as large as the lobby and 400 m high, where one person may have `pieces`.
fn rules(pieces: u32) -> BTreeMap<SpaceName, BuildRules> {
    let rules = BuildRules {
        zones: vec![Zone {
            name: zone(),
            min: [-30.0, 0.0, -30.0],
            max: [30.0, 400.0, 30.0],
            builders: Builders::Anyone,
            owners: vec![],
            invited: vec![],
            limits: Limits {
                pieces_per_person: pieces.max(1),
                largest_m: 10.0,
                kinds: None,
            },
        }],
    };
    BTreeMap::from([(lobby(), rules)])
}

fn config(pieces: u32, folder: Option<PathBuf>) -> WorldConfig {
    with_state_every(pieces, folder, Duration::from_millis(250))
}

/// Like [`config`], saying what we hold every `every` (the client's default is 5 s).
fn with_state_every(pieces: u32, folder: Option<PathBuf>, every: Duration) -> WorldConfig {
    WorldConfig {
        heartbeat: Duration::from_millis(200),
        timeout: Duration::from_secs(60),
        build: Some(BuildSetup {
            rules: rules(pieces),
            folder,
            state_every: Some(every),
        }),
        ..WorldConfig::default()
    }
}

/// For one peer alone with a big document: says what it holds as rarely as the client does.
fn quiet(pieces: usize, folder: PathBuf) -> WorldConfig {
    with_state_every(
        pieces as u32,
        Some(folder),
        sanctuary_net::build::BUILD_STATE_EVERY,
    )
}

fn presence(name: &str) -> Result<Presence, Error> {
    Ok(Presence {
        name: DisplayName::new(name)?,
        color: Rgb { r: 10, g: 20, b: 30 },
        shape: AvatarShape::Capsule,
        space: lobby(),
    })
}

/// The `n`th piece of a block of 1 m cubes over the Lobby, 50 by 50 a layer from 15 m up
/// (clear of the people below, in view of someone looking up).
fn piece(n: usize, color: Rgb) -> Piece {
    let (x, z, y) = (n % 50, (n / 50) % 50, n / 2500);
    let position = [
        x as i32 * 1000 - 24_500,
        y as i32 * 1000 + 15_500,
        z as i32 * 1000 - 24_500,
    ];
    Piece::new(PieceKind::Block, position, color)
}

/// Places `count` pieces starting at `first`, in batches.
fn build(handle: &BuildHandle, first: usize, count: usize, color: Rgb) -> Result<(), Error> {
    let numbers: Vec<usize> = (first..first + count).collect();
    for batch in numbers.chunks(BATCH) {
        let records = batch
            .iter()
            .map(|n| Record::Piece {
                id: handle.new_piece_id(),
                zone: zone(),
                piece: Some(piece(*n, color)),
            })
            .collect();
        let edited = handle.edit(&lobby(), records)?;
        if let Some(refused) = edited.refused {
            return Err(refused.to_string().into());
        }
    }
    Ok(())
}

async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) -> Result<(), Error> {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

fn hash(handle: &WorldHandle) -> Option<[u8; 32]> {
    handle.build()?.state(&lobby()).map(|state| state.hash)
}

async fn converge(peers: usize, pieces: usize) -> Result<(), Error> {
    let mut nodes = Vec::new();
    for seed in 0..peers {
        nodes.push(Node::spawn(NodeConfig::loopback(Keypair::from_bytes(&[seed as u8 + 1; 32]))).await?);
    }
    let limit = (peers * pieces * 2) as u32;
    let root = std::env::temp_dir().join(format!("sanctuary-build-converge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let folder = |i: usize| Some(root.join(format!("p{i}")));
    let world = WorldId::random()?;
    let host = nodes[0]
        .join_world_with(
            JoinTarget::host(world),
            presence("host")?,
            config(limit, folder(0)),
        )
        .await?;
    let ticket = host.ticket();
    let mut handles = vec![host];
    for (i, node) in nodes.iter().enumerate().skip(1) {
        handles.push(
            node.join_world_with(&ticket, presence(&format!("p{i}"))?, config(limit, folder(i)))
                .await?,
        );
    }
    wait_until("everyone to see everyone", Duration::from_secs(60), || {
        handles.iter().all(|handle| handle.peers().len() == peers - 1)
    })
    .await?;
    // The cut: the second half leaves, keeping their documents (their build handles).
    let away: Vec<(usize, BuildHandle)> = (peers / 2..peers)
        .map(|i| (i, handles[i].build().unwrap_or_else(|| unreachable!("set up"))))
        .collect();
    let mut staying = Vec::new();
    for (i, handle) in handles.into_iter().enumerate() {
        if i < peers / 2 {
            staying.push(handle);
        } else {
            handle.leave().await?;
        }
    }
    // Both sides build while apart.
    for (n, handle) in staying.iter().enumerate() {
        let build_handle = handle.build().unwrap_or_else(|| unreachable!("set up"));
        build(&build_handle, n * pieces, pieces, Rgb { r: 200, g: 0, b: 0 })?;
    }
    for (n, (_, handle)) in away.iter().enumerate() {
        build(handle, (peers + n) * pieces, pieces, Rgb { r: 0, g: 0, b: 200 })?;
    }
    // They come back: each reads what it built while away from its folder.
    drop(away);
    let started = Instant::now();
    let mut all = staying;
    for (i, node) in nodes.iter().enumerate().skip(peers / 2) {
        all.push(
            node.join_world_with(&ticket, presence(&format!("p{i}"))?, config(limit, folder(i)))
                .await?,
        );
    }
    wait_until(
        "every peer to show the same document",
        Duration::from_secs(300),
        || {
            let first = hash(&all[0]);
            all.iter().all(|handle| hash(handle) == first)
        },
    )
    .await?;
    let healed = started.elapsed();
    let shown = all[0].build().map_or(0, |build| build.pieces(&lobby()).len());
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "converge: {peers} peers, {pieces} pieces each side per peer, {shown} pieces in the end: {:.0} ms from the return until every peer shows the same",
        healed.as_secs_f64() * 1000.0
    );
    Ok(())
}

fn folder_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| match entry.file_type() {
                    Ok(kind) if kind.is_dir() => folder_size(&entry.path()),
                    _ => entry.metadata().map_or(0, |meta| meta.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn load(pieces: usize) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("sanctuary-build-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
    let world = WorldId::random()?;
    let made = Instant::now();
    let handle = node
        .join_world_with(
            JoinTarget::host(world),
            presence("host")?,
            quiet(pieces, dir.clone()),
        )
        .await?;
    build(
        &handle.build().unwrap_or_else(|| unreachable!("set up")),
        0,
        pieces,
        Rgb { r: 90, g: 90, b: 90 },
    )?;
    let building = made.elapsed();
    handle.leave().await?;
    let bytes = folder_size(&dir);
    let opened = Instant::now();
    let again = node
        .join_world_with(
            JoinTarget::host(world),
            presence("host")?,
            quiet(pieces, dir.clone()),
        )
        .await?;
    let shown = again.build().map_or(0, |build| build.pieces(&lobby()).len());
    let load = opened.elapsed();
    let hashed = Instant::now();
    let _ = hash(&again);
    let hashing = hashed.elapsed();
    println!(
        "load: {pieces} pieces: {:.2} MiB on disk ({:.0} bytes a piece); made in {:.2} s; opened again (read, decode, checked, shown) in {:.0} ms; hash in {:.0} ms; {shown} shown",
        bytes as f64 / (1024.0 * 1024.0),
        bytes as f64 / pieces.max(1) as f64,
        building.as_secs_f64(),
        load.as_secs_f64() * 1000.0,
        hashing.as_secs_f64() * 1000.0,
    );
    again.leave().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn fill(data_dir: PathBuf, pieces: usize) -> Result<(), Error> {
    let (world, _) = sanctuary_net::data_dir::hosted_world(&data_dir)?;
    let node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
    let handle = node
        .join_world_with(
            JoinTarget::host(world),
            presence("filler")?,
            quiet(pieces, data_dir.join("build")),
        )
        .await?;
    let build_handle = handle.build().unwrap_or_else(|| unreachable!("set up"));
    let palette = [
        Rgb { r: 176, g: 92, b: 58 },
        Rgb { r: 92, g: 150, b: 88 },
        Rgb {
            r: 70,
            g: 120,
            b: 190,
        },
    ];
    let mut placed = 0;
    while placed < pieces {
        let count = BATCH.min(pieces - placed);
        build(
            &build_handle,
            placed,
            count,
            palette[(placed / BATCH) % palette.len()],
        )?;
        placed += count;
    }
    println!("fill: {placed} pieces in the lobby of world {world}");
    handle.leave().await?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("converge") => converge(number(1, 3).max(2), number(2, 100)).await,
        Some("load") => load(number(1, 10_000)).await,
        Some("fill") => {
            let dir = args.get(1).ok_or("fill needs a data folder")?;
            fill(PathBuf::from(dir), number(2, 100_000)).await
        }
        _ => Err("usage: build converge PEERS PIECES | load PIECES | fill DATA_DIR PIECES".into()),
    }
}
