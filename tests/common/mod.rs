//! Mount fixture for integration tests: a fresh state directory and mountpoint
//! per test, the real `poolfs` binary serving them, polling until the mount
//! answers, and an unmount on `Drop` even when the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod ceph;
pub mod handles;
pub mod locks;
pub mod qemu;

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_poolfs");

/// Mounted tests need root and /dev/fuse. Without them a test is skipped with
/// a printed reason, unless POOLFS_REQUIRE_MOUNT=1 (CI), where it fails.
pub fn can_mount() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let fuse = fs::metadata("/dev/fuse")
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false);
    if root && fuse {
        return true;
    }
    let why = format!("mounted tests need root and /dev/fuse (root={root}, /dev/fuse={fuse})");
    if std::env::var("POOLFS_REQUIRE_MOUNT").as_deref() == Ok("1") {
        panic!("{why}");
    }
    eprintln!("SKIP: {why}");
    false
}

/// Skips (returns from) the calling test when mounting is impossible here.
#[macro_export]
macro_rules! require_mount {
    () => {
        if !common::can_mount() {
            return;
        }
    };
}

/// A tool the test needs; missing tools fail under POOLFS_REQUIRE_MOUNT=1.
pub fn have_tool(name: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        let why = format!("'{name}' is not installed (scripts/install-test-deps.sh installs it)");
        if std::env::var("POOLFS_REQUIRE_MOUNT").as_deref() == Ok("1") {
            panic!("{why}");
        }
        eprintln!("SKIP: {why}");
    }
    ok
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub mnt: PathBuf,
    pub state: PathBuf,
    child: Option<Child>,
    pub extra_args: Vec<String>,
    /// Environment of the daemon (fault injection).
    pub env: Vec<(String, String)>,
    /// A command the daemon runs under (`nsenter --net=...`: another host).
    pub wrap: Vec<String>,
}

/// Scratch space on a real disk filesystem (not tmpfs), next to the pool targets.
/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn scratch() -> tempfile::TempDir {
    fs::create_dir_all("/var/tmp/poolfs-tests").unwrap();
    tempfile::Builder::new()
        .prefix("t")
        .tempdir_in("/var/tmp/poolfs-tests")
        .unwrap()
}

impl Fixture {
    /// Starts poolfs on a fresh state directory (so with its `default` pool).
    pub fn new() -> Fixture {
        Self::with_args(&[])
    }

    pub fn with_args(args: &[&str]) -> Fixture {
        let mut f = Self::unstarted(args);
        f.start();
        f
    }

    /// A started fixture whose server aborts once, right after `op` took
    /// effect and before it replies (`POOLFS_CRASH_AFTER`), once the
    /// returned file exists; the crash removes it.
    pub fn crashing_after(op: &str) -> (Fixture, PathBuf) {
        let mut fx = Self::unstarted(&[]);
        let flag = fx.dir.path().join("crash-once");
        fx.env.push((
            "POOLFS_CRASH_AFTER".into(),
            format!("{op}:{}", flag.display()),
        ));
        fx.start();
        (fx, flag)
    }

    /// A fixture whose daemon is not started yet (the test prepares the
    /// state directory first, then calls `start`).
    pub fn unstarted(args: &[&str]) -> Fixture {
        let dir = scratch();
        let mnt = dir.path().join("mnt");
        let state = dir.path().join("state");
        fs::create_dir_all(&mnt).unwrap();
        Fixture {
            dir,
            mnt,
            state,
            child: None,
            extra_args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            wrap: Vec::new(),
        }
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("poolfs.log"))
            .unwrap();
        let mut cmd = match self.wrap.split_first() {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let child = cmd
            .arg("mount")
            .arg(&self.mnt)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--foreground")
            .arg("--log-level")
            .arg("debug")
            .args(&self.extra_args)
            // Both I/O paths run the whole suite: POOLFS_TEST_IO=passthrough|daemon
            // (a test that names its own `--io` keeps it).
            .args(
                std::env::var("POOLFS_TEST_IO")
                    .ok()
                    .filter(|_| !self.extra_args.iter().any(|a| a == "--io"))
                    .map(|io| vec!["--io".to_string(), io])
                    .unwrap_or_default(),
            )
            // And the io_uring round: POOLFS_TEST_TRANSPORT=uring.
            .args(
                std::env::var("POOLFS_TEST_TRANSPORT")
                    .ok()
                    .filter(|_| !self.extra_args.iter().any(|a| a == "--transport"))
                    .map(|t| vec!["--transport".to_string(), t])
                    .unwrap_or_default(),
            )
            .envs(self.env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_mounted();
    }

    fn wait_mounted(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if is_fuse_mount(&self.mnt) && nix::sys::statvfs::statvfs(&self.mnt).is_ok() {
                return;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                panic!("poolfs exited early ({st}); log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "poolfs did not mount within 15 s; mounts:\n{}\nlog:\n{}",
            fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
            self.log()
        );
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("poolfs.log")).unwrap_or_default()
    }

    /// `<mnt>/<pool>`
    pub fn pool(&self, name: &str) -> PathBuf {
        self.mnt.join(name)
    }

    /// The default pool's backing directory.
    pub fn backing(&self) -> PathBuf {
        self.state.join("pools/default")
    }

    /// Stops the daemon with SIGTERM and waits for it to unmount.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.force_unmount();
    }

