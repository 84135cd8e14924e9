//! Real sound devices through cpal: a tone played to the default speaker is captured
//! again from the default microphone. `./test.sh` makes both a PulseAudio null sink and
//! its monitor (and sets SANCTUARY_SOUND_TEST); elsewhere the test says why it does not
//! run. Devices that are not there are a clear error, not a panic.

use std::time::{Duration, Instant};

use sanctuary_voice::audio_io::{AudioSink, AudioSource};
use sanctuary_voice::{VoiceError, devices};

#[test]
fn a_tone_played_to_the_speaker_is_captured_by_the_microphone() {
    if std::env::var_os("SANCTUARY_SOUND_TEST").is_none() {
        eprintln!("not run: no test sound server (./test.sh starts one with a null sink)");
        return;
    }
    let (mut speaker, _out) = devices::open_output(None).expect("the null sink opens");
    let (mut microphone, _in) = devices::open_input(None).expect("its monitor opens");
    let mut captured = Vec::new();
    let mut chunk = vec![0.0; 4800];
    let started = Instant::now();
    let mut n = 0u64;
    // The sound server may take a couple of seconds to start a capture; then a second of
    // the tone is plenty.
    while captured.len() < 48_000 && started.elapsed() < Duration::from_secs(10) {
        // 10 ms of a 440 Hz tone, stereo, at the pace it plays.
        let stereo: Vec<f32> = (0..480)
            .flat_map(|i| {
                let t = (n + i) as f32 / 48_000.0;
                let s = 0.5 * (t * 440.0 * std::f32::consts::TAU).sin();
                [s, s]
            })
            .collect();
        n += 480;
        speaker.write(&stereo);
        let read = microphone.read(&mut chunk);
        captured.extend_from_slice(&chunk[..read]);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(captured.len() >= 48_000, "a second captured: {}", captured.len());
    let loudest = captured.iter().fold(0.0f32, |top, s| top.max(s.abs()));
    assert!(
        loudest > 0.1,
        "the tone came back through the monitor: peak {loudest}"
    );
    assert!(!devices::output_names().is_empty());
}

#[test]
fn a_device_that_is_not_there_is_a_clear_error() {
    let Err(VoiceError::Device(why)) = devices::open_input(Some("no such microphone")) else {
        panic!("a missing microphone must be an error");
    };
    assert!(why.contains("no such microphone"), "{why}");
    let Err(VoiceError::Device(why)) = devices::open_output(Some("no such speaker")) else {
        panic!("a missing speaker must be an error");
    };
    assert!(why.contains("no such speaker"), "{why}");
}
