//! A real qemu guest on a poolfs volume (issue 7): qemu-system-x86_64 under
//! TCG boots a Debian kernel and a busybox initramfs (scripts/guest-image.sh,
//! cached under /var/tmp/poolfs-guest) whose only disk is a raw or qcow2
//! volume on the mount, with `cache=none,aio=native` and with
//! `cache=writeback`, both with `discard=unmap`. The guest checks a seed the
//! host wrote at offset 0, writes a pattern with O_DIRECT, discards a range
//! and powers off. The host then checks the pattern, sees the discarded range
//! as a hole in the backing file and (qcow2) runs `qemu-img check`. Every
//! guest also runs on the plain backing filesystem (no poolfs) and both boot
//! times are printed (`cargo test --test hypervisor -- --nocapture`).
//! A second qemu on an image in use is refused by qemu's image lock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Fixture, have_tool, run, scratch, survives_crash};
use nix::unistd::{Whence, lseek};

const MIB: u64 = 1 << 20;
const DISK: u64 = 256 * MIB;
/// The host fills this range with data before boot; the guest discards it.
const DISCARD: (u64, u64) = (32, 16);
/// The guest writes its pattern here (MiB offset, MiB length).
const PATTERN: (u64, u64) = (64, 8);
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);

/// One guest at a time: the boot times are compared, and TCG takes a core.
static QEMU: Mutex<()> = Mutex::new(());

fn qemu_lock() -> std::sync::MutexGuard<'static, ()> {
    QEMU.lock().unwrap_or_else(|e| e.into_inner())
}

/// qemu-system-x86_64 and qemu-img are there, else the test is skipped
/// (a failure under POOLFS_REQUIRE_MOUNT=1).
fn have_qemu() -> bool {
    have_tool("qemu-system-x86_64") && have_tool("qemu-img")
}

struct Guest {
    kernel: PathBuf,
    initrd: PathBuf,
}

/// Builds (or finds in the cache) the kernel and initramfs.
fn guest() -> Guest {
    let (kernel, initrd) = common::guest_image();
    Guest { kernel, initrd }
}

fn seed_for(tag: &str) -> String {
    format!("HOSTSEED-{tag}-{:08x}", rand_u32())
}

fn rand_u32() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    t.subsec_nanos() ^ std::process::id().rotate_left(16)
}

/// The bytes the guest writes: "pattern <seed>\n" repeated.
fn expected_pattern(seed: &str) -> Vec<u8> {
    let line = format!("pattern {seed}\n");
    line.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take((PATTERN.1 * MIB) as usize)
        .collect()
}

/// A raw disk: the seed at 0 and data (0xab) over the range the guest will
/// discard.
fn write_raw_template(path: &Path, seed: &str) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap();
    f.set_len(DISK).unwrap();
    f.write_all_at(seed.as_bytes(), 0).unwrap();
    let chunk = vec![0xabu8; MIB as usize];
    for i in 0..DISCARD.1 {
        f.write_all_at(&chunk, (DISCARD.0 + i) * MIB).unwrap();
    }
    f.sync_all().unwrap();
}

/// The first data offset in `[start, end)` of a file, `None` when it is a hole.
fn data_in(path: &Path, start: u64, end: u64) -> Option<u64> {
    let f = File::open(path).unwrap();
    match lseek(f.as_fd(), start as i64, Whence::SeekData) {
        Ok(pos) if (pos as u64) < end => Some(pos as u64),
        Ok(_) | Err(nix::errno::Errno::ENXIO) => None,
        Err(e) => panic!("SEEK_DATA on {}: {e}", path.display()),
    }
}

/// Host ranges (offset, length) of the qcow2 clusters holding the guest range
/// `[start, start+len)`, from `qemu-img map`.
fn qcow2_host_ranges(img: &Path, start: u64, len: u64) -> Vec<(u64, u64)> {
    let json = run(&format!(
        "qemu-img map -f qcow2 --output=json '{}'",
        img.display()
    ));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut out = Vec::new();
    for e in v.as_array().unwrap() {
        let (s, l) = (e["start"].as_u64().unwrap(), e["length"].as_u64().unwrap());
        let (a, b) = (s.max(start), (s + l).min(start + len));
        if a >= b || e["data"].as_bool() != Some(true) {
            continue;
        }
        let off = e["offset"].as_u64().unwrap();
        out.push((off + (a - s), b - a));
    }
    out
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fmt {
    Raw,
    Qcow2,
}

impl Fmt {
    fn name(self) -> &'static str {
        match self {
            Fmt::Raw => "raw",
            Fmt::Qcow2 => "qcow2",
        }
    }
}

