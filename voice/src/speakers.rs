//! The listening side: every speaker's jitter buffer and decoder, mixed into one stereo
//! stream by where each stands.

use std::collections::{HashMap, VecDeque};

use sanctuary_protocols::{FrameDuration, PeerId, ReceptionReport, VoicePacket};

use crate::codec::{SAMPLE_RATE, VoiceDecoder};
use crate::jitter::{JitterBuffer, JitterStats, Playout};
use crate::level::{SILENCE_DB, level_db};
use crate::mix::{Gains, Listener, limit, mix_into};

/// Most speakers one listener keeps state for; a speaker past this is not heard until one
/// of the others has been quiet for [`SPEAKER_IDLE_MS`].
pub const SPEAKERS_MAX: usize = 64;

/// How long a speaker's state is kept after their last packet, in milliseconds.
pub const SPEAKER_IDLE_MS: u64 = 10_000;

/// Length of one mixed frame: the mixer's tick.
pub const MIX_FRAME: FrameDuration = FrameDuration::Ms10;

/// Why a packet was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Already [`SPEAKERS_MAX`] people are speaking.
    #[error("too many speakers at once")]
    TooManySpeakers,
    /// The person is muted.
    #[error("speaker is muted")]
    Muted,
}

/// One person heard.
struct Speaker {
    buffer: JitterBuffer,
    decoder: Option<VoiceDecoder>,
    frame: FrameDuration,
    /// Decoded samples not yet mixed.
    pending: VecDeque<f32>,
    gains: Gains,
    call: bool,
    level_db: f32,
    last_packet_ms: u64,
    /// The newest frame heard.
    newest_seq: Option<u32>,
    /// The buffer's counts when the last reception report went out.
    reported: JitterStats,
}

impl Speaker {
    fn new(frame: FrameDuration, now_ms: u64) -> Self {
        Self {
            buffer: JitterBuffer::new(frame.millis()),
            decoder: None,
            frame,
            pending: VecDeque::new(),
            gains: Gains::default(),
            call: false,
            level_db: SILENCE_DB,
            last_packet_ms: now_ms,
            newest_seq: None,
            reported: JitterStats::default(),
        }
    }

    /// Fills `pending` with at least `samples` samples, decoding frames as they come due.
    /// Returns false when the speaker is silent.
    fn fill(&mut self, samples: usize) -> bool {
        while self.pending.len() < samples {
            let decoder = match &mut self.decoder {
                Some(decoder) => decoder,
                None => match VoiceDecoder::new(self.frame) {
                    Ok(decoder) => self.decoder.insert(decoder),
                    Err(_) => return false,
                },
            };
            let frame = match self.buffer.pop() {
                Playout::Frame(opus) => decoder.decode(&opus).or_else(|_| decoder.recover(None)),
                Playout::Recover(next) => decoder.recover(Some(&next)),
                Playout::Conceal => decoder.recover(None),
                Playout::Silence => {
                    self.pending.clear();
                    return false;
                }
            };
            let Ok(frame) = frame else {
                return false;
            };
            self.level_db = level_db(&frame);
            self.pending.extend(frame);
        }
        true
    }
}

/// Everyone heard by one listener, and their settings.
pub struct Speakers {
    speakers: HashMap<PeerId, Speaker>,
    volumes: HashMap<PeerId, f32>,
    muted: std::collections::HashSet<PeerId>,
    refused: u64,
}

impl Default for Speakers {
    fn default() -> Self {
        Self::new()
    }
}

impl Speakers {
    /// No one heard yet.
    pub fn new() -> Self {
        Self {
            speakers: HashMap::new(),
            volumes: HashMap::new(),
            muted: Default::default(),
            refused: 0,
        }
    }

