//! A server that dies (SIGKILL) is replaced on the same FUSE connection and
//! nothing using the mount notices: the keeper holds the connection, the
//! successor takes over from the journal and has the kernel resend what
//! was in flight. Real mounts, real fio; both I/O paths (POOLFS_TEST_IO).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Fixture;

/// Runs fio on `file` while the server is killed `crashes` times, 300 ms
/// apart; returns fio's JSON report. fio must finish without an error (its
/// own checks, `verify` among them, included).
fn fio_through_crashes(fx: &Fixture, args: &[&str], crashes: usize) -> serde_json::Value {
    fio_through(fx, args, crashes, |fx| {
        let t = fx.crash_server();
        std::thread::sleep(Duration::from_millis(300));
        t
    })
}

/// Runs fio while `crash` (which kills the server and returns how long the
/// takeover took) is done `crashes` times; fio must finish without an error.
fn fio_through(
    fx: &Fixture,
    args: &[&str],
    crashes: usize,
    crash: impl Fn(&Fixture) -> Duration,
) -> serde_json::Value {
    let out = fx.dir.path().join("fio.json");
    let mut fio = Command::new("fio")
        .args(args)
        .arg("--output-format=json")
        .arg(format!("--output={}", out.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut takeovers = Vec::new();
    for _ in 0..crashes {
        if fio.try_wait().unwrap().is_some() {
            break;
        }
        takeovers.push(crash(fx));
    }
    let st = fio.wait().unwrap();
    assert_eq!(
        takeovers.len(),
        crashes,
        "fio ended before every crash was injected: make its job longer"
    );
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert!(
        st.success(),
        "fio failed ({st}): {report}\nlog:\n{}",
        fx.log()
    );
    let job = &report["jobs"][0];
    assert_eq!(job["error"], 0, "fio reported an error: {job}");
    eprintln!("takeovers (kill to serving): {takeovers:?}");
    report
}

/// fio: 4 KiB random writes, QD16, `O_DIRECT`, each block checked back
/// (`verify`), six passes over 64 MiB of `file`.
fn direct_randwrite(file: &std::path::Path) -> Vec<String> {
    [
        "--name=direct",
        &format!("--filename={}", file.display()),
        "--size=64M",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=16",
        "--ioengine=libaio",
        "--direct=1",
        "--verify=crc32c",
        "--verify_fatal=1",
        "--verify_state_save=0",
        "--loops=6",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The longest completion latency of a fio job, in milliseconds.
fn worst_ms(report: &serde_json::Value) -> f64 {
    let job = &report["jobs"][0];
    ["read", "write"]
        .iter()
        .map(|d| job[d]["clat_ns"]["max"].as_f64().unwrap_or(0.0) / 1e6)
        .fold(0.0, f64::max)
}

#[test]
fn direct_random_writes_verify_through_five_crashes() {
    require_mount!();
    if !common::have_tool("fio") {
        return;
    }
    let fx = Fixture::new();
    let file = fx.pool("default").join("disk.img");
    let args = direct_randwrite(&file);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = fio_through_crashes(&fx, &args, 5);
    let worst = worst_ms(&report);
    eprintln!("worst completion latency: {worst:.1} ms");
    assert!(worst < 2000.0, "a request waited {worst} ms");
}

#[test]
fn buffered_sequential_writes_verify_through_five_crashes() {
    require_mount!();
    if !common::have_tool("fio") {
        return;
    }
    let fx = Fixture::new();
    let file = fx.pool("default").join("seq.img");
    let report = fio_through_crashes(
        &fx,
        &[
            "--name=seq",
            &format!("--filename={}", file.display()),
            "--size=64M",
            "--rw=write",
            "--bs=1M",
            "--ioengine=psync",
            "--verify=crc32c",
            "--verify_fatal=1",
            "--verify_state_save=0",
            "--end_fsync=1",
            "--loops=60",
        ],
        5,
    );
    eprintln!("worst completion latency: {:.1} ms", worst_ms(&report));
}

/// A successor killed within 20 ms of serving, while 1 MiB writes arrive:
/// its workers' first requests land in fresh buffers. The kernel fails a
/// request (EIO to the writer) when its copy into the server has to fault
/// a page in and the server is being killed, so buffers are faulted in
/// before the first read; no write may fail. On the daemon path, whatever
/// the suite runs (with passthrough, writes never reach the server).
#[test]
fn a_server_killed_as_it_starts_fails_no_write() {
    require_mount!();
    if !common::have_tool("fio") {
        return;
    }
    let fx = Fixture::with_args(&["--io", "daemon"]);
    let file = fx.pool("default").join("fresh.img");
    let report = fio_through(
        &fx,
        &[
            "--name=fresh",
            &format!("--filename={}", file.display()),
            "--size=64M",
            "--rw=write",
            "--bs=1M",
            "--ioengine=psync",
            "--loops=60",
        ],
        4,
        |fx| {
            let t = fx.crash_server();
            let jitter = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
                % 20;
            std::thread::sleep(Duration::from_millis(u64::from(jitter)));
            fx.crash_server();
            std::thread::sleep(Duration::from_millis(300));
            t
        },
    );
    eprintln!("worst completion latency: {:.1} ms", worst_ms(&report));
}

#[test]
fn an_open_volume_still_holds_its_pool_after_a_crash() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("held.img");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&vol)
        .unwrap();
    f.write_all_at(b"before", 0).unwrap();
    fx.crash_server();
    // The handle works on: writes, fsync, reads through it.
    f.write_all_at(b"after!", 6).unwrap();
    f.sync_all().unwrap();
    let mut buf = [0u8; 12];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"beforeafter!");
    // And the pool still knows it is open.
    let err = fx
        .ctl(fx.pool("default").join("status"), "stop")
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    drop(f);
    // The kernel's RELEASE arrives just after close(2).
    let mut stopped = Err(err);
    for _ in 0..100 {
        stopped = fx.ctl(fx.pool("default").join("status"), "stop");
        if stopped.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stopped.unwrap();
}

#[test]
fn names_and_directories_survive_a_crash() {
    require_mount!();
    let fx = Fixture::new();
    let pool = fx.pool("default");
    fs::create_dir(pool.join("d")).unwrap();
    fs::write(pool.join("d/v.img"), b"data").unwrap();
    let dir = fs::read_dir(pool.join("d")).unwrap();
    fx.crash_server();
    fx.crash_server();
    // Cached names and the open directory handle go on working.
    assert_eq!(fs::read(pool.join("d/v.img")).unwrap(), b"data");
    assert_eq!(dir.count(), 1);
    assert_eq!(
        fs::read_to_string(pool.join(".vol/d/v.img/info"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("capacity"))
            .unwrap(),
        "capacity: 4"
    );
}

/// Names the kernel caches long (their directory was watched) are expired
/// when a successor takes over: a directory replaced behind poolfs's back
/// after the crash is listed as it is now, not refused as a gone one.
#[test]
fn a_directory_replaced_after_a_crash_is_seen_as_it_is() {
    require_mount!();
    let fx = Fixture::new();
    let pool = fx.pool("default");
    fs::create_dir(pool.join("d")).unwrap();
    fs::write(pool.join("d/old.img"), b"old").unwrap();
    assert_eq!(fs::read_dir(pool.join("d")).unwrap().count(), 1);
    fx.crash_server();
    let b = fx.backing().join("d");
    fs::remove_dir_all(&b).unwrap();
    fs::create_dir(&b).unwrap();
    fs::write(b.join("new.img"), b"new").unwrap();
    let names: Vec<String> = fs::read_dir(pool.join("d"))
        .unwrap_or_else(|e| panic!("the replaced directory: {e}\nlog:\n{}", fx.log()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["new.img"]);
    assert_eq!(fs::read(pool.join("d/new.img")).unwrap(), b"new");
}

/// A crash after `op` took effect and before its reply (fault injection):
/// the resent request gets the answer an uninterrupted run gives.
fn crash_inside(op: &str, act: impl FnOnce(&Fixture), check: impl FnOnce(&Fixture)) {
    crash_inside_after(op, |_| {}, act, check)
}

/// `crash_inside`, with `setup` done before the fault is armed.
fn crash_inside_after(
    op: &str,
    setup: impl FnOnce(&Fixture),
    act: impl FnOnce(&Fixture),
    check: impl FnOnce(&Fixture),
) {
    let (fx, flag) = Fixture::crashing_after(op);
    setup(&fx);
    fs::write(&flag, b"").unwrap();
    let old = fx.server_pid();
    act(&fx);
    assert!(!flag.exists(), "the server did not crash inside {op}");
    fx.wait_new_server(old);
    let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&fx)));
    if let Err(e) = checked {
        eprintln!("log:\n{}", fx.log());
        std::panic::resume_unwind(e);
    }
}

#[test]
fn a_crash_inside_tree_changes_is_invisible() {
    require_mount!();
    crash_inside(
        "create",
        |fx| {
            let f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(fx.pool("default").join("new.img"))
                .unwrap();
            f.write_all_at(b"x", 0).unwrap();
        },
        |fx| assert_eq!(fs::read(fx.pool("default").join("new.img")).unwrap(), b"x"),
    );
    crash_inside(
        "mkdir",
        |fx| fs::create_dir(fx.pool("default").join("d")).unwrap(),
        |fx| assert!(fx.pool("default").join("d").is_dir()),
    );
    crash_inside(
        "unlink",
        |fx| {
            let p = fx.pool("default").join("gone.img");
            fs::write(&p, b"1").unwrap();
            fs::remove_file(&p).unwrap();
        },
        |fx| assert!(!fx.pool("default").join("gone.img").exists()),
    );
    crash_inside(
        "rmdir",
        |fx| {
            let p = fx.pool("default").join("e");
            fs::create_dir(&p).unwrap();
            fs::remove_dir(&p).unwrap();
        },
        |fx| assert!(!fx.pool("default").join("e").exists()),
    );
    crash_inside(
        "rename",
        |fx| {
            let p = fx.pool("default");
            fs::write(p.join("a.img"), b"a").unwrap();
            fs::rename(p.join("a.img"), p.join("b.img")).unwrap();
        },
        |fx| {
            let p = fx.pool("default");
            assert!(!p.join("a.img").exists());
            assert_eq!(fs::read(p.join("b.img")).unwrap(), b"a");
        },
    );
}

#[test]
fn a_crash_inside_a_control_write_applies_it_once() {
    require_mount!();
    crash_inside(
        "control",
        |fx| {
            let p = fx.pool("default");
            fs::File::create(p.join("r.img"))
                .unwrap()
                .set_len(1 << 20)
                .unwrap();
            fx.ctl(p.join(".vol/r.img/resize"), "+1M").unwrap();
        },
        |fx| {
            let len = fs::metadata(fx.pool("default").join("r.img"))
                .unwrap()
                .len();
            assert_eq!(
                len,
                2 << 20,
                "a relative resize applied twice or not at all"
            );
        },
    );
    crash_inside(
        "control",
        |fx| fx.ctl(fx.pool("default").join("status"), "stop").unwrap(),
        |fx| {
            let status = fs::read_to_string(fx.pool("default").join("status")).unwrap();
            assert_eq!(status.trim(), "inactive");
        },
    );
}

/// The capacity `info` shows for volume `name` of the default pool.
fn capacity(fx: &Fixture, name: &str) -> u64 {
    fs::read_to_string(fx.pool("default").join(format!(".vol/{name}/info")))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("capacity: "))
        .unwrap()
        .parse()
        .unwrap()
}

