//! The keeper: the process `poolfs mount` leaves running as root. It holds
//! what must outlive a server: the FUSE connection (the `/dev/fuse`
//! descriptor of the mount it made) and the journal (`crate::journal`, a
//! memfd). It serves no request, so no request can take it down; it runs
//! the server as its child and, when the server dies for any reason, starts
//! a new one on the same connection, which takes over from the journal.
//!
//! Signals: SIGTERM and SIGINT go to the server, which unmounts and exits
//! 0; the keeper then exits. A server that exits 0 by itself (an external
//! `umount`) ends the keeper too. A keeper that dies takes its server with
//! it (`PR_SET_PDEATHSIG`): the connection dies and the mount is stale, as
//! a crashed single-process daemon left it.

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use crate::error::{Error, Result};
use crate::fuse::session;

/// More server deaths than this within `CRASH_WINDOW` and the keeper gives
/// up (a server that cannot start would otherwise spin).
const MAX_CRASHES: usize = 5;
const CRASH_WINDOW: Duration = Duration::from_secs(30);

/// What a server inherits from its keeper, passed as `--server DEV,JOURNAL,READY,LOG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inherited {
    pub dev: i32,
    pub journal: i32,
    /// Where the server writes `ok` (or why it failed) once it serves.
    pub ready: i32,
    /// Log to the state directory's file (else to standard error).
    pub log_file: bool,
}

impl std::str::FromStr for Inherited {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let v: Vec<&str> = s.split(',').collect();
        let n = |i: usize| -> std::result::Result<i32, String> {
            v.get(i)
                .and_then(|x| x.parse().ok())
                .ok_or_else(|| format!("bad --server value '{s}'"))
        };
        Ok(Inherited {
            dev: n(0)?,
            journal: n(1)?,
            ready: n(2)?,
            log_file: n(3)? == 1,
        })
    }
}

impl std::fmt::Display for Inherited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.dev,
            self.journal,
            self.ready,
            u8::from(self.log_file)
        )
    }
}

/// The file holding the current server's pid.
pub fn server_pid_file(state_dir: &Path) -> PathBuf {
    state_dir.join("server.pid")
}

/// Signals the keeper waits for (blocked in every thread).
fn keeper_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set.thread_block()
        .map_err(Error::sys("cannot block signals"))?;
    Ok(set)
}

/// A descriptor a child inherits (no close-on-exec), for the keeper's life.
fn inheritable(fd: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    nix::unistd::dup(fd).map_err(Error::sys("cannot duplicate a descriptor for the server"))
}

