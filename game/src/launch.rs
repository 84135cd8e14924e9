//! From command line to running app: check the arguments and the machine, then run
//! the world in a window or headless. Errors here are for people, one line each.

use crate::app::{LaunchPlan, headless_app, windowed_app};
use crate::cli::Cli;
use crate::spaces::SpaceCatalog;
use crate::spaces::catalog::{CatalogError, default_assets_folder};
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
            LaunchError::UnknownSpace { .. } => 2,
            _ => 1,
        }
    }
}

/// Checks the command line and the machine, and plans the launch.
pub fn plan(cli: &Cli, launched: Instant) -> Result<LaunchPlan, LaunchError> {
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
    if !cli.headless && !has_display() {
        return Err(LaunchError::NoDisplay);
    }
    Ok(LaunchPlan {
        catalog,
        start_space: cli.space.clone(),
        assets,
        data_dir,
        frames: cli.frames,
        screenshot: cli.screenshot.clone(),
        launched,
    })
}

fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|display| !display.is_empty())
}

/// Runs the client for this command line and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    let launched = Instant::now();
    let plan = match plan(&cli, launched) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(error.exit_code());
        }
    };
    let exit = if cli.headless {
        headless_app(&plan).run()
    } else {
        explain_missing_gpu();
        windowed_app(&plan).run()
    };
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
