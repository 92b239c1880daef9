//! libvirt on top of poolfs (issue 7): Debian's libvirtd, started by hand as
//! the reference's recipe does (a `libvirt-qemu` user, `qemu.conf` with
//! user/group root, `libvirtd --daemon -f <conf> -p <pidfile>`), manages a
//! libvirt `dir` pool whose target is a running poolfs pool directory. Every
//! storage verb a hypervisor host uses must succeed, including the two that
//! fail on bindfs: a raw `vol-clone` (bindfs answers an unsupported ioctl with
//! data) and a sparse `vol-download` (bindfs has no SEEK_HOLE). The virsh
//! transcript is printed (`cargo test --test libvirt -- --nocapture`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Fixture, have_tool, run, scratch};

const MIB: u64 = 1 << 20;
const URI: &str = "qemu:///system";
const POOL: &str = "poolfs-lvtest";

/// libvirtd started for one test and stopped by PID on drop, even when the
/// test fails; the test's pool definition is removed first. All libvirtds
/// share /run/libvirt/libvirt-sock, so a lock file keeps test processes
/// (this binary run twice, or two checkouts) from overlapping; a libvirtd
/// that already answers (a system one) is used and left running.
struct Libvirtd {
    dir: PathBuf,
    pid: Option<i32>,
    _lock: File,
}

impl Libvirtd {
    fn start(dir: &Path) -> Libvirtd {
        fs::create_dir_all("/var/tmp/poolfs-tests").unwrap();
        let lock = File::create("/var/tmp/poolfs-tests/libvirtd.lock").unwrap();
        // SAFETY: flock on a descriptor we own; released when `lock` closes.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
        if virsh_raw(&["version"]).0 {
            println!("NOTE: a libvirtd is already running; using it and leaving it running");
            return Libvirtd {
                dir: dir.to_path_buf(),
                pid: None,
                _lock: lock,
            };
        }
        // Debian's libvirtd resolves its compiled-in qemu user before it
        // reads qemu.conf (reference section 1).
        if !common::sh("getent passwd libvirt-qemu").0 {
            run(
                "useradd --system --no-create-home --home-dir /var/lib/libvirt \
                 --shell /usr/sbin/nologin --user-group libvirt-qemu",
            );
        }
        let qconf = Path::new("/etc/libvirt/qemu.conf");
        let text = fs::read_to_string(qconf).unwrap_or_default();
        let active = |k: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(k) && l.contains('='))
        };
        if !active("user") && !active("group") {
            fs::create_dir_all("/etc/libvirt").unwrap();
            let mut t = text.clone();
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            t.push_str("# added by poolfs tests/libvirt.rs: qemu runs as root on test machines\n");
            t.push_str("user = \"root\"\ngroup = \"root\"\n");
            fs::write(qconf, t).unwrap();
        }
        let conf = dir.join("libvirtd.conf");
        let log = dir.join("libvirtd.log");
        let pidfile = dir.join("libvirtd.pid");
        fs::write(&conf, format!("log_outputs=\"3:file:{}\"\n", log.display())).unwrap();
        let st = Command::new("libvirtd")
            .arg("--daemon")
            .arg("-f")
            .arg(&conf)
            .arg("-p")
            .arg(&pidfile)
            .status()
            .unwrap();
        let log_text = || fs::read_to_string(&log).unwrap_or_default();
        assert!(
            st.success(),
            "libvirtd --daemon failed ({st}); log:\n{}",
            log_text()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = loop {
            if let Some(pid) = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "no pidfile; log:\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let d = Libvirtd {
            dir: dir.to_path_buf(),
            pid: Some(pid),
            _lock: lock,
        };
        loop {
            let (ok, _, _) = virsh_raw(&["version"]);
            if ok {
                break;
            }
            assert!(
                Instant::now() < deadline && alive(pid),
                "libvirtd does not answer; log:\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        d
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("libvirtd.log")).unwrap_or_default()
    }
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        let _ = virsh_raw(&["pool-destroy", POOL]);
        let _ = virsh_raw(&["pool-undefine", POOL]);
        let Some(raw) = self.pid else { return };
        let pid = nix::unistd::Pid::from_raw(raw);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while alive(raw) {
            if Instant::now() > deadline {
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Running, not a zombie waiting for its reaper.
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}

/// virsh with a 120 s timeout; (success, stdout, stderr).
fn virsh_raw(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("timeout")
        .arg("120")
        .arg("virsh")
        .arg("-c")
        .arg(URI)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs virsh commands that must succeed and keeps the transcript.
struct Virsh<'a> {
    daemon: &'a Libvirtd,
    transcript: String,
}

impl Virsh<'_> {
    fn ok(&mut self, args: &[&str]) -> String {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                if a.contains(' ') {
                    format!("'{a}'")
                } else {
                    a.to_string()
                }
            })
            .collect();
        let (ok, out, err) = virsh_raw(args);
        let mut entry = format!("$ virsh {}\n", shown.join(" "));
        for l in out
            .lines()
            .chain(err.lines())
            .filter(|l| !l.trim().is_empty())
        {
            entry.push_str(l);
            entry.push('\n');
        }
        if !ok {
            entry.push_str("[failed]\n");
        }
        print!("{entry}");
        self.transcript.push_str(&entry);
        assert!(
            ok,
            "virsh {} failed\nstdout:\n{out}\nstderr:\n{err}\nlibvirtd log:\n{}",
            shown.join(" "),
            self.daemon.log()
        );
        out
    }
}

