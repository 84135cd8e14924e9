//! `sanctuary-node blobs`: the storage app's store from the command line, on the same
//! folder and format as the client's Storage panel (`<data>/storage`).
//!
//! - `add FILE [--serve]` adds a file and prints its hash;
//! - `get TICKET [--out FILE]` fetches by ticket (progress on stderr), resuming what an
//!   earlier fetch left (Ctrl-C stops it cleanly), and writes the file;
//! - `list` prints one line per blob;
//! - `serve` serves the blobs marked for serving and prints a ticket for each.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sanctuary_net::storage::{self, FetchRequest};
use sanctuary_net::{Node, NodeConfig, RelayChoice, Storage};

/// What `blobs` does.
#[derive(clap::Subcommand, Debug)]
pub enum BlobsCommand {
    /// Add a file to storage and print its hash.
    Add {
        /// The file.
        file: PathBuf,
        /// Serve it to whoever asks (with `serve`, or from the client).
        #[arg(long)]
        serve: bool,
    },
    /// Fetch a blob by its ticket.
    Get {
        /// A BlobTicket (from `serve` or the Storage panel's Share).
        ticket: String,
        /// Also write it to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List what storage holds.
    List,
    /// Serve the blobs marked for serving until stopped, printing a ticket for each.
    Serve {
        /// Stop after this many seconds (run until Ctrl-C if not given).
        #[arg(long, value_name = "SECONDS")]
        seconds: Option<u64>,
    },
}

/// Where the store is and how it may grow.
#[derive(clap::Args, Debug)]
pub struct StoreOptions {
    /// The data folder (the client's, by default: ~/.local/share/sanctuary).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Most bytes the store may hold, in MiB.
    #[arg(long, value_name = "MIB", global = true)]
    quota_mib: Option<u64>,
    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR", global = true)]
    bind: Option<SocketAddr>,
}

/// Runs one `blobs` command.
pub async fn run(command: BlobsCommand, options: StoreOptions) -> anyhow::Result<()> {
    let data_dir = options
        .data_dir
        .clone()
        .unwrap_or_else(sanctuary_net::data_dir::default_data_dir);
    let quota = options.quota_mib.map_or(storage::DEFAULT_QUOTA, |mib| mib << 20);
    let (store, note) = Storage::open(&sanctuary_net::data_dir::storage_dir(&data_dir), quota)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if let Some(note) = note {
        eprintln!("{note}");
    }
    let result = match command {
        BlobsCommand::Add { file, serve } => add(&store, &file, serve).await,
        BlobsCommand::List => {
            list(&store);
            Ok(())
        }
        BlobsCommand::Get { ticket, out } => get(&store, &ticket, out.as_deref(), options.bind).await,
        BlobsCommand::Serve { seconds } => serve(&store, options.bind, seconds).await,
    };
    store.shutdown().await;
    result
}

async fn add(store: &Storage, file: &Path, serve: bool) -> anyhow::Result<()> {
    let entry = store
        .add_file(file)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    if serve {
        store.set_serving(entry.hash, true)?;
    }
    println!("{} {} {}", entry.hash, entry.size, entry.name);
    Ok(())
}

fn list(store: &Storage) {
    for entry in store.entries() {
        let state = if entry.complete { "complete" } else { "partial" };
        let pinned = if entry.pinned { "pinned" } else { "unpinned" };
        let serving = if entry.serving { "serving" } else { "private" };
        println!(
            "{} {} {state} {pinned} {serving} {}",
            entry.hash, entry.size, entry.name
        );
    }
    let (used, quota) = store.usage();
    eprintln!("{used} of {quota} bytes used");
}

async fn online(store: &Storage, bind: Option<SocketAddr>) -> anyhow::Result<Node> {
    let keypair = sanctuary_protocols::identity::Keypair::generate()?;
    Ok(Node::spawn(NodeConfig {
        keypair,
        relay: RelayChoice::Disabled,
        local_discovery: false,
        bind_addr: bind,
        gossip_neighbours: None,
        storage: Some(store.clone()),
        home: None,
    })
    .await?)
}

async fn get(
    store: &Storage,
    ticket: &str,
    out: Option<&Path>,
    bind: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let (hash, holder) = storage::parse_ticket(ticket).map_err(|error| anyhow::anyhow!("{error}"))?;
    let node = online(store, bind).await?;
    // The first report always shows, so a resumed fetch says where it starts.
    let mut last_shown: Option<std::time::Instant> = None;
    let started = std::time::Instant::now();
    let mut first: Option<(u64, std::time::Duration)> = None;
    let mut last_done = 0;
    let request = FetchRequest {
        hash,
        name: out
            .and_then(|path| path.file_name())
            .map_or_else(|| hash.to_string(), |name| name.to_string_lossy().into_owned()),
        holders: vec![holder],
        pin: true,
    };
    let fetch = store.fetch(request, |progress| {
        match first {
            None => first = Some((progress.done, std::time::Duration::ZERO)),
            Some((at_start, time)) if time.is_zero() && progress.done > at_start => {
                first = Some((at_start, started.elapsed()));
            }
            Some(_) => {}
        }
        last_done = progress.done;
        let due = last_shown.is_none_or(|at| at.elapsed().as_millis() >= 100);
        if due || progress.done == progress.total {
            last_shown = Some(std::time::Instant::now());
            eprint!(
                "\r{} of {} bytes ({:.1} MiB/s)   ",
                progress.done,
                progress.total,
                progress.bytes_per_second / f64::from(1 << 20)
            );
            std::io::stderr().flush().ok();
        }
    });
    // Ctrl-C stops the fetch cleanly: the store records what arrived, and the same
    // command goes on from there.
    let fetched = tokio::select! {
        fetched = fetch => fetched,
        _ = tokio::signal::ctrl_c() => {
            eprintln!();
            node.shutdown().await;
            anyhow::bail!("stopped; what arrived is kept, and the same command goes on from there");
        }
    };
    eprintln!();
    node.shutdown().await;
    let entry = fetched.map_err(|error| anyhow::anyhow!("{error}"))?;
    if let Some((at_start, first_byte)) = first {
        let seconds = started.elapsed().as_secs_f64();
        let moved = last_done.saturating_sub(at_start);
        eprintln!(
            "fetched {moved} bytes in {seconds:.2} s ({:.1} MiB/s), first byte after {} ms",
            moved as f64 / seconds / f64::from(1 << 20),
            first_byte.as_millis()
        );
    }
    if let Some(out) = out {
        store
            .export(hash, out)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))
            .with_context(|| format!("writing {}", out.display()))?;
    }
    println!("{} {} {}", entry.hash, entry.size, entry.name);
    Ok(())
}

async fn serve(store: &Storage, bind: Option<SocketAddr>, seconds: Option<u64>) -> anyhow::Result<()> {
    let node = online(store, bind).await?;
    let served: Vec<_> = store
        .entries()
        .into_iter()
        .filter(|e| e.serving && e.complete)
        .collect();
    if served.is_empty() {
        eprintln!("nothing is marked for serving (add files with `blobs add FILE --serve`)");
    }
    for entry in served {
        println!("{} {}", store.ticket(entry.hash)?, entry.name);
    }
    std::io::stdout().flush().ok();
    crate::until_done(seconds).await;
    let report = store.served();
    for (hash, bytes) in &report.per_blob {
        eprintln!("served {bytes} bytes of {hash}");
    }
    node.shutdown().await;
    Ok(())
}