/// A crash after a control write took effect and before it was marked
/// done (for a qcow2 resize: right after qemu-img, the long window): the
/// resent request neither applies twice nor fails for finding its effect.
#[test]
fn a_crash_right_after_a_control_write_took_effect_applies_it_once() {
    require_mount!();
    crash_inside(
        "control-applied",
        |fx| {
            let p = fx.pool("default");
            fs::File::create(p.join("r.img"))
                .unwrap()
                .set_len(1 << 20)
                .unwrap();
            fx.ctl(p.join(".vol/r.img/resize"), "+1M").unwrap();
        },
        |fx| assert_eq!(capacity(fx, "r.img"), 2 << 20, "raw +1M applied twice"),
    );
    if common::have_tool("qemu-img") {
        crash_inside(
            "control-applied",
            |fx| {
                let img = fx.pool("default").join("q.qcow2");
                let ok = Command::new("qemu-img")
                    .args(["create", "-q", "-f", "qcow2"])
                    .arg(&img)
                    .arg("1M")
                    .status()
                    .unwrap();
                assert!(ok.success());
                fx.ctl(fx.pool("default").join(".vol/q.qcow2/resize"), "+1M")
                    .unwrap();
            },
            |fx| assert_eq!(capacity(fx, "q.qcow2"), 2 << 20, "qcow2 +1M applied twice"),
        );
    }
    crash_inside_after(
        "control-applied",
        |fx| fx.ctl(fx.pool("default").join("status"), "stop").unwrap(),
        |fx| fx.ctl(fx.pool("default").join("status"), "start").unwrap(),
        |fx| {
            let status = fs::read_to_string(fx.pool("default").join("status")).unwrap();
            assert_eq!(status.trim(), "running");
        },
    );
}

