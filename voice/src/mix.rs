//! Spatial mixing: each speaker's mono frame placed by distance and direction into one
//! stereo frame for the listener.
//!
//! Coordinates are the world's: y up, a yaw of 0 faces -z, and +x is to the right of
//! someone facing -z. Loudness falls with distance past [`REFERENCE_DISTANCE`] (the
//! inverse-distance law of sound in air) and fades to nothing at [`EARSHOT`]; a speaker to
//! the listener's right is heard more in the right ear (constant-power panning).

/// Distance in metres within which a speaker is heard at full loudness.
pub const REFERENCE_DISTANCE: f32 = 1.5;

/// Distance in metres past which a speaker is not heard (and not sent voice).
pub const EARSHOT: f32 = sanctuary_protocols::limits::EARSHOT_M;

/// Where the listener's ears are.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Listener {
    /// Head position.
    pub position: [f32; 3],
    /// Which way the head faces, radians about +y (0 faces -z).
    pub yaw: f32,
}

/// Left and right gains for one speaker.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Gains {
    /// Gain in the left ear.
    pub left: f32,
    /// Gain in the right ear.
    pub right: f32,
}

impl Gains {
    /// The same in both ears: a private call, heard wherever the two stand.
    pub fn centred(volume: f32) -> Self {
        let side = volume * std::f32::consts::FRAC_1_SQRT_2;
        Self {
            left: side,
            right: side,
        }
    }

    /// Scaled by `volume`.
    pub fn scaled(self, volume: f32) -> Self {
        Self {
            left: self.left * volume,
            right: self.right * volume,
        }
    }
}

impl Listener {
    /// How loud, in each ear, a speaker at `speaker` is.
    pub fn gains(&self, speaker: [f32; 3]) -> Gains {
        let offset = [
            speaker[0] - self.position[0],
            speaker[1] - self.position[1],
            speaker[2] - self.position[2],
        ];
        let distance = (offset[0] * offset[0] + offset[1] * offset[1] + offset[2] * offset[2]).sqrt();
        if !distance.is_finite() || distance >= EARSHOT {
            return Gains::default();
        }
        let mut loudness = REFERENCE_DISTANCE / distance.max(REFERENCE_DISTANCE);
        // Fade out over the last fifth of earshot, so nobody drops out with a click.
        let fade_from = EARSHOT * 0.8;
        if distance > fade_from {
            loudness *= (EARSHOT - distance) / (EARSHOT - fade_from);
        }
        // The listener's right, flattened onto the ground.
        let right = [self.yaw.cos(), 0.0, -self.yaw.sin()];
        let flat = (offset[0] * offset[0] + offset[2] * offset[2]).sqrt();
        let pan = if flat > 1e-3 {
            ((offset[0] * right[0] + offset[2] * right[2]) / flat).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let angle = (pan + 1.0) * std::f32::consts::FRAC_PI_4;
        Gains {
            left: loudness * angle.cos(),
            right: loudness * angle.sin(),
        }
    }
}

/// Adds `frame` (mono) into `stereo` (interleaved left, right), the gain moving smoothly
/// from `from` to `to` across the frame so that a moving speaker makes no clicks.
pub fn mix_into(stereo: &mut [f32], frame: &[f32], from: Gains, to: Gains) {
    let len = frame.len().min(stereo.len() / 2);
    if len == 0 {
        return;
    }
    let step = 1.0 / len as f32;
    for (i, (sample, out)) in frame.iter().zip(stereo.chunks_exact_mut(2)).enumerate() {
        let t = i as f32 * step;
        let left = from.left + (to.left - from.left) * t;
        let right = from.right + (to.right - from.right) * t;
        out[0] += sample * left;
        out[1] += sample * right;
    }
}

/// Keeps a mixed frame within -1..=1 without hard clipping: quiet parts pass unchanged,
/// loud peaks (many people at once) are bent smoothly under full scale.
pub fn limit(stereo: &mut [f32]) {
    for sample in stereo {
        let magnitude = sample.abs();
        if magnitude > 0.8 {
            let over = magnitude - 0.8;
            let bent = 0.8 + 0.2 * (over / 0.2).tanh();
            *sample = bent.copysign(*sample);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_farther_speaker_is_quieter_and_one_past_earshot_is_silent() {
        let listener = Listener::default();
        let near = listener.gains([0.0, 0.0, -2.0]);
        let far = listener.gains([0.0, 0.0, -10.0]);
        let power = |g: Gains| g.left * g.left + g.right * g.right;
        assert!(power(near) > 4.0 * power(far), "{near:?} vs {far:?}");
        assert_eq!(listener.gains([0.0, 0.0, -EARSHOT - 1.0]), Gains::default());
        let close = listener.gains([0.0, 0.0, -0.5]);
        assert!((power(close) - 1.0).abs() < 1e-4, "full loudness up close");
    }

    #[test]
    fn a_speaker_on_the_right_is_louder_in_the_right_ear_and_turning_swaps_it() {
        let facing_forward = Listener::default();
        let right = facing_forward.gains([3.0, 0.0, 0.0]);
        assert!(right.right > 0.9 * (right.left + right.right), "{right:?}");
        let ahead = facing_forward.gains([0.0, 0.0, -3.0]);
        assert!((ahead.left - ahead.right).abs() < 1e-4);
        // Turned around (facing +z), the same speaker is on the left.
        let turned = Listener {
            yaw: std::f32::consts::PI,
            ..Listener::default()
        };
        let now = turned.gains([3.0, 0.0, 0.0]);
        assert!(now.left > 0.9 * (now.left + now.right), "{now:?}");
        // A quarter turn left (yaw +pi/2 faces -x): a speaker at -x is straight ahead.
        let quarter = Listener {
            yaw: std::f32::consts::FRAC_PI_2,
            ..Listener::default()
        };
        let front = quarter.gains([-3.0, 0.0, 0.0]);
        assert!((front.left - front.right).abs() < 1e-3, "{front:?}");
    }

    #[test]
    fn mixing_ramps_gains_and_the_limiter_stays_under_full_scale() {
        let mut stereo = vec![0.0; 8];
        mix_into(
            &mut stereo,
            &[1.0; 4],
            Gains::default(),
            Gains {
                left: 1.0,
                right: 0.5,
            },
        );
        assert_eq!(stereo[0], 0.0);
        assert!(stereo[6] > stereo[2] && stereo[6] < 1.0);
        assert!((stereo[7] - stereo[6] / 2.0).abs() < 1e-6);
        let mut loud = vec![3.0, -3.0, 0.5, 0.81];
        limit(&mut loud);
        assert!(loud[0] <= 1.0 && loud[0] > 0.95 && loud[1] >= -1.0);
        assert_eq!(loud[2], 0.5);
        assert!(loud[3] > 0.8 && loud[3] < 0.81);
    }
}
