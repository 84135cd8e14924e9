//! Being in a world: presence, chat, direct messages and poses, as a [`WorldHandle`] and a
//! stream of [`WorldEvent`]s.
//!
//! A world has one world-wide gossip topic carrying everyone's presence (hello, heartbeat,
//! leave, addresses), and one room topic per space carrying chat and far-away poses. Both
//! are derived from the [`WorldId`] ([`topics`]). A node is subscribed to the world topic and
//! to the room of the space it is in. Direct messages and pose datagrams go on direct QUIC
//! connections ([`crate::node`]).
//!
//! One task per world ([`actor`]) owns all state: it reads the topics, the direct messages
//! and the datagrams, passes each through the [`Gate`](crate::gate), keeps the
//! [roster](crate::roster), sends heartbeats and reports timeouts. It never waits on the
//! application: events go into a bounded queue ([`events`]).
//!
//! - [`topics`]: topic ids and subscriptions, whose readers apply the gossip budgets.
//! - [`events`]: the events queue, its backlog and pose coalescing.
//! - [`history`]: the chat kept of the room, told to newcomers (earlier chat).
//! - [`poses`]: which peers get our pose at full rate.
//! - [`actor`]: the task.

pub(crate) mod actor;
pub(crate) mod events;
pub(crate) mod history;
pub(crate) mod poses;
pub mod topics;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use iroh::EndpointAddr;
use sanctuary_protocols::alpn::{ALPN_DM, ALPN_VOICE};
use sanctuary_protocols::{
    AppMessage, AvatarShape, Body, Chat, ChatText, Context, DisplayName, PeerId, PoseSample, Presence,
    ReceptionReport, Rgb, SpaceName, VoicePacket, WorldId, WorldTicket,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::build::{BuildHandle, BuildSetup, BuildStore};
use crate::error::NetError;
use crate::gate::{Counters, Gate, GossipBudgets, MuteRules, RejectReason};
use crate::node::Node;
use crate::roster::{Roster, RosterEntry};

/// Where to join: a world and peers already in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTarget {
    /// The world.
    pub world: WorldId,
    /// Peers to bootstrap from, with their addresses. Empty for the host of a new world.
    pub bootstrap: Vec<EndpointAddr>,
}

impl JoinTarget {
    /// Host `world`: start it with no one else in it yet.
    pub fn host(world: WorldId) -> Self {
        Self {
            world,
            bootstrap: Vec::new(),
        }
    }
}

impl From<WorldTicket> for JoinTarget {
    fn from(ticket: WorldTicket) -> Self {
        (&ticket).into()
    }
}

impl From<&WorldTicket> for JoinTarget {
    fn from(ticket: &WorldTicket) -> Self {
        Self {
            world: ticket.world,
            bootstrap: crate::ticket::endpoint_addr(ticket).into_iter().collect(),
        }
    }
}

/// Timings and limits of a world.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    /// How often to re-announce presence. Default 3 s.
    pub heartbeat: Duration,
    /// A peer silent this long is reported as [`LeaveReason::TimedOut`]. Default 15 s.
    pub timeout: Duration,
    /// Capacity of the events queue. Default 1024.
    pub events_capacity: usize,
    /// When to mute a misbehaving peer.
    pub mute: MuteRules,
    /// Budgets for gossip that need no signature.
    pub budgets: GossipBudgets,
    /// How many of the nearest peers in the same space get every pose. Default 32.
    pub near_pose_peers: usize,
    /// How often our pose goes out on the room topic, for the other peers in the same
    /// space. Default 1 s.
    pub far_pose_interval: Duration,
    /// Most people kept in the roster. Default
    /// [`ROSTER_MAX`](sanctuary_protocols::limits::ROSTER_MAX); every peer should use the
    /// same number.
    pub roster_capacity: usize,
    /// How many peers answer a newcomer's hello at once. Default
    /// [`HELLO_RESPONDERS`](sanctuary_protocols::limits::HELLO_RESPONDERS); `usize::MAX`
    /// makes everyone answer (how rooms behaved before, kept for the benchmark).
    pub hello_responders: usize,
    /// Watch without being seen: never announce ourselves (no hello, presence, addresses,
    /// goodbye or poses), so others don't list us as a person. For observers such as
    /// `sanctuary-node watch`.
    pub observer: bool,
    /// Building: each space's rules and where the documents are kept. Without it, nobody
    /// builds in this world here (edits from others are not kept either).
    pub build: Option<BuildSetup>,
    /// Where the earlier chat of each space is kept on disk (a file per space, named
    /// after it), so that what was said outlives a restart: read back, and checked line
    /// by line, on arriving in the space. Without it, earlier chat is kept in memory only.
    pub chat_folder: Option<PathBuf>,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            events_capacity: 1024,
            mute: MuteRules::default(),
            budgets: GossipBudgets::default(),
            near_pose_peers: 32,
            far_pose_interval: Duration::from_secs(1),
            roster_capacity: sanctuary_protocols::limits::ROSTER_MAX,
            hello_responders: sanctuary_protocols::limits::HELLO_RESPONDERS,
            observer: false,
            build: None,
            chat_folder: None,
        }
    }
}

