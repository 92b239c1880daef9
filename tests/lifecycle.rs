//! The daemon's life and the pools' lives through the mounted tree: the
//! default pool, clean and unclean restarts, control files and refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::time::{Duration, Instant};

use common::{Fixture, errno_of, is_fuse_mount};

#[test]
fn read_ahead_is_the_kernels_unless_asked() {
    require_mount!();
    use std::os::unix::fs::MetadataExt;
    let read_ahead = |fx: &Fixture| {
        let dev = fs::metadata(&fx.mnt).unwrap().dev();
        let path = format!(
            "/sys/class/bdi/{}:{}/read_ahead_kb",
            libc::major(dev),
            libc::minor(dev)
        );
        fs::read_to_string(path).unwrap().trim().to_string()
    };
    assert_eq!(read_ahead(&Fixture::new()), "128");
    // Set just after the session starts serving: allow it a moment.
    let fx = Fixture::with_args(&["--read-ahead", "4096"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while read_ahead(&fx) != "4096" && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(read_ahead(&fx), "4096");
}

#[test]
fn daemon_defines_and_starts_the_default_pool() {
    require_mount!();
    let fx = Fixture::new();
    assert_eq!(fx.read("default/status"), "running\n");
    assert_eq!(fx.read("default/autostart"), "yes\n");
    assert_eq!(
        fx.info("default", "target"),
        fx.backing().display().to_string()
    );
    assert_eq!(fx.info("default", "type"), "dir");
    assert!(fx.state.join("defs/default.toml").is_file());
    let m = poolfs::mounts::at(&fx.mnt).unwrap();
    assert_eq!(
        (m.fstype.as_str(), m.source.as_str()),
        ("fuse.poolfs", "poolfs")
    );
}

#[test]
fn sigterm_unmounts_cleanly() {
    require_mount!();
    let mut fx = Fixture::new();
    fs::write(fx.pool("default").join("v.img"), "data").unwrap();
    let st = fx.terminate();
    assert!(st.success(), "exit status {st}");
    assert!(!is_fuse_mount(&fx.mnt), "mount left behind");
    assert_eq!(
        fs::read_to_string(fx.backing().join("v.img")).unwrap(),
        "data"
    );
}

#[test]
fn kill9_leaves_a_stale_mount_that_the_next_start_cleans() {
    require_mount!();
    let mut fx = Fixture::new();
    fs::create_dir(fx.mnt.join("p2")).unwrap();
    fx.ctl("p2/status", "build").unwrap();
    fx.ctl("p2/status", "start").unwrap();
    fs::create_dir(fx.mnt.join("p3")).unwrap();
    fs::write(fx.pool("p2").join("keep.img"), "p2 data").unwrap();
    fx.kill9();
    assert_eq!(
        nix::sys::statvfs::statvfs(&fx.mnt).err(),
        Some(nix::errno::Errno::ENOTCONN),
        "the crash left a dead mount"
    );
    fx.start();
    assert_eq!(fx.read("default/status"), "running\n");
    assert_eq!(
        fx.read("p2/status"),
        "running\n",
        "running pools run again after a crash"
    );
    assert_eq!(fx.read("p3/status"), "inactive\n");
    assert_eq!(
        fs::read_to_string(fx.pool("p2").join("keep.img")).unwrap(),
        "p2 data"
    );
}

#[test]
fn restart_restores_running_and_autostart_pools_only() {
    require_mount!();
    let mut fx = Fixture::new();
    for p in ["run", "auto", "idle"] {
        fs::create_dir(fx.mnt.join(p)).unwrap();
        fx.ctl(format!("{p}/status"), "build").unwrap();
    }
    fx.ctl("run/status", "start").unwrap();
    fx.ctl("auto/autostart", "on").unwrap();
    fx.ctl("default/status", "stop").unwrap();
    fx.ctl("default/autostart", "no").unwrap();
    assert!(fx.terminate().success());
    fx.start();
    assert_eq!(fx.read("run/status"), "running\n");
    assert_eq!(fx.read("auto/status"), "running\n");
    assert_eq!(fx.read("auto/autostart"), "yes\n");
    assert_eq!(fx.read("idle/status"), "inactive\n");
    assert_eq!(fx.read("default/status"), "inactive\n");
}

#[test]
fn stop_refused_while_a_volume_is_open_and_names_it() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    fs::create_dir(p.join("images")).unwrap();
    fs::write(p.join("images/vm1.img"), "vm1").unwrap();
    let held = File::open(p.join("images/vm1.img")).unwrap();
    assert_eq!(
        errno_of(fx.ctl("default/status", "stop")),
        Some(libc::EBUSY)
    );
    assert_eq!(fx.read("default/status"), "running\n");
    assert!(
        fx.info("default", "last_error").contains("images/vm1.img"),
        "{}",
        fx.read("default/info")
    );
    drop(held);
    fx.ctl("default/status", "stop").unwrap();
    assert_eq!(fx.read("default/status"), "inactive\n");
    let names: Vec<_> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names.len(),
        4,
        "an inactive pool shows only its control files: {names:?}"
    );
    assert_eq!(
        errno_of(File::open(p.join("images/vm1.img"))),
        Some(libc::ENOENT)
    );
    fx.ctl("default/status", "stop").unwrap(); // stopping an inactive pool succeeds
    fx.ctl("default/status", "start").unwrap();
    assert_eq!(fs::read_to_string(p.join("images/vm1.img")).unwrap(), "vm1");
    fx.ctl("default/status", "start").unwrap(); // starting a running pool succeeds
}

