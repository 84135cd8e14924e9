//! `sanctuary-node voice`: a recording through the real voice path between two peers on
//! loopback, clean, over a lossy, jittery network, and over a very lossy one (where the
//! listener's reports lower the talker's bitrate); a file that is no recording is a
//! one-line error. `sanctuary-node bots --talk`: bots heard by someone among them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sanctuary-voice-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Two seconds of something like speech at 16 kHz mono: voiced syllables (a 140 Hz
/// buzz with formant-like harmonics, rising and falling) between short pauses.
fn write_speech_like(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..32_000u32 {
        let t = n as f32 / 16_000.0;
        let syllable = (t * 4.0).fract();
        let envelope = if syllable < 0.7 {
            (syllable / 0.7 * std::f32::consts::PI).sin()
        } else {
            0.0
        };
        let pitch = 140.0 + 30.0 * (t * 3.0).sin();
        let phase = t * pitch * std::f32::consts::TAU;
        let voiced: f32 = [(1.0, 1.0), (2.0, 0.6), (5.0, 0.4), (12.0, 0.2)]
            .iter()
            .map(|(harmonic, amplitude)| amplitude * (phase * harmonic).sin())
            .sum();
        let sample = 0.25 * envelope * voiced;
        writer.write_sample((sample * 32_767.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
}

struct Run {
    figures: std::collections::HashMap<String, String>,
    heard: Vec<f32>,
}

impl Run {
    fn number(&self, name: &str) -> f64 {
        self.figures[name]
            .parse()
            .unwrap_or_else(|_| panic!("{name} = {}", self.figures[name]))
    }
}

fn voice(dir: &Path, extra: &[&str]) -> Run {
    let input = dir.join("speech.wav");
    let output = dir.join("heard.wav");
    let result = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
        .env("RUST_LOG", "error")
        .arg("voice")
        .arg("--in")
        .arg(&input)
        .arg("--out")
        .arg(&output)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let line = stdout
        .lines()
        .find(|line| line.starts_with("voice "))
        .expect(&stdout);
    let figures = line
        .split_whitespace()
        .skip(1)
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let reader = hound::WavReader::open(&output).unwrap();
    assert_eq!(reader.spec().channels, 2);
    assert_eq!(reader.spec().sample_rate, 48_000);
    let heard = reader
        .into_samples::<i16>()
        .map(|sample| f32::from(sample.unwrap()) / 32_768.0)
        .collect();
    Run { figures, heard }
}

fn energy(samples: &[f32]) -> f32 {
    samples.iter().map(|s| s * s).sum()
}

#[test]
fn a_recording_comes_through_clean_and_through_loss_and_jitter_with_its_latency() {
    let dir = folder("path");
    write_speech_like(&dir.join("speech.wav"));

    let clean = voice(&dir, &[]);
    let sent = clean.number("sent");
    assert!(sent >= 100.0, "two seconds of 20 ms frames: {sent}");
    assert!(clean.number("received") >= sent * 0.95, "{:?}", clean.figures);
    assert_eq!(clean.number("lost"), 0.0);
    let latency = clean.number("latency_ms");
    assert!((20.0..150.0).contains(&latency), "mouth to ear {latency} ms");
    // The listener heard about as much sound as was sent (2 s at 0.25 of full scale,
    // panned at the centre: each ear about half the power).
    let heard = energy(&clean.heard);
    assert!(heard > 500.0, "heard energy {heard}");
    // A clean network: the listener reports no loss, the talker stays at the top
    // bitrate.
    assert_eq!(clean.number("lowest_kbps"), 32.0, "{:?}", clean.figures);

    let rough = voice(&dir, &["--loss", "0.1", "--jitter-ms", "40", "--seed", "7"]);
    let lost = rough.number("lost") / rough.number("received");
    assert!((0.04..0.2).contains(&lost), "lost share {lost}");
    assert!(
        rough.number("recovered") + rough.number("concealed") > 0.0,
        "gaps were filled: {:?}",
        rough.figures
    );
    assert!(
        rough.number("jitter_buffer_ms") > 20.0,
        "the buffer grew: {:?}",
        rough.figures
    );
    let rough_heard = energy(&rough.heard);
    assert!(
        rough_heard > heard * 0.5,
        "still mostly heard: {rough_heard} vs {heard}"
    );

    // Two packets in five lost: the listener says so, and the talker's bitrate comes
    // down (some loss is met with FEC alone; this much means an overloaded path).
    let heavy = voice(&dir, &["--loss", "0.4", "--seed", "9"]);
    assert!(
        heavy.number("lowest_kbps") < 30.0,
        "the bitrate followed the loss: {:?}",
        heavy.figures
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_file_that_is_no_recording_is_a_one_line_error() {
    let dir = folder("bad");
    std::fs::write(dir.join("speech.wav"), b"RIFF but not really").unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
        .env("RUST_BACKTRACE", "0")
        .arg("voice")
        .arg("--in")
        .arg(dir.join("speech.wav"))
        .arg("--out")
        .arg(dir.join("heard.wav"))
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("speech.wav"), "{stderr}");
    assert!(!dir.join("heard.wav").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talking_bots_are_heard_by_someone_standing_among_them() {
    use sanctuary_net::{JoinTarget, Node, NodeConfig, WorldEvent, WorldId};
    use sanctuary_protocols::{AvatarShape, DisplayName, Keypair, PoseSample, Presence, Rgb, SpaceName};
    use std::time::{Duration, Instant};

    let dir = folder("bots");
    write_speech_like(&dir.join("speech.wav"));
    let node = Node::spawn(NodeConfig::loopback(Keypair::generate().unwrap()))
        .await
        .unwrap();
    let presence = Presence {
        name: DisplayName::new("listener").unwrap(),
        color: Rgb { r: 1, g: 2, b: 3 },
        shape: AvatarShape::Capsule,
        space: SpaceName::new("lobby").unwrap(),
    };
    let mut world = node
        .join_world(JoinTarget::host(WorldId::random().unwrap()), presence)
        .await
        .unwrap();
    let mut bots = Command::new(env!("CARGO_BIN_EXE_sanctuary-node"))
        .env("RUST_LOG", "error")
        .args([
            "bots",
            "--count",
            "2",
            "--seconds",
            "30",
            "--bind",
            "127.0.0.1:0",
            "--join",
        ])
        .arg(world.ticket().to_string())
        .arg("--talk")
        .arg(dir.join("speech.wav"))
        .spawn()
        .unwrap();
    // Stand at the Lobby's spawn point, where the bots wander, until both are heard.
    let mut heard = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(25);
    while heard.len() < 2 || heard.values().any(|packets| *packets < 25) {
        assert!(Instant::now() < deadline, "heard only {heard:?}");
        world
            .send_pose(PoseSample {
                position: [0.0, 0.0, 9.5],
                ..PoseSample::default()
            })
            .unwrap();
        while let Ok(event) = world.events().try_recv() {
            if let WorldEvent::Voice { peer, .. } = event {
                *heard.entry(peer).or_insert(0u32) += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bots.kill().ok();
    bots.wait().ok();
    std::fs::remove_dir_all(dir).unwrap();
}
