//! Mounting and serving: mount options, stale-mount clean-up, the worker
//! threads, and a clean unmount on SIGTERM/SIGINT.

use std::os::fd::{AsFd, OwnedFd};
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
    pub io: crate::config::IoMode,
    pub transport: crate::config::Transport,
    /// The mount's kernel read-ahead; `None` keeps the kernel's default.
    pub read_ahead_kib: Option<u32>,
}

/// The mount's source name in /proc/mounts (`poolfs on /srv/pools type fuse.poolfs`).
use crate::mounts::{FSNAME, is_poolfs_mount};

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
        Err(Errno::ENOENT) => {
            use std::os::unix::fs::DirBuilderExt;
            // Mode given: the daemon runs with umask 0.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(mountpoint)
                .map_err(Error::io(format!(
                    "cannot create mountpoint '{}'",
                    mountpoint.display()
                )))
        }
        Err(e) => Err(Error::sys(format!(
            "cannot use mountpoint '{}'",
            mountpoint.display()
        ))(e)),
        Ok(()) if !mountpoint.is_dir() => Err(Error::Invalid(format!(
            "mountpoint '{}' is not a directory",
            mountpoint.display()
        ))),
        Ok(_) if is_poolfs_mount(mountpoint) => Err(Error::Busy(format!(
            "'{}' is already served by a running poolfs",
            mountpoint.display()
        ))),
        Ok(_) => Ok(()),
    }
}

/// Without root (no keeper): mounts the tree through fuser (fusermount),
/// calls `ready` once the kernel has answered INIT, serves until a signal or
/// an external unmount, then unmounts.
pub fn serve(
    core: Arc<PoolFs>,
    cfg: &MountConfig,
    signals: &SigSet,
    ready: impl FnOnce(Result<()>),
) -> Result<()> {
    prepare_transport(cfg.transport);
    let config = session_config(false, cfg, true);
    let adapter = FuseAdapter::new(core.clone(), cfg.io, cfg.transport);
    let mounted = Session::new(adapter, &cfg.mountpoint, &config)
        .map_err(Error::io(format!(
            "cannot mount on '{}'",
            cfg.mountpoint.display()
        )))
        .map(|mut s| {
            let u = Unmounter::Fuser(s.unmount_callable());
            (s, u)
        });
    let (session, unmounter) = match mounted {
        Ok(v) => v,
        Err(err) => {
            let msg = err.to_string();
            ready(Err(err));
            return Err(Error::State(msg));
        }
    };
    run_session(session, unmounter, core, cfg, signals, ready, || {})
}

/// Before the mount: root turns the kernel's FUSE-over-io_uring on for
/// `--transport uring` (its `enable_uring` is off by default; the kernel
/// offers the ring only in the INIT of a mount made while it is on); the
/// log says which transport serves and why.
pub fn prepare_transport(transport: crate::config::Transport) {
    use crate::config::Transport;
    const PARAM: &str = "/sys/module/fuse/parameters/enable_uring";
    match transport {
        Transport::Uring => match std::fs::read_to_string(PARAM) {
            Ok(v) if v.trim() == "Y" => {}
            Ok(_) => match std::fs::write(PARAM, "Y") {
                Ok(()) => tracing::info!("turned the kernel's FUSE-over-io_uring on ({PARAM})"),
                Err(e) => {
                    tracing::warn!("cannot turn the kernel's FUSE-over-io_uring on ({PARAM}): {e}")
                }
            },
            Err(_) => tracing::warn!("this kernel has no FUSE-over-io_uring ({PARAM} is missing)"),
        },
        Transport::Auto => tracing::info!(
            "transport /dev/fuse: a new server takes its requests over after a crash or an upgrade, which it cannot do with io_uring's (docs/io_uring.md)"
        ),
        Transport::Devfuse => {}
    }
}

/// FUSE-over-io_uring entries per queue (one queue per CPU), each with a
/// `MAX_WRITE` payload buffer and a thread of its own: `--threads` per CPU,
/// at least two. The kernel puts a request in its caller's CPU's queue, so
/// one busy caller (qemu's I/O thread, fio) is served by one queue, which
/// must take as many requests at once as `/dev/fuse`'s workers do; and a
/// handler may wait for another request of its CPU (a cache invalidation
/// for a page a READ holds).
fn ring_depth(threads: usize) -> usize {
    threads.max(2)
}

/// The FUSE session options poolfs uses.
fn session_config(root: bool, cfg: &MountConfig, clone_fd: bool) -> Config {
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
    if cfg.transport == crate::config::Transport::Uring {
        config.io_uring_depth = ring_depth(cfg.threads);
    }
    config.clone_fd = clone_fd;
    // A request copy that faults in a killed server fails with EIO instead
    // of waiting for the successor: buffers are faulted in when a worker
    // starts (vendor/fuser/POOLFS-PATCH.md).
    config.read_buffer_size = Some(super::MAX_WRITE + 4096);
    config
}

