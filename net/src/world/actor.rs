//! The task that is this node's presence in one world: it owns the subscriptions, the
//! roster and the events queue, checks everything that arrives, and sends heartbeats and
//! poses. It never awaits the network inline where that could stall the loop for long:
//! subscriptions that fail are retried on a timer, and sends are short.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use iroh::{EndpointAddr, TransportAddr};
use iroh_gossip::api::{Event as GossipEvent, GossipSender};
use sanctuary_protocols::alpn::ALPN_POSE;
use sanctuary_protocols::build::sync::SyncRequest;
use sanctuary_protocols::build::{BuildState, RecordBatch, SignedRecord};
use sanctuary_protocols::history::{EarlierChat, HistoryAnswer, HistoryLine, HistoryRequest};
use sanctuary_protocols::limits::{BUILD_BATCH_MAX, EARSHOT_M, ROSTER_MAX, VOICE_LISTENERS_MAX};
use sanctuary_protocols::{
    Body, Chat, Context, DirectAddrs, PeerId, PoseDatagram, PoseSample, Presence, RateLimiter, SpaceName,
    VoiceDatagram, WorldId,
};
use tokio::sync::mpsc;

#[cfg(feature = "test-utils")]
use super::RawTopic;
use super::events::EventQueue;
use super::history::{self, HISTORY_ASKS_MAX};
use super::poses::{Candidate, split_by_distance, squared_distance};
use super::topics::{Topic, room_topic, subscribe, world_topic};
use super::{Command, JoinTarget, LeaveReason, WorldConfig, WorldEvent, WorldShared};
use crate::build::sync::fetch;
use crate::build::{BuildHandle, Offered};
use crate::error::NetError;
use crate::gate::{Gate, Origin, RejectReason, Rejection};
use crate::inbound::{Inbound, TopicKind};
use crate::node::{Node, endpoint_id, peer_id, unix_ms};
use crate::roster::PresenceUpdate;

/// Capacity of the actor's inbound queue.
pub(crate) const INBOUND_CAPACITY: usize = 4096;

/// First wait before subscribing again after a failed subscription; doubles up to
/// [`RESUBSCRIBE_MAX`].
const RESUBSCRIBE_FIRST: Duration = Duration::from_millis(500);
const RESUBSCRIBE_MAX: Duration = Duration::from_secs(30);

/// Longest a broadcast may wait for gossip to take it (see [`Actor::broadcast`]).
const GOSSIP_SEND_TIMEOUT: Duration = Duration::from_millis(500);
/// How long broadcasts are dropped at once after one stalled.
const GOSSIP_STALL_BACKOFF: Duration = Duration::from_secs(2);

/// While a peer's pose datagrams arrive within this, its poses on the room topic are
/// skipped.
const DATAGRAMS_FRESH: Duration = Duration::from_millis(1500);

/// How long after joining a full roster means the world was full before we came (at least
/// three heartbeats).
const JOIN_GRACE: Duration = Duration::from_secs(5);

/// Room neighbours we ask gossip to add when someone enters our space.
const ROOM_NEIGHBOURS_WANTED: usize = 4;

pub(crate) struct Actor {
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
    events: EventQueue,
    started: Instant,
    /// A subscription to renew, when, and the wait after the next failure.
    resubscribe: Option<(TopicKind, Instant, Duration)>,
    /// Whether the world was found full right after we joined (reported once).
    full_reported: bool,
    /// When our pose last went out on the room topic.
    last_room_pose: Option<Instant>,
    /// Whether our hello has gone out (to the first neighbour on the world topic).
    hello_sent: bool,
    /// Gossip stalled: until when broadcasts are dropped without waiting.
    stalled_until: Option<Instant>,
    /// Building, when set up for this world.
    build: Option<Building>,
    /// The latest signed presence (hello or presence) of each roster member, as it came:
    /// what names their lines in the chat we keep. Bounded by the roster.
    presences: HashMap<PeerId, Vec<u8>>,
    /// Our own latest signed presence as it went out, for our lines in the chat we keep.
    own_presence: Option<Vec<u8>>,
    /// Asking for the earlier chat of the room we are in.
    earlier: Earlier,
    /// The earlier chat being written to disk, if a write is under way.
    chat_writing: Option<tokio::task::JoinHandle<()>>,
}

/// How long after entering a space we ask room neighbours for its earlier chat: those
/// who come later know no more than we do.
const EARLIER_CHAT_WINDOW: Duration = Duration::from_secs(20);

/// Where asking for the room's earlier chat stands.
#[derive(Debug)]
struct Earlier {
    /// When we entered the space.
    since: Instant,
    /// Counts the spaces entered, so that an answer about an earlier visit is dropped.
    round: u64,
    /// Neighbours asked so far (at most [`HISTORY_ASKS_MAX`]).
    asked: Vec<PeerId>,
    /// An answer is awaited.
    asking: bool,
    /// Some neighbour told us something.
    told: bool,
}

impl Earlier {
    fn new(round: u64) -> Self {
        Self {
            since: Instant::now(),
            round,
            asked: Vec::new(),
            asking: false,
            told: false,
        }
    }
}

/// The actor's part in building: the shared documents, our edits on their way to the room,
/// and the syncs asked for.
struct Building {
    handle: BuildHandle,
    outbox: mpsc::Receiver<(SpaceName, Vec<SignedRecord>)>,
    /// When we last said what we hold.
    state_sent: Option<Instant>,
    /// A sync is under way.
    syncing: bool,
    /// When each peer may be asked for a sync again: after [`SYNC_AGAIN_AFTER`], or
    /// [`SYNC_AGAIN_UNDER_OTHER_RULES`] when its rules differ. Bounded by [`ROSTER_MAX`].
    asked: HashMap<PeerId, Asked>,
    /// Paces our building messages.
    pace: RateLimiter,
}

/// Most building messages we send a second, well under what receivers take from one peer
/// ([`MESSAGE_RATE_PER_PEER`](sanctuary_protocols::limits::MESSAGE_RATE_PER_PEER)) so
/// that presence and chat still fit.
const BUILD_MESSAGES_PER_SECOND: u32 = 10;

