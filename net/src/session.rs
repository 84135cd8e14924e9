//! A world on a thread of its own: the loop a client runs to be in a world, driven through
//! channels so that the caller (the game's frame loop) never waits on the network.
//!
//! [`start`] spawns a thread with a small tokio runtime that starts the node, joins or
//! hosts the world (or, with [`Connect::Browse`], waits outside any world for a
//! [`SessionCommand::Join`]), and then moves [`SessionCommand`]s in and [`SessionEvent`]s
//! out. With local discovery, a host announces its world on the local network and every
//! session reports the worlds announced nearby ([`crate::nearby`]). Our
//! pose goes through a watch channel (newest wins) and is sent at most every
//! [`POSE_INTERVAL`]. Nothing in the loop waits on another peer: private messages are sent
//! by their own tasks (at most [`DIRECTS_IN_FLIGHT`] at once), so a message to a peer that
//! vanished cannot hold up everyone's poses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sanctuary_protocols::{
    AppMessage, ChatText, Keypair, PeerId, PoseSample, Presence, SpaceName, VoiceDatagram, WorldAnnouncement,
    WorldId, WorldTicket,
};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::nearby::{Nearby, NearbyWorld};
use crate::{DirectSender, JoinTarget, Node, NodeConfig, RelayChoice, WorldConfig, WorldEvent, WorldHandle};

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
    /// An app's message to its copy on one peer, privately (over a direct connection).
    AppTo(PeerId, AppMessage),
    /// The person changed their name, colour or shape.
    Profile(Presence),
    /// Enter the world of this ticket (e.g. [`NearbyWorld::ticket`]). Only while in no
    /// world yet ([`Connect::Browse`]); ignored, with a warning in the log, otherwise.
    Join(WorldTicket),
    /// Say goodbye and stop.
    Leave,
}

/// What the session tells the caller.
#[derive(Debug)]
pub enum SessionEvent {
    /// Online but in no world yet ([`Connect::Browse`]): waiting for a
    /// [`SessionCommand::Join`].
    Browsing {
        /// Our id.
        me: PeerId,
    },
    /// In the world; others join with this ticket.
    Ready {
        /// The ticket text.
        ticket: String,
        /// Our id.
        me: PeerId,
        /// The world we are in.
        world: WorldId,
    },
    /// The worlds announced on the local network changed; here they all are now, at most
    /// [`NEARBY_MAX`](crate::nearby::NEARBY_MAX). Only with local discovery.
    Nearby(Vec<NearbyWorld>),
    /// In the world: voice packets go out through this (from any thread).
    Voice(crate::VoiceSender),
    /// In a world where building is set up: how to read and edit its structures.
    Build(crate::BuildHandle),
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
    /// The network could not start or failed, or a world could not be entered; the world
    /// goes on offline.
    Failed(String),
}

/// How to connect.
#[derive(Debug, Clone)]
pub enum Connect {
    /// Start a new world.
    Host,
    /// Host this world again (one we hosted before): its id stays, so its tickets, and
    /// what peers built there, still belong to it.
    Reopen(WorldId),
    /// Join the world of this ticket.
    Join(WorldTicket),
    /// Start in no world and join one later with [`SessionCommand::Join`] (e.g. one
    /// announced nearby).
    Browse,
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
    /// Look peers up on the local network, announce a hosted world there, and report
    /// the worlds announced nearby.
    pub local_discovery: bool,
    /// Where to bind; all interfaces on a random port when `None`.
    pub bind_addr: Option<SocketAddr>,
    /// Timings and limits of the world.
    pub world: WorldConfig,
    /// The person's blob store, served and fetched into through the session's node.
    pub storage: Option<crate::Storage>,
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
    /// Voice from the world ([`WorldEvent::Voice`] and [`WorldEvent::VoiceReport`]), on a
    /// line of its own so that it reaches an audio thread without waiting on the caller's
    /// frame loop (which may run at a few frames a second). Lossy: when nobody reads it,
    /// it fills up to [`VOICE_QUEUE`] and drops the rest. `None` once taken.
    pub voice: Option<std::sync::mpsc::Receiver<(PeerId, VoiceDatagram)>>,
}

/// Most voice datagrams waiting in [`SessionHandle::voice`]: a second of 20 ms frames from
/// [`VOICE_LISTENERS_MAX`](sanctuary_protocols::limits::VOICE_LISTENERS_MAX) speakers, about.
pub const VOICE_QUEUE: usize = 1024;

/// Starts the session's thread.
pub fn start(config: SessionConfig) -> std::io::Result<SessionHandle> {
    let (commands_tx, commands_rx) = mpsc::channel(256);
    let (pose_tx, pose_rx) = watch::channel(None);
    let (events_tx, events_rx) = mpsc::channel(4096);
    let (finished_tx, finished_rx) = std::sync::mpsc::channel();
    let (voice_tx, voice_rx) = std::sync::mpsc::sync_channel(VOICE_QUEUE);
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
            runtime.block_on(run(config, commands_rx, pose_rx, events_tx, voice_tx));
            finished_tx.send(()).ok();
        })?;
    Ok(SessionHandle {
        commands: commands_tx,
        pose: pose_tx,
        events: events_rx,
        finished: finished_rx,
        voice: Some(voice_rx),
    })
}

