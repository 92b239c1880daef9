//! `fs` pools on real loop devices and disk images with real mkfs and
//! mounts: ext4, xfs and btrfs. Every test unmounts and detaches what it
//! attached, also when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::{Fixture, errno_of, have_tool, run, sh};

/// A loop device attached by the test, detached on drop.
struct Loop(String);

impl Loop {
    fn attach(image: &Path) -> Loop {
        Loop(
            run(&format!("losetup --find --show {}", image.display()))
                .trim()
                .to_string(),
        )
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = sh(&format!(
            "umount -l {0} 2>/dev/null; losetup -d {0}",
            self.0
        ));
    }
}

fn image(fx: &Fixture, name: &str, size: &str) -> PathBuf {
    let p = fx.dir.path().join(name);
    run(&format!("truncate -s {size} {}", p.display()));
    p
}

fn define_fs(fx: &Fixture, pool: &str, source: &Path, format: &str) -> PathBuf {
    let target = fx.dir.path().join(format!("mnt-{pool}"));
    fs::create_dir(fx.mnt.join(pool)).unwrap();
    fx.ctl(
        format!("{pool}/config"),
        &format!(
            "type = \"fs\"\nsource = \"{}\"\nformat = \"{format}\"\ntarget = \"{}\"",
            source.display(),
            target.display()
        ),
    )
    .unwrap();
    target
}

/// Unmounts a pool target the test may leave mounted when it fails.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = sh(&format!("umount -l {} 2>/dev/null", self.0.display()));
    }
}

fn lifecycle(format: &str) {
    require_mount!();
    if !have_tool(&format!("mkfs.{format}")) {
        return;
    }
    let mut fx = Fixture::new();
    let img = image(&fx, &format!("{format}.img"), "1G");
    let target = define_fs(&fx, "fsp", &img, format);
    let _guard = Unmount(target.clone());
    fx.ctl("fsp/status", "build").unwrap();
    assert_eq!(
        errno_of(fx.ctl("fsp/status", "build")),
        Some(libc::EEXIST),
        "already formatted"
    );
    assert!(fx.info("fsp", "last_error").contains("build overwrite"));
    fx.ctl("fsp/status", "start").unwrap();
    assert!(
        common::sh(&format!("findmnt -n -o OPTIONS {}", target.display()))
            .1
            .contains("nosuid")
    );
    let cap: u64 = fx.info("fsp", "capacity").parse().unwrap();
    let st = nix::sys::statvfs::statvfs(&target).unwrap();
    assert_eq!(
        cap,
        st.blocks() * st.fragment_size(),
        "info reports the mounted filesystem"
    );

    let p = fx.pool("fsp");
    let f = File::create(p.join("vm.img")).unwrap();
    f.set_len(256 << 20).unwrap();
    f.write_at(&[0x42; 1 << 20], 32 << 20).unwrap();
    f.sync_all().unwrap();
    drop(f);
    // cp keeps holes (coreutils 9.1 copies with read/write: FICLONE cannot
    // cross FUSE); vol-clone uses copy_file_range, which poolfs turns into a
    // reflink on xfs and btrfs.
    run(&format!(
        "cp --reflink=auto --sparse=always {0}/vm.img {0}/cp.img",
        p.display()
    ));
    run(&format!("cmp {0}/vm.img {0}/cp.img", p.display()));
    assert!(
        fs::metadata(target.join("cp.img")).unwrap().blocks() * 512 <= 2 << 20,
        "cp keeps holes"
    );
    fs::remove_file(p.join("cp.img")).unwrap();
    let t0 = Instant::now();
    run(&format!(
        "{} vol-clone vm.img clone.img --pool fsp --mount {}",
        common::BIN,
        fx.mnt.display()
    ));
    let clone_time = t0.elapsed();
    run(&format!("cmp {0}/vm.img {0}/clone.img", p.display()));
    if format != "ext4" {
        let frag = run(&format!(
            "filefrag -v {}",
            target.join("clone.img").display()
        ));
        assert!(
            frag.contains("shared"),
            "{format}: clone shares extents:\n{frag}"
        );
    }
    println!("{format}: clone of a 256 MiB volume with 1 MiB of data took {clone_time:?}");
    fx.ctl("fsp/.vol/clone.img/resize", "+64M").unwrap();
    assert_eq!(fs::metadata(p.join("clone.img")).unwrap().len(), 320 << 20);
    fx.ctl("fsp/.vol/clone.img/wipe", "zero").unwrap();
    assert!(
        fs::read(p.join("clone.img"))
            .unwrap()
            .iter()
            .all(|b| *b == 0)
    );
    fs::remove_file(p.join("clone.img")).unwrap();

    let held = File::open(p.join("vm.img")).unwrap();
    assert_eq!(errno_of(fx.ctl("fsp/status", "stop")), Some(libc::EBUSY));
    drop(held);
    fx.ctl("fsp/status", "stop").unwrap();
    assert!(
        common::sh(&format!("findmnt {}", target.display()))
            .1
            .is_empty(),
        "unmounted"
    );
    let attached = run(&format!("losetup -j {}", img.display()));
    assert!(
        attached.trim().is_empty(),
        "loop device left attached: {attached}"
    );
    // data intact after a restart of the pool, then of the daemon
    fx.ctl("fsp/status", "start").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    File::open(p.join("vm.img"))
        .unwrap()
        .read_at(&mut buf, 32 << 20)
        .unwrap();
    assert!(buf.iter().all(|b| *b == 0x42));
    assert!(fx.terminate().success());
    fx.start();
    assert_eq!(
        fx.read("fsp/status"),
        "running\n",
        "running pools come back with the daemon"
    );
    File::open(p.join("vm.img"))
        .unwrap()
        .read_at(&mut buf, 32 << 20)
        .unwrap();
    assert!(buf.iter().all(|b| *b == 0x42));
    fx.ctl("fsp/status", "stop").unwrap();
    // build overwrite formats anew
    fx.ctl("fsp/status", "build overwrite").unwrap();
    fx.ctl("fsp/status", "start").unwrap();
    assert!(!p.join("vm.img").exists(), "a fresh filesystem");
    fx.ctl("fsp/status", "stop").unwrap();
}

