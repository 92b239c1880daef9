//! A real NFS server for tests: NFS-Ganesha (VFS backend) in the foreground
//! on loopback, exporting a temp directory on its own ports, NFSv3 and v4.
//!
//! NFSv3 makes Ganesha register with rpcbind, and rpcbind takes one server
//! per program: servers with NFSv3 run one at a time (a process-wide lock
//! held by the fixture; NFSv4-only servers register nothing and need not), and rpcbind is started here when nothing answers on port 111
//! (and stopped with the last server). `Drop` kills the server even when
//! the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static RPCBIND: Mutex<Option<Child>> = Mutex::new(None);

pub struct Ganesha {
    pub dir: PathBuf,
    pub export: PathBuf,
    pub port: u16,
    pub mount_port: u16,
    /// Serves NFSv4 only: no MOUNT protocol, no rpcbind registration.
    pub v4_only: bool,
    /// Where it listens: loopback, or an address in network namespace
    /// `netns` (tests/common/netns.rs).
    pub addr: String,
    pub netns: Option<String>,
    child: Option<Child>,
    _one: Option<MutexGuard<'static, ()>>,
}

fn ensure_rpcbind() {
    let mut g = RPCBIND.lock().unwrap_or_else(|e| e.into_inner());
    if TcpStream::connect("127.0.0.1:111").is_ok() {
        return;
    }
    let child = Command::new("rpcbind")
        .args(["-f", "-w"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rpcbind (scripts/install-test-deps.sh installs it)");
    *g = Some(child);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect("127.0.0.1:111").is_err() {
        assert!(Instant::now() < deadline, "rpcbind did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Ganesha {
    /// Serves `export` (created if missing) over NFSv3 and v4; state files go to `dir`.
    pub fn start(dir: &Path, export: &Path) -> Ganesha {
        Self::start_with(dir, export, false)
    }

    /// As many exports are: NFSv4 only, nothing registered with rpcbind.
    pub fn start_v4_only(dir: &Path, export: &Path) -> Ganesha {
        Self::start_with(dir, export, true)
    }

    /// NFSv4 only, listening on `addr`:2049 in network namespace `netns`
    /// (the hosts of a multi-host test reach it there).
    pub fn start_in_netns(dir: &Path, export: &Path, netns: &str, addr: &str) -> Ganesha {
        Self::start_at(dir, export, true, Some((netns, addr)))
    }

    fn start_with(dir: &Path, export: &Path, v4_only: bool) -> Ganesha {
        Self::start_at(dir, export, v4_only, None)
    }

    fn start_at(dir: &Path, export: &Path, v4_only: bool, ns: Option<(&str, &str)>) -> Ganesha {
        let one = (!v4_only).then(|| ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner()));
        if !v4_only {
            ensure_rpcbind();
        }
        let protocols = if v4_only { "4" } else { "3, 4" };
        fs::create_dir_all(export).unwrap();
        fs::create_dir_all(dir.join("recovery")).unwrap();
        let (mut port, mount_port, nlm, rquota) = (
            crate::common::free_port(),
            crate::common::free_port(),
            crate::common::free_port(),
            crate::common::free_port(),
        );
        let addr = ns.map_or("127.0.0.1", |(_, a)| a).to_string();
        if ns.is_some() {
            port = 2049;
        }
        let conf = format!(
            r#"NFS_CORE_PARAM {{
    NFS_Port = {port}; MNT_Port = {mount_port}; NLM_Port = {nlm}; Rquota_Port = {rquota};
    Bind_Addr = {addr}; Protocols = {protocols}; Enable_NLM = false; Enable_RQUOTA = false;
}}
NFSV4 {{
    Graceless = true; Lease_Lifetime = 10; Minor_Versions = 0, 1, 2;
    RecoveryBackend = fs; RecoveryRoot = "{rec}";
}}
MDCACHE {{ Dir_Chunk = 0; }}
EXPORT {{
    Export_Id = 1; Path = "{export}"; Pseudo = "{export}";
    Protocols = {protocols}; Transports = TCP; Access_Type = RW;
    Squash = No_Root_Squash; SecType = sys;
    Attr_Expiration_Time = 0;
    FSAL {{ Name = VFS; }}
}}
"#,
            rec = dir.join("recovery").display(),
            export = export.display(),
        );
        fs::write(dir.join("ganesha.conf"), conf).unwrap();
        let mut g = Ganesha {
            dir: dir.to_path_buf(),
            export: export.to_path_buf(),
            port,
            mount_port,
            v4_only,
            addr,
            netns: ns.map(|(n, _)| n.to_string()),
            child: None,
            _one: one,
        };
        g.spawn();
        g
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none());
        let log = self.dir.join("ganesha.log");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "ganesha.nfsd"]);
                c
            }
            None => Command::new("ganesha.nfsd"),
        };
        let child = cmd
            .arg("-F")
            .arg("-f")
            .arg(self.dir.join("ganesha.conf"))
            .arg("-L")
            .arg(&log)
            .arg("-p")
            .arg(self.dir.join("ganesha.pid"))
            .args(["-N", "NIV_EVENT"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ganesha.nfsd (scripts/install-test-deps.sh installs nfs-ganesha)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if self.listening() {
                return;
            }
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "ganesha.nfsd exited ({st}); log:\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "ganesha.nfsd did not listen within 30 s; log:\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        if let Some(c) = &self.child {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(c.id() as i32), sig);
        }
    }

    /// SIGKILL: the server dies without a word.
    pub fn kill(&mut self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Whether the server accepts connections (from its namespace).
    fn listening(&self) -> bool {
        match &self.netns {
            Some(ns) => Command::new("ip")
                .args(["netns", "exec", ns, "bash", "-c"])
                .arg(format!("exec 3<>/dev/tcp/{}/{}", self.addr, self.port))
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            None => {
                TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                    && (self.v4_only || TcpStream::connect(("127.0.0.1", self.mount_port)).is_ok())
            }
        }
    }

    /// Starts the server again on the same ports and export.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// SIGSTOP: connections stay open, nothing answers. Returns once every
    /// thread of the server is stopped (a signal takes effect a moment after
    /// kill(2) returns, and a thread still running could answer meanwhile).
    pub fn freeze(&self) {
        self.signal(nix::sys::signal::Signal::SIGSTOP);
        let Some(c) = &self.child else { return };
        let tasks = format!("/proc/{}/task", c.id());
        let stopped = || {
            fs::read_dir(&tasks).is_ok_and(|d| {
                d.flatten().all(|t| {
                    fs::read_to_string(t.path().join("stat")).is_ok_and(|st| {
                        st.rsplit_once(')')
                            .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
                    })
                })
            })
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !stopped() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn thaw(&self) {
        self.signal(nix::sys::signal::Signal::SIGCONT);
    }

    /// A `netfs` pool definition for this server (userspace client, so no
    /// target; NFSv3 unless `version` says otherwise).
    pub fn pool_config(&self, version: Option<&str>, timeout: u64) -> String {
        let mut c = format!(
            "type = \"netfs\"\nsource = \"{}:{}\"\nclient = \"userspace\"\nport = {}\ntimeout = {timeout}\n",
            self.addr,
            self.export.display(),
            self.port,
        );
        if !self.v4_only {
            c.push_str(&format!("mount_port = {}\n", self.mount_port));
        }
        if let Some(v) = version {
            c.push_str(&format!("version = \"{v}\"\n"));
        }
        c
    }
}

impl Drop for Ganesha {
    fn drop(&mut self) {
        self.kill();
        // The NFSv3 server gone (one runs at a time): stop the rpcbind this
        // fixture started; an NFSv4-only server never needed it.
        if self._one.is_none() {
            return;
        }
        if let Some(mut r) = RPCBIND.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = r.kill();
            let _ = r.wait();
        }
    }
}
