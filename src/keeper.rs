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
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};

use crate::error::{Error, Result};
use crate::fuse::session;

/// More server deaths than this within `CRASH_WINDOW` and the keeper gives
/// up (a server that cannot start, or a request that kills every server it
/// is resent to, would otherwise spin).
const MAX_CRASHES: usize = 10;
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

/// The keeper's pid (for `poolfs upgrade`).
fn keeper_pid_file(state_dir: &Path) -> PathBuf {
    state_dir.join("keeper.pid")
}

/// `poolfs upgrade` writes the new binary's path here, then signals the
/// keeper (SIGUSR2), which answers in `UPGRADE_RESULT`.
const UPGRADE_REQUEST: &str = "upgrade.request";
const UPGRADE_RESULT: &str = "upgrade.result";
/// How long a new server may take to serve before the old binary is
/// started again.
const SERVE_TIMEOUT: Duration = Duration::from_secs(30);

/// `poolfs upgrade`: asks the keeper of the tree at `mount` to replace its
/// server by one running `binary`, and waits for the outcome.
pub fn request_upgrade(mount: &Path, state_dir: &Path, binary: Option<&Path>) -> Result<()> {
    if !session::is_poolfs_mount(mount) {
        return Err(Error::NotFound(format!(
            "no poolfs tree is mounted at '{}'",
            mount.display()
        )));
    }
    let binary = match binary {
        Some(b) => std::path::absolute(b).map_err(Error::io("cannot resolve the binary"))?,
        None => std::env::current_exe().map_err(Error::io("cannot find the poolfs binary"))?,
    };
    let keeper: i32 = std::fs::read_to_string(keeper_pid_file(state_dir))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no keeper pid in '{}': is the tree mounted by root with this state directory?",
                state_dir.display()
            ))
        })?;
    // A stale pid file must not make us signal whatever holds that pid now.
    let cmdline = std::fs::read(format!("/proc/{keeper}/cmdline")).unwrap_or_default();
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    if args.get(1) != Some(&&b"mount"[..]) || args.iter().any(|a| *a == b"--server") {
        return Err(Error::NotFound(format!(
            "process {keeper} named in '{}' is not a poolfs keeper (the daemon died?)",
            keeper_pid_file(state_dir).display()
        )));
    }
    let result = state_dir.join(UPGRADE_RESULT);
    let _ = std::fs::remove_file(&result);
    crate::pool::persist::write_atomic(
        &state_dir.join(UPGRADE_REQUEST),
        binary.as_os_str().as_encoded_bytes(),
    )?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(keeper), Signal::SIGUSR2)
        .map_err(Error::sys("cannot signal the keeper"))?;
    let deadline = Instant::now() + SERVE_TIMEOUT + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&result) {
            let _ = std::fs::remove_file(&result);
            return match text.strip_prefix("ok") {
                Some(rest) => {
                    println!("upgraded: {}{}", binary.display(), rest.trim_end());
                    Ok(())
                }
                None => Err(Error::State(text.trim().to_string())),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::State(
        "the keeper did not answer the upgrade request; see the log".into(),
    ))
}

/// Signals the keeper waits for (blocked in every thread).
fn keeper_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
        Signal::SIGUSR2,
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

/// A server the keeper started, and where its readiness message arrives.
struct Server {
    child: Child,
    ready: std::sync::mpsc::Receiver<String>,
}

/// Mounts, then keeps a server running until it is told to stop. `server`
/// builds a server's command line for a binary (the same `poolfs mount`
/// arguments); `report` says once whether the first server serves.
pub fn run(
    mountpoint: &Path,
    state_dir: &Path,
    log_file: bool,
    server: impl Fn(&Path, &Inherited) -> Command,
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
    let keeper = Keeper {
        mountpoint,
        state_dir,
        log_file,
        dev: inheritable(dev.as_fd())?,
        journal: inheritable(journal.as_fd())?,
        server: &server,
    };
    let _ = crate::pool::persist::write_atomic(
        &keeper_pid_file(state_dir),
        format!("{}\n", std::process::id()).as_bytes(),
    );
    // Servers run the keeper's own binary to begin with: its inode stays
    // reachable through /proc even after a package replaced the file.
    let mut binary = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    let mut current = match keeper.start(&binary).and_then(|s| keeper.await_ready(s)) {
        Ok(s) => {
            report(Ok(()));
            s
        }
        Err(e) => {
            report(Err(Error::State(e.to_string())));
            keeper.finish(true);
            return Err(e);
        }
    };
    let mut crashes: Vec<Instant> = Vec::new();
    let mut stopping = false;
    loop {
        match signals.wait() {
            Ok(Signal::SIGCHLD) => {
                let Ok(Some(status)) = current.child.try_wait() else {
                    continue;
                };
                if status.success() || stopping {
                    tracing::info!("poolfs server ended ({status}); the keeper exits");
                    keeper.finish(!status.success());
                    return if status.success() {
                        Ok(())
                    } else {
                        Err(Error::State(format!(
                            "the poolfs server ended with {status}"
                        )))
                    };
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
                    keeper.finish(true);
                    return Err(Error::State(format!(
                        "the poolfs server keeps dying ({status})"
                    )));
                }
                tracing::error!(
                    "poolfs server died ({status}); starting a new one on the same connection"
                );
                current = keeper.start(&binary)?;
            }
            Ok(Signal::SIGUSR2) => {
                let answer = keeper.upgrade(&mut current, &mut binary);
                let text = match &answer {
                    Ok(pid) => format!("ok (server pid {pid})\n"),
                    Err(e) => format!("{e}\n"),
                };
                let _ = crate::pool::persist::write_atomic(
                    &state_dir.join(UPGRADE_RESULT),
                    text.as_bytes(),
                );
            }
            Ok(Signal::SIGHUP) => {}
            Ok(sig) => {
                tracing::info!("{sig}: telling the server to unmount");
                stopping = true;
                let _ = nix::sys::signal::kill(pid_of(&current.child), Signal::SIGTERM);
            }
            Err(e) => return Err(Error::sys("cannot wait for signals")(e)),
        }
    }
}

