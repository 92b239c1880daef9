//! Thin entry point: parse arguments, run, map the one error type to an exit code.

use std::process::ExitCode;

use clap::Parser;
use poolfs::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Mount(args) => poolfs::daemon::run(args, &cli.log_level),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolfs: {e}");
            ExitCode::FAILURE
        }
    }
}
