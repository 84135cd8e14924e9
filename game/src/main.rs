//! The `sanctuary` binary: parse the command line and run the client.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    sanctuary::launch::run(sanctuary::cli::Cli::parse())
}
