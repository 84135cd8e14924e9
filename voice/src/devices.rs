//! Sound cards through cpal: capture into, and playback from, lock-free queues that the
//! pipeline reads and writes as an [`AudioSource`] and an [`AudioSink`]. cpal's callbacks
//! run on its own threads and never wait on anything.
//!
//! A machine without sound (no card, no sound server, a device unplugged) is not an
//! error the client dies of: [`open_input`] and [`open_output`] say why in a
//! [`VoiceError::Device`], and the caller runs without voice.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use crossbeam_queue::ArrayQueue;

use crate::VoiceError;
use crate::audio_io::{AudioSink, AudioSource, resample};
use crate::codec::SAMPLE_RATE;

/// Samples of capture kept while nobody reads: half a second.
const CAPTURE_QUEUE: usize = SAMPLE_RATE as usize / 2;
/// Stereo samples of playback queued ahead: a quarter of a second.
const PLAYBACK_QUEUE: usize = SAMPLE_RATE as usize / 2;

/// The device buffer asked for first: 10 ms.
const DEVICE_BUFFER: cpal::BufferSize = cpal::BufferSize::Fixed(SAMPLE_RATE / 100);

/// Keeps a device's stream running; dropping it stops the stream. Not `Send` on every
/// platform, so it stays with whoever opened it.
pub struct DeviceStream {
    _stream: cpal::Stream,
    /// The device's name.
    pub name: String,
}

/// The names of the input devices (microphones) there are.
pub fn input_names() -> Vec<String> {
    let host = cpal::default_host();
    host.input_devices()
        .map(|devices| devices.filter_map(|device| device_name(&device)).collect())
        .unwrap_or_default()
}

/// The names of the output devices (speakers, headphones) there are.
pub fn output_names() -> Vec<String> {
    let host = cpal::default_host();
    host.output_devices()
        .map(|devices| devices.filter_map(|device| device_name(&device)).collect())
        .unwrap_or_default()
}

fn device_name(device: &cpal::Device) -> Option<String> {
    device
        .description()
        .ok()
        .map(|description| description.name().to_string())
}

/// Microphone samples, as they are captured.
pub struct Capture {
    queue: Arc<ArrayQueue<f32>>,
    dropped: Arc<AtomicU64>,
}

impl Capture {
    /// Samples lost because nobody read them in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl AudioSource for Capture {
    fn read(&mut self, out: &mut [f32]) -> usize {
        let mut count = 0;
        for slot in out.iter_mut() {
            let Some(sample) = self.queue.pop() else { break };
            *slot = sample;
            count += 1;
        }
        count
    }
}

/// The speaker or headphones.
pub struct Playback {
    queue: Arc<ArrayQueue<f32>>,
    underruns: Arc<AtomicU64>,
}

impl Playback {
    /// Stereo samples queued and not yet played.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Device callbacks that found nothing to play.
    pub fn underruns(&self) -> u64 {
        self.underruns.load(Ordering::Relaxed)
    }
}

impl AudioSink for Playback {
    fn write(&mut self, stereo: &[f32]) {
        for &sample in stereo {
            // A full queue means the device stalled: the newest sound is what matters.
            let _ = self.queue.force_push(sample);
        }
    }
}

/// The device called `name` among `devices`, or `default` when no name is given; `what`
/// ("microphone", "speaker") names it in the error.
fn choose(
    devices: Result<impl Iterator<Item = cpal::Device>, cpal::DevicesError>,
    default: Option<cpal::Device>,
    name: Option<&str>,
    what: &str,
) -> Result<cpal::Device, VoiceError> {
    match name {
        Some(name) => devices
            .ok()
            .and_then(|mut devices| devices.find(|device| device_name(device).as_deref() == Some(name)))
            .ok_or_else(|| VoiceError::Device(format!("no {what} called {name:?}"))),
        None => default.ok_or_else(|| VoiceError::Device(format!("no {what} found"))),
    }
}

fn device_error(what: &str, error: impl std::fmt::Display) -> VoiceError {
    VoiceError::Device(format!("{what}: {error}"))
}

