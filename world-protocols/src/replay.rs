//! Accepting each message once: a sliding window over one author's sequence numbers.

/// Remembers which sequence numbers one author has used, so each is accepted once.
///
/// It keeps the highest `seq` seen and a bitmap of the [`WINDOW`](Self::WINDOW) numbers
/// at and below it. A new number above the highest moves the window up; a number inside
/// the window is accepted if it has not been seen; a number below the window is refused,
/// because there is no way to tell whether it was seen. Messages that arrive out of order
/// by fewer than `WINDOW` places are therefore all accepted.
///
/// Keep one per author, and call [`accept`](Self::accept) only after the message's
/// signature has been verified. Otherwise anyone could claim to be the author with a huge
/// `seq` and make the real author's messages look too old.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayGuard {
    /// The highest sequence number accepted so far, if any.
    highest: Option<u64>,
    /// Bit `i` is set when `highest - i` has been accepted.
    seen: u64,
}

/// Why a sequence number was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// This sequence number was already accepted.
    #[error("sequence number {seq} was already seen")]
    Duplicate {
        /// The refused sequence number.
        seq: u64,
    },
    /// This sequence number is too far below the highest one to tell whether it was seen.
    #[error("sequence number {seq} is too old (highest seen is {highest})")]
    TooOld {
        /// The refused sequence number.
        seq: u64,
        /// The highest sequence number accepted so far.
        highest: u64,
    },
}

impl ReplayGuard {
    /// How many sequence numbers, counting down from the highest, are remembered.
    pub const WINDOW: u64 = 64;

    /// A guard that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest sequence number accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Whether `seq` would be accepted, without remembering it. Useful to skip checking
    /// the signature of an obvious replay.
    pub fn check(&self, seq: u64) -> Result<(), ReplayError> {
        let Some(highest) = self.highest else {
            return Ok(());
        };
        if seq > highest {
            return Ok(());
        }
        let age = highest - seq;
        if age >= Self::WINDOW {
            Err(ReplayError::TooOld { seq, highest })
        } else if self.seen & (1 << age) != 0 {
            Err(ReplayError::Duplicate { seq })
        } else {
            Ok(())
        }
    }

    /// Accepts `seq` if it has not been seen, and remembers it.
    pub fn accept(&mut self, seq: u64) -> Result<(), ReplayError> {
        self.check(seq)?;
        match self.highest {
            Some(highest) if seq <= highest => {
                self.seen |= 1 << (highest - seq);
            }
            Some(highest) => {
                let shift = seq - highest;
                self.seen = if shift >= Self::WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(seq);
            }
            None => {
                self.seen = 1;
                self.highest = Some(seq);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_number_once() {
        let mut guard = ReplayGuard::new();
        assert_eq!(guard.accept(5), Ok(()));
        assert_eq!(guard.accept(5), Err(ReplayError::Duplicate { seq: 5 }));
        assert_eq!(guard.accept(6), Ok(()));
        assert_eq!(guard.accept(6), Err(ReplayError::Duplicate { seq: 6 }));
        assert_eq!(guard.accept(5), Err(ReplayError::Duplicate { seq: 5 }));
        assert_eq!(guard.highest(), Some(6));
    }

    #[test]
    fn zero_is_a_valid_first_number() {
        let mut guard = ReplayGuard::new();
        assert_eq!(guard.accept(0), Ok(()));
        assert_eq!(guard.accept(0), Err(ReplayError::Duplicate { seq: 0 }));
    }

    #[test]
    fn accepts_out_of_order_numbers_inside_the_window() {
        let mut guard = ReplayGuard::new();
        guard.accept(100).unwrap();
        assert_eq!(guard.accept(99), Ok(()));
        assert_eq!(guard.accept(37), Ok(()));
        assert_eq!(guard.accept(37), Err(ReplayError::Duplicate { seq: 37 }));
        assert_eq!(
            guard.accept(36),
            Err(ReplayError::TooOld {
                seq: 36,
                highest: 100
            })
        );
        assert_eq!(guard.accept(99), Err(ReplayError::Duplicate { seq: 99 }));
    }

    #[test]
    fn moving_up_keeps_what_is_still_in_the_window() {
        let mut guard = ReplayGuard::new();
        guard.accept(10).unwrap();
        guard.accept(8).unwrap();
        guard.accept(20).unwrap();
        assert_eq!(guard.accept(10), Err(ReplayError::Duplicate { seq: 10 }));
        assert_eq!(guard.accept(8), Err(ReplayError::Duplicate { seq: 8 }));
        assert_eq!(guard.accept(9), Ok(()));
    }

    #[test]
    fn a_big_jump_forgets_everything_below_the_window() {
        let mut guard = ReplayGuard::new();
        guard.accept(1).unwrap();
        guard.accept(1 + ReplayGuard::WINDOW).unwrap();
        assert_eq!(guard.accept(1), Err(ReplayError::TooOld { seq: 1, highest: 65 }));
        assert_eq!(guard.accept(2), Ok(()));
        guard.accept(u64::MAX).unwrap();
        assert_eq!(
            guard.accept(u64::MAX),
            Err(ReplayError::Duplicate { seq: u64::MAX })
        );
        assert_eq!(guard.accept(u64::MAX - 63), Ok(()));
        assert!(matches!(
            guard.accept(u64::MAX - 64),
            Err(ReplayError::TooOld { .. })
        ));
    }

    #[test]
    fn check_does_not_remember() {
        let mut guard = ReplayGuard::new();
        assert_eq!(guard.check(3), Ok(()));
        assert_eq!(guard.check(3), Ok(()));
        guard.accept(3).unwrap();
        assert_eq!(guard.check(3), Err(ReplayError::Duplicate { seq: 3 }));
    }

    #[test]
    fn matches_a_simple_model_on_a_long_shuffled_run() {
        // Compare with the obvious implementation (a set of everything seen) on a
        // pseudo-random sequence that moves forward with some reordering and repeats.
        let mut guard = ReplayGuard::new();
        let mut seen = std::collections::HashSet::new();
        let mut highest = 0u64;
        let mut state = 12345u64;
        let mut outcomes = [0; 3];
        for _ in 0..10_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let step = (state >> 33) % 100;
            let seq = (highest + 5).saturating_sub(step);
            let expected = if !seen.is_empty() && seq + ReplayGuard::WINDOW <= highest {
                Err(ReplayError::TooOld { seq, highest })
            } else if seen.contains(&seq) {
                Err(ReplayError::Duplicate { seq })
            } else {
                Ok(())
            };
            assert_eq!(guard.accept(seq), expected, "seq {seq}");
            outcomes[match expected {
                Ok(()) => 0,
                Err(ReplayError::Duplicate { .. }) => 1,
                Err(ReplayError::TooOld { .. }) => 2,
            }] += 1;
            if expected.is_ok() {
                seen.insert(seq);
                highest = highest.max(seq);
            }
        }
        // The run must exercise all three outcomes to mean anything.
        assert!(outcomes.iter().all(|&n| n > 100), "{outcomes:?}");
    }
}
