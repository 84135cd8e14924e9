//! The checks every incoming message passes before it becomes a [`WorldEvent`](crate::WorldEvent),
//! and the counters they keep.
//!
//! [`Gate`] is plain data with no I/O and no clock of its own (callers pass milliseconds from
//! a monotonic clock, and the Unix time for timestamps), so every rule here is unit tested.
//!
//! # Blame only what is proven
//!
//! Gossip forwards a message to our neighbours before we check it, so a message that fails a
//! check says nothing about the neighbour that delivered it, nor about the author it names.
//! Each message comes with its [`Origin`]: a direct connection (the remote end sent exactly
//! these bytes), a gossip neighbour that published the message itself (gossip's delivery
//! scope says it is the first hop), or a gossip relay. A refusal counts against a peer, and
//! towards muting it, only when that peer is [accountable](Origin::accountable) for the
//! bytes, or when the peer's own valid signature proves it wrote them (its rate, a message
//! of a kind that does not belong where it signed it). Everything else is counted without a
//! name.
//!
//! # Order of checks
//!
//! Signed messages go through [`Gate::check_signed`]: size, decode, the author's mute (so a
//! muted author costs no signature check), replay pre-check, signature against the
//! [`Context`] the message arrived in, timestamp window, per-author rate, then
//! [`ReplayGuard::accept`]. Gossip is also held to budgets that need no signature: per
//! delivering neighbour and per topic ([`Gate::admit_gossip`], run by the topic readers
//! before a message is even queued), so a flood of messages signed by fresh keys is dropped
//! where it enters, not after it has pushed honest traffic out of the queues.
//!
//! Pose datagrams go through [`Gate::check_pose`]: mute, length, per-peer rate, decode,
//! then a per-connection sequence check.
//!
//! # Bounded state
//!
//! Checking state is kept for at most [`MAX_TRACKED_PEERS`] authors and
//! [`MAX_NEIGHBOUR_BUDGETS`] neighbours. When the table is full, the author silent longest is
//! forgotten, but only once it has been silent for longer than
//! [`TIMESTAMP_SKEW_MAX_MS`](sanctuary_protocols::limits::TIMESTAMP_SKEW_MAX_MS): by then
//! every message it ever signed is refused as stale, so forgetting its replay window lets
//! nothing old back in. While every tracked author is more recent than that, messages from
//! new authors are refused as [`RejectReason::Flood`] instead: a crowd of fresh keys costs
//! its maker, not the peers already known.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sanctuary_protocols::limits::{MESSAGE_MAX, POSE_DATAGRAM_MAX, TIMESTAMP_SKEW_MAX_MS, VOICE_PAYLOAD_MAX};
use sanctuary_protocols::voice::VOICE_HEADER_LEN;
use sanctuary_protocols::{
    Body, Context, DecodeError, PeerId, PoseDatagram, RateLimiter, ReplayGuard, SignedEnvelope, VoiceDatagram,
};

/// Why an incoming message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Larger than the limit for its kind; refused before decoding.
    Oversized,
    /// Did not decode (or a pose datagram of the wrong length).
    Malformed,
    /// The signature does not match the claimed author and the context it arrived in (a
    /// forgery, or a message moved to another room, world or recipient).
    BadSignature,
    /// A sequence number already seen (or too old, or a pose older than the newest).
    Replay,
    /// The signed timestamp is too far from our clock.
    Stale,
    /// The author sent more than its rate allows.
    RateLimited,
    /// The author or peer is muted after too many provable rejections.
    Muted,
    /// A direct message whose author is not the peer on the other end of the connection.
    WrongSender,
    /// A valid message of a kind that does not belong where it came (e.g. chat on the
    /// world-wide topic).
    Unexpected,
    /// The events queue could not keep up and a message was dropped.
    Overflow,
    /// Dropped by a budget that needs no signature: the delivering neighbour or the topic
    /// sent more than its share, or the table of known authors is full of recent ones.
    Flood,
    /// A pose, chat, private or app message from a peer that is not in the roster.
    Stranger,
    /// One of our own messages, relayed back to us. Honest gossip does this now and then;
    /// it is dropped without blame and not counted as a refusal.
    Echo,
}

impl RejectReason {
    /// Every reason, in order.
    pub const ALL: [RejectReason; 13] = [
        Self::Oversized,
        Self::Malformed,
        Self::BadSignature,
        Self::Replay,
        Self::Stale,
        Self::RateLimited,
        Self::Muted,
        Self::WrongSender,
        Self::Unexpected,
        Self::Overflow,
        Self::Flood,
        Self::Stranger,
        Self::Echo,
    ];
}