/// Why a peer is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// It said goodbye.
    Leave,
    /// Nothing was heard from it for [`WorldConfig::timeout`].
    TimedOut,
}

/// Something that happened in the world, already checked.
#[derive(Debug, Clone, PartialEq)]
pub enum WorldEvent {
    /// Pieces in `space` may look different now (edits from the room or a sync): ask the
    /// [`BuildHandle`] how each is shown.
    Build {
        /// The space.
        space: SpaceName,
        /// The pieces.
        changed: Vec<sanctuary_protocols::build::PieceId>,
    },
    /// A peer is in the world (first presence seen).
    Joined {
        /// Who.
        peer: PeerId,
        /// Their name, looks and space.
        presence: Presence,
    },
    /// A peer's presence changed (e.g. they moved to another space).
    PresenceChanged {
        /// Who.
        peer: PeerId,
        /// The new presence.
        presence: Presence,
    },
    /// A peer is gone.
    Left {
        /// Who.
        peer: PeerId,
        /// Goodbye or timeout.
        reason: LeaveReason,
    },
    /// Chat in the room of the space we are in.
    Chat {
        /// The author.
        peer: PeerId,
        /// The space it was said in.
        space: SpaceName,
        /// What was said.
        text: ChatText,
    },
    /// A line said in the room of our space before we came, told by a peer that was
    /// there and checked against its author's signature. Comes soon after we enter a
    /// space, oldest first.
    EarlierChat {
        /// The author.
        peer: PeerId,
        /// The author's name, from their signed presence, if the teller had it.
        name: Option<DisplayName>,
        /// The space it was said in.
        space: SpaceName,
        /// What was said.
        text: ChatText,
        /// When the author says they said it, Unix milliseconds.
        said_ms: u64,
    },
    /// A private message to us.
    Direct {
        /// The author.
        peer: PeerId,
        /// What was said.
        text: ChatText,
    },
    /// An app's message from its copy on another peer (anywhere in the world).
    App {
        /// The author.
        peer: PeerId,
        /// The app and what it said.
        message: AppMessage,
        /// Sent to us alone, over a direct connection, rather than to the whole world.
        direct: bool,
    },
    /// A peer's pose.
    Pose {
        /// Whose.
        peer: PeerId,
        /// The pose, dequantized.
        pose: PoseSample,
        /// Counts this peer's pose events, one more for each (wrapping), whatever
        /// connection or topic they came on: later poses have later numbers, and it keeps
        /// counting when the peer reconnects. It starts again when the peer leaves.
        seq: u32,
    },
    /// One voice packet from a peer in the roster, within its rate (the connection proved
    /// who sent it). Lossy: dropped when the queue is full.
    Voice {
        /// Who speaks.
        peer: PeerId,
        /// The packet.
        packet: VoicePacket,
    },
    /// A listener's reception report on our voice (see [`ReceptionReport`]), from a peer
    /// in the roster. Lossy like [`WorldEvent::Voice`].
    VoiceReport {
        /// Who listens.
        peer: PeerId,
        /// How our frames reach them.
        report: ReceptionReport,
    },
    /// The world already holds as many people as a roster keeps: the others will not list
    /// us. Sent once, soon after joining.
    Full {
        /// How many people the world holds.
        capacity: usize,
    },
    /// An incoming message was refused (also counted in [`WorldHandle::counters`]). Not
    /// sent for muted peers or floods, and dropped when the queue is full.
    Rejected {
        /// Who is blamed, if anyone.
        peer: Option<PeerId>,
        /// Why.
        reason: RejectReason,
    },
}

