//! Real tools on the mount: qemu-img, cp, fallocate, and qemu's image locking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, have_tool, run, sh};

#[test]
fn qemu_img_create_convert_check_map() {
    require_mount!();
    if !have_tool("qemu-img") || !have_tool("qemu-io") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    let q = |s: &str| format!("{}/{s}", p.display());
    run(&format!("qemu-img create -q -f qcow2 {} 1G", q("a.qcow2")));
    run(&format!(
        "qemu-io -f qcow2 -c 'write -P 0x5a 1M 4M' -c 'write -P 0x17 700M 64k' {}",
        q("a.qcow2")
    ));
    run(&format!("qemu-img check {}", q("a.qcow2")));
    // -t none / -T none: O_DIRECT on both ends (qemu's cache=none).
    run(&format!(
        "qemu-img convert -t none -T none -f qcow2 -O raw {} {}",
        q("a.qcow2"),
        q("b.raw")
    ));
    run(&format!(
        "qemu-img convert -t none -T none -f raw -O qcow2 {} {}",
        q("b.raw"),
        q("c.qcow2")
    ));
    run(&format!(
        "qemu-img compare -f qcow2 -F qcow2 {} {}",
        q("a.qcow2"),
        q("c.qcow2")
    ));
    run(&format!("qemu-img check {}", q("c.qcow2")));
    let raw = fs::metadata(q("b.raw")).unwrap();
    assert_eq!(raw.len(), 1 << 30);
    assert!(
        raw.blocks() * 512 < 16 << 20,
        "the raw copy stays sparse: {} bytes allocated",
        raw.blocks() * 512
    );
    // qemu-img map through the mount agrees with the backing file.
    let through = run(&format!("qemu-img map -f raw --output=json {}", q("b.raw")));
    let direct = run(&format!(
        "qemu-img map -f raw --output=json {}",
        fx.backing().join("b.raw").display()
    ));
    assert_eq!(through, direct);
    assert!(
        through.contains("\"data\": true") && through.contains("\"data\": false"),
        "{through}"
    );
}

#[test]
fn cp_sparse_always_keeps_holes() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    run(&format!(
        "truncate -s 64M {0}/src.img && printf 'abc%.0s' $(seq 1 1000) | dd of={0}/src.img bs=1M seek=10 conv=notrunc status=none",
        p.display()
    ));
    run(&format!(
        "cp --sparse=always {0}/src.img {0}/dst.img && cmp {0}/src.img {0}/dst.img",
        p.display()
    ));
    let m = fs::metadata(p.join("dst.img")).unwrap();
    assert_eq!(m.len(), 64 << 20);
    assert!(
        m.blocks() * 512 <= 64 << 10,
        "copy allocated {} bytes",
        m.blocks() * 512
    );
    let backing = fs::metadata(fx.backing().join("dst.img")).unwrap();
    assert_eq!(
        backing.blocks(),
        m.blocks(),
        "st_blocks is the backing file's"
    );
}

#[test]
fn fallocate_punch_hole_frees_backing_blocks() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    run(&format!("fallocate -l 16M {}/full.img", p.display()));
    let before = fs::metadata(fx.backing().join("full.img"))
        .unwrap()
        .blocks();
    assert!(before * 512 >= 16 << 20);
    run(&format!(
        "fallocate --punch-hole -o 0 -l 8M {}/full.img",
        p.display()
    ));
    let after = fs::metadata(fx.backing().join("full.img")).unwrap();
    assert_eq!(after.len(), 16 << 20);
    assert!(
        after.blocks() * 512 <= (8 << 20) + 65536,
        "backing still holds {} bytes",
        after.blocks() * 512
    );
    let (_, du, _) = sh(&format!("du -B1 {}/full.img", p.display()));
    assert!(
        du.starts_with(&(after.blocks() * 512).to_string()),
        "du through the mount: {du}"
    );
}

