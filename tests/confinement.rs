//! Bad input and confinement: refused operations give their errno, path
//! tricks planted in a backing directory never reach outside the pool, and
//! concurrent load neither errors nor deadlocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Fixture, errno_of, run};

#[test]
fn forbidden_node_types_are_eperm() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    File::create(p.join("vol.img")).unwrap();
    assert_eq!(
        errno_of(std::os::unix::fs::symlink("/etc/passwd", p.join("ln"))),
        Some(libc::EPERM)
    );
    assert_eq!(
        errno_of(fs::hard_link(p.join("vol.img"), p.join("hl"))),
        Some(libc::EPERM)
    );
    for (kind, what) in [
        (libc::S_IFIFO, "fifo"),
        (libc::S_IFSOCK, "sock"),
        (libc::S_IFCHR, "chr"),
        (libc::S_IFBLK, "blk"),
    ] {
        let r = nix::sys::stat::mknod(
            &p.join(what),
            nix::sys::stat::SFlag::from_bits_truncate(kind),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            0,
        );
        assert_eq!(r, Err(nix::errno::Errno::EPERM), "{what}");
    }
    // mknod of a regular file is a plain create.
    nix::sys::stat::mknod(
        &p.join("reg"),
        nix::sys::stat::SFlag::S_IFREG,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    assert!(fx.backing().join("reg").is_file());
    assert!(
        fx.read("default/info")
            .contains("last_error: poolfs does not create hard links")
            || fx
                .read("default/info")
                .contains("last_error: poolfs holds only volumes")
    );
}

#[test]
fn planted_symlinks_and_special_files_are_invisible() {
    require_mount!();
    let fx = Fixture::new();
    let b = fx.backing();
    let secret = fx.dir.path().join("outside-secret");
    fs::write(&secret, "secret").unwrap();
    fs::create_dir(b.join("sub")).unwrap();
    std::os::unix::fs::symlink(&secret, b.join("evil")).unwrap();
    std::os::unix::fs::symlink("/", b.join("sub/root")).unwrap();
    std::os::unix::fs::symlink("../../..", b.join("sub/up")).unwrap();
    nix::unistd::mkfifo(
        &b.join("fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(b.join("sock")).unwrap();
    fs::write(b.join("plain.img"), "ok").unwrap();

    let p = fx.pool("default");
    let names: HashSet<String> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains("plain.img") && names.contains("sub"),
        "{names:?}"
    );
    for hidden in ["evil", "fifo", "sock"] {
        assert!(!names.contains(hidden), "{hidden} is shown: {names:?}");
        assert_eq!(
            errno_of(File::open(p.join(hidden))),
            Some(libc::ENOENT),
            "{hidden}"
        );
    }
    let sub: Vec<_> = fs::read_dir(p.join("sub")).unwrap().collect();
    assert!(sub.is_empty(), "symlinks in sub-directories are hidden too");
    assert_eq!(
        errno_of(fs::read_dir(p.join("sub/root"))),
        Some(libc::ENOENT)
    );
    assert_eq!(
        errno_of(File::open(p.join("sub/up/etc/passwd"))),
        Some(libc::ENOENT)
    );
    // Creating over a hidden entry does not follow it.
    assert!(
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p.join("evil"))
            .is_err()
    );
    assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
}

#[test]
fn reserved_names_are_refused_and_shadowed() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    fs::write(
        fx.backing().join("status"),
        "a volume named like a control file",
    )
    .unwrap();
    assert_eq!(fx.read("default/status"), "running\n");
    assert_eq!(fx.info("default", "shadowed"), "status");
    assert_eq!(
        errno_of(fs::create_dir(p.join("config"))),
        Some(libc::EEXIST)
    );
    assert_eq!(
        errno_of(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p.join("info"))
        ),
        Some(libc::EEXIST)
    );
    assert_eq!(
        errno_of(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(p.join(".vol"))
        ),
        Some(libc::EEXIST)
    );
    File::create(p.join("v.img")).unwrap();
    assert_eq!(
        errno_of(fs::rename(p.join("v.img"), p.join("autostart"))),
        Some(libc::EEXIST)
    );
    assert_eq!(
        errno_of(fs::remove_file(p.join("status"))),
        Some(libc::EPERM)
    );
    assert!(fx.info("default", "last_error").contains("control file"));
    // In sub-directories the names are ordinary.
    fs::create_dir(p.join("d")).unwrap();
    File::create(p.join("d/status")).unwrap();
    assert!(fx.backing().join("d/status").is_file());
}

