//! The checks every incoming message passes before it becomes a [`WorldEvent`](crate::WorldEvent),
//! and the counters they keep.
//!
//! [`Gate`] is plain data with no I/O and no clock of its own (callers pass milliseconds from
//! a monotonic clock), so every rule here is unit tested. Signed messages go through
//! [`Gate::check_signed`]: size, decode, mute, replay pre-check, signature, per-author rate
//! limit, then [`ReplayGuard::accept`]. Rate limiting comes after the signature check (the
//! protocols crate lists it before) so that a forger cannot spend an honest author's budget
//! by putting their id on junk; verification costs tens of microseconds and the size and
//! decode checks before it are cheap. Pose datagrams go through [`Gate::check_pose`]:
//! mute, length, per-peer rate, decode, then a per-connection sequence check.
//!
//! Each rejection is logged with `tracing::warn!`, counted per reason and per peer, and
//! counts towards muting that peer: [`MuteRules::threshold`] rejections within
//! [`MuteRules::window`] mute it for [`MuteRules::duration`], while which everything it
//! sends is rejected as [`RejectReason::Muted`] (logged once when the mute starts).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use sanctuary_protocols::limits::{MESSAGE_MAX, POSE_DATAGRAM_MAX};
use sanctuary_protocols::{
    Body, DecodeError, PeerId, PoseDatagram, RateLimiter, ReplayGuard, SignedEnvelope,
};

/// Why an incoming message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Larger than the limit for its kind; refused before decoding.
    Oversized,
    /// Did not decode (or a pose datagram of the wrong length).
    Malformed,
    /// The signature does not match the claimed author.
    BadSignature,
    /// A sequence number already seen (or too old, or a pose older than the newest).
    Replay,
    /// The peer sent more than its rate allows.
    RateLimited,
    /// The peer is muted after too many rejections.
    Muted,
    /// A direct message whose author is not the peer on the other end of the connection.
    WrongSender,
    /// A valid message of a kind that does not belong where it came (e.g. chat on the
    /// world-wide topic).
    Unexpected,
    /// The peer or the events queue could not keep up and a message was dropped.
    Overflow,
}

impl RejectReason {
    /// Every reason, in order.
    pub const ALL: [RejectReason; 9] = [
        Self::Oversized,
        Self::Malformed,
        Self::BadSignature,
        Self::Replay,
        Self::RateLimited,
        Self::Muted,
        Self::WrongSender,
        Self::Unexpected,
        Self::Overflow,
    ];
}

/// Accepted and rejected counts of one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Messages and datagrams accepted from this peer.
    pub accepted: u64,
    /// Messages and datagrams refused from this peer (or delivered by it, for gossip
    /// messages refused before their author was known).
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
    /// Counts per peer.
    pub per_peer: HashMap<PeerId, PeerCounters>,
    /// Refusals that could not be pinned on any peer.
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
}

/// When a misbehaving peer is muted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuteRules {
    /// Rejections within [`window`](Self::window) that mute a peer.
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

/// A refusal: who is blamed (if anyone) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// The peer blamed: the verified author, the connection's remote end, or for gossip
    /// messages refused before their signature was checked, the neighbour that delivered it.
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

#[derive(Debug)]
struct PeerGate {
    messages: RateLimiter,
    poses: RateLimiter,
    replay: ReplayGuard,
    /// Per pose connection: the newest datagram seq seen on it.
    pose_seq: HashMap<u64, u32>,
    strike_window_start_ms: u64,
    strikes: u32,
    muted_until_ms: Option<u64>,
}

impl PeerGate {
    fn new() -> Self {
        Self {
            messages: RateLimiter::for_messages(),
            poses: RateLimiter::for_pose_datagrams(),
            replay: ReplayGuard::new(),
            pose_seq: HashMap::new(),
            strike_window_start_ms: 0,
            strikes: 0,
            muted_until_ms: None,
        }
    }
}

/// Most peers whose checking state is kept; past this, idle peers' state is dropped.
const MAX_TRACKED_PEERS: usize = 4096;

/// The receive-side checks of one world, with their counters.
#[derive(Debug)]
pub(crate) struct Gate {
    peers: HashMap<PeerId, PeerGate>,
    counters: Counters,
    rules: MuteRules,
}

impl Gate {
    pub fn new(rules: MuteRules) -> Self {
        Self {
            peers: HashMap::new(),
            counters: Counters::default(),
            rules,
        }
    }

