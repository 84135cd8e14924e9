//! Bots: avatars that wander near a space's spawn point, turning to face where they
//! walk, pausing now and then, and sometimes saying something; with a recording, they
//! also speak it aloud, over and over (the load generator for voice).

use std::sync::Arc;

use sanctuary_net::{VoiceTo, WorldTicket};
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::text::{ChatText, DisplayName, SpaceName};
use sanctuary_protocols::{FrameDuration, VoicePacket};
use std::net::SocketAddr;
use std::time::Duration;

/// How often a bot sends its pose.
const POSE_INTERVAL: Duration = Duration::from_millis(50);
/// How far from the spawn point bots wander, metres.
const WANDER_RADIUS: f32 = 9.0;
/// Walking speed, metres per second.
const SPEED: f32 = 1.4;

const SAYINGS: &[&str] = &[
    "hello!",
    "anyone up for the cinema later?",
    "the galleries go up forever",
    "nice to see you",
    "I'll be at the market",
    "what a place",
];

/// A recording encoded once, as the Opus frames every talking bot sends.
#[derive(Clone)]
pub struct Speech(Arc<Vec<Vec<u8>>>);

impl Speech {
    /// Reads and encodes `path` (WAV) in 20 ms frames.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        use sanctuary_voice::AudioSource;
        let mut source = sanctuary_voice::WavSource::open(path)?;
        let mut encoder = sanctuary_voice::VoiceEncoder::new(FrameDuration::Ms20)?;
        let mut frame = vec![0.0; encoder.frame_samples()];
        let mut frames = Vec::new();
        while source.read(&mut frame) == frame.len() {
            frames.push(encoder.encode(&frame, false)?.opus);
        }
        anyhow::ensure!(!frames.is_empty(), "{} is shorter than one frame", path.display());
        Ok(Self(Arc::new(frames)))
    }
}

/// Pause between two times a bot says its recording.
const TALK_PAUSE: Duration = Duration::from_secs(1);

/// Says `speech` over and over to whoever is in earshot, until `stop` turns true.
async fn talk(
    sender: sanctuary_net::VoiceSender,
    speech: Speech,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let frame = Duration::from_millis(u64::from(FrameDuration::Ms20.millis()));
    let mut seq = 0u32;
    let mut send = |opus: Vec<u8>, end: bool| {
        let packet = VoicePacket {
            seq,
            frame: FrameDuration::Ms20,
            end,
            call: false,
            opus,
        };
        seq = seq.wrapping_add(1);
        sender.send(&packet, VoiceTo::Earshot);
    };
    let mut ticker = tokio::time::interval(frame);
    loop {
        for opus in speech.0.iter() {
            tokio::select! {
                _ = ticker.tick() => send(opus.clone(), false),
                _ = stop.changed() => return,
            }
        }
        send(Vec::new(), true);
        tokio::select! {
            _ = tokio::time::sleep(TALK_PAUSE) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A small deterministic generator (xorshift), seeded with anything but zero.
pub struct Dice(pub u64);

impl Dice {
    /// The next number in 0..1.
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Runs `count` bots in `space` until `seconds` pass (or forever).
pub async fn run(
    ticket: WorldTicket,
    count: u32,
    space: String,
    spawn: [f32; 3],
    bind: Option<SocketAddr>,
    seconds: Option<u64>,
    speech: Option<Speech>,
) -> anyhow::Result<()> {
    let space_name = SpaceName::new(space.clone())?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut bots = Vec::new();
    for index in 0..count {
        let node = crate::node(bind).await?;
        let mut dice = Dice(
            u64::from(index)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(0x2545_F491_4F6C_DD1D),
        );
        // Nearby seeds start alike; a few draws spread them apart.
        for _ in 0..8 {
            dice.next();
        }
        let presence = Presence {
            name: DisplayName::new(format!("bot-{index}"))?,
            color: Rgb {
                r: (dice.next() * 200.0) as u8 + 55,
                g: (dice.next() * 200.0) as u8 + 55,
                b: (dice.next() * 200.0) as u8 + 55,
            },
            shape: AvatarShape::Capsule,
            space: space_name.clone(),
        };
        let world = node.join_world(&ticket, presence).await?;
        if let Some(speech) = &speech {
            tokio::spawn(talk(world.voice_sender(), speech.clone(), stop_rx.clone()));
        }
        bots.push(tokio::spawn(wander(
            node,
            world,
            stop_rx.clone(),
            dice,
            spawn,
            index,
        )));
    }
    let talking = if speech.is_some() { " and talking" } else { "" };
    eprintln!("{count} bots wandering {space}{talking}");
    crate::until_done(seconds).await;
    stop.send_replace(true);
    for bot in bots {
        bot.await.ok();
    }
    Ok(())
}

/// Walks one bot until `stop` turns true, then says goodbye.
async fn wander(
    node: sanctuary_net::Node,
    mut world: sanctuary_net::WorldHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut dice: Dice,
    spawn: [f32; 3],
    index: u32,
) {
    // Drain events so the world's queue never backs up.
    let mut events = world.take_events();
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let mut position = [
        spawn[0] + dice.next() * 4.0 - 2.0,
        spawn[1],
        spawn[2] + dice.next() * 4.0 - 2.0,
    ];
    let mut target = position;
    let mut yaw = 0.0f32;
    let mut pause = 0.0f32;
    let mut next_chat = 2.0 + dice.next() * 6.0;
    let mut ticker = tokio::time::interval(POSE_INTERVAL);
    let dt = POSE_INTERVAL.as_secs_f32();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = stop.changed() => break,
        }
        let (dx, dz) = (target[0] - position[0], target[2] - position[2]);
        let distance = (dx * dx + dz * dz).sqrt();
        if pause > 0.0 {
            pause -= dt;
        } else if distance < 0.2 {
            let angle = dice.next() * std::f32::consts::TAU;
            let reach = dice.next().sqrt() * WANDER_RADIUS;
            target = [
                spawn[0] + angle.cos() * reach,
                spawn[1],
                spawn[2] + angle.sin() * reach,
            ];
            pause = dice.next() * 3.0;
        } else {
            let step = (SPEED * dt).min(distance);
            position[0] += dx / distance * step;
            position[2] += dz / distance * step;
            // Yaw 0 faces -z.
            yaw = (-dx).atan2(-dz);
        }
        let pose = PoseSample {
            position,
            yaw,
            grounded: true,
            ..PoseSample::default()
        };
        if let Err(error) = world.send_pose(pose) {
            tracing::debug!("bot-{index}: pose not sent: {error}");
        }
        next_chat -= dt;
        if next_chat <= 0.0 {
            next_chat = 20.0 + dice.next() * 40.0;
            let saying = SAYINGS[(dice.next() * SAYINGS.len() as f32) as usize % SAYINGS.len()];
            if let Ok(text) = ChatText::new(saying)
                && let Err(error) = world.send_chat(text).await
            {
                tracing::debug!("bot-{index}: chat not sent: {error}");
            }
        }
    }
    if let Err(error) = world.leave().await {
        tracing::debug!("bot-{index}: goodbye not sent: {error}");
    }
    node.shutdown().await;
}