#[test]
fn rename_across_pools_is_exdev() {
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.mnt.join("p2")).unwrap();
    fx.ctl("p2/status", "build").unwrap();
    fx.ctl("p2/status", "start").unwrap();
    File::create(fx.pool("default").join("a.img")).unwrap();
    assert_eq!(
        errno_of(fs::rename(
            fx.pool("default").join("a.img"),
            fx.pool("p2").join("a.img")
        )),
        Some(libc::EXDEV)
    );
    // mv falls back to copy + delete.
    run(&format!(
        "mv {} {}",
        fx.pool("default").join("a.img").display(),
        fx.pool("p2").join("b.img").display()
    ));
    assert!(fx.state.join("pools/p2/b.img").is_file());
    assert!(!fx.backing().join("a.img").exists());
}

#[test]
fn readdir_offsets_stable_under_concurrent_changes() {
    require_mount!();
    let fx = Fixture::new();
    let d = fx.pool("default").join("many");
    fs::create_dir(&d).unwrap();
    let name = |i: usize| format!("{i:05}-{}", "x".repeat(120));
    for i in 0..3000 {
        File::create(d.join(name(i))).unwrap();
    }
    let mut seen = Vec::new();
    let mut it = fs::read_dir(&d).unwrap();
    for e in it.by_ref().take(200) {
        seen.push(e.unwrap().file_name().into_string().unwrap());
    }
    // Churn: remove odd files, add new ones, while the listing is half read.
    for i in (1..3000).step_by(2) {
        let _ = fs::remove_file(d.join(name(i)));
    }
    for i in 3000..3500 {
        File::create(d.join(name(i))).unwrap();
    }
    for e in it {
        seen.push(e.unwrap().file_name().into_string().unwrap());
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry is listed twice");
    for i in (0..3000).step_by(2) {
        assert!(
            unique.contains(&name(i)),
            "entry {i}, never removed, was skipped"
        );
    }
}

#[test]
fn eight_writers_and_a_lister_for_a_while() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    let secs: u64 = std::env::var("POOLFS_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut writers = Vec::new();
    for t in 0..8u8 {
        let path = p.join(format!("w{t}.img"));
        let stop = stop.clone();
        writers.push(std::thread::spawn(move || {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .unwrap();
            let mut rounds = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let off = (rounds % 256) * 65536;
                f.write_at(&vec![t.wrapping_add(rounds as u8); 65536], off)
                    .unwrap();
                if rounds.is_multiple_of(64) {
                    f.sync_data().unwrap();
                }
                rounds += 1;
            }
            (path, rounds)
        }));
    }
    let lister = {
        let p = p.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for e in fs::read_dir(&p).unwrap() {
                    let e = e.unwrap();
                    fs::metadata(e.path()).unwrap();
                }
                let _ = fs::read_to_string(p.join("info")).unwrap();
                n += 1;
            }
            n
        })
    };
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let listings = lister.join().unwrap();
    assert!(listings > 0);
    for (t, w) in writers.into_iter().enumerate() {
        let (path, rounds) = w.join().unwrap();
        assert!(rounds > 0);
        // Verify: each 64 KiB slot holds the value of the last round that wrote it.
        let data = fs::read(&path).unwrap();
        for slot in 0..256u64.min(rounds) {
            let last = (0..rounds).rfind(|r| r % 256 == slot).unwrap();
            let want = (t as u8).wrapping_add(last as u8);
            let chunk = &data[(slot * 65536) as usize..((slot + 1) * 65536) as usize];
            assert!(
                chunk.iter().all(|b| *b == want),
                "{} slot {slot}",
                path.display()
            );
        }
    }
    let mut f = File::create(p.join("after.txt")).unwrap();
    f.write_all(b"still serving").unwrap();
}

/// `ls -l` of a large directory (READDIRPLUS: listing and attributes in one
/// round trip) shows every entry with the backing file's size, and the pool
/// still stops cleanly afterwards (no lookup is leaked).
#[test]
fn long_listing_matches_the_backing_files() {
    require_mount!();
    let fx = Fixture::new();
    let d = fx.pool("default").join("big");
    fs::create_dir(&d).unwrap();
    for i in 0..2000u64 {
        File::create(d.join(format!("v{i:04}")))
            .unwrap()
            .set_len(i * 512)
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(1100));
    let out = run(&format!("ls -ln {}", d.display()));
    let mut seen = 0;
    for line in out.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (size, name) = (f[4].parse::<u64>().unwrap(), f[8]);
        let i: u64 = name[1..].parse().unwrap();
        assert_eq!(size, i * 512, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 2000);
    fx.ctl("default/status", "stop").unwrap();
    fx.ctl("default/status", "start").unwrap();
    assert_eq!(fs::read_dir(&d).unwrap().count(), 2000);
}
