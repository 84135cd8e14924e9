//! A world on a thread of its own: the loop a client runs to be in a world, driven through
//! channels so that the caller (the game's frame loop) never waits on the network.
//!
//! [`start`] spawns a thread with a small tokio runtime that starts the node, joins or
//! hosts the world, and then moves [`SessionCommand`]s in and [`SessionEvent`]s out. Our
//! pose goes through a watch channel (newest wins) and is sent at most every
//! [`POSE_INTERVAL`]. Nothing in the loop waits on another peer: private messages are sent
//! by their own tasks (at most [`DIRECTS_IN_FLIGHT`] at once), so a message to a peer that
//! vanished cannot hold up everyone's poses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sanctuary_protocols::{
    AppMessage, ChatText, Keypair, PeerId, PoseSample, Presence, SpaceName, WorldId, WorldTicket,
};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::{JoinTarget, Node, NodeConfig, RelayChoice, WorldConfig, WorldEvent};

/// How often our pose goes out, at most.
pub const POSE_INTERVAL: Duration = Duration::from_millis(33);
/// How often the rejection count is reported when it changed.
const COUNTERS_INTERVAL: Duration = Duration::from_secs(10);
/// Most private messages being sent at once.
pub const DIRECTS_IN_FLIGHT: usize = 16;

/// Who a chat message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatTo {
    /// Everyone in our space.
    Room,
    /// One person, privately.
    Direct(PeerId),
}

/// What the caller asks of the session.
#[derive(Debug)]
pub enum SessionCommand {
    /// We walked into another space.
    EnterSpace(SpaceName),
    /// Say something.
    Chat(ChatTo, ChatText),
    /// An app's message to its copies on the other peers.
    App(AppMessage),
    /// The person changed their name, colour or shape.
    Profile(Presence),
    /// Say goodbye and stop.
    Leave,
}

/// What the session tells the caller.
#[derive(Debug)]
pub enum SessionEvent {
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
    /// A private message could not be delivered.
    DirectFailed {
        /// To whom.
        peer: PeerId,
        /// Why, in words.
        error: String,
    },
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

/// Everything the session needs.
#[derive(Debug)]
pub struct SessionConfig {
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
    /// Timings and limits of the world.
    pub world: WorldConfig,
}

/// The caller's ends of the channels.
#[derive(Debug)]
pub struct SessionHandle {
    /// Commands to the session.
    pub commands: mpsc::Sender<SessionCommand>,
    /// Our newest pose; the session sends it at its own pace.
    pub pose: watch::Sender<Option<PoseSample>>,
    /// Events from the session.
    pub events: mpsc::Receiver<SessionEvent>,
    /// Signals when the thread has finished (after saying goodbye).
    pub finished: std::sync::mpsc::Receiver<()>,
}

/// Starts the session's thread.
pub fn start(config: SessionConfig) -> std::io::Result<SessionHandle> {
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
                        .try_send(SessionEvent::Failed(format!(
                            "cannot start the network runtime: {error}"
                        )))
                        .ok();
                    return;
                }
            };
            runtime.block_on(run(config, commands_rx, pose_rx, events_tx));
            finished_tx.send(()).ok();
        })?;
    Ok(SessionHandle {
        commands: commands_tx,
        pose: pose_tx,
        events: events_rx,
        finished: finished_rx,
    })
}

async fn run(
    config: SessionConfig,
    mut commands: mpsc::Receiver<SessionCommand>,
    mut pose: watch::Receiver<Option<PoseSample>>,
    events: mpsc::Sender<SessionEvent>,
) {
    let fail = |error: String| {
        let events = events.clone();
        async move {
            tracing::error!("network: {error}");
            events.send(SessionEvent::Failed(error)).await.ok();
        }
    };
    let node = match Node::spawn(NodeConfig {
        keypair: config.keypair,
        relay: config.relay.map_or(RelayChoice::Disabled, RelayChoice::Url),
        local_discovery: config.local_discovery,
        bind_addr: config.bind_addr,
        gossip_neighbours: None,
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
    let mut world = match node.join_world_with(target, config.presence, config.world).await {
        Ok(world) => world,
        Err(error) => return fail(format!("cannot enter the world: {error}")).await,
    };
    let ready = SessionEvent::Ready {
        ticket: world.ticket().to_string(),
        me: node.peer_id(),
    };
    if events.send(ready).await.is_err() {
        return;
    }
    let directs = world.direct_sender();
    let in_flight = Arc::new(Semaphore::new(DIRECTS_IN_FLIGHT));
    let mut world_events = world.take_events();
    let mut pose_tick = tokio::time::interval(POSE_INTERVAL);
    pose_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut counters_tick = tokio::time::interval(COUNTERS_INTERVAL);
    let mut reported_rejections = 0;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(SessionCommand::Leave) => break,
                Some(SessionCommand::EnterSpace(space)) => {
                    if let Err(error) = world.enter_space(space).await {
                        tracing::warn!("network: cannot move to the new space's room: {error}");
                    }
                }
                Some(SessionCommand::Profile(presence)) => {
                    if let Err(error) = world.update_profile(presence.name, presence.color, presence.shape).await {
                        tracing::warn!("network: new profile not announced: {error}");
                    }
                }
                Some(SessionCommand::Chat(ChatTo::Room, text)) => {
                    if let Err(error) = world.send_chat(text).await {
                        tracing::warn!("network: chat not sent: {error}");
                    }
                }
                Some(SessionCommand::App(message)) => {
                    if let Err(error) = world.send_app(message).await {
                        tracing::warn!("network: app message not sent: {error}");
                    }
                }
                Some(SessionCommand::Chat(ChatTo::Direct(peer), text)) => {
                    send_direct(&directs, &in_flight, &events, peer, text);
                }
            },
            event = world_events.recv() => {
                let Some(event) = event else { break };
                let sent = match event {
                    // Poses are many and only the newest matters: drop under pressure.
                    WorldEvent::Pose { .. } => events.try_send(SessionEvent::World(event)).is_ok()
                        || !events.is_closed(),
                    other => events.send(SessionEvent::World(other)).await.is_ok(),
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
                    tracing::info!("network: {} accepted, {rejected} rejected: {:?}", counters.accepted, counters.rejected);
                    events.try_send(SessionEvent::Rejected(rejected)).ok();
                }
            }
        }
    }
    if let Err(error) = world.leave().await {
        tracing::debug!("network: goodbye not sent: {error}");
    }
    node.shutdown().await;
}

/// Sends a private message in its own task, or reports at once that too many are waiting.
fn send_direct(
    directs: &crate::DirectSender,
    in_flight: &Arc<Semaphore>,
    events: &mpsc::Sender<SessionEvent>,
    peer: PeerId,
    text: ChatText,
) {
    let Ok(permit) = in_flight.clone().try_acquire_owned() else {
        events
            .try_send(SessionEvent::DirectFailed {
                peer,
                error: "too many private messages are still on their way".into(),
            })
            .ok();
        return;
    };
    let directs = directs.clone();
    let events = events.clone();
    tokio::spawn(async move {
        let result = directs.send(peer, text).await;
        drop(permit);
        if let Err(error) = result {
            tracing::warn!("network: private message to {peer} not sent: {error}");
            events
                .send(SessionEvent::DirectFailed {
                    peer,
                    error: error.to_string(),
                })
                .await
                .ok();
        }
    });
}
