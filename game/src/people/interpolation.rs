//! Smooth remote motion: poses are kept in arrival order and shown a little in the
//! past, so there is always a pose before and after the moment shown to blend between.
//! The delay adapts to how often and how evenly poses arrive; a lost pose only makes
//! one blend longer, and a late (reordered) pose is dropped rather than jumping back.

use std::collections::VecDeque;

/// How many poses a buffer keeps.
const CAPACITY: usize = 32;
/// The shortest delay, seconds.
const MIN_DELAY: f64 = 0.08;
/// The longest delay, seconds (distant peers send about once a second).
const MAX_DELAY: f64 = 2.5;

/// One received pose: where the feet are and which way the body faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Local time of arrival, seconds.
    pub arrived: f64,
    /// The sender's sequence number.
    pub seq: u32,
    /// Feet position.
    pub position: [f32; 3],
    /// Facing, radians.
    pub yaw: f32,
    /// The head and hands, shown as they are in the newest pose.
    pub limbs: Limbs,
}

/// A pose's head and hands: offsets and rotations in the body's frame, the head's
/// from the feet and each hand's from the head (see [`sanctuary_protocols::pose::TrackedPoint`]).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limbs {
    /// The head.
    pub head: sanctuary_protocols::pose::TrackedPoint,
    /// The left and right hands; a hand with no offset is not tracked.
    pub hands: [sanctuary_protocols::pose::TrackedPoint; 2],
}

/// The poses received from one peer, and the delay they are shown with.
#[derive(Debug, Clone, Default)]
pub struct PoseBuffer {
    snapshots: VecDeque<Snapshot>,
    /// Smoothed time between arrivals, seconds.
    interval: f64,
    /// Smoothed deviation of that time, seconds.
    jitter: f64,
}

impl PoseBuffer {
    /// Adds a pose; returns false (and keeps nothing) if it is older than the newest.
    pub fn push(&mut self, snapshot: Snapshot) -> bool {
        if let Some(newest) = self.snapshots.back() {
            // Sequence numbers wrap; "newer" is within half the range ahead.
            if snapshot.seq.wrapping_sub(newest.seq) == 0
                || snapshot.seq.wrapping_sub(newest.seq) > u32::MAX / 2
            {
                return false;
            }
            let gap = (snapshot.arrived - newest.arrived).max(0.0);
            if self.interval == 0.0 {
                self.interval = gap;
            } else {
                self.jitter += ((gap - self.interval).abs() - self.jitter) * 0.1;
                self.interval += (gap - self.interval) * 0.1;
            }
        }
        self.snapshots.push_back(snapshot);
        while self.snapshots.len() > CAPACITY {
            self.snapshots.pop_front();
        }
        true
    }

    /// How far in the past poses are shown: enough to cover one interval plus jitter.
    pub fn delay(&self) -> f64 {
        (self.interval * 1.5 + self.jitter * 3.0).clamp(MIN_DELAY, MAX_DELAY)
    }

    /// The newest pose received.
    pub fn newest(&self) -> Option<&Snapshot> {
        self.snapshots.back()
    }