#[test]
fn config_is_validated_and_only_writable_while_inactive() {
    require_mount!();
    let fx = Fixture::new();
    let good = fx.read("default/config");
    assert_eq!(
        errno_of(fx.ctl("default/config", "type = \"dir\"\ntarget = \"/x\"")),
        Some(libc::EBUSY)
    );
    fx.ctl("default/status", "stop").unwrap();
    for bad in [
        "type = \"dir\"\ntarget = \"relative\"",
        "type = \"dir\"",
        "type = \"zfs\"\ntarget = \"/x\"",
        "type = \"dir\"\ntarget = \"/x\"\nextra = 1",
        "not toml at all [",
    ] {
        assert_eq!(
            errno_of(fx.ctl("default/config", bad)),
            Some(libc::EINVAL),
            "{bad}"
        );
        assert_eq!(fx.read("default/config"), good, "old definition kept");
    }
    let new_target = fx.dir.path().join("elsewhere");
    fx.ctl(
        "default/config",
        &format!("type = \"dir\"\ntarget = \"{}\"", new_target.display()),
    )
    .unwrap();
    assert!(fx.read("default/config").contains("elsewhere"));
    assert!(
        fs::read_to_string(fx.state.join("defs/default.toml"))
            .unwrap()
            .contains("elsewhere")
    );
    assert!(
        fx.ctl("default/status", "start").is_err(),
        "target does not exist yet"
    );
    assert_eq!(fx.read("default/status"), "inactive\n");
    fx.ctl("default/status", "build").unwrap();
    fx.ctl("default/status", "start").unwrap();
    assert!(new_target.is_dir());
}

#[test]
fn pools_are_defined_renamed_and_undefined_with_mkdir_mv_rmdir() {
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.mnt.join("new")).unwrap();
    assert_eq!(fx.read("new/status"), "inactive\n");
    assert_eq!(
        errno_of(fs::create_dir(fx.mnt.join("new"))),
        Some(libc::EEXIST)
    );
    fs::rename(fx.mnt.join("new"), fx.mnt.join("renamed")).unwrap();
    assert_eq!(fx.info("renamed", "name"), "renamed");
    assert!(
        fx.state.join("defs/renamed.toml").is_file() && !fx.state.join("defs/new.toml").exists()
    );
    assert_eq!(
        errno_of(fs::remove_dir(fx.mnt.join("default"))),
        Some(libc::EBUSY)
    );
    fs::write(fx.pool("default").join("kept.img"), "k").unwrap();
    fx.ctl("default/status", "stop").unwrap();
    fs::remove_dir(fx.mnt.join("default")).unwrap();
    assert_eq!(
        errno_of(fs::metadata(fx.mnt.join("default"))),
        Some(libc::ENOENT)
    );
    assert_eq!(
        fs::read_to_string(fx.backing().join("kept.img")).unwrap(),
        "k",
        "undefine never touches data"
    );
}