async fn run(
    config: SessionConfig,
    mut commands: mpsc::Receiver<SessionCommand>,
    mut pose: watch::Receiver<Option<PoseSample>>,
    events: mpsc::Sender<SessionEvent>,
    voice: std::sync::mpsc::SyncSender<(PeerId, VoiceDatagram)>,
) {
    let node = match Node::spawn(NodeConfig {
        keypair: config.keypair,
        relay: config.relay.map_or(RelayChoice::Disabled, RelayChoice::Url),
        local_discovery: config.local_discovery,
        bind_addr: config.bind_addr,
        gossip_neighbours: None,
        storage: config.storage,
        home: None,
    })
    .await
    {
        Ok(node) => node,
        Err(error) => return fail(&events, format!("cannot start the network: {error}")).await,
    };
    let mut nearby = node.nearby().ok();
    let mut session = Session {
        node,
        presence: config.presence,
        config: config.world,
        events,
        world: None,
        hosting: false,
    };
    let entered = match config.connect {
        Connect::Host => match WorldId::random() {
            Ok(world) => session.enter(JoinTarget::host(world), true).await,
            Err(error) => Err(format!("cannot make a world id: {error}")),
        },
        Connect::Reopen(world) => session.enter(JoinTarget::host(world), true).await,
        Connect::Join(ticket) => session.enter(JoinTarget::from(ticket), false).await,
        Connect::Browse => {
            let me = session.node.peer_id();
            session.events.send(SessionEvent::Browsing { me }).await.ok();
            Ok(())
        }
    };
    if let Err(error) = entered {
        return fail(&session.events, error).await;
    }
    let in_flight = Arc::new(Semaphore::new(DIRECTS_IN_FLIGHT));
    let mut pose_tick = tokio::time::interval(POSE_INTERVAL);
    pose_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut counters_tick = tokio::time::interval(COUNTERS_INTERVAL);
    let mut reported_rejections = 0;
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                None | Some(SessionCommand::Leave) => break,
                Some(SessionCommand::Join(ticket)) => {
                    if session.world.is_some() {
                        tracing::warn!("network: already in a world; not joining {}", ticket.world);
                    } else if let Err(error) = session.enter(JoinTarget::from(ticket), false).await {
                        fail(&session.events, error).await;
                    }
                }
                Some(SessionCommand::EnterSpace(space)) => session.enter_space(space).await,
                Some(SessionCommand::Profile(presence)) => session.update_profile(presence).await,
                Some(SessionCommand::Chat(to, text)) => match (&session.world, to) {
                    (None, _) => tracing::warn!("network: chat not sent: not in a world"),
                    (Some(world), ChatTo::Room) => {
                        if let Err(error) = world.handle.send_chat(text).await {
                            tracing::warn!("network: chat not sent: {error}");
                        }
                    }
                    (Some(world), ChatTo::Direct(peer)) => {
                        send_direct(&world.directs, &in_flight, &session.events, peer, Private::Chat(text));
                    }
                },
                Some(SessionCommand::App(message)) => {
                    if let Some(world) = &session.world
                        && let Err(error) = world.handle.send_app(message).await
                    {
                        tracing::warn!("network: app message not sent: {error}");
                    }
                }
                Some(SessionCommand::AppTo(peer, message)) => match &session.world {
                    None => tracing::warn!("network: app message not sent: not in a world"),
                    Some(world) => {
                        send_direct(&world.directs, &in_flight, &session.events, peer, Private::App(message));
                    }
                },
            },
            event = next_world_event(&mut session.world) => {
                let Some(event) = event else { break };
                let sent = match event {
                    // Voice goes its own way, never waiting; a frame too late is a frame lost.
                    WorldEvent::Voice { peer, packet } => {
                        voice.try_send((peer, VoiceDatagram::Frame(packet))).ok();
                        true
                    }
                    WorldEvent::VoiceReport { peer, report } => {
                        voice.try_send((peer, VoiceDatagram::Report(report))).ok();
                        true
                    }
                    // Poses are many and only the newest matters: drop under pressure.
                    WorldEvent::Pose { .. } => session.events.try_send(SessionEvent::World(event)).is_ok()
                        || !session.events.is_closed(),
                    other => session.events.send(SessionEvent::World(other)).await.is_ok(),
                };
                if !sent {
                    break;
                }
            }
            worlds = next_nearby(&mut nearby) => match worlds {
                Some(worlds) => {
                    let worlds = worlds.iter().cloned().collect();
                    if session.events.send(SessionEvent::Nearby(worlds)).await.is_err() {
                        break;
                    }
                }
                None => nearby = None,
            },
            _ = pose_tick.tick() => {
                if let Some(world) = &session.world && pose.has_changed().unwrap_or(false) {
                    let newest = *pose.borrow_and_update();
                    if let Some(sample) = newest
                        && let Err(error) = world.handle.send_pose(sample)
                    {
                        tracing::debug!("network: pose not sent: {error}");
                    }
                }
            }
            _ = counters_tick.tick() => {
                let Some(world) = &session.world else { continue };
                let counters = world.handle.counters();
                let rejected = counters.rejected_total();
                if rejected != reported_rejections {
                    reported_rejections = rejected;
                    tracing::info!("network: {} accepted, {rejected} rejected: {:?}", counters.accepted, counters.rejected);
                    session.events.try_send(SessionEvent::Rejected(rejected)).ok();
                }
            }
        }
    }
    session.leave().await;
}

