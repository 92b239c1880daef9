//! The core namespace driven directly, without a mount: the same methods the
//! FUSE adapter calls, on a registry in a temporary state directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::sync::Arc;

use poolfs::core::{Ctx, PoolFs, SetAttr};
use poolfs::pool::Registry;
use poolfs::pool::persist::StateDir;

const ROOT: u64 = 1;
const CTX: Ctx = Ctx {
    uid: 0,
    gid: 0,
    pid: 0,
};

fn core() -> (tempfile::TempDir, PoolFs) {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::load(StateDir::new(dir.path().to_path_buf())).unwrap());
    reg.restore();
    (dir, PoolFs::new(reg))
}

#[test]
fn core_creates_writes_and_reads_a_volume() {
    let (_d, fs) = core();
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    let (e, o) = fs
        .create(CTX, pool, OsStr::new("v.img"), 0o600, libc::O_RDWR)
        .unwrap();
    assert_eq!(fs.write(e.attr.ino, o.fh, 4096, b"hello", None).unwrap(), 5);
    assert_eq!(&fs.read(e.attr.ino, o.fh, 4096, 100).unwrap()[..], b"hello");
    let a = fs
        .setattr(
            e.attr.ino,
            SetAttr {
                size: Some(1 << 20),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a.attr.size, 1 << 20);
    assert_eq!(
        fs.lseek(e.attr.ino, o.fh, 0, libc::SEEK_DATA).unwrap(),
        4096
    );
    fs.release(o.fh);
    assert_eq!(
        fs.lookup(pool, OsStr::new("v.img")).unwrap().attr.ino,
        e.attr.ino,
        "stable inode"
    );
}

#[test]
fn core_refuses_reserved_names_and_foreign_handles() {
    let (_d, fs) = core();
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    let err = fs
        .create(CTX, pool, OsStr::new("status"), 0o600, libc::O_RDWR)
        .unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EEXIST);
    let (e, o) = fs
        .create(CTX, pool, OsStr::new("a"), 0o600, libc::O_RDWR)
        .unwrap();
    let (e2, _) = fs
        .create(CTX, pool, OsStr::new("b"), 0o600, libc::O_RDWR)
        .unwrap();
    assert_eq!(
        fs.read(e2.attr.ino, o.fh, 0, 1).unwrap_err().errno(),
        nix::errno::Errno::EBADF
    );
    assert!(fs.read(e.attr.ino, o.fh, 0, 1).is_ok());
}

#[test]
fn core_stop_refused_while_open() {
    let (_d, fs) = core();
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    let (_, o) = fs
        .create(CTX, pool, OsStr::new("busy.img"), 0o600, libc::O_RDWR)
        .unwrap();
    let status = fs.lookup(pool, OsStr::new("status")).unwrap().attr.ino;
    let h = fs.open(CTX, status, libc::O_WRONLY).unwrap();
    let err = fs.write(status, h.fh, 0, b"stop\n", None).unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EBUSY);
    assert!(err.to_string().contains("busy.img"));
    fs.release(o.fh);
    fs.write(status, h.fh, 0, b"stop\n", None).unwrap();
    assert!(fs.lookup(pool, OsStr::new("busy.img")).is_err());
}