/// Shortest wait before asking the same peer for a sync again.
const SYNC_AGAIN_AFTER: Duration = Duration::from_secs(10);

/// Shortest wait before asking again a peer whose building rules differ from ours: its
/// document can never come to match ours, so syncing often would be in vain (what it
/// holds that our rules allow still comes, now and then).
const SYNC_AGAIN_UNDER_OTHER_RULES: Duration = Duration::from_secs(300);

/// Whether to ask a peer that holds something else for a sync at `now`, given when it was
/// `earlier` asked and whether its rules differ from ours: the next [`Asked`], and whether
/// to tell the person that its rules differ (the first time they are seen to).
fn plan_sync(earlier: Option<Asked>, now: Instant, other_rules: bool) -> Option<(Asked, bool)> {
    if earlier.is_some_and(|asked| now < asked.again) {
        return None;
    }
    let tell = other_rules && !earlier.is_some_and(|asked| asked.other_rules);
    let wait = if other_rules {
        SYNC_AGAIN_UNDER_OTHER_RULES
    } else {
        SYNC_AGAIN_AFTER
    };
    Some((
        Asked {
            again: now + wait,
            other_rules,
        },
        tell,
    ))
}

/// When a peer was asked for a sync.
#[derive(Debug, Clone, Copy)]
struct Asked {
    /// It may be asked again from then on.
    again: Instant,
    /// Its rules differed from ours (the person has been told).
    other_rules: bool,
}

impl Actor {
    /// Subscribes to the world topic and the first room.
    pub async fn start(
        node: Node,
        target: JoinTarget,
        presence: Presence,
        config: WorldConfig,
        shared: Arc<WorldShared>,
        inbound_tx: mpsc::Sender<Inbound>,
        events_tx: mpsc::Sender<WorldEvent>,
        build: Option<(BuildHandle, mpsc::Receiver<(SpaceName, Vec<SignedRecord>)>)>,
    ) -> Result<Self, NetError> {
        let mut bootstrap = Vec::new();
        for addr in target.bootstrap {
            if addr.id != node.endpoint.id() {
                bootstrap.push(peer_id(addr.id));
                node.add_peer_addr(addr);
            }
        }
        let world_topic = subscribe(
            &node,
            world_topic(&target.world),
            &bootstrap,
            TopicKind::World,
            0,
            &inbound_tx,
            &shared,
        )
        .await?;
        let room_topic = subscribe(
            &node,
            room_topic(&target.world, &presence.space),
            &bootstrap,
            TopicKind::Room,
            0,
            &inbound_tx,
            &shared,
        )
        .await?;
        node.shared.history.enter(target.world, presence.space.clone());
        Ok(Self {
            node,
            world: target.world,
            config,
            presence,
            shared,
            world_topic,
            room_topic,
            bootstrap,
            inbound_tx,
            generation: 0,
            events: EventQueue::new(events_tx),
            started: Instant::now(),
            resubscribe: None,
            full_reported: false,
            last_room_pose: None,
            hello_sent: false,
            stalled_until: None,
            build: build.map(|(handle, outbox)| Building {
                handle,
                outbox,
                state_sent: None,
                syncing: false,
                asked: HashMap::new(),
                pace: RateLimiter::new(BUILD_MESSAGES_PER_SECOND, BUILD_MESSAGES_PER_SECOND),
            }),
            presences: HashMap::new(),
            own_presence: None,
            earlier: Earlier::new(0),
            chat_writing: None,
        })
    }

