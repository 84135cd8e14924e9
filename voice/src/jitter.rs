//! The adaptive jitter buffer: one per speaker, between the network and the decoder.
//!
//! Packets arrive early, late, twice or never; the mixer asks for one frame per tick. The
//! buffer holds packets by sequence number and plays them a little behind the newest, by a
//! delay that follows the measured jitter: it grows at once when packets come late (a
//! late packet is a gap someone heard) and shrinks by one frame only after the jitter has
//! stayed low for [`SHRINK_AFTER_FRAMES`] frames, so a burst does not make it flap.

use std::collections::BTreeMap;

/// Most frames a speaker's buffer holds; packets further ahead are dropped.
pub const BUFFER_FRAMES_MAX: u32 = 50;

/// Frames of low jitter after which the delay may shrink by one frame.
pub const SHRINK_AFTER_FRAMES: u32 = 100;

/// Frames in a row with more buffered than needed before one is skipped.
pub const SKIP_AFTER_FRAMES: u32 = 50;

/// Most frames of delay the buffer adds.
pub const DELAY_FRAMES_MAX: u32 = 12;

/// Share of missing frames above which the buffer keeps a frame in hand for FEC.
const LOSSY: f32 = 0.02;

/// Frames of delay that let a lost frame be rebuilt from the next one.
const FEC_FRAMES: u32 = 2;

/// An arrival this much later than expected is a pause in speech, not jitter.
const PAUSE_MS: f32 = 500.0;

/// What to play for one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Playout {
    /// The frame arrived: decode it.
    Frame(Vec<u8>),
    /// The frame is missing but the next one is here: rebuild it from that one's FEC.
    Recover(Vec<u8>),
    /// The frame is missing: conceal it (Opus PLC).
    Conceal,
    /// Nothing to play: the speaker is not talking, or the buffer is still filling.
    Silence,
}

/// What the buffer did, for the speaker's stats and the sender's bitrate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    /// Packets taken in.
    pub received: u64,
    /// Packets that came after their turn to play, or twice: dropped.
    pub late: u64,
    /// Packets too far ahead of what plays: dropped.
    pub too_far: u64,
    /// Frames rebuilt from the next packet's FEC.
    pub recovered: u64,
    /// Frames concealed.
    pub concealed: u64,
    /// Frames skipped to bring the delay down.
    pub skipped: u64,
    /// Frames held back (concealed without moving on) to make the delay longer.
    pub stretched: u64,
    /// Frames whose turn came to play: received, rebuilt or concealed (not the held-back
    /// ones, nor the silence between spurts).
    pub played: u64,
}

impl JitterStats {
    /// Frames missing when their turn came (lost or late): rebuilt or concealed.
    pub fn missing(&self) -> u64 {
        self.recovered + self.concealed
    }
}

/// One speaker's packets, waiting for their turn.
#[derive(Debug)]
pub struct JitterBuffer {
    frame_ms: u32,
    packets: BTreeMap<u32, Vec<u8>>,
    /// The sequence number that plays next (set by the first packet).
    next: Option<u32>,
    playing: bool,
    /// The spurt's last packet: once it has played, the buffer goes quiet.
    end: Option<u32>,
    /// Delay in frames the buffer aims at.
    target: u32,
    /// Interarrival jitter estimate in milliseconds (RFC 3550's filter).
    jitter_ms: f32,
    last_arrival: Option<(u32, u64)>,
    calm_frames: u32,
    /// Frames played in a row with more buffered than the target needs.
    deep_frames: u32,
    /// Frames of delay still to add after the target grew while playing: each is a
    /// concealed frame played without moving on.
    stretch: u32,
    /// Share of recent frames that were missing, smoothed.
    loss: f32,
    stats: JitterStats,
}

impl JitterBuffer {
    /// An empty buffer for frames of `frame_ms`, aiming at one frame of delay.
    pub fn new(frame_ms: u32) -> Self {
        Self {
            frame_ms: frame_ms.max(1),
            packets: BTreeMap::new(),
            next: None,
            playing: false,
            end: None,
            target: 1,
            jitter_ms: 0.0,
            last_arrival: None,
            calm_frames: 0,
            deep_frames: 0,
            stretch: 0,
            loss: 0.0,
            stats: JitterStats::default(),
        }
    }