/// Accepted and rejected counts of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Messages and datagrams accepted from this peer.
    pub accepted: u64,
    /// Messages and datagrams refused that this peer is provably responsible for.
    pub rejected: u64,
    /// Whether the peer was muted when the snapshot was taken.
    pub muted: bool,
}

/// A snapshot of what a world's receive path has accepted and refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages and datagrams accepted, all peers together.
    pub accepted: u64,
    /// Refusals by reason. Reasons with no refusals are absent.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// Counts per peer, for the peers whose checking state is kept (see the module docs).
    pub per_peer: HashMap<PeerId, PeerCounters>,
    /// Refusals that could not be pinned on any peer (relayed forgeries, replays, junk).
    pub rejected_unattributed: u64,
    /// Pose events replaced by a newer pose of the same peer while the events queue was
    /// full (newest wins; this is expected under load and not a refusal).
    pub poses_coalesced: u64,
}

impl Counters {
    /// How many messages were refused for `reason`.
    pub fn rejected(&self, reason: RejectReason) -> u64 {
        self.rejected.get(&reason).copied().unwrap_or(0)
    }

    /// All refusals, all reasons together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// The counts of one peer (zero if it never sent anything).
    pub fn peer(&self, peer: &PeerId) -> PeerCounters {
        self.per_peer.get(peer).copied().unwrap_or_default()
    }

    /// Whether `peer` was muted when the snapshot was taken.
    pub fn is_muted(&self, peer: &PeerId) -> bool {
        self.peer(peer).muted
    }
}

/// When a misbehaving peer is muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteRules {
    /// Provable rejections within [`window`](Self::window) that mute a peer.
    pub threshold: u32,
    /// The window rejections are counted in.
    pub window: Duration,
    /// How long a peer stays muted.
    pub duration: Duration,
}

impl Default for MuteRules {
    /// 20 rejections within 10 s mute a peer for 60 s.
    fn default() -> Self {
        Self {
            threshold: 20,
            window: Duration::from_secs(10),
            duration: Duration::from_secs(60),
        }
    }
}

/// Budgets that need no signature, for gossip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipBudgets {
    /// Messages per second one delivering neighbour may hand us, per topic.
    pub per_neighbour: u32,
    /// Messages per second one topic may hand us, all neighbours together.
    pub per_topic: u32,
}

impl Default for GossipBudgets {
    /// 600 messages a second per neighbour and 1500 per topic, each with a burst of two
    /// seconds' worth. A full room of [`ROSTER_MAX`](sanctuary_protocols::limits::ROSTER_MAX)
    /// people sends about 500 a second on the world topic (two heartbeat messages every
    /// three seconds each, and poses once a second to far peers on the room topic).
    fn default() -> Self {
        Self {
            per_neighbour: 600,
            per_topic: 1500,
        }
    }
}

/// Where a message came from, as far as the transport can tell.
///
/// Gossip's "published it itself" comes from its delivery round (0 at the first hop), a
/// `u16` that iroh-gossip increments when forwarding. A hostile peer that sends round
/// 65535 makes an honest relay forward round 0, so downstream that relay looks like the
/// publisher and can collect strikes for the hostile peer's junk. This needs a fix in
/// iroh-gossip (saturate, or refuse absurd rounds); until then such framing mutes the relay
/// at its neighbours for [`MuteRules::duration`] at most, and our builds wrap instead of
/// panicking (see the workspace's `Cargo.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// On a direct connection whose remote end is this peer: it sent exactly these bytes.
    Direct(PeerId),
    /// Delivered by a gossip neighbour.
    Gossip {
        /// The neighbour that delivered it.
        neighbour: PeerId,
        /// Gossip's delivery scope says the neighbour published the message itself (the
        /// first hop) rather than forwarding someone else's.
        published: bool,
    },
}

impl Origin {
    /// The peer provably responsible for the bytes, if any: the remote end of a direct
    /// connection, or a neighbour that published the message itself. A relay is not
    /// responsible for what it forwards.
    pub fn accountable(&self) -> Option<PeerId> {
        match *self {
            Origin::Direct(peer) => Some(peer),
            Origin::Gossip {
                neighbour,
                published: true,
            } => Some(neighbour),
            Origin::Gossip { published: false, .. } => None,
        }
    }
}

/// A refusal: who is blamed (if anyone) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The peer blamed: one provably responsible (see [`Origin::accountable`]), or the
    /// verified author for its own rate and misplaced messages. `None` when nobody is.
    pub peer: Option<PeerId>,
    /// Why.
    pub reason: RejectReason,
}

/// A signed message that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Accepted {
    pub author: PeerId,
    pub seq: u64,
    pub body: Body,
}