/// Which topic a raw broadcast goes to (tests of hostile input only).
#[cfg(feature = "test-utils")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawTopic {
    /// The world-wide topic.
    World,
    /// The room of the current space.
    Room,
}

pub(crate) enum Command {
    EnterSpace(SpaceName, oneshot::Sender<Result<(), NetError>>),
    Chat(ChatText, oneshot::Sender<Result<(), NetError>>),
    App(AppMessage, oneshot::Sender<Result<(), NetError>>),
    Profile(DisplayName, Rgb, AvatarShape),
    Pose(PoseSample),
    Leave(oneshot::Sender<()>),
    #[cfg(feature = "test-utils")]
    Raw(RawTopic, Vec<u8>, oneshot::Sender<Result<(), NetError>>),
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// State the actor shares with the handle, read by the handle's getters.
#[derive(Debug)]
pub(crate) struct WorldShared {
    pub gate: Mutex<Gate>,
    pub roster: Mutex<Roster>,
    pub space: Mutex<SpaceName>,
    pub neighbors: Mutex<(usize, usize)>,
    /// Events that could not be queued: reliable ones past the backlog, and lost poses.
    pub dropped_events: AtomicU64,
    /// Gossip messages we broadcast.
    pub sent: AtomicU64,
    /// Broadcasts dropped because gossip did not take them in time.
    pub gossip_stalls: AtomicU64,
    /// Who hears our voice now: peers in our space within earshot, nearest first (worked
    /// out with every pose we send).
    pub earshot: Mutex<Vec<PeerId>>,
}

/// Counts of gossip neighbours, for waiting until the mesh has formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbors {
    /// Direct neighbours on the world-wide topic.
    pub world: usize,
    /// Direct neighbours on the current space's room topic.
    pub room: usize,
}

/// Being in a world: send things there and receive its [`WorldEvent`]s.
///
/// Dropping the handle stops the world's task without a goodbye (others see a timeout);
/// call [`leave`](Self::leave) to say goodbye.
#[derive(Debug)]
pub struct WorldHandle {
    node: Node,
    world: WorldId,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<WorldEvent>,
    shared: Arc<WorldShared>,
    actor: Option<JoinHandle<()>>,
    build: Option<BuildHandle>,
}

impl WorldHandle {
    /// Building in this world, when [`WorldConfig::build`] set it up.
    pub fn build(&self) -> Option<BuildHandle> {
        self.build.clone()
    }

    /// The world.
    pub fn world(&self) -> WorldId {
        self.world
    }

    /// A ticket others can join this world with, naming this node as the bootstrap peer.
    /// `handle.ticket().to_string()` is the text to share.
    pub fn ticket(&self) -> WorldTicket {
        self.node.ticket(self.world)
    }

    /// The events of the world, to `recv().await` on.
    pub fn events(&mut self) -> &mut mpsc::Receiver<WorldEvent> {
        &mut self.events
    }

    /// Takes the events receiver out (e.g. to move it to another task); [`events`](Self::events)
    /// then returns a closed receiver.
    pub fn take_events(&mut self) -> mpsc::Receiver<WorldEvent> {
        let (_tx, closed) = mpsc::channel(1);
        std::mem::replace(&mut self.events, closed)
    }

    /// The space we are in.
    pub fn space(&self) -> Option<SpaceName> {
        self.shared.space.lock().ok().map(|space| space.clone())
    }