    /// Takes in packet `seq` (its Opus bytes; `end` for a spurt's last), which arrived at
    /// `now_ms` on any steady clock.
    pub fn push(&mut self, seq: u32, opus: Vec<u8>, end: bool, now_ms: u64) {
        self.stats.received += 1;
        if self.end.is_some_and(|last| ahead(seq, last) > 0) {
            // A new spurt after the last one ended: the pause between is no jitter.
            self.end = None;
            self.last_arrival = None;
            if !self.playing {
                self.next = Some(seq);
            }
        }
        self.measure(seq, now_ms);
        let next = *self.next.get_or_insert(seq);
        let offset = ahead(seq, next);
        if offset < 0 || (offset == 0 && self.playing && self.packets.contains_key(&seq)) {
            // Its turn has passed: whoever listens already heard a concealed frame.
            self.stats.late += 1;
            self.grow(self.target + 1);
            return;
        }
        if offset as u32 >= BUFFER_FRAMES_MAX {
            if self.playing || !self.packets.is_empty() {
                self.stats.too_far += 1;
                return;
            }
            // Nothing buffered: the stream moved on (a restart); follow it.
            self.next = Some(seq);
        }
        if end {
            self.end = Some(seq);
        }
        if self.packets.insert(seq, opus).is_some() {
            self.stats.late += 1;
        }
    }

    /// The frame to play this tick.
    pub fn pop(&mut self) -> Playout {
        let Some(next) = self.next else {
            return Playout::Silence;
        };
        if !self.playing {
            if self.depth(next) < self.target && self.end.is_none() {
                return Playout::Silence;
            }
            self.playing = true;
        }
        self.settle();
        if self.stretch > 0 {
            // Add the delay the target grew by: hold this frame back one tick.
            self.stretch -= 1;
            if self.depth(next) < self.target + 1 {
                self.stats.stretched += 1;
                return Playout::Conceal;
            }
        }
        let mut next = next;
        // Too far behind the newest packet for a while: skip a frame to catch up.
        if self.depth(next) > self.target + 2 {
            self.deep_frames += 1;
        } else {
            self.deep_frames = 0;
        }
        if self.deep_frames >= SKIP_AFTER_FRAMES {
            self.packets.remove(&next);
            next = next.wrapping_add(1);
            self.stats.skipped += 1;
            // The next skip comes ten frames later: the delay drains by a frame every
            // ten, too little for anyone to hear.
            self.deep_frames = SKIP_AFTER_FRAMES - 10;
        }
        let missing = !self.packets.contains_key(&next);
        let playout = match self.packets.remove(&next) {
            Some(opus) if opus.is_empty() => Playout::Silence,
            Some(opus) => Playout::Frame(opus),
            None if self.packets.is_empty() && self.end.is_some() => Playout::Silence,
            None => match self.packets.get(&next.wrapping_add(1)) {
                Some(following) if !following.is_empty() => {
                    self.stats.recovered += 1;
                    Playout::Recover(following.clone())
                }
                _ => {
                    self.stats.concealed += 1;
                    Playout::Conceal
                }
            },
        };
        if !matches!(playout, Playout::Silence) {
            self.stats.played += 1;
            self.loss += (if missing { 1.0 } else { 0.0 } - self.loss) / 32.0;
            if self.loss > LOSSY {
                // Keep one frame in hand, so a lost frame can be rebuilt from the next
                // one's FEC.
                self.grow(FEC_FRAMES);
            }
        }
        if self.end.is_some_and(|last| ahead(next, last) >= 0) {
            // The spurt is over: quiet until the next one, which starts buffering anew.
            self.playing = false;
            self.packets.clear();
            self.next = Some(next.wrapping_add(1));
        } else {
            self.next = Some(next.wrapping_add(1));
        }
        playout
    }

