//! Loss feedback from listeners to a speaker. Each listener tells each speaker, about once
//! a [`REPORT_EVERY_MS`], what share of their frames were missing when their turn came to
//! play ([`Speakers::reception_reports`](crate::Speakers::reception_reports)); the speaker
//! keeps the latest report of each listener and sets its encoder by the one who misses
//! most ([`Talker::adapt`](crate::Talker::adapt)): a lower bitrate and more of it on FEC.

use std::collections::HashMap;

use sanctuary_protocols::limits::VOICE_LISTENERS_MAX;
use sanctuary_protocols::{PeerId, ReceptionReport};

/// How often a listener reports, in milliseconds.
pub const REPORT_EVERY_MS: u64 = 1_000;

/// How long a report counts, in milliseconds: a listener who stopped reporting (out of
/// earshot, gone) stops weighing on the bitrate.
pub const REPORT_FRESH_MS: u64 = 3 * REPORT_EVERY_MS;

/// The latest report of each listener, bounded by [`VOICE_LISTENERS_MAX`] plus one (a call).
#[derive(Debug, Default)]
pub struct LossReports {
    latest: HashMap<PeerId, (f32, u64)>,
}

impl LossReports {
    /// No reports yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `report` from `listener`, received at `now_ms`. The caller passes only reports
    /// of people it sends to: anyone else has no say in our bitrate.
    pub fn note(&mut self, listener: PeerId, report: &ReceptionReport, now_ms: u64) {
        self.forget_stale(now_ms);
        if self.latest.len() > VOICE_LISTENERS_MAX && !self.latest.contains_key(&listener) {
            return;
        }
        self.latest.insert(listener, (report.loss(), now_ms));
    }

    /// The highest loss a listener reported lately, 0..=1 (0 with no reports).
    pub fn worst(&mut self, now_ms: u64) -> f32 {
        self.forget_stale(now_ms);
        self.latest.values().map(|(loss, _)| *loss).fold(0.0, f32::max)
    }

    fn forget_stale(&mut self, now_ms: u64) {
        self.latest
            .retain(|_, (_, at)| now_ms.saturating_sub(*at) < REPORT_FRESH_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(loss_percent: u8) -> ReceptionReport {
        ReceptionReport {
            seq: 0,
            call: false,
            loss_percent,
        }
    }

    #[test]
    fn the_listener_who_misses_most_counts_until_their_report_goes_stale() {
        let mut reports = LossReports::new();
        assert_eq!(reports.worst(0), 0.0);
        reports.note(PeerId::from_bytes([1; 32]), &report(2), 0);
        reports.note(PeerId::from_bytes([2; 32]), &report(15), 500);
        assert_eq!(reports.worst(1_000), 0.15);
        // The second listener's newer report replaces their old one.
        reports.note(PeerId::from_bytes([2; 32]), &report(4), 1_500);
        assert_eq!(reports.worst(2_000), 0.04);
        // Nobody reports for a while: no report is fresh, the network counts as clean.
        assert_eq!(reports.worst(1_500 + REPORT_FRESH_MS), 0.0);
    }

    #[test]
    fn reports_are_kept_for_a_bounded_number_of_listeners() {
        let mut reports = LossReports::new();
        for n in 0..200u8 {
            reports.note(PeerId::from_bytes([n; 32]), &report(n.min(100)), 0);
        }
        assert!(reports.latest.len() <= VOICE_LISTENERS_MAX + 1);
    }
}