#[test]
fn killing_the_keeper_leaves_a_dead_mount_as_before() {
    require_mount!();
    let mut fx = Fixture::new();
    let server = fx.server_pid();
    fx.kill9();
    // The server went with its keeper; the mount is dead, not served.
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(server), None).is_err());
    assert_eq!(
        nix::sys::statvfs::statvfs(&fx.mnt).map(drop),
        Err(nix::errno::Errno::ENOTCONN)
    );
    // And a new daemon cleans it up and serves again.
    fx.start();
    assert!(fx.pool("default").join("status").exists());
}

#[test]
fn upgrade_under_load_and_a_failed_upgrade_keeps_serving() {
    require_mount!();
    if !common::have_tool("fio") {
        return;
    }
    let fx = Fixture::new();
    let file = fx.pool("default").join("up.img");
    let out = fx.dir.path().join("fio.json");
    let mut fio = Command::new("fio")
        .args(direct_randwrite(&file))
        .arg("--output-format=json")
        .arg(format!("--output={}", out.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let upgrade = |binary: Option<&str>| {
        let mut c = Command::new(common::BIN);
        c.arg("upgrade")
            .arg("--mount")
            .arg(&fx.mnt)
            .arg("--state-dir")
            .arg(&fx.state);
        if let Some(b) = binary {
            c.arg("--binary").arg(b);
        }
        c.output().unwrap()
    };
    let old = fx.server_pid();
    let up = upgrade(None);
    assert!(up.status.success(), "{up:?}\nlog:\n{}", fx.log());
    assert_ne!(fx.server_pid(), old, "the server was not replaced");
    // A new binary on disk (a package upgrade): the server and then the
    // keeper itself run it; the keeper keeps its pid, and replaces a server
    // that dies afterwards with one running the new binary too.
    let keeper: i32 = fs::read_to_string(fx.state.join("keeper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let new_bin = fx.dir.path().join("poolfs-new");
    fs::copy(common::BIN, &new_bin).unwrap();
    let up = upgrade(Some(new_bin.to_str().unwrap()));
    assert!(up.status.success(), "{up:?}\nlog:\n{}", fx.log());
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(said.contains(&format!("keeper pid {keeper}")), "{said}");
    let exe = |pid: i32| fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe(keeper), new_bin, "the keeper runs the old binary");
    assert_eq!(exe(fx.server_pid()), new_bin);
    fx.crash_server();
    assert_eq!(exe(fx.server_pid()), new_bin);
    // A binary that serves but cannot take over the keeper: the server is
    // upgraded, the keeper stays as it is (and says so).
    let no_keeper = fx.dir.path().join("poolfs-no-keeper");
    fs::write(
        &no_keeper,
        format!(
            "#!/bin/sh\ncase \"$*\" in *--keeper*) exit 2;; esac\nexec {} \"$@\"\n",
            new_bin.display()
        ),
    )
    .unwrap();
    fs::set_permissions(
        &no_keeper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let up = upgrade(Some(no_keeper.to_str().unwrap()));
    assert!(up.status.success(), "{up:?}\nlog:\n{}", fx.log());
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(said.contains("the keeper keeps its binary"), "{said}");
    assert_eq!(exe(keeper), new_bin, "the keeper changed");
    // A binary that cannot serve: refused with a sentence, and the tree is
    // served on (by the previous binary).
    let bad = upgrade(Some("/bin/false"));
    assert!(!bad.status.success());
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(msg.contains("the previous one serves again"), "{msg}");
    assert!(fx.pool("default").join("status").exists());
    assert!(
        fio.try_wait().unwrap().is_none(),
        "fio ended before the upgrades: make it longer"
    );
    let st = fio.wait().unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&out).unwrap()).unwrap();
    assert!(
        st.success(),
        "fio failed ({st}): {report}\nlog:\n{}",
        fx.log()
    );
    assert_eq!(report["jobs"][0]["error"], 0);
    let worst = worst_ms(&report);
    eprintln!("worst completion latency across both upgrades: {worst:.1} ms");
    assert!(worst < 2000.0, "a request waited {worst} ms");
}

#[test]
fn a_wipe_cut_by_a_crash_runs_again_to_its_end() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("w.img");
    fs::write(&vol, vec![7u8; 1 << 20]).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&vol)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let ctl = fx.pool("default").join(".vol/w.img/wipe");
    std::thread::scope(|s| {
        let wipe = s.spawn(|| fx.ctl(&ctl, "random"));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            fs::read_to_string(&ctl).unwrap().starts_with("running"),
            "the wipe ended before the crash: make the volume larger"
        );
        fx.crash_server();
        // The writer waits on: its request is sent again and runs again.
        wipe.join().unwrap().unwrap();
    });
    assert_eq!(fs::read_to_string(&ctl).unwrap().trim(), "done random");
    let mut head = vec![0u8; 1 << 20];
    fs::File::open(&vol)
        .unwrap()
        .read_exact_at(&mut head, 0)
        .unwrap();
    assert!(head.iter().any(|b| *b != 7), "the old data is still there");
}

