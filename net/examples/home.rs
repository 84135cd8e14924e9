//! Home node benchmarks (BENCHMARKS.md, "Personal server"), all in one process on loopback:
//!
//! - `deliver N POSTS`: one person's node and N friends' nodes; the time from each post's
//!   acknowledgement until every friend's node holds it (the outbox delivering to N nodes).
//! - `store POSTS`: one node takes POSTS posts from its device; the database's size on
//!   disk and the process's resident memory before and after, and the time per post
//!   (each one committed to disk before it is acknowledged).
//!
//! Run with `cargo run -p sanctuary-net --example home -- deliver 10 20` (or
//! `scripts/bench-home.sh`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sanctuary_net::{Home, HomeConnection, HomeEvent, Node, NodeConfig, Storage};
use sanctuary_protocols::Keypair;
use sanctuary_protocols::home::{Audience, Request, Response};

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn home_node(dir: &Path) -> Result<(Node, Home), Error> {
    let keypair = Keypair::generate()?;
    let (storage, _) = Storage::open(&dir.join("storage"), 1 << 30).await?;
    let home = Home::open(&dir.join("home"), keypair.clone(), storage.clone())?;
    let mut config = NodeConfig::loopback(keypair);
    config.storage = Some(storage);
    config.home = Some(home.clone());
    Ok((Node::spawn(config).await?, home))
}

async fn paired(home: &Home) -> Result<(Node, HomeConnection), Error> {
    let device = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
    let connection = device.connect_home(&home.address().expect("attached")).await?;
    let (code, _) = home.pairing_code()?;
    connection
        .ask_ok(&Request::Pair {
            code,
            device_name: "bench".into(),
        })
        .await?;
    Ok((device, connection))
}

fn post(text: String) -> Request {
    Request::Post {
        text,
        audience: Audience::Friends,
        pictures: Vec::new(),
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn deliver(root: &Path, friends: usize, posts: usize) -> Result<(), Error> {
    let (_node, author) = home_node(&root.join("author")).await?;
    let (_device, device) = paired(&author).await?;
    let mut readers = Vec::new();
    for n in 0..friends {
        let (node, home) = home_node(&root.join(format!("friend-{n}"))).await?;
        let (friend_device, connection) = paired(&home).await?;
        device
            .ask_ok(&Request::AddFriend {
                address: home.address().expect("attached"),
            })
            .await?;
        connection
            .ask_ok(&Request::AcceptFriend { node: author.id() })
            .await?;
        readers.push((node, home, friend_device));
    }
    // Each friend's node says when an item arrives (after it is committed there).
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    for (_, home, _) in &readers {
        let mut events = home.events();
        let arrived_tx = arrived_tx.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let HomeEvent::Received { item, .. } = event
                    && arrived_tx.send(item).is_err()
                {
                    break;
                }
            }
        });
    }
    let mut times = Vec::new();
    for n in 0..posts {
        let start = Instant::now();
        let Response::Posted(id) = device.ask_ok(&post(format!("post {n}"))).await? else {
            return Err("not posted".into());
        };
        let mut held = 0;
        while held < friends {
            match tokio::time::timeout(Duration::from_secs(120), arrived.recv()).await {
                Ok(Some(item)) if item == id => held += 1,
                Ok(Some(_)) => {}
                _ => return Err(format!("post {n} reached only {held} of {friends}").into()),
            }
        }
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "deliver: {friends} friends' nodes, {posts} posts: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms (post acknowledged to held by every friend's node)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.9).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    Ok(())
}

async fn store(root: &Path, posts: usize) -> Result<(), Error> {
    let (_node, home) = home_node(&root.join("node")).await?;
    let (_device, device) = paired(&home).await?;
    let rss_before = rss_kib();
    let start = Instant::now();
    for n in 0..posts {
        device
            .ask_ok(&post(format!(
                "post number {n}: a line of text such as people write"
            )))
            .await?;
    }
    let elapsed = start.elapsed();
    let disk = std::fs::metadata(root.join("node/home/home.redb"))?.len();
    println!(
        "store: {posts} posts in {:.1} s ({:.2} ms each, committed before acknowledged); database {:.1} MiB ({} bytes a post); resident memory {:.1} MiB before, {:.1} MiB after",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e3 / posts as f64,
        disk as f64 / (1 << 20) as f64,
        disk / posts as u64,
        rss_before as f64 / 1024.0,
        rss_kib() as f64 / 1024.0,
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root: PathBuf = std::env::temp_dir().join(format!("sanctuary-home-bench-{}", std::process::id()));
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let result = match args.first().map(String::as_str) {
        Some("deliver") => deliver(&root, number(1, 10), number(2, 20)).await,
        Some("store") => store(&root, number(1, 10_000)).await,
        _ => Err("usage: home deliver FRIENDS POSTS | home store POSTS".into()),
    };
    let _ = std::fs::remove_dir_all(&root);
    result
}
