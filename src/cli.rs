//! The command line (clap). `poolfs mount` runs the daemon; every other
//! verb mirrors a `virsh` command and acts only through the mounted tree
//! (see `manage`), so the file interface stays complete.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::control::volume::{WipeAlgorithm, parse_size};

#[derive(Debug, Parser)]
#[command(
    name = "poolfs",
    version,
    about = "Storage pools as directories, volumes as files (FUSE)"
)]
pub struct Cli {
    /// Log level of the daemon (error, warn, info, debug, trace); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// Run the verb on another host through ssh:
    /// ssh://[USER@]HOST[:PORT][/MOUNT][?binary=PATH] (the remote side needs
    /// only the poolfs binary; $POOLFS_SSH replaces the ssh command) [env: POOLFS_CONNECT].
    #[arg(long, global = true, value_name = "URI")]
    pub connect: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the management verbs find the tree.
#[derive(Debug, Args, Clone)]
pub struct Tree {
    /// The mounted tree [default: $POOLFS_MOUNT if set and not empty, else /srv/pools].
    #[arg(long = "mount", global = true)]
    pub mount: Option<PathBuf>,
    /// Print JSON instead of text (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
}

impl Tree {
    /// `--mount`, else a non-empty `$POOLFS_MOUNT`, else `/srv/pools`.
    pub fn root(&self) -> PathBuf {
        self.mount
            .clone()
            .or_else(|| {
                std::env::var_os("POOLFS_MOUNT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("/srv/pools"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Mount the pool tree and serve it.
    Mount(MountArgs),
    /// Hand the live mount to a new poolfs binary without unmounting (open
    /// volumes stay open; requests in flight are sent again).
    Upgrade {
        /// The mount to upgrade.
        #[arg(long, default_value = "/srv/pools")]
        mount: PathBuf,
        /// The state directory it was mounted with.
        #[arg(long, default_value = "/var/lib/poolfs")]
        state_dir: PathBuf,
        /// The new binary (default: the poolfs binary on disk now, so a
        /// package upgrade followed by `poolfs upgrade` is the routine).
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// List pools (running ones; --all for every pool).
    PoolList {
        /// Inactive pools too.
        #[arg(long)]
        all: bool,
        /// More columns: persistent, capacity, allocation, available.
        #[arg(long)]
        details: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Show a pool's facts.
    PoolInfo {
        /// The pool's name.
        pool: String,
        /// Sizes in bytes instead of human units.
        #[arg(long)]
        bytes: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Define a new pool (mkdir, then write its config).
    PoolDefineAs(DefineAs),
    /// Define a new pool and start it (poolfs's pools are all persistent;
    /// one that does not start is removed again).
    PoolCreateAs(DefineAs),
    /// Print the name of the pool with a uuid.
    PoolName {
        /// The pool's uuid.
        uuid: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print a pool's uuid.
    PoolUuid {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Prepare a pool's storage (create its target, make its filesystem).
    PoolBuild {
        /// The pool's name.
        pool: String,
        /// Also over an existing filesystem signature.
        #[arg(long)]
        overwrite: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Start a pool.
    PoolStart {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Stop a pool (virsh pool-destroy); its data stays.
    #[command(alias = "pool-destroy")]
    PoolStop {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Mark a pool to start with the daemon (or not, with --disable).
    PoolAutostart {
        /// The pool's name.
        pool: String,
        /// Do not start it with the daemon.
        #[arg(long)]
        disable: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Rescan a pool.
    PoolRefresh {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Forget an inactive pool's definition; its data stays.
    PoolUndefine {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// List a pool's volumes.
    VolList {
        /// The pool's name.
        pool: String,
        /// More columns: type, capacity, allocation.
        #[arg(long)]
        details: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Show a volume's facts.
    VolInfo {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// Sizes in bytes instead of human units.
        #[arg(long)]
        bytes: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Create a volume: sparse unless --allocation says otherwise; with
    /// --backing-vol, a qcow2 overlay of another volume of the pool.
    VolCreateAs {
        /// The pool's name.
        pool: String,
        /// The new volume's name.
        name: String,
        /// Virtual size: bytes or a number with a unit (K, M, G, T: powers of 1024; KB, MB, GB: powers of 1000).
        /// May be left out with --backing-vol: the backing volume's.
        #[arg(value_parser = size_arg, required_unless_present = "backing_vol")]
        capacity: Option<u64>,
        /// Bytes to allocate up front (raw volumes).
        #[arg(long, value_parser = size_arg)]
        allocation: Option<u64>,
        /// raw or qcow2 (qcow2 needs qemu-img) [default: raw, qcow2 with --backing-vol].
        #[arg(long)]
        format: Option<String>,
        /// Make a qcow2 overlay of this volume of the same pool (its path in
        /// the pool); the overlay records it relative to itself.
        #[arg(long)]
        backing_vol: Option<String>,
        /// The backing volume's format [default: as its info says].
        #[arg(long, requires = "backing_vol")]
        backing_vol_format: Option<String>,
        #[command(flatten)]
        tree: Tree,
    },
    /// Copy a volume within its pool, keeping holes (copy_file_range next to
    /// the data); a qcow2 overlay's copy stays an overlay of the same backing.
    VolClone {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The copy's name.
        newname: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// Copy an overlay into a standalone qcow2 holding its whole chain
        /// (as virsh vol-clone does).
        #[arg(long)]
        flatten: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Change a volume's capacity (qcow2: its virtual size).
    VolResize {
        /// The volume's name (its path in the pool).
        vol: String,
        /// New capacity, or the change with --delta.
        #[arg(allow_hyphen_values = true)]
        capacity: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// CAPACITY is added to (or, negative, taken from) the current one.
        #[arg(long)]
        delta: bool,
        /// Allow a smaller capacity.
        #[arg(long)]
        shrink: bool,
        /// Allocate the new space.
        #[arg(long)]
        allocate: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Wipe a volume so no old byte can be read back.
    VolWipe {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// zero, trim or random (as virsh vol-wipe, of these).
        #[arg(long, default_value = "zero", value_parser = wipe_arg)]
        algorithm: WipeAlgorithm,
        #[command(flatten)]
        tree: Tree,
    },
    /// Copy a local file into a volume.
    VolUpload {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The local file to read (- for standard input).
        file: PathBuf,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// Keep the holes of FILE.
        #[arg(long)]
        sparse: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Copy a volume into a local file.
    VolDownload {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The local file to write, made or replaced (- for standard output).
        file: PathBuf,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        /// Keep the volume's holes in FILE.
        #[arg(long)]
        sparse: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Delete a volume.
    VolDelete {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Define a pool from libvirt's pool XML (types dir, fs and netfs; name,
    /// uuid, source and target are kept).
    PoolDefine {
        /// The XML file (- for standard input).
        file: PathBuf,
        #[command(flatten)]
        tree: Tree,
    },
    /// Define a pool from libvirt's pool XML and start it (poolfs's pools
    /// are all persistent; one that does not start is removed again).
    PoolCreate {
        /// The XML file (- for standard input).
        file: PathBuf,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print a pool's definition as libvirt's pool XML.
    PoolDumpxml {
        /// The pool's name.
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Create a volume from libvirt's volume XML (name, capacity,
    /// allocation, format raw or qcow2, backingStore).
    VolCreate {
        /// The pool's name.
        pool: String,
        /// The XML file (- for standard input).
        file: PathBuf,
        #[command(flatten)]
        tree: Tree,
    },
    /// Create a volume from libvirt's volume XML holding the data of another
    /// volume (converted to the XML's format; an overlay comes out standalone).
    VolCreateFrom {
        /// The pool of the new volume.
        pool: String,
        /// The XML file (- for standard input).
        file: PathBuf,
        /// The volume whose data it holds.
        vol: String,
        /// The pool VOL is in [default: POOL].
        #[arg(long)]
        inputpool: Option<String>,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print a volume as libvirt's volume XML.
    VolDumpxml {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print a volume's path on the tree.
    VolPath {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print a volume's key (its path on the tree, as libvirt's file volumes).
    VolKey {
        /// The volume's name (its path in the pool).
        vol: String,
        /// The pool the volume is in.
        #[arg(long)]
        pool: String,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print the name of the volume a path or key names.
    VolName {
        /// A volume's path on the tree (or its key).
        path: PathBuf,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print the pool of the volume a path or key names.
    VolPool {
        /// A volume's path on the tree (or its key).
        path: PathBuf,
        #[command(flatten)]
        tree: Tree,
    },
    /// Define in poolfs the pools libvirt has defined (its persistent pool
    /// XML): same name, uuid, source and target, and autostart. libvirt's
    /// files are only read.
    ImportLibvirt {
        /// Where libvirt keeps its pool XML.
        #[arg(long, default_value = "/etc/libvirt/storage")]
        from: PathBuf,
        /// Say what would be done, define nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// Print one libvirt dir pool per poolfs pool, on the pool's directory
    /// on the tree (so guests naming pool and volume use poolfs's volumes);
    /// with --define, define them through virsh.
    LibvirtPools {
        /// The pools [default: every pool].
        pools: Vec<String>,
        /// Define them with `virsh pool-define` (and start those running here).
        #[arg(long)]
        define: bool,
        #[command(flatten)]
        tree: Tree,
    },
    /// List the pools a storage server offers (netfs: the exports of an NFS
    /// server, from its MOUNT protocol) as libvirt's <sources> XML.
    FindStoragePoolSourcesAs {
        /// The pool type (netfs).
        #[arg(value_name = "TYPE")]
        pool_type: String,
        /// The server.
        host: String,
        /// The server's MOUNT protocol port [default: what its rpcbind says].
        #[arg(long)]
        mount_port: Option<u16>,
    },
    /// As find-storage-pool-sources-as, the server named by a libvirt
    /// <source> XML file (`<source><host name='nas'/></source>`).
    FindStoragePoolSources {
        /// The pool type (netfs).
        #[arg(value_name = "TYPE")]
        pool_type: String,
        /// The <source> XML file (- for standard input).
        srcspec: PathBuf,
    },
    /// Print shell completions.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// What `pool-define-as` and `pool-create-as` take.
#[derive(Debug, Args)]
pub struct DefineAs {
    /// The new pool's name.
    pub name: String,
    /// dir, fs, netfs or block.
    #[arg(value_name = "TYPE")]
    pub pool_type: String,
    /// Where volumes live (default for dir pools: under the state directory).
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Device, image or export (fs, netfs, block).
    #[arg(long)]
    pub source: Vec<String>,
    /// Filesystem format of an fs pool.
    #[arg(long)]
    pub source_format: Option<String>,
    #[command(flatten)]
    pub nfs: NfsArgs,
    #[command(flatten)]
    pub tree: Tree,
}

#[derive(Debug, Args)]
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
    /// How volume reads and writes reach the backing files: kernel
    /// passthrough where possible (auto), always (passthrough), or never (daemon).
    #[arg(long, value_enum, default_value = "auto")]
    pub io: crate::config::IoMode,
    /// How requests travel between the kernel and poolfs: /dev/fuse (auto,
    /// devfuse), or FUSE-over-io_uring (uring: fewer round trips, but a
    /// crash of the server is not survived; docs/io_uring.md).
    #[arg(long, value_enum, default_value = "auto")]
    pub transport: crate::config::Transport,
    /// Kernel read-ahead of the mount in KiB (default: the kernel's 128).
    /// 4096 makes sequential reads served by the daemon (userspace NFS
    /// pools, --io daemon) arrive as 1 MiB requests; see docs/performance.md.
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u32).range(4..=1048576))]
    pub read_ahead: Option<u32>,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (off by default;
    /// e.g. 127.0.0.1:9469). Pools, NFS servers, and FUSE requests by
    /// operation: reads and writes of volumes in kernel passthrough never
    /// reach the daemon, so they are not counted (docs/operations.md).
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Descriptors kept open for recently used files and directories of
    /// local pools (all pools together); the others are opened again by
    /// file handle when needed, so the server's descriptors stay bounded
    /// however many objects the kernel knows.
    #[arg(long, value_name = "N", default_value_t = crate::store::fdcache::DEFAULT_CAPACITY,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(16..=1_000_000))]
    pub fd_cache: usize,
    /// Internal: run as the server of a keeper, with the descriptors it
    /// passed (see `keeper`).
    #[arg(long, hide = true, value_name = "FDS")]
    pub server: Option<crate::keeper::Inherited>,
    /// Internal: go on as the keeper after `poolfs upgrade` exec'd it into
    /// a new binary, with what it held (see `keeper`).
    #[arg(long, hide = true, value_name = "FDS", conflicts_with = "server")]
    pub keeper: Option<crate::keeper::Kept>,
}

fn size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

fn wipe_arg(s: &str) -> Result<WipeAlgorithm, String> {
    s.parse().map_err(|e: crate::error::Error| e.to_string())
}

/// The NFS settings of a `netfs` pool (docs/backends.md).
#[derive(Debug, Clone, Default, Args)]
pub struct NfsArgs {
    /// kernel or userspace (netfs).
    #[arg(long)]
    pub client: Option<String>,
    /// NFS version: 3, 4, 4.1 or 4.2 (netfs).
    #[arg(long)]
    pub nfs_version: Option<String>,
    /// NFS port of the server (netfs).
    #[arg(long)]
    pub port: Option<u16>,
    /// NFSv3 MOUNT port of the server (netfs, userspace client).
    #[arg(long)]
    pub mount_port: Option<u16>,
    /// Seconds before an unanswered NFS request fails with EIO (netfs).
    #[arg(long)]
    pub timeout: Option<u64>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// `poolfs VERB --help` explains every positional argument (and every
    /// shown flag): a bare `<POOL>` says nothing to a new user.
    #[test]
    fn every_argument_has_help() {
        let cli = super::Cli::command();
        let mut bare = Vec::new();
        for verb in cli.get_subcommands() {
            for arg in verb.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() {
                    bare.push(format!("{} {id}", verb.get_name()));
                }
            }
        }
        assert!(bare.is_empty(), "arguments without help: {bare:?}");
    }
}