    /// Takes a packet from `from`, received at `now_ms`.
    pub fn receive(&mut self, from: PeerId, packet: VoicePacket, now_ms: u64) -> Result<(), Refused> {
        if self.muted.contains(&from) {
            self.refused += 1;
            return Err(Refused::Muted);
        }
        if !self.speakers.contains_key(&from) {
            self.forget_idle(now_ms);
            if self.speakers.len() >= SPEAKERS_MAX {
                self.refused += 1;
                return Err(Refused::TooManySpeakers);
            }
        }
        let speaker = self
            .speakers
            .entry(from)
            .or_insert_with(|| Speaker::new(packet.frame, now_ms));
        if speaker.frame != packet.frame {
            // The speaker changed frame length: start their stream afresh.
            *speaker = Speaker::new(packet.frame, now_ms);
        }
        // The newest by serial-number order (the sequence wraps).
        if speaker
            .newest_seq
            .is_none_or(|newest| packet.seq.wrapping_sub(newest).wrapping_sub(1) < (1 << 31) - 1)
        {
            speaker.newest_seq = Some(packet.seq);
        }
        speaker.last_packet_ms = now_ms;
        speaker.call = packet.call;
        speaker.buffer.push(packet.seq, packet.opus, packet.end, now_ms);
        Ok(())
    }

    /// Mixes one [`MIX_FRAME`] for `listener`: stereo, interleaved. `place` says where a
    /// speaker stands (None: not in the same space, not heard unless in a call with us).
    pub fn mix(&mut self, listener: &Listener, place: impl Fn(&PeerId) -> Option<[f32; 3]>) -> Vec<f32> {
        let samples = MIX_FRAME.samples(SAMPLE_RATE);
        let mut stereo = vec![0.0; samples * 2];
        for (peer, speaker) in &mut self.speakers {
            let volume = self.volumes.get(peer).copied().unwrap_or(1.0);
            let target = if speaker.call {
                Gains::centred(volume)
            } else {
                place(peer).map_or_else(Gains::default, |at| listener.gains(at).scaled(volume))
            };
            if !speaker.fill(samples) {
                speaker.level_db = SILENCE_DB;
                speaker.gains = target;
                continue;
            }
            let frame: Vec<f32> = speaker.pending.drain(..samples).collect();
            mix_into(&mut stereo, &frame, speaker.gains, target);
            speaker.gains = target;
        }
        limit(&mut stereo);
        stereo
    }

    /// Whether `peer` is heard speaking now.
    pub fn is_speaking(&self, peer: &PeerId) -> bool {
        self.speakers
            .get(peer)
            .is_some_and(|speaker| speaker.buffer.is_playing())
    }

    /// The last level heard from `peer`, in dBFS.
    pub fn level_db(&self, peer: &PeerId) -> f32 {
        self.speakers
            .get(peer)
            .map_or(SILENCE_DB, |speaker| speaker.level_db)
    }

    /// Sets how loud `peer` is (1 is as sent; 0 silent; at most 4).
    pub fn set_volume(&mut self, peer: PeerId, volume: f32) {
        let volume = if volume.is_finite() {
            volume.clamp(0.0, 4.0)
        } else {
            1.0
        };
        self.volumes.insert(peer, volume);
        if self.volumes.len() > 4 * SPEAKERS_MAX {
            // Settings for people long gone go first; keep those heard now.
            let heard: Vec<PeerId> = self.speakers.keys().copied().collect();
            self.volumes.retain(|peer, _| heard.contains(peer));
        }
    }

    /// How loud `peer` is set.
    pub fn volume(&self, peer: &PeerId) -> f32 {
        self.volumes.get(peer).copied().unwrap_or(1.0)
    }

    /// Mutes or unmutes `peer`: a muted person's packets are dropped on arrival.
    pub fn set_muted(&mut self, peer: PeerId, muted: bool) {
        if muted {
            self.muted.insert(peer);
            self.speakers.remove(&peer);
        } else {
            self.muted.remove(&peer);
        }
    }

    /// Whether `peer` is muted.
    pub fn is_muted(&self, peer: &PeerId) -> bool {
        self.muted.contains(peer)
    }

