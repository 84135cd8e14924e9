//! The command line: `sanctuary [--space NAME] [--data-dir DIR] [--headless] [--frames N] [--screenshot FILE]`.

use clap::Parser;
use std::path::PathBuf;

/// Sanctuary: shared spaces where friends meet, with nobody in the middle.
#[derive(Parser, Debug, Clone)]
#[command(name = "sanctuary", version, about)]
pub struct Cli {
    /// The space to start in (lobby, market, cinema, lecture-hall, or any in the spaces folder).
    #[arg(long, value_name = "NAME", default_value = "lobby")]
    pub space: String,

    /// Where this person's data is kept (defaults to ~/.local/share/sanctuary).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Run the world simulation with no window and no GPU (for bots and tests).
    #[arg(long)]
    pub headless: bool,

    /// Quit after this many frames.
    #[arg(long, value_name = "N")]
    pub frames: Option<u32>,

    /// Save the last frame as a PNG before quitting (needs --frames and a window).
    #[arg(long, value_name = "FILE", requires = "frames", conflicts_with = "headless")]
    pub screenshot: Option<PathBuf>,

    /// Host a new world of the spaces; its ticket is printed as `ticket: <TICKET>`.
    #[arg(long, conflicts_with = "join")]
    pub host: bool,

    /// Join the world of this ticket (from someone's `--host`).
    #[arg(long, value_name = "TICKET")]
    pub join: Option<String>,

    /// A self-hosted iroh relay to reach peers behind firewalls.
    #[arg(long, value_name = "URL")]
    pub relay: Option<String>,

    /// Use the local network (mDNS): with --host, announce the world there; without
    /// --host or --join, list the worlds hosted nearby in the Directory to join; and look
    /// up there the addresses of peers whose keys are known.
    #[arg(long)]
    pub lan: bool,

    /// The UDP address to listen on, e.g. 127.0.0.1:0 for this machine only.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<std::net::SocketAddr>,

    /// The assets folder (defaults to $SANCTUARY_ASSETS, then the source tree's assets/).
    #[arg(long, value_name = "DIR")]
    pub assets: Option<PathBuf>,
}

impl Cli {
    /// The data folder: `--data-dir`, else `$XDG_DATA_HOME/sanctuary`, else
    /// `~/.local/share/sanctuary`, else `./sanctuary-data`.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        sanctuary_net::data_dir::default_data_dir()
    }
}