    /// SIGTERM, then the exit status; the daemon must unmount by itself.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                panic!("poolfs did not exit within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGTERM and returns at once.
    pub fn send_term(&self) {
        let c = self.child.as_ref().expect("daemon running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
    }

    /// Waits up to `limit` for the daemon to exit; how long it took.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        let c = self.child.as_mut().expect("daemon running");
        while t0.elapsed() < limit {
            if c.try_wait().unwrap().is_some() {
                self.child = None;
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// The pid of the serving process (the keeper's child).
    pub fn server_pid(&self) -> i32 {
        fs::read_to_string(self.state.join("server.pid"))
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Waits until a server other than `old` serves the mount; how long.
    pub fn wait_new_server(&self, old: i32) -> Duration {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(15) {
            let pid = self.server_pid();
            if pid != 0 && pid != old && nix::sys::statvfs::statvfs(&self.mnt).is_ok() {
                return t0.elapsed();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("no new server within 15 s; log:\n{}", self.log());
    }

    /// Kills the server with SIGKILL (a crash; the keeper stays) and waits
    /// for its successor; how long until it served.
    pub fn crash_server(&self) -> Duration {
        let old = self.server_pid();
        assert!(old > 0, "no server.pid; log:\n{}", self.log());
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(old),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        self.wait_new_server(old)
    }

    /// Kills the daemon with SIGKILL, leaving its mount behind (a crash).
    pub fn kill9(&mut self) {
        let server = self.server_pid();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            // The server dies with its keeper (PR_SET_PDEATHSIG): wait for it.
            let t0 = Instant::now();
            while server > 0
                && t0.elapsed() < Duration::from_secs(5)
                && nix::sys::signal::kill(nix::unistd::Pid::from_raw(server), None).is_ok()
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    fn force_unmount(&self) {
        if is_fuse_mount(&self.mnt)
            || matches!(
                nix::sys::stat::stat(&self.mnt),
                Err(nix::errno::Errno::ENOTCONN)
            )
        {
            let _ = nix::mount::umount2(&self.mnt, nix::mount::MntFlags::MNT_DETACH);
        }
    }

    /// Writes one request to a control file, as `echo req > file` does;
    /// the error of `write(2)` or of `close(2)` (where `config` answers).
    pub fn ctl(&self, path: impl AsRef<Path>, req: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(self.mnt.join(path))?;
        f.write_all(format!("{req}\n").as_bytes())?;
        nix::unistd::close(f).map_err(std::io::Error::from)
    }

    pub fn read(&self, path: impl AsRef<Path>) -> String {
        fs::read_to_string(self.mnt.join(path)).unwrap()
    }

    /// One `key: value` line of a pool's `info`.
    pub fn info(&self, pool: &str, key: &str) -> String {
        let text = self.read(format!("{pool}/info"));
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap_or_else(|| panic!("no {key} in info:\n{text}"))
            .to_string()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn is_fuse_mount(p: &Path) -> bool {
    let Ok(canon) = p.canonicalize() else {
        return false;
    };
    let canon = canon.to_string_lossy().replace(' ', "\\040");
    fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            f.len() > 2 && f[1] == canon && f[2].starts_with("fuse")
        })
}

/// False in the io_uring round (POOLFS_TEST_TRANSPORT=uring): a crash of
/// the server ends the mount there instead of being survived
/// (tests/transport.rs, docs/io_uring.md), so tests of takeover skip it.
pub fn survives_crash() -> bool {
    std::env::var("POOLFS_TEST_TRANSPORT").as_deref() != Ok("uring")
}

/// True in the io_uring round: there a request answered later (one that
/// waits on a remote server) holds one of its CPU's ring entries until it
/// is answered (docs/io_uring.md), so more such requests than entries hold
/// up that CPU's other callers whatever the daemon does.
pub fn on_the_ring() -> bool {
    std::env::var("POOLFS_TEST_TRANSPORT").as_deref() == Ok("uring")
}

/// Runs a command, returns (success, stdout, stderr).
pub fn sh(cmd: &str) -> (bool, String, String) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command that must succeed; returns its stdout.
pub fn run(cmd: &str) -> String {
    let (ok, out, err) = sh(cmd);
    assert!(ok, "command failed: {cmd}\nstdout:\n{out}\nstderr:\n{err}");
    out
}

pub fn errno_of<T>(r: std::io::Result<T>) -> Option<i32> {
    r.err().and_then(|e| e.raw_os_error())
}

/// The qemu guest's kernel and initramfs, built once and cached by
/// `scripts/guest-image.sh` (tests/hypervisor.rs, tests/libvirt.rs).
pub fn guest_image() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/guest-image.sh");
    let out = Command::new(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let get = |k: &str| {
        PathBuf::from(
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k} in guest-image.sh output:\n{text}")),
        )
    };
    let (kernel, initrd) = (get("POOLFS_GUEST_KERNEL"), get("POOLFS_GUEST_INITRD"));
    assert!(kernel.is_file() && initrd.is_file());
    (kernel, initrd)
}