/// Reports a failure to the caller (and the log).
async fn fail(events: &mpsc::Sender<SessionEvent>, error: String) {
    tracing::error!("network: {error}");
    events.send(SessionEvent::Failed(error)).await.ok();
}

/// The next event of the world we are in; never, while in none.
async fn next_world_event(world: &mut Option<InWorld>) -> Option<WorldEvent> {
    match world {
        Some(world) => world.events.recv().await,
        None => std::future::pending().await,
    }
}

/// The next list of worlds announced nearby; never, without local discovery.
async fn next_nearby(nearby: &mut Option<Nearby>) -> Option<crate::NearbyWorlds> {
    match nearby {
        Some(nearby) => nearby.changed().await,
        None => std::future::pending().await,
    }
}

/// The world we are in.
struct InWorld {
    handle: WorldHandle,
    events: mpsc::Receiver<WorldEvent>,
    directs: DirectSender,
}

/// The session's state between commands.
struct Session {
    node: Node,
    /// Our presence as it is now, also while in no world, so that a later join starts
    /// in the space we walked to, with the name we chose.
    presence: Presence,
    config: WorldConfig,
    events: mpsc::Sender<SessionEvent>,
    world: Option<InWorld>,
    /// We started the world we are in (and announce it with local discovery).
    hosting: bool,
}

impl Session {
    /// Enters the world of `target` and tells the caller; a host also announces it on the
    /// local network when local discovery is on.
    async fn enter(&mut self, target: JoinTarget, hosting: bool) -> Result<(), String> {
        let mut handle = self
            .node
            .join_world_with(target, self.presence.clone(), self.config.clone())
            .await
            .map_err(|error| format!("cannot enter the world: {error}"))?;
        let ready = SessionEvent::Ready {
            ticket: handle.ticket().to_string(),
            me: self.node.peer_id(),
            world: handle.world(),
        };
        self.world = Some(InWorld {
            events: handle.take_events(),
            directs: handle.direct_sender(),
            handle,
        });
        self.hosting = hosting;
        self.announce();
        let voice = self.world.as_ref().map(|world| world.handle.voice_sender());
        let build = self.world.as_ref().and_then(|world| world.handle.build());
        self.events.send(ready).await.ok();
        if let Some(voice) = voice {
            self.events.send(SessionEvent::Voice(voice)).await.ok();
        }
        if let Some(build) = build {
            self.events.send(SessionEvent::Build(build)).await.ok();
        }
        Ok(())
    }

    /// Announces the world we host on the local network, with our current name.
    fn announce(&self) {
        let Some(world) = self.world.as_ref().filter(|_| self.hosting) else {
            return;
        };
        let announcement = WorldAnnouncement {
            world: world.handle.world(),
            host_name: self.presence.name.clone(),
        };
        match self.node.announce_world(Some(&announcement)) {
            Ok(()) => tracing::info!("network: announcing {announcement} on the local network"),
            Err(crate::NetError::LocalDiscoveryOff) => {}
            Err(error) => tracing::warn!("network: world not announced on the local network: {error}"),
        }
    }

    async fn enter_space(&mut self, space: SpaceName) {
        self.presence.space = space.clone();
        if let Some(world) = &self.world
            && let Err(error) = world.handle.enter_space(space).await
        {
            tracing::warn!("network: cannot move to the new space's room: {error}");
        }
    }

    async fn update_profile(&mut self, presence: Presence) {
        self.presence = presence.clone();
        self.announce();
        if let Some(world) = &self.world
            && let Err(error) = world
                .handle
                .update_profile(presence.name, presence.color, presence.shape)
                .await
        {
            tracing::warn!("network: new profile not announced: {error}");
        }
    }

    /// Says goodbye and shuts the node down.
    async fn leave(self) {
        if let Some(world) = self.world
            && let Err(error) = world.handle.leave().await
        {
            tracing::debug!("network: goodbye not sent: {error}");
        }
        self.node.shutdown().await;
    }
}

/// What goes to one peer privately.
enum Private {
    Chat(ChatText),
    App(AppMessage),
}

/// Sends a private message in its own task, or reports at once that too many are waiting.
fn send_direct(
    directs: &DirectSender,
    in_flight: &Arc<Semaphore>,
    events: &mpsc::Sender<SessionEvent>,
    peer: PeerId,
    message: Private,
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
        let result = match message {
            Private::Chat(text) => directs.send(peer, text).await,
            Private::App(message) => directs.send_app(peer, message).await,
        };
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