    /// Where to show the avatar at local time `now`: position and yaw, blended.
    pub fn sample(&self, now: f64) -> Option<([f32; 3], f32)> {
        let shown = now - self.delay();
        let first = self.snapshots.front()?;
        if shown <= first.arrived {
            return Some((first.position, first.yaw));
        }
        let after = self.snapshots.iter().position(|s| s.arrived >= shown);
        let Some(after) = after else {
            // Past the newest pose: hold it (no guessing ahead, so no overshoot).
            let newest = self.snapshots.back()?;
            return Some((newest.position, newest.yaw));
        };
        let (a, b) = (&self.snapshots[after - 1], &self.snapshots[after]);
        let span = (b.arrived - a.arrived).max(1e-6);
        let t = ((shown - a.arrived) / span).clamp(0.0, 1.0) as f32;
        let lerp = |x: f32, y: f32| x + (y - x) * t;
        let position = [
            lerp(a.position[0], b.position[0]),
            lerp(a.position[1], b.position[1]),
            lerp(a.position[2], b.position[2]),
        ];
        let turn =
            (b.yaw - a.yaw + std::f32::consts::PI).rem_euclid(std::f32::consts::TAU) - std::f32::consts::PI;
        Some((position, a.yaw + turn * t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(seq: u32, arrived: f64) -> Snapshot {
        Snapshot {
            arrived,
            seq,
            position: [seq as f32 * 0.1, 0.0, 0.0],
            yaw: 0.0,
            limbs: Limbs::default(),
        }
    }

    #[test]
    fn shows_a_blend_between_poses_in_the_past() {
        let mut buffer = PoseBuffer::default();
        for seq in 0..20 {
            assert!(buffer.push(walk(seq, f64::from(seq) / 30.0)));
        }
        let now = 19.0 / 30.0;
        let (position, _) = buffer.sample(now).expect("a pose");
        let delay = buffer.delay();
        assert!((MIN_DELAY..0.2).contains(&delay), "delay {delay}");
        let expected = (now - delay) * 30.0 * 0.1;
        assert!(
            (f64::from(position[0]) - expected).abs() < 1e-3,
            "{position:?} vs {expected}"
        );
    }

    #[test]
    fn a_lost_pose_makes_no_jump() {
        let mut buffer = PoseBuffer::default();
        for seq in (0..30).filter(|seq| *seq != 15) {
            buffer.push(walk(seq, f64::from(seq) / 30.0));
        }
        let mut last = buffer.sample(0.3).expect("a pose").0[0];
        for step in 1..=60 {
            let now = 0.3 + f64::from(step) / 120.0;
            let x = buffer.sample(now).expect("a pose").0[0];
            assert!(x >= last && x - last < 0.06, "smooth at {now}: {last} -> {x}");
            last = x;
        }
    }

    #[test]
    fn a_late_pose_is_dropped() {
        let mut buffer = PoseBuffer::default();
        buffer.push(walk(5, 0.0));
        buffer.push(walk(7, 0.1));
        assert!(!buffer.push(walk(6, 0.12)), "older than the newest");
        assert!(!buffer.push(walk(7, 0.13)), "a duplicate");
        assert_eq!(buffer.newest().map(|s| s.seq), Some(7));
        // Wrapping: 2 comes after u32::MAX.
        let mut wrapping = PoseBuffer::default();
        assert!(wrapping.push(walk(u32::MAX - 1, 0.0)));
        assert!(wrapping.push(walk(2, 0.1)));
        assert!(!wrapping.push(walk(u32::MAX, 0.2)), "now older than 2");
    }

    #[test]
    fn the_delay_grows_for_slow_and_uneven_senders() {
        let mut fast = PoseBuffer::default();
        let mut slow = PoseBuffer::default();
        for seq in 0..20 {
            fast.push(walk(seq, f64::from(seq) / 30.0));
            let wobble = if seq % 2 == 0 { 0.2 } else { 0.0 };
            slow.push(walk(seq, f64::from(seq) + wobble));
        }
        assert!(
            slow.delay() > fast.delay() * 5.0,
            "{} vs {}",
            slow.delay(),
            fast.delay()
        );
    }

    #[test]
    fn yaw_turns_the_short_way_round() {
        let mut buffer = PoseBuffer::default();
        let turn = |seq, arrived, yaw| Snapshot {
            arrived,
            seq,
            position: [0.0; 3],
            yaw,
            limbs: Limbs::default(),
        };
        buffer.push(turn(0, 0.0, 3.0));
        buffer.push(turn(1, 1.0, -3.0));
        let (_, yaw) = buffer.sample(0.5 + buffer.delay()).expect("a pose");
        assert!(yaw.abs() > 3.0, "went through pi, not through zero: {yaw}");
    }
}