/// Which gossip topic a message arrived on, for the per-topic budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TopicBudget {
    World,
    Room,
}

#[derive(Debug)]
struct PeerGate {
    messages: RateLimiter,
    poses: RateLimiter,
    voice: RateLimiter,
    replay: ReplayGuard,
    /// Per pose connection: the newest datagram seq seen on it.
    pose_seq: HashMap<u64, u32>,
    strike_window_start_ms: u64,
    strikes: u32,
    muted_until_ms: Option<u64>,
    last_seen_ms: u64,
    counters: PeerCounters,
}

impl PeerGate {
    fn new(now_ms: u64) -> Self {
        Self {
            messages: RateLimiter::for_messages(),
            poses: RateLimiter::for_pose_datagrams(),
            voice: RateLimiter::for_voice(),
            replay: ReplayGuard::new(),
            pose_seq: HashMap::new(),
            strike_window_start_ms: 0,
            strikes: 0,
            muted_until_ms: None,
            last_seen_ms: now_ms,
            counters: PeerCounters::default(),
        }
    }
}

/// Most peers whose checking state is kept (see the module docs).
pub const MAX_TRACKED_PEERS: usize = 4096;

/// Most delivering neighbours whose budgets are kept; gossip keeps only a handful of
/// neighbours per topic, so this is never reached by honest traffic.
pub const MAX_NEIGHBOUR_BUDGETS: usize = 256;

/// Most pose connections remembered per peer.
const MAX_POSE_CONNECTIONS: usize = 8;

/// The receive-side checks of one world, with their counters.
#[derive(Debug)]
pub(crate) struct Gate {
    /// Our own id: our messages coming back are echoes, and we keep no state for them.
    me: PeerId,
    peers: HashMap<PeerId, PeerGate>,
    neighbours: HashMap<(PeerId, TopicBudget), RateLimiter>,
    topics: HashMap<TopicBudget, RateLimiter>,
    counters: Counters,
    rules: MuteRules,
    budgets: GossipBudgets,
}

impl Gate {
    pub fn new(me: PeerId, rules: MuteRules, budgets: GossipBudgets) -> Self {
        Self {
            me,
            peers: HashMap::new(),
            neighbours: HashMap::new(),
            topics: HashMap::new(),
            counters: Counters::default(),
            rules,
            budgets,
        }
    }

    pub fn counters(&self) -> Counters {
        let mut counters = self.counters.clone();
        counters.per_peer = self
            .peers
            .iter()
            .map(|(peer, gate)| {
                let mut counts = gate.counters;
                counts.muted = gate.muted_until_ms.is_some();
                (*peer, counts)
            })
            .collect();
        counters
    }

    /// How many peers' checking state is kept now.
    pub fn tracked_peers(&self) -> usize {
        self.peers.len()
    }

    pub fn note_coalesced_pose(&mut self) {
        self.counters.poses_coalesced += 1;
    }

    /// The state of `peer`, made if there is room (see the module docs). `None` when the
    /// table is full of peers heard from within the timestamp window.
    fn peer(&mut self, peer: PeerId, now_ms: u64) -> Option<&mut PeerGate> {
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_TRACKED_PEERS {
            let oldest = self
                .peers
                .iter()
                .filter(|(_, gate)| gate.muted_until_ms.is_none_or(|until| until <= now_ms))
                .min_by_key(|(_, gate)| gate.last_seen_ms)
                .filter(|(_, gate)| now_ms.saturating_sub(gate.last_seen_ms) > TIMESTAMP_SKEW_MAX_MS)
                .map(|(peer, _)| *peer);
            self.peers.remove(&oldest?);
        }
        let gate = self.peers.entry(peer).or_insert_with(|| PeerGate::new(now_ms));
        gate.last_seen_ms = gate.last_seen_ms.max(now_ms);
        Some(gate)
    }

    /// Whether `peer` is muted at `now_ms`; lifts an expired mute.
    pub fn is_muted(&mut self, peer: PeerId, now_ms: u64) -> bool {
        let Some(gate) = self.peers.get_mut(&peer) else {
            return false;
        };
        match gate.muted_until_ms {
            Some(until) if now_ms < until => true,
            Some(_) => {
                gate.muted_until_ms = None;
                gate.strikes = 0;
                false
            }
            None => false,
        }
    }