#[test]
fn control_files_follow_sysfs_rules() {
    require_mount!();
    let fx = Fixture::new();
    // O_TRUNC is a no-op, >> works as well as >, surrounding white space is ignored.
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(fx.mnt.join("default/autostart"))
        .unwrap();
    f.write_all(b"  off \n").unwrap();
    drop(f);
    assert_eq!(fx.read("default/autostart"), "no\n");
    assert_eq!(
        errno_of(fx.ctl("default/autostart", "maybe")),
        Some(libc::EINVAL)
    );
    assert_eq!(fx.read("default/autostart"), "no\n");
    assert_eq!(
        errno_of(
            fs::OpenOptions::new()
                .write(true)
                .open(fx.mnt.join("default/info"))
        ),
        Some(libc::EACCES)
    );
    // A snapshot at open: a reader keeps the text it opened with.
    let mut reader = File::open(fx.mnt.join("default/status")).unwrap();
    fx.ctl("default/status", "stop").unwrap();
    let mut s = String::new();
    std::io::Read::read_to_string(&mut reader, &mut s).unwrap();
    assert_eq!(s, "running\n");
    assert_eq!(
        errno_of(fx.ctl("default/status", "refresh")),
        Some(libc::ENXIO)
    );
    assert!(fx.info("default", "last_error").contains("not running"));
    // Modes: 0644 for request files, 0444 for info.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(fx.mnt.join("default/status"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    assert_eq!(
        fs::metadata(fx.mnt.join("default/info"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o444
    );
}

#[test]
fn info_and_statfs_agree() {
    require_mount!();
    let fx = Fixture::new();
    fs::write(fx.pool("default").join("a.img"), "a").unwrap();
    fs::create_dir(fx.pool("default").join("d")).unwrap();
    fs::write(fx.pool("default").join("d/b.img"), "b").unwrap();
    assert_eq!(fx.info("default", "volumes"), "2");
    let st = nix::sys::statvfs::statvfs(&fx.pool("default")).unwrap();
    let cap: u64 = fx.info("default", "capacity").parse().unwrap();
    assert_eq!(cap, st.blocks() * st.fragment_size());
    // `info` counts all free blocks (libvirt); statfs passes the backing
    // filesystem's figures through (df's Avail leaves out root's reserve).
    let backing = nix::sys::statvfs::statvfs(&fx.backing()).unwrap();
    let avail: u64 = fx.info("default", "available").parse().unwrap();
    let free = backing.blocks_free() * backing.fragment_size();
    assert!(
        avail.abs_diff(free) < 64 << 20,
        "info {avail} vs f_bfree {free}"
    );
    let (pool_avail, native_avail) = (
        st.blocks_available() * st.fragment_size(),
        backing.blocks_available() * backing.fragment_size(),
    );
    assert!(
        pool_avail.abs_diff(native_avail) < 64 << 20,
        "statfs {pool_avail} vs backing f_bavail {native_avail}"
    );
    // One snapshot: capacity = allocation + available exactly.
    let text = fx.read("default/info");
    let num = |k: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(num("allocation") + num("available"), num("capacity"));
}

/// systemd `Type=notify`: READY=1 arrives once the tree is mounted.
#[test]
fn sd_notify_ready_after_mount() {
    require_mount!();
    let dir = common::scratch();
    let sock_path = dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(15)))
        .unwrap();
    let mnt = dir.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let mut child = std::process::Command::new(common::BIN)
        .args([
            "mount",
            mnt.to_str().unwrap(),
            "--foreground",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let got = sock.recv(&mut buf);
    let mounted = mnt.join("default/status").exists();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let st = child.wait().unwrap();
    assert_eq!(&buf[..got.unwrap()], b"READY=1\n");
    assert!(mounted, "READY=1 came before the tree was mounted");
    assert!(st.success());
    assert!(!is_fuse_mount(&mnt));
}

/// `path` opened with `O_TRUNC` and written in `parts`, one `write(2)`
/// each; still open.
fn written(path: &std::path::Path, parts: &[&[u8]]) -> File {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    for p in parts {
        f.write_all(p).unwrap();
    }
    f
}

/// What a shell user sees: `echo ... > config` with an unknown key, a bad
/// value or a line that is not `key = value` fails at the write (the shell
/// prints "Invalid argument" and exits non-zero), and the definition stays.
#[test]
fn config_errors_show_at_the_write_in_a_shell() {
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.pool("p")).unwrap();
    let cfg = fx.pool("p").join("config");
    let before = fx.read("p/config");
    for bad in [
        r#"echo 'type = "bogus"'"#,
        r#"echo 'colour = "red"'"#,
        r#"printf 'type = "dir"\ntarget = "relative"\n'"#,
        r#"echo 'this is not toml'"#,
    ] {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("{bad} > {}", cfg.display()))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad}: the shell saw no error");
        assert!(err.contains("Invalid argument"), "{bad}: {err}");
        assert_eq!(fx.read("p/config"), before, "{bad}: definition changed");
    }
    // A good one line by line, as an editor's heredoc writes it.
    let t = fx.dir.path().join("t");
    let (ok, _, err) = common::sh(&format!(
        "{{ echo 'type = \"dir\"'; echo 'target = \"{}\"'; }} > {}",
        t.display(),
        cfg.display()
    ));
    assert!(ok, "{err}");
    assert!(fx.read("p/config").contains(&t.display().to_string()));
    // A document may carry the pool's uuid (an import keeps libvirt's); no
    // two pools share one.
    let uuid = "6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f";
    let doc = format!(
        "uuid = \"{uuid}\"\ntype = \"dir\"\ntarget = \"{}\"\n",
        t.display()
    );
    fs::write(&cfg, &doc).unwrap();
    assert_eq!(fx.info("p", "uuid"), uuid);
    fs::create_dir(fx.pool("q")).unwrap();
    let f = written(&fx.pool("q").join("config"), &[doc.as_bytes()]);
    assert_eq!(
        errno_of(nix::unistd::close(f).map_err(std::io::Error::from)),
        Some(libc::EEXIST)
    );
    assert_ne!(fx.info("q", "uuid"), uuid);
}

