//! Opus at 48 kHz mono, tuned for speech: VOIP mode, in-band FEC, a bitrate that follows
//! the loss the listeners report.

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

/// Encodes one speaker's frames into numbered [`VoicePacket`]s.
pub struct VoiceEncoder {
    encoder: opus::Encoder,
    frame: FrameDuration,
    seq: u32,
    bitrate: i32,
    buffer: Vec<u8>,
}

impl VoiceEncoder {
    /// An encoder for frames of `frame`, at [`BITRATE_START`].
    pub fn new(frame: FrameDuration) -> Result<Self, VoiceError> {
        let mut encoder = opus::Encoder::new(SAMPLE_RATE, opus::Channels::Mono, opus::Application::Voip)?;
        encoder.set_inband_fec(true)?;
        encoder.set_packet_loss_perc(5)?;
        encoder.set_vbr(true)?;
        encoder.set_bitrate(opus::Bitrate::Bits(BITRATE_START))?;
        Ok(Self {
            encoder,
            frame,
            seq: 0,
            bitrate: BITRATE_START,
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

    /// Follows the loss listeners report (0..=1): more loss, a lower bitrate and more of
    /// it spent on FEC; a clean network, back up to [`BITRATE_MAX`].
    pub fn adapt(&mut self, loss: f32) -> Result<(), VoiceError> {
        let loss = loss.clamp(0.0, 1.0);
        // 0 % loss: the top; 20 % or more: the bottom; linear between.
        let share = (loss / 0.2).min(1.0);
        let bitrate = BITRATE_MAX - ((BITRATE_MAX - BITRATE_MIN) as f32 * share) as i32;
        if bitrate != self.bitrate {
            self.encoder.set_bitrate(opus::Bitrate::Bits(bitrate))?;
            self.bitrate = bitrate;
        }
        self.encoder
            .set_packet_loss_perc(((loss * 100.0).round() as i32).clamp(1, 30))?;
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
    fn loss_lowers_the_bitrate_and_a_clean_network_raises_it() {
        let mut encoder = VoiceEncoder::new(FrameDuration::Ms10).unwrap();
        encoder.adapt(0.3).unwrap();
        assert_eq!(encoder.bitrate(), BITRATE_MIN);
        encoder.adapt(0.0).unwrap();
        assert_eq!(encoder.bitrate(), BITRATE_MAX);
        encoder.adapt(0.05).unwrap();
        assert!((BITRATE_MIN..BITRATE_MAX).contains(&encoder.bitrate()));
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
