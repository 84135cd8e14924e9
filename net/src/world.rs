//! Being in a world: presence, chat, direct messages and poses, as a [`WorldHandle`] and a
//! stream of [`WorldEvent`]s.
//!
//! A world has one world-wide gossip topic carrying everyone's presence (hello, heartbeat,
//! leave), and one room topic per space carrying chat and far-away poses. Both are derived
//! from the [`WorldId`] ([`world_topic`], [`room_topic`]). A node is subscribed to the world
//! topic and to the room of the space it is in. Direct messages and pose datagrams go on
//! direct QUIC connections ([`crate::node`]).
//!
//! One task per world (the actor) owns all state: it reads the topics, the direct messages
//! and the datagrams, passes each through the [`Gate`](crate::gate), keeps the roster, sends
//! heartbeats and reports timeouts. It never waits on the application: events go into a
//! bounded queue; when it is full, reliable events (presence, chat, direct, leave) wait in a
//! bounded backlog, and pose events are coalesced per peer (newest wins).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use iroh::{EndpointAddr, TransportAddr};
use iroh_gossip::TopicId;
use iroh_gossip::api::{Event as GossipEvent, GossipSender, JoinOptions};
use n0_future::StreamExt;
use sanctuary_protocols::alpn::{ALPN_DM, ALPN_POSE};
use sanctuary_protocols::{
    AvatarShape, Body, Chat, ChatText, DirectAddrs, DisplayName, PeerId, PoseDatagram, PoseSample, Presence,
    Rgb, SpaceName,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::NetError;
use crate::gate::{Counters, Gate, MuteRules, RejectReason};
use crate::node::{Node, endpoint_id, peer_id};
use crate::ticket::{WorldId, WorldTicket};

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
        Self {
            world: ticket.world,
            bootstrap: vec![ticket.host],
        }
    }
}

impl From<&WorldTicket> for JoinTarget {
    fn from(ticket: &WorldTicket) -> Self {
        ticket.clone().into()
    }
}

/// Timings and limits of a world.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorldConfig {
    /// How often to re-announce presence. Default 3 s.
    pub heartbeat: Duration,
    /// A peer silent this long is reported as [`LeaveReason::TimedOut`]. Default 15 s.
    pub timeout: Duration,
    /// Capacity of the events queue. Default 1024.
    pub events_capacity: usize,
    /// When to mute a misbehaving peer.
    pub mute: MuteRules,
    /// How many of the nearest peers in the same space get every pose. Default 32.
    pub near_pose_peers: usize,
    /// How often the other peers in the same space get a pose. Default 1 s.
    pub far_pose_interval: Duration,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(3),
            timeout: Duration::from_secs(15),
            events_capacity: 1024,
            mute: MuteRules::default(),
            near_pose_peers: 32,
            far_pose_interval: Duration::from_secs(1),
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
    /// A private message to us.
    Direct {
        /// The author.
        peer: PeerId,
        /// What was said.
        text: ChatText,
    },
    /// A peer's pose.
    Pose {
        /// Whose.
        peer: PeerId,
        /// The pose, dequantized.
        pose: PoseSample,
        /// The datagram's sequence number (for far-away poses over gossip, the low 32 bits
        /// of the message's).
        seq: u32,
    },
    /// An incoming message was refused (also counted in [`WorldHandle::counters`]). Not
    /// sent for peers that are muted, and dropped when the queue is full.
    Rejected {
        /// Who is blamed, if anyone.
        peer: Option<PeerId>,
        /// Why.
        reason: RejectReason,
    },
}

/// One peer in the roster.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    /// Who.
    pub peer: PeerId,
    /// Their latest presence.
    pub presence: Presence,
    /// When their latest message arrived.
    pub last_seen: Instant,
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

/// The world-wide topic of `world`: presence of everyone in it.
pub fn world_topic(world: &WorldId) -> TopicId {
    let mut hasher = blake3::Hasher::new_derive_key("sanctuary/world/0");
    hasher.update(world.as_bytes());
    TopicId::from_bytes(*hasher.finalize().as_bytes())
}