    /// Whether frames are playing now.
    pub fn is_playing(&self) -> bool {
        self.playing
    }

    /// Frames waiting to play, up to the newest packet.
    pub fn buffered(&self) -> u32 {
        self.next.map_or(0, |next| self.depth(next))
    }

    /// The delay the buffer aims at, in milliseconds.
    pub fn target_ms(&self) -> u32 {
        self.target * self.frame_ms
    }

    /// The interarrival jitter measured, in milliseconds.
    pub fn jitter_ms(&self) -> f32 {
        self.jitter_ms
    }

    /// What the buffer did so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Frames buffered from `next` up to the newest packet.
    fn depth(&self, next: u32) -> u32 {
        self.packets
            .keys()
            .map(|&seq| ahead(seq, next))
            .filter(|&offset| offset >= 0)
            .max()
            .map_or(0, |newest| newest as u32 + 1)
    }

    fn measure(&mut self, seq: u32, now_ms: u64) {
        if let Some((last_seq, last_ms)) = self.last_arrival {
            let frames = ahead(seq, last_seq);
            if frames > 0 {
                let expected = i64::from(frames) * i64::from(self.frame_ms);
                let arrived = now_ms as i64 - last_ms as i64;
                let deviation = (arrived - expected).unsigned_abs() as f32;
                // Longer than a pause in the network could be: the speaker paused (their
                // spurt's last packet lost). Not jitter.
                if deviation < PAUSE_MS {
                    self.jitter_ms += (deviation - self.jitter_ms) / 16.0;
                }
            }
        }
        if self
            .last_arrival
            .is_none_or(|(last_seq, _)| ahead(seq, last_seq) > 0)
        {
            self.last_arrival = Some((seq, now_ms));
        }
        self.grow(self.wanted());
    }

    /// Frames of delay that cover about three times the typical deviation.
    fn wanted(&self) -> u32 {
        (3.0 * self.jitter_ms / self.frame_ms as f32).round() as u32 + 1
    }

    fn grow(&mut self, wanted: u32) {
        let wanted = wanted.clamp(1, DELAY_FRAMES_MAX);
        if wanted > self.target {
            if self.playing {
                self.stretch += wanted - self.target;
            }
            self.target = wanted;
            self.calm_frames = 0;
        }
    }

    /// Counts calm frames and lowers the target after enough of them.
    fn settle(&mut self) {
        let mut wanted = self.wanted();
        if self.loss > LOSSY {
            wanted = wanted.max(FEC_FRAMES);
        }
        if wanted < self.target {
            self.calm_frames += 1;
            if self.calm_frames >= SHRINK_AFTER_FRAMES && self.target > 1 {
                self.target -= 1;
                self.calm_frames = SHRINK_AFTER_FRAMES;
            }
        } else {
            self.calm_frames = 0;
        }
    }
}

