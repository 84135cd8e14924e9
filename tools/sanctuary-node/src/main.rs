//! `sanctuary-node`: headless peers for a Sanctuary world, with no window and no Bevy.
//!
//! - `bots --join TICKET --count N [--space NAME]`: N avatars that wander a space and now
//!   and then say something; the load generator for the benchmarks.
//! - `watch --join TICKET --json [--space NAME]`: a silent observer (others don't list it)
//!   that prints one JSON object per line for each event (`nearby`, `joined`, `left`,
//!   `chat`, `pose`, `full`, `rejected`).
//!
//! Both take `--lan` instead of `--join TICKET`: they then join the first world announced
//! on the local network (by `sanctuary --lan --host`).
//! - `latency --seconds S`: pose latency between two peers on loopback, p50 and p99.
//! - `blobs add FILE | get TICKET [--out FILE] | list | serve`: the storage app's store
//!   (see [`blobs`]).
//! - `wallet new | address | balance | send TO AMOUNT | history …`: the wallet (see [`wallet`]).
//! - `market sell | serve | list | buy LISTING | history …`: the market (see [`market`]).

mod blobs;
mod bots;
mod latency;
mod market;
mod spaces;
mod voice;
mod wallet;
mod watch;

use clap::{Parser, Subcommand};
use sanctuary_net::{NearbyWorld, WorldTicket};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Headless Sanctuary peers.
#[derive(Parser, Debug)]
#[command(name = "sanctuary-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What every headless peer needs.
#[derive(clap::Args, Debug)]
struct PeerOptions {
    /// The world's ticket (the `ticket:` line of `sanctuary --host`).
    #[arg(long, value_name = "TICKET", required_unless_present = "lan")]
    join: Option<String>,
    /// Instead of a ticket, join the first world announced on the local network (by
    /// `sanctuary --lan --host`), waiting for one as long as the run lasts.
    #[arg(long, conflicts_with = "join")]
    lan: bool,
    /// Stop after this many seconds (run until Ctrl-C if not given).
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<u64>,
    /// The assets folder, for the spaces' names and spawn points.
    #[arg(long, value_name = "DIR")]
    assets: Option<PathBuf>,
    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run avatars that wander a space and sometimes chat.
    Bots {
        #[command(flatten)]
        peer: PeerOptions,
        /// How many bots.
        #[arg(long, default_value_t = 4)]
        count: u32,
        /// The space they wander.
        #[arg(long, default_value = "lobby")]
        space: String,
        /// Bots also speak this recording (WAV), over and over, to whoever is in earshot.
        #[arg(long, value_name = "FILE.wav")]
        talk: Option<std::path::PathBuf>,
    },
    /// Measure pose latency between two peers on loopback (send to checked event).
    Latency {
        /// How long to measure.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Send a recording through the real voice path between two peers on loopback and
    /// write what the listener heard, printing the latency.
    Voice(voice::VoiceOptions),
    /// Content-addressed files: add, fetch by ticket, list, serve.
    Blobs {
        #[command(subcommand)]
        action: blobs::BlobsCommand,
        #[command(flatten)]
        store: blobs::StoreOptions,
    },
    /// The wallet: keys, balances, transfers and their history.
    Wallet {
        #[command(subcommand)]
        action: wallet::WalletCommand,
        #[command(flatten)]
        options: wallet::WalletOptions,
    },
    /// The market: sell files, keep a stall open, list and buy.
    Market {
        #[command(subcommand)]
        action: market::MarketCommand,
        #[command(flatten)]
        options: wallet::WalletOptions,
    },
    /// Watch a world and print its events as JSON lines.
    Watch {
        #[command(flatten)]
        peer: PeerOptions,
        /// Print JSON lines (the only format).
        #[arg(long)]
        json: bool,
        /// Watch only this space (every space of the assets folder if not given).
        #[arg(long)]
        space: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Bots {
            peer,
            count,
            space,
            talk,
        } => {
            let spawn = spaces::spawn_point(&spaces::folder(peer.assets.clone()), &space)?;
            let talk = talk.map(|path| bots::Speech::load(&path)).transpose()?;
            runtime.block_on(async {
                let (ticket, nearby) = peer.world().await?;
                if let Some(world) = nearby {
                    tracing::info!("joining the world hosted nearby by {}", world.host_name.as_str());
                }
                bots::run(ticket, count, space, spawn, peer.bind, peer.seconds, talk).await
            })
        }
        Command::Latency { seconds } => runtime.block_on(latency::run(seconds)),
        Command::Voice(options) => runtime.block_on(voice::run(options)),
        Command::Blobs { action, store } => runtime.block_on(blobs::run(action, store)),
        Command::Wallet { action, options } => runtime.block_on(wallet::run(action, options)),
        Command::Market { action, options } => runtime.block_on(market::run(action, options)),
        Command::Watch { peer, json: _, space } => {
            let spaces = match space {
                Some(space) => vec![space],
                None => spaces::names(&spaces::folder(peer.assets.clone()))?,
            };
            runtime.block_on(async {
                let (ticket, nearby) = peer.world().await?;
                if let Some(world) = nearby {
                    watch::print_nearby(&world)?;
                }
                watch::run(ticket, spaces, peer.bind, peer.seconds).await
            })
        }
    }
}

/// Waits for `seconds`, or forever, or until Ctrl-C.
async fn until_done(seconds: Option<u64>) {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    match seconds {
        Some(seconds) => {
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(seconds)) => {}
                _ = ctrl_c => {}
            }
        }
        None => ctrl_c.await,
    }
}

impl PeerOptions {
    /// The world to join: the ticket's, or (with `--lan`) the first one announced nearby,
    /// which comes back too.
    async fn world(&self) -> anyhow::Result<(WorldTicket, Option<NearbyWorld>)> {
        match &self.join {
            Some(text) => Ok((parse_ticket(text)?, None)),
            None => {
                let world = first_nearby(self.bind, self.seconds).await?;
                Ok((world.ticket(), Some(world)))
            }
        }
    }
}

/// The first world announced on the local network, waiting at most `seconds` (or until
/// Ctrl-C).
async fn first_nearby(bind: Option<SocketAddr>, seconds: Option<u64>) -> anyhow::Result<NearbyWorld> {
    let node = spawn_node(bind, true).await?;
    let mut nearby = node.nearby()?;
    let first = async {
        loop {
            if let Some(world) = nearby.current().iter().next() {
                return Some(world.clone());
            }
            nearby.changed().await?;
        }
    };
    let found = tokio::select! {
        found = first => found,
        _ = until_done(seconds) => None,
    };
    node.shutdown().await;
    found.ok_or_else(|| anyhow::anyhow!("no world was announced on the local network"))
}

/// A node for one headless peer.
async fn node(bind: Option<SocketAddr>) -> anyhow::Result<sanctuary_net::Node> {
    spawn_node(bind, false).await
}

async fn spawn_node(bind: Option<SocketAddr>, local_discovery: bool) -> anyhow::Result<sanctuary_net::Node> {
    let keypair = sanctuary_protocols::identity::Keypair::generate()?;
    Ok(sanctuary_net::Node::spawn(sanctuary_net::NodeConfig {
        keypair,
        relay: sanctuary_net::RelayChoice::Disabled,
        local_discovery,
        bind_addr: bind,
        gossip_neighbours: None,
        storage: None,
    })
    .await?)
}

fn parse_ticket(text: &str) -> anyhow::Result<WorldTicket> {
    let text = text.trim().trim_start_matches("ticket:").trim();
    text.parse()
        .map_err(|error| anyhow::anyhow!("that is not a Sanctuary ticket ({error})"))
}
