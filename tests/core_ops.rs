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
    assert_eq!(
        fs.write(e.attr.ino, o.fh, 4096, b"hello", None, false)
            .unwrap(),
        5
    );
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
    let err = fs
        .write(status, h.fh, 0, b"stop\n", None, false)
        .unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EBUSY);
    assert!(err.to_string().contains("busy.img"));
    fs.release(o.fh);
    fs.write(status, h.fh, 0, b"stop\n", None, false).unwrap();
    assert!(fs.lookup(pool, OsStr::new("busy.img")).is_err());
}

/// A file made where a deleted one was, on an inode number the backing
/// filesystem reused, is a new node: the old node's number is never given
/// to it (a file handle of the deleted file would open the new one), and
/// the root carries generation 0 as the kernel requires.
#[test]
fn core_numbers_a_reused_inode_as_a_new_node() {
    use std::os::unix::fs::MetadataExt;
    let (d, fs) = core();
    assert_eq!(fs.generation_of(ROOT), 0);
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    assert_ne!(fs.generation_of(pool), 0);
    let target = d.path().join("pools/default");
    let mut reused = 0;
    for i in 0..20 {
        std::fs::write(target.join("a"), b"old").unwrap();
        let old_backing = std::fs::metadata(target.join("a")).unwrap().ino();
        let old = fs.lookup(pool, OsStr::new("a")).unwrap().attr.ino;
        fs.unlink(pool, OsStr::new("a")).unwrap();
        // The kernel forgets a deleted file once its last user is gone.
        fs.forget(old, 1);
        std::fs::write(target.join("b"), b"new").unwrap();
        if std::fs::metadata(target.join("b")).unwrap().ino() == old_backing {
            reused += 1;
        }
        let new = fs.lookup(pool, OsStr::new("b")).unwrap().attr.ino;
        assert_ne!(
            old, new,
            "round {i}: the new file took the deleted file's number"
        );
        fs.forget(new, 1);
        std::fs::remove_file(target.join("b")).unwrap();
    }
    assert!(reused > 0, "no inode number was reused: nothing was tested");
}
