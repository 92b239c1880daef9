//! `netfs` pools through poolfs's own NFS client, against a real NFS server
//! (NFS-Ganesha on loopback, tests/common/ganesha.rs): lifecycle with data
//! kept on the export, the volume data plane with ordinary tools, a server
//! killed and restarted mid-I/O, a frozen server, ENOSPC from a small export,
//! and two poolfs daemons on one export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/ganesha.rs"]
mod ganesha;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use common::qemu::{migrate_writing, migrated_bytes};
use common::{Fixture, errno_of, have_tool, run, sh};
use ganesha::Ganesha;

fn require_server() -> bool {
    have_tool("ganesha.nfsd") && have_tool("rpcbind")
}

/// A server exporting `export` in the fixture's directory.
fn serve(fx: &Fixture) -> Ganesha {
    Ganesha::start(
        &fx.dir.path().join("ganesha"),
        &fx.dir.path().join("export"),
    )
}

/// A running userspace NFS pool `name` on `srv`.
fn define(fx: &Fixture, srv: &Ganesha, name: &str, version: Option<&str>, timeout: u64) {
    fs::create_dir(fx.mnt.join(name)).unwrap();
    fx.ctl(format!("{name}/config"), &srv.pool_config(version, timeout))
        .unwrap();
    fx.ctl(format!("{name}/status"), "start")
        .unwrap_or_else(|e| panic!("start: {e}\n{}", fx.read(format!("{name}/info"))));
    assert_eq!(fx.read(format!("{name}/status")), "running\n");
}

fn wait_status(fx: &Fixture, pool: &str, want: &str, within: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if fx.read(format!("{pool}/status")).trim() == want {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < within,
            "pool {pool} not {want} after {within:?}: {}",
            fx.read(format!("{pool}/info"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn lifecycle_and_data_plane_over_nfsv3() {
    require_mount!();
    if !require_server() {
        return;
    }
    let mut fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 5);
    assert_eq!(fx.info("nfs1", "nfs_version"), "3");
    let pool = fx.pool("nfs1");
    assert!(fx.info("nfs1", "capacity").parse::<u64>().unwrap() > 0);
    assert_eq!(
        fx.info("nfs1", "target"),
        "-",
        "nothing is mounted anywhere"
    );
    assert!(
        !fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(" nfs")
    );

    // Data written through poolfs is on the export, byte for byte.
    let data = pattern(3 << 20, 7);
    fs::write(pool.join("a.raw"), &data).unwrap();
    assert_eq!(fs::read(srv.export.join("a.raw")).unwrap(), data);
    // ... and what the server has is what poolfs reads.
    fs::write(srv.export.join("behind.raw"), pattern(70_000, 3)).unwrap();
    assert_eq!(
        fs::read(pool.join("behind.raw")).unwrap(),
        pattern(70_000, 3)
    );

    // Sparse files stay sparse on the export.
    run(&format!(
        "truncate -s 4G {}",
        pool.join("big.img").display()
    ));
    let f = fs::OpenOptions::new()
        .write(true)
        .open(pool.join("big.img"))
        .unwrap();
    f.write_all_at(&pattern(1 << 20, 1), 3 << 30).unwrap();
    f.sync_all().unwrap();
    drop(f);
    let m = fs::metadata(srv.export.join("big.img")).unwrap();
    assert_eq!(m.len(), 4 << 30);
    assert!(
        m.blocks() * 512 < 8 << 20,
        "{} blocks allocated",
        m.blocks()
    );
    run(&format!(
        "cp --sparse=always {} {}",
        pool.join("big.img").display(),
        pool.join("copy.img").display()
    ));
    let m = fs::metadata(srv.export.join("copy.img")).unwrap();
    assert_eq!(m.len(), 4 << 30);
    assert!(m.blocks() * 512 < 8 << 20, "copy: {} blocks", m.blocks());
    assert!(
        sh(&format!(
            "cmp {} {}",
            pool.join("big.img").display(),
            srv.export.join("copy.img").display()
        ))
        .0
    );

    // qemu-img on the mount.
    if have_tool("qemu-img") {
        let q = pool.join("vm.qcow2");
        run(&format!("qemu-img create -q -f qcow2 {} 1G", q.display()));
        run(&format!(
            "qemu-img convert -n -O qcow2 -t none -T none {} {}",
            pool.join("a.raw").display(),
            q.display()
        ));
        run(&format!("qemu-img check -q {}", q.display()));
        run(&format!(
            "qemu-img compare -q {} {}",
            srv.export.join("vm.qcow2").display(),
            q.display()
        ));
    }

    // fsx on a volume: every operation it knows, checked against its model.
    let fsx = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fsx.sh");
    let (ok, out, err) = sh(&format!(
        "{} {} 3000",
        fsx.display(),
        pool.join("fsx.img").display()
    ));
    assert!(ok, "fsx failed:\n{out}\n{err}");
    // ... and with requests of up to 1 MiB, which go out as parallel pieces.
    let (ok, out, err) = sh(&format!(
        "{} --profile large {} 1500",
        fsx.display(),
        pool.join("fsx-large.img").display()
    ));
    assert!(ok, "fsx (large) failed:\n{out}\n{err}");

    // Reserved names on the export are shadowed, never shown as volumes.
    fs::write(srv.export.join("status"), b"x").unwrap();
    assert_eq!(fx.read("nfs1/status"), "running\n");
    assert_eq!(fx.info("nfs1", "shadowed"), "status");

    // Stop, start, autostart across a daemon restart: the data stays.
    fx.ctl("nfs1/status", "stop")
        .unwrap_or_else(|e| panic!("{e}\n{}", fx.log()));
    assert!(!pool.join("a.raw").exists());
    assert_eq!(fs::read(srv.export.join("a.raw")).unwrap(), data);
    fx.ctl("nfs1/status", "start").unwrap();
    fx.ctl("nfs1/autostart", "yes").unwrap();
    fx.stop();
    fx.start();
    assert_eq!(fx.read("nfs1/status"), "running\n");
    assert_eq!(fs::read(pool.join("a.raw")).unwrap(), data);
    fs::remove_file(pool.join("a.raw")).unwrap();
    assert!(!srv.export.join("a.raw").exists());
}

#[test]
fn volume_control_files_on_an_nfs_pool() {
    require_mount!();
    if !require_server() || !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 5);
    let pool = fx.pool("nfs1");
    fs::write(pool.join("d.raw"), pattern(1 << 20, 8)).unwrap();
    run(&format!(
        "qemu-img create -q -f qcow2 {} 1G",
        pool.join("q.qcow2").display()
    ));
    let mut names: Vec<String> = fs::read_dir(fx.mnt.join("nfs1/.vol"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["d.raw", "q.qcow2"]);
    let info = fx.read("nfs1/.vol/d.raw/info");
    assert!(info.contains("format: raw"), "{info}");
    assert!(info.contains("capacity: 1048576"), "{info}");
    assert!(fx.read("nfs1/.vol/q.qcow2/info").contains("format: qcow2"));

    // Resize: grow, refuse a shrink without the word, shrink with it.
    fx.ctl("nfs1/.vol/d.raw/resize", "+1M").unwrap();
    assert_eq!(
        fs::metadata(srv.export.join("d.raw")).unwrap().len(),
        2 << 20
    );
    assert_eq!(fs::metadata(pool.join("d.raw")).unwrap().len(), 2 << 20);
    assert_eq!(
        errno_of(fx.ctl("nfs1/.vol/d.raw/resize", "1M")),
        Some(libc::EINVAL)
    );
    fx.ctl("nfs1/.vol/d.raw/resize", "1M shrink").unwrap();
    assert_eq!(
        fs::read(srv.export.join("d.raw")).unwrap(),
        pattern(1 << 20, 8)
    );
    // Preallocation needs NFSv4.2 ALLOCATE: refused over NFSv3, nothing changed.
    assert_eq!(
        errno_of(fx.ctl("nfs1/.vol/d.raw/resize", "+1M allocate")),
        Some(libc::EOPNOTSUPP)
    );
    assert!(fx.info("nfs1", "last_error").contains("ALLOCATE"));
    assert_eq!(
        fs::metadata(srv.export.join("d.raw")).unwrap().len(),
        1 << 20
    );
    // qcow2: qemu-img resize through the mount.
    fx.ctl("nfs1/.vol/q.qcow2/resize", "+1G").unwrap();
    assert_eq!(
        fx.read("nfs1/.vol/q.qcow2/resize"),
        format!("{}\n", 2u64 << 30)
    );

    // Wipe: refused while open; zeros, then random; qcow2 stays qcow2.
    let open = fs::File::open(pool.join("d.raw")).unwrap();
    assert_eq!(
        errno_of(fx.ctl("nfs1/.vol/d.raw/wipe", "zero")),
        Some(libc::EBUSY)
    );
    drop(open);
    fx.ctl("nfs1/.vol/d.raw/wipe", "zero").unwrap();
    assert!(
        fs::read(srv.export.join("d.raw"))
            .unwrap()
            .iter()
            .all(|b| *b == 0)
    );
    assert!(fx.read("nfs1/.vol/d.raw/wipe").starts_with("done"));
    fx.ctl("nfs1/.vol/d.raw/wipe", "random").unwrap();
    let after = fs::read(srv.export.join("d.raw")).unwrap();
    assert_eq!(after.len(), 1 << 20);
    assert!(after.iter().filter(|b| **b == 0).count() < 1 << 16);
    run(&format!(
        "qemu-io -c 'write -P 0x33 0 1M' {}",
        pool.join("q.qcow2").display()
    ));
    fx.ctl("nfs1/.vol/q.qcow2/wipe", "zero").unwrap();
    let info = fx.read("nfs1/.vol/q.qcow2/info");
    assert!(info.contains("format: qcow2"), "{info}");
    assert!(
        info.contains(&format!("capacity: {}", 2u64 << 30)),
        "{info}"
    );
    run(&format!(
        "qemu-img check -q {}",
        pool.join("q.qcow2").display()
    ));
}

/// A server that speaks only NFSv4 (no MOUNT protocol, no portmapper): a
/// definition without `version` gets the best version both sides speak
/// and `info` shows which.
#[test]
fn version_is_negotiated_with_an_nfsv4_only_server() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = Ganesha::start_v4_only(
        &fx.dir.path().join("ganesha"),
        &fx.dir.path().join("export"),
    );
    define(&fx, &srv, "v4only", None, 5);
    let v = fx.info("v4only", "nfs_version");
    assert!(v.starts_with('4'), "negotiated {v}");
    let data = pattern(1 << 20, 3);
    fs::write(fx.pool("v4only").join("a.raw"), &data).unwrap();
    assert_eq!(fs::read(srv.export.join("a.raw")).unwrap(), data);
    fx.ctl("v4only/status", "stop").unwrap();
    assert_eq!(fx.info("v4only", "nfs_version"), "-");
}

#[test]
fn nfsv4_pool_works_too() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "v4", Some("4.1"), 5);
    assert_eq!(fx.info("v4", "nfs_version"), "4.1");
    let pool = fx.pool("v4");
    let data = pattern(5 << 20, 9);
    fs::write(pool.join("x.raw"), &data).unwrap();
    assert_eq!(fs::read(srv.export.join("x.raw")).unwrap(), data);
    fs::create_dir(pool.join("sub")).unwrap();
    fs::rename(pool.join("x.raw"), pool.join("sub/y.raw")).unwrap();
    assert_eq!(fs::read(pool.join("sub/y.raw")).unwrap(), data);
    fx.ctl("v4/status", "stop").unwrap();
    assert_eq!(fs::read(srv.export.join("sub/y.raw")).unwrap(), data);
}