#[test]
fn fs_pool_ext4_on_an_image() {
    lifecycle("ext4");
}

#[test]
fn fs_pool_xfs_on_an_image() {
    lifecycle("xfs");
}

#[test]
fn fs_pool_btrfs_on_an_image() {
    lifecycle("btrfs");
}

#[test]
fn fs_pool_on_a_loop_block_device() {
    require_mount!();
    let fx = Fixture::new();
    let img = image(&fx, "dev.img", "256M");
    let dev = Loop::attach(&img);
    let target = define_fs(&fx, "blk", Path::new(&dev.0), "ext4");
    let _guard = Unmount(target.clone());
    fx.ctl("blk/status", "build").unwrap();
    fx.ctl("blk/status", "start").unwrap();
    assert_eq!(fx.info("blk", "source"), dev.0);
    fs::write(fx.pool("blk").join("a.raw"), b"on a device").unwrap();
    fx.ctl("blk/status", "stop").unwrap();
    assert!(
        run(&format!("losetup {}", dev.0)).contains("dev.img"),
        "a device the test attached stays attached"
    );
    // start reuses a mount of the same source that is already there
    run(&format!(
        "mount -o nodev,nosuid {} {}",
        dev.0,
        target.display()
    ));
    fx.ctl("blk/status", "start").unwrap();
    assert_eq!(
        fs::read(fx.pool("blk").join("a.raw")).unwrap(),
        b"on a device"
    );
    fx.ctl("blk/status", "stop").unwrap();
}

#[test]
fn fs_pool_refusals() {
    require_mount!();
    let fx = Fixture::new();
    let img = image(&fx, "p.img", "64M");
    let target = define_fs(&fx, "bad", &img, "auto");
    let _guard = Unmount(target);
    assert_eq!(
        errno_of(fx.ctl("bad/status", "build")),
        Some(libc::EINVAL),
        "format auto cannot be built"
    );
    assert!(
        fx.ctl("bad/status", "start").is_err(),
        "nothing to mount yet"
    );
    assert_eq!(fx.read("bad/status"), "inactive\n");
    // a partition table counts as a signature too
    run(&format!(
        "printf 'label: gpt\\n' | sfdisk -q {}",
        img.display()
    ));
    fx.ctl("bad/status", "stop").unwrap();
    fx.ctl(
        "bad/config",
        &format!(
            "type = \"fs\"\nsource = \"{}\"\nformat = \"ext4\"\ntarget = \"{}\"",
            img.display(),
            fx.dir.path().join("mnt-bad").display()
        ),
    )
    .unwrap();
    assert_eq!(errno_of(fx.ctl("bad/status", "build")), Some(libc::EEXIST));
    assert!(fx.info("bad", "last_error").contains("partition table"));
    fx.ctl(
        "bad/config",
        &format!(
            "type = \"fs\"\nsource = \"{}\"\nformat = \"ext4\"\ntarget = \"/x\"",
            fx.dir.path().join("missing.img").display()
        ),
    )
    .unwrap();
    assert!(fx.ctl("bad/status", "start").is_err());
    assert_eq!(fx.read("bad/status"), "inactive\n");
}

/// Two `start` requests at once: no lock is held while the filesystem is
/// mounted, the second one gets EBUSY (or finds the pool running), and the
/// source is mounted exactly once.
#[test]
fn concurrent_starts_mount_once() {
    require_mount!();
    let fx = Fixture::new();
    let img = image(&fx, "race.img", "256M");
    let target = define_fs(&fx, "race", &img, "ext4");
    let _guard = Unmount(target.clone());
    fx.ctl("race/status", "build").unwrap();
    let results: Vec<Option<i32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| errno_of(fx.ctl("race/status", "start"))))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        results
            .iter()
            .all(|r| r.is_none() || *r == Some(libc::EBUSY)),
        "{results:?}"
    );
    assert!(results.contains(&None));
    assert_eq!(fx.read("race/status"), "running\n");
    let mounts = run("cat /proc/self/mounts");
    assert_eq!(
        mounts.matches(&format!(" {} ", target.display())).count(),
        1,
        "mounted once"
    );
    fx.ctl("race/status", "stop").unwrap();
}