    pub async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut inbound: mpsc::Receiver<Inbound>) {
        // The hello goes out when the world topic has its first neighbour: broadcast
        // before that, it would reach nobody.
        let mut heartbeat = tokio::time::interval(self.config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let sweep_every = (self.config.timeout / 5).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let events_tx = self.events.sender();
        self.restore_chat();
        loop {
            let waiting = self.events.waiting();
            let retry_at = self
                .resubscribe
                .map(|(_, at, _)| tokio::time::Instant::from_std(at));
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
                _ = heartbeat.tick(), if !self.config.observer => {
                    self.broadcast_world(Body::Presence(self.presence.clone())).await;
                    self.broadcast_addrs().await;
                    self.say_build_state().await;
                }
                Some((space, records)) = next_edits(&mut self.build) => self.send_edits(space, records).await,
                _ = sweep.tick() => {
                    self.sweep();
                    self.save_chat();
                }
                _ = sleep_until(retry_at), if retry_at.is_some() => {
                    if let Some((kind, _, wait)) = self.resubscribe.take() {
                        self.renew(kind, wait).await;
                    }
                }
                permit = events_tx.reserve(), if waiting => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.events.next_waiting() {
                            permit.send(event);
                        }
                    }
                    Err(_) => self.events.clear(),
                },
            }
        }
        self.flush_chat().await;
        self.node.clear_inbound();
        self.node.shared.build.set(None);
        self.node.shared.history.clear();
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn world_context(&self) -> Context {
        Context::world(self.world)
    }

    fn room_context(&self) -> Context {
        Context::room(self.world, self.presence.space.clone())
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::EnterSpace(space, reply) => {
                let _ = reply.send(self.enter_space(space).await);
            }
            Command::Chat(text, reply) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                let envelope = self.node.sign(&self.room_context(), Body::Chat(Chat { text }));
                let bytes = envelope.encode();
                let sender = self.room_topic.sender.clone();
                let result = self.broadcast(&sender, bytes.clone()).await;
                if result.is_ok() {
                    let line = HistoryLine {
                        chat: bytes,
                        presence: self.own_presence.clone(),
                    };
                    self.node
                        .shared
                        .history
                        .said(envelope.author(), envelope.seq(), line);
                }
                let _ = reply.send(result);
            }
            Command::App(message, reply) => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                let envelope = self.node.sign(&self.world_context(), Body::App(message));
                let sender = self.world_topic.sender.clone();
                let result = self.broadcast(&sender, envelope.encode()).await;
                let _ = reply.send(result);
            }
            Command::Profile(name, color, shape) => {
                self.presence.name = name;
                self.presence.color = color;
                self.presence.shape = shape;
                if !self.config.observer {
                    self.broadcast_world(Body::Presence(self.presence.clone())).await;
                }
            }
            Command::Pose(sample) => {
                if !self.config.observer {
                    self.send_pose(sample).await;
                }
            }
            Command::Leave(reply) => {
                let _ = reply.send(());
            }
            #[cfg(feature = "test-utils")]
            Command::Raw(topic, bytes, reply) => {
                let sender = match topic {
                    RawTopic::World => self.world_topic.sender.clone(),
                    RawTopic::Room => self.room_topic.sender.clone(),
                };
                let result = self.broadcast(&sender, bytes).await;
                let _ = reply.send(result);
            }
        }
    }

    async fn enter_space(&mut self, space: SpaceName) -> Result<(), NetError> {
        if space == self.presence.space {
            return Ok(());
        }
        let here: Vec<PeerId> = self.roster_in(&space).into_iter().map(|(peer, _)| peer).collect();
        self.generation += 1;
        let topic = subscribe(
            &self.node,
            room_topic(&self.world, &space),
            &here,
            TopicKind::Room,
            self.generation,
            &self.inbound_tx,
            &self.shared,
        )
        .await?;
        self.room_topic = topic;
        // What was said in the space we leave is written before it is forgotten.
        self.flush_chat().await;
        self.presence.space = space.clone();
        self.node.shared.history.enter(self.world, space.clone());
        self.earlier = Earlier::new(self.earlier.round + 1);
        self.restore_chat();
        if let Ok(mut current) = self.shared.space.lock() {
            *current = space;
        }
        self.publish_neighbors();
        if !self.config.observer {
            self.broadcast_world(Body::Presence(self.presence.clone())).await;
        }
        if let Some(build) = &mut self.build {
            build.state_sent = None;
            build.syncing = false;
        }
        Ok(())
    }

    fn roster_in(&self, space: &SpaceName) -> Vec<(PeerId, Option<[f32; 3]>)> {
        self.shared
            .roster
            .lock()
            .map(|roster| roster.in_space(space))
            .unwrap_or_default()
    }

    async fn broadcast_world(&mut self, body: Body) {
        self.shared.sent.fetch_add(1, Ordering::Relaxed);
        let names_us = matches!(body, Body::Hello(_) | Body::Presence(_));
        let bytes = self.node.sign(&self.world_context(), body).encode();
        if names_us {
            self.own_presence = Some(bytes.clone());
        }
        let sender = self.world_topic.sender.clone();
        if let Err(err) = self.broadcast(&sender, bytes).await {
            tracing::warn!(%err, "could not broadcast on the world topic");
        }
    }

    /// Hands `bytes` to gossip, waiting at most [`GOSSIP_SEND_TIMEOUT`]. iroh-gossip's
    /// actor waits for a neighbour's full send queue while it handles a broadcast (its
    /// issue 47), so one neighbour that stops reading can stall it; without this limit it
    /// would stall this loop, and every event and pose with it. A stalled broadcast is
    /// dropped and counted ([`WorldHandle::gossip_stalls`](super::WorldHandle::gossip_stalls)).
    /// After a stall, broadcasts are dropped at once for [`GOSSIP_STALL_BACKOFF`], so that
    /// the loop does not spend its time waiting on gossip.
    async fn broadcast(&mut self, sender: &GossipSender, bytes: Vec<u8>) -> Result<(), NetError> {
        let stalled = || NetError::Gossip("gossip is stalled".into());
        if self.stalled_until.is_some_and(|until| Instant::now() < until) {
            self.shared.gossip_stalls.fetch_add(1, Ordering::Relaxed);
            return Err(stalled());
        }
        match tokio::time::timeout(GOSSIP_SEND_TIMEOUT, sender.broadcast(Bytes::from(bytes))).await {
            Ok(result) => {
                self.stalled_until = None;
                result.map_err(|err| NetError::Gossip(err.to_string()))
            }
            Err(_) => {
                self.shared.gossip_stalls.fetch_add(1, Ordering::Relaxed);
                self.stalled_until = Some(Instant::now() + GOSSIP_STALL_BACKOFF);
                tracing::warn!(
                    "gossip did not take a message within {GOSSIP_SEND_TIMEOUT:?}: a neighbour may have stopped reading"
                );
                Err(stalled())
            }
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

    /// Believes a roster member's signed direct addresses (as far as the roster allows) and
    /// adds them to the node's address lookup.
    fn learn_addrs(&self, peer: PeerId, addrs: &DirectAddrs) {
        let believed = self
            .shared
            .roster
            .lock()
            .map(|mut roster| roster.claim_addrs(peer, addrs.as_slice()))
            .unwrap_or_default();
        if believed.is_empty() {
            return;
        }
        if let Ok(id) = endpoint_id(peer) {
            self.node.add_peer_addr(EndpointAddr::from_parts(
                id,
                believed.into_iter().map(TransportAddr::Ip),
            ));
        }
    }

    async fn leave(&mut self) {
        if self.config.observer {
            return;
        }
        // A goodbye is worth one full try even right after a stall: without it, everyone
        // waits for the timeout to notice we left.
        self.stalled_until = None;
        self.broadcast_world(Body::Leave).await;
        // Give gossip a moment to put the goodbye on the wire before the topics close.
        if !self.world_topic.neighbors.is_empty() {
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Sends our pose as datagrams to the nearest peers in our space, and about once per
    /// [`WorldConfig::far_pose_interval`] on the room topic, where everyone else in the
    /// space (and silent observers) gets it.
    async fn send_pose(&mut self, sample: PoseSample) {
        let here = self.roster_in(&self.presence.space);
        let peers: Vec<PeerId> = here.iter().map(|(peer, _)| *peer).collect();
        let reach = self.node.dialer.reach(&peers, ALPN_POSE);
        let candidates: Vec<Candidate> = here
            .into_iter()
            .zip(reach)
            .map(|((peer, position), reach)| Candidate {
                peer,
                position,
                reach,
            })
            .collect();
        let turn = self.started.elapsed().as_secs();
        self.update_earshot(sample.position, &candidates);
        let (near, _far) = split_by_distance(sample.position, &candidates, self.config.near_pose_peers, turn);
        let pose = sample.quantize();
        for peer in near {
            let Some(out) = self.node.dialer.ready(peer, ALPN_POSE) else {
                continue;
            };
            let seq = out.pose_seq.fetch_add(1, Ordering::Relaxed);
            let datagram = PoseDatagram { seq, pose }.encode();
            if let Err(err) = out.connection.send_datagram(Bytes::copy_from_slice(&datagram)) {
                tracing::debug!(%peer, %err, "could not send a pose datagram");
            }
        }
        let now = Instant::now();
        if self
            .last_room_pose
            .is_none_or(|at| now.duration_since(at) >= self.config.far_pose_interval)
        {
            self.last_room_pose = Some(now);
            self.shared.sent.fetch_add(1, Ordering::Relaxed);
            let envelope = self.node.sign(&self.room_context(), Body::Pose(pose));
            let sender = self.room_topic.sender.clone();
            if let Err(err) = self.broadcast(&sender, envelope.encode()).await {
                tracing::debug!(%err, "could not send a pose on the room topic");
            }
        }
    }

    /// Works out who hears our voice: peers in our space whose position we know, within
    /// [`EARSHOT_M`], nearest first, at most [`VOICE_LISTENERS_MAX`].
    fn update_earshot(&self, own: [f32; 3], candidates: &[Candidate]) {
        let mut near: Vec<(f32, PeerId)> = candidates
            .iter()
            .filter_map(|candidate| {
                let squared = squared_distance(own, candidate.position?);
                (squared < EARSHOT_M * EARSHOT_M).then_some((squared, candidate.peer))
            })
            .collect();
        near.sort_by(|a, b| a.0.total_cmp(&b.0));
        near.truncate(VOICE_LISTENERS_MAX);
        if let Ok(mut earshot) = self.shared.earshot.lock() {
            *earshot = near.into_iter().map(|(_, peer)| peer).collect();
        }
    }

    async fn inbound(&mut self, item: Inbound) {
        let now_ms = self.now_ms();
        match item {
            Inbound::Direct { from, bytes } => {
                if !self.in_roster(&from) {
                    self.reject(None, RejectReason::Stranger, now_ms);
                    return;
                }
                let context = Context::direct(self.world, self.node.peer_id());
                let checked = self.check(&bytes, Origin::Direct(from), &context, now_ms);
                match checked {
                    Some(Ok(accepted)) => match accepted.body {
                        Body::Chat(chat) => self.emit(WorldEvent::Direct {
                            peer: accepted.author,
                            text: chat.text,
                        }),
                        Body::App(message) => self.emit(WorldEvent::App {
                            peer: accepted.author,
                            message,
                            direct: true,
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
                if !self.in_roster(&from) {
                    self.reject(None, RejectReason::Stranger, now_ms);
                    return;
                }
                let checked = self
                    .gate()
                    .map(|mut gate| gate.check_pose(&bytes, from, connection, now_ms));
                match checked {
                    Some(Ok(datagram)) => self.pose(from, datagram.pose.dequantize(), true),
                    Some(Err(rejection)) => self.rejected(rejection),
                    None => {}
                }
            }
            Inbound::Voice { from, bytes } => {
                if !self.in_roster(&from) {
                    self.reject(None, RejectReason::Stranger, now_ms);
                    return;
                }
                let checked = self.gate().map(|mut gate| gate.check_voice(&bytes, from, now_ms));
                match checked {
                    Some(Ok(VoiceDatagram::Frame(packet))) => self
                        .events
                        .emit_lossy(WorldEvent::Voice { peer: from, packet }, &self.shared),
                    Some(Ok(VoiceDatagram::Report(report))) => self
                        .events
                        .emit_lossy(WorldEvent::VoiceReport { peer: from, report }, &self.shared),
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
            Inbound::BuildSynced { space, peer, result } => self.build_synced(space, peer, result),
            Inbound::History {
                round,
                space,
                peer,
                result,
            } => {
                if round == self.earlier.round {
                    self.earlier_chat(space, peer, result);
                }
            }
            Inbound::TopicClosed { kind, generation } => {
                let current = match kind {
                    TopicKind::World => self.world_topic.generation,
                    TopicKind::Room => self.room_topic.generation,
                };
                if generation == current {
                    tracing::warn!(?kind, "gossip subscription ended; subscribing again");
                    self.renew(kind, RESUBSCRIBE_FIRST).await;
                }
            }
        }
    }

    /// Subscribes to the `kind` topic again; on failure, tries again after `wait`, then
    /// after twice as long, up to [`RESUBSCRIBE_MAX`].
    async fn renew(&mut self, kind: TopicKind, wait: Duration) {
        self.generation += 1;
        let mut peers: Vec<PeerId> = match kind {
            TopicKind::World => self
                .shared
                .roster
                .lock()
                .map(|roster| roster.peers().copied().collect())
                .unwrap_or_default(),
            TopicKind::Room => self
                .roster_in(&self.presence.space)
                .into_iter()
                .map(|(peer, _)| peer)
                .collect(),
        };
        peers.extend(self.bootstrap.iter().copied());
        let id = match kind {
            TopicKind::World => world_topic(&self.world),
            TopicKind::Room => room_topic(&self.world, &self.presence.space),
        };
        match subscribe(
            &self.node,
            id,
            &peers,
            kind,
            self.generation,
            &self.inbound_tx,
            &self.shared,
        )
        .await
        {
            Ok(topic) => {
                match kind {
                    TopicKind::World => self.world_topic = topic,
                    TopicKind::Room => self.room_topic = topic,
                }
                self.resubscribe = None;
            }
            Err(err) => {
                tracing::warn!(%err, ?kind, retry_in = ?wait, "could not subscribe again");
                self.resubscribe = Some((kind, Instant::now() + wait, (wait * 2).min(RESUBSCRIBE_MAX)));
            }
        }
        self.publish_neighbors();
    }

    fn gate(&self) -> Option<std::sync::MutexGuard<'_, Gate>> {
        self.shared.gate.lock().ok()
    }

    fn check(
        &self,
        bytes: &[u8],
        origin: Origin,
        context: &Context,
        now_ms: u64,
    ) -> Option<Result<crate::gate::Accepted, Rejection>> {
        let now_unix_ms = unix_ms();
        self.gate()
            .map(|mut gate| gate.check_signed(bytes, origin, context, now_ms, now_unix_ms))
    }

    fn in_roster(&self, peer: &PeerId) -> bool {
        self.shared
            .roster
            .lock()
            .is_ok_and(|roster| roster.contains(peer))
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
                if kind == TopicKind::Room {
                    self.ask_earlier_chat(peer_id(id));
                }
                if kind == TopicKind::World && !self.hello_sent && !self.config.observer {
                    self.hello_sent = true;
                    self.broadcast_world(Body::Hello(self.presence.clone())).await;
                    self.broadcast_addrs().await;
                }
            }
            GossipEvent::NeighborDown(id) => {
                topic.neighbors.remove(&peer_id(id));
                self.publish_neighbors();
            }
            GossipEvent::Lagged => {
                tracing::warn!(?kind, "gossip subscription lagged: messages were lost");
                if let Some(mut gate) = self.gate() {
                    gate.reject_overflow(now_ms);
                }
            }
            GossipEvent::Received(message) => {
                let origin = Origin::Gossip {
                    neighbour: peer_id(message.delivered_from),
                    published: message.scope.is_direct(),
                };
                let context = match kind {
                    TopicKind::World => self.world_context(),
                    TopicKind::Room => self.room_context(),
                };
                match self.check(&message.content, origin, &context, now_ms) {
                    Some(Ok(accepted)) => match kind {
                        TopicKind::World => {
                            let (author, names) = (
                                accepted.author,
                                matches!(accepted.body, Body::Hello(_) | Body::Presence(_)),
                            );
                            self.world_message(accepted.author, accepted.seq, accepted.body, now_ms)
                                .await;
                            if names && self.in_roster(&author) {
                                self.presences.insert(author, message.content.to_vec());
                            }
                        }
                        TopicKind::Room => {
                            if matches!(accepted.body, Body::Chat(_)) && self.in_roster(&accepted.author) {
                                let line = HistoryLine {
                                    chat: message.content.to_vec(),
                                    presence: self.presences.get(&accepted.author).cloned(),
                                };
                                self.node.shared.history.said(accepted.author, accepted.seq, line);
                            }
                            self.room_message(accepted.author, accepted.body, now_ms)
                        }
                    },
                    Some(Err(rejection)) => self.rejected(rejection),
                    None => {}
                }
            }
        }
    }

    async fn world_message(&mut self, peer: PeerId, seq: u64, body: Body, now_ms: u64) {
        match body {
            Body::Hello(presence) => {
                let update = self.update_presence(peer, seq, presence);
                let answer = !self.config.observer
                    && update == PresenceUpdate::Joined
                    && self.shared.roster.lock().is_ok_and(|roster| {
                        roster.should_answer_hello(self.node.peer_id(), peer, self.config.hello_responders)
                    });
                if answer {
                    // A few of us answer at once; the newcomer hears from the rest at
                    // their next heartbeat.
                    self.broadcast_world(Body::Presence(self.presence.clone())).await;
                    self.broadcast_addrs().await;
                }
            }
            Body::Presence(presence) => {
                self.update_presence(peer, seq, presence);
            }
            // Someone who joined through another peer knows only that peer's address (and
            // what gossip happens to pass on): this is how it learns everyone else's.
            Body::Addrs(addrs) => self.learn_addrs(peer, &addrs),
            Body::Leave => self.remove_peer(peer, LeaveReason::Leave),
            Body::App(message) => {
                // Like chat, app messages are taken only from people in the roster.
                if self.in_roster(&peer) {
                    self.emit(WorldEvent::App {
                        peer,
                        message,
                        direct: false,
                    });
                } else {
                    self.reject(None, RejectReason::Stranger, now_ms);
                }
            }
            Body::Chat(_) | Body::Pose(_) | Body::Build(_) | Body::BuildState(_) => {
                self.reject(Some(peer), RejectReason::Unexpected, now_ms)
            }
        }
    }

    fn room_message(&mut self, peer: PeerId, body: Body, now_ms: u64) {
        if !self.in_roster(&peer) {
            self.reject(None, RejectReason::Stranger, now_ms);
            return;
        }
        if let Ok(mut roster) = self.shared.roster.lock() {
            roster.touch(&peer, Instant::now());
        }
        match body {
            Body::Chat(chat) => self.emit(WorldEvent::Chat {
                peer,
                space: self.presence.space.clone(),
                text: chat.text,
            }),
            Body::Pose(pose) => self.pose(peer, pose.dequantize(), false),
            Body::Build(batch) => self.receive_edits(batch.into_records()),
            Body::BuildState(state) => self.maybe_sync(peer, state),
            Body::Hello(_) | Body::Presence(_) | Body::Leave | Body::Addrs(_) | Body::App(_) => {
                self.reject(Some(peer), RejectReason::Unexpected, now_ms)
            }
        }
    }

    /// Keeps what is new in records from the room and reports the pieces that changed.
    /// Refused records are counted by the store (they may be relayed in good faith, so
    /// the sender is not blamed).
    fn receive_edits(&mut self, records: Vec<SignedRecord>) {
        let Some(build) = &self.build else {
            return;
        };
        let space = self.presence.space.clone();
        match build.handle.store().offer(&space, records) {
            Ok(offered) => {
                if !offered.refused.is_empty() {
                    tracing::debug!(refused = offered.refused.len(), first = %offered.refused[0], "building records refused");
                }
                if !offered.changed.is_empty() {
                    self.emit(WorldEvent::Build {
                        space,
                        changed: offered.changed,
                    });
                }
            }
            Err(err) => tracing::debug!(%err, "building records not kept"),
        }
    }

    /// Sends our edits to the room of the space they were made in, if we are still there
    /// (otherwise peers get them from a sync). Edits waiting together go out together, and
    /// at most [`BUILD_MESSAGES_PER_SECOND`] messages a second: a burst past that (a big
    /// paste, a bot) is not sent live, and peers fetch it when they see that we hold
    /// something else.
    async fn send_edits(&mut self, space: SpaceName, mut records: Vec<SignedRecord>) {
        let Some(build) = &mut self.build else {
            return;
        };
        // Edits made in another space than ours now are not sent live (peers there fetch
        // them with a sync), so only ours are gathered; the others are left out here too.
        let here = self.presence.space.clone();
        if space != here {
            records.clear();
        }
        while records.len() < BUILD_BATCH_MAX * BUILD_MESSAGES_PER_SECOND as usize {
            match build.outbox.try_recv() {
                Ok((more_space, more)) if more_space == here => records.extend(more),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if records.is_empty() || self.config.observer {
            return;
        }
        let now_ms = self.now_ms();
        for page in records.chunks(BUILD_BATCH_MAX) {
            let Some(build) = &mut self.build else {
                return;
            };
            if !build.pace.try_acquire(now_ms) {
                tracing::debug!("building edits past the rate: peers fetch them with a sync");
                build.state_sent = None;
                return;
            }
            let Ok(batch) = RecordBatch::new(page.to_vec()) else {
                continue;
            };
            self.shared.sent.fetch_add(1, Ordering::Relaxed);
            let envelope = self.node.sign(&self.room_context(), Body::Build(batch));
            let sender = self.room_topic.sender.clone();
            if let Err(err) = self.broadcast(&sender, envelope.encode()).await {
                tracing::warn!(%err, "could not send building edits; peers get them with a sync");
            }
        }
    }

    /// Says on the room what we hold of the space's document, every
    /// [`BuildSetup::state_every`](crate::BuildSetup) and soon after entering a space, when
    /// we hold anything.
    async fn say_build_state(&mut self) {
        let Some(build) = &mut self.build else {
            return;
        };
        let every = build.handle.store().state_every();
        if build.state_sent.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        build.state_sent = Some(Instant::now());
        let Some(state) = build.handle.store().state(&self.presence.space) else {
            return;
        };
        if state.records == 0 {
            return;
        }
        self.shared.sent.fetch_add(1, Ordering::Relaxed);
        let envelope = self.node.sign(&self.room_context(), Body::BuildState(state));
        let sender = self.room_topic.sender.clone();
        if let Err(err) = self.broadcast(&sender, envelope.encode()).await {
            tracing::debug!(%err, "could not say what we hold");
        }
    }

    /// `peer` holds something else of our space's document: fetch theirs, in a task of its
    /// own, unless a sync is under way or we asked them lately.
    fn maybe_sync(&mut self, peer: PeerId, state: BuildState) {
        let Some(build) = &mut self.build else {
            return;
        };
        let space = self.presence.space.clone();
        let Some(ours) = build.handle.store().state(&space) else {
            return;
        };
        if ours.hash == state.hash || build.syncing {
            return;
        }
        let now = Instant::now();
        let earlier = build.asked.get(&peer).copied();
        let Some((asked, tell)) = plan_sync(earlier, now, ours.rules != state.rules) else {
            return;
        };
        if build.asked.len() >= ROSTER_MAX && earlier.is_none() {
            build.asked.retain(|_, asked| now < asked.again);
            if build.asked.len() >= ROSTER_MAX {
                return;
            }
        }
        if tell {
            let name = self
                .shared
                .roster
                .lock()
                .ok()
                .and_then(|roster| roster.get(&peer).map(|member| member.presence.name.to_string()))
                .unwrap_or_else(|| peer.to_string());
            build.handle.store().notice(format!(
                "{name} builds under other rules in {space} (their space file differs from yours): \
                 what either of you builds outside the other's rules shows only to its builder"
            ));
        }
        build.asked.insert(peer, asked);
        build.syncing = true;
        let store = build.handle.store().clone();
        let node = self.node.clone();
        let inbound = self.inbound_tx.clone();
        let request = SyncRequest {
            world: self.world,
            space: space.clone(),
            hash: ours.hash,
        };
        tokio::spawn(async move {
            let result = match fetch(&node, peer, request).await {
                Ok(records) => {
                    let space = space.clone();
                    // Counted with the offer, so that what a sync brought and the count
                    // of syncs are seen together.
                    tokio::task::spawn_blocking(move || {
                        let offered = store.offer(&space, records);
                        if offered.is_ok() {
                            store.counted_sync();
                        }
                        offered
                    })
                    .await
                    .map_err(|err| err.to_string())
                    .and_then(|offered| offered.map_err(|err| err.to_string()))
                }
                Err(err) => Err(err.to_string()),
            };
            let _ = inbound.send(Inbound::BuildSynced { space, peer, result }).await;
        });
    }

    /// Asks `neighbour`, new in our room, what was said there before we came, unless
    /// someone told us already, is being asked, or enough have been asked.
    fn ask_earlier_chat(&mut self, neighbour: PeerId) {
        let earlier = &mut self.earlier;
        if earlier.told
            || earlier.since.elapsed() > EARLIER_CHAT_WINDOW
            || earlier.asking
            || earlier.asked.len() >= HISTORY_ASKS_MAX
            || earlier.asked.contains(&neighbour)
        {
            return;
        }
        earlier.asked.push(neighbour);
        earlier.asking = true;
        let node = self.node.clone();
        let inbound = self.inbound_tx.clone();
        let space = self.presence.space.clone();
        let round = earlier.round;
        let request = HistoryRequest {
            world: self.world,
            space: space.clone(),
        };
        tokio::spawn(async move {
            let result = history::fetch(&node, neighbour, request)
                .await
                .map_err(|error| error.to_string());
            let _ = inbound
                .send(Inbound::History {
                    round,
                    space,
                    peer: neighbour,
                    result,
                })
                .await;
        });
    }

    /// Shows the earlier chat `peer` told us, oldest first by when each line says it was
    /// said, as far as each checks out (a line that does not is refused and blamed on the
    /// teller, who sent it; one dated ahead of now is left out), and keeps it to tell
    /// others. A teller that could not answer is followed by the next neighbour.
    fn earlier_chat(&mut self, space: SpaceName, peer: PeerId, result: Result<HistoryAnswer, String>) {
        if space != self.presence.space {
            return;
        }
        self.earlier.asking = false;
        let lines = match result {
            Ok(answer) => answer.lines,
            Err(error) => {
                tracing::debug!(%peer, %error, "no earlier chat");
                Vec::new()
            }
        };
        let (told, forged) = self.check_earlier(&space, lines);
        if forged {
            self.reject(Some(peer), RejectReason::BadSignature, self.now_ms());
        }
        if self.show_earlier(&space, told) {
            self.earlier.told = true;
        } else if let Some(next) = self
            .room_topic
            .neighbors
            .iter()
            .copied()
            .find(|neighbour| !self.earlier.asked.contains(neighbour))
        {
            self.ask_earlier_chat(next);
        }
    }

    /// The lines of `lines` that check out as said in `space` of this world, are not dated
    /// ahead and are not kept already, oldest first; and whether any did not check out.
    fn check_earlier(
        &self,
        space: &SpaceName,
        lines: Vec<HistoryLine>,
    ) -> (Vec<(EarlierChat, HistoryLine)>, bool) {
        let latest = unix_ms().saturating_add(sanctuary_protocols::limits::TIMESTAMP_SKEW_MAX_MS);
        let mut told: Vec<(EarlierChat, HistoryLine)> = Vec::new();
        let mut forged = false;
        for line in lines {
            match line.check(self.world, space) {
                Ok(said)
                    if said.said_ms <= latest
                        && !self.node.shared.history.holds(said.author, said.seq)
                        && !told
                            .iter()
                            .any(|(checked, _)| checked.author == said.author && checked.seq == said.seq) =>
                {
                    told.push((said, line));
                }
                Ok(_) => {}
                Err(_) => forged = true,
            }
        }
        told.sort_by_key(|(said, _)| (said.said_ms, said.author, said.seq));
        (told, forged)
    }

    /// Shows checked earlier lines of `space` and keeps them to tell others; whether there
    /// were any.
    fn show_earlier(&mut self, space: &SpaceName, told: Vec<(EarlierChat, HistoryLine)>) -> bool {
        let mut kept = Vec::new();
        for (said, line) in told {
            kept.push((said.author, said.seq, line));
            self.emit(WorldEvent::EarlierChat {
                peer: said.author,
                name: said.name,
                space: space.clone(),
                text: said.text,
                said_ms: said.said_ms,
            });
        }
        let any = !kept.is_empty();
        if any {
            self.node.shared.history.said_before(space, kept);
        }
        any
    }

    /// Where the earlier chat of `space` is kept on disk, if it is.
    fn chat_file(&self, space: &SpaceName) -> Option<std::path::PathBuf> {
        self.config
            .chat_folder
            .as_ref()
            .map(|folder| folder.join(space.as_str()))
    }

    /// Reads back the earlier chat kept on disk for the space we are in, checking every
    /// line as if a neighbour had told it (a file that does not read is left for the next
    /// save to replace).
    fn restore_chat(&mut self) {
        let space = self.presence.space.clone();
        let Some(path) = self.chat_file(&space) else {
            return;
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "the earlier chat kept here does not read");
                return;
            }
        };
        match HistoryAnswer::decode(&bytes) {
            Ok(answer) => {
                let (told, forged) = self.check_earlier(&space, answer.lines);
                if forged {
                    tracing::warn!(path = %path.display(), "lines of the earlier chat kept here do not check out: left out");
                }
                self.show_earlier(&space, told);
                // Read back, nothing new to write.
                self.node.shared.history.take_changed();
            }
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "the earlier chat kept here does not read");
            }
        }
    }

    /// Writes the earlier chat of the space we are in to disk if it changed since the last
    /// time: off the world's task (which carries poses), one write at a time (the next
    /// sweep writes what changed meanwhile), whole, synced and renamed over the old file.
    fn save_chat(&mut self) {
        if self
            .chat_writing
            .as_ref()
            .is_some_and(|writing| !writing.is_finished())
        {
            return;
        }
        let space = self.presence.space.clone();
        let Some(path) = self.chat_file(&space) else {
            return;
        };
        let Some(answer) = self.node.shared.history.kept(self.world, &space) else {
            return;
        };
        if !self.node.shared.history.take_changed() {
            return;
        }
        let bytes = answer.encode();
        self.chat_writing = Some(tokio::task::spawn_blocking(move || {
            let write = || -> std::io::Result<()> {
                if let Some(folder) = path.parent() {
                    std::fs::create_dir_all(folder)?;
                }
                let new = path.with_extension("new");
                let mut file = std::fs::File::create(&new)?;
                std::io::Write::write_all(&mut file, &bytes)?;
                file.sync_all()?;
                std::fs::rename(&new, &path)
            };
            if let Err(error) = write() {
                tracing::warn!(path = %path.display(), %error, "the earlier chat could not be kept on disk");
            }
        }));
    }

    /// Waits for the chat being written, then writes what changed since: on leaving a
    /// space or the world.
    async fn flush_chat(&mut self) {
        if let Some(writing) = self.chat_writing.take() {
            let _ = writing.await;
        }
        self.save_chat();
        if let Some(writing) = self.chat_writing.take() {
            let _ = writing.await;
        }
    }

    fn build_synced(&mut self, space: SpaceName, peer: PeerId, result: Result<Offered, String>) {
        let Some(build) = &mut self.build else {
            return;
        };
        if space != self.presence.space {
            return;
        }
        build.syncing = false;
        match result {
            Ok(offered) => {
                tracing::debug!(%peer, %space, changed = offered.changed.len(), refused = offered.refused.len(), "synced");
                if !offered.changed.is_empty() {
                    self.emit(WorldEvent::Build {
                        space,
                        changed: offered.changed,
                    });
                }
            }
            Err(err) => tracing::debug!(%peer, %err, "building sync failed"),
        }
    }

    /// Records a roster member's pose and reports it with the next number in its count.
    /// A pose from the room topic is skipped while the peer's datagrams arrive, since those
    /// are newer.
    fn pose(&mut self, peer: PeerId, pose: PoseSample, datagram: bool) {
        let seq = {
            let Ok(mut roster) = self.shared.roster.lock() else {
                return;
            };
            let Some(member) = roster.get_mut(&peer) else {
                return;
            };
            let now = Instant::now();
            if datagram {
                member.last_datagram = Some(now);
            } else if member
                .last_datagram
                .is_some_and(|at| now.duration_since(at) < DATAGRAMS_FRESH)
            {
                return;
            }
            member.position = Some(pose.position);
            member.pose_events = member.pose_events.wrapping_add(1);
            member.pose_events
        };
        self.emit(WorldEvent::Pose { peer, pose, seq });
    }

    fn update_presence(&mut self, peer: PeerId, seq: u64, presence: Presence) -> PresenceUpdate {
        let now = Instant::now();
        let (update, full) = match self.shared.roster.lock() {
            Ok(mut roster) => {
                let update = roster.update(peer, seq, presence.clone(), now);
                (update, roster.is_full().then_some(roster.capacity()))
            }
            Err(_) => return PresenceUpdate::Unchanged,
        };
        match &update {
            PresenceUpdate::Joined => self.emit(WorldEvent::Joined {
                peer,
                presence: presence.clone(),
            }),
            PresenceUpdate::Changed { .. } => self.emit(WorldEvent::PresenceChanged {
                peer,
                presence: presence.clone(),
            }),
            PresenceUpdate::Full => self.report_full(full),
            PresenceUpdate::Unchanged | PresenceUpdate::Outdated => {}
        }
        if matches!(update, PresenceUpdate::Joined | PresenceUpdate::Changed { .. })
            && presence.space == self.presence.space
            && !self.room_topic.neighbors.contains(&peer)
            && self.room_topic.neighbors.len() < ROOM_NEIGHBOURS_WANTED
            && let Ok(id) = endpoint_id(peer)
        {
            // They are in our space: make sure our room connects to them.
            let sender = self.room_topic.sender.clone();
            tokio::spawn(async move {
                let _ = sender.join_peers(vec![id]).await;
            });
        }
        update
    }

    /// A presence did not fit. Right after we joined, that means the world was full before
    /// we came, so the others will not list us either: say so once.
    fn report_full(&mut self, capacity: Option<usize>) {
        let just_joined = self.started.elapsed() < (self.config.heartbeat * 3).max(JOIN_GRACE);
        if let Some(capacity) = capacity
            && just_joined
            && !self.full_reported
            && !self.config.observer
        {
            self.full_reported = true;
            tracing::warn!(capacity, "this world is full");
            self.emit(WorldEvent::Full {
                capacity: capacity + 1,
            });
        }
    }

    fn remove_peer(&mut self, peer: PeerId, reason: LeaveReason) {
        let removed = self
            .shared
            .roster
            .lock()
            .ok()
            .and_then(|mut roster| roster.remove(&peer));
        self.events.forget(&peer);
        self.node.dialer.forget(peer);
        self.presences.remove(&peer);
        if let Some(build) = &mut self.build {
            build.asked.remove(&peer);
        }
        if removed.is_some() {
            self.emit(WorldEvent::Left { peer, reason });
        }
    }

    fn sweep(&mut self) {
        let gone = self
            .shared
            .roster
            .lock()
            .map(|roster| roster.silent_for(self.config.timeout, Instant::now()))
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

    fn rejected(&mut self, rejection: Rejection) {
        if matches!(
            rejection.reason,
            RejectReason::Muted | RejectReason::Flood | RejectReason::Echo
        ) {
            return;
        }
        // Rejections are reported on a best-effort basis; the counters are authoritative.
        self.events.try_emit(WorldEvent::Rejected {
            peer: rejection.peer,
            reason: rejection.reason,
        });
    }

    fn emit(&mut self, event: WorldEvent) {
        self.events.emit(event, &self.shared);
    }
}

/// Our next edits to send, or never when building is not set up.
async fn next_edits(build: &mut Option<Building>) -> Option<(SpaceName, Vec<SignedRecord>)> {
    match build {
        Some(build) => build.outbox.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_under_other_rules_is_asked_seldom_and_named_once() {
        let start = Instant::now();
        let (asked, tell) = plan_sync(None, start, false).expect("asked at once");
        assert!(!tell);
        assert_eq!(asked.again, start + SYNC_AGAIN_AFTER);
        assert!(plan_sync(Some(asked), start + SYNC_AGAIN_AFTER / 2, false).is_none());

        let later = start + SYNC_AGAIN_AFTER;
        let (asked, tell) = plan_sync(Some(asked), later, true).expect("asked again");
        assert!(tell, "the first time its rules differ, the person is told");
        assert_eq!(asked.again, later + SYNC_AGAIN_UNDER_OTHER_RULES);
        assert!(plan_sync(Some(asked), later + SYNC_AGAIN_AFTER, true).is_none());

        let much_later = later + SYNC_AGAIN_UNDER_OTHER_RULES;
        let (asked, tell) = plan_sync(Some(asked), much_later, true).expect("asked again");
        assert!(!tell, "told once, not every time");
        let (asked, _) = plan_sync(Some(asked), much_later + SYNC_AGAIN_UNDER_OTHER_RULES, false).unwrap();
        let (_, tell) = plan_sync(
            Some(asked),
            much_later + SYNC_AGAIN_UNDER_OTHER_RULES + SYNC_AGAIN_AFTER,
            true,
        )
        .unwrap();
        assert!(tell, "rules that differ again after agreeing are named again");
    }
}