#[test]
fn server_killed_mid_io_gives_eio_then_recovers_without_restarting_the_pool() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let mut srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 2);
    let path = fx.pool("nfs1").join("vol.raw");
    let data = pattern(4 << 20, 5);
    fs::write(&path, &data).unwrap();
    let mut f = open_direct(&path);

    // Written (UNSTABLE) but not committed when the server dies. A read
    // waits for the writes in flight (write-behind): then the server has it.
    f.write_all_at(&pattern(1 << 20, 21), 2 << 20).unwrap();
    f.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    srv.kill();
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let r = f.read_exact_at(&mut buf, 0);
    let eio_after = t.elapsed();
    assert_eq!(errno_of(r), Some(libc::EIO));
    assert!(
        eio_after < Duration::from_secs(4),
        "EIO after {eio_after:?}"
    );
    wait_status(&fx, "nfs1", "inaccessible", Duration::from_secs(5));
    assert!(fx.info("nfs1", "last_error").contains("not answering"));
    // Other pools are not affected.
    let t = Instant::now();
    fs::write(fx.pool("default").join("ok.raw"), b"fine").unwrap();
    assert!(fs::read_dir(&fx.mnt).unwrap().count() >= 2);
    assert!(t.elapsed() < Duration::from_secs(1));

    // Ganesha's write verifier is its start time in seconds: a restart
    // within the same second would keep it.
    std::thread::sleep(Duration::from_millis(1100));
    srv.restart();
    let back = wait_status(&fx, "nfs1", "running", Duration::from_secs(15));
    eprintln!("fault timings: EIO after {eio_after:?}, running again {back:?} after the server");
    // The same open file goes on: its NFS handle is still valid, and the
    // write from before the restart is committed (sent again: the server's
    // write verifier changed).
    f.sync_all().unwrap();
    assert!(
        fx.log().contains("restarted before a COMMIT"),
        "no replay logged"
    );
    let mut data = data;
    data[2 << 20..3 << 20].copy_from_slice(&pattern(1 << 20, 21));
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut all = Vec::new();
    f.read_to_end(&mut all).unwrap();
    assert_eq!(all, data);
    f.write_all_at(&pattern(1 << 20, 11), 1 << 20).unwrap();
    f.sync_all().unwrap();
    drop(f);
    assert_eq!(
        fs::read(srv.export.join("vol.raw")).unwrap()[1 << 20..2 << 20],
        pattern(1 << 20, 11)[..]
    );
}

/// Past 16 MiB of uncommitted writes an open commits them behind the
/// writer's back: what that COMMIT covered is not kept for a replay, what
/// came after it is, and a server that restarts (a changed write verifier)
/// gets exactly that again at the next fsync; the file is right.
#[test]
fn writes_past_the_replay_limit_are_committed_behind_the_writer() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let mut srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 5);
    let path = fx.pool("nfs1").join("vol.raw");
    fs::write(&path, vec![0u8; 32 << 20]).unwrap();
    let f = open_direct(&path);
    let first = pattern(20 << 20, 41);
    for (i, piece) in first.chunks(1 << 20).enumerate() {
        f.write_all_at(piece, (i << 20) as u64).unwrap();
    }
    // A read waits for the writes in flight; the COMMIT behind them then
    // has the time it needs (on loopback, well under a second).
    f.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Ganesha's write verifier is its start time in seconds.
    srv.restart();
    wait_status(&fx, "nfs1", "running", Duration::from_secs(15));
    let second = pattern(1 << 20, 42);
    f.write_all_at(&second, 30 << 20).unwrap();
    f.sync_all().unwrap();
    let log = fx.log();
    let again: Vec<u64> = log
        .lines()
        .filter(|l| l.contains("restarted before a COMMIT"))
        .filter_map(|l| l.split("writing ").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    // At most what came after the COMMIT behind (past 16 MiB: at most 4
    // MiB of the first writes) and the write after the restart.
    assert!(
        again.len() == 1 && again[0] <= 5 << 20,
        "sent again after the restart: {again:?} bytes"
    );
    drop(f);
    let mut want = first;
    want.resize(30 << 20, 0);
    want.extend_from_slice(&second);
    want.resize(32 << 20, 0);
    assert!(
        fs::read(srv.export.join("vol.raw")).unwrap() == want,
        "the file differs"
    );
}