    /// Everyone else in the world, as last heard.
    pub fn peers(&self) -> Vec<RosterEntry> {
        self.shared
            .roster
            .lock()
            .map(|roster| roster.entries())
            .unwrap_or_default()
    }

    /// A snapshot of the accepted and refused counts.
    pub fn counters(&self) -> Counters {
        self.shared
            .gate
            .lock()
            .map(|gate| gate.counters())
            .unwrap_or_default()
    }

    /// How many authors' checking state the receive path keeps now (bounded by
    /// [`MAX_TRACKED_PEERS`](crate::gate::MAX_TRACKED_PEERS)).
    pub fn tracked_peers(&self) -> usize {
        self.shared
            .gate
            .lock()
            .map(|gate| gate.tracked_peers())
            .unwrap_or(0)
    }

    /// Presences ignored because the roster was full.
    pub fn refused_full(&self) -> u64 {
        self.shared
            .roster
            .lock()
            .map(|roster| roster.refused_full)
            .unwrap_or(0)
    }

    /// Events lost because the events queue and its backlog were full (pose coalescing is
    /// counted in [`Counters::poses_coalesced`] instead).
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_events.load(Ordering::Relaxed)
    }

    /// How many gossip messages we have broadcast (presence, addresses, chat, room poses).
    pub fn messages_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::Relaxed)
    }

    /// Broadcasts dropped because gossip did not take them within half a second (a sign
    /// that a neighbour stopped reading and stalled gossip).
    pub fn gossip_stalls(&self) -> u64 {
        self.shared.gossip_stalls.load(Ordering::Relaxed)
    }

    /// Current gossip neighbour counts.
    pub fn neighbors(&self) -> Neighbors {
        let (world, room) = self.shared.neighbors.lock().map(|n| *n).unwrap_or_default();
        Neighbors { world, room }
    }

    /// Moves to another space: leaves the old room, joins the new one, announces presence.
    pub async fn enter_space(&self, space: SpaceName) -> Result<(), NetError> {
        self.request(|reply| Command::EnterSpace(space, reply)).await
    }

    /// Says something in the room of the current space.
    pub async fn send_chat(&self, text: ChatText) -> Result<(), NetError> {
        self.request(|reply| Command::Chat(text, reply)).await
    }

    /// Sends an app's message to its copies on every peer of the world (the world topic,
    /// wherever they stand).
    pub async fn send_app(&self, message: AppMessage) -> Result<(), NetError> {
        self.request(|reply| Command::App(message, reply)).await
    }

    /// A sender of private messages that does not borrow the handle, so that sends can run
    /// in their own tasks while the handle goes on carrying poses.
    pub fn direct_sender(&self) -> DirectSender {
        DirectSender {
            node: self.node.clone(),
            world: self.world,
        }
    }

    /// Sends a private message to `peer` over a direct connection; returns once the peer
    /// has received it, or with an error. Can take seconds for an unreachable peer: a loop
    /// that also carries poses should use [`direct_sender`](Self::direct_sender) in a task.
    pub async fn send_direct(&self, peer: PeerId, text: ChatText) -> Result<(), NetError> {
        self.direct_sender().send(peer, text).await
    }

    /// A sender of voice packets in this world. Call it from within the world's tokio
    /// runtime; the sender itself works from any thread.
    pub fn voice_sender(&self) -> VoiceSender {
        VoiceSender {
            node: self.node.clone(),
            shared: self.shared.clone(),
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Sends our pose: every call as datagrams to the nearest
    /// [`WorldConfig::near_pose_peers`] peers in our space (by their last known position),
    /// and about once per [`WorldConfig::far_pose_interval`] on the room topic for everyone
    /// else there. Never waits: if the world's task is busy this pose is skipped (the next
    /// one replaces it anyway).
    pub fn send_pose(&self, pose: PoseSample) -> Result<(), NetError> {
        match self.commands.try_send(Command::Pose(pose)) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(NetError::WorldClosed),
        }
    }

    /// Changes how this person appears (name, colour, shape) and tells the world at once.
    pub async fn update_profile(
        &self,
        name: DisplayName,
        color: Rgb,
        shape: AvatarShape,
    ) -> Result<(), NetError> {
        self.commands
            .send(Command::Profile(name, color, shape))
            .await
            .map_err(|_| NetError::WorldClosed)
    }

    /// Says goodbye (a signed leave others show at once) and leaves the world.
    pub async fn leave(mut self) -> Result<(), NetError> {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Leave(reply)).await.is_ok() {
            let _ = done.await;
        }
        if let Some(actor) = self.actor.take() {
            let _ = actor.await;
        }
        Ok(())
    }

    /// Broadcasts raw bytes on a topic, unchecked and unsigned by us: for tests of hostile
    /// input.
    #[cfg(feature = "test-utils")]
    pub async fn broadcast_raw(&self, topic: RawTopic, bytes: Vec<u8>) -> Result<(), NetError> {
        self.request(|reply| Command::Raw(topic, bytes, reply)).await
    }

    /// Closes our outgoing connections to `peer` (pose and direct), as a network hiccup
    /// would: for tests of reconnecting.
    #[cfg(feature = "test-utils")]
    pub fn drop_connections_to(&self, peer: PeerId) {
        self.node.dialer.forget(peer);
    }

    async fn request(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<(), NetError>>) -> Command,
    ) -> Result<(), NetError> {
        let (reply, result) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NetError::WorldClosed)?;
        result.await.map_err(|_| NetError::WorldClosed)?
    }
}