/// How far `seq` is ahead of `base`, across wrapping.
fn ahead(seq: u32, base: u32) -> i32 {
    seq.wrapping_sub(base) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u32) -> Vec<u8> {
        vec![(n as u8).wrapping_add(1); 3]
    }

    #[test]
    fn steady_packets_play_in_order_one_frame_behind() {
        let mut buffer = JitterBuffer::new(20);
        assert_eq!(buffer.pop(), Playout::Silence);
        for n in 0..50u32 {
            buffer.push(n, frame(n), false, u64::from(n) * 20);
            assert_eq!(buffer.pop(), Playout::Frame(frame(n)), "frame {n}");
        }
        assert_eq!(buffer.target_ms(), 20);
        assert_eq!(buffer.stats().late, 0);
    }

    #[test]
    fn reordered_packets_are_played_in_order_and_a_gap_is_recovered_or_concealed() {
        let mut buffer = JitterBuffer::new(20);
        for n in [0u32, 2, 1, 3] {
            buffer.push(n, frame(n), false, 0);
        }
        for n in 0..4 {
            assert_eq!(buffer.pop(), Playout::Frame(frame(n)));
        }
        // 4 is lost, 5 is here: 4 is rebuilt from 5's FEC, then 5 plays.
        buffer.push(5, frame(5), false, 100);
        assert_eq!(buffer.pop(), Playout::Recover(frame(5)));
        assert_eq!(buffer.pop(), Playout::Frame(frame(5)));
        // Nothing here at all: concealed.
        assert_eq!(buffer.pop(), Playout::Conceal);
        let stats = buffer.stats();
        assert_eq!((stats.recovered, stats.concealed), (1, 1));
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped_and_grow_the_delay() {
        let mut buffer = JitterBuffer::new(20);
        buffer.push(0, frame(0), false, 0);
        assert_eq!(buffer.pop(), Playout::Frame(frame(0)));
        assert_eq!(buffer.pop(), Playout::Conceal);
        buffer.push(1, frame(1), false, 40);
        buffer.push(0, frame(0), false, 40);
        assert_eq!(buffer.stats().late, 2);
        assert!(buffer.target_ms() > 20, "the delay grew at once");
    }

    #[test]
    fn jitter_grows_the_delay_fast_and_calm_shrinks_it_slowly() {
        let mut buffer = JitterBuffer::new(20);
        // Packets arrive in bursts: 0 ms, then 60 ms late, repeatedly.
        let mut seq = 0u32;
        for burst in 0..20u64 {
            for _ in 0..4 {
                buffer.push(seq, frame(seq), false, burst * 80 + 60);
                seq += 1;
            }
            for _ in 0..4 {
                buffer.pop();
            }
        }
        let grown = buffer.target_ms();
        assert!(
            grown >= 60,
            "bursty arrivals need a deeper buffer, got {grown} ms"
        );
        // Then a calm network: steady arrivals for 20 s.
        let start = 20 * 80 + 60;
        for n in 0..1000u64 {
            buffer.push(seq, frame(seq), false, start + n * 20);
            seq += 1;
            buffer.pop();
        }
        assert!(
            buffer.target_ms() < grown,
            "the delay came down: {} ms",
            buffer.target_ms()
        );
    }

    #[test]
    fn a_buffer_deeper_than_needed_skips_frames_to_cut_the_delay() {
        let mut buffer = JitterBuffer::new(20);
        // A stall delivers ten frames at once; then the network is steady.
        for n in 0..10u32 {
            buffer.push(n, frame(n), false, 200);
        }
        for (seq, n) in (10u32..).zip(0..400u64) {
            buffer.push(seq, frame(seq), false, 220 + n * 20);
            buffer.pop();
        }
        assert!(buffer.stats().skipped > 0);
        assert!(
            buffer.buffered() <= buffer.target_ms() / 20 + 2,
            "{} frames buffered for a target of {} ms",
            buffer.buffered(),
            buffer.target_ms()
        );
    }

    #[test]
    fn a_spurt_ends_and_the_next_one_starts_buffering_again() {
        let mut buffer = JitterBuffer::new(20);
        buffer.push(0, frame(0), false, 0);
        buffer.push(1, Vec::new(), true, 20);
        assert_eq!(buffer.pop(), Playout::Frame(frame(0)));
        assert_eq!(buffer.pop(), Playout::Silence);
        assert!(!buffer.is_playing());
        assert_eq!(
            buffer.pop(),
            Playout::Silence,
            "quiet after the end, not concealed"
        );
        buffer.push(9, frame(9), false, 1000);
        assert_eq!(buffer.pop(), Playout::Frame(frame(9)));
        assert_eq!(buffer.stats().concealed, 0);
    }

    #[test]
    fn packets_far_ahead_are_dropped_and_sequence_numbers_wrap() {
        let mut buffer = JitterBuffer::new(20);
        buffer.push(u32::MAX, frame(1), false, 0);
        buffer.push(u32::MAX.wrapping_add(100), frame(2), false, 0);
        assert_eq!(buffer.stats().too_far, 1);
        buffer.push(0, frame(3), false, 20);
        assert_eq!(buffer.pop(), Playout::Frame(frame(1)));
        assert_eq!(buffer.pop(), Playout::Frame(frame(3)));
    }
}