/// A `Key:   N bytes` or `Key:   N` line of virsh output.
fn field(text: &str, key: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key} in:\n{text}"))
}

/// One `key: value` of `<pool>/.vol/<vol>/info`.
fn vol_info(fx: &Fixture, vol: &str, key: &str) -> String {
    let text = fx.read(format!("default/.vol/{vol}/info"));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key} in .vol/{vol}/info:\n{text}"))
        .to_string()
}

fn vol_num(fx: &Fixture, vol: &str, key: &str) -> u64 {
    vol_info(fx, vol, key).parse().unwrap()
}

fn allocated(p: &Path) -> u64 {
    fs::metadata(p).unwrap().blocks() * 512
}

/// 64 MiB with 4 MiB of data at 10 MiB and 1 MiB at 50 MiB (the reference's
/// upload/download source).
fn sparse_source(p: &Path) {
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(p)
        .unwrap();
    f.set_len(64 * MIB).unwrap();
    let mut x: u32 = 0x1234_5678;
    let mut chunk = vec![0u8; MIB as usize];
    for (i, off) in [10u64, 11, 12, 13, 50].iter().enumerate() {
        for b in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = (x as u8) | 1;
        }
        chunk[0] = i as u8 + 1;
        f.write_all_at(&chunk, off * MIB).unwrap();
    }
    f.sync_all().unwrap();
}

fn same_bytes(a: &Path, b: &Path) {
    run(&format!("cmp '{}' '{}'", a.display(), b.display()));
}

