//! Who is in the world: one bounded table per world, with what we know of each person
//! (presence, position, addresses, when we last heard from them).
//!
//! Everything kept per peer lives here, in one entry that goes when the peer leaves or times
//! out, and the table holds at most [`ROSTER_MAX`] people. Presence from anyone past that is
//! ignored and counted. The addresses people announce are believed only for peers in the
//! table, and no socket address is believed for more than [`ADDR_CLAIMS_MAX`] of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sanctuary_protocols::limits::{ADDR_CLAIMS_MAX, ROSTER_MAX};
use sanctuary_protocols::{PeerId, Presence, SpaceName};

/// One peer in the roster, as the world's public API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    /// Who.
    pub peer: PeerId,
    /// Their latest presence.
    pub presence: Presence,
    /// When their latest message arrived.
    pub last_seen: Instant,
}

/// What we know of one person.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub presence: Presence,
    /// Sequence number of the presence we hold, so an older one arriving late is ignored.
    pub presence_seq: u64,
    pub last_seen: Instant,
    pub position: Option<[f32; 3]>,
    /// When a pose datagram from this peer last arrived.
    pub last_datagram: Option<Instant>,
    /// Pose events emitted for this peer: the `seq` of the next [`WorldEvent::Pose`](crate::WorldEvent::Pose).
    pub pose_events: u32,
    pub addrs: Vec<SocketAddr>,
}

/// What a presence did to the roster.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PresenceUpdate {
    /// A new person.
    Joined,
    /// A known person with a new presence; `moved` when the space changed.
    Changed { moved: bool },
    /// Nothing new.
    Unchanged,
    /// An older presence than the one we hold.
    Outdated,
    /// The roster is full; the person was not added.
    Full,
}

/// The people in one world.
#[derive(Debug)]
pub(crate) struct Roster {
    members: HashMap<PeerId, Member>,
    claims: HashMap<SocketAddr, Vec<PeerId>>,
    capacity: usize,
    /// Presences refused because the roster was full.
    pub refused_full: u64,
}

impl Default for Roster {
    fn default() -> Self {
        Self::with_capacity(ROSTER_MAX)
    }
}

impl Roster {
    /// A roster holding at most `capacity` people (besides ourselves).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            members: HashMap::new(),
            claims: HashMap::new(),
            capacity,
            refused_full: 0,
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_full(&self) -> bool {
        self.members.len() >= self.capacity
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn contains(&self, peer: &PeerId) -> bool {
        self.members.contains_key(peer)
    }

    /// What we know of `peer`, if it is in the room.
    pub fn get(&self, peer: &PeerId) -> Option<&Member> {
        self.members.get(peer)
    }

    pub fn get_mut(&mut self, peer: &PeerId) -> Option<&mut Member> {
        self.members.get_mut(peer)
    }

    pub fn peers(&self) -> impl Iterator<Item = &PeerId> {
        self.members.keys()
    }

    /// The public view of everyone.
    pub fn entries(&self) -> Vec<RosterEntry> {
        self.members
            .iter()
            .map(|(peer, member)| RosterEntry {
                peer: *peer,
                presence: member.presence.clone(),
                last_seen: member.last_seen,
            })
            .collect()
    }

    /// Everyone in `space`, with their last known position.
    pub fn in_space(&self, space: &SpaceName) -> Vec<(PeerId, Option<[f32; 3]>)> {
        self.members
            .iter()
            .filter(|(_, member)| &member.presence.space == space)
            .map(|(peer, member)| (*peer, member.position))
            .collect()
    }

    /// Records `peer`'s presence, signed with sequence number `seq`.
    pub fn update(&mut self, peer: PeerId, seq: u64, presence: Presence, now: Instant) -> PresenceUpdate {
        if let Some(member) = self.members.get_mut(&peer) {
            if seq < member.presence_seq {
                return PresenceUpdate::Outdated;
            }
            member.presence_seq = seq;
            member.last_seen = now;
            if member.presence == presence {
                return PresenceUpdate::Unchanged;
            }
            let moved = member.presence.space != presence.space;
            if moved {
                member.position = None;
            }
            member.presence = presence;
            return PresenceUpdate::Changed { moved };
        }
        if self.is_full() {
            self.refused_full += 1;
            return PresenceUpdate::Full;
        }
        self.members.insert(
            peer,
            Member {
                presence,
                presence_seq: seq,
                last_seen: now,
                position: None,
                last_datagram: None,
                pose_events: 0,
                addrs: Vec::new(),
            },
        );
        PresenceUpdate::Joined
    }

    /// Notes that `peer` was heard from.
    pub fn touch(&mut self, peer: &PeerId, now: Instant) {
        if let Some(member) = self.members.get_mut(peer) {
            member.last_seen = now;
        }
    }

    /// Takes `peer` out, with its address claims.
    pub fn remove(&mut self, peer: &PeerId) -> Option<Member> {
        let member = self.members.remove(peer)?;
        self.release_claims(peer, &member.addrs);
        Some(member)
    }

    /// Everyone not heard from within `timeout`.
    pub fn silent_for(&self, timeout: Duration, now: Instant) -> Vec<PeerId> {
        self.members
            .iter()
            .filter(|(_, member)| now.saturating_duration_since(member.last_seen) > timeout)
            .map(|(peer, _)| *peer)
            .collect()
    }

    /// Records the addresses `peer` announced, keeping only those no more than
    /// [`ADDR_CLAIMS_MAX`] peers claim. Returns the addresses believed, empty for a peer
    /// not in the roster.
    pub fn claim_addrs(&mut self, peer: PeerId, addrs: &[SocketAddr]) -> Vec<SocketAddr> {
        let Some(previous) = self.members.get(&peer).map(|member| member.addrs.clone()) else {
            return Vec::new();
        };
        self.release_claims(&peer, &previous);
        let mut believed = Vec::new();
        for addr in addrs {
            let claimants = self.claims.entry(*addr).or_default();
            if claimants.len() >= ADDR_CLAIMS_MAX {
                tracing::debug!(%peer, %addr, "ignored an address already claimed by others");
                continue;
            }
            claimants.push(peer);
            believed.push(*addr);
        }
        if let Some(member) = self.members.get_mut(&peer) {
            member.addrs = believed.clone();
        }
        believed
    }

    fn release_claims(&mut self, peer: &PeerId, addrs: &[SocketAddr]) {
        for addr in addrs {
            if let Some(claimants) = self.claims.get_mut(addr) {
                claimants.retain(|p| p != peer);
                if claimants.is_empty() {
                    self.claims.remove(addr);
                }
            }
        }
    }

    /// Whether `me` is one of the `responders` peers chosen to answer `newcomer`'s hello
    /// (normally [`HELLO_RESPONDERS`](sanctuary_protocols::limits::HELLO_RESPONDERS)). Every peer ranks the same candidates the same way
    /// (by a hash of both ids), so about that many answer, whoever the newcomer is.
    pub fn should_answer_hello(&self, me: PeerId, newcomer: PeerId, responders: usize) -> bool {
        let mine = hello_rank(newcomer, me);
        let ahead = self
            .members
            .keys()
            .filter(|peer| **peer != newcomer)
            .filter(|peer| hello_rank(newcomer, **peer) < mine)
            .take(responders)
            .count();
        ahead < responders
    }
}

fn hello_rank(newcomer: PeerId, peer: PeerId) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key("sanctuary/hello-responder/0");
    hasher.update(newcomer.as_bytes());
    hasher.update(peer.as_bytes());
    *hasher.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use sanctuary_protocols::limits::HELLO_RESPONDERS;
    use sanctuary_protocols::{AvatarShape, DisplayName, Keypair, Rgb};