    /// Counts and logs a refusal. With a `peer`, it counts against that peer and mutes it
    /// past the threshold: pass one only when the peer is provably responsible.
    pub fn reject(&mut self, peer: Option<PeerId>, reason: RejectReason, now_ms: u64) -> Rejection {
        *self.counters.rejected.entry(reason).or_default() += 1;
        let Some(peer) = peer else {
            self.counters.rejected_unattributed += 1;
            tracing::debug!(?reason, "refused a message nobody is provably responsible for");
            return Rejection { peer: None, reason };
        };
        let rules = self.rules;
        let Some(gate) = self.peer(peer, now_ms) else {
            self.counters.rejected_unattributed += 1;
            return Rejection { peer: None, reason };
        };
        gate.counters.rejected += 1;
        if matches!(reason, RejectReason::Muted | RejectReason::Flood) {
            return Rejection {
                peer: Some(peer),
                reason,
            };
        }
        tracing::warn!(%peer, ?reason, "rejected a message");
        let window_ms = duration_ms(rules.window);
        if now_ms.saturating_sub(gate.strike_window_start_ms) > window_ms || gate.strikes == 0 {
            gate.strike_window_start_ms = now_ms;
            gate.strikes = 0;
        }
        gate.strikes += 1;
        if gate.strikes >= rules.threshold && gate.muted_until_ms.is_none() {
            gate.muted_until_ms = Some(now_ms.saturating_add(duration_ms(rules.duration)));
            tracing::warn!(%peer, strikes = gate.strikes, "muting a peer after too many rejected messages");
        }
        Rejection {
            peer: Some(peer),
            reason,
        }
    }

    fn accept(&mut self, peer: PeerId, now_ms: u64) {
        self.counters.accepted += 1;
        if let Some(gate) = self.peer(peer, now_ms) {
            gate.counters.accepted += 1;
        }
    }

    /// The budgets a gossip message passes before it is queued: its delivering
    /// neighbour's and its topic's. `false` means drop it (counted as
    /// [`RejectReason::Flood`], blamed on nobody: a relay may be forwarding someone else's
    /// flood). A muted neighbour that published its own flood was already dropped here.
    pub fn admit_gossip(&mut self, neighbour: PeerId, topic: TopicBudget, now_ms: u64) -> bool {
        let budgets = self.budgets;
        if !self.neighbours.contains_key(&(neighbour, topic))
            && self.neighbours.len() >= MAX_NEIGHBOUR_BUDGETS
        {
            // Neighbours come and go; a full table is forgotten rather than grown.
            self.neighbours.clear();
        }
        let per_neighbour = self
            .neighbours
            .entry((neighbour, topic))
            .or_insert_with(|| RateLimiter::new(budgets.per_neighbour, budgets.per_neighbour * 2));
        if !per_neighbour.try_acquire(now_ms) {
            self.reject(None, RejectReason::Flood, now_ms);
            return false;
        }
        let per_topic = self
            .topics
            .entry(topic)
            .or_insert_with(|| RateLimiter::new(budgets.per_topic, budgets.per_topic * 2));
        if !per_topic.try_acquire(now_ms) {
            self.reject(None, RejectReason::Flood, now_ms);
            return false;
        }
        true
    }

