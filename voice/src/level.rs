//! Levels: how loud a frame is, and the gate that opens an open microphone only while
//! someone speaks.

/// The level of a frame in dBFS (0 is full scale; silence is [`SILENCE_DB`]).
pub fn level_db(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return SILENCE_DB;
    }
    let mean_square = frame.iter().map(|s| s * s).sum::<f32>() / frame.len() as f32;
    (10.0 * mean_square.log10()).clamp(SILENCE_DB, 0.0)
}

/// The level reported for digital silence.
pub const SILENCE_DB: f32 = -100.0;

/// Opens while the level is over a threshold and stays open a moment after, so the ends
/// of words are not cut.
#[derive(Debug, Clone)]
pub struct LevelGate {
    /// Level in dBFS that opens the gate.
    pub threshold_db: f32,
    hold_frames: u32,
    open_for: u32,
}

impl LevelGate {
    /// A gate opening at `threshold_db` and holding for `hold_frames` frames after.
    pub fn new(threshold_db: f32, hold_frames: u32) -> Self {
        Self {
            threshold_db,
            hold_frames,
            open_for: 0,
        }
    }

    /// Whether this frame goes out.
    pub fn pass(&mut self, frame: &[f32]) -> bool {
        if level_db(frame) >= self.threshold_db {
            self.open_for = self.hold_frames + 1;
        }
        if self.open_for > 0 {
            self.open_for -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_the_gate_follow_loudness() {
        assert_eq!(level_db(&[0.0; 480]), SILENCE_DB);
        assert!((level_db(&[1.0; 480])).abs() < 1e-4);
        assert!((level_db(&[0.1; 480]) + 20.0).abs() < 0.01);
        let mut gate = LevelGate::new(-40.0, 2);
        assert!(!gate.pass(&[0.001; 480]));
        assert!(gate.pass(&[0.1; 480]));
        assert!(gate.pass(&[0.0; 480]));
        assert!(gate.pass(&[0.0; 480]));
        assert!(!gate.pass(&[0.0; 480]), "closed after the hold");
    }
}
