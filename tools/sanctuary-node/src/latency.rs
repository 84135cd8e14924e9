//! Pose latency on loopback: two peers in one process, one sending numbered poses at
//! 30 Hz, the other timing each from send to arrival as a checked world event.

use sanctuary_net::{JoinTarget, Node, WorldEvent, WorldHandle, WorldId};
use sanctuary_protocols::message::{AvatarShape, Presence, Rgb};
use sanctuary_protocols::pose::PoseSample;
use sanctuary_protocols::text::{DisplayName, SpaceName};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Two peers in one process on loopback, in the lobby of a new world: one hosts it (named
/// `host_name`), the other joins.
pub struct TwoPeers {
    /// The host's node.
    pub host_node: Node,
    /// The host in the world.
    pub host: WorldHandle,
    /// The joiner's node.
    pub guest_node: Node,
    /// The joiner in the world.
    pub guest: WorldHandle,
}

impl TwoPeers {
    /// Starts both and enters the world.
    pub async fn start(host_name: &str, guest_name: &str) -> anyhow::Result<Self> {
        let loopback = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let presence = |name: &str| -> anyhow::Result<Presence> {
            Ok(Presence {
                name: DisplayName::new(name)?,
                color: Rgb { r: 1, g: 2, b: 3 },
                shape: AvatarShape::Capsule,
                space: SpaceName::new("lobby")?,
            })
        };
        let host_node = crate::node(loopback).await?;
        let host = host_node
            .join_world(JoinTarget::host(WorldId::random()?), presence(host_name)?)
            .await?;
        let guest_node = crate::node(loopback).await?;
        let guest = guest_node
            .join_world(host.ticket(), presence(guest_name)?)
            .await?;
        Ok(Self {
            host_node,
            host,
            guest_node,
            guest,
        })
    }

    /// Both say goodbye and stop.
    pub async fn stop(self) {
        self.guest.leave().await.ok();
        self.host.leave().await.ok();
        self.guest_node.shutdown().await;
        self.host_node.shutdown().await;
    }
}

/// Measures for `seconds` and prints the 50th and 99th percentiles.
pub async fn run(seconds: u64) -> anyhow::Result<()> {
    let mut peers = TwoPeers::start("sender", "receiver").await?;
    let sender = &peers.host;
    let receiver = &mut peers.guest;
    let mut events = receiver.take_events();
    let start = Instant::now();
    let mut sent_at: Vec<Duration> = Vec::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_millis(33));
    let deadline = start + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        tokio::select! {
            _ = ticker.tick() => {
                let index = sent_at.len();
                sent_at.push(start.elapsed());
                sender.send_pose(PoseSample { position: [index as f32 * 0.001, 0.0, 0.0], ..PoseSample::default() })?;
            }
            event = events.recv() => {
                let Some(event) = event else { break };
                if let WorldEvent::Pose { pose, .. } = event {
                    let index = (pose.position[0] / 0.001).round() as usize;
                    if let Some(sent) = sent_at.get(index) {
                        latencies.push(start.elapsed().saturating_sub(*sent));
                    }
                }
            }
        }
    }
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    println!(
        "poses sent={} received={} latency_p50_ms={:.2} latency_p99_ms={:.2}",
        sent_at.len(),
        latencies.len(),
        percentile(0.5),
        percentile(0.99)
    );
    peers.stop().await;
    Ok(())
}