    /// Checks a signed message that arrived from `origin` in `context`. `now_ms` is the
    /// monotonic clock, `now_unix_ms` the Unix time the timestamp is compared with.
    pub fn check_signed(
        &mut self,
        bytes: &[u8],
        origin: Origin,
        context: &Context,
        now_ms: u64,
        now_unix_ms: u64,
    ) -> Result<Accepted, Rejection> {
        let accountable = origin.accountable();
        if bytes.len() > MESSAGE_MAX {
            return Err(self.reject(accountable, RejectReason::Oversized, now_ms));
        }
        let envelope = match SignedEnvelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(DecodeError::TooLarge { .. }) => {
                return Err(self.reject(accountable, RejectReason::Oversized, now_ms));
            }
            Err(_) => return Err(self.reject(accountable, RejectReason::Malformed, now_ms)),
        };
        let claimed = envelope.author();
        if claimed == self.me {
            return Err(Rejection {
                peer: None,
                reason: RejectReason::Echo,
            });
        }
        if let Origin::Direct(peer) = origin
            && claimed != peer
        {
            return Err(self.reject(Some(peer), RejectReason::WrongSender, now_ms));
        }
        if self.is_muted(claimed, now_ms) {
            // The claim is unverified, so nobody is charged; a muted author's traffic
            // costs no signature check.
            return Err(self.reject(None, RejectReason::Muted, now_ms));
        }
        let seq = envelope.seq();
        if self
            .peers
            .get(&claimed)
            .is_some_and(|gate| gate.replay.check(seq).is_err())
        {
            return Err(self.reject(accountable, RejectReason::Replay, now_ms));
        }
        let fresh = envelope.check_fresh(now_unix_ms);
        let Ok(body) = envelope.into_verified_body(context) else {
            return Err(self.reject(accountable, RejectReason::BadSignature, now_ms));
        };
        if fresh.is_err() {
            // Signed by the author, but perhaps long ago: only whoever sent it now is
            // responsible for sending it.
            return Err(self.reject(accountable, RejectReason::Stale, now_ms));
        }
        let Some(gate) = self.peer(claimed, now_ms) else {
            return Err(self.reject(None, RejectReason::Flood, now_ms));
        };
        if gate.replay.check(seq).is_err() {
            return Err(self.reject(accountable, RejectReason::Replay, now_ms));
        }
        if !gate.messages.try_acquire(now_ms) {
            // Every one of these is a distinct, fresh message the author signed.
            return Err(self.reject(Some(claimed), RejectReason::RateLimited, now_ms));
        }
        // Checked just above, on the same state.
        let _ = gate.replay.accept(seq);
        self.accept(claimed, now_ms);
        Ok(Accepted {
            author: claimed,
            seq,
            body,
        })
    }

    /// Checks a pose datagram from `peer` (the connection's authenticated remote end) on
    /// the connection numbered `connection`.
    pub fn check_pose(
        &mut self,
        bytes: &[u8],
        peer: PeerId,
        connection: u64,
        now_ms: u64,
    ) -> Result<PoseDatagram, Rejection> {
        if self.is_muted(peer, now_ms) {
            return Err(self.reject(Some(peer), RejectReason::Muted, now_ms));
        }
        if bytes.len() > POSE_DATAGRAM_MAX {
            return Err(self.reject(Some(peer), RejectReason::Oversized, now_ms));
        }
        let Some(gate) = self.peer(peer, now_ms) else {
            return Err(self.reject(None, RejectReason::Flood, now_ms));
        };
        if !gate.poses.try_acquire(now_ms) {
            return Err(self.reject(Some(peer), RejectReason::RateLimited, now_ms));
        }
        let Ok(datagram) = PoseDatagram::decode(bytes) else {
            return Err(self.reject(Some(peer), RejectReason::Malformed, now_ms));
        };
        if let Some(&last) = gate.pose_seq.get(&connection)
            && !seq_is_newer(datagram.seq, last)
        {
            return Err(self.reject(Some(peer), RejectReason::Replay, now_ms));
        }
        if gate.pose_seq.len() >= MAX_POSE_CONNECTIONS && !gate.pose_seq.contains_key(&connection) {
            gate.pose_seq.clear();
        }
        gate.pose_seq.insert(connection, datagram.seq);
        self.accept(peer, now_ms);
        Ok(datagram)
    }

    /// Checks a voice datagram from `peer`, whose key the connection proved: not muted,
    /// within [`VOICE_PAYLOAD_MAX`] and the voice rate, and a well-formed frame or
    /// reception report. Order and duplicates are the jitter buffer's business.
    pub fn check_voice(
        &mut self,
        bytes: &[u8],
        peer: PeerId,
        now_ms: u64,
    ) -> Result<VoiceDatagram, Rejection> {
        if self.is_muted(peer, now_ms) {
            return Err(self.reject(Some(peer), RejectReason::Muted, now_ms));
        }
        if bytes.len() > VOICE_HEADER_LEN + VOICE_PAYLOAD_MAX {
            return Err(self.reject(Some(peer), RejectReason::Oversized, now_ms));
        }
        let Some(gate) = self.peer(peer, now_ms) else {
            return Err(self.reject(None, RejectReason::Flood, now_ms));
        };
        if !gate.voice.try_acquire(now_ms) {
            return Err(self.reject(Some(peer), RejectReason::RateLimited, now_ms));
        }
        let Ok(datagram) = VoiceDatagram::decode(bytes) else {
            return Err(self.reject(Some(peer), RejectReason::Malformed, now_ms));
        };
        self.accept(peer, now_ms);
        Ok(datagram)
    }

    /// Counts messages lost before reaching the gate, such as a full queue.
    pub fn reject_overflow(&mut self, now_ms: u64) {
        self.reject(None, RejectReason::Overflow, now_ms);
    }
}