/// `poolfs vol-clone` (create, then a sparse copy through the mount) while
/// the server is killed twice: it finishes, and the clone is the source.
#[test]
fn a_clone_goes_on_through_crashes() {
    require_mount!();
    let fx = Fixture::new();
    let pool = fx.pool("default");
    let src = pool.join("src.img");
    {
        let f = fs::File::create(&src).unwrap();
        let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
        // Data with holes between: the copy walks both.
        for i in 0..640u64 {
            if i % 5 != 4 {
                f.write_all_at(&chunk, i << 20).unwrap();
            }
        }
        f.set_len(640 << 20).unwrap();
        f.sync_all().unwrap();
    }
    let mut clone = Command::new(common::BIN)
        .args([
            "vol-clone",
            "src.img",
            "dst.img",
            "--pool",
            "default",
            "--mount",
        ])
        .arg(&fx.mnt)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(60));
    let running = clone.try_wait().unwrap().is_none();
    fx.crash_server();
    std::thread::sleep(Duration::from_millis(60));
    fx.crash_server();
    let out = clone.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}\nlog:\n{}", fx.log());
    assert!(
        running,
        "the clone ended before the first crash: make the volume larger"
    );
    let same = Command::new("cmp")
        .arg(&src)
        .arg(pool.join("dst.img"))
        .status()
        .unwrap();
    assert!(same.success(), "the clone differs from its source");
}
