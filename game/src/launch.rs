//! From command line to running app: check the arguments and the machine, then run
//! the world in a window or headless. Errors here are for people, one line each.

use crate::app::{DisplayOptions, LaunchPlan, headless_app, windowed_app};
use crate::cli::Cli;
use crate::identity::Identity;
use crate::net_bridge::{NetBridgePlugin, NetMode, NetOptions};
use crate::spaces::SpaceCatalog;
use crate::spaces::catalog::{CatalogError, default_assets_folder};
use crate::xr::{XrMode, XrRuntime};
use bevy::app::AppExit;
use std::process::ExitCode;
use std::time::Instant;
use thiserror::Error;

/// Why the client cannot start.
#[derive(Debug, Error)]
pub enum LaunchError {
    /// `--space` names no space.
    #[error("there is no space called {name:?}; the spaces are: {known}")]
    UnknownSpace {
        /// What was asked for.
        name: String,
        /// The spaces there are, comma separated.
        known: String,
    },
    /// The space files are missing or broken.
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    /// The data folder cannot be made.
    #[error("cannot create the data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--join` was given something that is not a ticket.
    #[error("that is not a Sanctuary ticket ({0}); ask your friend to copy the whole `ticket:` line")]
    BadTicket(String),
    /// The key or profile in the data folder is unusable.
    #[error("{0}")]
    Identity(#[from] crate::identity::IdentityError),
    /// `--xr --require-xr` and there is no headset.
    #[error("no headset: {0}")]
    NoHeadset(#[from] crate::xr::XrUnavailable),
    /// A window was wanted but there is no display to open it on.
    #[error(
        "no display to open a window on (DISPLAY is not set); run with --headless to run without a window"
    )]
    NoDisplay,
}

impl LaunchError {
    /// The process exit code: 2 for a wrong argument, 1 for anything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            LaunchError::UnknownSpace { .. } | LaunchError::BadTicket(_) => 2,
            _ => 1,
        }
    }
}

/// A launch plan with who is launching and how they connect.
pub struct NetworkedPlan {
    /// The world.
    pub plan: LaunchPlan,
    /// Who.
    pub identity: Identity,
    /// How they connect, if at all.
    pub net: Option<NetOptions>,
}

impl LaunchPlan {
    fn with_network(self, identity: Identity, net: Option<NetOptions>) -> NetworkedPlan {
        NetworkedPlan {
            plan: self,
            identity,
            net,
        }
    }
}

/// Checks the command line and the machine, and plans the launch.
pub fn plan(cli: &Cli, launched: Instant) -> Result<NetworkedPlan, LaunchError> {
    let assets = cli.assets.clone().unwrap_or_else(default_assets_folder);
    let catalog = SpaceCatalog::load(&assets.join("spaces"))?;
    if catalog.get(&cli.space).is_none() {
        return Err(LaunchError::UnknownSpace {
            name: cli.space.clone(),
            known: catalog.names().join(", "),
        });
    }
    let data_dir = cli.data_dir();
    std::fs::create_dir_all(&data_dir).map_err(|source| LaunchError::DataDir {
        path: data_dir.display().to_string(),
        source,
    })?;
    let net = match (&cli.join, cli.host) {
        (Some(text), _) => Some(NetMode::Join(text.trim().parse().map_err(
            |error: sanctuary_net::ParseTicketError| LaunchError::BadTicket(error.to_string()),
        )?)),
        (None, true) => Some(NetMode::Host),
        (None, false) if cli.lan => Some(NetMode::Browse),
        (None, false) => None,
    };
    let identity = crate::identity::load_or_create(&data_dir)?;
    if !cli.headless && !has_display() {
        return Err(LaunchError::NoDisplay);
    }
    // Last, once nothing else can stop the launch: the old world is not hosted after this.
    if cli.new_world {
        let (world, notice) =
            sanctuary_net::data_dir::new_hosted_world(&data_dir).map_err(|source| LaunchError::DataDir {
                path: data_dir.display().to_string(),
                source,
            })?;
        println!(
            "world: a new world {}",
            sanctuary_net::data_dir::world_hex(&world)
        );
        if let Some(notice) = notice {
            println!("world: {notice}");
        }
    }
    Ok(LaunchPlan {
        catalog,
        start_space: cli.space.clone(),
        assets,
        data_dir,
        frames: cli.frames,
        screenshot: cli.screenshot.clone(),
        launched,
    }
    .with_network(
        identity,
        net.map(|mode| NetOptions {
            mode,
            relay: cli.relay.clone(),
            lan: cli.lan,
            bind: cli.bind,
        }),
    ))
}

/// Asks the OpenXR runtime for a headset when one is wanted. Without one, `--xr` says
/// why in one line and goes on with the desktop; `--require-xr` stops.
fn find_headset(mode: XrMode) -> Result<Option<XrRuntime>, LaunchError> {
    if mode == XrMode::Off {
        return Ok(None);
    }
    match crate::xr::probe() {
        Ok(runtime) => {
            println!(
                "xr: {} in {}, {}x{} pixels per eye recommended",
                runtime.headset, runtime.runtime, runtime.eye_pixels.x, runtime.eye_pixels.y
            );
            Ok(Some(runtime))
        }
        Err(why) if mode == XrMode::Required => Err(LaunchError::NoHeadset(why)),
        Err(why) => {
            println!("xr: {why}; starting on the desktop");
            Ok(None)
        }
    }
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|display| !display.is_empty())
}

/// Runs the client for this command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let launched = Instant::now();
    let NetworkedPlan { plan, identity, net } = match plan(&cli, launched) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(error.exit_code());
        }
    };
    let mut app = if cli.headless {
        headless_app(&plan)
    } else {
        let xr = match find_headset(cli.xr_mode()) {
            Ok(xr) => xr,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(error.exit_code());
            }
        };
        explain_missing_gpu();
        windowed_app(
            &plan,
            &DisplayOptions {
                xr,
                quality: cli.quality,
            },
        )
    };
    app.insert_resource(identity);
    if let Some(options) = net {
        app.add_plugins(NetBridgePlugin { options });
        // Voice needs a world to talk in.
        if let Some(options) = cli.voice() {
            app.add_plugins(crate::voice::VoicePlugin {
                options,
                settings: Some(plan.data_dir.clone()),
            });
        }
    }
    let exit = app.run();
    match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    }
}

/// The renderer panics when the machine has no GPU adapter; turn that into advice.
fn explain_missing_gpu() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if message.contains("Unable to find a GPU") {
            eprintln!(
                "error: no graphics adapter found (Vulkan or OpenGL). Install the drivers \
                 (on Debian: mesa-vulkan-drivers), or run with --headless to run without a window."
            );
            std::process::exit(1);
        }
        default_hook(info);
    }));
}
