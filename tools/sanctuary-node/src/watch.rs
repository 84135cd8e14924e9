//! The watcher: one silent observer per space, printing what happens as JSON lines. It
//! never announces itself, so nobody lists it as a person; it hears presence, chat and
//! the poses everyone sends on their room's topic about once a second, and which app
//! sent a message (not its content).

use sanctuary_net::{LeaveReason, NearbyWorld, WorldConfig, WorldEvent, WorldTicket};
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::text::{DisplayName, SpaceName};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Poses of one peer are printed at most this often.
const POSE_EVERY: Duration = Duration::from_secs(1);

/// Prints the world found on the local network (with `--lan`) as a `nearby` line.
pub fn print_nearby(world: &NearbyWorld) -> anyhow::Result<()> {
    let line = json!({
        "event": "nearby",
        "world": world.world.to_string(),
        "peer": world.host.to_string(),
        "name": world.host_name.as_str(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    Ok(())
}

/// Watches `spaces` of the world until `seconds` pass (or forever).
pub async fn run(
    ticket: WorldTicket,
    spaces: Vec<String>,
    bind: Option<SocketAddr>,
    seconds: Option<u64>,
) -> anyhow::Result<()> {
    let (events_tx, mut events) = tokio::sync::mpsc::channel::<(String, WorldEvent)>(4096);
    let mut watchers = HashSet::new();
    let mut handles = Vec::new();
    for space in &spaces {
        let node = crate::node(bind).await?;
        watchers.insert(node.peer_id());
        let presence = Presence {
            name: DisplayName::new("watcher")?,
            color: Rgb { r: 90, g: 90, b: 90 },
            shape: AvatarShape::Sphere,
            space: SpaceName::new(space.clone())?,
        };
        let observer = WorldConfig {
            observer: true,
            ..WorldConfig::default()
        };
        let mut world = node.join_world_with(&ticket, presence, observer).await?;
        let mut incoming = world.take_events();
        let forward = events_tx.clone();
        let space = space.clone();
        tokio::spawn(async move {
            while let Some(event) = incoming.recv().await {
                if forward.send((space.clone(), event)).await.is_err() {
                    break;
                }
            }
        });
        handles.push((node, world));
    }
    drop(events_tx);
    let printing = async {
        let mut present: HashMap<PeerId, String> = HashMap::new();
        let mut last_pose: HashMap<PeerId, Instant> = HashMap::new();
        while let Some((space, event)) = events.recv().await {
            let line = match event {
                WorldEvent::Joined { peer, presence } | WorldEvent::PresenceChanged { peer, presence } => {
                    if watchers.contains(&peer) {
                        continue;
                    }
                    let space = presence.space.as_str().to_owned();
                    if present.insert(peer, space.clone()).is_some() {
                        continue;
                    }
                    json!({"event": "joined", "peer": peer.to_string(), "name": presence.name.as_str(), "space": space})
                }
                WorldEvent::Left { peer, reason } => {
                    if present.remove(&peer).is_none() {
                        continue;
                    }
                    let reason = match reason {
                        LeaveReason::Leave => "leave",
                        LeaveReason::TimedOut => "timeout",
                    };
                    json!({"event": "left", "peer": peer.to_string(), "reason": reason})
                }
                WorldEvent::Chat { peer, space, text } => {
                    json!({"event": "chat", "peer": peer.to_string(), "space": space.as_str(), "text": text.as_str()})
                }
                WorldEvent::Direct { peer, text } => {
                    json!({"event": "direct", "peer": peer.to_string(), "text": text.as_str()})
                }
                WorldEvent::Pose { peer, pose, .. } => {
                    let now = Instant::now();
                    if last_pose.get(&peer).is_some_and(|last| now - *last < POSE_EVERY) {
                        continue;
                    }
                    last_pose.insert(peer, now);
                    json!({"event": "pose", "peer": peer.to_string(), "space": space, "position": pose.position, "yaw": pose.yaw})
                }
                // App messages travel on the world topic, so every watcher hears them: the
                // first space's watcher reports them.
                WorldEvent::App { peer, message, .. } => {
                    if spaces.first() != Some(&space) {
                        continue;
                    }
                    json!({"event": "app", "peer": peer.to_string(), "app": message.app.as_str(), "bytes": message.payload.as_bytes().len()})
                }
                // A watcher stands nowhere: nobody's voice is sent to it.
                WorldEvent::Voice { .. } | WorldEvent::VoiceReport { .. } => continue,
                WorldEvent::Full { capacity } => {
                    json!({"event": "full", "capacity": capacity})
                }
                WorldEvent::Rejected { peer, reason } => {
                    json!({"event": "rejected", "peer": peer.map(|peer| peer.to_string()), "reason": format!("{reason:?}")})
                }
            };
            let mut stdout = std::io::stdout().lock();
            if writeln!(stdout, "{line}").and_then(|()| stdout.flush()).is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = printing => {}
        _ = crate::until_done(seconds) => {}
    }
    for (node, world) in handles {
        world.leave().await.ok();
        node.shutdown().await;
    }
    Ok(())
}
