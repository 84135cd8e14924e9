//! The network thread: a tokio runtime that owns the node and the world, fed by
//! commands from the game and feeding events back.

use crate::chat::ChatTarget;
use sanctuary_net::{JoinTarget, Node, NodeConfig, RelayChoice, WorldEvent, WorldId, WorldTicket};
use sanctuary_protocols::identity::{Keypair, PeerId};
use sanctuary_protocols::message::Presence;
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::text::{ChatText, SpaceName};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often our pose goes out, at most.
const POSE_INTERVAL: Duration = Duration::from_millis(33);
/// How often the counters are logged when they changed.
const COUNTERS_INTERVAL: Duration = Duration::from_secs(10);

/// What the game asks of the network.
#[derive(Debug)]
pub enum NetCommand {
    /// We walked into another space.
    EnterSpace(SpaceName),
    /// Say something.
    Chat(ChatTarget, ChatText),
    /// The person changed their name, colour or shape.
    Profile(Presence),
    /// Say goodbye and stop.
    Leave,
}

/// What the network tells the game.
#[derive(Debug)]
pub enum BridgeEvent {
    /// In the world; others join with this ticket.
    Ready {
        /// The ticket text.
        ticket: String,
        /// Our id.
        me: PeerId,
    },
    /// Something happened in the world.
    World(WorldEvent),
    /// A running count of rejected input, for the status line.
    Rejected(u64),
    /// The network could not start or failed; the world goes on offline.
    Failed(String),
}

/// How to connect.
#[derive(Debug, Clone)]
pub enum Connect {
    /// Start a new world.
    Host,
    /// Join the world of this ticket.
    Join(WorldTicket),
}

/// Everything the network thread needs.
pub struct RuntimeConfig {
    /// The person's key.
    pub keypair: Keypair,
    /// Their presence at start.
    pub presence: Presence,
    /// Host or join.
    pub connect: Connect,
    /// A self-hosted relay, if any.
    pub relay: Option<String>,
    /// Find peers on the local network.
    pub local_discovery: bool,
    /// Where to bind; all interfaces on a random port when `None`.
    pub bind_addr: Option<SocketAddr>,
}

/// The game's ends of the channels, and the thread.
pub struct RuntimeHandle {
    /// Commands to the network.
    pub commands: mpsc::Sender<NetCommand>,
    /// Our newest pose; the network sends it at its own pace.
    pub pose: watch::Sender<Option<PoseSample>>,
    /// Events from the network.
    pub events: mpsc::Receiver<BridgeEvent>,
    /// Signals when the thread has finished (after saying goodbye).
    pub finished: std::sync::mpsc::Receiver<()>,
}

/// Starts the network thread.
pub fn start(config: RuntimeConfig) -> std::io::Result<RuntimeHandle> {
    let (commands_tx, commands_rx) = mpsc::channel(256);
    let (pose_tx, pose_rx) = watch::channel(None);
    let (events_tx, events_rx) = mpsc::channel(4096);
    let (finished_tx, finished_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sanctuary-net".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("sanctuary-net-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    events_tx
                        .try_send(BridgeEvent::Failed(format!(
                            "cannot start the network runtime: {error}"
                        )))
                        .ok();
                    return;
                }
            };
            runtime.block_on(run(config, commands_rx, pose_rx, events_tx));
            finished_tx.send(()).ok();
        })?;
    Ok(RuntimeHandle {
        commands: commands_tx,
        pose: pose_tx,
        events: events_rx,
        finished: finished_rx,
    })
}

async fn run(
    config: RuntimeConfig,
    mut commands: mpsc::Receiver<NetCommand>,
    mut pose: watch::Receiver<Option<PoseSample>>,
    events: mpsc::Sender<BridgeEvent>,
) {
    let fail = |error: String| {
        let events = events.clone();
        async move {
            tracing::error!("network: {error}");
            events.send(BridgeEvent::Failed(error)).await.ok();
        }
    };
    let node = match Node::spawn(NodeConfig {
        keypair: config.keypair,
        relay: config.relay.map_or(RelayChoice::Disabled, RelayChoice::Url),
        local_discovery: config.local_discovery,
        bind_addr: config.bind_addr,
    })
    .await
    {
        Ok(node) => node,
        Err(error) => return fail(format!("cannot start the network: {error}")).await,
    };
    let target = match config.connect {
        Connect::Host => match WorldId::random() {
            Ok(world) => JoinTarget::host(world),
            Err(error) => return fail(format!("cannot make a world id: {error}")).await,
        },
        Connect::Join(ticket) => JoinTarget::from(ticket),
    };
    let mut world = match node.join_world(target, config.presence).await {
        Ok(world) => world,
        Err(error) => return fail(format!("cannot enter the world: {error}")).await,
    };
    let ready = BridgeEvent::Ready {
        ticket: world.ticket().to_string(),
        me: node.peer_id(),
    };
    if events.send(ready).await.is_err() {
        return;
    }
    let mut world_events = world.take_events();
    let mut pose_tick = tokio::time::interval(POSE_INTERVAL);
    pose_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut counters_tick = tokio::time::interval(COUNTERS_INTERVAL);
    let mut reported_rejections = 0;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(NetCommand::Leave) => break,
                Some(NetCommand::EnterSpace(space)) => {
                    if let Err(error) = world.enter_space(space).await {
                        tracing::warn!("network: cannot move to the new space's room: {error}");
                    }
                }
                Some(NetCommand::Profile(presence)) => {
                    if let Err(error) = world.update_profile(presence.name, presence.color, presence.shape).await {
                        tracing::warn!("network: new profile not announced: {error}");
                    }
                }
                Some(NetCommand::Chat(ChatTarget::Room, text)) => {
                    if let Err(error) = world.send_chat(text).await {
                        tracing::warn!("network: chat not sent: {error}");
                    }
                }
                Some(NetCommand::Chat(ChatTarget::Direct(peer), text)) => {
                    if let Err(error) = world.send_direct(peer, text).await {
                        tracing::warn!("network: private message to {peer} not sent: {error}");
                    }
                }
            },
            event = world_events.recv() => {
                let Some(event) = event else { break };
                let sent = match event {
                    // Poses are many and only the newest matters: drop under pressure.
                    WorldEvent::Pose { .. } => events.try_send(BridgeEvent::World(event)).is_ok()
                        || !events.is_closed(),
                    other => events.send(BridgeEvent::World(other)).await.is_ok(),
                };
                if !sent {
                    break;
                }
            }
            _ = pose_tick.tick() => {
                if pose.has_changed().unwrap_or(false) {
                    let newest = *pose.borrow_and_update();
                    if let Some(sample) = newest
                        && let Err(error) = world.send_pose(sample)
                    {
                        tracing::debug!("network: pose not sent: {error}");
                    }
                }
            }
            _ = counters_tick.tick() => {
                let counters = world.counters();
                let rejected = counters.rejected_total();
                if rejected != reported_rejections {
                    reported_rejections = rejected;
                    tracing::warn!("network: {} accepted, {rejected} rejected: {:?}", counters.accepted, counters.rejected);
                    events.try_send(BridgeEvent::Rejected(rejected)).ok();
                }
            }
        }
    }
    if let Err(error) = world.leave().await {
        tracing::debug!("network: goodbye not sent: {error}");
    }
    node.shutdown().await;
}
