//! Which peers get our pose at full rate: the nearest ones we can reach.
//!
//! Peers whose position we know come first, nearest first. Peers we know nothing about
//! yet (no pose heard) follow, those with an open connection first, then those not yet
//! tried, then those whose last dial failed; within each group the order turns every
//! second, so that a crowd of identities that never answer cannot keep real peers out of
//! the near set for good.

use sanctuary_protocols::PeerId;

use crate::dialer::Reach;

/// One peer that could get our pose.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub peer: PeerId,
    pub position: Option<[f32; 3]>,
    pub reach: Reach,
}

/// Splits `peers` into the `near_cap` that get every pose (see the module docs) and the
/// rest. `turn` changes the order among peers of unknown position (pass the current
/// second).
pub(crate) fn split_by_distance(
    own: [f32; 3],
    peers: &[Candidate],
    near_cap: usize,
    turn: u64,
) -> (Vec<PeerId>, Vec<PeerId>) {
    let distance = |position: &[f32; 3]| squared_distance(own, *position);
    let key = |candidate: &Candidate| match &candidate.position {
        Some(position) => (0u8, Reach::Ready, distance(position), 0u64),
        None => (1, candidate.reach, 0.0, shuffle(&candidate.peer, turn)),
    };
    let mut sorted: Vec<_> = peers
        .iter()
        .map(|candidate| (key(candidate), candidate.peer))
        .collect();
    sorted.sort_by(|(a, pa), (b, pb)| {
        a.0.cmp(&b.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.cmp(&b.3))
            .then_with(|| pa.as_bytes().cmp(pb.as_bytes()))
    });
    let far = sorted.split_off(near_cap.min(sorted.len()));
    (
        sorted.into_iter().map(|(_, peer)| peer).collect(),
        far.into_iter().map(|(_, peer)| peer).collect(),
    )
}

/// The squared distance between two points; `f32::MAX` when it is not a number.
pub(crate) fn squared_distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    let d = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
    if d.is_finite() { d } else { f32::MAX }
}

fn shuffle(peer: &PeerId, turn: u64) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(peer.as_bytes());
    hasher.update(&turn.to_le_bytes());
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        sanctuary_protocols::Keypair::from_bytes(&[n; 32]).peer_id()
    }

    fn at(n: u8, position: Option<[f32; 3]>, reach: Reach) -> Candidate {
        Candidate {
            peer: peer(n),
            position,
            reach,
        }
    }

    #[test]
    fn nearest_peers_get_full_rate() {
        let peers: Vec<_> = (1..=40u8)
            .map(|n| at(n, Some([f32::from(n), 0.0, 0.0]), Reach::Ready))
            .collect();
        let (near, far) = split_by_distance([0.0; 3], &peers, 32, 0);
        assert_eq!(near.len(), 32);
        assert_eq!(far.len(), 8);
        assert_eq!(near[0], peer(1));
        assert!(far.contains(&peer(40)));
        let unknown_first = [at(1, None, Reach::Untried), at(2, Some([5.0; 3]), Reach::Untried)];
        let (near, far) = split_by_distance([0.0; 3], &unknown_first, 1, 0);
        assert_eq!((near, far), (vec![peer(2)], vec![peer(1)]));
    }

    #[test]
    fn identities_that_never_answer_cannot_crowd_out_real_peers() {
        // 200 identities nobody can reach, and one real peer that has not moved yet.
        let mut peers: Vec<_> = (10..=210u8).map(|n| at(n, None, Reach::Failed)).collect();
        peers.push(at(1, None, Reach::Ready));
        let (near, _) = split_by_distance([0.0; 3], &peers, 4, 0);
        assert_eq!(near[0], peer(1), "a reachable peer comes before unreachable ones");
        // Among peers not tried yet, everyone gets a turn.
        let untried: Vec<_> = (10..=210u8).map(|n| at(n, None, Reach::Untried)).collect();
        let mut chosen = std::collections::HashSet::new();
        for turn in 0..200 {
            chosen.extend(split_by_distance([0.0; 3], &untried, 4, turn).0);
        }
        assert!(chosen.len() > 150, "{} of 201 got a turn", chosen.len());
    }
}