#[test]
fn an_open_sends_no_older_data_again_over_a_newer_write_after_a_server_restart() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let mut srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 5);
    let path = fx.pool("nfs1").join("vol.raw");
    fs::write(&path, vec![0u8; 1 << 20]).unwrap();
    // Two opens write the same range, one after the other (a read waits
    // for each write to reach the server); neither is committed yet.
    let (a, b) = (open_direct(&path), open_direct(&path));
    let older = pattern(256 << 10, 51);
    a.write_all_at(&older, 0).unwrap();
    a.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    let newer = pattern(256 << 10, 52);
    b.write_all_at(&newer, 0).unwrap();
    b.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    // Ganesha's write verifier is its start time in seconds.
    std::thread::sleep(Duration::from_millis(1100));
    srv.restart();
    wait_status(&fx, "nfs1", "running", Duration::from_secs(15));
    // The newer writer's fsync, then the older one's close: each finds the
    // verifier changed. Neither may leave the older data in the file.
    if let Err(e) = b.sync_all() {
        panic!("fsync: {e}; log:\n{}", fx.log());
    }
    drop(a);
    drop(b);
    assert!(
        fx.log().contains("restarted before a COMMIT"),
        "no replay: the test did not test"
    );
    let mut want = newer;
    want.resize(1 << 20, 0);
    let got = fs::read(srv.export.join("vol.raw")).unwrap();
    assert!(
        got == want,
        "the file differs at {:?} (older data sent again: {})",
        got.iter().zip(&want).position(|(g, w)| g != w),
        got[..older.len()] == older[..]
    );
}

/// `path` opened read-write with `O_DIRECT`.
fn open_direct(path: &Path) -> fs::File {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_direct()
        .open(path)
        .unwrap()
}

/// `O_DIRECT` so reads reach the daemon, not the page cache.
trait DirectOpen {
    fn custom_flags_direct(&mut self) -> &mut Self;
}
impl DirectOpen for fs::OpenOptions {
    fn custom_flags_direct(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_DIRECT)
    }
}

#[test]
fn frozen_server_gives_bounded_eio_and_other_pools_answer() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 2);
    let path = fx.pool("nfs1").join("vol.raw");
    fs::write(&path, pattern(1 << 20, 2)).unwrap();

    // More readers of the frozen volume than the daemon has FUSE workers.
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags_direct()
        .open(&path)
        .unwrap();
    let f = std::sync::Arc::new(f);
    srv.freeze();
    let readers: Vec<_> = (0..12u64)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let mut b = vec![0u8; 64 << 10];
                let r = f.read_exact_at(&mut b, i * (64 << 10));
                (errno_of(r), t.elapsed())
            })
        })
        .collect();
    // Meanwhile the rest of the tree answers at once.
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    fs::write(fx.pool("default").join("busy.raw"), pattern(1 << 20, 4)).unwrap();
    assert_eq!(fx.read("default/status"), "running\n");
    let _ = fs::read_dir(&fx.mnt).unwrap().count();
    let other = t.elapsed();
    assert!(other < Duration::from_secs(1), "other pool took {other:?}");
    let mut took = Duration::ZERO;
    for r in readers {
        let (errno, t) = r.join().unwrap();
        assert_eq!(errno, Some(libc::EIO));
        took = took.max(t);
    }
    assert!(took < Duration::from_secs(4), "EIO after {took:?}");
    drop(f);
    eprintln!("fault timings: frozen server, EIO after {took:?}; other pool answered in {other:?}");
    wait_status(&fx, "nfs1", "inaccessible", Duration::from_secs(5));
    // A stop of the inaccessible pool works (nothing is open).
    let t = Instant::now();
    fx.ctl("nfs1/status", "stop").unwrap();
    assert_eq!(fx.read("nfs1/status"), "inactive\n");
    assert!(t.elapsed() < Duration::from_secs(4));
    srv.thaw();
    fx.ctl("nfs1/status", "start").unwrap();
    assert_eq!(fs::read(&path).unwrap(), pattern(1 << 20, 2));
}

/// A 4 KiB page, 4 KiB-aligned (as `O_DIRECT` asks of buffers).
#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// A page of one byte value.
fn page(byte: u8) -> Box<Page> {
    Box::new(Page([byte; 4096]))
}

