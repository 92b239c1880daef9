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

/// The poolfs binary with the fixture's tree; (success, stdout, stderr).
fn poolfs(fx: &Fixture, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(common::BIN)
        .args(args)
        .env("POOLFS_MOUNT", &fx.mnt)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn poolfs_ok(fx: &Fixture, args: &[&str]) -> String {
    let (ok, out, err) = poolfs(fx, args);
    assert!(ok, "poolfs {args:?} failed:\n{out}{err}");
    out
}

/// `text` is valid against libvirt's schema `kind` (storagepool,
/// storagevol): libvirt's own `virt-xml-validate` judges.
fn validates(dir: &Path, text: &str, kind: &str) {
    let f = dir.join(format!("check-{kind}.xml"));
    fs::write(&f, text).unwrap();
    let (ok, out, err) = common::sh(&format!("virt-xml-validate '{}' {kind}", f.display()));
    assert!(ok, "not a valid {kind}:\n{text}\n{out}{err}");
}

/// One `key: value` of a pool's info.
fn info_of(fx: &Fixture, pool: &str, key: &str) -> String {
    fx.info(pool, key)
}

/// Pool and volume XML in and out, judged by libvirt's schemas: dumps
/// validate, a pool defined from XML keeps name, uuid and target and its
/// dump defines the same pool again, volumes are made from XML (raw,
/// qcow2 overlays by backingStore, copies by vol-create-from), and what
/// poolfs cannot do is refused with a sentence, not dropped.
#[test]
fn libvirt_xml_in_and_out() {
    require_mount!();
    if !have_tool("virt-xml-validate") || !have_tool("xmllint") || !have_tool("qemu-img") {
        assert!(
            std::env::var_os("POOLFS_REQUIRE_MOUNT").is_none(),
            "virt-xml-validate, xmllint and qemu-img are needed (scripts/install-test-deps.sh)"
        );
        return;
    }
    let fx = Fixture::new();
    let work = scratch();
    let w = work.path();
    validates(
        w,
        &poolfs_ok(&fx, &["pool-dumpxml", "default"]),
        "storagepool",
    );

    let uuid = "6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f";
    let target = w.join("px");
    let px = w.join("px.xml");
    fs::write(
        &px,
        format!(
            "<pool type='dir'>\n  <name>px</name>\n  <uuid>{uuid}</uuid>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
            target.display()
        ),
    )
    .unwrap();
    validates(w, &fs::read_to_string(&px).unwrap(), "storagepool");
    assert!(
        poolfs_ok(&fx, &["pool-define", px.to_str().unwrap()]).starts_with("Pool px defined from")
    );
    assert_eq!(info_of(&fx, "px", "uuid"), uuid);
    assert_eq!(info_of(&fx, "px", "target"), target.display().to_string());
    let dumped = poolfs_ok(&fx, &["pool-dumpxml", "px"]);
    validates(w, &dumped, "storagepool");
    let config = fx.read("px/config");
    // Round trip: the dump defines the same pool again.
    poolfs_ok(&fx, &["pool-undefine", "px"]);
    let again = w.join("again.xml");
    fs::write(&again, &dumped).unwrap();
    poolfs_ok(&fx, &["pool-define", again.to_str().unwrap()]);
    assert_eq!(fx.read("px/config"), config);
    assert_eq!(info_of(&fx, "px", "uuid"), uuid);
    // pool-create: defined and started (poolfs's pools are persistent).
    poolfs_ok(&fx, &["pool-undefine", "px"]);
    let (ok, _, err) = poolfs(&fx, &["pool-create", again.to_str().unwrap()]);
    assert!(!ok && err.contains("cannot start pool 'px'"), "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(
        !fx.pool("px").exists(),
        "a pool that did not start was left"
    );
    fs::create_dir(&target).unwrap();
    poolfs_ok(&fx, &["pool-create", again.to_str().unwrap()]);
    assert_eq!(info_of(&fx, "px", "state"), "running");
    // A userspace NFS pool (inactive: no server needed) dumps valid XML.
    poolfs_ok(
        &fx,
        &[
            "pool-define-as",
            "nf",
            "netfs",
            "--source",
            "127.0.0.1:/export",
            "--client",
            "userspace",
        ],
    );
    validates(w, &poolfs_ok(&fx, &["pool-dumpxml", "nf"]), "storagepool");
    // Refused, with a sentence naming what.
    for (xml, says) in [
        (
            "<pool type='logical'><name>lv</name><source><name>vg</name></source><target><path>/dev/vg</path></target></pool>",
            "pool type 'logical' is not supported by poolfs",
        ),
        (
            "<pool type='dir'><name>cw</name><features><cow state='no'/></features><target><path>/x</path></target></pool>",
            "poolfs cannot do <features>",
        ),
    ] {
        let f = w.join("bad.xml");
        fs::write(&f, xml).unwrap();
        let (ok, _, err) = poolfs(&fx, &["pool-define", f.to_str().unwrap()]);
        assert!(!ok && err.contains(says), "{xml}: {err}");
    }
    assert!(!fx.pool("lv").exists() && !fx.pool("cw").exists());

    // Volumes.
    let vx = w.join("v.xml");
    fs::write(
        &vx,
        "<volume>\n  <name>base.img</name>\n  <capacity unit='M'>64</capacity>\n  <allocation>0</allocation>\n  <target><format type='raw'/></target>\n</volume>\n",
    )
    .unwrap();
    validates(w, &fs::read_to_string(&vx).unwrap(), "storagevol");
    poolfs_ok(&fx, &["vol-create", "default", vx.to_str().unwrap()]);
    let base = fx.pool("default").join("base.img");
    assert_eq!(fs::metadata(&base).unwrap().len(), 64 * MIB);
    File::options()
        .write(true)
        .open(&base)
        .unwrap()
        .write_all_at(&vec![0x5a; MIB as usize], 3 * MIB)
        .unwrap();
    let dump = poolfs_ok(&fx, &["vol-dumpxml", "base.img", "--pool", "default"]);
    validates(w, &dump, "storagevol");
    assert!(
        dump.contains("<capacity unit='bytes'>67108864</capacity>"),
        "{dump}"
    );
    let ox = w.join("o.xml");
    fs::write(
        &ox,
        format!(
            "<volume type='file'><name>o.qcow2</name><target><format type='qcow2'/></target><backingStore><path>{}</path><format type='raw'/></backingStore></volume>",
            base.display()
        ),
    )
    .unwrap();
    poolfs_ok(&fx, &["vol-create", "default", ox.to_str().unwrap()]);
    let dump = poolfs_ok(&fx, &["vol-dumpxml", "o.qcow2", "--pool", "default"]);
    validates(w, &dump, "storagevol");
    assert!(
        dump.contains(&format!(
            "<backingStore>\n    <path>{}</path>",
            base.display()
        )),
        "{dump}"
    );
    assert_eq!(vol_info(&fx, "o.qcow2", "backing"), "base.img");
    let cx = w.join("c.xml");
    fs::write(
        &cx,
        "<volume><name>copy.raw</name><capacity unit='M'>128</capacity><target><format type='raw'/></target></volume>",
    )
    .unwrap();
    poolfs_ok(
        &fx,
        &[
            "vol-create-from",
            "default",
            cx.to_str().unwrap(),
            "o.qcow2",
        ],
    );
    let copy = fx.pool("default").join("copy.raw");
    assert_eq!(fs::metadata(&copy).unwrap().len(), 128 * MIB);
    run(&format!(
        "qemu-img compare -f qcow2 -F raw '{}' '{}'",
        fx.pool("default").join("o.qcow2").display(),
        copy.display()
    ));
    assert_eq!(
        vol_info(&fx, "copy.raw", "backing"),
        "-",
        "a standalone copy"
    );
    // The small lookups.
    let path = poolfs_ok(&fx, &["vol-path", "base.img", "--pool", "default"]);
    assert_eq!(path.trim(), base.display().to_string());
    assert_eq!(
        poolfs_ok(&fx, &["vol-key", "base.img", "--pool", "default"]),
        path
    );
    assert_eq!(
        poolfs_ok(&fx, &["vol-name", path.trim()]).trim(),
        "base.img"
    );
    assert_eq!(poolfs_ok(&fx, &["vol-pool", path.trim()]).trim(), "default");
    let bad = w.join("bad.xml");
    fs::write(
        &bad,
        "<volume><name>e</name><capacity>1</capacity><encryption format='luks'/></volume>",
    )
    .unwrap();
    let (ok, _, err) = poolfs(&fx, &["vol-create", "default", bad.to_str().unwrap()]);
    assert!(
        !ok && err.contains("poolfs cannot do <encryption>"),
        "{err}"
    );
}

/// virtlogd for one test (libvirt's domains need it), stopped on drop.
struct Virtlogd(Option<i32>);

impl Virtlogd {
    fn start(dir: &Path) -> Virtlogd {
        fs::create_dir_all("/var/log/libvirt/qemu").unwrap();
        if Path::new("/run/libvirt/virtlogd-sock").exists() && common::sh("pgrep -x virtlogd").0 {
            return Virtlogd(None);
        }
        let pidfile = dir.join("virtlogd.pid");
        run(&format!(
            "virtlogd --daemon --pid-file '{}'",
            pidfile.display()
        ));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(pid) = fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return Virtlogd(Some(pid));
            }
            assert!(Instant::now() < deadline, "virtlogd wrote no pidfile");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Virtlogd {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

/// Removes the test's libvirt pools and domain, even when the test fails.
struct LibvirtNames(&'static [&'static str], &'static str);

impl Drop for LibvirtNames {
    fn drop(&mut self) {
        let _ = virsh_raw(&["destroy", self.1]);
        for p in self.0 {
            let _ = virsh_raw(&["pool-destroy", p]);
            let _ = virsh_raw(&["pool-undefine", p]);
        }
    }
}

const IMPORTED: &str = "poolfs-imported";
const SKIPPED: &str = "poolfs-lvskip";
const DOMAIN: &str = "poolfs-voldisk";

/// A host moving to poolfs: libvirt's own pool XML (written here by `virsh
/// pool-define-as`, copied out of /etc/libvirt/storage) is imported with
/// its name, uuid, target and autostart, a type poolfs lacks is skipped
/// with the reason, libvirt's files are left as they were; then
/// `libvirt-pools --define` gives libvirt the pool back on poolfs's
/// directory, and a TCG guest whose only disk is `<disk type='volume'>`
/// naming that pool and a volume boots, writes, and its data is in the
/// poolfs volume.
#[test]
fn libvirt_pools_are_imported_and_guests_name_pool_and_volume() {
    require_mount!();
    if !have_tool("libvirtd") || !have_tool("virsh") || !have_tool("qemu-system-x86_64") {
        return;
    }
    let fx = Fixture::new();
    let work = scratch();
    let w = work.path();
    let daemon = Libvirtd::start(w);
    let _names = LibvirtNames(&[IMPORTED, SKIPPED], DOMAIN);
    let mut v = Virsh {
        daemon: &daemon,
        transcript: String::new(),
    };
    let target = w.join("imported");
    let t = target.to_str().unwrap();
    v.ok(&["pool-define-as", IMPORTED, "dir", "--target", t]);
    v.ok(&["pool-autostart", IMPORTED]);
    v.ok(&[
        "pool-define-as",
        SKIPPED,
        "logical",
        "--source-name",
        "vg0",
        "--target",
        "/dev/vg0",
    ]);
    let uuid = v.ok(&["pool-uuid", IMPORTED]).trim().to_string();
    // libvirt's files as an import finds them on a host.
    let from = w.join("storage");
    fs::create_dir_all(from.join("autostart")).unwrap();
    for p in [IMPORTED, SKIPPED] {
        fs::copy(
            format!("/etc/libvirt/storage/{p}.xml"),
            from.join(format!("{p}.xml")),
        )
        .unwrap();
    }
    std::os::unix::fs::symlink(
        from.join(format!("{IMPORTED}.xml")),
        from.join("autostart").join(format!("{IMPORTED}.xml")),
    )
    .unwrap();
    v.ok(&["pool-undefine", IMPORTED]);
    v.ok(&["pool-undefine", SKIPPED]);
    let before = common::run(&format!(
        "ls -lR --time-style=full-iso '{}' && cat '{}'/*.xml",
        from.display(),
        from.display()
    ));
    let f = from.to_str().unwrap();

    let dry = poolfs_ok(&fx, &["import-libvirt", "--from", f, "--dry-run"]);
    assert!(
        dry.contains(&format!("would define pool {IMPORTED} (autostart)")),
        "{dry}"
    );
    assert!(!fx.pool(IMPORTED).exists(), "a dry run defined a pool");
    let out = poolfs_ok(&fx, &["import-libvirt", "--from", f]);
    println!("{out}");
    assert!(
        out.contains(&format!("defined pool {IMPORTED} (autostart)")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "skipped {SKIPPED}.xml: pool type 'logical' is not supported"
        )),
        "{out}"
    );
    assert_eq!(fx.info(IMPORTED, "uuid"), uuid, "libvirt's uuid kept");
    assert_eq!(fx.info(IMPORTED, "target"), t);
    assert_eq!(fx.info(IMPORTED, "autostart"), "yes");
    let again = poolfs_ok(&fx, &["import-libvirt", "--from", f]);
    assert!(again.contains("poolfs has a pool of that name"), "{again}");
    let after = common::run(&format!(
        "ls -lR --time-style=full-iso '{}' && cat '{}'/*.xml",
        from.display(),
        from.display()
    ));
    assert_eq!(before, after, "libvirt's files changed");

    // The reverse: libvirt gets the pool back, on poolfs's directory.
    fs::create_dir_all(&target).unwrap();
    fs::write(fx.pool(IMPORTED).join("status"), "start").unwrap();
    let printed = poolfs_ok(&fx, &["libvirt-pools", IMPORTED]);
    validates(w, &printed, "storagepool");
    poolfs_ok(&fx, &["libvirt-pools", "--define", IMPORTED]);
    let info = v.ok(&["pool-info", IMPORTED]);
    assert!(info.contains(&uuid) && info.contains("running"), "{info}");
    let xml = v.ok(&["pool-dumpxml", IMPORTED]);
    assert!(
        xml.contains(&format!("<path>{}</path>", fx.pool(IMPORTED).display())),
        "{xml}"
    );

    // A guest that names pool and volume.
    let disk = fx.pool(IMPORTED).join("g.raw");
    let seed = format!("HOSTSEED-VOL-{}", std::process::id());
    {
        let f = File::create(&disk).unwrap();
        f.set_len(64 * MIB).unwrap();
        f.write_all_at(seed.as_bytes(), 0).unwrap();
    }
    v.ok(&["pool-refresh", IMPORTED]);
    let g = common::guest_image();
    let _logd = Virtlogd::start(w);
    let console = w.join("console.log");
    let domain = w.join("domain.xml");
    fs::write(
        &domain,
        format!(
            "<domain type='qemu'>\n  <name>{DOMAIN}</name>\n  <memory unit='MiB'>256</memory>\n  <vcpu>1</vcpu>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n    <kernel>{}</kernel>\n    <initrd>{}</initrd>\n    <cmdline>console=ttyS0 panic=-1 loglevel=3 poolfs.seed={seed} poolfs.pattern=8:4</cmdline>\n  </os>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n  <devices>\n    <disk type='volume' device='disk'>\n      <driver name='qemu' type='raw' cache='none' io='native'/>\n      <source pool='{IMPORTED}' volume='g.raw'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n    <serial type='file'>\n      <source path='{}'/>\n      <target port='0'/>\n    </serial>\n  </devices>\n</domain>\n",
            g.0.display(),
            g.1.display(),
            console.display()
        ),
    )
    .unwrap();
    v.ok(&["create", domain.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(240);
    while virsh_raw(&["domstate", DOMAIN]).0 {
        assert!(
            Instant::now() < deadline,
            "the guest did not power off; console:\n{}",
            fs::read_to_string(&console).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = fs::read_to_string(&console).unwrap_or_default();
    assert!(log.contains(&format!("GUEST: seed ok {seed}")), "{log}");
    let md5s = log
        .lines()
        .find_map(|l| l.split("GUEST: pattern md5 ").nth(1))
        .unwrap_or_else(|| panic!("no pattern line:\n{log}"))
        .split(" readback md5 ")
        .map(str::trim)
        .map(str::to_string)
        .collect::<Vec<_>>();
    assert_eq!(md5s.len(), 2, "{log}");
    assert_eq!(md5s[0], md5s[1], "{log}");
    // The guest's writes are in the poolfs volume.
    let mut written = vec![0u8; 4 * MIB as usize];
    File::open(&disk)
        .unwrap()
        .read_exact_at(&mut written, 8 * MIB)
        .unwrap();
    let line = format!("pattern {seed}\n");
    assert!(
        written.starts_with(line.as_bytes()),
        "no guest data at 8 MiB"
    );
    let on_disk = common::run(&format!(
        "dd if='{}' bs=1M skip=8 count=4 status=none | md5sum | cut -d' ' -f1",
        disk.display()
    ));
    assert_eq!(
        on_disk.trim(),
        md5s[0],
        "the volume holds what the guest wrote"
    );
}
