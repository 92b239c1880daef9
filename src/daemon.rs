//! `poolfs mount`: process set-up around the FUSE session (daemonising,
//! logging, the registry, restoring pools), in that order.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::sync::Arc;

use crate::cli::MountArgs;
use crate::core::PoolFs;
use crate::error::{Error, Result};
use crate::fuse::session::{self, MountConfig};
use crate::journal::Journal;
use crate::keeper;
use crate::pool::Registry;
use crate::pool::persist::StateDir;

/// Runs the daemon until it is told to stop. Without `--foreground` the
/// calling process returns once the tree is mounted (or mounting failed).
pub fn run(args: &MountArgs, log_level: &str) -> Result<()> {
    let mountpoint = std::path::absolute(&args.mountpoint)
        .map_err(Error::io("cannot resolve the mountpoint"))?;
    let state_dir = std::path::absolute(&args.state_dir)
        .map_err(Error::io("cannot resolve the state directory"))?;
    if let Some(inherited) = args.server {
        return serve_for_keeper(args, mountpoint, state_dir, inherited, log_level);
    }
    if let Some(kept) = args.keeper {
        // A keeper that `poolfs upgrade` exec'd: same process, same log.
        init_logging(
            log_level,
            (!args.foreground).then(|| state_dir.join("poolfs.log")),
        );
        let server = server_command(args, &mountpoint, &state_dir, log_level)?;
        return keeper::resume(&mountpoint, &state_dir, !args.foreground, server, kept);
    }
    // Created 0700 here for the log; `Registry::load` narrows an existing
    // one, with a log line, once logging is set up.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&state_dir)
            .map_err(Error::io(format!(
                "cannot create state directory '{}'",
                state_dir.display()
            )))?;
    }

    let mut notify: Option<OwnedFd> = None;
    if !args.foreground {
        // Close-on-exec: the keeper's server must not hold the parent's pipe open.
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(Error::sys("cannot create a pipe"))?;
        match crate::sys::fork_before_threads().map_err(Error::sys("cannot fork"))? {
            nix::unistd::ForkResult::Parent { .. } => {
                drop(wr);
                let mut msg = String::new();
                let _ = std::fs::File::from(rd).read_to_string(&mut msg);
                return match msg.strip_prefix("ok") {
                    Some(_) => Ok(()),
                    None if msg.is_empty() => Err(Error::State(
                        "the daemon exited before mounting; see its log".into(),
                    )),
                    None => Err(Error::State(msg.trim().to_string())),
                };
            }
            nix::unistd::ForkResult::Child => {
                drop(rd);
                let _ = nix::unistd::setsid();
                notify = Some(wr);
            }
        }
    }
    init_logging(
        log_level,
        (!args.foreground).then(|| state_dir.join("poolfs.log")),
    );
    if notify.is_some() {
        redirect_stdio();
    }

    let report = move |r: Result<()>| {
        if r.is_ok() {
            sd_notify_ready();
        }
        if let Some(fd) = notify {
            let mut f = std::fs::File::from(fd);
            let _ = match r {
                Ok(()) => f.write_all(b"ok\n"),
                Err(e) => f.write_all(format!("{e}\n").as_bytes()),
            };
        }
    };

    if nix::unistd::geteuid().is_root() {
        // Root: a keeper holds the connection and runs the server (`keeper`).
        let server = server_command(args, &mountpoint, &state_dir, log_level)?;
        session::prepare_transport(args.transport);
        return keeper::run(&mountpoint, &state_dir, !args.foreground, server, report);
    }

    let setup = || -> Result<(Arc<PoolFs>, nix::sys::signal::SigSet)> {
        // Modes arrive from the kernel with the caller's umask applied already.
        nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        crate::sys::raise_nofile_limit();
        crate::store::fdcache::cache().set_capacity(args.fd_cache);
        let signals = session::block_signals()?;
        session::clean_stale_mount(&mountpoint)?;
        let reg = Arc::new(Registry::load(StateDir::new(state_dir.clone()))?);
        reg.restore();
        let core = counted(PoolFs::new(reg), args);
        core.set_mountpoint(mountpoint.clone());
        if let Some(addr) = args.metrics {
            crate::prometheus::serve(addr, core.clone(), false)?;
        }
        Ok((core, signals))
    };
    let (core, signals) = match setup() {
        Ok(v) => v,
        Err(e) => {
            report(Err(Error::State(e.to_string())));
            return Err(e);
        }
    };
    let cfg = mount_config(args, mountpoint);
    session::serve(core, &cfg, &signals, report)
}