/// Requests waiting on a frozen server hold up no pool of another server:
/// reads hold no thread (24 of them, more than a pool's 16 threads for
/// remote I/O), and fsyncs (20, of 20 files) hold threads of their own
/// pool only, so a pool on another server still reads, writes and syncs at
/// once; the waiting requests complete, with the right bytes, when the
/// server comes back. (Reads used to wait on threads shared by every pool, and so did
/// fsyncs: the other server's pool waited for the frozen one.)
#[test]
fn requests_waiting_on_a_frozen_server_hold_up_no_other_servers_pool() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let slow = serve(&fx);
    // NFSv4 only: it needs no rpcbind, which takes one NFSv3 server.
    let other = Ganesha::start_v4_only(
        &fx.dir.path().join("ganesha2"),
        &fx.dir.path().join("export2"),
    );
    define(&fx, &slow, "nfs1", None, 20);
    define(&fx, &other, "nfs2", Some("4.1"), 20);
    let (path, path2) = (
        fx.pool("nfs1").join("vol.raw"),
        fx.pool("nfs2").join("vol.raw"),
    );
    fs::write(&path, pattern(4 << 20, 3)).unwrap();
    fs::write(&path2, pattern(1 << 20, 5)).unwrap();
    let open = |p: &Path| std::sync::Arc::new(open_direct(p));
    let (f, f2) = (open(&path), open(&path2));
    // Twenty files: the kernel lets one fsync of a file at a time through.
    let synced = |i: u64| fx.pool("nfs1").join(format!("s{i}.raw"));
    let opens: Vec<_> = (0..20)
        .map(|i| {
            fs::write(synced(i), pattern(64 << 10, 7)).unwrap();
            open(&synced(i))
        })
        .collect();
    slow.freeze();
    let readers: Vec<_> = (0..24u64)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut b = vec![0u8; 128 << 10];
                f.read_exact_at(&mut b, i * (128 << 10)).map(|()| b)
            })
        })
        .collect();
    let syncers: Vec<_> = (0u64..)
        .zip(opens)
        .map(|(i, f)| {
            let buf = page(0x70 + i as u8);
            std::thread::spawn(move || {
                f.write_all_at(&buf.0, 4096)?;
                f.sync_all()
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        readers.iter().all(|r| !r.is_finished()) && syncers.iter().all(|s| !s.is_finished()),
        "a request to the frozen server was answered"
    );
    let t = Instant::now();
    let mut got = page(0);
    f2.read_exact_at(&mut got.0, 64 << 10).unwrap();
    assert_eq!(
        &got.0[..],
        &pattern(1 << 20, 5)[64 << 10..(64 << 10) + 4096]
    );
    f2.write_all_at(&page(0x5a).0, 0).unwrap();
    f2.sync_all().unwrap();
    let took = t.elapsed();
    slow.thaw();
    assert!(
        took < Duration::from_secs(2),
        "the other server's pool waited {took:?} for the frozen one"
    );
    let want = pattern(4 << 20, 3);
    for (i, r) in readers.into_iter().enumerate() {
        let got = r.join().unwrap().expect("a read once the server is back");
        let at = i * (128 << 10);
        assert!(
            got == want[at..at + (128 << 10)],
            "read {i} got other bytes"
        );
    }
    for (i, s) in (0u64..).zip(syncers) {
        s.join()
            .unwrap()
            .expect("a write and fsync once the server is back");
        let mut want = pattern(64 << 10, 7);
        want[4096..8192].fill(0x70 + i as u8);
        let export = fx.dir.path().join("export").join(format!("s{i}.raw"));
        assert!(fs::read(export).unwrap() == want, "s{i}.raw");
    }
    drop((f, f2));
    let mut want2 = pattern(1 << 20, 5);
    want2[..4096].fill(0x5a);
    assert!(fs::read(fx.dir.path().join("export2").join("vol.raw")).unwrap() == want2);
}

/// `O_DIRECT` writers on several threads (qemu's `aio=threads`) reach the
/// daemon in parallel: a write that waits (here on an overlapping write the
/// frozen server has not answered) does not hold up another thread's write
/// elsewhere in the file, which is parked and answered at once. Without
/// `FOPEN_PARALLEL_DIRECT_WRITES` the kernel holds the file's lock across
/// each `O_DIRECT` write and the second write waits for the first.
#[test]
fn direct_writers_on_several_threads_do_not_wait_for_each_other() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 10);
    let path = fx.pool("nfs1").join("vol.raw");
    fs::write(&path, pattern(2 << 20, 1)).unwrap();
    let f = open_direct(&path);
    let f = std::sync::Arc::new(f);
    srv.freeze();
    let t = Instant::now();
    f.write_all_at(&page(0xa1).0, 0).unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "a write to a frozen server was not answered once parked: {:?}",
        t.elapsed()
    );
    // The same range again: it waits until the server has the first.
    let waiting = {
        let (f, buf) = (f.clone(), page(0xa2));
        std::thread::spawn(move || {
            let t = Instant::now();
            f.write_all_at(&buf.0, 0).map(|()| t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(!waiting.is_finished(), "the overlapping write did not wait");
    let t = Instant::now();
    let elsewhere = f.write_all_at(&page(0xb1).0, 1 << 20);
    let other = t.elapsed();
    srv.thaw();
    let waited = waiting.join().unwrap().expect("the overlapping write");
    assert!(
        elsewhere.is_ok() && other < Duration::from_secs(1),
        "a write elsewhere waited {other:?} for the waiting one ({elsewhere:?}; that one waited {waited:?})"
    );
    f.sync_all().unwrap();
    drop(f);
    let mut want = pattern(2 << 20, 1);
    want[..4096].fill(0xa2);
    want[1 << 20..(1 << 20) + 4096].fill(0xb1);
    let got = fs::read(fx.dir.path().join("export").join("vol.raw")).unwrap();
    assert!(got == want, "the export does not hold the three writes");
}

/// The established TCP connections to `port` on loopback, with the bytes
/// each sent (`ss -ti`'s `bytes_acked`).
fn connections_to(port: u16) -> Vec<u64> {
    let out = run(&format!(
        "ss -Htin state established '( dport = :{port} )' dst 127.0.0.1"
    ));
    out.split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_acked:"))
        .map(|n| n.parse().unwrap())
        .collect()
}

/// `nconnect = 3` with NFSv3: three connections to the server, READs and
/// WRITEs spread over them (each carries a share of 12 MiB written), the
/// bytes right, and every connection back after the server restarts.
#[test]
fn nconnect_spreads_reads_and_writes_over_several_connections() {
    require_mount!();
    if !require_server() || !have_tool("ss") {
        return;
    }
    let fx = Fixture::new();
    let mut srv = serve(&fx);
    fs::create_dir(fx.mnt.join("n3")).unwrap();
    fx.ctl(
        "n3/config",
        &format!("{}nconnect = 3\n", srv.pool_config(Some("3"), 3)),
    )
    .unwrap();
    fx.ctl("n3/status", "start").unwrap();
    assert_eq!(connections_to(srv.port).len(), 3, "connections at start");
    let path = fx.pool("n3").join("vol.raw");
    let data = pattern(12 << 20, 9);
    fs::write(&path, &data).unwrap();
    let sent = connections_to(srv.port);
    assert!(
        sent.iter().all(|b| *b > 2 << 20),
        "a connection carried less than 2 MiB of 12: {sent:?}"
    );
    assert_eq!(fs::read(srv.export.join("vol.raw")).unwrap(), data);
    assert_eq!(fs::read(&path).unwrap(), data);

    std::thread::sleep(Duration::from_millis(1100));
    srv.restart();
    wait_status(&fx, "n3", "running", Duration::from_secs(15));
    let more = pattern(12 << 20, 10);
    fs::write(&path, &more).unwrap();
    assert_eq!(fs::read(&path).unwrap(), more);
    assert_eq!(fs::read(srv.export.join("vol.raw")).unwrap(), more);
    assert_eq!(
        connections_to(srv.port).len(),
        3,
        "connections after a restart"
    );

    // NFSv4.1 has one connection whatever nconnect says (no trunking).
    fs::create_dir(fx.mnt.join("n41")).unwrap();
    fx.ctl(
        "n41/config",
        &format!("{}nconnect = 3\n", srv.pool_config(Some("4.1"), 3)),
    )
    .unwrap();
    fx.ctl("n41/status", "start").unwrap();
    assert_eq!(
        connections_to(srv.port).len(),
        4,
        "NFSv3 three, NFSv4.1 one"
    );
    assert_eq!(fs::read(fx.pool("n41").join("vol.raw")).unwrap(), more);
    // Out of range: refused with the sentence.
    fs::create_dir(fx.mnt.join("bad")).unwrap();
    let e = fx
        .ctl(
            "bad/config",
            &format!("{}nconnect = 17\n", srv.pool_config(Some("3"), 3)),
        )
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
    assert!(
        fx.info("bad", "last_error")
            .contains("nconnect must be between 1 and 16")
    );
}

/// Close-to-open: a volume another client removed while this pool still
/// caches its name (here for 30 s) is not written into the void. The open
/// checks the handle with the server, the kernel looks the name up again,
/// and the write makes a new file that the export shows.
#[test]
fn an_open_after_another_client_removed_the_file_makes_a_new_one() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    fs::create_dir(fx.mnt.join("nfs1")).unwrap();
    let config = format!("{}cache = 30\n", srv.pool_config(Some("4.1"), 5));
    fx.ctl("nfs1/config", &config).unwrap();
    fx.ctl("nfs1/status", "start").unwrap();
    let path = fx.pool("nfs1").join("gone.img");
    let behind = fx.dir.path().join("export/gone.img");
    for round in 0..3u8 {
        fs::write(&path, pattern(256 << 10, round)).unwrap();
        assert!(fs::read(&behind).unwrap() == pattern(256 << 10, round));
        // Another client (here: the server's own filesystem) removes it.
        fs::remove_file(&behind).unwrap();
        fs::write(&path, pattern(128 << 10, round + 10)).unwrap();
        assert!(
            fs::read(&behind).ok() == Some(pattern(128 << 10, round + 10)),
            "round {round}: the write after the remote removal reached no file"
        );
        fs::remove_file(&behind).unwrap();
    }
}

/// A lookup that waits on a frozen server does not hold up the other names
/// of its directory (FUSE_PARALLEL_DIROPS): the pool's `autostart`, looked
/// up for the first time (a cached name is only revalidated, which never
/// waited), answers at once while a lookup in the pool waits for its timeout.
#[test]
fn a_lookup_waiting_on_the_server_does_not_block_its_directory() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 4);
    srv.freeze();
    let waiting = {
        let p = fx.pool("nfs1").join("not-there-yet.raw");
        std::thread::spawn(move || {
            let t = Instant::now();
            (errno_of(fs::metadata(&p)), t.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let status = fx.read("nfs1/autostart");
    let answered = t.elapsed();
    let (errno, waited) = waiting.join().unwrap();
    srv.thaw();
    assert_eq!(errno, Some(libc::EIO), "the lookup on the frozen server");
    assert!(
        waited >= Duration::from_secs(3),
        "the lookup waited only {waited:?}"
    );
    assert!(
        answered < Duration::from_secs(1),
        "autostart ({}) took {answered:?} behind a lookup in the same directory",
        status.trim()
    );
}

/// A tmpfs of `size` at `<fixture dir>/<name>`, for an export that fills
/// up; unmounted (lazily) when dropped.
struct SmallExport(std::path::PathBuf);

impl SmallExport {
    fn mount(fx: &Fixture, name: &str, size: &str) -> SmallExport {
        let path = fx.dir.path().join(name);
        fs::create_dir(&path).unwrap();
        run(&format!(
            "mount -t tmpfs -o size={size} tmpfs {}",
            path.display()
        ));
        SmallExport(path)
    }
}

impl Drop for SmallExport {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn enospc_from_the_server_reaches_the_writer() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let tmpfs = SmallExport::mount(&fx, "small", "8m");
    let export = &tmpfs.0;
    let srv = Ganesha::start(&fx.dir.path().join("ganesha"), export);
    define(&fx, &srv, "small", Some("3"), 5);
    let mut f = fs::File::create(fx.pool("small").join("fill.raw")).unwrap();
    let chunk = vec![0x5au8; 1 << 20];
    let mut err = None;
    for _ in 0..16 {
        if let Err(e) = f.write_all(&chunk) {
            err = Some(e);
            break;
        }
    }
    let err = err
        .or_else(|| f.sync_all().err())
        .expect("16 MiB fit in an 8 MiB export");
    assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    drop(f);
    assert_eq!(fx.read("small/status"), "running\n");
    fs::remove_file(fx.pool("small").join("fill.raw"))
        .unwrap_or_else(|e| panic!("{e}\n{}", fx.log()));
    fs::write(fx.pool("small").join("after.raw"), b"room again")
        .unwrap_or_else(|e| panic!("{e}\n{}", fx.log()));
}

/// A write answered before the server refused it (write-behind) is
/// reported as Linux reports a failed writeback: once to every open that
/// was open when it failed (at its next fsync), never to an open made
/// after.
#[test]
fn a_write_the_server_refused_after_it_was_answered_is_reported_to_each_open_once() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let tmpfs = SmallExport::mount(&fx, "full", "4m");
    let export = &tmpfs.0;
    let srv = Ganesha::start(&fx.dir.path().join("ganesha"), export);
    define(&fx, &srv, "full", Some("3"), 5);
    let vol = fx.pool("full").join("v.raw");
    fs::write(&vol, b"").unwrap();
    let f = fs::OpenOptions::new().write(true).open(&vol).unwrap();
    let g = fs::OpenOptions::new().write(true).open(&vol).unwrap();
    // The export filled behind poolfs's back: the next WRITE fails.
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k", "status=none"])
        .arg(format!("of={}", export.join("filler").display()))
        .status();
    f.write_all_at(&[0x5a; 64 << 10], 0)
        .expect("a write the server has not refused yet is answered");
    let enospc = |r: std::io::Result<()>, who: &str| {
        let e = r.expect_err(&format!("{who}: the refused write was not reported"));
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{who}: {e}");
    };
    enospc(f.sync_all(), "the writer's fsync");
    f.sync_all()
        .expect("the writer's second fsync reported it again");
    let h = fs::OpenOptions::new().write(true).open(&vol).unwrap();
    enospc(g.sync_all(), "another open's fsync");
    g.sync_all()
        .expect("the other open's second fsync reported it again");
    h.sync_all()
        .expect("an open made after the failure was told of it");
    fs::remove_file(export.join("filler")).unwrap();
}

#[test]
fn two_daemons_on_one_export_see_each_others_volumes_after_refresh() {
    require_mount!();
    if !require_server() {
        return;
    }
    let a = Fixture::new();
    let b = Fixture::new();
    let srv = Ganesha::start(&a.dir.path().join("ganesha"), &a.dir.path().join("export"));
    define(&a, &srv, "shared", None, 5);
    define(&b, &srv, "shared", None, 5);
    let ls = |fx: &Fixture| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(fx.pool("shared"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".img"))
            .collect();
        v.sort();
        v
    };
    assert!(ls(&b).is_empty());
    fs::write(a.pool("shared").join("from-a.img"), pattern(1 << 20, 1)).unwrap();
    b.ctl("shared/status", "refresh").unwrap();
    assert_eq!(ls(&b), ["from-a.img"]);
    assert_eq!(
        fs::read(b.pool("shared").join("from-a.img")).unwrap(),
        pattern(1 << 20, 1)
    );
    fs::write(b.pool("shared").join("from-b.img"), pattern(1 << 20, 2)).unwrap();
    a.ctl("shared/status", "refresh").unwrap();
    assert_eq!(ls(&a), ["from-a.img", "from-b.img"]);
    assert_eq!(
        fs::read(a.pool("shared").join("from-b.img")).unwrap(),
        pattern(1 << 20, 2)
    );
    assert_eq!(a.info("shared", "volumes"), "2");
}

/// A qemu (a paused machine) with its disk on an NFSv4.1 pool of one daemon
/// migrates live to a qemu on another daemon of the same export (another
/// host): qemu's image locks go through both to the server, the source's
/// let go at the switch-over, and each side's write is on the export.
#[test]
fn qemu_migrates_between_two_daemons_on_one_export() {
    require_mount!();
    if !require_server() || !have_tool("qemu-system-x86_64") || !have_tool("qemu-io") {
        return;
    }
    let a = Fixture::new();
    let b = Fixture::new();
    let srv = Ganesha::start(&a.dir.path().join("ganesha"), &a.dir.path().join("export"));
    define(&a, &srv, "shared", Some("4.1"), 5);
    define(&b, &srv, "shared", Some("4.1"), 5);
    fs::write(a.pool("shared").join("mig.img"), pattern(1 << 20, 7)).unwrap();
    b.ctl("shared/status", "refresh").unwrap();
    let on_b = b.pool("shared").join("mig.img");
    migrate_writing(
        a.dir.path(),
        &a.pool("shared").join("mig.img"),
        &on_b,
        &|| b.log(),
        // A third qemu on the destination's host may not write it meanwhile.
        &|| {
            let (ok, _, err) = sh(&format!(
                "qemu-io -f raw -c 'write 0 512' {}",
                on_b.display()
            ));
            assert!(
                !ok && err.contains("lock"),
                "qemu's image lock does not hold across hosts: {err}"
            );
        },
        &|| {},
    );
    migrated_bytes(
        &fs::read(srv.export.join("mig.img")).unwrap(),
        &pattern(1 << 20, 7),
    );
}

/// The server dies (SIGKILL) with an NFS volume open: its successor
/// reconnects the pool and serves the same descriptor on (the writes before
/// and after the crash are both on the export).
#[test]
fn a_server_crash_keeps_an_open_nfs_volume() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 5);
    let path = fx.pool("nfs1").join("v.img");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap();
    f.write_all_at(&pattern(1 << 20, 1), 0).unwrap();
    f.sync_all().unwrap();
    let took = fx.crash_server();
    eprintln!("takeover: {took:?}");
    f.write_all_at(&pattern(1 << 20, 2), 1 << 20).unwrap();
    f.sync_all().unwrap();
    let mut back = vec![0u8; 2 << 20];
    f.read_exact_at(&mut back, 0).unwrap();
    assert!(
        back[..1 << 20] == pattern(1 << 20, 1)[..],
        "data before the crash"
    );
    assert!(
        back[1 << 20..] == pattern(1 << 20, 2)[..],
        "data after the crash"
    );
    assert_eq!(fx.read("nfs1/status"), "running\n");
    // Still counted as open by its pool.
    let err = fx.ctl("nfs1/status", "stop").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    drop(f);
    let exported = fs::read(fx.dir.path().join("export/v.img")).unwrap();
    assert_eq!(exported.len(), 2 << 20);
}

