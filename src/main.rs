//! Thin entry point: parse arguments, run, map the one error type to an exit code.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use poolfs::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // $POOLFS_CONNECT applies to the verbs that can run remotely; the
    // daemon and the local helpers ignore it (an explicit --connect on them
    // is refused).
    let local_only = matches!(
        cli.command,
        Command::Mount(_) | Command::Completions { .. } | Command::Man
    );
    let connect = cli.connect.clone().or_else(|| {
        std::env::var("POOLFS_CONNECT")
            .ok()
            .filter(|v| !v.is_empty() && !local_only)
    });
    if let Some(uri) = connect {
        let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
        return match uri
            .parse()
            .and_then(|r| poolfs::remote::run(&r, &cli.command, &argv))
        {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("poolfs: error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result = match &cli.command {
        Command::Mount(args) => poolfs::daemon::run(args, &cli.log_level),
        Command::Upgrade {
            mount,
            state_dir,
            binary,
        } => poolfs::keeper::request_upgrade(mount, state_dir, binary.as_deref()),
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "poolfs",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(poolfs::error::Error::io("cannot write the man page")),
        other => poolfs::manage::run(other),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("poolfs: error: {e}");
            ExitCode::FAILURE
        }
    }
}
