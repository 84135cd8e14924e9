//! Opus at 48 kHz mono, tuned for speech: VOIP mode, in-band FEC, a bitrate and an FEC
//! share that follow the loss the listeners report.

use sanctuary_protocols::limits::VOICE_PAYLOAD_MAX;
use sanctuary_protocols::{FrameDuration, VoicePacket};

use crate::VoiceError;

/// The sample rate of everything in the pipeline, in Hz.
pub const SAMPLE_RATE: u32 = 48_000;

/// Lowest bitrate the encoder is set to, in bits per second (heavy loss).
pub const BITRATE_MIN: i32 = 16_000;
/// Highest bitrate the encoder is set to, in bits per second (a clean network).
pub const BITRATE_MAX: i32 = 32_000;
/// Bitrate a stream starts at: the top, until listeners report loss (on espeak-ng
/// sentences, PESQ-WB 3.57 against 3.15 at 24 kbit/s; see BENCHMARKS.md).
pub const BITRATE_START: i32 = 32_000;

/// Loss (smoothed over reports) over which the bitrate comes down.
pub const LOSS_HEAVY: f32 = 0.15;
/// Loss (smoothed over reports) under which the bitrate goes back up.
pub const LOSS_LIGHT: f32 = 0.02;

/// The loss, in percent, the encoder is told to expect at least (FEC ready for the first
/// burst) and at most (on the benchmark's sentences, telling it 20 % took more from each
/// frame than the FEC gave back).
const FEC_LOSS_MIN: i32 = 5;
const FEC_LOSS_MAX: i32 = 10;

/// Encodes one speaker's frames into numbered [`VoicePacket`]s.
pub struct VoiceEncoder {
    encoder: opus::Encoder,
    frame: FrameDuration,
    seq: u32,
    bitrate: i32,
    /// Reported loss, smoothed: one second of bad luck is not a bad network.
    loss: f32,
    buffer: Vec<u8>,
}

impl VoiceEncoder {
    /// An encoder for frames of `frame`, at [`BITRATE_START`].
    pub fn new(frame: FrameDuration) -> Result<Self, VoiceError> {
        let mut encoder = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(FEC_LOSS_MIN)?;
        encoder.set_vbr(true)?;
        encoder.set_bitrate(opus::Bitrate::Bits(BITRATE_START))?;
        Ok(Self {
            encoder,
            frame,
            seq: 0,
            bitrate: BITRATE_START,
            loss: 0.0,
            buffer: vec![0; VOICE_PAYLOAD_MAX],
        })
    }

    /// Samples in one frame.
    pub fn frame_samples(&self) -> usize {
        self.frame.samples(SAMPLE_RATE)
    }

    /// How long one frame is.
    pub fn frame(&self) -> FrameDuration {
        self.frame
    }

    /// The bitrate now, in bits per second.
    pub fn bitrate(&self) -> i32 {
        self.bitrate
    }

    /// Encodes one frame of [`frame_samples`](Self::frame_samples) samples in -1..=1.
    pub fn encode(&mut self, samples: &[f32], call: bool) -> Result<VoicePacket, VoiceError> {
        if samples.len() != self.frame_samples() {
            return Err(VoiceError::FrameLength {
                expected: self.frame_samples(),
                got: samples.len(),
            });
        }
        let len = self.encoder.encode_float(samples, &mut self.buffer)?;
        Ok(self.packet(self.buffer[..len].to_vec(), false, call))
    }

    /// The packet that ends a talk spurt (no sound).
    pub fn end(&mut self, call: bool) -> VoicePacket {
        self.packet(Vec::new(), true, call)
    }

    fn packet(&mut self, opus: Vec<u8>, end: bool, call: bool) -> VoicePacket {
        let packet = VoicePacket {
            seq: self.seq,
            frame: self.frame,
            end,
            call,
            opus,
        };
        self.seq = self.seq.wrapping_add(1);
        packet
    }

    /// Follows the loss listeners report (0..=1), once a
    /// [`REPORT_EVERY_MS`](crate::feedback::REPORT_EVERY_MS), smoothed over reports: the
    /// share of FEC always follows the loss; the bitrate comes down only while loss is
    /// heavy (over [`LOSS_HEAVY`], a sign the path is overloaded), goes back up while it
    /// is light (under [`LOSS_LIGHT`]), and holds between. Random loss alone is better met
    /// with FEC at a high bitrate than with a lower one (see BENCHMARKS.md).
    pub fn adapt(&mut self, reported: f32) -> Result<(), VoiceError> {
        self.loss += (reported.clamp(0.0, 1.0) - self.loss) * 0.5;
        let loss = self.loss;
        let bitrate = if loss > LOSS_HEAVY {
            (self.bitrate as f32 * (1.0 - 0.5 * loss)) as i32
        } else if loss < LOSS_LIGHT {
            (self.bitrate as f32 * 1.08).ceil() as i32
        } else {
            self.bitrate
        }
        .clamp(BITRATE_MIN, BITRATE_MAX);
        if bitrate != self.bitrate {
            self.encoder.set_bitrate(opus::Bitrate::Bits(bitrate))?;
            self.bitrate = bitrate;
        }
        self.encoder
            .set_packet_loss_perc(((loss * 100.0).round() as i32).clamp(FEC_LOSS_MIN, FEC_LOSS_MAX))?;
        Ok(())
    }
}