    /// Forgets `peer` (they left): their stream ends at once.
    pub fn remove(&mut self, peer: &PeerId) {
        self.speakers.remove(peer);
    }

    /// People with a stream now.
    pub fn peers(&self) -> impl Iterator<Item = &PeerId> {
        self.speakers.keys()
    }

    /// What `peer`'s jitter buffer did.
    pub fn stats(&self, peer: &PeerId) -> Option<JitterStats> {
        self.speakers.get(peer).map(|speaker| speaker.buffer.stats())
    }

    /// The delay `peer`'s jitter buffer aims at, in milliseconds.
    pub fn delay_ms(&self, peer: &PeerId) -> Option<u32> {
        self.speakers.get(peer).map(|speaker| speaker.buffer.target_ms())
    }

    /// A reception report for each speaker who played frames since the last call: the
    /// share of those frames that were missing at their turn. Call about once a
    /// [`REPORT_EVERY_MS`](crate::feedback::REPORT_EVERY_MS) and send each back to its
    /// speaker.
    pub fn reception_reports(&mut self) -> Vec<(PeerId, ReceptionReport)> {
        let mut reports = Vec::new();
        for (peer, speaker) in &mut self.speakers {
            let now = speaker.buffer.stats();
            let played = now.played - speaker.reported.played;
            if played == 0 {
                continue;
            }
            let missing = now.missing() - speaker.reported.missing();
            speaker.reported = now;
            let loss_percent = (missing * 100).div_ceil(played).min(100) as u8;
            reports.push((
                *peer,
                ReceptionReport {
                    seq: speaker.newest_seq.unwrap_or_default(),
                    call: speaker.call,
                    loss_percent,
                },
            ));
        }
        reports
    }

    /// Packets refused (muted, too many speakers).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn forget_idle(&mut self, now_ms: u64) {
        self.speakers
            .retain(|_, speaker| now_ms.saturating_sub(speaker.last_packet_ms) < SPEAKER_IDLE_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::VoiceEncoder;

    fn peer(n: u8) -> PeerId {
        sanctuary_protocols::Keypair::from_bytes(&[n; 32]).peer_id()
    }

    fn tone_packets(count: usize, call: bool) -> Vec<VoicePacket> {
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms20).unwrap();
        (0..count)
            .map(|frame| {
                let samples: Vec<f32> = (0..960)
                    .map(|n| 0.5 * ((frame * 960 + n) as f32 * 0.06).sin())
                    .collect();
                encoder.encode(&samples, call).unwrap()
            })
            .collect()
    }

    fn energy(stereo: &[f32]) -> (f32, f32) {
        stereo
            .chunks_exact(2)
            .fold((0.0, 0.0), |(l, r), s| (l + s[0] * s[0], r + s[1] * s[1]))
    }

    #[test]
    fn two_speakers_are_mixed_by_where_they_stand() {
        let mut speakers = Speakers::new();
        let (near, far) = (peer(1), peer(2));
        let mut heard = (0.0, 0.0);
        for (n, packet) in tone_packets(30, false).into_iter().enumerate() {
            speakers.receive(near, packet.clone(), n as u64 * 20).unwrap();
            speakers.receive(far, packet, n as u64 * 20).unwrap();
            for _ in 0..2 {
                let stereo = speakers.mix(&Listener::default(), |p| {
                    Some(if *p == near {
                        [2.0, 0.0, 0.0]
                    } else {
                        [-10.0, 0.0, 0.0]
                    })
                });
                let (l, r) = energy(&stereo);
                heard.0 += l;
                heard.1 += r;
            }
        }
        // Right ear: the near speaker on the right; left ear: the far one on the left.
        assert!(heard.1 > 4.0 * heard.0, "{heard:?}");
        assert!(heard.0 > 0.1, "the far speaker is still heard: {heard:?}");
        assert!(speakers.is_speaking(&near));
    }