/// While a (paused) qemu holds an image as its disk, a second writer through
/// the mount is refused by qemu's own image locking.
#[test]
fn qemu_image_lock_refuses_second_writer() {
    require_mount!();
    if !have_tool("qemu-system-x86_64") || !have_tool("qemu-io") {
        return;
    }
    let fx = Fixture::new();
    let img = fx.pool("default").join("locked.qcow2");
    run(&format!(
        "qemu-img create -q -f qcow2 {} 64M",
        img.display()
    ));
    let mut vm = Command::new("qemu-system-x86_64")
        .args([
            "-S",
            "-display",
            "none",
            "-nodefaults",
            "-machine",
            "q35,accel=tcg",
            "-m",
            "64",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},format=qcow2,if=virtio,cache=none",
            img.display()
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until qemu holds its image locks before probing: a probing
    // writer that ran first would take the lock itself and make qemu fail
    // to start. poolfs takes them as OFD locks on the backing file
    // (tests/locks.rs), so /proc/locks lists them under its inode.
    use std::os::unix::fs::MetadataExt;
    let ino = fs::metadata(fx.backing().join("locked.qcow2"))
        .unwrap()
        .ino();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(Some(st)) = vm.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = vm.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("qemu exited early ({st}): {err}");
        }
        let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
        if locks.lines().any(|l| l.contains(&format!(":{ino} "))) {
            break;
        }
        assert!(Instant::now() < deadline, "qemu never locked the image");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (ok, _, last) = sh(&format!(
        "qemu-io -f qcow2 -c 'write 0 4k' {}",
        img.display()
    ));
    let refused = !ok && last.contains("Failed to get \"write\" lock");
    let _ = vm.kill();
    let _ = vm.wait();
    assert!(
        refused,
        "second writer was not refused; last qemu-io stderr: {last}"
    );
    // Once qemu is gone the image is writable again.
    run(&format!(
        "qemu-io -f qcow2 -c 'write 0 4k' {}",
        img.display()
    ));
}

/// copy_file_range through the mount copies only data extents: a clone of a
/// sparse volume stays sparse even when the caller does not walk the holes.
#[test]
fn copy_file_range_clone_keeps_holes() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    let src = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(p.join("big.img"))
        .unwrap();
    src.set_len(1 << 30).unwrap();
    for i in 0..16u64 {
        std::os::unix::fs::FileExt::write_at(&src, &[i as u8 + 1; 65536], i * (64 << 20)).unwrap();
    }
    src.sync_all().unwrap();
    let dst = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(p.join("clone.img"))
        .unwrap();
    let mut copied = 0u64;
    while copied < 1 << 30 {
        let (mut oi, mut oo) = (copied as i64, copied as i64);
        let n = nix::fcntl::copy_file_range(
            &src,
            Some(&mut oi),
            &dst,
            Some(&mut oo),
            ((1u64 << 30) - copied) as usize,
        )
        .unwrap();
        assert!(n > 0);
        copied += n as u64;
    }
    drop(dst);
    let m = fs::metadata(fx.backing().join("clone.img")).unwrap();
    assert_eq!(m.len(), 1 << 30);
    assert!(
        m.blocks() * 512 <= 4 << 20,
        "clone allocated {} bytes",
        m.blocks() * 512
    );
    run(&format!("cmp {0}/big.img {0}/clone.img", p.display()));
}

/// Pages cached at an earlier open are kept only while the file is
/// unchanged: a change made behind poolfs's back is read at the next open.
#[test]
fn change_behind_the_back_is_seen_at_next_open() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("cached.img");
    fs::write(&vol, vec![b'a'; 1 << 20]).unwrap();
    assert!(fs::read(&vol).unwrap().iter().all(|b| *b == b'a'));
    assert!(fs::read(&vol).unwrap().iter().all(|b| *b == b'a'));
    std::thread::sleep(Duration::from_millis(20));
    fs::write(fx.backing().join("cached.img"), vec![b'b'; 1 << 20]).unwrap();
    let data = fs::read(&vol).unwrap();
    assert!(
        data.iter().all(|b| *b == b'b'),
        "stale page cache after a change behind poolfs's back"
    );
}