    use super::*;

    fn peer(n: u16) -> PeerId {
        let mut secret = [0u8; 32];
        secret[..2].copy_from_slice(&n.to_le_bytes());
        Keypair::from_bytes(&secret).peer_id()
    }

    fn presence(space: &str) -> Presence {
        Presence {
            name: DisplayName::new("someone").unwrap(),
            color: Rgb { r: 1, g: 2, b: 3 },
            shape: AvatarShape::Cube,
            space: SpaceName::new(space).unwrap(),
        }
    }

    #[test]
    fn joins_changes_and_ignores_older_presence() {
        let mut roster = Roster::default();
        let now = Instant::now();
        assert_eq!(
            roster.update(peer(1), 5, presence("lobby"), now),
            PresenceUpdate::Joined
        );
        assert_eq!(
            roster.update(peer(1), 6, presence("lobby"), now),
            PresenceUpdate::Unchanged
        );
        assert_eq!(
            roster.update(peer(1), 7, presence("market"), now),
            PresenceUpdate::Changed { moved: true }
        );
        assert_eq!(
            roster.update(peer(1), 6, presence("lobby"), now),
            PresenceUpdate::Outdated
        );
        assert_eq!(roster.get(&peer(1)).unwrap().presence.space.as_str(), "market");
    }

    #[test]
    fn holds_at_most_its_capacity() {
        let mut roster = Roster::with_capacity(10);
        let now = Instant::now();
        for n in 0..50 {
            roster.update(peer(n), 1, presence("lobby"), now);
        }
        assert_eq!(roster.len(), 10);
        assert_eq!(roster.refused_full, 40);
        roster.remove(&peer(0));
        assert_eq!(
            roster.update(peer(40), 1, presence("lobby"), now),
            PresenceUpdate::Joined
        );
    }

    #[test]
    fn an_address_is_believed_for_few_peers_and_only_members() {
        let mut roster = Roster::default();
        let now = Instant::now();
        let victim: SocketAddr = "192.0.2.1:443".parse().unwrap();
        assert!(roster.claim_addrs(peer(99), &[victim]).is_empty(), "not a member");
        let mut believed = 0;
        for n in 0..20 {
            roster.update(peer(n), 1, presence("lobby"), now);
            believed += roster.claim_addrs(peer(n), &[victim]).len();
        }
        assert_eq!(believed, ADDR_CLAIMS_MAX);
        // Leaving frees the claim.
        roster.remove(&peer(0));
        assert_eq!(roster.claim_addrs(peer(19), &[victim]), vec![victim]);
    }

    #[test]
    fn a_few_peers_answer_each_hello() {
        let mut roster = Roster::default();
        let now = Instant::now();
        let everyone: Vec<PeerId> = (0..40).map(peer).collect();
        for p in &everyone {
            roster.update(*p, 1, presence("lobby"), now);
        }
        let newcomer = peer(1000);
        roster.update(newcomer, 1, presence("lobby"), now);
        // Each peer decides from its own roster: everyone but itself, plus the newcomer.
        let answering = everyone
            .iter()
            .filter(|me| {
                let mut theirs = Roster::default();
                for p in everyone.iter().chain([&newcomer]).filter(|p| p != me) {
                    theirs.update(*p, 1, presence("lobby"), now);
                }
                theirs.should_answer_hello(**me, newcomer, HELLO_RESPONDERS)
            })
            .count();
        assert_eq!(answering, HELLO_RESPONDERS);
        // In a small world everyone answers.
        let mut small = Roster::default();
        small.update(newcomer, 1, presence("lobby"), now);
        assert!(small.should_answer_hello(peer(1), newcomer, HELLO_RESPONDERS));
    }
}