/// Serves the connection a keeper holds (`crate::keeper`): a fresh one
/// (not `resumed`: the handshake runs, then the journal starts in
/// `journal_file`), or one a predecessor server initialised (resumed without
/// a handshake, with the predecessor's state already restored into `core`).
///
/// Every worker reads the keeper's descriptor itself, never a clone: the
/// kernel aborts the requests a closing clone holds, and a server that dies
/// must leave its unanswered requests with the kernel, to be sent again.
#[allow(clippy::too_many_arguments)]
pub fn serve_kept(
    core: Arc<PoolFs>,
    cfg: &MountConfig,
    dev: OwnedFd,
    journal_file: std::fs::File,
    resumed: bool,
    signals: &SigSet,
    ready: impl FnOnce(Result<()>),
) -> Result<()> {
    let fail = |e: Error, ready: Box<dyn FnOnce(Result<()>)>| {
        let msg = e.to_string();
        ready(Err(e));
        Err(Error::State(msg))
    };
    let ready: Box<dyn FnOnce(Result<()>)> = Box::new(ready);
    let mut config = session_config(true, cfg, false);
    let resend = match crate::sys::dup(dev.as_fd()) {
        Ok(fd) => fd,
        Err(e) => return fail(Error::sys("cannot duplicate the FUSE descriptor")(e), ready),
    };
    let session = match resumed {
        true => {
            let own = match crate::sys::dup(dev.as_fd()) {
                Ok(fd) => fd,
                Err(e) => {
                    return fail(Error::sys("cannot duplicate the FUSE descriptor")(e), ready);
                }
            };
            let adapter = FuseAdapter::resume(core.clone(), cfg.io, cfg.transport, own);
            // The connection stays on the transport its INIT chose.
            let uring = core.io_uring();
            if uring {
                config.io_uring_depth = ring_depth(cfg.threads);
            }
            Session::resume_fd(adapter, dev, SessionACL::All, config)
                .map(|mut s| {
                    if uring {
                        s.resume_io_uring(super::MAX_WRITE as u32, super::MAX_READAHEAD);
                    }
                    s
                })
                .map_err(Error::io("cannot resume the FUSE session"))
        }
        false => {
            // The keeper prepared the transport before it mounted.
            // A predecessor may have read INIT and died before answering:
            // have it sent again, or the handshake would wait for ever.
            if let Err(e) = crate::sys::fuse_resend(resend.as_fd()) {
                tracing::debug!("no unanswered requests resent before INIT: {e}");
            }
            let adapter = FuseAdapter::new(core.clone(), cfg.io, cfg.transport);
            Session::from_fd(adapter, dev, SessionACL::All, config)
                .map_err(Error::io("the kernel did not start the FUSE session"))
                .and_then(|s| core.start_journal(journal_file).map(|()| s))
        }
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => return fail(e, ready),
    };
    let unmounter = Unmounter::Own(cfg.mountpoint.clone());
    run_session(session, unmounter, core, cfg, signals, ready, move || {
        if resumed {
            // Requests the predecessor read but never answered come again.
            match crate::sys::fuse_resend(resend.as_fd()) {
                Ok(()) => tracing::info!("asked the kernel to resend unanswered requests"),
                Err(e) => tracing::warn!(
                    "the kernel cannot resend requests the previous server left unanswered ({e}): they fail with an error"
                ),
            }
        }
    })
}

/// Runs a session until a signal or an external unmount, then unmounts:
/// `started` runs once the workers read requests.
fn run_session(
    session: Session<FuseAdapter>,
    mut unmounter: Unmounter,
    core: Arc<PoolFs>,
    cfg: &MountConfig,
    signals: &SigSet,
    ready: impl FnOnce(Result<()>),
    started: impl FnOnce(),
) -> Result<()> {
    let dev = crate::sys::dup(session.as_fd())
        .map_err(Error::sys("cannot duplicate the FUSE descriptor"))?;
    start_invalidator(&core, session.notifier(), dev)?;
    core.start_watching();
    tracing::info!(mountpoint = %cfg.mountpoint.display(), threads = cfg.threads, "poolfs serving");

    // Ready before the workers read a request: from the first reply on,
    // a program may use the tree, and a server killed then must count as
    // a crash (its successor takes over), never as one that did not start
    // (the keeper would remove the mount). INIT was answered already.
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
    started();
    if let Some(kib) = cfg.read_ahead_kib {
        set_read_ahead(&cfg.mountpoint, kib);
    }
    loop {
        match signals.wait() {
            Ok(Signal::SIGUSR1) => break,
            Ok(Signal::SIGHUP) => continue,
            Ok(sig) => {
                tracing::info!("{sig}: unmounting {}", cfg.mountpoint.display());
                if let Err(e) = unmounter.unmount() {
                    let open = core.open_volumes();
                    let held = if open.is_empty() {
                        "no volume is open: a process has its working directory or a control file in the tree".to_string()
                    } else {
                        format!("open volumes: {}", open.join(", "))
                    };
                    tracing::warn!(
                        "cannot unmount {} yet ({e}; {held}); detached it lazily: poolfs serves what is open and exits when the last of it is closed",
                        cfg.mountpoint.display()
                    );
                    let _ = nix::mount::umount2(&cfg.mountpoint, nix::mount::MntFlags::MNT_DETACH);
                }
                break;
            }
            Err(e) => return Err(Error::sys("cannot wait for signals")(e)),
        }
    }
    let joined = worker.join();
    tracing::info!("FUSE session ended, exiting");
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::io("the FUSE session ended with an error")(e)),
        Err(_) => Err(Error::State("the FUSE session thread panicked".into())),
    }
}