/// Whether pose sequence number `seq` comes after `last`, counting with wrap-around: the
/// newer half of the `u32` circle ahead of `last` is "newer" (RFC 1982 serial numbers).
pub fn seq_is_newer(seq: u32, last: u32) -> bool {
    let ahead = seq.wrapping_sub(last);
    ahead != 0 && ahead < (1 << 31)
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use sanctuary_protocols::{ChatText, Keypair, PoseSample, SpaceName, WorldId};

    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn room() -> Context {
        Context::room(WorldId([5; 32]), SpaceName::new("lobby").unwrap())
    }

    fn chat_at(keypair: &Keypair, seq: u64, timestamp_ms: u64, text: &str) -> Vec<u8> {
        let body = Body::Chat(sanctuary_protocols::Chat {
            text: ChatText::new(text).unwrap(),
        });
        SignedEnvelope::sign(keypair, &room(), seq, timestamp_ms, body).encode()
    }

    fn chat(keypair: &Keypair, seq: u64, text: &str) -> Vec<u8> {
        chat_at(keypair, seq, NOW, text)
    }

    fn alice() -> Keypair {
        Keypair::from_bytes(&[1; 32])
    }

    fn relayed(neighbour: PeerId) -> Origin {
        Origin::Gossip {
            neighbour,
            published: false,
        }
    }

    fn published(neighbour: PeerId) -> Origin {
        Origin::Gossip {
            neighbour,
            published: true,
        }
    }

    fn me() -> PeerId {
        Keypair::from_bytes(&[250; 32]).peer_id()
    }

    fn gate() -> Gate {
        Gate::new(me(), MuteRules::default(), GossipBudgets::default())
    }

    #[test]
    fn accepts_a_good_message_once() {
        let mut gate = gate();
        let a = alice();
        let bytes = chat(&a, 10, "hi");
        let origin = published(a.peer_id());
        let ok = gate.check_signed(&bytes, origin, &room(), 0, NOW).unwrap();
        assert_eq!(ok.author, a.peer_id());
        assert_eq!(ok.seq, 10);
        let err = gate.check_signed(&bytes, origin, &room(), 1, NOW).unwrap_err();
        assert_eq!(err.reason, RejectReason::Replay);
        let counters = gate.counters();
        assert_eq!(counters.accepted, 1);
        assert_eq!(counters.rejected(RejectReason::Replay), 1);
        assert_eq!(counters.peer(&a.peer_id()).accepted, 1);
    }

    #[test]
    fn our_own_messages_coming_back_are_echoes_without_state() {
        let mut gate = gate();
        let mine = Keypair::from_bytes(&[250; 32]);
        let relay = alice().peer_id();
        for seq in 0..100 {
            let err = gate
                .check_signed(&chat(&mine, seq % 3, "me"), relayed(relay), &room(), 0, NOW)
                .unwrap_err();
            assert_eq!(
                err,
                Rejection {
                    peer: None,
                    reason: RejectReason::Echo
                }
            );
        }
        let counters = gate.counters();
        assert_eq!(counters.rejected_total(), 0);
        assert_eq!(gate.tracked_peers(), 0);
    }

    #[test]
    fn relayed_failures_blame_nobody_and_never_mute() {
        let mut gate = gate();
        let a = alice();
        let relay = Keypair::from_bytes(&[2; 32]).peer_id();
        let good = chat(&a, 1, "hi");
        gate.check_signed(&good, relayed(relay), &room(), 0, NOW).unwrap();
        for i in 0..200u64 {
            let mut forged = chat(&a, 1000 + i, "forged");
            let last = forged.len() - 1;
            forged[last] ^= 1;
            let err = gate
                .check_signed(&forged, relayed(relay), &room(), i, NOW)
                .unwrap_err();
            assert_eq!(
                err,
                Rejection {
                    peer: None,
                    reason: RejectReason::BadSignature
                }
            );
            let err = gate
                .check_signed(&good, relayed(relay), &room(), i, NOW)
                .unwrap_err();
            assert_eq!(
                err,
                Rejection {
                    peer: None,
                    reason: RejectReason::Replay
                }
            );
            let junk = gate
                .check_signed(&[0, 1, 2], relayed(relay), &room(), i, NOW)
                .unwrap_err();
            assert_eq!(junk.peer, None);
        }
        let counters = gate.counters();
        assert!(!counters.is_muted(&a.peer_id()));
        assert!(!counters.is_muted(&relay));
        assert_eq!(counters.peer(&relay).rejected, 0);
        assert_eq!(counters.peer(&a.peer_id()).rejected, 0);
        assert_eq!(counters.rejected_unattributed, 600);
        // The honest author still gets through.
        assert!(
            gate.check_signed(&chat(&a, 2, "still here"), relayed(relay), &room(), 300, NOW)
                .is_ok()
        );
    }

    #[test]
    fn a_neighbour_that_publishes_forgeries_is_muted() {
        let mut gate = gate();
        let a = alice();
        let mallory = Keypair::from_bytes(&[3; 32]).peer_id();
        for i in 0..20u64 {
            let mut forged = chat(&a, 1000 + i, "forged");
            let last = forged.len() - 1;
            forged[last] ^= 1;
            let err = gate
                .check_signed(&forged, published(mallory), &room(), i, NOW)
                .unwrap_err();
            assert_eq!(err.peer, Some(mallory));
        }
        let counters = gate.counters();
        assert!(counters.is_muted(&mallory));
        assert!(!counters.is_muted(&a.peer_id()));
        assert_eq!(counters.peer(&a.peer_id()).rejected, 0);
    }

    #[test]
    fn moved_and_stale_messages_are_refused() {
        let mut gate = gate();
        let a = alice();
        let bob = Keypair::from_bytes(&[2; 32]).peer_id();
        let world = WorldId([5; 32]);
        let dm = SignedEnvelope::sign(
            &a,
            &Context::direct(world, bob),
            1,
            NOW,
            Body::Chat(sanctuary_protocols::Chat {
                text: ChatText::new("psst").unwrap(),
            }),
        )
        .encode();
        // Republished by Bob on the room.
        let err = gate
            .check_signed(&dm, published(bob), &room(), 0, NOW)
            .unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: Some(bob),
                reason: RejectReason::BadSignature
            }
        );
        // Said in the lobby, replayed into the market and into another world.
        let said = chat(&a, 2, "hi");
        let market = Context::room(world, SpaceName::new("market").unwrap());
        let elsewhere = Context::room(WorldId([6; 32]), SpaceName::new("lobby").unwrap());
        for context in [market, elsewhere] {
            let err = gate
                .check_signed(&said, relayed(bob), &context, 1, NOW)
                .unwrap_err();
            assert_eq!(err.reason, RejectReason::BadSignature);
        }
        // An hour old, or from the future.
        let old = chat_at(&a, 3, NOW - 3_600_000, "old news");
        let err = gate
            .check_signed(&old, relayed(bob), &room(), 2, NOW)
            .unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: None,
                reason: RejectReason::Stale
            }
        );
        let future = chat_at(&a, 4, NOW + 3_600_000, "tomorrow");
        let err = gate
            .check_signed(&future, Origin::Direct(a.peer_id()), &room(), 3, NOW)
            .unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: Some(a.peer_id()),
                reason: RejectReason::Stale
            }
        );
        assert_eq!(gate.counters().rejected(RejectReason::BadSignature), 3);
        assert_eq!(gate.counters().rejected(RejectReason::Stale), 2);
    }

    #[test]
    fn refuses_junk_oversized_and_wrong_senders_on_direct_connections() {
        let mut gate = gate();
        let a = alice();
        let peer = Keypair::from_bytes(&[2; 32]).peer_id();
        let direct = Origin::Direct(peer);
        let err = gate
            .check_signed(&[0, 1, 2], direct, &room(), 0, NOW)
            .unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: Some(peer),
                reason: RejectReason::Malformed
            }
        );
        let err = gate
            .check_signed(&vec![0; MESSAGE_MAX + 1], direct, &room(), 0, NOW)
            .unwrap_err();
        assert_eq!(err.reason, RejectReason::Oversized);
        // A direct message must come from its author.
        let err = gate
            .check_signed(&chat(&a, 2, "x"), direct, &room(), 0, NOW)
            .unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: Some(peer),
                reason: RejectReason::WrongSender
            }
        );
        assert_eq!(
            gate.counters().peer(&a.peer_id()).rejected,
            0,
            "the author was not blamed"
        );
    }

    #[test]
    fn rate_limits_then_mutes_a_flooder_and_unmutes_later() {
        let rules = MuteRules::default();
        let mut gate = gate();
        let a = alice();
        for seq in 0..200 {
            let _ = gate.check_signed(&chat(&a, seq, "spam"), relayed(a.peer_id()), &room(), 5, NOW);
        }
        let counters = gate.counters();
        assert_eq!(counters.accepted, 30);
        assert_eq!(counters.rejected(RejectReason::RateLimited), 20);
        assert_eq!(counters.rejected(RejectReason::Muted), 150);
        assert!(counters.is_muted(&a.peer_id()));
        let later = 5 + duration_ms(rules.duration) + 1;
        assert!(
            gate.check_signed(&chat(&a, 500, "back"), relayed(a.peer_id()), &room(), later, NOW)
                .is_ok()
        );
    }

    #[test]
    fn a_muted_authors_messages_are_dropped_before_the_signature_check() {
        let mut gate = gate();
        let a = alice();
        for seq in 0..200 {
            let _ = gate.check_signed(&chat(&a, seq, "spam"), relayed(a.peer_id()), &room(), 5, NOW);
        }
        assert!(gate.counters().is_muted(&a.peer_id()));
        // A forgery in the muted author's name: were its signature checked, it would be
        // refused as a bad signature.
        let mut forged = chat(&a, 900, "forged");
        let last = forged.len() - 1;
        forged[last] ^= 0xff;
        let bad_signatures = gate.counters().rejected(RejectReason::BadSignature);
        let refused = gate.check_signed(&forged, relayed(a.peer_id()), &room(), 6, NOW);
        assert_eq!(
            refused.map(|_| ()).map_err(|rejection| rejection.reason),
            Err(RejectReason::Muted)
        );
        assert_eq!(
            gate.counters().rejected(RejectReason::BadSignature),
            bad_signatures
        );
    }

    #[test]
    fn neighbour_and_topic_budgets_drop_a_flood() {
        let budgets = GossipBudgets {
            per_neighbour: 10,
            per_topic: 25,
        };
        let mut gate = Gate::new(me(), MuteRules::default(), budgets);
        let flooder = Keypair::from_bytes(&[3; 32]).peer_id();
        let honest = alice().peer_id();
        let admitted = (0..100)
            .filter(|_| gate.admit_gossip(flooder, TopicBudget::Room, 0))
            .count();
        assert_eq!(admitted, 20, "a burst of two seconds' worth");
        assert!(
            gate.admit_gossip(honest, TopicBudget::Room, 0),
            "others keep their share"
        );
        assert!(
            gate.admit_gossip(flooder, TopicBudget::World, 0),
            "budgets are per topic"
        );
        assert!(gate.admit_gossip(flooder, TopicBudget::Room, 1000), "refills");
        assert_eq!(gate.counters().rejected(RejectReason::Flood), 80);
        assert!(
            !gate.counters().is_muted(&flooder),
            "a relay is not blamed for a flood"
        );
    }

    #[test]
    fn a_crowd_of_fresh_keys_cannot_push_out_recent_peers() {
        let mut gate = gate();
        let honest = alice();
        gate.check_signed(
            &chat(&honest, 1, "hi"),
            relayed(honest.peer_id()),
            &room(),
            0,
            NOW,
        )
        .unwrap();
        let mut refused = 0;
        for i in 0..(MAX_TRACKED_PEERS as u64 + 50) {
            let mut secret = [0u8; 32];
            secret[..8].copy_from_slice(&(i + 100).to_le_bytes());
            let sybil = Keypair::from_bytes(&secret);
            if let Err(err) =
                gate.check_signed(&chat(&sybil, 1, "x"), relayed(honest.peer_id()), &room(), 1, NOW)
            {
                assert_eq!(err.reason, RejectReason::Flood);
                refused += 1;
            }
        }
        assert_eq!(gate.tracked_peers(), MAX_TRACKED_PEERS);
        assert_eq!(refused, 51);
        // The honest author's replay window survived.
        let err = gate
            .check_signed(
                &chat(&honest, 1, "hi"),
                relayed(honest.peer_id()),
                &room(),
                2,
                NOW,
            )
            .unwrap_err();
        assert_eq!(err.reason, RejectReason::Replay);
        // Once idle authors are older than the timestamp window, they make room.
        let later = 2 + TIMESTAMP_SKEW_MAX_MS + 1;
        let newcomer = Keypair::from_bytes(&[200; 32]);
        assert!(
            gate.check_signed(
                &chat(&newcomer, 1, "hello"),
                relayed(honest.peer_id()),
                &room(),
                later,
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn pose_datagrams_keep_newest_with_wrap() {
        let mut gate = gate();
        let peer = alice().peer_id();
        let pose = PoseSample::default().quantize();
        let bytes = |seq| PoseDatagram { seq, pose }.encode();
        assert!(gate.check_pose(&bytes(u32::MAX - 1), peer, 1, 0).is_ok());
        assert!(gate.check_pose(&bytes(u32::MAX), peer, 1, 0).is_ok());
        assert!(gate.check_pose(&bytes(0), peer, 1, 0).is_ok(), "wraps");
        let err = gate.check_pose(&bytes(u32::MAX), peer, 1, 0).unwrap_err();
        assert_eq!(err.reason, RejectReason::Replay);
        // A new connection starts its own count.
        assert!(gate.check_pose(&bytes(0), peer, 2, 0).is_ok());
        assert_eq!(
            gate.check_pose(&[1; 7], peer, 1, 0).unwrap_err().reason,
            RejectReason::Malformed
        );
        assert_eq!(
            gate.check_pose(&[1; 41], peer, 1, 0).unwrap_err().reason,
            RejectReason::Oversized
        );
    }

    #[test]
    fn serial_number_comparison() {
        assert!(seq_is_newer(1, 0));
        assert!(seq_is_newer(0, u32::MAX));
        assert!(!seq_is_newer(5, 5));
        assert!(!seq_is_newer(4, 5));
        assert!(!seq_is_newer(5 + (1 << 31), 5));
    }
}