#[test]
fn libvirt_dir_pool_on_a_poolfs_pool() {
    require_mount!();
    if !have_tool("libvirtd") || !have_tool("virsh") || !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let work = scratch();
    let target = fx.pool("default");
    let target_s = target.display().to_string();
    // A volume that exists before libvirt looks: 64 MiB with 1 MiB of data.
    let seed = target.join("seed.raw");
    {
        let f = File::create(&seed).unwrap();
        f.set_len(64 * MIB).unwrap();
        f.write_all_at(&vec![0x5au8; MIB as usize], 10 * MIB)
            .unwrap();
    }

    let daemon = Libvirtd::start(work.path());
    println!("==== virsh transcript (libvirt dir pool on <mount>/default) ====");
    let mut v = Virsh {
        daemon: &daemon,
        transcript: String::new(),
    };
    // A definition left behind by an earlier, killed run.
    let _ = virsh_raw(&["pool-destroy", POOL]);
    let _ = virsh_raw(&["pool-undefine", POOL]);

    v.ok(&["version"]);
    v.ok(&["pool-define-as", POOL, "dir", "--target", &target_s]);
    v.ok(&["pool-start", POOL]);
    let pinfo = v.ok(&["pool-info", POOL, "--bytes"]);
    assert_eq!(
        field(&pinfo, "Capacity"),
        fx.info("default", "capacity").parse::<u64>().unwrap(),
        "libvirt's pool capacity is poolfs's"
    );
    let list = v.ok(&["vol-list", POOL, "--details"]);
    assert!(list.contains("seed.raw"), "{list}");
    let vi = v.ok(&["vol-info", "seed.raw", "--pool", POOL, "--bytes"]);
    assert_eq!(field(&vi, "Capacity"), vol_num(&fx, "seed.raw", "capacity"));
    assert_eq!(
        field(&vi, "Allocation"),
        vol_num(&fx, "seed.raw", "allocation")
    );
    assert_eq!(field(&vi, "Allocation"), MIB);

    // Creation: raw sparse, raw fully allocated, qcow2.
    v.ok(&[
        "vol-create-as",
        POOL,
        "sparse.raw",
        "64M",
        "--allocation",
        "0",
    ]);
    v.ok(&["vol-create-as", POOL, "full.raw", "64M"]);
    v.ok(&[
        "vol-create-as",
        POOL,
        "disk.qcow2",
        "1G",
        "--format",
        "qcow2",
    ]);
    assert_eq!(vol_num(&fx, "sparse.raw", "allocation"), 0);
    assert!(vol_num(&fx, "full.raw", "allocation") >= 64 * MIB);
    assert_eq!(vol_info(&fx, "disk.qcow2", "format"), "qcow2");
    assert_eq!(vol_num(&fx, "disk.qcow2", "capacity"), 1 << 30);
    // A volume created behind libvirt's back shows up after a refresh.
    File::create(target.join("behind.raw"))
        .unwrap()
        .set_len(32 * MIB)
        .unwrap();
    v.ok(&["pool-refresh", POOL]);
    let list = v.ok(&["vol-list", POOL, "--details"]);
    for name in [
        "seed.raw",
        "sparse.raw",
        "full.raw",
        "disk.qcow2",
        "behind.raw",
    ] {
        assert!(list.contains(name), "{name} missing:\n{list}");
    }
    for name in [
        "seed.raw",
        "sparse.raw",
        "full.raw",
        "disk.qcow2",
        "behind.raw",
    ] {
        let vi = v.ok(&["vol-info", name, "--pool", POOL, "--bytes"]);
        assert_eq!(
            (field(&vi, "Capacity"), field(&vi, "Allocation")),
            (
                vol_num(&fx, name, "capacity"),
                vol_num(&fx, name, "allocation")
            ),
            "{name}: libvirt's (capacity, allocation) against .vol/{name}/info"
        );
    }

    // Clones: raw (breaks on bindfs: its ioctl answer corrupts libvirt's
    // stack) and qcow2.
    v.ok(&["vol-clone", "seed.raw", "seed-clone.raw", "--pool", POOL]);
    same_bytes(&seed, &target.join("seed-clone.raw"));
    assert!(
        allocated(&target.join("seed-clone.raw")) <= 2 * MIB,
        "the raw clone stays sparse: {} bytes allocated",
        allocated(&target.join("seed-clone.raw"))
    );
    v.ok(&[
        "vol-clone",
        "disk.qcow2",
        "disk-clone.qcow2",
        "--pool",
        POOL,
    ]);
    run(&format!(
        "qemu-img check -q '{}'",
        target.join("disk-clone.qcow2").display()
    ));
    assert_eq!(vol_num(&fx, "disk-clone.qcow2", "capacity"), 1 << 30);

    // Resize: raw grow and shrink, qcow2 grow.
    v.ok(&["vol-resize", "sparse.raw", "128M", "--pool", POOL]);
    assert_eq!(vol_num(&fx, "sparse.raw", "capacity"), 128 * MIB);
    v.ok(&[
        "vol-resize",
        "sparse.raw",
        "96M",
        "--shrink",
        "--pool",
        POOL,
    ]);
    assert_eq!(vol_num(&fx, "sparse.raw", "capacity"), 96 * MIB);
    v.ok(&["vol-resize", "disk.qcow2", "2G", "--pool", POOL]);
    assert_eq!(vol_num(&fx, "disk.qcow2", "capacity"), 2 << 30);
    run(&format!(
        "qemu-img check -q '{}'",
        target.join("disk.qcow2").display()
    ));

    // Upload: plain and sparse.
    let src = work.path().join("src.img");
    sparse_source(&src);
    let src_s = src.display().to_string();
    v.ok(&["vol-upload", "full.raw", &src_s, "--pool", POOL]);
    same_bytes(&src, &target.join("full.raw"));
    v.ok(&["vol-create-as", POOL, "up.raw", "64M", "--allocation", "0"]);
    v.ok(&["vol-upload", "up.raw", &src_s, "--pool", POOL, "--sparse"]);
    same_bytes(&src, &target.join("up.raw"));
    let up_alloc = vol_num(&fx, "up.raw", "allocation");
    assert!(
        up_alloc <= 6 * MIB,
        "a sparse upload keeps holes: {up_alloc} bytes allocated"
    );

    // Sparse download (not sparse on bindfs: no SEEK_HOLE there).
    let dl = work.path().join("download.img");
    let dl_s = dl.display().to_string();
    v.ok(&["vol-download", "up.raw", &dl_s, "--pool", POOL, "--sparse"]);
    same_bytes(&src, &dl);
    assert!(
        allocated(&dl) <= 6 * MIB,
        "vol-download --sparse wrote {} allocated bytes for 5 MiB of data",
        allocated(&dl)
    );
    println!(
        "# download.img: {} bytes, {} allocated (st_blocks*512)",
        fs::metadata(&dl).unwrap().len(),
        allocated(&dl)
    );

    // Wipe: a sparse volume (truncate to 0 and back) and an allocated one
    // (zeros written).
    v.ok(&["vol-wipe", "up.raw", "--pool", POOL]);
    v.ok(&["vol-wipe", "full.raw", "--pool", POOL]);
    for name in ["up.raw", "full.raw"] {
        let p = target.join(name);
        assert_eq!(fs::metadata(&p).unwrap().len(), 64 * MIB, "{name}");
        run(&format!("cmp -n {} '{}' /dev/zero", 64 * MIB, p.display()));
    }
    assert_eq!(vol_num(&fx, "up.raw", "allocation"), 0);

    // Delete: every volume libvirt made.
    let made = [
        "sparse.raw",
        "full.raw",
        "disk.qcow2",
        "seed-clone.raw",
        "disk-clone.qcow2",
        "up.raw",
        "behind.raw",
    ];
    for name in made {
        v.ok(&["vol-delete", name, "--pool", POOL]);
        assert!(!target.join(name).exists(), "{name} still on the mount");
        assert!(
            !fx.backing().join(name).exists(),
            "{name} still in the backing dir"
        );
    }
    let list = v.ok(&["vol-list", POOL]);
    assert!(
        list.contains("seed.raw") && !list.contains("up.raw"),
        "{list}"
    );
    v.ok(&["pool-destroy", POOL]);
    v.ok(&["pool-undefine", POOL]);
    // poolfs's pool is untouched by libvirt's destroy/undefine.
    assert_eq!(fx.read("default/status").trim(), "running");
    assert!(seed.exists());

    println!(
        "==== end of virsh transcript ({} commands) ====",
        v.transcript.matches("$ virsh").count()
    );
    drop(daemon);
}

