//! Several hosts on one pool: each "host" is a poolfs daemon in a network
//! namespace of its own (tests/common/netns.rs), with its own mount point
//! and state directory, all serving one userspace NFSv4.1 pool from an
//! NFS-Ganesha in a server namespace (lease 10 s). A partition is a link
//! taken down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/ganesha.rs"]
mod ganesha;
#[path = "common/netns.rs"]
mod netns;

use std::fs;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::locks::{flock_n, ofd_lock, rw, test_lock};
use common::{Fixture, have_tool};
use ganesha::Ganesha;
use netns::Net;

/// The pools' `cache` (seconds): what another host changed shows within it.
const CACHE: u64 = 2;

/// The server and `n` hosts, each with pool `shared` running.
struct Cluster {
    hosts: Vec<Fixture>,
    srv: Ganesha,
    net: Net,
    _dir: tempfile::TempDir,
}

fn cluster(n: usize) -> Option<Cluster> {
    if !have_tool("ganesha.nfsd") || !have_tool("nsenter") || !have_tool("ip") {
        return None;
    }
    let net = Net::new(n);
    let dir = common::scratch();
    let srv = Ganesha::start_in_netns(
        &dir.path().join("ganesha"),
        &dir.path().join("export"),
        &net.server,
        netns::SERVER_ADDR,
    );
    let hosts = net
        .hosts
        .iter()
        .map(|ns| {
            let mut fx = Fixture::unstarted(&[]);
            fx.wrap = Net::enter(ns);
            fx.start();
            fs::create_dir(fx.mnt.join("shared")).unwrap();
            let config = format!("{}cache = {CACHE}\n", srv.pool_config(Some("4.1"), 3));
            fx.ctl("shared/config", &config).unwrap();
            fx.ctl("shared/status", "start")
                .unwrap_or_else(|e| panic!("start: {e}\n{}", fx.read("shared/info")));
            fx
        })
        .collect();
    Some(Cluster {
        hosts,
        srv,
        net,
        _dir: dir,
    })
}

/// Polls `cond` every 50 ms for up to `within`; returns how long it took.
fn within(what: &str, within: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < within, "{what} not within {within:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    t.elapsed()
}

#[test]
fn volumes_made_or_resized_on_one_host_show_on_the_other() {
    require_mount!();
    let Some(c) = cluster(2) else { return };
    let (a, b) = (&c.hosts[0], &c.hosts[1]);
    let on_a = a.pool("shared").join("vm1.img");
    fs::File::create(&on_a).unwrap().set_len(1 << 20).unwrap();
    let on_b = b.pool("shared").join("vm1.img");
    // Within the cache time (B has looked at the volume before a resize:
    // its size is in B's cache).
    let bound = Duration::from_secs(CACHE) + Duration::from_millis(500);
    let seen = within("a volume made on A seen on B", bound, || {
        fs::read_dir(b.pool("shared"))
            .unwrap()
            .any(|e| e.unwrap().file_name() == "vm1.img")
    });
    let grown = {
        assert_eq!(fs::metadata(&on_b).unwrap().len(), 1 << 20);
        a.ctl("shared/.vol/vm1.img/resize", "+1M").unwrap();
        within("a resize on A seen on B", bound, || {
            fs::metadata(&on_b).map(|m| m.len()).unwrap_or(0) == 2 << 20
        })
    };
    fs::remove_file(&on_a).unwrap();
    let gone = within(
        "a volume removed on A gone on B",
        Duration::from_secs(5),
        || {
            !fs::read_dir(b.pool("shared"))
                .unwrap()
                .any(|e| e.unwrap().file_name() == "vm1.img")
        },
    );
    eprintln!("listing delay: created {seen:?}, resized {grown:?}, removed {gone:?}");
    assert!(c.srv.export.exists() && !c.net.hosts.is_empty());
}

