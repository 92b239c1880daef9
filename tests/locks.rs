//! File locks through poolfs hold against the backing file: `flock`,
//! POSIX and OFD `fcntl` locks taken through the mount conflict with locks
//! taken on the backing file by processes that do not use poolfs, both
//! ways, with POSIX close semantics; qemu's image locking behaves as on the
//! backing filesystem; locks survive a server crash. Real mounts, real
//! `flock(1)`, `qemu-system`, `qemu-io`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

mod common;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::locks::{flock_n, lock, rw, test_lock};
use common::{Fixture, survives_crash};

/// Waits up to 5 s for `cond`: the kernel sends a file's RELEASE, which
/// frees its OFD and BSD locks, just after close(2) returns.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(5), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn flock_holds_against_the_backing_file_both_ways() {
    require_mount!();
    if !common::have_tool("flock") {
        return;
    }
    let fx = Fixture::new();
    let (m, b) = (fx.pool("default").join("a.img"), fx.backing().join("a.img"));
    fs::write(&m, b"x").unwrap();

    // The lock's descriptor lives in the process killed below.
    let mut holder = Command::new("sh")
        .arg("-c")
        .arg("exec 9<>\"$0\"; flock -x 9; exec sleep 30")
        .arg(&b)
        .spawn()
        .unwrap();
    let t = Instant::now();
    while flock_n(&b, false) {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "flock(1) never took its lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !flock_n(&m, false),
        "poolfs granted a lock the backing file holds"
    );
    assert!(!flock_n(&m, true));
    holder.kill().unwrap();
    holder.wait().unwrap();
    eventually("still refused once the holder is gone", || {
        flock_n(&m, false)
    });

    // Through poolfs first: the backing file is refused, until it ends.
    let f = fs::File::open(&m).unwrap();
    // SAFETY: flock on an open descriptor.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH) }, 0);
    assert!(!flock_n(&b, false));
    assert!(flock_n(&b, true), "two shared locks must coexist");
    // flock and fcntl locks are independent, as on ext4.
    assert_eq!(lock(&rw(&b), 0, 0, libc::F_WRLCK, true, false), Ok(()));
    drop(f);
    eventually("the lock outlived its file", || flock_n(&b, false));

    // A waiting flock through poolfs gets the lock once it is free.
    let g = fs::File::open(&b).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { libc::flock(g.as_raw_fd(), libc::LOCK_EX) }, 0);
    let waiter = {
        let m = m.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            let ok = Command::new("flock")
                .arg("-w")
                .arg("10")
                .arg(&m)
                .arg("true")
                .status()
                .unwrap();
            (ok.success(), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    drop(g);
    let (ok, took) = waiter.join().unwrap();
    assert!(
        ok && took >= Duration::from_millis(250),
        "waited {took:?}, ok={ok}"
    );
}

#[test]
fn fcntl_locks_hold_against_the_backing_file_with_posix_close_semantics() {
    require_mount!();
    let fx = Fixture::new();
    let (m, b) = (fx.pool("default").join("r.img"), fx.backing().join("r.img"));
    fs::write(&m, vec![0u8; 4096]).unwrap();

    // OFD locks through poolfs: byte ranges, both ways.
    let through = rw(&m);
    let outside = rw(&b);
    lock(&through, 0, 10, libc::F_WRLCK, true, false).unwrap();
    assert_eq!(
        lock(&outside, 5, 1, libc::F_RDLCK, true, false),
        Err(libc::EAGAIN)
    );
    assert_eq!(lock(&outside, 10, 10, libc::F_WRLCK, true, false), Ok(()));
    assert_eq!(
        lock(&rw(&m), 15, 1, libc::F_RDLCK, true, false),
        Err(libc::EAGAIN)
    );
    assert_eq!(test_lock(&rw(&m), 0, 100), libc::F_WRLCK);
    assert_eq!(test_lock(&rw(&m), 20, 100), libc::F_UNLCK);
    // Unlock one range; release at the last close of the other.
    lock(&through, 0, 10, libc::F_UNLCK, true, false).unwrap();
    assert_eq!(lock(&outside, 0, 5, libc::F_WRLCK, true, false), Ok(()));
    lock(&outside, 0, 0, libc::F_UNLCK, true, false).unwrap();
    lock(&through, 100, 10, libc::F_WRLCK, true, false).unwrap();
    drop(through);
    eventually("the OFD lock outlived its file", || {
        lock(&outside, 100, 10, libc::F_WRLCK, true, false).is_ok()
    });
    lock(&outside, 0, 0, libc::F_UNLCK, true, false).unwrap();

    // POSIX locks: a process's locks go when it closes any descriptor of
    // the file, as on ext4 (at once: the kernel waits for FLUSH).
    let posix = rw(&m);
    lock(&posix, 0, 1, libc::F_WRLCK, false, false).unwrap();
    assert_eq!(
        lock(&outside, 0, 1, libc::F_WRLCK, true, false),
        Err(libc::EAGAIN)
    );
    drop(rw(&m));
    assert_eq!(lock(&outside, 0, 1, libc::F_WRLCK, true, false), Ok(()));

    // A waiting POSIX lock through poolfs is granted once the range is free.
    let waiter = {
        let m = m.clone();
        std::thread::spawn(move || {
            let f = rw(&m);
            let t = Instant::now();
            let r = lock(&f, 0, 1, libc::F_WRLCK, true, true);
            (r, t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    lock(&outside, 0, 1, libc::F_UNLCK, true, false).unwrap();
    let (r, took) = waiter.join().unwrap();
    assert_eq!(r, Ok(()));
    assert!(took >= Duration::from_millis(250), "granted after {took:?}");
}

#[test]
fn locks_survive_a_server_crash() {
    require_mount!();
    if !survives_crash() {
        return;
    }
    let fx = Fixture::new();
    let (m, b) = (fx.pool("default").join("c.img"), fx.backing().join("c.img"));
    fs::write(&m, vec![0u8; 4096]).unwrap();
    let held = rw(&m);
    lock(&held, 0, 100, libc::F_WRLCK, true, false).unwrap();
    let bsd = fs::File::open(&m).unwrap();
    // SAFETY: flock on an open descriptor.
    assert_eq!(unsafe { libc::flock(bsd.as_raw_fd(), libc::LOCK_EX) }, 0);
    fx.crash_server();
    fx.crash_server();
    let outside = rw(&b);
    assert_eq!(
        lock(&outside, 50, 1, libc::F_WRLCK, true, false),
        Err(libc::EAGAIN),
        "the byte-range lock was lost with the server"
    );
    assert!(!flock_n(&b, true), "the flock was lost with the server");
    drop(held);
    drop(bsd);
    eventually("the byte-range lock outlived its file", || {
        lock(&outside, 50, 1, libc::F_WRLCK, true, false).is_ok()
    });
    eventually("the flock outlived its file", || flock_n(&b, false));
}

/// qemu's image locking (OFD locks on fixed bytes) through poolfs: a second
/// writer is refused with qemu's own error while a paused qemu holds the
/// image, whether it comes through poolfs or the backing file; once qemu
/// quits it succeeds.
#[test]
fn qemu_image_locking_holds_through_poolfs() {
    require_mount!();
    if !common::have_tool("qemu-system-x86_64") || !common::have_tool("qemu-io") {
        return;
    }
    let fx = Fixture::new();
    let (m, b) = (
        fx.pool("default").join("vm.img"),
        fx.backing().join("vm.img"),
    );
    fs::File::create(&m).unwrap().set_len(16 << 20).unwrap();
    let mut qemu = Command::new("qemu-system-x86_64")
        .args([
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "pc,accel=tcg",
        ])
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", m.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let io = |p: &Path| {
        Command::new("qemu-io")
            .args(["-f", "raw", "-c", "write 0 4k"])
            .arg(p)
            .output()
            .unwrap()
    };
    // qemu takes its locks as it opens the image.
    let t = Instant::now();
    let refused = loop {
        let out = io(&b);
        if !out.status.success() {
            break String::from_utf8_lossy(&out.stderr).to_string();
        }
        if let Some(st) = qemu.try_wait().unwrap() {
            let mut e = String::new();
            std::io::Read::read_to_string(qemu.stderr.as_mut().unwrap(), &mut e).unwrap();
            panic!("qemu ended ({st}): {e}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "qemu never locked the image"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let qemu = Kill(qemu);
    assert!(
        refused.contains("Failed to get") && refused.contains("lock"),
        "{refused}"
    );
    let out = io(&m);
    assert!(
        !out.status.success(),
        "a second writer through poolfs was let in"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("lock"));
    drop(qemu);
    eventually("qemu's locks outlived it", || io(&m).status.success());
    assert!(io(&b).status.success());
}

/// A lock another process took while no server ran (the keeper held back
/// with SIGSTOP after the server died) cannot be taken again: the pool's
/// `last_error` says so, and the other process keeps it.
#[test]
fn a_lock_taken_while_no_server_ran_is_reported_lost() {
    require_mount!();
    if !survives_crash() {
        return;
    }
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let fx = Fixture::new();
    let (m, b) = (fx.pool("default").join("l.img"), fx.backing().join("l.img"));
    fs::write(&m, vec![0u8; 4096]).unwrap();
    let held = rw(&m);
    lock(&held, 0, 10, libc::F_WRLCK, true, false).unwrap();
    let keeper = Pid::from_raw(
        fs::read_to_string(fx.state.join("keeper.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
    let server = Pid::from_raw(fx.server_pid());
    kill(keeper, Signal::SIGSTOP).unwrap();
    kill(server, Signal::SIGKILL).unwrap();
    let outside = rw(&b);
    eventually("the dead server's lock gone", || {
        lock(&outside, 0, 10, libc::F_WRLCK, true, false).is_ok()
    });
    kill(keeper, Signal::SIGCONT).unwrap();
    fx.wait_new_server(server.as_raw());
    assert!(
        fx.info("default", "last_error")
            .contains("could not be taken again"),
        "{}",
        fx.read("default/info")
    );
    assert_eq!(
        lock(&rw(&m), 0, 1, libc::F_WRLCK, true, false),
        Err(libc::EAGAIN),
        "the other process lost its lock"
    );
    drop(held);
}
