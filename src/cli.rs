//! The command line (clap). `poolfs mount` runs the daemon; the management
//! verbs act only through the mounted tree.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "poolfs",
    version,
    about = "Storage pools as directories, volumes as files (FUSE)"
)]
pub struct Cli {
    /// Log level (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount the pool tree and serve it.
    Mount(MountArgs),
}

#[derive(Debug, clap::Args)]
pub struct MountArgs {
    /// Where to show the pools.
    #[arg(default_value = "/srv/pools")]
    pub mountpoint: PathBuf,
    /// Pool definitions, run state and default pool targets.
    #[arg(long, default_value = "/var/lib/poolfs")]
    pub state_dir: PathBuf,
    /// Stay in the foreground and log to standard error.
    #[arg(long)]
    pub foreground: bool,
    /// FUSE worker threads.
    #[arg(long, default_value_t = 8)]
    pub threads: usize,
}