#[test]
fn locks_hold_across_hosts() {
    require_mount!();
    let Some(c) = cluster(2) else { return };
    let (a, b) = (&c.hosts[0], &c.hosts[1]);
    let (on_a, on_b) = (
        a.pool("shared").join("v.img"),
        b.pool("shared").join("v.img"),
    );
    fs::write(&on_a, vec![0u8; 1 << 20]).unwrap();
    within("the volume on B", Duration::from_secs(5), || on_b.exists());
    assert!(
        a.read("shared/info")
            .contains("locks: held by the NFS server"),
        "{}",
        a.read("shared/info")
    );

    // Byte ranges: A's lock is in B's way, not beside it; gone with A's close.
    let fa = rw(&on_a);
    ofd_lock(&fa, 0, 100, libc::F_WRLCK).unwrap();
    let fb = rw(&on_b);
    assert_eq!(ofd_lock(&fb, 50, 1, libc::F_RDLCK), Err(libc::EAGAIN));
    assert_eq!(ofd_lock(&fb, 100, 100, libc::F_WRLCK), Ok(()));
    // And B's is in A's way.
    assert_eq!(
        ofd_lock(&rw(&on_a), 150, 1, libc::F_WRLCK),
        Err(libc::EAGAIN)
    );
    // A's server crashes: its successor (the same NFS client owner) takes
    // A's lock again.
    a.crash_server();
    assert_eq!(
        ofd_lock(&fb, 50, 1, libc::F_RDLCK),
        Err(libc::EAGAIN),
        "A's lock lost in a crash"
    );
    drop(fa);
    within(
        "A's lock gone after its close",
        Duration::from_secs(5),
        || ofd_lock(&fb, 0, 100, libc::F_WRLCK).is_ok(),
    );
    drop(fb);

    // flock(1) conflicts across hosts.
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg("exec 9<>\"$0\"; flock -x 9; exec sleep 60")
        .arg(&on_a)
        .spawn()
        .unwrap();
    within("flock(1) on A holds", Duration::from_secs(5), || {
        !flock_n(&on_b, false)
    });
    holder.kill().unwrap();
    holder.wait().unwrap();
    within(
        "B's flock once A's holder is gone",
        Duration::from_secs(5),
        || flock_n(&on_b, false),
    );
}

