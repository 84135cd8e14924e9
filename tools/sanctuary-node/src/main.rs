//! `sanctuary-node`: headless peers for a Sanctuary world, with no window and no Bevy.
//!
//! - `bots --join TICKET --count N [--space NAME]`: N avatars that wander a space and now
//!   and then say something; the load generator for the benchmarks.
//! - `watch --join TICKET --json [--space NAME]`: a silent observer (others don't list it)
//!   that prints one JSON object per line for each event (`nearby`, `joined`, `left`,
//!   `chat`, `earlier-chat`, `pose`, `full`, `rejected`), and building as plain `build:` and
//!   `build-hash:` lines (it keeps each space's document, synced from the peers).
//!
//! Both take `--lan` instead of `--join TICKET`: they then join the first world announced
//! on the local network (by `sanctuary --lan --host`). Bots also take `--host`: the first
//! bot starts a world and prints its ticket as `ticket: <TICKET>`.
//! - `bots --build [--build-rate N] [--data-dir DIR]`: bots that also build in their
//!   space, within its rules (the load generator for building), printing each edit; the
//!   watcher reports building and what it holds (see [`building`] for the lines).
//! - `build-doc --data-dir DIR [--pieces]`: what the building documents kept in a data
//!   folder hold.
//! - `latency --seconds S`: pose latency between two peers on loopback, p50 and p99.
//! - `blobs add FILE | get TICKET [--out FILE] | list | serve`: the storage app's store
//!   (see [`blobs`]).
//! - `wallet new | address | balance | send TO AMOUNT | history …`: the wallet (see [`wallet`]).
//! - `market sell | serve | list | buy LISTING | history …`: the market (see [`market`]).
//! - `serve`, `home …`, `now-playing`: the personal server, a device talking to it, and an
//!   example app (see [`home`]).

