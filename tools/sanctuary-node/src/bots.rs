//! Bots: avatars that wander near a space's spawn point, turning to face where they
//! walk, pausing now and then, and sometimes saying something; with a recording, they
//! also speak it aloud, over and over (the load generator for voice); with `--build`, they
//! also build in the space (the load generator for building, see [`crate::builder`]).
//!
//! The loop that sends a bot's poses never waits on the network: chat goes out while the
//! loop goes on, and building edits are made locally (the world's task sends them).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use sanctuary_net::{BuildSetup, JoinTarget, WorldConfig, WorldId, WorldTicket};
use sanctuary_net::{NetError, VoiceTo};
use sanctuary_protocols::build::BuildRules;
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::text::{ChatText, DisplayName, SpaceName};
use sanctuary_protocols::{FrameDuration, VoicePacket};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::builder::Builder;
use crate::building::say;

/// The most pieces a building bot may place a second.
pub const BUILD_RATE_MAX: f32 = 1000.0;

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

/// The world bots are in.
pub enum Target {
    /// The first bot starts this world (and prints its ticket); the others join it.
    Host(WorldId),
    /// They join this one.
    Join(WorldTicket),
}

/// How bots build.
pub struct Building {
    /// Every space's rules.
    pub rules: BTreeMap<SpaceName, BuildRules>,
    /// Pieces per second per bot.
    pub rate: f32,
    /// Stop building after this many seconds.
    pub seconds: Option<u64>,
}

/// What [`run`] runs.
pub struct Bots {
    /// The world.
    pub target: Target,
    /// How many bots.
    pub count: u32,
    /// The space they wander.
    pub space: String,
    /// Where they arrive.
    pub spawn: [f32; 3],
    /// The address their nodes listen on.
    pub bind: Option<SocketAddr>,
    /// Stop after this many seconds (or on Ctrl-C).
    pub seconds: Option<u64>,
    /// What they say aloud.
    pub speech: Option<Speech>,
    /// Whether and how they build.
    pub build: Option<Building>,
    /// Where each keeps its key and documents (`<dir>/bot-<n>`); in memory when `None`.
    pub data_dir: Option<PathBuf>,
}

/// Runs `count` bots in `space` until `seconds` pass (or forever).
pub async fn run(bots_to_run: Bots) -> anyhow::Result<()> {
    let Bots {
        target,
        count,
        space,
        spawn,
        bind,
        seconds,
        speech,
        build,
        data_dir,
    } = bots_to_run;
    let space_name = SpaceName::new(space.clone())?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let mut bots = Vec::new();
    let mut ticket = match &target {
        Target::Join(ticket) => Some(ticket.clone()),
        Target::Host(_) => None,
    };
    let build_until = build
        .as_ref()
        .and_then(|build| build.seconds)
        .map(|seconds| Instant::now() + Duration::from_secs(seconds));
    for index in 0..count {
        let own_dir = data_dir.as_ref().map(|dir| dir.join(format!("bot-{index}")));
        let node = match &own_dir {
            Some(dir) => {
                let keypair = sanctuary_net::data_dir::load_or_create_key(dir)
                    .map_err(|error| anyhow::anyhow!("the key in {}: {error}", dir.display()))?;
                crate::node_with_key(bind, false, keypair).await?
            }
            None => crate::node(bind).await?,
        };
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
        let config = WorldConfig {
            build: build.as_ref().map(|build| BuildSetup {
                rules: build.rules.clone(),
                folder: own_dir.as_deref().map(sanctuary_net::data_dir::build_dir),
                state_every: None,
            }),
            ..WorldConfig::default()
        };
        let world = match (&ticket, &target) {
            (Some(ticket), _) => node.join_world_with(ticket, presence, config).await?,
            (None, Target::Host(world)) => {
                let world = node
                    .join_world_with(JoinTarget::host(*world), presence, config)
                    .await?;
                let hosted = world.ticket();
                say(&format!("ticket: {hosted}"));
                ticket = Some(hosted);
                world
            }
            (None, Target::Join(_)) => unreachable!("a joining bot has its ticket"),
        };
        if let Some(speech) = &speech {
            tokio::spawn(talk(world.voice_sender(), speech.clone(), stop_rx.clone()));
        }
        let builder = match (&build, world.build()) {
            (Some(building), Some(handle)) => {
                let mut build_dice = Dice(dice.0 ^ 0xB1D5_B1D5_B1D5_B1D5);
                for _ in 0..4 {
                    build_dice.next();
                }
                for notice in handle.take_notices() {
                    eprintln!("bot-{index}: {notice}");
                }
                Builder::new(
                    index,
                    handle,
                    space_name.clone(),
                    building.rate,
                    build_until,
                    build_dice,
                    own_dir.is_some(),
                )
            }
            _ => None,
        };
        bots.push(tokio::spawn(wander(
            node,
            world,
            stop_rx.clone(),
            dice,
            spawn,
            index,
            builder,
        )));
    }
    let talking = if speech.is_some() { " and talking" } else { "" };
    let building = if build.is_some() { " and building" } else { "" };
    eprintln!("{count} bots wandering {space}{talking}{building}");
    crate::until_done(seconds).await;
    stop.send_replace(true);
    for bot in bots {
        bot.await.ok();
    }
    Ok(())
}

/// A chat message on its way.
type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), NetError>> + Send + 'a>>;

/// Waits for the message on its way, or forever when there is none.
async fn sent(sending: &mut Option<Sending<'_>>) -> Result<(), NetError> {
    match sending {
        Some(sending) => sending.await,
        None => std::future::pending().await,
    }
}

/// Walks one bot (and builds, with a builder) until `stop` turns true, then says what it
/// holds of the space's building document and goodbye.
async fn wander(
    node: sanctuary_net::Node,
    mut world: sanctuary_net::WorldHandle,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut dice: Dice,
    spawn: [f32; 3],
    index: u32,
    mut builder: Option<Builder>,
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
    let world = world;
    let mut chat: Option<Sending<'_>> = None;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            result = sent(&mut chat) => {
                chat = None;
                if let Err(error) = result {
                    tracing::debug!("bot-{index}: chat not sent: {error}");
                }
                continue;
            }
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
        if let Some(builder) = &mut builder {
            builder.tick(dt);
        }
        next_chat -= dt;
        if next_chat <= 0.0 {
            next_chat = 20.0 + dice.next() * 40.0;
            let saying = SAYINGS[(dice.next() * SAYINGS.len() as f32) as usize % SAYINGS.len()];
            if chat.is_none()
                && let Ok(text) = ChatText::new(saying)
            {
                chat = Some(Box::pin(world.send_chat(text)));
            }
        }
    }
    drop(chat);
    if let Some(line) = builder.as_ref().and_then(Builder::hash_line) {
        say(&format!("{line} bot-{index}"));
    }
    if let Err(error) = world.leave().await {
        tracing::debug!("bot-{index}: goodbye not sent: {error}");
    }
    node.shutdown().await;
}