fn drive(img: &Path, fmt: Fmt, cache: &str) -> String {
    let cache = match cache {
        "none" => "cache=none,aio=native",
        "writeback" => "cache=writeback",
        other => panic!("cache mode {other}"),
    };
    format!(
        "file={},format={},if=virtio,{cache},discard=unmap",
        img.display(),
        fmt.name()
    )
}

fn qemu_cmd(g: &Guest, drive: &str, append: &str) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    c.args(["-machine", "q35,accel=tcg", "-m", "256"])
        .args(["-nographic", "-no-reboot", "-nic", "none"])
        .arg("-kernel")
        .arg(&g.kernel)
        .arg("-initrd")
        .arg(&g.initrd)
        .arg("-append")
        .arg(format!("console=ttyS0 panic=-1 loglevel=3 {append}"))
        .arg("-drive")
        .arg(drive)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Collects a child's stdout and stderr on threads.
fn collect(child: &mut Child) -> Vec<std::thread::JoinHandle<String>> {
    let mut hs = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        hs.push(std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = o.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        }));
    }
    if let Some(mut e) = child.stderr.take() {
        hs.push(std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = e.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        }));
    }
    hs
}

struct Run {
    ok: bool,
    secs: f64,
    console: String,
    stderr: String,
}

/// Runs qemu to its end, killing it after `QEMU_TIMEOUT`.
fn run_qemu(mut cmd: Command) -> Run {
    let t0 = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let hs = collect(&mut child);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if t0.elapsed() > QEMU_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let secs = t0.elapsed().as_secs_f64();
    let mut texts = hs.into_iter().map(|h| h.join().unwrap_or_default());
    let console = texts.next().unwrap_or_default();
    let stderr = texts.next().unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "qemu did not finish within {QEMU_TIMEOUT:?} (killed)\nconsole:\n{console}\nstderr:\n{stderr}"
        );
    };
    Run {
        ok: status.success(),
        secs,
        console,
        stderr,
    }
}

/// The guest lines of a console log.
fn guest_lines(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter_map(|l| l.find("GUEST: ").map(|i| &l[i..]))
        .collect()
}

/// `qemu-img check` of a qcow2 image, and its guest view as a raw file at `out`.
fn flatten(img: &Path, out: &Path) -> PathBuf {
    run(&format!("qemu-img check -f qcow2 '{}'", img.display()));
    run(&format!(
        "qemu-img convert -f qcow2 -O raw '{}' '{}'",
        img.display(),
        out.display()
    ));
    out.to_path_buf()
}

/// The guest's disk as the host reads it (raw): the seed at 0, the guest's
/// pattern, zeros over the discarded range.
fn check_disk(flat: &Path, seed: &str, ctx: &str) {
    let expected = expected_pattern(seed);
    let f = File::open(flat).unwrap();
    let mut buf = vec![0u8; expected.len()];
    f.read_exact_at(&mut buf, PATTERN.0 * MIB).unwrap();
    assert!(buf == expected, "pattern not found on the host: {ctx}");
    let mut seedbuf = vec![0u8; seed.len()];
    f.read_exact_at(&mut seedbuf, 0).unwrap();
    assert_eq!(seedbuf, seed.as_bytes());
    let mut z = vec![0u8; (DISCARD.1 * MIB) as usize];
    f.read_exact_at(&mut z, DISCARD.0 * MIB).unwrap();
    assert!(z.iter().all(|&b| b == 0), "discarded range not zero: {ctx}");
}