impl Drop for WorldHandle {
    fn drop(&mut self) {
        if let Some(actor) = self.actor.take() {
            actor.abort();
        }
        self.node.clear_inbound();
    }
}

/// Who a voice packet goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceTo {
    /// Everyone in our space within
    /// [`EARSHOT_M`](sanctuary_protocols::limits::EARSHOT_M), nearest first, at most
    /// [`VOICE_LISTENERS_MAX`](sanctuary_protocols::limits::VOICE_LISTENERS_MAX).
    Earshot,
    /// One person in the world, wherever they stand: a private call.
    Peer(PeerId),
}

/// Sends voice packets as datagrams, without waiting on anything: a peer not connected yet
/// is dialed in the background and gets the packets after that. Cheap to clone, and
/// independent of the [`WorldHandle`] (for the audio side of a client).
#[derive(Debug, Clone)]
pub struct VoiceSender {
    node: Node,
    shared: Arc<WorldShared>,
    /// The runtime dials start on: [`send`](Self::send) may be called from an audio
    /// thread outside it.
    runtime: tokio::runtime::Handle,
}

impl VoiceSender {
    /// Sends `packet` to `to`; returns how many peers it went to.
    pub fn send(&self, packet: &VoicePacket, to: VoiceTo) -> usize {
        let listeners = match to {
            VoiceTo::Earshot => self.earshot(),
            VoiceTo::Peer(peer) => self.known(peer).into_iter().collect(),
        };
        self.send_bytes(Bytes::from(packet.encode()), listeners)
    }

    /// Sends a reception report back to `speaker`; returns whether it went out.
    pub fn report(&self, speaker: PeerId, report: &ReceptionReport) -> bool {
        let listeners = self.known(speaker).into_iter().collect();
        self.send_bytes(Bytes::from(report.encode()), listeners) == 1
    }

    /// `peer`, when they are in the world.
    fn known(&self, peer: PeerId) -> Option<PeerId> {
        self.shared
            .roster
            .lock()
            .is_ok_and(|roster| roster.contains(&peer))
            .then_some(peer)
    }

    fn send_bytes(&self, bytes: Bytes, listeners: Vec<PeerId>) -> usize {
        let _runtime = self.runtime.enter();
        let mut sent = 0;
        for peer in listeners {
            let Some(out) = self.node.dialer.ready(peer, ALPN_VOICE) else {
                continue;
            };
            match out.connection.send_datagram(bytes.clone()) {
                Ok(()) => sent += 1,
                Err(err) => tracing::debug!(%peer, %err, "could not send a voice datagram"),
            }
        }
        sent
    }

