//! Where sound comes from and goes to: one small pair of traits, so the pipeline runs the
//! same with sound cards ([`crate::devices`]), WAV files (here) and tests.

use std::path::Path;

use crate::VoiceError;
use crate::codec::SAMPLE_RATE;

/// Mono samples at [`SAMPLE_RATE`], in -1..=1.
pub trait AudioSource: Send {
    /// Moves up to `out.len()` samples into `out`; returns how many (0: none now).
    fn read(&mut self, out: &mut [f32]) -> usize;
}

/// Stereo samples at [`SAMPLE_RATE`], interleaved left, right.
pub trait AudioSink: Send {
    /// Plays (or keeps) `stereo`.
    fn write(&mut self, stereo: &[f32]);
}

/// A recording read whole into memory, played once.
#[derive(Debug, Clone)]
pub struct WavSource {
    samples: Vec<f32>,
    at: usize,
}

impl WavSource {
    /// Reads a WAV file: 16-bit, 24-bit, 32-bit integer or float, any channels (mixed down
    /// to mono), any rate (resampled to [`SAMPLE_RATE`]).
    pub fn open(path: &Path) -> Result<Self, VoiceError> {
        let reader = hound::WavReader::open(path).map_err(|error| VoiceError::Wav {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        let spec = reader.spec();
        let channels = usize::from(spec.channels.max(1));
        let bad = |error: hound::Error| VoiceError::Wav {
            path: path.display().to_string(),
            reason: error.to_string(),
        };
        let interleaved: Vec<f32> = match spec.sample_format {
            hound::SampleFormat::Float => reader
                .into_samples::<f32>()
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            hound::SampleFormat::Int => {
                let scale = 1.0 / (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
                reader
                    .into_samples::<i32>()
                    .map(|sample| sample.map(|s| s as f32 * scale))
                    .collect::<Result<_, _>>()
                    .map_err(bad)?
            }
        };
        let mono: Vec<f32> = interleaved
            .chunks(channels)
            .map(|frame| frame.iter().sum::<f32>() / channels as f32)
            .collect();
        Ok(Self::from_samples(resample(&mono, spec.sample_rate, SAMPLE_RATE)))
    }

    /// Samples already at [`SAMPLE_RATE`].
    pub fn from_samples(samples: Vec<f32>) -> Self {
        Self { samples, at: 0 }
    }

    /// Samples left to read.
    pub fn remaining(&self) -> usize {
        self.samples.len() - self.at
    }
}

impl AudioSource for WavSource {
    fn read(&mut self, out: &mut [f32]) -> usize {
        let count = out.len().min(self.remaining());
        out[..count].copy_from_slice(&self.samples[self.at..self.at + count]);
        self.at += count;
        count
    }
}

/// A recording let out at the pace of a microphone: only the samples whose time has come
/// since the first read, and silence after its end.
#[derive(Debug, Clone)]
pub struct PacedSource {
    inner: WavSource,
    started: Option<std::time::Instant>,
    delivered: u64,
}

impl PacedSource {
    /// Paces `inner` in real time.
    pub fn new(inner: WavSource) -> Self {
        Self {
            inner,
            started: None,
            delivered: 0,
        }
    }
}

impl AudioSource for PacedSource {
    fn read(&mut self, out: &mut [f32]) -> usize {
        let started = *self.started.get_or_insert_with(std::time::Instant::now);
        let due = (started.elapsed().as_secs_f64() * f64::from(SAMPLE_RATE)) as u64;
        let count = (due.saturating_sub(self.delivered) as usize).min(out.len());
        let from_file = self.inner.read(&mut out[..count]);
        out[from_file..count].fill(0.0);
        self.delivered += count as u64;
        count
    }
}

/// Keeps what is played, to write as a stereo WAV file.
#[derive(Debug, Clone, Default)]
pub struct RecordingSink {
    /// Interleaved stereo samples so far.
    pub stereo: Vec<f32>,
}

impl RecordingSink {
    /// Writes what was kept as a 16-bit stereo WAV at [`SAMPLE_RATE`].
    pub fn save(&self, path: &Path) -> Result<(), VoiceError> {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let bad = |error: hound::Error| VoiceError::Wav {
            path: path.display().to_string(),
            reason: error.to_string(),
        };
        let mut writer = hound::WavWriter::create(path, spec).map_err(bad)?;
        for sample in &self.stereo {
            writer
                .write_sample((sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16)
                .map_err(bad)?;
        }
        writer.finalize().map_err(bad)
    }

    /// The left channel.
    pub fn left(&self) -> Vec<f32> {
        self.stereo.iter().step_by(2).copied().collect()
    }

    /// The right channel.
    pub fn right(&self) -> Vec<f32> {
        self.stereo.iter().skip(1).step_by(2).copied().collect()
    }
}

impl AudioSink for RecordingSink {
    fn write(&mut self, stereo: &[f32]) {
        self.stereo.extend_from_slice(stereo);
    }
}

/// Linear resampling from `from` Hz to `to` Hz: plenty for speech into a voice codec.
pub fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || from == 0 || samples.is_empty() {
        return samples.to_vec();
    }
    let ratio = f64::from(from) / f64::from(to);
    let len = (samples.len() as f64 / ratio).floor() as usize;
    (0..len)
        .map(|n| {
            let position = n as f64 * ratio;
            let index = position.floor() as usize;
            let t = (position - index as f64) as f32;
            let a = samples[index.min(samples.len() - 1)];
            let b = samples[(index + 1).min(samples.len() - 1)];
            a + (b - a) * t
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_round_trips_through_a_file_and_is_mixed_down_and_resampled() {
        let dir = std::env::temp_dir().join(format!("sanctuary-voice-wav-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tone.wav");
        let sink = RecordingSink {
            stereo: (0..4800).map(|n| if n % 2 == 0 { 0.5 } else { -0.25 }).collect(),
        };
        sink.save(&path).unwrap();
        let mut source = WavSource::open(&path).unwrap();
        assert_eq!(source.remaining(), 2400);
        let mut out = vec![0.0; 100];
        assert_eq!(source.read(&mut out), 100);
        assert!(
            (out[10] - 0.125).abs() < 1e-3,
            "stereo mixed to mono: {}",
            out[10]
        );
        assert_eq!(resample(&[0.0, 1.0, 0.0, 1.0], 24_000, 48_000).len(), 8);
        std::fs::write(&path, b"not a wav").unwrap();
        let error = WavSource::open(&path).unwrap_err().to_string();
        assert!(error.contains("tone.wav"), "{error}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