/// Checks what the guest said it did (seed read, pattern written and read
/// back, discard, poweroff, no I/O errors); returns the context for messages.
fn check_guest_run(r: &Run, seed: &str, what: &str) -> String {
    let lines = guest_lines(&r.console);
    let ctx = format!(
        "{what}: qemu ok={}\nguest:\n{}\nconsole:\n{}\nstderr:\n{}",
        r.ok,
        lines.join("\n"),
        r.console,
        r.stderr
    );
    assert!(r.ok, "{ctx}");
    assert!(
        lines.contains(&format!("GUEST: seed ok {seed}").as_str()),
        "{ctx}"
    );
    let md5s: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("GUEST: pattern md5 "))
        .collect();
    assert!(!md5s.is_empty(), "no pattern line; {ctx}");
    for md5 in md5s {
        let (want, got) = md5.split_once(" readback md5 ").unwrap();
        assert_eq!(want, got, "the guest read back what it wrote; {ctx}");
    }
    assert!(
        !lines.iter().any(|l| l.contains("FAILED")),
        "a guest operation failed; {ctx}"
    );
    assert!(
        lines.contains(&"GUEST: kernel I/O errors: 0"),
        "the guest's kernel logged I/O errors; {ctx}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("GUEST: discard ok")),
        "{ctx}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("GUEST: poweroff")),
        "{ctx}"
    );
    ctx
}

/// Prepares `dir/vm.img` (raw or qcow2 with the seed and the data to be
/// discarded), boots the guest on it, checks what the guest saw and what is on
/// `backing` (the same file as the host's filesystem sees it). Returns the
/// boot-to-poweroff time.
fn boot_and_check(
    g: &Guest,
    where_: &str,
    img: &Path,
    backing: &Path,
    fmt: Fmt,
    cache: &str,
) -> f64 {
    boot_and_check_with(g, where_, img, backing, fmt, cache, "")
}

/// `boot_and_check` with more kernel arguments for the guest's init.
fn boot_and_check_with(
    g: &Guest,
    where_: &str,
    img: &Path,
    backing: &Path,
    fmt: Fmt,
    cache: &str,
    extra: &str,
) -> f64 {
    let seed = seed_for(&format!("{}-{cache}", fmt.name()));
    let tmp = scratch();
    match fmt {
        Fmt::Raw => write_raw_template(img, &seed),
        Fmt::Qcow2 => {
            let t = tmp.path().join("template.raw");
            write_raw_template(&t, &seed);
            run(&format!(
                "qemu-img convert -f raw -O qcow2 '{}' '{}'",
                t.display(),
                img.display()
            ));
        }
    }
    // Where the to-be-discarded data lies in the host file.
    let host_discard: Vec<(u64, u64)> = match fmt {
        Fmt::Raw => vec![(DISCARD.0 * MIB, DISCARD.1 * MIB)],
        Fmt::Qcow2 => qcow2_host_ranges(img, DISCARD.0 * MIB, DISCARD.1 * MIB),
    };
    let mapped: u64 = host_discard.iter().map(|r| r.1).sum();
    assert_eq!(mapped, DISCARD.1 * MIB, "{host_discard:?}");
    for &(o, l) in &host_discard {
        assert!(
            data_in(backing, o, o + l).is_some(),
            "{where_}: no data at {o}+{l} before boot"
        );
    }

    let append = format!(
        "poolfs.seed={seed} poolfs.pattern={}:{} poolfs.discard={}:{} {extra}",
        PATTERN.0, PATTERN.1, DISCARD.0, DISCARD.1
    );
    let r = run_qemu(qemu_cmd(g, &drive(img, fmt, cache), &append));
    let lines = guest_lines(&r.console);
    let ctx = check_guest_run(&r, &seed, &format!("{where_} {} cache={cache}", fmt.name()));

    // The host sees the pattern.
    let flat = match fmt {
        Fmt::Raw => img.to_path_buf(),
        Fmt::Qcow2 => flatten(img, &tmp.path().join("flat.raw")),
    };
    check_disk(&flat, &seed, &format!("{where_}; {ctx}"));
    // The discarded range is a hole in the backing file.
    for &(o, l) in &host_discard {
        assert_eq!(
            data_in(backing, o, o + l),
            None,
            "{where_}: the discarded range {o}+{l} is still allocated in {}",
            backing.display()
        );
    }
    let m = fs::metadata(backing).unwrap();
    println!(
        "BOOT {:<5} cache={:<9} on {:<6}: {:5.2} s boot-to-poweroff; host file {} bytes, {} allocated; guest: {}",
        fmt.name(),
        cache,
        where_,
        r.secs,
        m.len(),
        m.blocks() * 512,
        lines
            .iter()
            .filter(|l| l.contains("init at") || l.contains("poweroff at") || l.contains("written"))
            .map(|l| l.trim_start_matches("GUEST: "))
            .collect::<Vec<_>>()
            .join("; ")
    );
    r.secs
}