    /// Who would hear a packet sent to [`VoiceTo::Earshot`] now.
    pub fn earshot(&self) -> Vec<PeerId> {
        self.shared
            .earshot
            .lock()
            .map(|list| list.clone())
            .unwrap_or_default()
    }
}

/// Sends private messages in one world; cheap to clone and independent of the
/// [`WorldHandle`].
#[derive(Debug, Clone)]
pub struct DirectSender {
    node: Node,
    world: WorldId,
}

impl DirectSender {
    /// Sends a private message to `peer`, signed for them alone, and waits until they have
    /// received it (or an error, after at most about 20 s for an unreachable peer).
    pub async fn send(&self, peer: PeerId, text: ChatText) -> Result<(), NetError> {
        self.send_body(peer, Body::Chat(Chat { text })).await
    }

    /// Sends an app's message to its copy on `peer` alone, like a private message (signed
    /// for them, over a direct connection), and waits until they have received it.
    pub async fn send_app(&self, peer: PeerId, message: AppMessage) -> Result<(), NetError> {
        self.send_body(peer, Body::App(message)).await
    }

    async fn send_body(&self, peer: PeerId, body: Body) -> Result<(), NetError> {
        let envelope = self.node.sign(&Context::direct(self.world, peer), body);
        crate::node::send_stream(&self.node, peer, ALPN_DM, &envelope.encode()).await
    }
}

impl Node {
    /// Joins a world with the default [`WorldConfig`]. See [`Node::join_world_with`].
    pub async fn join_world(
        &self,
        target: impl Into<JoinTarget>,
        presence: Presence,
    ) -> Result<WorldHandle, NetError> {
        self.join_world_with(target, presence, WorldConfig::default())
            .await
    }

    /// Joins a world: subscribes to its world-wide topic and to the room of
    /// `presence.space`, says hello, and returns the handle to act in it. To host a new
    /// world, pass `JoinTarget::host(WorldId::random()?)` and share [`WorldHandle::ticket`].
    ///
    /// A node is in at most one world at a time; leave it before joining another.
    pub async fn join_world_with(
        &self,
        target: impl Into<JoinTarget>,
        presence: Presence,
        config: WorldConfig,
    ) -> Result<WorldHandle, NetError> {
        let target = target.into();
        let (inbound_tx, inbound_rx) = mpsc::channel(actor::INBOUND_CAPACITY);
        self.claim_inbound(inbound_tx.clone())?;
        let shared = Arc::new(WorldShared {
            gate: Mutex::new(Gate::new(self.peer_id(), config.mute, config.budgets)),
            roster: Mutex::new(Roster::with_capacity(config.roster_capacity)),
            space: Mutex::new(presence.space.clone()),
            neighbors: Mutex::new((0, 0)),
            dropped_events: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            gossip_stalls: AtomicU64::new(0),
            earshot: Mutex::new(Vec::new()),
        });
        let (commands, command_rx) = mpsc::channel(64);
        let (events_tx, events) = mpsc::channel(config.events_capacity.max(1));
        let (build, build_outbox) = match &config.build {
            Some(setup) => {
                let store = Arc::new(BuildStore::new(target.world, setup.clone()));
                self.shared.build.set(Some(store.clone()));
                let (handle, outbox) = BuildHandle::new(store, self.keypair.clone());
                (Some(handle), Some(outbox))
            }
            None => (None, None),
        };
        let started = actor::Actor::start(
            self.clone(),
            target.clone(),
            presence,
            config,
            shared.clone(),
            inbound_tx,
            events_tx,
            build.clone().zip(build_outbox),
        )
        .await;
        let actor = match started {
            Ok(actor) => actor,
            Err(err) => {
                self.clear_inbound();
                self.shared.build.set(None);
                return Err(err);
            }
        };
        let actor = tokio::spawn(actor.run(command_rx, inbound_rx));
        Ok(WorldHandle {
            node: self.clone(),
            world: target.world,
            commands,
            events,
            shared,
            actor: Some(actor),
            build,
        })
    }
}