/// Sets the mount's kernel read-ahead (`/sys/class/bdi/<dev>/read_ahead_kb`,
/// root only). The kernel offers FUSE 128 KiB at INIT, so sequential reads
/// served by the daemon arrive as 128 KiB requests; with 4 MiB they arrive
/// as 1 MiB requests (the most one request carries), several in flight.
/// Volumes in kernel passthrough read ahead on their backing file and are
/// not affected. Called once the session serves: the stat waits for INIT,
/// which would otherwise set the value back.
fn set_read_ahead(mountpoint: &Path, kib: u32) {
    let r = nix::sys::stat::stat(mountpoint)
        .map_err(std::io::Error::from)
        .and_then(|st| {
            let dev = st.st_dev;
            let path = format!(
                "/sys/class/bdi/{}:{}/read_ahead_kb",
                nix::sys::stat::major(dev),
                nix::sys::stat::minor(dev)
            );
            std::fs::write(&path, format!("{kib}\n"))
        });
    match r {
        Ok(()) => tracing::info!(kib, "read-ahead of the mount set"),
        Err(e) => tracing::warn!(
            "cannot set the read-ahead of the mount ({e}): the kernel's default stays"
        ),
    }
}

/// Mounts the tree as `fuse.poolfs` with mount(2) (root): the mount shows
/// its own type, so `mount -t fuse.poolfs`, fstab lines and
/// `findmnt -t fuse.poolfs` find it. Returns the /dev/fuse descriptor.
pub fn mount_as_root(mountpoint: &Path) -> Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let what = || format!("cannot mount on '{}'", mountpoint.display());
    let dev = nix::fcntl::open(
        "/dev/fuse",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(Error::sys("cannot open /dev/fuse"))?;
    let st = nix::sys::stat::stat(mountpoint).map_err(Error::sys(what()))?;
    let opts = format!(
        "fd={},rootmode={:o},user_id=0,group_id=0,allow_other,default_permissions",
        dev.as_raw_fd(),
        st.st_mode & libc::S_IFMT
    );
    nix::mount::mount(
        Some(FSNAME),
        mountpoint,
        Some("fuse.poolfs"),
        nix::mount::MsFlags::MS_NODEV | nix::mount::MsFlags::MS_NOSUID,
        Some(opts.as_str()),
    )
    .map_err(Error::sys(what()))?;
    Ok(dev)
}

/// Who unmounts: poolfs itself (it mounted with mount(2)) or fuser.
pub enum Unmounter {
    Own(PathBuf),
    Fuser(fuser::SessionUnmounter),
}

impl Unmounter {
    fn unmount(&mut self) -> std::io::Result<()> {
        match self {
            Unmounter::Own(p) => nix::mount::umount2(p.as_path(), nix::mount::MntFlags::empty())
                .map_err(std::io::Error::from),
            Unmounter::Fuser(u) => u.unmount(),
        }
    }
}

/// Sends the core's kernel-cache invalidations from a thread of its own
/// (`dev`: the connection, for the notifications fuser cannot send).
fn start_invalidator(core: &PoolFs, notifier: fuser::Notifier, dev: OwnedFd) -> Result<()> {
    let (tx, rx) = std::sync::mpsc::channel::<InvalRequest>();
    core.set_invalidator(tx);
    let mut epochs = true;
    std::thread::Builder::new()
        .name("fuse-inval".into())
        .spawn(move || {
            for InvalRequest { inval: i, done } in rx {
                let r = match &i {
                    Inval::Entry { parent, name } => {
                        notifier.inval_entry(fuser::INodeNo(*parent), name)
                    }
                    Inval::Inode { ino } => notifier.inval_inode(fuser::INodeNo(*ino), 0, -1),
                    Inval::Attr { ino } => notifier.inval_inode(fuser::INodeNo(*ino), -1, 0),
                    Inval::Range { ino, offset, len } => notifier.inval_inode(
                        fuser::INodeNo(*ino),
                        i64::try_from(*offset).unwrap_or(i64::MAX),
                        i64::try_from(*len).unwrap_or(0),
                    ),
                    Inval::Names(names) => {
                        if epochs && let Err(e) = crate::sys::fuse_inc_epoch(dev.as_fd()) {
                            tracing::info!("the kernel cannot expire every name at once ({e}, Linux 6.16+): names changed behind poolfs's back are invalidated one by one");
                            epochs = false;
                        }
                        if epochs {
                            Ok(())
                        } else {
                            names.iter().try_for_each(|(parent, name)| {
                                notifier
                                    .inval_entry(fuser::INodeNo(*parent), name)
                                    .filter_not_found()
                            })
                        }
                    }
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