/// The same guest on the plain backing filesystem and on poolfs.
fn guest_case(fmt: Fmt, cache: &str) {
    require_mount!();
    if !have_qemu() {
        return;
    }
    let g = guest();
    let _one = qemu_lock();
    let plain_dir = scratch();
    let name = format!("vm.{}", if fmt == Fmt::Raw { "img" } else { "qcow2" });
    let plain = plain_dir.path().join(&name);
    let t_plain = boot_and_check(&g, "plain", &plain, &plain, fmt, cache);

    let fx = Fixture::new();
    let img = fx.pool("default").join(&name);
    let t_poolfs = boot_and_check(&g, "poolfs", &img, &fx.backing().join(&name), fmt, cache);
    println!(
        "BOOT-TIME {} cache={cache}: plain dir {t_plain:.2} s, poolfs {t_poolfs:.2} s ({:+.0}%)",
        fmt.name(),
        (t_poolfs / t_plain - 1.0) * 100.0
    );
}

/// A guest boots from a qcow2 overlay of a template volume made with
/// `poolfs vol-create-as --backing-vol`: it reads the template's seed
/// through the chain, its writes and discards land in the overlay, the
/// template is left as it was, and it cannot be deleted while the overlay
/// needs it.
#[test]
fn guest_boots_from_an_overlay() {
    require_mount!();
    if !have_qemu() {
        return;
    }
    let g = guest();
    let _one = qemu_lock();
    let fx = Fixture::new();
    let p = fx.pool("default");
    let seed = seed_for("overlay");
    write_raw_template(&p.join("base.img"), &seed);
    let sum = || run(&format!("md5sum < '{}'", p.join("base.img").display()));
    let before = sum();
    let out = Command::new(common::BIN)
        .args([
            "vol-create-as",
            "default",
            "vm.qcow2",
            "--backing-vol",
            "base.img",
        ])
        .env("POOLFS_MOUNT", &fx.mnt)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let img = p.join("vm.qcow2");
    let append = format!(
        "poolfs.seed={seed} poolfs.pattern={}:{} poolfs.discard={}:{}",
        PATTERN.0, PATTERN.1, DISCARD.0, DISCARD.1
    );
    let r = run_qemu(qemu_cmd(&g, &drive(&img, Fmt::Qcow2, "none"), &append));
    let ctx = check_guest_run(&r, &seed, "overlay cache=none");
    let tmp = scratch();
    check_disk(&flatten(&img, &tmp.path().join("flat.raw")), &seed, &ctx);
    assert_eq!(sum(), before, "the template changed");
    assert_eq!(
        common::errno_of(fs::remove_file(p.join("base.img"))),
        Some(libc::EBUSY)
    );
    fs::remove_file(&img).unwrap();
    fs::remove_file(p.join("base.img")).unwrap();
    println!("BOOT qcow2 overlay cache=none on poolfs: {:5.2} s", r.secs);
}

/// A guest doing O_DIRECT I/O (`cache=none`) on its poolfs disk while the
/// server is killed again and again: the guest sees no error, qemu does not
/// stop, and the disk holds what the guest wrote.
#[test]
fn guest_sees_nothing_while_the_server_crashes() {
    require_mount!();
    if !have_qemu() || !survives_crash() {
        return;
    }
    let g = guest();
    let _one = qemu_lock();
    let fx = Fixture::new();
    let img = fx.pool("default").join("vm.img");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let crashes = std::thread::scope(|s| {
        // At most 6 crashes: the keeper gives up on a server that dies
        // more than 10 times in 30 s.
        let crasher = s.spawn(|| {
            let mut n = 0;
            std::thread::sleep(Duration::from_millis(1500));
            while n < 6 && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                fx.crash_server();
                n += 1;
                std::thread::sleep(Duration::from_millis(800));
            }
            n
        });
        boot_and_check_with(
            &g,
            "poolfs, server killed repeatedly",
            &img,
            &fx.backing().join("vm.img"),
            Fmt::Raw,
            "none",
            "poolfs.repeat=80",
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        crasher.join().unwrap()
    });
    println!("server crashes during the guest's run: {crashes}");
    assert!(
        crashes >= 3,
        "only {crashes} crashes during the guest's run"
    );
}

