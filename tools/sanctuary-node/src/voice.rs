//! `sanctuary-node voice`: a recording sent through the real voice path between two peers
//! on loopback (capture frames, Opus, QUIC datagrams, the gate, the jitter buffer, the
//! decoder and the mixer), with loss and jitter added on arrival as a bad network would,
//! and what the listener heard written to a WAV file. The mouth-to-ear latency is measured
//! by lining the output up with the input. The listener sends reception reports back as a
//! client does, and the talker's bitrate follows them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use sanctuary_net::{VoiceTo, WorldEvent};
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::{FrameDuration, ReceptionReport, VoicePacket};
use sanctuary_voice::audio_io::AudioSink;
use sanctuary_voice::feedback::REPORT_EVERY_MS;
use sanctuary_voice::{
    Listener, LossReports, MIX_FRAME, RecordingSink, SAMPLE_RATE, Speakers, Talker, WavSource,
};

/// Options of `sanctuary-node voice`.
#[derive(Args, Debug)]
pub struct VoiceOptions {
    /// The recording to send (WAV; any rate and channels).
    #[arg(long = "in", value_name = "FILE.wav")]
    input: PathBuf,
    /// Where to write what the listener heard (stereo WAV, 48 kHz).
    #[arg(long = "out", value_name = "FILE.wav")]
    output: PathBuf,
    /// Share of packets lost on the way, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Extra delay on the way, uniformly random up to this many milliseconds per packet.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Frame length: 20 (default) or 10 milliseconds.
    #[arg(long, default_value_t = 20)]
    frame_ms: u32,
    /// Seed of the loss and jitter, so a run can be repeated.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// A packet on its way, released to the listener at a time.
struct InFlight {
    packet: VoicePacket,
    arrived: Instant,
}

/// Sends the recording and writes what was heard; prints one line of figures.
pub async fn run(options: VoiceOptions) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&options.loss),
        "--loss must be between 0 and 1"
    );
    let frame = match options.frame_ms {
        20 => FrameDuration::Ms20,
        10 => FrameDuration::Ms10,
        other => anyhow::bail!("--frame-ms must be 10 or 20, not {other}"),
    };
    let source = WavSource::open(&options.input)?;
    let input_samples = source.clone().remaining();
    anyhow::ensure!(input_samples > 0, "{} holds no sound", options.input.display());

    let mut peers = crate::latency::TwoPeers::start("talker", "listener").await?;
    let mut talker_events = peers.host.take_events();
    let (talker_world, listener_world) = (&peers.host, &mut peers.guest);
    let mut events = listener_world.take_events();
    let report_sender = listener_world.voice_sender();

    // Stand 2 m apart, facing each other's way, until the talker's earshot holds the listener.
    let sender = talker_world.voice_sender();
    let listener_id = peers.guest_node.peer_id();
    let talker_id = peers.host_node.peer_id();
    let stood = Instant::now();
    while !sender.earshot().contains(&listener_id) {
        anyhow::ensure!(
            stood.elapsed() < Duration::from_secs(20),
            "the two peers never met"
        );
        listener_world.send_pose(PoseSample::default())?;
        talker_world.send_pose(PoseSample {
            position: [0.0, 0.0, -2.0],
            ..PoseSample::default()
        })?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Open the voice connection before the clock starts, as in a conversation under way.
    let warmup = VoicePacket {
        seq: u32::MAX - 10,
        frame,
        end: true,
        call: false,
        opus: Vec::new(),
    };
    // And the listener's, for its reports.
    let warmup_report = ReceptionReport {
        seq: warmup.seq,
        call: false,
        loss_percent: 0,
    };
    let warmed = Instant::now();
    while sender.send(&warmup, VoiceTo::Earshot) == 0 || !report_sender.report(talker_id, &warmup_report) {
        anyhow::ensure!(warmed.elapsed() < Duration::from_secs(20), "no voice connection");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut talker = Talker::new(frame)?;
    talker.set_pressed(true);
    let mut source = source;
    let mut speakers = Speakers::new();
    let mut sink = RecordingSink::default();
    let mut dice = crate::bots::Dice(options.seed.max(1));
    let mut in_flight: BTreeMap<(Instant, u32), InFlight> = BTreeMap::new();
    let (mut sent, mut lost, mut received) = (0u64, 0u64, 0u64);
    let mut reports = LossReports::new();
    let mut lowest_bitrate = talker.bitrate();

    let start = Instant::now();
    // A frame leaves when its last sample has been captured: one frame after it began.
    let frame_period = Duration::from_millis(u64::from(frame.millis()));
    let mut capture_tick =
        tokio::time::interval_at(tokio::time::Instant::from_std(start) + frame_period, frame_period);
    capture_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut mix_tick = tokio::time::interval(Duration::from_millis(u64::from(MIX_FRAME.millis())));
    mix_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut report_tick = tokio::time::interval(Duration::from_millis(REPORT_EVERY_MS));
    // Play on for a second after the recording, so the tail comes through.
    let total =
        Duration::from_secs_f64(input_samples as f64 / f64::from(SAMPLE_RATE)) + Duration::from_secs(1);
    let frame_samples = frame.samples(SAMPLE_RATE);
    loop {
        tokio::select! {
            _ = capture_tick.tick() => {
                // One frame of "microphone": the recording, then silence.
                let mut chunk = vec![0.0; frame_samples];
                let read = sanctuary_voice::AudioSource::read(&mut source, &mut chunk);
                if read == 0 && start.elapsed() >= total {
                    break;
                }
                let mut frame_source = WavSource::from_samples(chunk);
                for packet in talker.pump(&mut frame_source)? {
                    sent += 1;
                    sender.send(&packet, VoiceTo::Earshot);
                }
            }
            _ = mix_tick.tick() => {
                let now = Instant::now();
                while let Some(entry) = in_flight.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let InFlight { packet, arrived } = entry.remove();
                    let at_ms = arrived.duration_since(start).as_millis() as u64;
                    let _ = speakers.receive(talker_id, packet, at_ms);
                }
                let listener = Listener::default();
                let stereo = speakers.mix(&listener, |_| Some([0.0, 0.0, -2.0]));
                sink.write(&stereo);
            }
            _ = report_tick.tick() => {
                // The listener tells the talker how its frames arrive.
                for (speaker, report) in speakers.reception_reports() {
                    report_sender.report(speaker, &report);
                }
            }
            event = talker_events.recv() => {
                let Some(event) = event else { anyhow::bail!("the talker's world closed") };
                if let WorldEvent::VoiceReport { peer, report } = event
                    && peer == listener_id
                {
                    let now_ms = start.elapsed().as_millis() as u64;
                    reports.note(peer, &report, now_ms);
                    talker.adapt(reports.worst(now_ms))?;
                    lowest_bitrate = lowest_bitrate.min(talker.bitrate());
                }
            }
            event = events.recv() => {
                let Some(event) = event else { anyhow::bail!("the listener's world closed") };
                if let WorldEvent::Voice { peer, packet } = event {
                    if peer != talker_id || packet.seq > u32::MAX - 100 {
                        continue;
                    }
                    received += 1;
                    if f64::from(dice.next()) < options.loss {
                        lost += 1;
                        continue;
                    }
                    let delay = (f64::from(dice.next()) * (options.jitter_ms + 1) as f64) as u64;
                    let now = Instant::now();
                    let release = now + Duration::from_millis(delay);
                    in_flight.insert((release, packet.seq), InFlight { packet, arrived: release });
                }
            }
        }
    }
    sink.save(&options.output)
        .with_context(|| format!("cannot write {}", options.output.display()))?;

    let heard: Vec<f32> = sink
        .left()
        .iter()
        .zip(sink.right())
        .map(|(left, right)| left + right)
        .collect();
    let original = WavSource::open(&options.input)?;
    let latency = latency_ms(&original_samples(original), &heard);
    let stats = speakers.stats(&talker_id).unwrap_or_default();
    println!(
        "voice sent={sent} received={received} lost={lost} recovered={} concealed={} late={} jitter_buffer_ms={} lowest_kbps={} latency_ms={}",
        stats.recovered,
        stats.concealed,
        stats.late,
        speakers.delay_ms(&talker_id).unwrap_or(0),
        lowest_bitrate / 1000,
        latency.map_or("unknown".to_string(), |ms| format!("{ms:.1}")),
    );
    peers.stop().await;
    Ok(())
}