/// Waits up to `limit` for `ok`; true when it held in time.
fn within(limit: Duration, mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ok() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Entries and attributes of a local tree are cached long (10 s), and a
/// change made in the target behind poolfs's back is seen at once
/// (inotify): well within the 1 s the kernel cached them for before.
#[test]
fn changes_behind_the_back_are_seen_at_once() {
    require_mount!();
    let fx = Fixture::new();
    let m = fx.pool("default");
    let b = fx.backing();
    // Each change is checked within 0.7 s of a `stat` that cached the old
    // state: a kernel that kept what it cached would show the old one.
    let seen = |what: &str, ok: &dyn Fn() -> bool| {
        assert!(
            within(Duration::from_millis(700), ok),
            "{what} behind poolfs's back was not seen"
        );
    };
    fs::write(m.join("a.img"), b"one").unwrap();
    assert_eq!(fs::metadata(m.join("a.img")).unwrap().mode() & 0o777, 0o644);
    sh(&format!("chmod 600 {}", b.join("a.img").display()));
    seen("chmod", &|| {
        fs::metadata(m.join("a.img")).unwrap().mode() & 0o777 == 0o600
    });

    fs::metadata(m.join("a.img")).unwrap();
    sh(&format!("truncate -s 5M {}", b.join("a.img").display()));
    seen("truncate", &|| {
        fs::metadata(m.join("a.img")).unwrap().len() == 5 << 20
    });

    assert!(fs::metadata(m.join("new.img")).is_err());
    fs::write(b.join("new.img"), b"x").unwrap();
    seen("a new file", &|| {
        fs::metadata(m.join("new.img")).is_ok_and(|md| md.len() == 1)
    });

    fs::remove_file(b.join("new.img")).unwrap();
    seen("a removal", &|| fs::metadata(m.join("new.img")).is_err());

    fs::metadata(m.join("a.img")).unwrap();
    fs::rename(b.join("a.img"), b.join("b.img")).unwrap();
    seen("a rename", &|| {
        fs::metadata(m.join("a.img")).is_err() && fs::metadata(m.join("b.img")).is_ok()
    });

    // A file replaced under its name: the name leads to the new one.
    fs::write(b.join("c.img"), b"old").unwrap();
    fs::write(b.join("c.tmp"), b"newer").unwrap();
    seen("c.img", &|| {
        fs::metadata(m.join("c.img")).is_ok_and(|md| md.len() == 3)
    });
    fs::rename(b.join("c.tmp"), b.join("c.img")).unwrap();
    seen("a rename over a file", &|| {
        fs::read(m.join("c.img")).is_ok_and(|d| d == b"newer")
    });

    // Sub-directories are watched too.
    fs::create_dir(m.join("sub")).unwrap();
    fs::write(m.join("sub/f.img"), b"f").unwrap();
    fs::metadata(m.join("sub/f.img")).unwrap();
    fs::remove_file(b.join("sub/f.img")).unwrap();
    seen("a removal in a sub-directory", &|| {
        fs::metadata(m.join("sub/f.img")).is_err()
    });
}

/// What poolfs changes itself is not invalidated again by its own watch:
/// once a `stat` cached them, a second `stat` after the old 1 s cache time
/// sends no request at all.
#[test]
fn cached_entries_outlive_the_short_cache_time() {
    require_mount!();
    let port = common::free_port();
    let fx = Fixture::with_args(&["--metrics", &format!("127.0.0.1:{port}")]);
    let m = fx.pool("default");
    fs::create_dir(m.join("many")).unwrap();
    for i in 0..200 {
        fs::write(m.join(format!("many/f{i}.img")), b"data").unwrap();
    }
    let stat_all = || {
        for i in 0..200 {
            assert_eq!(
                fs::metadata(m.join(format!("many/f{i}.img")))
                    .unwrap()
                    .len(),
                4
            );
        }
    };
    stat_all();
    std::thread::sleep(Duration::from_millis(1500));
    let before = lookups_and_getattrs(port);
    stat_all();
    let sent = lookups_and_getattrs(port) - before;
    // The root and the pool's directory are cached for 1 s: a few requests.
    assert!(
        sent < 20,
        "200 stat calls after 1.5 s sent {sent} LOOKUP/GETATTR requests"
    );
}

/// `LOOKUP` plus `GETATTR` requests served so far, from `--metrics`.
fn lookups_and_getattrs(port: u16) -> u64 {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with("poolfs_requests_total{op=\"lookup\"}")
                || l.starts_with("poolfs_requests_total{op=\"getattr\"}")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// `ls -l` of a directory gets its entries' attributes with the listing
/// (READDIRPLUS): one round trip per page of entries, not a `LOOKUP` per
/// entry; what it shows is the backing files' sizes.
#[test]
fn ls_l_gets_attributes_with_the_listing() {
    require_mount!();
    let port = common::free_port();
    let fx = Fixture::with_args(&["--metrics", &format!("127.0.0.1:{port}")]);
    let b = fx.backing().join("listed");
    fs::create_dir_all(&b).unwrap();
    for i in 0..1000 {
        fs::File::create(b.join(format!("v{i:04}.img")))
            .unwrap()
            .set_len(4096 + i)
            .unwrap();
    }
    let before = lookups_and_getattrs(port);
    let out = common::run(&format!(
        "ls -l {}",
        fx.pool("default").join("listed").display()
    ));
    let sent = lookups_and_getattrs(port) - before;
    assert_eq!(out.lines().count(), 1001, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains(" 4999 ") && l.ends_with("v0903.img")),
        "{out}"
    );
    assert!(
        sent < 100,
        "ls -l of 1000 files sent {sent} LOOKUP/GETATTR requests"
    );
}
