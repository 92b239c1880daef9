//! The keeper: the process `poolfs mount` leaves running as root. It holds
//! what must outlive a server: the FUSE connection (the `/dev/fuse`
//! descriptor of the mount it made) and the journal (`crate::journal`, a
//! memfd). It serves no request, so no request can take it down; it runs
//! the server as its child and, when the server dies for any reason, starts
//! a new one on the same connection, which takes over from the journal.
//!
//! `poolfs upgrade` replaces the server, then the keeper itself: it execs
//! the new binary (`--keeper DEV,JOURNAL,SERVER,ANSWER`), which keeps its
//! pid, its descriptors, its blocked and pending signals and its child.
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
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

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
        let [dev, journal, ready, log] = four_numbers(s, "--server")?;
        Ok(Inherited {
            dev,
            journal,
            ready,
            log_file: log == 1,
        })
    }
}

/// The four comma-separated numbers of a hidden `flag`'s value.
fn four_numbers(s: &str, flag: &str) -> std::result::Result<[i32; 4], String> {
    let bad = || format!("bad {flag} value '{s}'");
    let v: Vec<i32> = s
        .split(',')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<std::result::Result<_, _>>()?;
    v.try_into().map_err(|_| bad())
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

/// What a keeper passes to the binary it execs into, as
/// `--keeper DEV,JOURNAL,SERVER,ANSWER`: its descriptors, its server's pid,
/// and whether the new image answers a `poolfs upgrade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept {
    pub dev: i32,
    pub journal: i32,
    pub server: i32,
    pub answer: bool,
}

impl std::str::FromStr for Kept {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let [dev, journal, server, answer] = four_numbers(s, "--keeper")?;
        Ok(Kept {
            dev,
            journal,
            server,
            answer: answer == 1,
        })
    }
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{},{},{},{}",
            self.dev,
            self.journal,
            self.server,
            u8::from(self.answer)
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
    if !crate::mounts::is_poolfs_mount(mount) {
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
    crate::durable::write_atomic(
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

/// A server the keeper started (or inherited across an exec), and where
/// its readiness message arrives.
struct Server {
    pid: Pid,
    ready: Option<std::sync::mpsc::Receiver<String>>,
}

impl Server {
    /// The server's exit status once it ended (reaped); `None` while it runs.
    fn ended(&self) -> Option<WaitStatus> {
        match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => None,
            Ok(st) => Some(st),
            // Not our child any more (already reaped): it ended.
            Err(_) => Some(WaitStatus::Exited(self.pid, 1)),
        }
    }

    fn kill(&self) {
        let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        let _ = waitpid(self.pid, None);
    }
}

/// How a server ended, for the log.
fn describe(st: &WaitStatus) -> String {
    match st {
        WaitStatus::Exited(_, c) => format!("exit status: {c}"),
        WaitStatus::Signaled(_, sig, _) => format!("signal: {} ({sig})", *sig as i32),
        other => format!("{other:?}"),
    }
}

/// Mounts, then keeps a server running until it is told to stop. `server`
/// builds a server's command line for a binary (the same `poolfs mount`
/// arguments); `report` says once whether the first server serves.
/// Sets this process's `oom_score_adj` (-1000: never chosen by the OOM
/// killer); a failure is logged, not fatal.
pub fn set_oom_score_adj(v: i32) {
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", v.to_string()) {
        tracing::warn!("cannot set oom_score_adj to {v}: {e}");
    }
}

