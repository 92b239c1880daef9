//! The FUSE-over-io_uring transport (`poolfs mount --transport uring`):
//! requests travel through the ring, and a crash of its server ends the
//! mount instead of leaving callers waiting for ever (docs/io_uring.md).
//! The rest of the suite runs on it too (scripts/test.sh, the uring round).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use common::*;

const PARAM: &str = "/sys/module/fuse/parameters/enable_uring";

/// The test that turns `enable_uring` off runs alone: the others here hold
/// this shared while they mount (other test binaries run after this one).
static PARAM_USE: RwLock<()> = RwLock::new(());

fn shared_param() -> RwLockReadGuard<'static, ()> {
    PARAM_USE.read().unwrap_or_else(|e| e.into_inner())
}

/// The kernel has FUSE-over-io_uring (Linux 6.14+); mounts are possible.
fn have_ring() -> bool {
    if !can_mount() {
        return false;
    }
    if !Path::new(PARAM).exists() {
        assert!(
            std::env::var_os("POOLFS_REQUIRE_MOUNT").is_none(),
            "this kernel has no FUSE-over-io_uring ({PARAM})"
        );
        return false;
    }
    true
}

/// The kernel's FUSE-over-io_uring is on, and `fx`'s server says the ring
/// serves.
fn assert_serves_on_the_ring(fx: &Fixture) {
    assert_eq!(fs::read_to_string(PARAM).unwrap_or_default().trim(), "Y");
    let log = fx.log();
    assert!(
        log.lines()
            .any(|l| l.contains("FUSE session initialised") && l.contains("io_uring")),
        "log:\n{log}"
    );
}

fn ring_fixture() -> Fixture {
    Fixture::with_args(&["--transport", "uring", "--io", "daemon"])
}

/// With FUSE-over-io_uring off in the kernel (its default after boot),
/// `--transport uring` turns it on before it mounts: the kernel offers the
/// ring only in the INIT of a mount made while it is on, so a server that
/// turned it on after the mount failed its first start ("the kernel does
/// not offer FUSE-over-io_uring").
#[test]
fn a_ring_mount_starts_with_the_ring_off_in_the_kernel() {
    if !have_ring() {
        return;
    }
    let _alone = PARAM_USE.write().unwrap_or_else(|e| e.into_inner());
    fs::write(PARAM, "N").unwrap();
    let fx = ring_fixture();
    assert_serves_on_the_ring(&fx);
    fs::write(fx.pool("default").join("r.img"), b"ring").unwrap();
    assert_eq!(fs::read(fx.pool("default").join("r.img")).unwrap(), b"ring");
}

#[test]
fn requests_travel_over_io_uring() {
    if !have_ring() {
        return;
    }
    let _param = shared_param();
    let fx = ring_fixture();
    assert_serves_on_the_ring(&fx);
    let pool = fx.pool("default");
    // Data through the daemon path, 1 MiB requests and small ones.
    let src = fx.dir.path().join("src.bin");
    run(&format!("head -c 8388608 /dev/urandom > {}", src.display()));
    run(&format!(
        "dd if={} of={}/v.img bs=1M oflag=direct status=none",
        src.display(),
        pool.display()
    ));
    run(&format!(
        "dd if={} of={}/v.img bs=4k count=64 seek=100 skip=100 conv=notrunc status=none",
        src.display(),
        pool.display()
    ));
    run(&format!("cmp {} {}/v.img", src.display(), pool.display()));
    // Tree changes and control files.
    fs::rename(pool.join("v.img"), pool.join("w.img")).unwrap();
    fx.ctl("default/.vol/w.img/resize", "+1M").unwrap();
    assert_eq!(fs::metadata(pool.join("w.img")).unwrap().len(), 9 << 20);
    assert!(fx.read("default/info").contains("volumes"));
    fs::remove_file(pool.join("w.img")).unwrap();
    assert!(!pool.join("w.img").exists());
    let log = fx.log();
    assert!(
        log.contains("WRITE") && log.contains("thread=fuser-ring-"),
        "no request was served by a ring queue; log:\n{log}"
    );
}