/// fio with `verify` on a userspace NFS volume while the server is killed
/// five times: no error, and what fio reads back is what it wrote.
#[test]
fn fio_on_an_nfs_volume_through_five_crashes() {
    require_mount!();
    if !require_server() || !have_tool("fio") {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", None, 5);
    let out = fx.dir.path().join("fio.json");
    let mut fio = std::process::Command::new("fio")
        .args([
            "--name=nfs",
            &format!("--filename={}", fx.pool("nfs1").join("f.img").display()),
            "--size=16M",
            "--rw=randwrite",
            "--bs=64k",
            "--iodepth=8",
            "--ioengine=libaio",
            "--direct=1",
            "--verify=crc32c",
            "--verify_fatal=1",
            "--verify_state_save=0",
            "--loops=60",
            "--output-format=json",
            &format!("--output={}", out.display()),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut takeovers = Vec::new();
    for _ in 0..5 {
        assert!(
            fio.try_wait().unwrap().is_none(),
            "fio ended before the crashes"
        );
        takeovers.push(fx.crash_server());
        std::thread::sleep(Duration::from_millis(400));
    }
    let st = fio.wait().unwrap();
    let report = fs::read_to_string(&out).unwrap();
    assert!(
        st.success(),
        "fio failed ({st}): {report}\nlog:\n{}",
        fx.log()
    );
    assert!(report.contains("\"error\" : 0"), "{report}");
    eprintln!("takeovers on an NFS pool: {takeovers:?}");
}

/// Writes a server left uncommitted when it crashed (UNSTABLE at the NFS
/// server; their data died with it): the next fsync through the same open
/// commits them, and reports them lost (`EIO`, once) when the NFS server
/// restarted in between, since they cannot be sent again.
#[test]
fn a_crashed_servers_uncommitted_writes_are_committed_or_reported_lost() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let mut srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 2);
    let path = fx.pool("nfs1").join("v.raw");
    fs::write(&path, vec![0u8; 2 << 20]).unwrap();
    let f = open_direct(&path);

    // The NFS server kept running: the successor's COMMIT covers them. A
    // read waits for the writes in flight (write-behind): the server has
    // them, uncommitted, when poolfs dies (a write still parked then is
    // sent by the successor instead, which
    // a_write_answered_before_the_nfs_server_had_it_survives_a_crash tests).
    f.write_all_at(&pattern(1 << 20, 3), 0).unwrap();
    f.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    fx.crash_server();
    f.sync_all().unwrap();
    assert!(
        fx.log()
            .contains("committed the writes of the previous poolfs server"),
        "no COMMIT for the dead server's writes"
    );
    assert_eq!(
        fs::read(srv.export.join("v.raw")).unwrap()[..1 << 20],
        pattern(1 << 20, 3)[..]
    );

    // The NFS server restarted too (a new write verifier: Ganesha's is its
    // start time in seconds): the loss is reported, once.
    f.write_all_at(&pattern(1 << 20, 4), 1 << 20).unwrap();
    f.read_exact_at(&mut [0u8; 4096], 0).unwrap();
    fx.crash_server();
    srv.kill();
    wait_status(&fx, "nfs1", "inaccessible", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1100));
    srv.restart();
    wait_status(&fx, "nfs1", "running", Duration::from_secs(15));
    let err = f.sync_all().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        fx.log().contains("may be lost"),
        "no reason logged:\n{}",
        fx.log()
    );
    f.sync_all().unwrap();
    f.write_all_at(&pattern(4096, 5), 0).unwrap();
    f.sync_all().unwrap();
}