/// The room topic of `space` in `world`: chat and far-away poses of that space.
pub fn room_topic(world: &WorldId, space: &SpaceName) -> TopicId {
    let mut hasher = blake3::Hasher::new_derive_key("sanctuary/room/0");
    hasher.update(world.as_bytes());
    hasher.update(&(space.as_str().len() as u64).to_le_bytes());
    hasher.update(space.as_str().as_bytes());
    TopicId::from_bytes(*hasher.finalize().as_bytes())
}

/// What the protocol handlers and topic readers hand the world's actor.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A direct-message stream's bytes.
    Direct { from: PeerId, bytes: Vec<u8> },
    /// A direct-message stream refused before it was read in full.
    Refused { from: PeerId, reason: RejectReason },
    /// A pose datagram.
    Pose {
        from: PeerId,
        connection: u64,
        bytes: Vec<u8>,
    },
    /// Something from a gossip topic.
    Gossip {
        kind: TopicKind,
        generation: u64,
        event: GossipEvent,
    },
    /// A topic subscription ended.
    TopicClosed { kind: TopicKind, generation: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopicKind {
    World,
    Room,
}

enum Command {
    EnterSpace(SpaceName, oneshot::Sender<Result<(), NetError>>),
    Chat(ChatText, oneshot::Sender<Result<(), NetError>>),
    Profile(DisplayName, Rgb, AvatarShape),
    Pose(PoseSample),
    Leave(oneshot::Sender<()>),
    #[cfg(feature = "test-utils")]
    Raw(RawTopic, Vec<u8>, oneshot::Sender<Result<(), NetError>>),
}

#[derive(Debug)]
struct WorldShared {
    gate: Mutex<Gate>,
    roster: Mutex<HashMap<PeerId, RosterEntry>>,
    space: Mutex<SpaceName>,
    neighbors: Mutex<(usize, usize)>,
    /// Events that could not be queued: reliable ones past the backlog, and lost poses.
    dropped_events: std::sync::atomic::AtomicU64,
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
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// Counts of gossip neighbours, for waiting until the mesh has formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbors {
    /// Direct neighbours on the world-wide topic.
    pub world: usize,
    /// Direct neighbours on the current space's room topic.
    pub room: usize,
}

impl WorldHandle {
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
            .map(|roster| roster.values().cloned().collect())
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

    /// Events lost because the events queue and its backlog were full (pose coalescing is
    /// counted in [`Counters::poses_coalesced`] instead).
    pub fn dropped_events(&self) -> u64 {
        self.shared.dropped_events.load(Ordering::Relaxed)
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

    /// Sends a private message to `peer` over a direct connection; returns once the peer
    /// has received it, or with an error.
    pub async fn send_direct(&self, peer: PeerId, text: ChatText) -> Result<(), NetError> {
        let envelope = self.node.sign(Body::Chat(Chat { text }));
        send_stream(&self.node, peer, ALPN_DM, &envelope.encode()).await
    }

    /// Sends our pose: every call to the nearest [`WorldConfig::near_pose_peers`] peers in
    /// our space (by their last known position), and about once per
    /// [`WorldConfig::far_pose_interval`] to the others there. Never waits: if the world's
    /// task is busy this pose is skipped (the next one replaces it anyway).
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

/// Sends `bytes` as one stream to `peer` on a connection for `alpn`, and waits until the
/// peer has read it.
pub(crate) async fn send_stream(
    node: &Node,
    peer: PeerId,
    alpn: &'static [u8],
    bytes: &[u8],
) -> Result<(), NetError> {
    let send_err = |err: String| NetError::Send(peer, err);
    let out = node.dialer.get(peer, alpn).await?;
    let attempt = async {
        let mut stream = out
            .connection
            .open_uni()
            .await
            .map_err(|e| send_err(e.to_string()))?;
        stream
            .write_all(bytes)
            .await
            .map_err(|e| send_err(e.to_string()))?;
        stream.finish().map_err(|e| send_err(e.to_string()))?;
        stream.stopped().await.map_err(|e| send_err(e.to_string()))?;
        Ok(())
    };
    let result = tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .map_err(|_| send_err("timed out".into()))?;
    if result.is_err() {
        node.dialer.forget(peer);
    }
    result
}

/// Sends one datagram to `peer` on the pose connection, dialing it if needed.
#[cfg(feature = "test-utils")]
pub(crate) async fn send_datagram(node: &Node, peer: PeerId, bytes: &[u8]) -> Result<(), NetError> {
    let out = node.dialer.get(peer, ALPN_POSE).await?;
    out.connection
        .send_datagram(Bytes::copy_from_slice(bytes))
        .map_err(|e| NetError::Send(peer, e.to_string()))
}

/// Subscription capacity for gossip topics: how many events may wait for the actor before
/// gossip drops the subscription (which the actor then renews).
const TOPIC_CAPACITY: usize = 4096;
/// Capacity of the actor's inbound queue.
const INBOUND_CAPACITY: usize = 1024;
/// Most reliable events waiting for room in a full events queue.
const BACKLOG_MAX: usize = 4096;

struct Topic {
    sender: GossipSender,
    generation: u64,
    reader: JoinHandle<()>,
    neighbors: HashSet<PeerId>,
}

impl Drop for Topic {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub(crate) async fn join(
    node: Node,
    target: JoinTarget,
    presence: Presence,
    config: WorldConfig,
) -> Result<WorldHandle, NetError> {
    let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_CAPACITY);
    node.claim_inbound(inbound_tx.clone())?;
    let result = start(node.clone(), target, presence, config, inbound_tx, inbound_rx).await;
    if result.is_err() {
        node.clear_inbound();
    }
    result
}

async fn start(
    node: Node,
    target: JoinTarget,
    presence: Presence,
    config: WorldConfig,
    inbound_tx: mpsc::Sender<Inbound>,
    inbound_rx: mpsc::Receiver<Inbound>,
) -> Result<WorldHandle, NetError> {
    let mut bootstrap = Vec::new();
    for addr in target.bootstrap {
        if addr.id != node.endpoint.id() {
            bootstrap.push(peer_id(addr.id));
            node.add_peer_addr(addr);
        }
    }
    let shared = Arc::new(WorldShared {
        gate: Mutex::new(Gate::new(config.mute)),
        roster: Mutex::new(HashMap::new()),
        space: Mutex::new(presence.space.clone()),
        neighbors: Mutex::new((0, 0)),
        dropped_events: Default::default(),
    });
    let world_topic = subscribe(
        &node,
        world_topic(&target.world),
        &bootstrap,
        TopicKind::World,
        0,
        &inbound_tx,
    )
    .await?;
    let room_topic = subscribe(
        &node,
        room_topic(&target.world, &presence.space),
        &bootstrap,
        TopicKind::Room,
        0,
        &inbound_tx,
    )
    .await?;
    let (commands, command_rx) = mpsc::channel(64);
    let (events_tx, events) = mpsc::channel(config.events_capacity.max(1));
    let actor = Actor {
        node: node.clone(),
        world: target.world,
        config,
        presence,
        shared: shared.clone(),
        world_topic,
        room_topic,
        bootstrap,
        inbound_tx,
        generation: 0,
        events_tx,
        backlog: VecDeque::new(),
        pending_poses: HashMap::new(),
        positions: HashMap::new(),
        last_far_pose: HashMap::new(),
        started: Instant::now(),
    };
    let actor = tokio::spawn(actor.run(command_rx, inbound_rx));
    Ok(WorldHandle {
        node,
        world: target.world,
        commands,
        events,
        shared,
        actor: Some(actor),
    })
}

async fn subscribe(
    node: &Node,
    topic: TopicId,
    bootstrap: &[PeerId],
    kind: TopicKind,
    generation: u64,
    inbound: &mpsc::Sender<Inbound>,
) -> Result<Topic, NetError> {
    let ids = bootstrap.iter().filter_map(|peer| endpoint_id(*peer).ok());
    let mut options = JoinOptions::with_bootstrap(ids);
    options.subscription_capacity = TOPIC_CAPACITY;
    let subscription = node
        .gossip
        .subscribe_with_opts(topic, options)
        .await
        .map_err(|err| NetError::Gossip(err.to_string()))?;
    let (sender, mut receiver) = subscription.split();
    let inbound = inbound.clone();
    let reader = tokio::spawn(async move {
        while let Some(Ok(event)) = receiver.next().await {
            let item = Inbound::Gossip {
                kind,
                generation,
                event,
            };
            if inbound.send(item).await.is_err() {
                return;
            }
        }
        let _ = inbound.send(Inbound::TopicClosed { kind, generation }).await;
    });
    Ok(Topic {
        sender,
        generation,
        reader,
        neighbors: HashSet::new(),
    })
}

struct Actor {
    node: Node,
    world: WorldId,
    config: WorldConfig,
    presence: Presence,
    shared: Arc<WorldShared>,
    world_topic: Topic,
    room_topic: Topic,
    bootstrap: Vec<PeerId>,
    inbound_tx: mpsc::Sender<Inbound>,
    generation: u64,
    events_tx: mpsc::Sender<WorldEvent>,
    backlog: VecDeque<WorldEvent>,
    pending_poses: HashMap<PeerId, WorldEvent>,
    positions: HashMap<PeerId, [f32; 3]>,
    last_far_pose: HashMap<PeerId, Instant>,
    started: Instant,
}

impl Actor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut inbound: mpsc::Receiver<Inbound>) {
        self.broadcast_world(Body::Hello(self.presence.clone())).await;
        self.broadcast_addrs().await;
        let mut heartbeat = tokio::time::interval(self.config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let sweep_every = (self.config.timeout / 5).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut sweep = tokio::time::interval(sweep_every);
        let events_tx = self.events_tx.clone();
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let waiting = !self.backlog.is_empty() || !self.pending_poses.is_empty();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Leave(reply)) => {
                        self.leave().await;
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.command(command).await,
                    None => break,
                },
                Some(item) = inbound.recv() => self.inbound(item).await,
                _ = heartbeat.tick() => {
                    self.broadcast_world(Body::Presence(self.presence.clone())).await;
                    self.broadcast_addrs().await;
                }
                _ = sweep.tick() => self.sweep(),
                permit = events_tx.reserve(), if waiting => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.backlog.pop_front() {
                            permit.send(event);
                        } else if let Some(peer) = self.pending_poses.keys().next().copied()
                            && let Some(event) = self.pending_poses.remove(&peer)
                        {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        self.backlog.clear();
                        self.pending_poses.clear();
                    }
                },
            }
        }
        self.node.clear_inbound();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::EnterSpace(space, reply) => {
                let _ = reply.send(self.enter_space(space).await);
            }
            Command::Chat(text, reply) => {
                let envelope = self.node.sign(Body::Chat(Chat { text }));
                let result = self
                    .room_topic
                    .sender
                    .broadcast(Bytes::from(envelope.encode()))
                    .await
                    .map_err(|err| NetError::Gossip(err.to_string()));
                let _ = reply.send(result);
            }
            Command::Profile(name, color, shape) => {
                self.presence.name = name;
                self.presence.color = color;
                self.presence.shape = shape;
                self.broadcast_world(Body::Presence(self.presence.clone())).await;
            }
            Command::Pose(sample) => self.send_pose(sample),
            Command::Leave(reply) => {
                let _ = reply.send(());
            }
            #[cfg(feature = "test-utils")]
            Command::Raw(topic, bytes, reply) => {
                let sender = match topic {
                    RawTopic::World => &self.world_topic.sender,
                    RawTopic::Room => &self.room_topic.sender,
                };
                let result = sender
                    .broadcast(Bytes::from(bytes))
                    .await
                    .map_err(|err| NetError::Gossip(err.to_string()));
                let _ = reply.send(result);
            }
        }
    }

    async fn enter_space(&mut self, space: SpaceName) -> Result<(), NetError> {
        if space == self.presence.space {
            return Ok(());
        }
        let here: Vec<PeerId> = self.roster_in(&space);
        self.generation += 1;
        let topic = subscribe(
            &self.node,
            room_topic(&self.world, &space),
            &here,
            TopicKind::Room,
            self.generation,
            &self.inbound_tx,
        )
        .await?;
        self.room_topic = topic;
        self.presence.space = space.clone();
        if let Ok(mut current) = self.shared.space.lock() {
            *current = space;
        }
        self.publish_neighbors();
        self.positions.clear();
        self.broadcast_world(Body::Presence(self.presence.clone())).await;
        Ok(())
    }

    fn roster_in(&self, space: &SpaceName) -> Vec<PeerId> {
        self.shared
            .roster
            .lock()
            .map(|roster| {
                roster
                    .values()
                    .filter(|entry| &entry.presence.space == space)
                    .map(|entry| entry.peer)
                    .collect()
            })
            .unwrap_or_default()
    }

    async fn broadcast_world(&mut self, body: Body) {
        let envelope = self.node.sign(body);
        if let Err(err) = self
            .world_topic
            .sender
            .broadcast(Bytes::from(envelope.encode()))
            .await
        {
            tracing::warn!(%err, "could not broadcast on the world topic");
        }
    }

    /// Tells the world where this node can be dialed, so that peers who joined through
    /// someone else can open pose and direct-message connections to it.
    async fn broadcast_addrs(&mut self) {
        let addrs = DirectAddrs::new(self.node.addr().ip_addrs().copied());
        if !addrs.as_slice().is_empty() {
            self.broadcast_world(Body::Addrs(addrs)).await;
        }
    }

    /// Adds a peer's signed direct addresses to the node's address lookup.
    fn learn_addrs(&self, peer: PeerId, addrs: &DirectAddrs) {
        if addrs.as_slice().is_empty() {
            return;
        }
        if let Ok(id) = endpoint_id(peer) {
            self.node.add_peer_addr(EndpointAddr::from_parts(
                id,
                addrs.as_slice().iter().copied().map(TransportAddr::Ip),
            ));
        }
    }

    async fn leave(&mut self) {
        self.broadcast_world(Body::Leave).await;
        // Give gossip a moment to put the goodbye on the wire before the topics close.
        if !self.world_topic.neighbors.is_empty() {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    fn send_pose(&mut self, sample: PoseSample) {
        let now = Instant::now();
        let candidates: Vec<(PeerId, Option<[f32; 3]>)> = self
            .roster_in(&self.presence.space)
            .into_iter()
            .map(|peer| (peer, self.positions.get(&peer).copied()))
            .collect();
        let (near, far) = split_by_distance(sample.position, &candidates, self.config.near_pose_peers);
        let far_due = far.into_iter().filter(|peer| {
            self.last_far_pose
                .get(peer)
                .is_none_or(|at| now.duration_since(*at) >= self.config.far_pose_interval)
        });
        let targets: Vec<(PeerId, bool)> = near
            .into_iter()
            .map(|peer| (peer, false))
            .chain(far_due.map(|peer| (peer, true)))
            .collect();
        let pose = sample.quantize();
        for (peer, is_far) in targets {
            let Some(out) = self.node.dialer.ready(peer, ALPN_POSE) else {
                continue;
            };
            let seq = out.pose_seq.fetch_add(1, Ordering::Relaxed);
            let datagram = PoseDatagram { seq, pose }.encode();
            if let Err(err) = out.connection.send_datagram(Bytes::copy_from_slice(&datagram)) {
                tracing::debug!(%peer, %err, "could not send a pose datagram");
                continue;
            }
            if is_far {
                self.last_far_pose.insert(peer, now);
            }
        }
    }

    async fn inbound(&mut self, item: Inbound) {
        let now_ms = self.now_ms();
        match item {
            Inbound::Direct { from, bytes } => {
                let checked = self
                    .gate()
                    .map(|mut gate| gate.check_signed(&bytes, from, true, now_ms));
                match checked {
                    Some(Ok(accepted)) => match accepted.body {
                        Body::Chat(chat) => self.emit(WorldEvent::Direct {
                            peer: accepted.author,
                            text: chat.text,
                        }),
                        _ => self.reject(Some(from), RejectReason::Unexpected, now_ms),
                    },
                    Some(Err(rejection)) => self.rejected(rejection),
                    None => {}
                }
            }
            Inbound::Refused { from, reason } => self.reject(Some(from), reason, now_ms),
            Inbound::Pose {
                from,
                connection,
                bytes,
            } => {
                let checked = self
                    .gate()
                    .map(|mut gate| gate.check_pose(&bytes, from, connection, now_ms));
                match checked {
                    Some(Ok(datagram)) => {
                        let pose = datagram.pose.dequantize();
                        self.positions.insert(from, pose.position);
                        self.emit(WorldEvent::Pose {
                            peer: from,
                            pose,
                            seq: datagram.seq,
                        });
                    }
                    Some(Err(rejection)) => self.rejected(rejection),
                    None => {}
                }
            }
            Inbound::Gossip {
                kind,
                generation,
                event,
            } => {
                if kind == TopicKind::Room && generation != self.room_topic.generation {
                    return;
                }
                self.gossip(kind, event, now_ms).await;
            }
            Inbound::TopicClosed { kind, generation } => {
                self.renew_topic(kind, generation).await;
            }
        }
    }

    async fn renew_topic(&mut self, kind: TopicKind, generation: u64) {
        let current = match kind {
            TopicKind::World => self.world_topic.generation,
            TopicKind::Room => self.room_topic.generation,
        };
        if generation != current {
            return;
        }
        tracing::warn!(?kind, "gossip subscription ended; subscribing again");
        self.generation += 1;
        let mut peers: Vec<PeerId> = match kind {
            TopicKind::World => self
                .shared
                .roster
                .lock()
                .map(|r| r.keys().copied().collect())
                .unwrap_or_default(),
            TopicKind::Room => self.roster_in(&self.presence.space),
        };
        peers.extend(self.bootstrap.iter().copied());
        let id = match kind {
            TopicKind::World => world_topic(&self.world),
            TopicKind::Room => room_topic(&self.world, &self.presence.space),
        };
        match subscribe(&self.node, id, &peers, kind, self.generation, &self.inbound_tx).await {
            Ok(topic) => match kind {
                TopicKind::World => self.world_topic = topic,
                TopicKind::Room => self.room_topic = topic,
            },
            Err(err) => tracing::warn!(%err, "could not subscribe again"),
        }
        self.publish_neighbors();
    }

    fn gate(&self) -> Option<std::sync::MutexGuard<'_, Gate>> {
        self.shared.gate.lock().ok()
    }

    async fn gossip(&mut self, kind: TopicKind, event: GossipEvent, now_ms: u64) {
        let topic = match kind {
            TopicKind::World => &mut self.world_topic,
            TopicKind::Room => &mut self.room_topic,
        };
        match event {
            GossipEvent::NeighborUp(id) => {
                topic.neighbors.insert(peer_id(id));
                self.publish_neighbors();
            }
            GossipEvent::NeighborDown(id) => {
                topic.neighbors.remove(&peer_id(id));
                self.publish_neighbors();
            }
            GossipEvent::Lagged => {
                tracing::warn!(?kind, "gossip subscription lagged: messages were lost");
                if let Some(mut gate) = self.gate() {
                    gate.reject_overflow(None, now_ms);
                }
            }
            GossipEvent::Received(message) => {
                let from = peer_id(message.delivered_from);
                let checked = self
                    .gate()
                    .map(|mut gate| gate.check_signed(&message.content, from, false, now_ms));
                match checked {
                    Some(Ok(accepted)) if accepted.author == self.node.peer_id() => {
                        // Our own message relayed back to us: honest gossip can do this
                        // (a neighbour grafting or rejoining), so nobody is blamed.
                        tracing::trace!(relay = %from, "our own message came back; ignored");
                    }
                    Some(Ok(accepted)) => match kind {
                        TopicKind::World => self.world_message(accepted.author, accepted.body, now_ms).await,
                        TopicKind::Room => {
                            self.room_message(accepted.author, accepted.seq, accepted.body, now_ms)
                        }
                    },
                    Some(Err(rejection)) => self.rejected(rejection),
                    None => {}
                }
            }
        }
    }

    async fn world_message(&mut self, peer: PeerId, body: Body, now_ms: u64) {
        match body {
            Body::Hello(presence) => {
                self.update_presence(peer, presence);
                // Answer so the newcomer learns about us without waiting for a heartbeat.
                self.broadcast_world(Body::Presence(self.presence.clone())).await;
                self.broadcast_addrs().await;
            }
            Body::Presence(presence) => self.update_presence(peer, presence),
            // Someone who joined through another peer knows only that peer's address (and
            // what gossip happens to pass on): this is how it learns everyone else's.
            Body::Addrs(addrs) => self.learn_addrs(peer, &addrs),
            Body::Leave => self.remove_peer(peer, LeaveReason::Leave),
            Body::Chat(_) | Body::Pose(_) => self.reject(Some(peer), RejectReason::Unexpected, now_ms),
        }
    }

    fn room_message(&mut self, peer: PeerId, seq: u64, body: Body, now_ms: u64) {
        self.touch(peer);
        match body {
            Body::Chat(chat) => self.emit(WorldEvent::Chat {
                peer,
                space: self.presence.space.clone(),
                text: chat.text,
            }),
            Body::Pose(pose) => {
                let pose = pose.dequantize();
                self.positions.insert(peer, pose.position);
                self.emit(WorldEvent::Pose {
                    peer,
                    pose,
                    seq: seq as u32,
                });
            }
            Body::Hello(_) | Body::Presence(_) | Body::Leave | Body::Addrs(_) => {
                self.reject(Some(peer), RejectReason::Unexpected, now_ms)
            }
        }
    }

    fn touch(&self, peer: PeerId) {
        if let Ok(mut roster) = self.shared.roster.lock()
            && let Some(entry) = roster.get_mut(&peer)
        {
            entry.last_seen = Instant::now();
        }
    }

    fn update_presence(&mut self, peer: PeerId, presence: Presence) {
        let previous = self.shared.roster.lock().ok().and_then(|mut roster| {
            roster
                .insert(
                    peer,
                    RosterEntry {
                        peer,
                        presence: presence.clone(),
                        last_seen: Instant::now(),
                    },
                )
                .map(|entry| entry.presence)
        });
        if presence.space == self.presence.space
            && !self.room_topic.neighbors.contains(&peer)
            && self.room_topic.neighbors.len() < 4
            && let Ok(id) = endpoint_id(peer)
        {
            // They are in our space: make sure our room connects to them.
            let sender = self.room_topic.sender.clone();
            tokio::spawn(async move {
                let _ = sender.join_peers(vec![id]).await;
            });
        }
        match previous {
            None => self.emit(WorldEvent::Joined { peer, presence }),
            Some(old) if old != presence => {
                if old.space != presence.space {
                    self.positions.remove(&peer);
                }
                self.emit(WorldEvent::PresenceChanged { peer, presence })
            }
            Some(_) => {}
        }
    }

    fn remove_peer(&mut self, peer: PeerId, reason: LeaveReason) {
        let removed = self
            .shared
            .roster
            .lock()
            .ok()
            .and_then(|mut roster| roster.remove(&peer));
        self.positions.remove(&peer);
        self.last_far_pose.remove(&peer);
        self.pending_poses.remove(&peer);
        self.node.dialer.forget(peer);
        if removed.is_some() {
            self.emit(WorldEvent::Left { peer, reason });
        }
    }

    fn sweep(&mut self) {
        let timeout = self.config.timeout;
        let gone: Vec<PeerId> = self
            .shared
            .roster
            .lock()
            .map(|roster| {
                roster
                    .values()
                    .filter(|entry| entry.last_seen.elapsed() > timeout)
                    .map(|entry| entry.peer)
                    .collect()
            })
            .unwrap_or_default();
        for peer in gone {
            self.remove_peer(peer, LeaveReason::TimedOut);
        }
    }

    fn publish_neighbors(&self) {
        if let Ok(mut neighbors) = self.shared.neighbors.lock() {
            *neighbors = (self.world_topic.neighbors.len(), self.room_topic.neighbors.len());
        }
    }

    fn reject(&mut self, peer: Option<PeerId>, reason: RejectReason, now_ms: u64) {
        let rejection = self.gate().map(|mut gate| gate.reject(peer, reason, now_ms));
        if let Some(rejection) = rejection {
            self.rejected(rejection);
        }
    }

    fn rejected(&mut self, rejection: crate::gate::Rejection) {
        if rejection.reason == RejectReason::Muted {
            return;
        }
        // Rejections are reported on a best-effort basis; the counters are authoritative.
        let _ = self.events_tx.try_send(WorldEvent::Rejected {
            peer: rejection.peer,
            reason: rejection.reason,
        });
    }

    fn emit(&mut self, event: WorldEvent) {
        if let WorldEvent::Pose { peer, .. } = &event {
            let peer = *peer;
            if self.pending_poses.is_empty() && self.backlog.is_empty() {
                match self.events_tx.try_send(event) {
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                    Err(mpsc::error::TrySendError::Full(event)) => {
                        self.pending_poses.insert(peer, event);
                        return;
                    }
                }
            }
            if self.pending_poses.insert(peer, event).is_some()
                && let Some(mut gate) = self.gate()
            {
                gate.note_coalesced_pose();
            }
            return;
        }
        if self.backlog.is_empty() {
            match self.events_tx.try_send(event) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => return,
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.backlog.push_back(event);
                    return;
                }
            }
        }
        if self.backlog.len() < BACKLOG_MAX {
            self.backlog.push_back(event);
        } else {
            self.shared.dropped_events.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("events queue and backlog full: dropped an event");
        }
    }
}