    #[test]
    fn a_call_is_heard_from_anywhere_and_muting_silences_a_person() {
        let mut speakers = Speakers::new();
        let caller = peer(3);
        let mut total = 0.0;
        for (n, packet) in tone_packets(10, true).into_iter().enumerate() {
            speakers.receive(caller, packet, n as u64 * 20).unwrap();
            for _ in 0..2 {
                let (l, r) = energy(&speakers.mix(&Listener::default(), |_| None));
                total += l + r;
            }
        }
        assert!(total > 1.0, "a call partner far away is heard: {total}");
        speakers.set_muted(caller, true);
        assert_eq!(
            speakers.receive(caller, tone_packets(1, true).remove(0), 400),
            Err(Refused::Muted)
        );
        let (l, r) = energy(&speakers.mix(&Listener::default(), |_| None));
        assert_eq!(l + r, 0.0);
    }

    #[test]
    fn a_speaker_who_leaves_goes_quiet_at_once_and_a_return_starts_afresh() {
        let mut speakers = Speakers::new();
        let speaker = peer(4);
        let packets = tone_packets(20, false);
        for (n, packet) in packets[..10].iter().enumerate() {
            speakers.receive(speaker, packet.clone(), n as u64 * 20).unwrap();
        }
        let (l, r) = energy(&speakers.mix(&Listener::default(), |_| Some([0.0, 0.0, -1.0])));
        assert!(l + r > 0.0 && speakers.is_speaking(&speaker));
        // They leave with frames still buffered: nothing more of them is played.
        speakers.remove(&speaker);
        assert!(!speakers.is_speaking(&speaker));
        assert_eq!(speakers.peers().count(), 0);
        let (l, r) = energy(&speakers.mix(&Listener::default(), |_| Some([0.0, 0.0, -1.0])));
        assert_eq!(l + r, 0.0);
        // Back again later, mid-stream: a new stream from their next packet.
        speakers.receive(speaker, packets[15].clone(), 1000).unwrap();
        let (l, r) = energy(&speakers.mix(&Listener::default(), |_| Some([0.0, 0.0, -1.0])));
        assert!(l + r > 0.0);
        assert_eq!(speakers.stats(&speaker).map(|stats| stats.received), Some(1));
    }

    #[test]
    fn reception_reports_say_what_share_of_frames_went_missing() {
        let mut speakers = Speakers::new();
        let (clean, lossy) = (peer(5), peer(6));
        for (n, packet) in tone_packets(100, false).into_iter().enumerate() {
            speakers.receive(clean, packet.clone(), n as u64 * 20).unwrap();
            // Every fifth frame of the second speaker is lost on the way.
            if n % 5 != 2 {
                speakers.receive(lossy, packet, n as u64 * 20).unwrap();
            }
            for _ in 0..2 {
                speakers.mix(&Listener::default(), |_| Some([0.0, 0.0, -1.0]));
            }
        }
        let reports: HashMap<_, _> = speakers.reception_reports().into_iter().collect();
        assert_eq!(reports[&clean].loss_percent, 0);
        assert_eq!(reports[&clean].seq, 99);
        assert!(
            (15..=25).contains(&reports[&lossy].loss_percent),
            "{:?}",
            reports[&lossy]
        );
        // Nothing played since: nothing to report.
        assert!(speakers.reception_reports().is_empty());
    }

    #[test]
    fn speakers_are_bounded_and_idle_ones_make_room() {
        let mut speakers = Speakers::new();
        let packet = tone_packets(1, false).remove(0);
        for n in 0..SPEAKERS_MAX {
            let key = sanctuary_protocols::Keypair::from_bytes(&[n as u8 + 10; 32]).peer_id();
            speakers.receive(key, packet.clone(), 0).unwrap();
        }
        assert_eq!(
            speakers.receive(peer(200), packet.clone(), 10),
            Err(Refused::TooManySpeakers)
        );
        assert_eq!(speakers.refused(), 1);
        assert!(speakers.receive(peer(200), packet, SPEAKER_IDLE_MS + 1).is_ok());
        assert_eq!(speakers.peers().count(), 1);
    }
}