/// Decodes one speaker's frames, and makes up the missing ones.
pub struct VoiceDecoder {
    decoder: opus::Decoder,
    frame_samples: usize,
}

impl VoiceDecoder {
    /// A decoder for frames of `frame`.
    pub fn new(frame: FrameDuration) -> Result<Self, VoiceError> {
        Ok(Self {
            decoder: opus::Decoder::new(SAMPLE_RATE, opus::Channels::Mono)?,
            frame_samples: frame.samples(SAMPLE_RATE),
        })
    }

    /// Decodes one received frame.
    pub fn decode(&mut self, opus: &[u8]) -> Result<Vec<f32>, VoiceError> {
        let mut out = vec![0.0; self.frame_samples];
        let samples = self.decoder.decode_float(opus, &mut out, false)?;
        out.truncate(samples);
        out.resize(self.frame_samples, 0.0);
        Ok(out)
    }

    /// A frame that never arrived: rebuilt from the FEC in the `next` one when that is
    /// here, otherwise concealed from what came before (Opus PLC).
    pub fn recover(&mut self, next: Option<&[u8]>) -> Result<Vec<f32>, VoiceError> {
        let mut out = vec![0.0; self.frame_samples];
        match next {
            Some(next) => self.decoder.decode_float(next, &mut out, true)?,
            None => self.decoder.decode_float(&[], &mut out, false)?,
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(samples: usize, start: usize) -> Vec<f32> {
        (start..start + samples)
            .map(|n| 0.5 * (n as f32 * 440.0 * std::f32::consts::TAU / SAMPLE_RATE as f32).sin())
            .collect()
    }

    #[test]
    fn frames_round_trip_with_numbers_in_order() {
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms20).unwrap();
        let mut decoder = VoiceDecoder::new(FrameDuration::Ms20).unwrap();
        let mut energy = 0.0;
        for n in 0..20 {
            let packet = encoder.encode(&tone(960, n * 960), false).unwrap();
            assert_eq!(packet.seq, n as u32);
            assert!(
                !packet.opus.is_empty() && packet.opus.len() < 200,
                "{}",
                packet.opus.len()
            );
            let out = decoder.decode(&packet.opus).unwrap();
            assert_eq!(out.len(), 960);
            energy += out.iter().map(|s| s * s).sum::<f32>();
        }
        assert!(energy > 100.0, "a tone decodes to sound, energy {energy}");
        let end = encoder.end(false);
        assert!(end.end && end.opus.is_empty() && end.seq == 20);
        assert!(
            encoder.encode(&[0.0; 100], false).is_err(),
            "a short frame is refused"
        );
    }

    #[test]
    fn heavy_loss_lowers_the_bitrate_some_loss_holds_it_and_a_clean_network_raises_it() {
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms10).unwrap();
        for _ in 0..10 {
            encoder.adapt(0.08).unwrap();
        }
        assert_eq!(
            encoder.bitrate(),
            BITRATE_START,
            "some loss is met with FEC alone"
        );
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms10).unwrap();
        encoder.adapt(0.25).unwrap();
        assert_eq!(
            encoder.bitrate(),
            BITRATE_START,
            "one bad second is not a bad network"
        );
        encoder.adapt(0.25).unwrap();
        let lower = encoder.bitrate();
        assert!(lower < BITRATE_START, "{lower}");
        for _ in 0..20 {
            encoder.adapt(0.4).unwrap();
        }
        assert_eq!(encoder.bitrate(), BITRATE_MIN);
        for _ in 0..10 {
            encoder.adapt(0.05).unwrap();
        }
        assert_eq!(encoder.bitrate(), BITRATE_MIN, "held between light and heavy");
        for _ in 0..3 {
            encoder.adapt(0.0).unwrap();
        }
        assert!(encoder.bitrate() > BITRATE_MIN);
        for _ in 0..20 {
            encoder.adapt(0.0).unwrap();
        }
        assert_eq!(encoder.bitrate(), BITRATE_MAX);
    }

    #[test]
    fn a_lost_frame_is_rebuilt_from_the_next_ones_fec() {
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms20).unwrap();
        let mut decoder = VoiceDecoder::new(FrameDuration::Ms20).unwrap();
        let packets: Vec<_> = (0..10)
            .map(|n| encoder.encode(&tone(960, n * 960), false).unwrap())
            .collect();
        for packet in &packets[..5] {
            decoder.decode(&packet.opus).unwrap();
        }
        let rebuilt = decoder.recover(Some(&packets[6].opus)).unwrap();
        assert!(rebuilt.iter().map(|s| s * s).sum::<f32>() > 1.0);
        let concealed = decoder.recover(None).unwrap();
        assert_eq!(concealed.len(), 960);
    }
}