/// Opens a microphone (`name`, or the default one) and starts capturing.
pub fn open_input(name: Option<&str>) -> Result<(Capture, DeviceStream), VoiceError> {
    let host = cpal::default_host();
    let device = choose(
        host.input_devices(),
        host.default_input_device(),
        name,
        "microphone",
    )?;
    let name = device_name(&device).unwrap_or_else(|| "microphone".into());
    let default = device
        .default_input_config()
        .map_err(|error| device_error("the microphone has no usable format", error))?;
    let channels = usize::from(default.channels().max(1));
    let queue = Arc::new(ArrayQueue::new(CAPTURE_QUEUE));
    let dropped = Arc::new(AtomicU64::new(0));
    let mut last_error = None;
    // 48 kHz if the device takes it, else its own rate, resampled here; a buffer of
    // 10 ms if the device takes it (its own choice can be a second or more, all of it
    // added to everyone's latency).
    let rates = [SAMPLE_RATE, default.sample_rate()];
    for (rate, buffer_size) in rates
        .into_iter()
        .flat_map(|rate| [(rate, DEVICE_BUFFER), (rate, cpal::BufferSize::Default)])
    {
        let config = cpal::StreamConfig {
            channels: default.channels(),
            sample_rate: rate,
            buffer_size,
        };
        let (queue_in, dropped_in) = (queue.clone(), dropped.clone());
        let push = move |data: &[f32]| {
            let mono: Vec<f32> = data
                .chunks(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32)
                .collect();
            for sample in resample(&mono, rate, SAMPLE_RATE) {
                if queue_in.force_push(sample).is_some() {
                    dropped_in.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let stream = build_input(&device, &config, default.sample_format(), push);
        match stream {
            Ok(stream) => {
                stream
                    .play()
                    .map_err(|error| device_error("the microphone would not start", error))?;
                return Ok((
                    Capture { queue, dropped },
                    DeviceStream {
                        _stream: stream,
                        name,
                    },
                ));
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(device_error(
        "the microphone would not open",
        last_error.map_or_else(|| "no format".to_string(), |error| error.to_string()),
    ))
}

fn build_input(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    format: cpal::SampleFormat,
    mut push: impl FnMut(&[f32]) + Send + 'static,
) -> Result<cpal::Stream, cpal::BuildStreamError> {
    let on_error = |error| tracing::warn!("microphone: {error}");
    match format {
        cpal::SampleFormat::I16 => device.build_input_stream::<i16, _, _>(
            config,
            move |data, _| push(&data.iter().map(|s| f32::from(*s) / 32768.0).collect::<Vec<_>>()),
            on_error,
            None,
        ),
        cpal::SampleFormat::I32 => device.build_input_stream::<i32, _, _>(
            config,
            move |data, _| {
                push(
                    &data
                        .iter()
                        .map(|s| *s as f32 / 2_147_483_648.0)
                        .collect::<Vec<_>>(),
                )
            },
            on_error,
            None,
        ),
        _ => device.build_input_stream::<f32, _, _>(config, move |data, _| push(data), on_error, None),
    }
}

/// Opens a speaker (`name`, or the default one) and starts playing what is written.
pub fn open_output(name: Option<&str>) -> Result<(Playback, DeviceStream), VoiceError> {
    let host = cpal::default_host();
    let device = choose(
        host.output_devices(),
        host.default_output_device(),
        name,
        "speaker",
    )?;
    let name = device_name(&device).unwrap_or_else(|| "speaker".into());
    let default = device
        .default_output_config()
        .map_err(|error| device_error("the speaker has no usable format", error))?;
    let channels = usize::from(default.channels().max(1));
    let queue = Arc::new(ArrayQueue::new(PLAYBACK_QUEUE));
    let underruns = Arc::new(AtomicU64::new(0));
    let (queue_out, underruns_out) = (queue.clone(), underruns.clone());
    let fill = move |data: &mut [f32]| {
        let mut starved = false;
        for frame in data.chunks_mut(channels) {
            let (left, right) = match (queue_out.pop(), queue_out.pop()) {
                (Some(left), Some(right)) => (left, right),
                _ => {
                    starved = true;
                    (0.0, 0.0)
                }
            };
            match frame {
                [only] => *only = (left + right) * 0.5,
                [l, r, rest @ ..] => {
                    *l = left;
                    *r = right;
                    rest.fill(0.0);
                }
                [] => {}
            }
        }
        if starved {
            underruns_out.fetch_add(1, Ordering::Relaxed);
        }
    };
    let fill = Arc::new(std::sync::Mutex::new(fill));
    let mut last_error = None;
    let mut opened = None;
    for buffer_size in [DEVICE_BUFFER, cpal::BufferSize::Default] {
        let config = cpal::StreamConfig {
            channels: default.channels(),
            sample_rate: SAMPLE_RATE,
            buffer_size,
        };
        let fill = fill.clone();
        let built = device.build_output_stream::<f32, _, _>(
            &config,
            move |data, _| {
                // Only this stream's callback ever locks it.
                if let Ok(fill) = fill.try_lock().as_deref_mut() {
                    fill(data);
                }
            },
            |error| tracing::warn!("speaker: {error}"),
            None,
        );
        match built {
            Ok(stream) => {
                opened = Some(stream);
                break;
            }
            Err(error) => last_error = Some(error),
        }
    }
    let stream = opened.ok_or_else(|| {
        device_error(
            "the speaker would not open at 48 kHz",
            last_error.map_or_else(|| "no format".to_string(), |error| error.to_string()),
        )
    })?;
    stream
        .play()
        .map_err(|error| device_error("the speaker would not start", error))?;
    Ok((
        Playback { queue, underruns },
        DeviceStream {
            _stream: stream,
            name,
        },
    ))
}