#[test]
fn guest_raw_cache_none() {
    guest_case(Fmt::Raw, "none");
}

#[test]
fn guest_raw_cache_writeback() {
    guest_case(Fmt::Raw, "writeback");
}

#[test]
fn guest_qcow2_cache_none() {
    guest_case(Fmt::Qcow2, "none");
}

#[test]
fn guest_qcow2_cache_writeback() {
    guest_case(Fmt::Qcow2, "writeback");
}

/// The guest on a volume of an `rbd` pool (a throw-away Ceph cluster):
/// raw, `cache=none,aio=native`. The volume is its own "backing file" here:
/// the guest's discard must leave a hole in the image (RBD's write-zeroes
/// deallocates whole objects), which `SEEK_DATA` on the volume shows.
#[test]
fn guest_raw_cache_none_on_an_rbd_volume() {
    require_mount!();
    if !have_qemu() {
        return;
    }
    let Some(ceph) = common::ceph::Ceph::start("rbd") else {
        return;
    };
    let g = guest();
    let _one = qemu_lock();
    let fx = Fixture::new();
    fs::create_dir(fx.mnt.join("ceph")).unwrap();
    fx.ctl("ceph/config", &ceph.pool_config()).unwrap();
    fx.ctl("ceph/status", "start").unwrap();
    let img = fx.pool("ceph").join("vm.img");
    let t = boot_and_check(&g, "rbd", &img, &img, Fmt::Raw, "none");
    println!("BOOT-TIME raw cache=none on an rbd volume: {t:.2} s");
    let info = ceph.rbd("info vm.img");
    assert!(info.contains("size 256 MiB"), "{info}");
}

/// Whether `pid` has `path` open (qemu opens and locks its images at start-up,
/// before the CPUs run).
fn has_open(pid: u32, path: &Path) -> bool {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    rd.flatten()
        .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == path))
}

/// A second qemu on an image that a running (paused) qemu holds is refused by
/// qemu's image locking (OFD locks through the mount).
#[test]
fn second_qemu_is_refused_by_the_image_lock() {
    require_mount!();
    if !have_qemu() {
        return;
    }
    let g = guest();
    let _one = qemu_lock();
    let fx = Fixture::new();
    for fmt in [Fmt::Raw, Fmt::Qcow2] {
        let img = fx.pool("default").join(format!("locked.{}", fmt.name()));
        run(&format!(
            "qemu-img create -q -f {} '{}' 64M",
            fmt.name(),
            img.display()
        ));
        let mut first_cmd = qemu_cmd(&g, &drive(&img, fmt, "none"), "");
        first_cmd.arg("-S");
        let mut first = first_cmd.spawn().unwrap();
        let hs = collect(&mut first);
        let deadline = Instant::now() + Duration::from_secs(30);
        while !has_open(first.id(), &img) {
            if let Ok(Some(st)) = first.try_wait() {
                let out: Vec<String> = hs
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect();
                panic!("the first qemu exited ({st}): {out:?}");
            }
            assert!(
                Instant::now() < deadline,
                "the first qemu never opened {}",
                img.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let second = run_qemu(qemu_cmd(&g, &drive(&img, fmt, "writeback"), ""));
        let _ = first.kill();
        let _ = first.wait();
        drop(hs);
        assert!(
            !second.ok && second.stderr.contains("Failed to get \"write\" lock"),
            "{}: the second qemu was not refused by the lock (ok={}, {:.1} s)\nstderr:\n{}\nconsole:\n{}",
            fmt.name(),
            second.ok,
            second.secs,
            second.stderr,
            second.console
        );
        println!(
            "LOCK {}: second qemu refused in {:.2} s: {}",
            fmt.name(),
            second.secs,
            second
                .stderr
                .lines()
                .find(|l| l.contains("lock"))
                .unwrap_or_default()
        );
        // Once the first qemu is gone, the image opens again.
        run(&format!(
            "qemu-io -f {} -c 'write 0 4k' '{}'",
            fmt.name(),
            img.display()
        ));
    }
}