/// qemu holds an image on host A (paused): qemu-io on host B is refused
/// with qemu's lock error; once A's qemu quits, B gets in.
#[test]
fn qemu_on_one_host_locks_out_the_other() {
    require_mount!();
    if !have_tool("qemu-system-x86_64") || !have_tool("qemu-io") {
        return;
    }
    let Some(c) = cluster(2) else { return };
    let (a, b) = (&c.hosts[0], &c.hosts[1]);
    let (on_a, on_b) = (
        a.pool("shared").join("vm.img"),
        b.pool("shared").join("vm.img"),
    );
    fs::File::create(&on_a).unwrap().set_len(16 << 20).unwrap();
    within("the image on B", Duration::from_secs(5), || on_b.exists());
    let mut qemu = std::process::Command::new("qemu-system-x86_64")
        .args([
            "-S",
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "pc,accel=tcg",
        ])
        .arg("-drive")
        .arg(format!("file={},format=raw,if=virtio", on_a.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // qemu-io on B must not run while A's qemu is still opening the image:
    // B's short-lived locks would refuse A's qemu. qemu takes its lock bytes
    // in steps as it opens the image (100 + each permission it uses, 200 +
    // each it does not share); wait for the last one B's write meets, 201:
    // "A does not share writing" (seen from A's own mount).
    let exited = |qemu: &mut std::process::Child| {
        if let Ok(Some(_)) = qemu.try_wait() {
            let mut err = String::new();
            let _ = qemu.stderr.take().unwrap().read_to_string(&mut err);
            panic!("qemu on A exited: {err}");
        }
    };
    let probe = rw(&on_a);
    within(
        "qemu on A holding the image",
        Duration::from_secs(30),
        || {
            exited(&mut qemu);
            test_lock(&probe, 201, 1) != libc::F_UNLCK
        },
    );
    drop(probe);
    let io = || {
        std::process::Command::new("qemu-io")
            .args(["-f", "raw", "-c", "write 0 4k"])
            .arg(&on_b)
            .output()
            .unwrap()
    };
    let mut refused = String::new();
    within("qemu on A locking out B", Duration::from_secs(20), || {
        exited(&mut qemu);
        let out = io();
        refused = String::from_utf8_lossy(&out.stderr).to_string();
        !out.status.success()
    });
    let _ = qemu.kill();
    let _ = qemu.wait();
    assert!(
        refused.contains("Failed to get") && refused.contains("lock"),
        "{refused}"
    );
    within("B in once A's qemu quit", Duration::from_secs(10), || {
        io().status.success()
    });
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn status_is(fx: &Fixture, want: &str) -> bool {
    fx.read("shared/status").trim() == want
}

/// Host A, holding a lock, dies: host B gets the lock once the server has
/// let A's lease run out.
#[test]
fn a_dead_hosts_locks_pass_to_another_after_the_lease() {
    require_mount!();
    let Some(mut c) = cluster(2) else { return };
    let on_a = c.hosts[0].pool("shared").join("d.img");
    let on_b = c.hosts[1].pool("shared").join("d.img");
    fs::write(&on_a, vec![0u8; 4096]).unwrap();
    within("the volume on B", Duration::from_secs(5), || on_b.exists());
    let fa = rw(&on_a);
    ofd_lock(&fa, 0, 0, libc::F_WRLCK).unwrap();
    let fb = rw(&on_b);
    assert_eq!(ofd_lock(&fb, 0, 1, libc::F_WRLCK), Err(libc::EAGAIN));
    c.hosts[0].kill9();
    let took = within(
        "B taking a dead host's lock",
        Duration::from_secs(40),
        || ofd_lock(&fb, 0, 1, libc::F_WRLCK).is_ok(),
    );
    eprintln!("lock free on B {took:?} after A died (lease 10 s)");
    drop(fa);
}

/// Fencing: A is cut off while it holds a lock and writes; B takes the
/// lock once A's lease ran out and writes; when A's link comes back, A's
/// writes fail with EIO and the export holds B's data. A partition shorter
/// than the lease changes nothing: A keeps its lock and writes on.
#[test]
fn a_host_cut_off_longer_than_its_lease_is_fenced() {
    require_mount!();
    let Some(c) = cluster(2) else { return };
    let (a, b) = (&c.hosts[0], &c.hosts[1]);
    let on_a = a.pool("shared").join("f.img");
    let on_b = b.pool("shared").join("f.img");
    fs::write(&on_a, vec![0u8; 2 << 20]).unwrap();
    within("the volume on B", Duration::from_secs(5), || on_b.exists());
    let fa = rw(&on_a);
    ofd_lock(&fa, 0, 0, libc::F_WRLCK).unwrap();
    fa.write_all_at(&pattern(1 << 20, 1), 0).unwrap();
    fa.sync_all().unwrap();

    // Shorter than the lease: nothing lost.
    c.net.partition(0);
    std::thread::sleep(Duration::from_secs(3));
    c.net.heal(0);
    within("A's pool answering again", Duration::from_secs(10), || {
        status_is(a, "running")
    });
    fa.write_all_at(&pattern(1 << 20, 2), 0).unwrap();
    fa.sync_all().unwrap();
    let fb = rw(&on_b);
    assert_eq!(
        ofd_lock(&fb, 0, 1, libc::F_WRLCK),
        Err(libc::EAGAIN),
        "A lost its lock"
    );

    // Longer than the lease: B takes over and writes.
    c.net.partition(0);
    let took = within(
        "B taking the lock of a cut-off host",
        Duration::from_secs(40),
        || ofd_lock(&fb, 0, 0, libc::F_WRLCK).is_ok(),
    );
    eprintln!("lock free on B {took:?} after A was cut off (lease 10 s)");
    fb.write_all_at(&pattern(1 << 20, 3), 0).unwrap();
    fb.sync_all().unwrap();
    c.net.heal(0);
    within("A's pool answering again", Duration::from_secs(15), || {
        status_is(a, "running")
    });
    let err = fa.write_all_at(&pattern(1 << 20, 4), 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        a.read("shared/info").contains("locks: lost"),
        "{}",
        a.read("shared/info")
    );
    assert!(
        a.info("shared", "last_error")
            .contains("locks on this volume were lost")
    );
    assert_eq!(
        fs::read(c.srv.export.join("f.img")).unwrap()[..1 << 20],
        pattern(1 << 20, 3)[..],
        "the export holds A's data where B wrote"
    );
    // Closed and opened again, A may lock (once B let go) and write.
    drop(fa);
    drop(fb);
    let again = rw(&on_a);
    within("A locking again", Duration::from_secs(10), || {
        ofd_lock(&again, 0, 0, libc::F_WRLCK).is_ok()
    });
    again.write_all_at(&pattern(4096, 5), 0).unwrap();
}

/// Host A's server dies holding a lock, and no successor comes before the
/// lease runs out (the keeper held back with SIGSTOP): host B takes the
/// lock; A's successor cannot take it again, so A's I/O on the volume is
/// fenced (EIO) while B writes on.
#[test]
fn a_lock_another_host_took_during_a_restart_fences_the_volume() {
    require_mount!();
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(c) = cluster(2) else { return };
    let (a, b) = (&c.hosts[0], &c.hosts[1]);
    let (on_a, on_b) = (
        a.pool("shared").join("r.img"),
        b.pool("shared").join("r.img"),
    );
    fs::write(&on_a, vec![0u8; 1 << 20]).unwrap();
    within("the volume on B", Duration::from_secs(5), || on_b.exists());
    let fa = rw(&on_a);
    ofd_lock(&fa, 0, 0, libc::F_WRLCK).unwrap();
    let keeper = Pid::from_raw(
        fs::read_to_string(a.state.join("keeper.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
    let server = a.server_pid();
    kill(keeper, Signal::SIGSTOP).unwrap();
    kill(Pid::from_raw(server), Signal::SIGKILL).unwrap();
    let fb = rw(&on_b);
    let took = within(
        "B taking the lock of a dead server",
        Duration::from_secs(40),
        || ofd_lock(&fb, 0, 0, libc::F_WRLCK).is_ok(),
    );
    eprintln!("lock free on B {took:?} after A's server died");
    kill(keeper, Signal::SIGCONT).unwrap();
    a.wait_new_server(server);
    let err = fa.write_all_at(b"late", 0).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        a.read("shared/info").contains("locks: lost"),
        "{}",
        a.read("shared/info")
    );
    fb.write_all_at(b"mine", 0).unwrap();
    fb.sync_all().unwrap();
}