fn original_samples(mut source: WavSource) -> Vec<f32> {
    let mut samples = vec![0.0; source.remaining()];
    sanctuary_voice::AudioSource::read(&mut source, &mut samples);
    samples
}

/// How far behind the input the output is, in milliseconds: the lag (up to a second) at
/// which the two line up best, found on 8 kHz envelopes.
pub fn latency_ms(input: &[f32], output: &[f32]) -> Option<f64> {
    const STEP: usize = 6; // 48 kHz to 8 kHz
    let decimate = |samples: &[f32]| -> Vec<f32> {
        samples
            .chunks(STEP)
            .map(|chunk| chunk.iter().map(|s| s.abs()).sum::<f32>() / chunk.len() as f32)
            .collect()
    };
    let (a, b) = (decimate(input), decimate(output));
    let max_lag = (SAMPLE_RATE as usize / STEP).min(b.len());
    let mut best: Option<(usize, f32)> = None;
    for lag in 0..max_lag {
        let score: f32 = a.iter().zip(&b[lag..]).map(|(x, y)| x * y).sum();
        if best.is_none_or(|(_, top)| score > top) {
            best = Some((lag, score));
        }
    }
    let (lag, score) = best?;
    (score > 0.0).then(|| lag as f64 * STEP as f64 * 1000.0 / f64::from(SAMPLE_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_finds_the_lag_of_a_delayed_copy() {
        let input: Vec<f32> = (0..48_000)
            .map(|n| {
                if (n / 2400) % 3 == 0 {
                    ((n as f32) * 0.1).sin()
                } else {
                    0.0
                }
            })
            .collect();
        let mut output = vec![0.0; 4800];
        output.extend_from_slice(&input);
        let ms = latency_ms(&input, &output).unwrap();
        assert!((ms - 100.0).abs() < 1.0, "{ms}");
        assert_eq!(latency_ms(&input, &vec![0.0; 48_000]), None);
    }
}
