//! Helpers shared by the loopback tests: nodes, presences, and waiting with deadlines.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::time::{Duration, Instant};

use sanctuary_net::{Node, NodeConfig, WorldConfig, WorldEvent, WorldHandle};
use sanctuary_protocols::{AvatarShape, DisplayName, Keypair, Presence, Rgb, SpaceName};

/// Longest any single condition is waited for.
pub const DEADLINE: Duration = Duration::from_secs(20);

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The Unix time in milliseconds, for signing messages by hand.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn keypair(seed: u8) -> Keypair {
    Keypair::from_bytes(&[seed; 32])
}

pub async fn node(seed: u8) -> Node {
    Node::spawn(NodeConfig::loopback(keypair(seed)))
        .await
        .expect("node spawns")
}

pub fn space(name: &str) -> SpaceName {
    SpaceName::new(name).unwrap()
}

pub fn presence(name: &str, in_space: &str) -> Presence {
    Presence {
        name: DisplayName::new(name).unwrap(),
        color: Rgb { r: 10, g: 20, b: 30 },
        shape: AvatarShape::Capsule,
        space: space(in_space),
    }
}

/// Fast heartbeats, and a timeout long enough that only a real silence trips it.
pub fn fast(timeout: Duration) -> WorldConfig {
    WorldConfig {
        heartbeat: Duration::from_millis(150),
        timeout,
        ..WorldConfig::default()
    }
}

/// Reads events until one matches, or panics after [`DEADLINE`].
pub async fn wait_event(
    handle: &mut WorldHandle,
    what: &str,
    mut matches: impl FnMut(&WorldEvent) -> bool,
) -> WorldEvent {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, handle.events().recv()).await {
            Ok(Some(event)) if matches(&event) => return event,
            Ok(Some(_)) => {}
            Ok(None) => panic!("events closed while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

/// Reads events for `period` and returns them all.
pub async fn drain_for(handle: &mut WorldHandle, period: Duration) -> Vec<WorldEvent> {
    let deadline = tokio::time::Instant::now() + period;
    let mut events = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, handle.events().recv()).await {
        events.push(event);
    }
    events
}

/// Polls `condition` until it holds, or panics after [`DEADLINE`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every handle has `others` peers in its roster.
pub async fn wait_roster(handles: &[&WorldHandle], others: usize) {
    for (i, handle) in handles.iter().enumerate() {
        wait_until(&format!("roster of node {i} to reach {others}"), || {
            handle.peers().len() == others
        })
        .await;
    }
}

/// Waits until every handle has at least one neighbour in its current room.
pub async fn wait_room(handles: &[&WorldHandle]) {
    for (i, handle) in handles.iter().enumerate() {
        wait_until(&format!("node {i} to have room neighbours"), || {
            handle.neighbors().room > 0
        })
        .await;
    }
}

/// A host and two joiners (by ticket text), all in `lobby`, who all see each other.
pub async fn three_in_lobby(config: WorldConfig) -> ([Node; 3], [WorldHandle; 3]) {
    let nodes = [node(1).await, node(2).await, node(3).await];
    let world = sanctuary_net::WorldId::random().unwrap();
    let a = nodes[0]
        .join_world_with(
            sanctuary_net::JoinTarget::host(world),
            presence("Ada", "lobby"),
            config.clone(),
        )
        .await
        .unwrap();
    let text = a.ticket().to_string();
    let ticket: sanctuary_net::WorldTicket = text.parse().unwrap();
    let b = nodes[1]
        .join_world_with(&ticket, presence("Bo", "lobby"), config.clone())
        .await
        .unwrap();
    let c = nodes[2]
        .join_world_with(&ticket, presence("Cy", "lobby"), config)
        .await
        .unwrap();
    wait_roster(&[&a, &b, &c], 2).await;
    wait_room(&[&a, &b, &c]).await;
    (nodes, [a, b, c])
}
