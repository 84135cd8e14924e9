//! Voice in the client: push-to-talk (V) or an open microphone, everyone in earshot mixed
//! by where they stand, a ring around whoever speaks, muting and private calls. The audio
//! runs on its own thread ([`engine`]); a machine without a microphone or speaker says so
//! once and goes on without that half. The settings are kept between runs ([`settings`]).

pub mod engine;
mod panel;
mod plugin;
pub mod settings;

pub use engine::{CallState, InputChoice, OutputChoice, VoiceReport};
pub use panel::voice_settings;
pub use plugin::{
    Ring, SpeakingRings, TALK_KEY, VoiceControl, VoiceLink, VoiceOptions, VoicePlugin, VoiceRingPlugin,
};
pub use settings::VoiceSettings;
