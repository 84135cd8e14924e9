//! Travel between spaces: a short fade out, the swap, a fade in.

use bevy::prelude::*;

/// How long each half of the transition (fade out, fade in) lasts, in seconds.
pub const FADE_SECONDS: f32 = 0.35;

/// A request to go to another space, from a portal, a panel or a command.
#[derive(Message, Debug, Clone, PartialEq)]
pub struct TravelRequest {
    /// The space to go to.
    pub to: String,
    /// The spawn point to arrive at; the space's first if `None`.
    pub arrive_at: Option<String>,
}

/// Where a transition stands.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub enum Travel {
    /// Nobody is travelling.
    #[default]
    Idle,
    /// Fading out of the current space; the swap happens when the timer ends.
    Leaving {
        /// Where to.
        request: TravelRequest,
        /// Seconds spent fading so far.
        elapsed: f32,
    },
    /// Fading into the new space.
    Arriving {
        /// Seconds spent fading so far.
        elapsed: f32,
    },
}

impl Travel {
    /// How dark the screen is, from 0 (clear) to 1 (black).
    pub fn darkness(&self) -> f32 {
        match self {
            Travel::Idle => 0.0,
            Travel::Leaving { elapsed, .. } => (elapsed / FADE_SECONDS).clamp(0.0, 1.0),
            Travel::Arriving { elapsed } => 1.0 - (elapsed / FADE_SECONDS).clamp(0.0, 1.0),
        }
    }

    /// Whether the person should be held still (while the old space fades out).
    pub fn holds_still(&self) -> bool {
        matches!(self, Travel::Leaving { .. })
    }
}