/// `config` is a whole document: the writes of one open are collected and
/// applied at `close(2)`, which returns the refusal; what admins use to
/// write a file works (bash's printf writes line by line).
#[test]
fn config_collects_the_writes_of_one_open_and_applies_them_at_close() {
    use std::io::Write;
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.pool("p")).unwrap();
    let cfg = fx.pool("p").join("config");
    let (t1, t2) = (fx.dir.path().join("t1"), fx.dir.path().join("t2"));
    common::run(&format!(
        "bash -c 'printf \"type = \\\"dir\\\"\\ntarget = \\\"%s\\\"\\n\" {} > {}'",
        t1.display(),
        cfg.display()
    ));
    assert!(fx.read("p/config").contains("t1"), "printf, line by line");

    // Three writes, then close: applied once, at close.
    let f = written(
        &cfg,
        &[
            b"type = \"dir\"\n",
            b"target = \"",
            format!("{}\"\n", t2.display()).as_bytes(),
        ],
    );
    assert!(
        fx.read("p/config").contains("t1"),
        "nothing applied before close"
    );
    nix::unistd::close(f).unwrap();
    assert!(fx.read("p/config").contains("t2"), "{}", fx.read("p/info"));

    // A document missing a key: close fails, last_error says why, the old
    // one stays.
    let f = written(&cfg, &[b"type = \"dir\"\n"]);
    assert_eq!(
        errno_of(nix::unistd::close(f).map_err(std::io::Error::from)),
        Some(libc::EINVAL)
    );
    assert!(fx.info("p", "last_error").contains("target"));
    // A wrong line fails at its own write, and nothing of the document is
    // applied at close either.
    let mut f = written(&cfg, &[b"type = \"dir\"\n"]);
    assert_eq!(
        errno_of(f.write_all(b"tagret = \"/x\"\n")),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno_of(f.write_all(format!("target = \"{}\"\n", t1.display()).as_bytes())),
        Some(libc::EINVAL),
        "the rest of a refused document"
    );
    assert_eq!(
        errno_of(nix::unistd::close(f).map_err(std::io::Error::from)),
        Some(libc::EINVAL)
    );
    assert!(
        fx.info("p", "last_error").contains("tagret"),
        "{}",
        fx.read("p/info")
    );
    assert!(fx.read("p/config").contains("t2"), "old definition kept");
    // A whole-file copy and tee, as scripts write files.
    let new = fx.dir.path().join("new.toml");
    fs::write(
        &new,
        format!("type = \"dir\"\ntarget = \"{}\"\n", t1.display()),
    )
    .unwrap();
    common::run(&format!("cp {} {}", new.display(), cfg.display()));
    assert!(fx.read("p/config").contains("t1"), "cp");
    common::run(&format!(
        "sed s/t1/t2/ {} | tee {} >/dev/null",
        new.display(),
        cfg.display()
    ));
    assert!(fx.read("p/config").contains("t2"), "tee");

    // Replace-by-rename (sed -i, editors) cannot work: a sentence says how.
    let (ok, _, err) = common::sh(&format!("sed -i s/t2/t1/ {}", cfg.display()));
    assert!(!ok, "sed -i: {err}");
    assert!(
        fx.info("p", "last_error").contains("cat new.toml > config"),
        "{}",
        fx.read("p/info")
    );
    assert!(fx.read("p/config").contains("t2"), "unchanged");
    let running = fx.pool("default");
    fs::write(running.join("cfg.tmp"), "x").unwrap();
    assert_eq!(
        errno_of(fs::rename(running.join("cfg.tmp"), running.join("config"))),
        Some(libc::EEXIST)
    );
    assert!(
        fx.info("default", "last_error")
            .contains("cannot be replaced by a rename")
    );
    // While running, the first write is refused at once (as `echo` sees it).
    let mut f = fs::OpenOptions::new()
        .write(true)
        .open(running.join("config"))
        .unwrap();
    assert_eq!(
        errno_of(f.write_all(b"type = \"dir\"\n")),
        Some(libc::EBUSY)
    );
}