/// Mounts, then keeps a server running until it is told to stop. `server`
/// builds the server's command line (the same `poolfs mount` arguments);
/// `report` says once whether the first server serves.
pub fn run(
    mountpoint: &Path,
    state_dir: &Path,
    log_file: bool,
    server: impl Fn(&Inherited) -> Command,
    report: impl FnOnce(Result<()>),
) -> Result<()> {
    let setup = || -> Result<(SigSet, OwnedFd, std::fs::File)> {
        let signals = keeper_signals()?;
        session::clean_stale_mount(mountpoint)?;
        let dev = session::mount_as_root(mountpoint)?;
        let journal = crate::journal::memfd()?;
        Ok((signals, dev, journal))
    };
    let (signals, dev, journal) = match setup() {
        Ok(v) => v,
        Err(e) => {
            report(Err(Error::State(e.to_string())));
            return Err(e);
        }
    };
    let dev_child = inheritable(dev.as_fd())?;
    let journal_child = inheritable(journal.as_fd())?;
    let pid_file = server_pid_file(state_dir);
    let mut report = Some(report);
    let mut crashes: Vec<Instant> = Vec::new();
    let mut stopping = false;
    loop {
        let (ready_rd, ready_wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(Error::sys("cannot create a pipe"))?;
        // Only the server gets the write end (and only this server).
        let ready_child = inheritable(ready_wr.as_fd())?;
        drop(ready_wr);
        let ready_wr = ready_child;
        let inherited = Inherited {
            dev: dev_child.as_raw_fd(),
            journal: journal_child.as_raw_fd(),
            ready: ready_wr.as_raw_fd(),
            log_file,
        };
        let mut child = match server(&inherited).spawn() {
            Ok(c) => c,
            Err(e) => {
                let e = Error::io("cannot start the poolfs server")(e);
                if let Some(r) = report.take() {
                    r(Err(Error::State(e.to_string())));
                }
                unmount(mountpoint);
                return Err(e);
            }
        };
        drop(ready_wr);
        let _ =
            crate::pool::persist::write_atomic(&pid_file, format!("{}\n", child.id()).as_bytes());
        tracing::info!(pid = child.id(), "poolfs server started");
        let ready = std::thread::Builder::new()
            .name("keeper-ready".into())
            .spawn(move || {
                let mut msg = String::new();
                let _ = std::fs::File::from(ready_rd).read_to_string(&mut msg);
                msg
            })
            .map_err(Error::io("cannot start a thread"))?;
        if let Some(r) = report.take() {
            // The first server: the mount is only usable once it answered INIT.
            let msg = ready.join().unwrap_or_default();
            if msg.starts_with("ok") {
                r(Ok(()));
            } else {
                let why = if msg.trim().is_empty() {
                    "the poolfs server exited before serving; see its log".to_string()
                } else {
                    msg.trim().to_string()
                };
                r(Err(Error::State(why.clone())));
                let _ = wait_exit(&mut child, &signals);
                unmount(mountpoint);
                let _ = std::fs::remove_file(&pid_file);
                return Err(Error::State(why));
            }
        }
        let status = loop {
            match signals.wait() {
                Ok(Signal::SIGCHLD) => {
                    if let Ok(Some(st)) = child.try_wait() {
                        break st;
                    }
                }
                Ok(Signal::SIGHUP) => {}
                Ok(sig) => {
                    tracing::info!("{sig}: telling the server to unmount");
                    stopping = true;
                    let _ = nix::sys::signal::kill(pid_of(&child), Signal::SIGTERM);
                }
                Err(e) => return Err(Error::sys("cannot wait for signals")(e)),
            }
        };
        if status.success() || stopping {
            let _ = std::fs::remove_file(&pid_file);
            tracing::info!("poolfs server ended ({status}); the keeper exits");
            if !status.success() {
                unmount(mountpoint);
                return Err(Error::State(format!(
                    "the poolfs server ended with {status}"
                )));
            }
            return Ok(());
        }
        let now = Instant::now();
        crashes.retain(|t| now.duration_since(*t) < CRASH_WINDOW);
        crashes.push(now);
        if crashes.len() > MAX_CRASHES {
            tracing::error!(
                "the poolfs server died {} times within {} s ({status}); giving up: the mount is removed",
                crashes.len(),
                CRASH_WINDOW.as_secs()
            );
            unmount(mountpoint);
            let _ = std::fs::remove_file(&pid_file);
            return Err(Error::State(format!(
                "the poolfs server keeps dying ({status})"
            )));
        }
        tracing::error!("poolfs server died ({status}); starting a new one on the same connection");
    }
}

fn pid_of(child: &Child) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(child.id() as i32)
}

/// Waits for a server that failed to start to exit.
fn wait_exit(child: &mut Child, signals: &SigSet) -> Option<std::process::ExitStatus> {
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        match signals.wait() {
            Ok(Signal::SIGCHLD) => {}
            Ok(_) => {
                let _ = nix::sys::signal::kill(pid_of(child), Signal::SIGTERM);
            }
            Err(_) => return None,
        }
    }
}

fn unmount(mountpoint: &Path) {
    let _ = nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH);
}

/// In a server: dies with its keeper, and checks the keeper did not die
/// before that was set up.
pub fn die_with_keeper() -> Result<()> {
    let keeper = nix::unistd::getppid();
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(Error::sys("cannot tie the server to its keeper"))?;
    if nix::unistd::getppid() != keeper || keeper.as_raw() == 1 {
        return Err(Error::State("the keeper is gone".into()));
    }
    Ok(())
}