/// A crash cannot be survived on the ring (the requests the server held are
/// never sent again): the keeper ends the connection, so a writer gets an
/// error at once instead of sleeping uninterruptibly for ever, and
/// `poolfs upgrade` is refused while the server runs.
#[test]
fn a_crash_on_io_uring_ends_the_mount_instead_of_hanging() {
    if !have_ring() {
        return;
    }
    let _param = shared_param();
    let mut fx = ring_fixture();
    let up = Command::new(BIN)
        .args(["upgrade", "--mount"])
        .arg(&fx.mnt)
        .arg("--state-dir")
        .arg(&fx.state)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&up.stderr).into_owned() + &String::from_utf8_lossy(&up.stdout);
    assert!(
        !up.status.success() && said.contains("io_uring"),
        "upgrade on the ring: {up:?}"
    );
    let img = fx.pool("default").join("a.img");
    fs::write(&img, b"").unwrap();
    run(&format!("truncate -s 64M {}", img.display()));
    let mut writer = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while dd if=/dev/zero of={} bs=64k count=16 oflag=direct conv=notrunc status=none; do :; done",
            img.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let server = fx.server_pid();
    assert!(server > 0);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let t0 = Instant::now();
    let ended = loop {
        if let Some(st) = writer.try_wait().unwrap() {
            break Some(st);
        }
        if t0.elapsed() > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if ended.is_none() {
        let _ = writer.kill();
    }
    assert!(
        ended.is_some(),
        "the writer still waits 10 s after the crash; log:\n{}",
        fx.log()
    );
    let st = fx.wait_exit(Duration::from_secs(10));
    assert!(st.is_some(), "the keeper did not end; log:\n{}", fx.log());
    assert!(!is_fuse_mount(&fx.mnt), "the mount is still there");
    assert!(
        fx.log().contains("which a new server cannot take over"),
        "log:\n{}",
        fx.log()
    );
}

/// A reply made by a thread that then exits (a lock that had to wait is
/// granted by a thread of its own) leaves the ring serving: the kernel
/// cancels the commands a task submitted when it exits, so only the queue's
/// own thread may submit them.
#[test]
fn a_reply_from_a_short_lived_thread_leaves_the_ring_serving() {
    if !have_ring() {
        return;
    }
    let _param = shared_param();
    let fx = ring_fixture();
    let f = fx.pool("default").join("l.img");
    fs::write(&f, b"x").unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for round in 0..3 {
        // `flock` waits for the holder, and is granted from a lock-wait thread.
        let holder = Command::new("flock")
            .arg(&f)
            .args(["sleep", "0.3"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let waiter = Command::new("timeout")
            .args(["10", "flock"])
            .arg(&f)
            .arg("true")
            .status()
            .unwrap();
        assert!(waiter.success(), "round {round}: the waiting flock failed");
        let _ = holder.wait_with_output();
        // Every queue (one per CPU) still answers.
        for cpu in 0..cpus {
            let out = Command::new("timeout")
                .args(["10", "taskset", "-c", &cpu.to_string(), "stat", "-f"])
                .arg(fx.pool("default"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "round {round}: CPU {cpu}'s queue no longer answers: {out:?}\nlog:\n{}",
                fx.log()
            );
        }
    }
    assert!(!fx.log().contains("connection ended"), "log:\n{}", fx.log());
}

/// A handler that waits for another request of its CPU does not stall: a
/// direct asynchronous write drops the range from the page cache before it
/// is answered, which waits for the pages a concurrent buffered read holds
/// locked until its READ is served. With one thread per CPU's ring queue
/// that READ waited for the write, and the write gave up after the
/// invalidation's 2 s limit.
#[test]
fn a_waiting_handler_leaves_its_queue_serving() {
    if !have_ring() || !have_tool("fio") {
        return;
    }
    let _param = shared_param();
    let fx = ring_fixture();
    let f = fx.pool("default").join("aio.img");
    fs::write(&f, vec![0xffu8; 640 << 10]).unwrap();
    let out = fx.dir.path().join("fio.json");
    // Both jobs on one CPU: their requests go to the same ring queue.
    run(&format!(
        "taskset -c 0 fio --output-format=json --output={} --filename={} --size=640k \
         --time_based --runtime=3 \
         --name=w --rw=write --bs=640k --direct=1 --ioengine=libaio --iodepth=1 \
         --name=r --rw=read --bs=640k --ioengine=psync",
        out.display(),
        f.display()
    ));
    let json = fs::read_to_string(&out).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json[json.find('{').unwrap()..]).unwrap();
    let w = &doc["jobs"][0]["write"];
    let worst_ms = w["clat_ns"]["max"].as_f64().unwrap() / 1e6;
    let writes = w["total_ios"].as_u64().unwrap();
    assert!(
        worst_ms < 1000.0,
        "a write took {worst_ms:.0} ms ({writes} writes in 3 s)"
    );
}