/// `_IOR(0x12, 112, size_t)`: libvirt's raw clone asks a volume for its block
/// size with a 4-byte int (reference section 13).
const BLKBSZGET: libc::Ioctl = 0x8008_1270;

/// An unsupported ioctl on a volume fails with ENOTTY and writes nothing: the
/// word next to the 4-byte int stays untouched (bindfs overwrote it, which is
/// what broke libvirt's raw clone).
#[test]
fn unsupported_ioctl_is_enotty_without_payload() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default").join("probe.raw");
    File::create(&p).unwrap().set_len(MIB).unwrap();
    for write in [false, true] {
        let f = OpenOptions::new().read(true).write(write).open(&p).unwrap();
        #[repr(C)]
        struct Probe {
            a: libc::c_int,
            b: libc::c_int,
        }
        let mut s = Probe {
            a: 0x1122_3344,
            b: 0x5566_7788,
        };
        // SAFETY: `s.a` is a valid, writable int for the duration of the call;
        // the point of the test is that nothing beyond it is written.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), BLKBSZGET, &mut s.a as *mut libc::c_int) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        println!(
            "ioctl(BLKBSZGET) on a volume opened {}: rc={rc} errno={errno:?} a={:#x} b={:#x}",
            if write { "O_RDWR" } else { "O_RDONLY" },
            s.a,
            s.b
        );
        assert_eq!(rc, -1);
        assert_eq!(errno, Some(libc::ENOTTY));
        assert_eq!(s.b, 0x5566_7788, "the neighbouring word was overwritten");
        assert_eq!(s.a, 0x1122_3344, "a failed ioctl wrote its argument");
    }
}