/// What the keeper holds for its servers.
struct Keeper<'a, F: Fn(&Path, &Inherited) -> Command> {
    mountpoint: &'a Path,
    state_dir: &'a Path,
    log_file: bool,
    /// Inheritable copies of the connection and the journal.
    dev: OwnedFd,
    journal: OwnedFd,
    server: &'a F,
}

impl<F: Fn(&Path, &Inherited) -> Command> Keeper<'_, F> {
    /// Starts a server running `binary` on the connection.
    fn start(&self, binary: &Path) -> Result<Server> {
        let (ready_rd, ready_wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(Error::sys("cannot create a pipe"))?;
        // Only the server gets the write end (and only this server).
        let ready_child = inheritable(ready_wr.as_fd())?;
        drop(ready_wr);
        let inherited = Inherited {
            dev: self.dev.as_raw_fd(),
            journal: self.journal.as_raw_fd(),
            ready: ready_child.as_raw_fd(),
            log_file: self.log_file,
        };
        let child = (self.server)(binary, &inherited)
            .spawn()
            .map_err(Error::io(format!(
                "cannot start the poolfs server '{}'",
                binary.display()
            )))?;
        drop(ready_child);
        let _ = crate::pool::persist::write_atomic(
            &server_pid_file(self.state_dir),
            format!("{}\n", child.id()).as_bytes(),
        );
        tracing::info!(pid = child.id(), binary = %binary.display(), "poolfs server started");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("keeper-ready".into())
            .spawn(move || {
                let mut msg = String::new();
                let _ = std::fs::File::from(ready_rd).read_to_string(&mut msg);
                let _ = tx.send(msg);
            })
            .map_err(Error::io("cannot start a thread"))?;
        Ok(Server { child, ready: rx })
    }

    /// Waits until `s` serves; a server that fails is stopped.
    fn await_ready(&self, mut s: Server) -> Result<Server> {
        let msg = s.ready.recv_timeout(SERVE_TIMEOUT).unwrap_or_default();
        if msg.starts_with("ok") {
            return Ok(s);
        }
        let _ = s.child.kill();
        let _ = s.child.wait();
        Err(Error::State(if msg.trim().is_empty() {
            "the poolfs server exited before serving; see its log".to_string()
        } else {
            msg.trim().to_string()
        }))
    }

    /// Replaces the server by one running the binary `poolfs upgrade`
    /// named; if it does not serve, the previous binary serves again.
    /// Returns the pid of the server now serving the new binary.
    fn upgrade(&self, current: &mut Server, binary: &mut PathBuf) -> Result<u32> {
        let request = self.state_dir.join(UPGRADE_REQUEST);
        let new = std::fs::read(&request)
            .map(|b| PathBuf::from(std::ffi::OsString::from_vec(b)))
            .map_err(Error::io("cannot read the upgrade request"))?;
        let _ = std::fs::remove_file(&request);
        if !new.is_file() {
            return Err(Error::NotFound(format!(
                "'{}' is not a file; nothing was changed",
                new.display()
            )));
        }
        tracing::info!(binary = %new.display(), "upgrade: replacing the server");
        // The old server goes at once: what it read and did not answer is
        // sent again to the new one, which takes over from the journal.
        let _ = current.child.kill();
        let _ = current.child.wait();
        match self.start(&new).and_then(|s| self.await_ready(s)) {
            Ok(s) => {
                *current = s;
                *binary = new;
                tracing::info!(pid = current.child.id(), "upgrade done");
                Ok(current.child.id())
            }
            Err(e) => {
                tracing::error!(
                    "upgrade: the new server did not serve ({e}); the previous binary serves again"
                );
                *current = self.start(binary).and_then(|s| self.await_ready(s))?;
                Err(Error::State(format!(
                    "the new binary did not serve ({e}); the previous one serves again"
                )))
            }
        }
    }

    /// Cleans up when the keeper ends (`unmount`: the server could not).
    fn finish(&self, unmount_tree: bool) {
        if unmount_tree {
            unmount(self.mountpoint);
        }
        let _ = std::fs::remove_file(server_pid_file(self.state_dir));
        let _ = std::fs::remove_file(keeper_pid_file(self.state_dir));
    }
}

fn pid_of(child: &Child) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(child.id() as i32)
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
