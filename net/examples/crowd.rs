//! Benchmark: what a crowd of fake identities costs a room, on loopback in one process.
//!
//! ```sh
//! cargo run -p sanctuary-net --example crowd -- [PEERS] [IDENTITIES]
//! ```
//!
//! 1. Messages per join: PEERS honest peers, then one newcomer; counts the gossip
//!    messages the honest peers broadcast because of the join, when everyone answers a
//!    hello (how rooms behaved before) and when only a few do.
//! 2. A crowd: one hostile peer announces IDENTITIES fresh identities as fast as it can
//!    while an honest peer chats and walks; reports how much honest traffic arrived, the
//!    rosters and checking state kept, the refusals, and the process's memory growth.

use std::time::{Duration, Instant};

use sanctuary_net::{
    JoinTarget, Node, NodeConfig, RawTopic, RejectReason, WorldConfig, WorldEvent, WorldHandle, WorldId,
};
use sanctuary_protocols::{
    AvatarShape, Body, ChatText, Context, DisplayName, Keypair, PoseSample, Presence, Rgb, SignedEnvelope,
    SpaceName,
};

type Error = Box<dyn std::error::Error>;

fn presence(name: &str) -> Result<Presence, Error> {
    Ok(Presence {
        name: DisplayName::new(name)?,
        color: Rgb { r: 10, g: 20, b: 30 },
        shape: AvatarShape::Capsule,
        space: SpaceName::new("lobby")?,
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) -> Result<(), Error> {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// `count` honest peers in one world, all seeing each other.
async fn room(count: usize, config: WorldConfig) -> Result<(Vec<Node>, Vec<WorldHandle>), Error> {
    let mut nodes = Vec::new();
    let mut handles: Vec<WorldHandle> = Vec::new();
    let world = WorldId::random()?;
    for i in 0..count {
        let node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
        let target = match handles.first() {
            None => JoinTarget::host(world),
            Some(first) => JoinTarget::from(first.ticket()),
        };
        handles.push(
            node.join_world_with(target, presence(&format!("peer{i}"))?, config.clone())
                .await?,
        );
        nodes.push(node);
    }
    for handle in &handles {
        wait_until("the room to form", Duration::from_secs(60), || {
            handle.peers().len() + 1 == count
        })
        .await?;
    }
    Ok((nodes, handles))
}

async fn messages_per_join(peers: usize, responders: usize) -> Result<f64, Error> {
    // Heartbeats far apart, so that only the join makes traffic while we count.
    let config = WorldConfig {
        heartbeat: Duration::from_secs(60),
        timeout: Duration::from_secs(120),
        hello_responders: responders,
        ..WorldConfig::default()
    };
    let (nodes, handles) = room(peers, config.clone()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before: u64 = handles.iter().map(WorldHandle::messages_sent).sum();
    let newcomer_node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
    let newcomer = newcomer_node
        .join_world_with(handles[0].ticket(), presence("newcomer")?, config.clone())
        .await?;
    for handle in &handles {
        wait_until("everyone to see the newcomer", Duration::from_secs(30), || {
            handle.peers().len() == peers
        })
        .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after: u64 = handles.iter().map(WorldHandle::messages_sent).sum();
    drop(newcomer);
    for node in nodes.iter().chain([&newcomer_node]) {
        node.shutdown().await;
    }
    Ok((after - before) as f64)
}

async fn crowd(peers: usize, identities: usize) -> Result<(), Error> {
    let config = WorldConfig::default();
    let (nodes, mut handles) = room(peers, config.clone()).await?;
    let hostile_node = Node::spawn(NodeConfig::loopback(Keypair::generate()?)).await?;
    let hostile = hostile_node
        .join_world_with(handles[0].ticket(), presence("hostile")?, config.clone())
        .await?;
    for handle in &handles {
        wait_until("the hostile peer to be listed", Duration::from_secs(30), || {
            handle.peers().len() == peers
        })
        .await?;
    }
    let rss_before = rss_mib();
    let world = Context::world(handles[0].world());
    let started = Instant::now();
    let flood = async {
        let now = unix_ms();
        for i in 0..identities {
            let fake = Keypair::generate()?;
            let hello = Body::Hello(presence(&format!("fake{i}"))?);
            let bytes = SignedEnvelope::sign(&fake, &world, now, now, hello).encode();
            hostile.broadcast_raw(RawTopic::World, bytes).await?;
        }
        Ok::<Duration, Error>(started.elapsed())
    };
    let (talker, rest) = handles.split_at_mut(1);
    let (talker, listener) = (&talker[0], &mut rest[0]);
    let honest = async {
        let mut x = 0.0f32;
        for i in 0..100 {
            x += 0.02;
            talker.send_pose(PoseSample {
                position: [x, 0.0, 0.0],
                ..PoseSample::default()
            })?;
            if i % 5 == 0 {
                talker.send_chat(ChatText::new(format!("line {i}"))?).await?;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        Ok::<(), Error>(())
    };
    let talker_id = nodes[0].peer_id();
    let listening = async {
        let (mut chats, mut poses) = (0usize, 0usize);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
        while let Ok(Some(event)) = tokio::time::timeout_at(deadline, listener.events().recv()).await {
            match event {
                WorldEvent::Chat { peer, .. } if peer == talker_id => chats += 1,
                WorldEvent::Pose { peer, .. } if peer == talker_id => poses += 1,
                _ => {}
            }
        }
        (chats, poses)
    };
    let (flood_time, honest_sent, (chats, poses)) = tokio::join!(flood, honest, listening);
    let flood_time = flood_time?;
    honest_sent?;
    let rss_after = rss_mib();
    println!(
        "crowd: {identities} identities announced in {:.1} s through one connection into a room of {peers}",
        flood_time.as_secs_f64()
    );
    println!(
        "crowd: honest chat kept {chats}/20 lines, poses {poses} of 100 sent, as heard by another honest peer"
    );
    for (i, handle) in handles.iter().enumerate() {
        let counters = handle.counters();
        println!(
            "crowd: peer {i}: roster {} (cap {}), refused as full {}, checking state for {} authors, flood-dropped {}, overflow {}",
            handle.peers().len(),
            config.roster_capacity,
            handle.refused_full(),
            handle.tracked_peers(),
            counters.rejected(RejectReason::Flood),
            counters.rejected(RejectReason::Overflow),
        );
    }
    println!(
        "crowd: process memory {rss_before:.0} MiB -> {rss_after:.0} MiB ({:.2} MiB per honest peer)",
        (rss_after - rss_before) / peers as f64
    );
    drop(hostile);
    for node in nodes.iter().chain([&hostile_node]) {
        node.shutdown().await;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let peers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let identities: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2000);
    let everyone = messages_per_join(peers, usize::MAX).await?;
    let few = messages_per_join(peers, sanctuary_protocols::limits::HELLO_RESPONDERS).await?;
    println!("messages per join, room of {peers}: everyone answers {everyone:.0}, a few answer {few:.0}");
    crowd(peers, identities).await
}