pub fn run(
    mountpoint: &Path,
    state_dir: &Path,
    log_file: bool,
    server: impl Fn(&Path, &Inherited) -> Command,
    report: impl FnOnce(Result<()>),
) -> Result<()> {
    let setup = || -> Result<(SigSet, OwnedFd, std::fs::File)> {
        // Its death takes every guest's disk down, and it holds nearly no
        // memory: the OOM killer picks anything else first (kept across
        // `poolfs upgrade`'s exec).
        set_oom_score_adj(-1000);
        crate::sys::raise_nofile_limit();
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
    let _ = crate::durable::write_atomic(
        &keeper_pid_file(state_dir),
        format!("{}\n", std::process::id()).as_bytes(),
    );
    // Servers run the keeper's own binary to begin with: its inode stays
    // reachable through /proc even after a package replaced the file.
    let binary = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    let current = match keeper.start(&binary).and_then(|s| keeper.await_ready(s)) {
        Ok(s) => {
            report(Ok(()));
            s
        }
        Err(e) => {
            // Unmounted before the waiting `poolfs mount` hears of the
            // failure: when it exits, no mount is left behind.
            keeper.finish(true);
            report(Err(Error::State(e.to_string())));
            return Err(e);
        }
    };
    keeper.serve(&signals, current, binary)
}

/// The keeper after `poolfs upgrade` exec'd it into a new binary: it takes
/// back its descriptors and its running server, and keeps serving.
pub fn resume(
    mountpoint: &Path,
    state_dir: &Path,
    log_file: bool,
    server: impl Fn(&Path, &Inherited) -> Command,
    kept: Kept,
) -> Result<()> {
    let signals = keeper_signals()?;
    let dev = crate::sys::take_inherited(kept.dev)?;
    let journal = crate::sys::take_inherited(kept.journal)?;
    let keeper = Keeper {
        mountpoint,
        state_dir,
        log_file,
        dev: inheritable(dev.as_fd())?,
        journal: inheritable(journal.as_fd())?,
        server: &server,
    };
    let current = Server {
        pid: Pid::from_raw(kept.server),
        ready: None,
    };
    let binary = PathBuf::from(format!("/proc/{}/exe", std::process::id()));
    let exe = std::fs::read_link(&binary).unwrap_or_default();
    tracing::info!(binary = %exe.display(), "the keeper runs the new binary");
    if kept.answer {
        let _ = crate::durable::write_atomic(
            &state_dir.join(UPGRADE_RESULT),
            format!(
                "ok (server pid {}, keeper pid {})\n",
                kept.server,
                std::process::id()
            )
            .as_bytes(),
        );
    }
    // A server that died while the binary was being replaced: its SIGCHLD
    // is still pending (exec keeps it), so the loop sees it.
    keeper.serve(&signals, current, binary)
}

impl<F: Fn(&Path, &Inherited) -> Command> Keeper<'_, F> {
    /// Keeps a server running until the keeper is told to stop.
    fn serve(&self, signals: &SigSet, mut current: Server, mut binary: PathBuf) -> Result<()> {
        let keeper = self;
        let state_dir = self.state_dir;
        let mut crashes: Vec<Instant> = Vec::new();
        let mut stopping = false;
        loop {
            match signals.wait() {
                Ok(Signal::SIGCHLD) => {
                    let Some(st) = current.ended() else {
                        continue;
                    };
                    let success = matches!(st, WaitStatus::Exited(_, 0));
                    let status = describe(&st);
                    if success || stopping {
                        tracing::info!("poolfs server ended ({status}); the keeper exits");
                        keeper.finish(!success);
                        return if success {
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
                    if keeper.on_ring() {
                        // The requests the server held in its ring entries
                        // can be neither answered nor sent again: a
                        // successor would leave their callers waiting in
                        // uninterruptible sleep for ever. The connection ends
                        // with the keeper (they get ECONNABORTED).
                        tracing::error!(
                            "poolfs server died ({status}); the mount served requests over io_uring, which a new server cannot take over (docs/io_uring.md): the mount is removed"
                        );
                        keeper.finish(true);
                        return Err(Error::State(format!(
                            "the poolfs server died ({status}) on an io_uring connection"
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
                        // The keeper follows its server onto the new binary;
                        // the new image answers.
                        Ok(pid) => match keeper.exec(&binary, current.pid) {
                            Err(e) => {
                                tracing::error!("the keeper keeps its binary: {e}");
                                format!("ok (server pid {pid}; the keeper keeps its binary: {e})\n")
                            }
                        },
                        Err(e) => format!("{e}\n"),
                    };
                    let _ = crate::durable::write_atomic(
                        &state_dir.join(UPGRADE_RESULT),
                        text.as_bytes(),
                    );
                }
                Ok(Signal::SIGHUP) => {}
                Ok(sig) => {
                    tracing::info!("{sig}: telling the server to unmount");
                    stopping = true;
                    let _ = nix::sys::signal::kill(current.pid, Signal::SIGTERM);
                }
                Err(e) => return Err(Error::sys("cannot wait for signals")(e)),
            }
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
    /// Replaces the keeper's image by `binary` (the one its server now
    /// runs), keeping its pid, descriptors, signals and server. Returns only
    /// when exec failed; the keeper then goes on as it was.
    fn exec(&self, binary: &Path, server: Pid) -> Result<std::convert::Infallible> {
        use std::ffi::CString;
        // An image that cannot go on as the keeper would end it, and the
        // mount with it: ask the binary first (clap refuses an unknown
        // `--keeper` before it looks at `--help`).
        let takes_over = Command::new(binary)
            .args(["mount", "/", "--keeper", "0,0,0,0", "--help"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !takes_over {
            return Err(Error::Unsupported(format!(
                "'{}' cannot take over a keeper (it has no --keeper)",
                binary.display()
            )));
        }
        let kept = Kept {
            dev: self.dev.as_raw_fd(),
            journal: self.journal.as_raw_fd(),
            server: server.as_raw(),
            answer: true,
        };
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        let mut skip = false;
        for a in std::env::args_os() {
            if std::mem::take(&mut skip) {
                continue;
            }
            if a == "--keeper" {
                skip = true;
                continue;
            }
            args.push(a);
        }
        args.push("--keeper".into());
        args.push(kept.to_string().into());
        let cstr = |o: std::ffi::OsString| {
            CString::new(o.into_vec()).map_err(|_| Error::Invalid("an argument holds a NUL".into()))
        };
        let argv = args.into_iter().map(cstr).collect::<Result<Vec<_>>>()?;
        let path = cstr(binary.as_os_str().to_owned())?;
        tracing::info!(binary = %binary.display(), "upgrade: the keeper execs the new binary");
        nix::unistd::execv(&path, &argv).map_err(Error::sys("cannot exec the new binary"))
    }

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
        let _ = crate::durable::write_atomic(
            &server_pid_file(self.state_dir),
            format!("{}\n", child.id()).as_bytes(),
        );
        tracing::info!(pid = child.id(), binary = %binary.display(), "poolfs server started");
        // Reaped by pid (`Server::ended`): a keeper exec'd into a new
        // binary has the same child and no `Child` for it.
        let pid = Pid::from_raw(child.id() as i32);
        drop(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("keeper-ready".into())
            .spawn(move || {
                let mut msg = String::new();
                let _ = std::fs::File::from(ready_rd).read_to_string(&mut msg);
                let _ = tx.send(msg);
            })
            .map_err(Error::io("cannot start a thread"))?;
        Ok(Server {
            pid,
            ready: Some(rx),
        })
    }

    /// Waits until `s` serves; a server that fails is stopped.
    fn await_ready(&self, s: Server) -> Result<Server> {
        let msg = s
            .ready
            .as_ref()
            .and_then(|r| r.recv_timeout(SERVE_TIMEOUT).ok())
            .unwrap_or_default();
        if msg.starts_with("ok") {
            return Ok(s);
        }
        s.kill();
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
        if self.on_ring() {
            return Err(Error::Unsupported(
                "the mount serves requests over io_uring, which a new server cannot take over (docs/io_uring.md); nothing was changed: remount with --transport devfuse to upgrade in place".into(),
            ));
        }
        if !new.is_file() {
            return Err(Error::NotFound(format!(
                "'{}' is not a file; nothing was changed",
                new.display()
            )));
        }
        tracing::info!(binary = %new.display(), "upgrade: replacing the server");
        // The old server goes at once: what it read and did not answer is
        // sent again to the new one, which takes over from the journal.
        current.kill();
        match self.start(&new).and_then(|s| self.await_ready(s)) {
            Ok(s) => {
                *current = s;
                *binary = new;
                tracing::info!(pid = current.pid.as_raw(), "upgrade done");
                Ok(current.pid.as_raw() as u32)
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
    /// The server's INIT switched the connection to FUSE-over-io_uring.
    fn on_ring(&self) -> bool {
        match crate::sys::dup(self.journal.as_fd()) {
            Ok(fd) => crate::journal::on_ring(&std::fs::File::from(fd)),
            Err(_) => false,
        }
    }

    fn finish(&self, unmount_tree: bool) {
        if unmount_tree {
            unmount(self.mountpoint);
        }
        let _ = std::fs::remove_file(server_pid_file(self.state_dir));
        let _ = std::fs::remove_file(keeper_pid_file(self.state_dir));
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