/// The backing rule on an NFS pool: an overlay made through the mount
/// protects its backing at once, one made on the server (another host)
/// within a second; deletes in between re-read only changed headers, so
/// the rule holds after overlays come and go.
#[test]
fn overlays_on_an_nfs_pool_protect_their_backing() {
    require_mount!();
    if !require_server() || !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("4.1"), 5);
    let pool = fx.pool("nfs1");
    for v in ["v0.img", "v1.img", "base.img", "base2.img"] {
        fs::write(pool.join(v), vec![7u8; 1 << 20]).unwrap();
    }
    fs::remove_file(pool.join("v0.img")).unwrap();
    run(&format!(
        "qemu-img create -q -f qcow2 -b base.img -F raw '{}'",
        pool.join("ov.qcow2").display()
    ));
    assert_eq!(
        errno_of(fs::remove_file(pool.join("base.img"))),
        Some(libc::EBUSY)
    );
    run(&format!(
        "qemu-img create -q -f qcow2 -b base2.img -F raw '{}'",
        srv.export.join("ov2.qcow2").display()
    ));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(
        errno_of(fs::remove_file(pool.join("base2.img"))),
        Some(libc::EBUSY)
    );
    assert_eq!(
        errno_of(fs::remove_file(pool.join("base.img"))),
        Some(libc::EBUSY)
    );
    fs::remove_file(pool.join("v1.img")).unwrap();
    fs::remove_file(srv.export.join("ov2.qcow2")).unwrap();
    fs::remove_file(pool.join("ov.qcow2")).unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    fs::remove_file(pool.join("base.img")).unwrap();
    fs::remove_file(pool.join("base2.img")).unwrap();
}

