//! The speaking side: samples from a source cut into frames, let through by push-to-talk
//! or by a level gate, and encoded into packets. When talking stops, one last packet
//! tells listeners the spurt ended, so they go quiet instead of concealing.

use sanctuary_protocols::{FrameDuration, VoicePacket};

use crate::VoiceError;
use crate::audio_io::AudioSource;
use crate::codec::VoiceEncoder;
use crate::level::{LevelGate, SILENCE_DB, level_db};

/// Frames an open microphone stays open after the level drops: a third of a second at 20 ms.
const GATE_HOLD_FRAMES: u32 = 15;

/// When the microphone goes out.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum TalkMode {
    /// Only while the talk key is held.
    #[default]
    PushToTalk,
    /// Whenever the level is over `threshold_db` (dBFS).
    OpenMic {
        /// Level that opens the microphone.
        threshold_db: f32,
    },
}

/// One person's outgoing voice.
pub struct Talker {
    encoder: VoiceEncoder,
    mode: TalkMode,
    gate: LevelGate,
    pressed: bool,
    talking: bool,
    call: bool,
    frame: Vec<f32>,
    filled: usize,
    level_db: f32,
}

impl Talker {
    /// A talker in push-to-talk mode, sending frames of `frame`.
    pub fn new(frame: FrameDuration) -> Result<Self, VoiceError> {
        let encoder = VoiceEncoder::new(frame)?;
        let samples = encoder.frame_samples();
        Ok(Self {
            encoder,
            mode: TalkMode::PushToTalk,
            gate: LevelGate::new(-45.0, GATE_HOLD_FRAMES),
            pressed: false,
            talking: false,
            call: false,
            frame: vec![0.0; samples],
            filled: 0,
            level_db: SILENCE_DB,
        })
    }

    /// Push-to-talk or open microphone.
    pub fn set_mode(&mut self, mode: TalkMode) {
        if let TalkMode::OpenMic { threshold_db } = mode {
            self.gate.threshold_db = threshold_db;
        }
        self.mode = mode;
    }

    /// The mode now.
    pub fn mode(&self) -> TalkMode {
        self.mode
    }

    /// Whether the talk key is held.
    pub fn set_pressed(&mut self, pressed: bool) {
        self.pressed = pressed;
    }

    /// Marks what is sent as a private call (heard wherever the listener stands).
    pub fn set_call(&mut self, call: bool) {
        self.call = call;
    }

    /// Whether the last frame went out.
    pub fn is_talking(&self) -> bool {
        self.talking
    }

    /// The microphone's level in the last frame, in dBFS (for the meter).
    pub fn level_db(&self) -> f32 {
        self.level_db
    }

    /// Follows the loss listeners report (0..=1; see [`LossReports`](crate::LossReports)).
    pub fn adapt(&mut self, loss: f32) -> Result<(), VoiceError> {
        self.encoder.adapt(loss)
    }

    /// The encoder's bitrate now, in bits per second.
    pub fn bitrate(&self) -> i32 {
        self.encoder.bitrate()
    }

    /// Length of the frames sent.
    pub fn frame(&self) -> FrameDuration {
        self.encoder.frame()
    }

    /// A packet with no sound that says we are here, for a private call while we are not
    /// talking (sending it also ends a spurt, as talking stopping would).
    pub fn signal(&mut self) -> VoicePacket {
        self.encoder.end(true)
    }

    /// Reads what `source` has and returns the packets to send (none while quiet).
    pub fn pump(&mut self, source: &mut dyn AudioSource) -> Result<Vec<VoicePacket>, VoiceError> {
        let mut packets = Vec::new();
        loop {
            let read = source.read(&mut self.frame[self.filled..]);
            self.filled += read;
            if self.filled < self.frame.len() {
                return Ok(packets);
            }
            self.filled = 0;
            self.level_db = level_db(&self.frame);
            let open = match self.mode {
                TalkMode::PushToTalk => self.pressed,
                TalkMode::OpenMic { .. } => self.gate.pass(&self.frame),
            };
            if open {
                packets.push(self.encoder.encode(&self.frame, self.call)?);
            } else if self.talking {
                packets.push(self.encoder.end(self.call));
            }
            self.talking = open;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::WavSource;

    fn speech_like(seconds: f32) -> WavSource {
        let samples = (seconds * 48_000.0) as usize;
        WavSource::from_samples((0..samples).map(|n| 0.3 * (n as f32 * 0.05).sin()).collect())
    }

    #[test]
    fn push_to_talk_sends_only_while_held_and_ends_the_spurt() {
        let mut talker = Talker::new(FrameDuration::Ms20).unwrap();
        let mut source = speech_like(0.2);
        assert!(
            talker.pump(&mut source).unwrap().is_empty(),
            "released: nothing goes out"
        );
        talker.set_pressed(true);
        let mut source = speech_like(0.2);
        let packets = talker.pump(&mut source).unwrap();
        assert_eq!(packets.len(), 10);
        assert!(
            packets
                .iter()
                .all(|packet| !packet.end && !packet.opus.is_empty())
        );
        talker.set_pressed(false);
        let mut source = speech_like(0.1);
        let packets = talker.pump(&mut source).unwrap();
        assert_eq!(packets.len(), 1, "one last packet ends the spurt");
        assert!(packets[0].end);
        assert!(talker.level_db() > -20.0);
    }

    #[test]
    fn an_open_microphone_goes_out_with_the_voice_and_not_with_silence() {
        let mut talker = Talker::new(FrameDuration::Ms10).unwrap();
        talker.set_mode(TalkMode::OpenMic { threshold_db: -40.0 });
        let mut quiet = WavSource::from_samples(vec![0.0001; 4800]);
        assert!(talker.pump(&mut quiet).unwrap().is_empty());
        let mut loud = speech_like(0.1);
        assert_eq!(talker.pump(&mut loud).unwrap().len(), 10);
        talker.set_call(true);
        let mut quiet = WavSource::from_samples(vec![0.0; 48_000]);
        let packets = talker.pump(&mut quiet).unwrap();
        assert_eq!(
            packets.len(),
            GATE_HOLD_FRAMES as usize + 1,
            "held open, then ended"
        );
        assert!(packets.last().unwrap().end && packets.iter().all(|packet| packet.call));
    }
}
