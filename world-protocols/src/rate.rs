//! Limiting how many messages one peer may send: a token bucket.

use crate::limits::{MESSAGE_RATE_PER_PEER, POSE_RATE_PER_PEER, VOICE_RATE_PER_PEER};

/// A token bucket: each message takes a token, tokens come back at a steady rate, and
/// the bucket holds at most `burst` of them.
///
/// It reads no clock: pass the time in milliseconds from any clock that does not jump
/// backwards (a time that goes backwards is treated as no time passing). It starts full.
///
/// Tokens are counted in thousandths so that fractional refills add up exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimiter {
    /// Tokens added per second.
    rate_per_sec: u32,
    /// Most tokens the bucket holds, in thousandths.
    capacity_milli: u64,
    /// Tokens in the bucket now, in thousandths.
    tokens_milli: u64,
    /// When tokens were last added, in milliseconds.
    last_ms: u64,
}

const MILLI: u64 = 1000;

impl RateLimiter {
    /// A full bucket of `burst` tokens, refilled at `rate_per_sec` tokens per second.
    pub fn new(rate_per_sec: u32, burst: u32) -> Self {
        let capacity_milli = u64::from(burst) * MILLI;
        Self {
            rate_per_sec,
            capacity_milli,
            tokens_milli: capacity_milli,
            last_ms: 0,
        }
    }

    /// For one peer's gossip messages: [`MESSAGE_RATE_PER_PEER`] a second, in bursts of
    /// up to one second's worth.
    pub fn for_messages() -> Self {
        Self::new(MESSAGE_RATE_PER_PEER, MESSAGE_RATE_PER_PEER)
    }

    /// For one peer's pose datagrams: [`POSE_RATE_PER_PEER`] a second, in bursts of up
    /// to one second's worth.
    pub fn for_pose_datagrams() -> Self {
        Self::new(POSE_RATE_PER_PEER, POSE_RATE_PER_PEER)
    }

    /// For one peer's voice packets: [`VOICE_RATE_PER_PEER`] a second, in bursts of up to
    /// one second's worth.
    pub fn for_voice() -> Self {
        Self::new(VOICE_RATE_PER_PEER, VOICE_RATE_PER_PEER)
    }

    /// Takes a token if there is one: `true` means let the message through.
    pub fn try_acquire(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        if self.tokens_milli >= MILLI {
            self.tokens_milli -= MILLI;
            true
        } else {
            false
        }
    }

    /// Whole tokens available at `now_ms`.
    pub fn available(&mut self, now_ms: u64) -> u64 {
        self.refill(now_ms);
        self.tokens_milli / MILLI
    }

    fn refill(&mut self, now_ms: u64) {
        if now_ms <= self.last_ms {
            return;
        }
        // `rate_per_sec` tokens a second is `rate_per_sec` thousandths a millisecond.
        let added = (now_ms - self.last_ms).saturating_mul(u64::from(self.rate_per_sec));
        self.tokens_milli = self.tokens_milli.saturating_add(added).min(self.capacity_milli);
        self.last_ms = now_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take_all(limiter: &mut RateLimiter, now_ms: u64) -> u32 {
        let mut taken = 0;
        while limiter.try_acquire(now_ms) {
            taken += 1;
        }
        taken
    }

    #[test]
    fn starts_full_then_refuses() {
        let mut limiter = RateLimiter::new(10, 5);
        assert_eq!(take_all(&mut limiter, 1_000_000), 5);
        assert!(!limiter.try_acquire(1_000_000));
    }

    #[test]
    fn refills_at_the_rate() {
        let mut limiter = RateLimiter::new(10, 5);
        let start = 50_000;
        take_all(&mut limiter, start);
        // 10 a second is one every 100 ms.
        assert!(!limiter.try_acquire(start + 99));
        assert!(limiter.try_acquire(start + 100));
        assert!(!limiter.try_acquire(start + 150));
        assert!(limiter.try_acquire(start + 200));
        // Fractions add up: 7 steps of 30 ms is 210 ms, two tokens.
        let mut now = start + 200;
        let mut taken = 0;
        for _ in 0..7 {
            now += 30;
            taken += take_all(&mut limiter, now);
        }
        assert_eq!(taken, 2);
    }

    #[test]
    fn never_holds_more_than_the_burst() {
        let mut limiter = RateLimiter::new(10, 5);
        take_all(&mut limiter, 0);
        assert_eq!(limiter.available(3_600_000), 5);
        assert_eq!(take_all(&mut limiter, u64::MAX), 5);
    }

    #[test]
    fn a_clock_going_backwards_adds_nothing() {
        let mut limiter = RateLimiter::new(10, 5);
        take_all(&mut limiter, 10_000);
        assert!(!limiter.try_acquire(5_000));
        // The earlier time did not reset the clock: 100 ms after 10 000 gives a token.
        assert!(!limiter.try_acquire(10_099));
        assert!(limiter.try_acquire(10_100));
    }

    #[test]
    fn sustained_rate_over_a_minute() {
        let mut limiter = RateLimiter::for_messages();
        let mut accepted = 0;
        // Someone sending every millisecond for a minute gets the burst plus 30 a second.
        for now in 0..=60_000 {
            accepted += u32::from(limiter.try_acquire(now));
        }
        assert_eq!(accepted, MESSAGE_RATE_PER_PEER + 60 * MESSAGE_RATE_PER_PEER);
    }

    #[test]
    fn zero_burst_refuses_everything() {
        let mut limiter = RateLimiter::new(100, 0);
        assert!(!limiter.try_acquire(0));
        assert!(!limiter.try_acquire(10_000));
    }
}