/// `find-storage-pool-sources-as netfs HOST` lists the server's exports
/// (the MOUNT protocol's EXPORT call) as libvirt's <sources> XML, which
/// libvirt's schema accepts as a pool's source.
#[test]
fn the_exports_of_a_server_are_found() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    let out = std::process::Command::new(common::BIN)
        .args([
            "find-storage-pool-sources-as",
            "netfs",
            "127.0.0.1",
            "--mount-port",
            &srv.mount_port.to_string(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("<dir path='{}'/>", srv.export.display())),
        "{text}"
    );
    assert!(text.contains("<host name='127.0.0.1'/>"), "{text}");
    let bad = std::process::Command::new(common::BIN)
        .args(["find-storage-pool-sources-as", "logical", "127.0.0.1"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("netfs pools only"));
}

/// Drops what the kernel cached of `f`, so the next read reaches poolfs.
fn uncache(f: &fs::File) {
    nix::fcntl::posix_fadvise(f, 0, 0, nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .unwrap();
}

/// Read-ahead (docs/backends.md, "Read-ahead"): what it read ahead is never
/// served after a write from this host reached the server, nor once older
/// than the pool's `cache` time; parallel readers of one open get the file.
#[test]
fn read_ahead_serves_no_data_older_than_a_write_from_here_or_the_cache_time() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 5);
    const MIB: usize = 1 << 20;
    let behind = fx.dir.path().join("export/ra.img");
    fs::write(&behind, pattern(16 * MIB, 1)).unwrap();
    let path = fx.pool("nfs1").join("ra.img");
    let reader = fs::File::open(&path).unwrap();
    let mut buf = vec![0u8; 128 << 10];
    // A sequential reader: the next megabytes are read ahead.
    for i in 0..8u64 {
        reader.read_exact_at(&mut buf, i * (128 << 10)).unwrap();
    }
    // Another open of this host writes ahead of the reader.
    let writer = fs::OpenOptions::new().write(true).open(&path).unwrap();
    writer
        .write_all_at(&pattern(MIB, 2), 2 * MIB as u64)
        .unwrap();
    uncache(&reader);
    reader.read_exact_at(&mut buf, MIB as u64).unwrap();
    reader.read_exact_at(&mut buf, 2 * MIB as u64).unwrap();
    assert!(
        buf[..] == pattern(MIB, 2)[..buf.len()],
        "read-ahead served data older than a write from this host"
    );
    // Another client writes: within the cache time an open may still see
    // the old data (as the kernel's page cache would); a new open and,
    // after the cache time, this one see the new data.
    let read = |at: usize| {
        let mut b = vec![0u8; 128 << 10];
        reader.read_exact_at(&mut b, at as u64).unwrap();
        b
    };
    read(3 * MIB);
    let other = fs::OpenOptions::new().write(true).open(&behind).unwrap();
    other
        .write_all_at(&pattern(MIB, 3), 4 * MIB as u64)
        .unwrap();
    drop(other);
    let fresh = fs::File::open(&path).unwrap();
    let mut b = vec![0u8; 128 << 10];
    fresh.read_exact_at(&mut b, 4 * MIB as u64).unwrap();
    assert!(
        b[..] == pattern(MIB, 3)[..b.len()],
        "a new open saw old data"
    );
    std::thread::sleep(Duration::from_millis(1100));
    uncache(&reader);
    assert!(
        read(4 * MIB)[..] == pattern(MIB, 3)[..128 << 10],
        "read-ahead served data older than the pool's cache time"
    );
    // qemu-img's pattern: eight readers of one open, each on its own 2 MiB.
    uncache(&reader);
    let mut want = pattern(16 * MIB, 1);
    want[2 * MIB..3 * MIB].copy_from_slice(&pattern(MIB, 2));
    want[4 * MIB..5 * MIB].copy_from_slice(&pattern(MIB, 3));
    let reader = std::sync::Arc::new(reader);
    let parts: Vec<_> = (0..8)
        .map(|t| {
            let r = reader.clone();
            std::thread::spawn(move || {
                let mut got = vec![0u8; 2 * MIB];
                for (k, piece) in got.chunks_mut(128 << 10).enumerate() {
                    r.read_exact_at(piece, (t * 2 * MIB + k * (128 << 10)) as u64)
                        .unwrap();
                }
                got
            })
        })
        .collect();
    for (t, p) in parts.into_iter().enumerate() {
        assert!(
            p.join().unwrap()[..] == want[t * 2 * MIB..(t + 1) * 2 * MIB],
            "reader {t} got other data"
        );
    }
}

/// The bytes the established TCP connections to `port` on loopback have
/// received (`ss -ti`'s `bytes_received`).
fn received_from(port: u16) -> u64 {
    let out = run(&format!(
        "ss -Htin state established '( dport = :{port} )' dst 127.0.0.1"
    ));
    out.split_whitespace()
        .filter_map(|w| w.strip_prefix("bytes_received:"))
        .map(|n| n.parse::<u64>().unwrap())
        .sum()
}

/// `qemu-img convert` off a volume (eight requests of 2 MiB in flight, so
/// eight streams of reads on one open) reads each byte off the server
/// once: the read-ahead asks for no chunk twice. It asked again for
/// chunks ahead that the readers had gone past (3,175 chunks of 1 MiB for
/// two copies of 1 GiB).
#[test]
fn a_copy_off_reads_each_byte_off_the_server_once() {
    require_mount!();
    if !require_server() || !have_tool("ss") || !have_tool("qemu-img") {
        return;
    }
    const SIZE: u64 = 128 << 20;
    let fx = Fixture::new();
    let srv = serve(&fx);
    for v in ["3", "4.1"] {
        let name = format!("n{}", v.replace('.', ""));
        define(&fx, &srv, &name, Some(v), 5);
        let want = pattern(SIZE as usize, 4);
        fs::write(fx.dir.path().join("export/copied.img"), &want).unwrap();
        let out = fx.dir.path().join("copied-out.img");
        let before = received_from(srv.port);
        run(&format!(
            "qemu-img convert -f raw -O raw '{}' '{}'",
            fx.pool(&name).join("copied.img").display(),
            out.display()
        ));
        let read = received_from(srv.port) - before;
        assert!(fs::read(&out).unwrap() == want, "NFSv{v}: the copy differs");
        fs::remove_file(&out).unwrap();
        fx.ctl(format!("{name}/status"), "stop").unwrap();
        eprintln!(
            "NFSv{v}: {} MiB received for {} MiB",
            read >> 20,
            SIZE >> 20
        );
        // The calls' headers, and the first request of each 2 MiB stretch
        // (it continues nothing and is read as asked): a few MiB.
        assert!(
            (SIZE..=SIZE + (4 << 20)).contains(&read),
            "NFSv{v}: the copy received {read} bytes from the server for a volume of {SIZE}"
        );
    }
}

/// Write-behind (docs/backends.md): a write is answered once parked in
/// the journal's memfd, before the NFS server has it. The server crashes
/// after answering a parked write and before sending it
/// (`POOLFS_CRASH_AFTER=write-parked`): its successor sends it.
#[test]
fn a_write_answered_before_the_nfs_server_had_it_survives_a_crash() {
    require_mount!();
    if !require_server() {
        return;
    }
    let (fx, flag) = Fixture::crashing_after("write-parked");
    let srv = serve(&fx);
    define(&fx, &srv, "nfs1", Some("3"), 5);
    let path = fx.pool("nfs1").join("wb.img");
    let f = fs::File::create(&path).unwrap();
    f.set_len(4 << 20).unwrap();
    fs::write(&flag, b"").unwrap();
    let old = fx.server_pid();
    let mut want = Vec::new();
    for i in 0..4u8 {
        f.write_all_at(&pattern(1 << 20, 10 + i), u64::from(i) << 20)
            .unwrap();
        want.extend(pattern(1 << 20, 10 + i));
    }
    fx.wait_new_server(old);
    assert!(!flag.exists(), "the server did not crash");
    f.sync_all()
        .unwrap_or_else(|e| panic!("fsync after the crash: {e}; log:\n{}", fx.log()));
    assert!(
        fs::read(srv.export.join("wb.img")).unwrap() == want,
        "the parked write did not reach the NFS server; log:\n{}",
        fx.log()
    );
    assert!(fs::read(&path).unwrap() == want);
    assert!(
        fx.log().contains("writes the previous server had answered"),
        "the successor sent no parked write"
    );
}

