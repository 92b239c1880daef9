//! Mounting and serving: mount options, stale-mount clean-up, the worker
//! threads, and a clean unmount on SIGTERM/SIGINT.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{Config, MountOption, Session, SessionACL};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};

use super::FuseAdapter;
use crate::core::{Inval, InvalRequest, PoolFs};
use crate::error::{Error, Result};

/// What `poolfs mount` was asked for.
#[derive(Debug, Clone)]
pub struct MountConfig {
    pub mountpoint: PathBuf,
    pub threads: usize,
    pub io: super::IoMode,
}

/// The mount's source name in /proc/mounts (`poolfs on /srv/pools type fuse.poolfs`).
pub const FSNAME: &str = "poolfs";

/// Blocks the signals the daemon waits for, in this thread and every thread
/// spawned after it, so only `wait_for_signal` receives them.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        set.add(s);
    }
    set.thread_block()
        .map_err(Error::sys("cannot block signals"))?;
    Ok(set)
}

/// Unmounts a mount left behind by a crashed daemon (its FUSE connection is
/// gone: `statfs`, which the kernel never answers from its caches, says
/// ENOTCONN). A live poolfs mount on the mountpoint is an error.
pub fn clean_stale_mount(mountpoint: &Path) -> Result<()> {
    match nix::sys::statvfs::statvfs(mountpoint).map(drop) {
        Err(Errno::ENOTCONN) => {
            tracing::warn!("removing a stale mount on {}", mountpoint.display());
            nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH).map_err(Error::sys(
                format!(
                    "cannot remove the stale mount on '{}'",
                    mountpoint.display()
                ),
            ))
        }
        Err(Errno::ENOENT) => std::fs::create_dir_all(mountpoint).map_err(Error::io(format!(
            "cannot create mountpoint '{}'",
            mountpoint.display()
        ))),
        Err(e) => Err(Error::sys(format!(
            "cannot use mountpoint '{}'",
            mountpoint.display()
        ))(e)),
        Ok(_) if is_poolfs_mount(mountpoint) => Err(Error::Busy(format!(
            "'{}' is already served by a running poolfs",
            mountpoint.display()
        ))),
        Ok(_) => Ok(()),
    }
}

/// True when a poolfs mount sits on `mountpoint`.
fn is_poolfs_mount(mountpoint: &Path) -> bool {
    crate::backend::mounts::at(mountpoint)
        .is_some_and(|m| m.fstype.starts_with("fuse") && m.source == FSNAME)
}

/// Mounts the tree, calls `ready` once the kernel has answered INIT, serves
/// until a signal or an external unmount, then unmounts.
pub fn serve(
    core: Arc<PoolFs>,
    cfg: &MountConfig,
    signals: &SigSet,
    ready: impl FnOnce(Result<()>),
) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    let mut options = vec![
        MountOption::FSName(FSNAME.into()),
        MountOption::Subtype("poolfs".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if root {
        options.push(MountOption::DefaultPermissions);
    }
    let mut config = Config::default();
    config.mount_options = options;
    config.acl = if root {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(cfg.threads.max(1));
    config.clone_fd = true;

    let session = match Session::new(
        FuseAdapter::new(core.clone(), cfg.io),
        &cfg.mountpoint,
        &config,
    ) {
        Ok(s) => s,
        Err(e) => {
            let err = Error::io(format!("cannot mount on '{}'", cfg.mountpoint.display()))(e);
            let msg = err.to_string();
            ready(Err(err));
            return Err(Error::State(msg));
        }
    };
    let mut session = session;
    let mut unmounter = session.unmount_callable();
    start_invalidator(&core, session.notifier())?;
    tracing::info!(mountpoint = %cfg.mountpoint.display(), threads = cfg.threads, "poolfs serving");
    ready(Ok(()));

    let main = nix::unistd::Pid::this();
    let worker = std::thread::Builder::new()
        .name("fuse-session".into())
        .spawn(move || {
            let r = session.run();
            // Wake the main thread: the session ended (e.g. `umount` from outside).
            let _ = nix::sys::signal::kill(main, Signal::SIGUSR1);
            r
        })
        .map_err(Error::io("cannot start the FUSE session thread"))?;

    loop {
        match signals.wait() {
            Ok(Signal::SIGUSR1) => break,
            Ok(Signal::SIGHUP) => continue,
            Ok(sig) => {
                tracing::info!("{sig}: unmounting {}", cfg.mountpoint.display());
                if let Err(e) = unmounter.unmount() {
                    tracing::warn!("unmount failed ({e}), detaching the mount lazily");
                    let _ = nix::mount::umount2(&cfg.mountpoint, nix::mount::MntFlags::MNT_DETACH);
                }
                break;
            }
            Err(e) => return Err(Error::sys("cannot wait for signals")(e)),
        }
    }
    match worker.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::io("the FUSE session ended with an error")(e)),
        Err(_) => Err(Error::State("the FUSE session thread panicked".into())),
    }
}

/// Sends the core's kernel-cache invalidations from a thread of its own.
fn start_invalidator(core: &PoolFs, notifier: fuser::Notifier) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel::<InvalRequest>();
    core.set_invalidator(tx);
    std::thread::Builder::new()
        .name("fuse-inval".into())
        .spawn(move || {
            for InvalRequest { inval: i, done } in rx {
                let r = match &i {
                    Inval::Entry { parent, name } => {
                        notifier.inval_entry(fuser::INodeNo(*parent), name)
                    }
                    Inval::Inode { ino } => notifier.inval_inode(fuser::INodeNo(*ino), 0, -1),
                };
                // ENOENT: the kernel had nothing cached, which is fine.
                if let Err(e) = r.filter_not_found() {
                    tracing::debug!("cache invalidation {i:?} failed: {e}");
                }
                if let Some(d) = done {
                    let _ = d.send(());
                }
            }
        })
        .map(|_| ())
        .map_err(Error::io("cannot start the invalidation thread"))
}

trait FilterNotFound {
    fn filter_not_found(self) -> std::io::Result<()>;
}

impl FilterNotFound for std::io::Result<()> {
    fn filter_not_found(self) -> std::io::Result<()> {
        match self {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}
