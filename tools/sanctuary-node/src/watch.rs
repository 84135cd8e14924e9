//! The watcher: one silent observer per space, printing what happens as JSON lines. It
//! never announces itself, so nobody lists it as a person; it hears presence, chat and
//! the poses everyone sends on their room's topic about once a second, and which app
//! sent a message (not its content).
//!
//! It also keeps each space's building document in memory, fetched from the peers like
//! anyone's, and reports building in plain lines (not JSON: they start with `build`, so a
//! reader of the JSON skips every line that does not start with `{`):
//! - `build: <space> <n> pieces changed` when edits or a sync changed pieces;
//! - `build-hash: <space> <64 hex> <pieces shown> <records>` every `--hash-every` seconds
//!   and whenever a line `hash` is read on stdin, so that anyone can check from outside
//!   that peers converged (compare with what `build-doc` says of their folders).
//!
//! Earlier chat told by a peer that was in the space before the watcher came is printed
//! as `earlier-chat` (with the author's name when it came, and when they said it).

use sanctuary_net::{
    BuildHandle, BuildSetup, LeaveReason, NearbyWorld, WorldConfig, WorldEvent, WorldTicket,
};
use sanctuary_protocols::build::BuildRules;
use sanctuary_protocols::identity::PeerId;
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::text::{DisplayName, SpaceName};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::building::{hash_line, say};

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

/// What [`run`] watches.
pub struct Watch {
    /// The world.
    pub ticket: WorldTicket,
    /// Its spaces to watch.
    pub spaces: Vec<String>,
    /// The address the watchers' nodes listen on.
    pub bind: Option<SocketAddr>,
    /// Stop after this many seconds (or on Ctrl-C).
    pub seconds: Option<u64>,
    /// Every space's building rules.
    pub rules: BTreeMap<SpaceName, BuildRules>,
    /// Print what we hold of each document this often (seconds; 0: only when asked).
    pub hash_every: u64,
}

/// Watches `spaces` of the world until `seconds` pass (or forever).
pub async fn run(watch: Watch) -> anyhow::Result<()> {
    let Watch {
        ticket,
        spaces,
        bind,
        seconds,
        rules,
        hash_every,
    } = watch;
    let (events_tx, mut events) = tokio::sync::mpsc::channel::<(String, WorldEvent)>(4096);
    let mut watchers = HashSet::new();
    let mut handles = Vec::new();
    // Each space's document, kept by the watcher in that space.
    let mut documents: Vec<(SpaceName, BuildHandle)> = Vec::new();
    for space in &spaces {
        let node = crate::node(bind).await?;
        watchers.insert(node.peer_id());
        let presence = Presence {
            name: DisplayName::new("watcher")?,
            color: Rgb { r: 90, g: 90, b: 90 },
            shape: AvatarShape::Sphere,
            space: SpaceName::new(space.clone())?,
        };
        let space_name = presence.space.clone();
        let observer = WorldConfig {
            observer: true,
            build: Some(BuildSetup {
                rules: rules.clone(),
                folder: None,
                state_every: None,
            }),
            ..WorldConfig::default()
        };
        let mut world = node.join_world_with(&ticket, presence, observer).await?;
        if rules.contains_key(&space_name)
            && let Some(build) = world.build()
        {
            documents.push((space_name, build));
        }
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
    let asked = hash_requests();
    let printing = async {
        let mut present: HashMap<PeerId, String> = HashMap::new();
        let mut last_pose: HashMap<PeerId, Instant> = HashMap::new();
        let mut asked = Some(asked);
        let mut hashes = (hash_every > 0).then(|| {
            let mut every = tokio::time::interval(Duration::from_secs(hash_every));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every
        });
        loop {
            let next = tokio::select! {
                next = events.recv() => next,
                _ = tick(&mut hashes) => {
                    print_hashes(&documents);
                    continue;
                }
                request = request(&mut asked) => {
                    match request {
                        Some(()) => print_hashes(&documents),
                        None => asked = None,
                    }
                    continue;
                }
            };
            let Some((space, event)) = next else {
                break;
            };
            let line = match event {
                WorldEvent::Build { space, changed } => {
                    say(&format!("build: {space} {} pieces changed", changed.len()));
                    continue;
                }
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
                WorldEvent::EarlierChat {
                    peer,
                    name,
                    space,
                    text,
                    said_ms,
                } => {
                    json!({"event": "earlier-chat", "peer": peer.to_string(), "name": name.map(|name| name.as_str().to_owned()), "space": space.as_str(), "text": text.as_str(), "said_ms": said_ms})
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

/// Prints a `build-hash:` line for each space whose document we keep.
fn print_hashes(documents: &[(SpaceName, BuildHandle)]) {
    for (space, build) in documents {
        if let Some(line) = hash_line(build, space) {
            say(&line);
        }
    }
}

/// The next tick, or never without a ticker.
async fn tick(ticker: &mut Option<tokio::time::Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The next request on stdin; `None` once it is closed, and never after.
async fn request(asked: &mut Option<tokio::sync::mpsc::Receiver<()>>) -> Option<()> {
    match asked {
        Some(asked) => asked.recv().await,
        None => std::future::pending().await,
    }
}

/// Each line `hash` read on stdin, from a thread of its own (reading stdin blocks).
fn hash_requests() -> tokio::sync::mpsc::Receiver<()> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else {
                break;
            };
            if line.trim() == "hash" && tx.blocking_send(()).is_err() {
                break;
            }
        }
    });
    rx
}