/// The names on the export that hide volumes removed while open.
fn hidden_on(export: &std::path::Path) -> Vec<String> {
    fs::read_dir(export)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".poolfs-removed-"))
        .collect()
}

/// A volume hidden by a host that died with no successor (keeper and
/// server killed, the machine's crash) is removed by the next listing of
/// its directory on that host; another host's hidden file is left alone.
#[test]
fn a_hidden_volume_left_by_a_dead_host_is_removed_at_the_next_listing() {
    require_mount!();
    if !require_server() {
        return;
    }
    let mut fx = Fixture::new();
    let srv = serve(&fx);
    let export = fx.dir.path().join("export");
    define(&fx, &srv, "n3", Some("3"), 5);
    let p = fx.pool("n3");
    fs::write(p.join("v.img"), pattern(8192, 1)).unwrap();
    let open = fs::File::open(p.join("v.img")).unwrap();
    fs::remove_file(p.join("v.img")).unwrap();
    let other = ".poolfs-removed-0123456789abcdef-00000001-2";
    fs::write(export.join(other), b"another host's").unwrap();
    fs::read_dir(&p).unwrap().for_each(drop);
    assert_eq!(hidden_on(&export).len(), 2, "removed while open");
    fx.kill9();
    drop(open);
    fx.start();
    fx.ctl("n3/status", "start").unwrap();
    assert_eq!(hidden_on(&export).len(), 2, "removed before a listing");
    fs::read_dir(&p).unwrap().for_each(drop);
    assert_eq!(
        hidden_on(&export),
        vec![other.to_string()],
        "this host's leftover not removed by the listing, or another host's removed: {}",
        fx.log()
    );
    fs::remove_file(export.join(other)).unwrap();
    fx.ctl("n3/status", "stop").unwrap();
}

/// As on ext4, `rmdir` of a directory whose volumes were all removed while
/// open succeeds, and the opens go on; a directory holding another host's
/// hidden file stays `ENOTEMPTY`.
#[test]
fn rmdir_after_its_volumes_were_removed_while_open_succeeds() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    let export = fx.dir.path().join("export");
    define(&fx, &srv, "n3", Some("3"), 5);
    let d = fx.pool("n3").join("d");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("v.img"), pattern(8192, 1)).unwrap();
    let open = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(d.join("v.img"))
        .unwrap();
    fs::remove_file(d.join("v.img")).unwrap();
    assert_eq!(hidden_on(&export.join("d")).len(), 1);
    fs::remove_dir(&d).unwrap();
    assert!(!d.exists() && !export.join("d").exists());
    open.write_all_at(&pattern(4096, 2), 8192).unwrap();
    open.sync_all().unwrap();
    let mut back = vec![0u8; 12288];
    open.read_exact_at(&mut back, 0).unwrap();
    assert!(
        back[..8192] == pattern(8192, 1)[..] && back[8192..] == pattern(4096, 2)[..],
        "the open read other bytes after the rmdir"
    );
    assert_eq!(hidden_on(&export).len(), 1, "not kept for its open");
    drop(open);
    no_hidden_within_5s(&export, "not removed at its last close after the rmdir");

    fs::create_dir(&d).unwrap();
    fs::write(
        export.join("d/.poolfs-removed-0123456789abcdef-00000001-2"),
        b"another host's",
    )
    .unwrap();
    assert_eq!(errno_of(fs::remove_dir(&d)), Some(libc::ENOTEMPTY));
    assert_eq!(hidden_on(&export.join("d")).len(), 1);
    fs::remove_dir_all(export.join("d")).unwrap();
    fx.ctl("n3/status", "stop").unwrap();
}

/// Waits until the export holds no hidden volume.
fn no_hidden_within_5s(export: &std::path::Path, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !hidden_on(export).is_empty() {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// As on ext4, a volume removed (or renamed over) while open stays
/// readable and writable through its opens, on NFSv3 and NFSv4.1, and
/// through a crash of poolfs's server; it is freed at the last close. The
/// NFS server would forget a removed file's handle, so poolfs renames it to
/// a hidden name until then (the kernel's client "silly-renames" alike).
#[test]
fn a_volume_removed_while_open_stays_for_its_opens() {
    require_mount!();
    if !require_server() {
        return;
    }
    let fx = Fixture::new();
    let srv = serve(&fx);
    let export = fx.dir.path().join("export");
    for v in ["3", "4.1"] {
        let name = format!("n{}", v.replace('.', ""));
        define(&fx, &srv, &name, Some(v), 5);
        let p = fx.pool(&name);
        fs::write(p.join("v.img"), pattern(8192, 1)).unwrap();
        let reader = fs::File::open(p.join("v.img")).unwrap();
        let writer = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p.join("v.img"))
            .unwrap();
        fs::remove_file(p.join("v.img")).unwrap();
        assert!(!p.join("v.img").exists(), "NFSv{v}");
        let listed: Vec<_> = fs::read_dir(&p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !listed.iter().any(|n| n.starts_with(".poolfs-removed-")),
            "NFSv{v}: {listed:?}"
        );
        assert_eq!(hidden_on(&export).len(), 1, "NFSv{v}");
        writer.write_all_at(&pattern(4096, 2), 8192).unwrap();
        writer.sync_all().unwrap();
        let mut back = vec![0u8; 12288];
        reader.read_exact_at(&mut back, 0).unwrap();
        assert!(
            back[..8192] == pattern(8192, 1)[..] && back[8192..] == pattern(4096, 2)[..],
            "NFSv{v}: the open read other bytes"
        );
        // The name is free for a new volume; hidden names are no volume's.
        fs::write(p.join("v.img"), pattern(4096, 3)).unwrap();
        assert_eq!(fs::read(p.join("v.img")).unwrap(), pattern(4096, 3));
        assert_eq!(
            errno_of(fs::write(p.join(".poolfs-removed-x"), b"x")),
            Some(libc::EINVAL),
            "NFSv{v}"
        );
        drop(reader);
        assert_eq!(
            hidden_on(&export).len(),
            1,
            "NFSv{v}: removed before the last close"
        );
        drop(writer);
        no_hidden_within_5s(&export, &format!("NFSv{v}: not removed at its last close"));

        // Renamed over while open, then poolfs's server crashes: the
        // successor serves the open and removes it at its close.
        fs::write(p.join("w.img"), pattern(4096, 4)).unwrap();
        let open = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(p.join("v.img"))
            .unwrap();
        fs::rename(p.join("w.img"), p.join("v.img")).unwrap();
        assert_eq!(fs::read(p.join("v.img")).unwrap(), pattern(4096, 4));
        assert_eq!(hidden_on(&export).len(), 1, "NFSv{v}");
        fx.crash_server();
        // The successor holds it open: a listing leaves it.
        fs::read_dir(&p).unwrap().for_each(drop);
        assert_eq!(
            hidden_on(&export).len(),
            1,
            "NFSv{v}: removed by a listing while open"
        );
        open.write_all_at(&pattern(4096, 5), 4096).unwrap();
        open.sync_all().unwrap();
        let mut back = vec![0u8; 8192];
        open.read_exact_at(&mut back, 0).unwrap();
        assert!(
            back[..4096] == pattern(4096, 3)[..] && back[4096..] == pattern(4096, 5)[..],
            "NFSv{v}: the open read other bytes after the crash"
        );
        drop(open);
        no_hidden_within_5s(
            &export,
            &format!("NFSv{v}: not removed at its last close after a crash"),
        );
        fs::remove_file(p.join("v.img")).unwrap();
        fx.ctl(format!("{name}/status"), "stop").unwrap();
    }
}