    pub fn counters(&self) -> Counters {
        let mut counters = self.counters.clone();
        for (peer, counts) in &mut counters.per_peer {
            counts.muted = self
                .peers
                .get(peer)
                .is_some_and(|gate| gate.muted_until_ms.is_some());
        }
        counters
    }

    pub fn note_coalesced_pose(&mut self) {
        self.counters.poses_coalesced += 1;
    }

    fn peer(&mut self, peer: PeerId) -> &mut PeerGate {
        if self.peers.len() >= MAX_TRACKED_PEERS && !self.peers.contains_key(&peer) {
            // Keep muted peers; forget the rest. Losing a replay window only lets a peer's
            // own old messages through the signature check again, never a forgery.
            self.peers.retain(|_, gate| gate.muted_until_ms.is_some());
        }
        self.peers.entry(peer).or_insert_with(PeerGate::new)
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

    /// Counts and logs a refusal, and mutes the peer past the threshold.
    pub fn reject(&mut self, peer: Option<PeerId>, reason: RejectReason, now_ms: u64) -> Rejection {
        *self.counters.rejected.entry(reason).or_default() += 1;
        let Some(peer) = peer else {
            self.counters.rejected_unattributed += 1;
            tracing::warn!(?reason, "rejected a message from an unknown sender");
            return Rejection { peer: None, reason };
        };
        self.counters.per_peer.entry(peer).or_default().rejected += 1;
        if reason == RejectReason::Muted {
            tracing::debug!(%peer, "dropped a message from a muted peer");
            return Rejection {
                peer: Some(peer),
                reason,
            };
        }
        tracing::warn!(%peer, ?reason, "rejected a message");
        let rules = self.rules;
        let gate = self.peer(peer);
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

    fn accept(&mut self, peer: PeerId) {
        self.counters.accepted += 1;
        self.counters.per_peer.entry(peer).or_default().accepted += 1;
    }

    /// Checks a signed message. `sender` is the transport-authenticated peer it came from
    /// (the gossip neighbour that delivered it, or the remote end of a direct connection);
    /// `require_author_is_sender` is set for direct messages.
    pub fn check_signed(
        &mut self,
        bytes: &[u8],
        sender: PeerId,
        require_author_is_sender: bool,
        now_ms: u64,
    ) -> Result<Accepted, Rejection> {
        if bytes.len() > MESSAGE_MAX {
            return Err(self.reject(Some(sender), RejectReason::Oversized, now_ms));
        }
        let envelope = match SignedEnvelope::decode(bytes) {
            Ok(envelope) => envelope,
            Err(DecodeError::TooLarge { .. }) => {
                return Err(self.reject(Some(sender), RejectReason::Oversized, now_ms));
            }
            Err(_) => return Err(self.reject(Some(sender), RejectReason::Malformed, now_ms)),
        };
        let claimed = envelope.author();
        if require_author_is_sender && claimed != sender {
            return Err(self.reject(Some(sender), RejectReason::WrongSender, now_ms));
        }
        if self.is_muted(claimed, now_ms) {
            return Err(self.reject(Some(claimed), RejectReason::Muted, now_ms));
        }
        if self
            .peers
            .get(&claimed)
            .is_some_and(|gate| gate.replay.check(envelope.seq()).is_err())
        {
            // Not verified yet, so blamed on whoever delivered it.
            return Err(self.reject(Some(sender), RejectReason::Replay, now_ms));
        }
        let seq = envelope.seq();
        let Ok(body) = envelope.into_verified_body() else {
            return Err(self.reject(Some(sender), RejectReason::BadSignature, now_ms));
        };
        let gate = self.peer(claimed);
        if !gate.messages.try_acquire(now_ms) {
            return Err(self.reject(Some(claimed), RejectReason::RateLimited, now_ms));
        }
        if gate.replay.accept(seq).is_err() {
            return Err(self.reject(Some(claimed), RejectReason::Replay, now_ms));
        }
        self.accept(claimed);
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
        if !self.peer(peer).poses.try_acquire(now_ms) {
            return Err(self.reject(Some(peer), RejectReason::RateLimited, now_ms));
        }
        let Ok(datagram) = PoseDatagram::decode(bytes) else {
            return Err(self.reject(Some(peer), RejectReason::Malformed, now_ms));
        };
        let gate = self.peer(peer);
        if let Some(&last) = gate.pose_seq.get(&connection)
            && !seq_is_newer(datagram.seq, last)
        {
            return Err(self.reject(Some(peer), RejectReason::Replay, now_ms));
        }
        if gate.pose_seq.len() >= 8 && !gate.pose_seq.contains_key(&connection) {
            gate.pose_seq.clear();
        }
        gate.pose_seq.insert(connection, datagram.seq);
        self.accept(peer);
        Ok(datagram)
    }

    /// Counts messages lost before reaching the gate, such as a lagging subscription.
    pub fn reject_overflow(&mut self, peer: Option<PeerId>, now_ms: u64) {
        *self.counters.rejected.entry(RejectReason::Overflow).or_default() += 1;
        match peer {
            Some(peer) => self.counters.per_peer.entry(peer).or_default().rejected += 1,
            None => self.counters.rejected_unattributed += 1,
        }
        let _ = now_ms;
        tracing::warn!(?peer, "dropped an incoming message: queue full");
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
    use sanctuary_protocols::{ChatText, Keypair, PoseSample};

    use super::*;

    fn chat(keypair: &Keypair, seq: u64, text: &str) -> Vec<u8> {
        let body = Body::Chat(sanctuary_protocols::Chat {
            text: ChatText::new(text).unwrap(),
        });
        SignedEnvelope::sign(keypair, seq, 0, body).encode()
    }

    fn alice() -> Keypair {
        Keypair::from_bytes(&[1; 32])
    }

    #[test]
    fn accepts_a_good_message_once() {
        let mut gate = Gate::new(MuteRules::default());
        let a = alice();
        let bytes = chat(&a, 10, "hi");
        let ok = gate.check_signed(&bytes, a.peer_id(), false, 0).unwrap();
        assert_eq!(ok.author, a.peer_id());
        assert_eq!(ok.seq, 10);
        let err = gate.check_signed(&bytes, a.peer_id(), false, 1).unwrap_err();
        assert_eq!(err.reason, RejectReason::Replay);
        let counters = gate.counters();
        assert_eq!(counters.accepted, 1);
        assert_eq!(counters.rejected(RejectReason::Replay), 1);
        assert_eq!(counters.peer(&a.peer_id()).accepted, 1);
    }

    #[test]
    fn refuses_forgeries_junk_and_oversized() {
        let mut gate = Gate::new(MuteRules::default());
        let a = alice();
        let relay = Keypair::from_bytes(&[2; 32]).peer_id();
        let mut bytes = chat(&a, 1, "hi");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let err = gate.check_signed(&bytes, relay, false, 0).unwrap_err();
        assert_eq!(
            err,
            Rejection {
                peer: Some(relay),
                reason: RejectReason::BadSignature
            }
        );
        let err = gate.check_signed(&[0, 1, 2], relay, false, 0).unwrap_err();
        assert_eq!(err.reason, RejectReason::Malformed);
        let err = gate
            .check_signed(&vec![0; MESSAGE_MAX + 1], relay, false, 0)
            .unwrap_err();
        assert_eq!(err.reason, RejectReason::Oversized);
        // A direct message must come from its author.
        let err = gate.check_signed(&chat(&a, 2, "x"), relay, true, 0).unwrap_err();
        assert_eq!(err.reason, RejectReason::WrongSender);
        assert_eq!(
            gate.counters().peer(&a.peer_id()).rejected,
            0,
            "the author was not blamed"
        );
    }

    #[test]
    fn rate_limits_then_mutes_a_flooder_and_unmutes_later() {
        let rules = MuteRules::default();
        let mut gate = Gate::new(rules);
        let a = alice();
        let mut reasons = Vec::new();
        for seq in 0..200 {
            if let Err(err) = gate.check_signed(&chat(&a, seq, "spam"), a.peer_id(), false, 5) {
                reasons.push(err.reason);
            }
        }
        let counters = gate.counters();
        assert_eq!(counters.accepted, 30);
        assert_eq!(counters.rejected(RejectReason::RateLimited), 20);
        assert_eq!(counters.rejected(RejectReason::Muted), 150);
        assert!(counters.peer(&a.peer_id()).muted);
        let later = 5 + duration_ms(rules.duration) + 1;
        assert!(
            gate.check_signed(&chat(&a, 500, "back"), a.peer_id(), false, later)
                .is_ok()
        );
    }

    #[test]
    fn pose_datagrams_keep_newest_with_wrap() {
        let mut gate = Gate::new(MuteRules::default());
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