mod blobs;
mod bots;
mod builder;
mod building;
mod home;
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
    #[arg(long, value_name = "TICKET", required_unless_present_any = ["lan", "host"])]
    join: Option<String>,
    /// Start a world instead of joining one, and print its ticket as `ticket: <TICKET>`
    /// (bots only). With `--data-dir`, the same world again each time.
    #[arg(long, conflicts_with_all = ["join", "lan"])]
    host: bool,
    /// Instead of a ticket, join the first world announced on the local network (by
    /// `sanctuary --lan --host`), waiting for one as long as the run lasts.
    #[arg(long, conflicts_with = "join")]
    lan: bool,
    /// Stop after this many seconds (run until Ctrl-C if not given).
    #[arg(long, value_name = "SECONDS")]
    seconds: Option<u64>,
    /// The assets folder, for the spaces' names, spawn points and building rules.
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
        /// Bots also build in their space, within its rules, printing each edit.
        #[arg(long)]
        build: bool,
        /// Pieces each building bot places (or moves, or removes) a second.
        #[arg(
            long,
            value_name = "PER_SECOND",
            default_value_t = 2.0,
            requires = "build",
            allow_negative_numbers = true
        )]
        build_rate: f32,
        /// Stop building after this many seconds (bots keep wandering and syncing).
        #[arg(long, value_name = "SECONDS", requires = "build")]
        build_seconds: Option<u64>,
        /// Keep each bot's key and building documents in DIR/bot-<n> (laid out like a
        /// person's data folder) and, with `--host`, the world's id in DIR/hosted-world, so
        /// a restart goes on where it stopped. In memory when not given.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
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
    /// Run a home node: the person's always-on personal server.
    Serve(home::ServeOptions),
    /// Talk to your home node as one of your devices (pair first).
    Home {
        #[command(subcommand)]
        action: home::HomeAction,
        #[command(flatten)]
        options: home::DeviceOptions,
    },
    /// An example app with its own key: posts what is playing to a person's wall, within
    /// the grant they gave it (wall append).
    NowPlaying(home::NowPlayingOptions),
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
        /// Print what we hold of each space's building document (a `build-hash:` line)
        /// this often; 0: only when a line `hash` is read on stdin.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        hash_every: u64,
    },
    /// Print what the building documents kept in a data folder hold.
    BuildDoc {
        /// The data folder (its build/ folder, or those of its subfolders: a bots' folder).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
        /// The assets folder, for the spaces' building rules.
        #[arg(long, value_name = "DIR")]
        assets: Option<PathBuf>,
        /// Also print every piece shown, one line each.
        #[arg(long)]
        pieces: bool,
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
            build,
            build_rate,
            build_seconds,
            data_dir,
        } => {
            let assets = spaces::folder(peer.assets.clone());
            let spawn = spaces::spawn_point(&assets, &space)?;
            let build = if build {
                anyhow::ensure!(
                    build_rate.is_finite() && build_rate > 0.0 && build_rate <= bots::BUILD_RATE_MAX,
                    "--build-rate must be above 0 and at most {} pieces a second (got {build_rate})",
                    bots::BUILD_RATE_MAX
                );
                anyhow::ensure!(
                    spaces::build_rules(&assets, &space)?.is_some(),
                    "nobody may build in space {space:?}: its file has no building rules"
                );
                Some(bots::Building {
                    rules: spaces::all_build_rules(&assets)?,
                    rate: build_rate,
                    seconds: build_seconds,
                })
            } else {
                None
            };
            let talk = talk.map(|path| bots::Speech::load(&path)).transpose()?;
            runtime.block_on(async {
                let target = if peer.host {
                    bots::Target::Host(building::hosted_world(data_dir.as_deref())?)
                } else {
                    let (ticket, nearby) = peer.world().await?;
                    if let Some(world) = nearby {
                        tracing::info!("joining the world hosted nearby by {}", world.host_name.as_str());
                    }
                    bots::Target::Join(ticket)
                };
                bots::run(bots::Bots {
                    target,
                    count,
                    space,
                    spawn,
                    bind: peer.bind,
                    seconds: peer.seconds,
                    speech: talk,
                    build,
                    data_dir,
                })
                .await
            })
        }
        Command::Latency { seconds } => runtime.block_on(latency::run(seconds)),
        Command::Voice(options) => runtime.block_on(voice::run(options)),
        Command::Blobs { action, store } => runtime.block_on(blobs::run(action, store)),
        Command::Serve(options) => runtime.block_on(home::serve(options)),
        Command::Home { action, options } => runtime.block_on(home::run(action, options)),
        Command::NowPlaying(options) => runtime.block_on(home::now_playing(options)),
        Command::Wallet { action, options } => runtime.block_on(wallet::run(action, options)),
        Command::Market { action, options } => runtime.block_on(market::run(action, options)),
        Command::Watch {
            peer,
            json: _,
            space,
            hash_every,
        } => {
            anyhow::ensure!(
                !peer.host,
                "watch cannot start a world: give --join TICKET or --lan"
            );
            let assets = spaces::folder(peer.assets.clone());
            let spaces = match space {
                Some(space) => vec![space],
                None => spaces::names(&assets)?,
            };
            let rules = spaces::all_build_rules(&assets)?;
            runtime.block_on(async {
                let (ticket, nearby) = peer.world().await?;
                if let Some(world) = nearby {
                    watch::print_nearby(&world)?;
                }
                watch::run(watch::Watch {
                    ticket,
                    spaces,
                    bind: peer.bind,
                    seconds: peer.seconds,
                    rules,
                    hash_every,
                })
                .await
            })
        }
        Command::BuildDoc {
            data_dir,
            assets,
            pieces,
        } => runtime.block_on(building::show_documents(
            &data_dir,
            &spaces::folder(assets),
            pieces,
        )),
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
    node_with_key(bind, local_discovery, keypair).await
}

/// A node speaking as `keypair`.
async fn node_with_key(
    bind: Option<SocketAddr>,
    local_discovery: bool,
    keypair: sanctuary_protocols::identity::Keypair,
) -> anyhow::Result<sanctuary_net::Node> {
    Ok(sanctuary_net::Node::spawn(sanctuary_net::NodeConfig {
        keypair,
        relay: sanctuary_net::RelayChoice::Disabled,
        local_discovery,
        bind_addr: bind,
        gossip_neighbours: None,
        storage: None,
        home: None,
    })
    .await?)
}

fn parse_ticket(text: &str) -> anyhow::Result<WorldTicket> {
    let text = text.trim().trim_start_matches("ticket:").trim();
    text.parse()
        .map_err(|error| anyhow::anyhow!("that is not a Sanctuary ticket ({error})"))
}