/// Splits `peers` into the `near_cap` nearest to `own` (peers with no known position come
/// last) and the rest.
pub(crate) fn split_by_distance(
    own: [f32; 3],
    peers: &[(PeerId, Option<[f32; 3]>)],
    near_cap: usize,
) -> (Vec<PeerId>, Vec<PeerId>) {
    let distance = |position: &Option<[f32; 3]>| match position {
        Some(p) => {
            let d = (p[0] - own[0]).powi(2) + (p[1] - own[1]).powi(2) + (p[2] - own[2]).powi(2);
            if d.is_finite() { d } else { f32::MAX }
        }
        None => f32::MAX,
    };
    let mut sorted: Vec<(f32, PeerId)> = peers.iter().map(|(peer, pos)| (distance(pos), *peer)).collect();
    sorted.sort_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    let far = sorted.split_off(near_cap.min(sorted.len()));
    (
        sorted.into_iter().map(|(_, peer)| peer).collect(),
        far.into_iter().map(|(_, peer)| peer).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        sanctuary_protocols::Keypair::from_bytes(&[n; 32]).peer_id()
    }

    #[test]
    fn nearest_peers_get_full_rate() {
        let peers: Vec<_> = (1..=40u8)
            .map(|n| (peer(n), Some([f32::from(n), 0.0, 0.0])))
            .collect();
        let (near, far) = split_by_distance([0.0; 3], &peers, 32);
        assert_eq!(near.len(), 32);
        assert_eq!(far.len(), 8);
        assert_eq!(near[0], peer(1));
        assert!(far.contains(&peer(40)));
        let (near, far) = split_by_distance([0.0; 3], &[(peer(1), None), (peer(2), Some([5.0; 3]))], 1);
        assert_eq!((near, far), (vec![peer(2)], vec![peer(1)]));
    }

    #[test]
    fn topics_differ_per_world_and_space() {
        let w1 = WorldId([1; 32]);
        let w2 = WorldId([2; 32]);
        let lobby = SpaceName::new("lobby").unwrap();
        let market = SpaceName::new("market").unwrap();
        let all = [
            world_topic(&w1),
            world_topic(&w2),
            room_topic(&w1, &lobby),
            room_topic(&w1, &market),
            room_topic(&w2, &lobby),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(room_topic(&w1, &lobby), room_topic(&w1, &lobby));
    }
}