/// SIGTERM: with nothing open the daemon is gone within a second, also
/// after a burst of metadata work; with a volume open it says which one
/// keeps it, serves it, and exits once it is closed.
#[test]
fn sigterm_exits_within_a_second_or_says_what_keeps_it() {
    require_mount!();
    let mut fx = Fixture::new();
    let dir = fx.pool("default").join("many");
    fs::create_dir(&dir).unwrap();
    for i in 0..2000 {
        fs::write(dir.join(format!("f{i}")), b"x").unwrap();
    }
    common::run(&format!("ls -lR {} > /dev/null", fx.mnt.display()));
    fx.send_term();
    let took = fx.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(took < Duration::from_secs(1), "exit took {took:?}");

    fx.start();
    let vol = fx.pool("default").join("held.img");
    fs::write(&vol, b"data").unwrap();
    let f = fs::File::open(&vol).unwrap();
    fx.send_term();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !fx.log().contains("open volumes: default/held.img") {
        assert!(Instant::now() < deadline, "log:\n{}", fx.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        fx.wait_exit(Duration::from_millis(300)).is_none(),
        "still serving the open volume"
    );
    let mut buf = String::new();
    std::io::Read::read_to_string(&mut &f, &mut buf).unwrap();
    assert_eq!(buf, "data");
    drop(f);
    let took = fx
        .wait_exit(Duration::from_secs(5))
        .expect("exited after the close");
    assert!(
        took < Duration::from_secs(1),
        "exit took {took:?} after the close"
    );
}

/// A process writing `config` while another of its threads starts a
/// program (fork and exec close the child's copy of every descriptor, and
/// each close flushes): the child's close neither applies nor loses the
/// half-written document; the writer's own close applies it whole.
#[test]
fn config_is_applied_by_its_writers_close_not_a_forked_childs() {
    use std::io::Write;
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.pool("p")).unwrap();
    let cfg = fx.pool("p").join("config");
    let t = fx.dir.path().join("t");
    let mut f = fs::OpenOptions::new().write(true).open(&cfg).unwrap();
    f.write_all(b"type = \"dir\"\n").unwrap();
    // The child inherits `f` until its exec closes it.
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
    f.write_all(format!("target = \"{}\"\n", t.display()).as_bytes())
        .unwrap();
    nix::unistd::close(f).unwrap();
    assert!(
        fx.read("p/config").contains(&t.display().to_string()),
        "{}",
        fx.read("p/info")
    );
}