/// The server a keeper started: takes the keeper's connection and journal,
/// restores what a predecessor left (if any), and serves.
fn serve_for_keeper(
    args: &MountArgs,
    mountpoint: std::path::PathBuf,
    state_dir: std::path::PathBuf,
    inherited: keeper::Inherited,
    log_level: &str,
) -> Result<()> {
    init_logging(
        log_level,
        inherited.log_file.then(|| state_dir.join("poolfs.log")),
    );
    let dev = crate::sys::take_inherited(inherited.dev)?;
    let journal_file = std::fs::File::from(crate::sys::take_inherited(inherited.journal)?);
    let ready_fd = crate::sys::take_inherited(inherited.ready)?;
    let report = move |r: Result<()>| {
        let mut f = std::fs::File::from(ready_fd);
        let _ = match r {
            Ok(()) => f.write_all(b"ok\n"),
            Err(e) => f.write_all(format!("{e}\n").as_bytes()),
        };
    };
    let setup = || -> Result<_> {
        keeper::die_with_keeper()?;
        // The keeper is spared by the OOM killer; its server is not.
        keeper::set_oom_score_adj(0);
        nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        crate::sys::raise_nofile_limit();
        crate::store::fdcache::cache().set_capacity(args.fd_cache);
        let signals = session::block_signals()?;
        let previous = Journal::open(
            journal_file
                .try_clone()
                .map_err(Error::io("cannot use the journal"))?,
        )?;
        let ids = previous
            .as_ref()
            .map(|(_, st)| st.pools.clone())
            .unwrap_or_default();
        let reg = Arc::new(Registry::load_with_ids(
            StateDir::new(state_dir.clone()),
            &ids,
        )?);
        if previous.is_some() {
            reg.resume();
        } else {
            reg.restore();
        }
        let took_over = previous.is_some();
        let (core, state) = match previous {
            Some((journal, state)) => {
                let core = counted(PoolFs::with_generation(reg, state.generation), args);
                core.set_journal(Arc::new(journal));
                let lost = core.restore(&state);
                tracing::info!(
                    numbers = state.numbers.len(),
                    handles = state.handles.len() - lost.len(),
                    lost = lost.len(),
                    "took over from the previous server"
                );
                (core, Some(state))
            }
            None => (counted(PoolFs::new(reg), args), None),
        };
        core.set_mountpoint(mountpoint.clone());
        if let Some(addr) = args.metrics {
            crate::prometheus::serve(addr, core.clone(), took_over)?;
        }
        Ok((core, signals, state))
    };
    let (core, signals, state) = match setup() {
        Ok(v) => v,
        Err(e) => {
            report(Err(Error::State(e.to_string())));
            return Err(e);
        }
    };
    let cfg = mount_config(args, mountpoint);
    session::serve_kept(
        core,
        &cfg,
        dev,
        journal_file,
        state.is_some(),
        &signals,
        report,
    )
}

/// The namespace a server serves, counting requests when `--metrics` is on.
fn counted(mut core: PoolFs, args: &MountArgs) -> Arc<PoolFs> {
    if args.metrics.is_some() {
        core.count_requests();
    }
    Arc::new(core)
}

fn mount_config(args: &MountArgs, mountpoint: std::path::PathBuf) -> MountConfig {
    MountConfig {
        mountpoint,
        threads: args.threads,
        io: args.io,
        transport: args.transport,
        read_ahead_kib: args.read_ahead,
    }
}

/// Tells systemd (`Type=notify`) the tree is mounted: `READY=1` to
/// `$NOTIFY_SOCKET`, a path or an abstract name (`@...`).
fn sd_notify_ready() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let addr = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&target),
    };
    let sent =
        addr.and_then(|a| UnixDatagram::unbound().and_then(|s| s.send_to_addr(b"READY=1\n", &a)));
    if let Err(e) = sent {
        tracing::warn!("cannot notify systemd at {target}: {e}");
    }
}

fn init_logging(level: &str, file: Option<std::path::PathBuf>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match file.and_then(|p| open_log(&p)) {
        Some(f) => {
            let _ = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .try_init();
        }
        None => {
            let _ = builder.with_writer(std::io::stderr).try_init();
        }
    }
}

/// The log file, 0600 like every file in the state directory (it names
/// paths and refusals); one found open to others is narrowed.
fn open_log(path: &std::path::Path) -> Option<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::durable::FILE_MODE)
        .open(path)
        .ok()?;
    if f.metadata()
        .is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    {
        let _ = f.set_permissions(std::fs::Permissions::from_mode(crate::durable::FILE_MODE));
    }
    Some(f)
}

/// A daemon keeps no terminal: standard streams go to /dev/null.
fn redirect_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        crate::sys::redirect_stdio(std::os::fd::AsFd::as_fd(&null));
    }
}

/// How a keeper starts a server running a given binary: the same `poolfs
/// mount` settings, and the descriptors it passes.
fn server_command(
    args: &MountArgs,
    mountpoint: &std::path::Path,
    state_dir: &std::path::Path,
    log_level: &str,
) -> Result<impl Fn(&std::path::Path, &keeper::Inherited) -> std::process::Command + use<>> {
    let exe = std::env::current_exe().map_err(Error::io("cannot find the poolfs binary"))?;
    let (mountpoint, state_dir, log_level) = (
        mountpoint.to_path_buf(),
        state_dir.to_path_buf(),
        log_level.to_string(),
    );
    let (threads, read_ahead, metrics, fd_cache) =
        (args.threads, args.read_ahead, args.metrics, args.fd_cache);
    let io = clap::ValueEnum::to_possible_value(&args.io)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    let transport = clap::ValueEnum::to_possible_value(&args.transport)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default();
    Ok(
        move |binary: &std::path::Path, inherited: &keeper::Inherited| {
            use std::os::unix::process::CommandExt;
            let mut c = std::process::Command::new(binary);
            c.arg0(&exe)
                .arg("mount")
                .arg(&mountpoint)
                .arg("--state-dir")
                .arg(&state_dir)
                .arg("--foreground")
                .arg("--threads")
                .arg(threads.to_string())
                .arg("--fd-cache")
                .arg(fd_cache.to_string())
                .arg("--io")
                .arg(&io)
                .arg("--transport")
                .arg(&transport)
                .arg("--log-level")
                .arg(&log_level)
                .arg("--server")
                .arg(inherited.to_string());
            if let Some(kib) = read_ahead {
                c.arg("--read-ahead").arg(kib.to_string());
            }
            if let Some(addr) = metrics {
                c.arg("--metrics").arg(addr.to_string());
            }
            c
        },
    )
}