/// `df` on a pool shows the backing filesystem's own figures (its "Avail"
/// leaves out root's reserve), while `info` keeps libvirt's `available`
/// (all free blocks).
#[test]
fn statfs_passes_the_backing_figures_through() {
    require_mount!();
    if !have_tool("mkfs.ext4") {
        return;
    }
    let fx = Fixture::new();
    let img = image(&fx, "df.img", "256M");
    // 5 % reserved for root: Avail < Free.
    run(&format!("mkfs.ext4 -q -F -m 5 {}", img.display()));
    let target = define_fs(&fx, "dfp", &img, "ext4");
    let _guard = Unmount(target.clone());
    fs::create_dir(&target).unwrap();
    fx.ctl("dfp/status", "start").unwrap();
    let native = nix::sys::statvfs::statvfs(&target).unwrap();
    let pool = nix::sys::statvfs::statvfs(&fx.pool("dfp")).unwrap();
    assert!(native.blocks_available() < native.blocks_free());
    assert_eq!(
        (
            pool.blocks(),
            pool.blocks_free(),
            pool.blocks_available(),
            pool.files(),
            pool.files_free(),
            pool.fragment_size()
        ),
        (
            native.blocks(),
            native.blocks_free(),
            native.blocks_available(),
            native.files(),
            native.files_free(),
            native.fragment_size()
        )
    );
    let available: u64 = fx.info("dfp", "available").parse().unwrap();
    assert_eq!(available, native.blocks_free() * native.fragment_size());
    // What df promises can be allocated, by a user other than root too.
    let f = fx.pool("dfp").join("fill.img");
    fs::write(&f, b"").unwrap();
    run(&format!("chown nobody {}", f.display()));
    let avail_bytes = pool.blocks_available() * pool.fragment_size();
    let len = avail_bytes - (8 << 20);
    run(&format!(
        "runuser -u nobody -- fallocate -l {len} {}",
        f.display()
    ));
    fs::remove_file(&f).unwrap();
    fx.ctl("dfp/status", "stop").unwrap();
}

/// A pool stops as soon as the last process using it has exited: the
/// volume's descriptor and its passthrough backing are gone before the stop
/// sees the volume closed, so the unmount never finds the target busy.
#[test]
fn an_fs_pool_stops_right_after_its_last_close() {
    require_mount!();
    if !have_tool("mkfs.ext4") {
        return;
    }
    let fx = Fixture::new();
    let img = image(&fx, "quick.img", "64M");
    run(&format!("mkfs.ext4 -q -F {}", img.display()));
    let target = define_fs(&fx, "quick", &img, "ext4");
    let _guard = Unmount(target.clone());
    fs::create_dir(&target).unwrap();
    let vol = fx.pool("quick").join("v.img");
    for round in 0..40 {
        fx.ctl("quick/status", "start").unwrap();
        run(&format!(
            "dd if=/dev/zero of={} bs=64k count=4 conv=notrunc status=none",
            vol.display()
        ));
        // Events for the watcher to read while the pool stops.
        run(&format!("chown nobody {}", vol.display()));
        fs::remove_file(&vol).unwrap();
        if let Err(e) = fx.ctl("quick/status", "stop") {
            panic!(
                "round {round}: stop right after the writer exited: {e}: {}\nlog:\n{}",
                fx.info("quick", "last_error"),
                fx.log()
            );
        }
    }
}

/// A target that something outside poolfs holds is not unmounted: the stop
/// fails with `EBUSY` naming the holder, the pool runs on, and stops once
/// the holder is gone.
#[test]
fn a_stop_names_what_holds_the_target() {
    require_mount!();
    if !have_tool("mkfs.ext4") {
        return;
    }
    let fx = Fixture::new();
    let img = image(&fx, "held.img", "64M");
    run(&format!("mkfs.ext4 -q -F {}", img.display()));
    let target = define_fs(&fx, "held", &img, "ext4");
    let _guard = Unmount(target.clone());
    fs::create_dir(&target).unwrap();
    fx.ctl("held/status", "start").unwrap();
    let mut holder = std::process::Command::new("sleep")
        .arg("60")
        .current_dir(&target)
        .spawn()
        .unwrap();
    let err = fx.ctl("held/status", "stop");
    let _ = holder.kill();
    let _ = holder.wait();
    let err = err.expect_err("a stop unmounted a target a process was in");
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    let why = fx.info("held", "last_error");
    assert!(
        why.contains(&format!("held by {} (sleep)", holder.id())),
        "last_error does not name the holder: {why}"
    );
    assert_eq!(fx.info("held", "state").trim(), "running");
    fx.ctl("held/status", "stop").unwrap();
}
