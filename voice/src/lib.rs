//! Sanctuary's voice pipeline, everything between a microphone and a speaker except the
//! network: capture ([`devices`], or any [`AudioSource`]), Opus ([`codec`]), the jitter
//! buffer ([`jitter`]), the spatial mix ([`mix`], [`speakers`]) and playback (any
//! [`AudioSink`]). No Bevy and no iroh: the client and `sanctuary-node` carry the
//! [`VoicePacket`](sanctuary_protocols::VoicePacket)s this makes through `sanctuary-net`.
//!
//! - [`talker`]: the speaking side: a source cut into frames, push-to-talk or a level
//!   gate, packets out.
//! - [`speakers`]: the listening side: packets in, one stereo frame out per tick.
//! - [`feedback`]: listeners' reception reports, which set the speaker's bitrate.
//! - [`audio_io`]: the source and sink traits, WAV files.
//! - [`level`]: levels in dBFS and the open-mic gate.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod audio_io;
pub mod codec;
pub mod devices;
pub mod feedback;
pub mod jitter;
pub mod level;
pub mod mix;
pub mod speakers;
pub mod talker;

pub use audio_io::{AudioSink, AudioSource, PacedSource, RecordingSink, WavSource};
pub use codec::{SAMPLE_RATE, VoiceDecoder, VoiceEncoder};
pub use feedback::LossReports;
pub use jitter::{JitterBuffer, JitterStats, Playout};
pub use mix::{EARSHOT, Gains, Listener};
pub use speakers::{MIX_FRAME, Refused, Speakers};
pub use talker::{TalkMode, Talker};

/// What can go wrong in the voice pipeline.
#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    /// The Opus library refused.
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    /// A frame of the wrong length was given to the encoder.
    #[error("a frame needs {expected} samples, got {got}")]
    FrameLength {
        /// Samples in one frame.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// A sound device is missing or would not open.
    #[error("{0}")]
    Device(String),
    /// A WAV file could not be read or written.
    #[error("{path}: {reason}")]
    Wav {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
}
