//! `block` pools on real loop devices: each device is one fixed-size volume.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use common::{Fixture, errno_of, have_tool, run, sh};

/// A loop device over an image file, detached on drop (also on failure).
struct Loop {
    dev: String,
    image: PathBuf,
}

impl Loop {
    fn new(dir: &Path, name: &str, size: &str) -> Loop {
        let image = dir.join(name);
        run(&format!("truncate -s {size} {}", image.display()));
        let dev = run(&format!("losetup --find --show {}", image.display()))
            .trim()
            .to_string();
        Loop { dev, image }
    }

    fn name(&self) -> String {
        Path::new(&self.dev)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = sh(&format!("losetup -d {} 2>/dev/null", self.dev));
    }
}

fn define_block(fx: &Fixture, pool: &str, devs: &[&Loop]) {
    fs::create_dir(fx.mnt.join(pool)).unwrap();
    let list: Vec<String> = devs.iter().map(|d| format!("\"{}\"", d.dev)).collect();
    fx.ctl(
        format!("{pool}/config"),
        &format!("type = \"block\"\nsource = [{}]", list.join(", ")),
    )
    .unwrap();
    fx.ctl(format!("{pool}/status"), "start").unwrap();
}

#[test]
fn block_pool_shows_devices_as_fixed_size_volumes() {
    require_mount!();
    let fx = Fixture::new();
    let a = Loop::new(fx.dir.path(), "a.img", "64M");
    let b = Loop::new(fx.dir.path(), "b.img", "128M");
    define_block(&fx, "blk", &[&a, &b]);
    let p = fx.pool("blk");
    assert_eq!(fs::metadata(p.join(a.name())).unwrap().len(), 64 << 20);
    assert_eq!(fs::metadata(p.join(b.name())).unwrap().len(), 128 << 20);
    let names: Vec<String> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.contains(&a.name()) && names.contains(&b.name()),
        "{names:?}"
    );
    assert_eq!(fx.info("blk", "capacity"), (192u64 << 20).to_string());
    assert_eq!(fx.info("blk", "volumes"), "2");
    assert!(
        fx.read(format!("blk/.vol/{}/info", a.name()))
            .contains(&format!("capacity: {}", 64u64 << 20))
    );
    // held O_EXCL: nothing mounts it by mistake
    assert!(
        !sh(&format!("mount {} /mnt 2>&1", a.dev)).0,
        "a running pool's device cannot be mounted"
    );
    // read, write, O_DIRECT, fsync
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(p.join(a.name()))
        .unwrap();
    f.write_at(b"through the pool", 4096).unwrap();
    f.sync_all().unwrap();
    let mut buf = [0u8; 16];
    File::open(&a.image)
        .unwrap()
        .read_at(&mut buf, 4096)
        .unwrap();
    assert_eq!(&buf, b"through the pool");
    // SEEK_DATA/SEEK_HOLE: all data
    use std::os::fd::AsRawFd;
    // SAFETY: lseek on an open descriptor.
    let (d, h) = unsafe {
        (
            libc::lseek(f.as_raw_fd(), 100, libc::SEEK_DATA),
            libc::lseek(f.as_raw_fd(), 100, libc::SEEK_HOLE),
        )
    };
    assert_eq!((d, h), (100, 64 << 20));
    drop(f);
}

#[test]
fn block_pool_refusals_and_discard() {
    require_mount!();
    let fx = Fixture::new();
    let a = Loop::new(fx.dir.path(), "a.img", "64M");
    define_block(&fx, "blk", &[&a]);
    let p = fx.pool("blk");
    let vol = p.join(a.name());
    assert_eq!(
        errno_of(File::create(p.join("new.img"))),
        Some(libc::EPERM),
        "no create"
    );
    assert_eq!(
        errno_of(fs::remove_file(&vol)),
        Some(libc::EPERM),
        "no delete"
    );
    assert_eq!(
        errno_of(
            OpenOptions::new()
                .write(true)
                .open(&vol)
                .and_then(|f| f.set_len(1 << 20))
        ),
        Some(libc::EPERM),
        "no truncate"
    );
    assert_eq!(
        errno_of(fs::create_dir(p.join("d"))),
        Some(libc::EPERM),
        "flat"
    );
    assert_eq!(
        errno_of(fx.ctl(format!("blk/.vol/{}/resize", a.name()), "+1G")),
        Some(libc::EOPNOTSUPP)
    );
    assert!(
        fx.info("blk", "last_error").contains("fixed"),
        "{}",
        fx.read("blk/info")
    );
    // punch-hole through the mount discards on the device: the loop's image loses allocation
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&vol)
        .unwrap();
    f.write_at(&[0xabu8; 16 << 20], 0).unwrap();
    f.sync_all().unwrap();
    let before = fs::metadata(&a.image).unwrap().blocks() * 512;
    assert!(before >= 16 << 20);
    nix::fcntl::fallocate(
        &f,
        nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
            | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        0,
        8 << 20,
    )
    .unwrap();
    drop(f);
    let after = fs::metadata(&a.image).unwrap().blocks() * 512;
    assert!(
        after <= before - (7 << 20),
        "discard freed space: {before} -> {after}"
    );
    // wipe zero uses the device's zeroing
    fx.ctl(format!("blk/.vol/{}/wipe", a.name()), "zero")
        .unwrap();
    assert!(fs::read(&vol).unwrap().iter().all(|b| *b == 0));
}

#[test]
fn qemu_img_writes_an_image_onto_a_block_volume() {
    require_mount!();
    if !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let a = Loop::new(fx.dir.path(), "a.img", "64M");
    define_block(&fx, "blk", &[&a]);
    let src = fx.dir.path().join("src.qcow2");
    run(&format!(
        "qemu-img create -q -f qcow2 {} 64M",
        src.display()
    ));
    run(&format!(
        "qemu-io -f qcow2 -c 'write -P 0x33 1M 2M' {}",
        src.display()
    ));
    let vol = fx.pool("blk").join(a.name());
    run(&format!(
        "qemu-img convert -n -t none -f qcow2 -O raw {} {}",
        src.display(),
        vol.display()
    ));
    run(&format!(
        "qemu-img compare -f qcow2 -F raw {} {}",
        src.display(),
        vol.display()
    ));
}

#[test]
fn detached_device_turns_the_pool_inaccessible() {
    require_mount!();
    let fx = Fixture::new();
    let a = Loop::new(fx.dir.path(), "a.img", "64M");
    define_block(&fx, "blk", &[&a]);
    let vol = fx.pool("blk").join(a.name());
    fs::read(&vol).unwrap();
    run(&format!("losetup -d {}", a.dev));
    assert_eq!(fx.read("blk/status"), "inaccessible\n");
    assert!(fx.info("blk", "last_error").contains("detached"));
    assert_eq!(errno_of(File::open(&vol)), Some(libc::EIO));
    fx.ctl("blk/status", "stop").unwrap();
    assert_eq!(fx.read("blk/status"), "inactive\n");
    // once poolfs let go, the detach completes
    let (_, out, _) = sh(&format!("losetup {} 2>&1", a.dev));
    assert!(!out.contains("a.img"), "{out}");
    assert!(
        fs::metadata(fx.mnt.join("default/status")).is_ok(),
        "the daemon serves on"
    );
}
