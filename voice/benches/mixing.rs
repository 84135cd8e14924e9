//! What one listener's mixing costs per speaker: decode and spatially mix N speakers for
//! one 10 ms tick, and the most speakers one core mixes in real time.
//!
//! `cargo bench -p sanctuary-voice --bench mixing`

use std::hint::black_box;
use std::time::Instant;

use sanctuary_protocols::{FrameDuration, Keypair, VoicePacket};
use sanctuary_voice::{Listener, Speakers, VoiceEncoder};

/// One second of 20 ms packets of a voiced sound.
fn packets() -> Vec<VoicePacket> {
    let mut encoder = VoiceEncoder::new(FrameDuration::Ms20).expect("an encoder");
    (0..50)
        .map(|frame| {
            let samples: Vec<f32> = (0..960)
                .map(|n| {
                    let t = (frame * 960 + n) as f32 / 48_000.0;
                    0.3 * (t * 150.0 * std::f32::consts::TAU).sin()
                })
                .collect();
            encoder.encode(&samples, false).expect("a packet")
        })
        .collect()
}

fn main() {
    let stream = packets();
    let listener = Listener::default();
    println!("speakers  us_per_tick  us_per_speaker  realtime_share");
    let mut per_speaker_at_64 = 0.0;
    for count in [1usize, 8, 32, 64] {
        let peers: Vec<_> = (0..count)
            .map(|n| Keypair::from_bytes(&[n as u8 + 1; 32]).peer_id())
            .collect();
        let mut speakers = Speakers::new();
        let mut ticks = 0u32;
        let mut elapsed = std::time::Duration::ZERO;
        // Ten seconds of speech: every speaker sends a packet every second tick.
        for round in 0..10 {
            for (i, packet) in stream.iter().enumerate() {
                let now_ms = (round * 50 + i) as u64 * 20;
                for peer in &peers {
                    let mut packet = packet.clone();
                    packet.seq = (round * 50 + i) as u32;
                    let _ = speakers.receive(*peer, packet, now_ms);
                }
                for _ in 0..2 {
                    let start = Instant::now();
                    let mixed = speakers.mix(&listener, |_| Some([1.0, 0.0, -2.0]));
                    elapsed += start.elapsed();
                    black_box(mixed);
                    ticks += 1;
                }
            }
        }
        let per_tick = elapsed.as_secs_f64() * 1e6 / f64::from(ticks);
        let per_speaker = per_tick / count as f64;
        println!(
            "{count:>8}  {per_tick:>11.1}  {per_speaker:>14.2}  {:>14.4}",
            per_tick / 10_000.0
        );
        if count == 64 {
            per_speaker_at_64 = per_speaker;
        }
    }
    println!(
        "most speakers mixed in real time on one core: about {}",
        (10_000.0 / per_speaker_at_64).floor()
    );
}
