//! The core namespace driven directly, without a mount: the same methods the
//! FUSE adapter calls, on a registry in a temporary state directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsStr;
use std::sync::Arc;

use poolfs::core::{Ctx, PoolFs, SetAttr, Unique, Writer};
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
        .create(
            Unique::NONE,
            CTX,
            pool,
            OsStr::new("v.img"),
            0o600,
            libc::O_RDWR,
        )
        .unwrap();
    let h = fs.handle(e.attr.ino, o.fh).unwrap();
    assert_eq!(
        fs.write(Unique::NONE, &h, 4096, b"hello", Writer::default())
            .unwrap(),
        5
    );
    assert_eq!(&fs.read(&h, 4096, 100).unwrap()[..], b"hello");
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
    assert_eq!(fs.lseek(&h, 0, libc::SEEK_DATA).unwrap(), 4096);
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
        .create(
            Unique::NONE,
            CTX,
            pool,
            OsStr::new("status"),
            0o600,
            libc::O_RDWR,
        )
        .unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EEXIST);
    let (e, o) = fs
        .create(
            Unique::NONE,
            CTX,
            pool,
            OsStr::new("a"),
            0o600,
            libc::O_RDWR,
        )
        .unwrap();
    let (e2, _) = fs
        .create(
            Unique::NONE,
            CTX,
            pool,
            OsStr::new("b"),
            0o600,
            libc::O_RDWR,
        )
        .unwrap();
    assert_eq!(
        fs.handle(e2.attr.ino, o.fh).unwrap_err().errno(),
        nix::errno::Errno::EBADF
    );
    assert!(fs.read(&fs.handle(e.attr.ino, o.fh).unwrap(), 0, 1).is_ok());
}

#[test]
fn core_stop_refused_while_open() {
    let (_d, fs) = core();
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    let (_, o) = fs
        .create(
            Unique::NONE,
            CTX,
            pool,
            OsStr::new("busy.img"),
            0o600,
            libc::O_RDWR,
        )
        .unwrap();
    let status = fs.lookup(pool, OsStr::new("status")).unwrap().attr.ino;
    let o2 = fs.open(CTX, status, libc::O_WRONLY).unwrap();
    let h = fs.handle(status, o2.fh).unwrap();
    let err = fs
        .write(Unique::NONE, &h, 0, b"stop\n", Writer::default())
        .unwrap_err();
    assert_eq!(err.errno(), nix::errno::Errno::EBUSY);
    assert!(err.to_string().contains("busy.img"));
    fs.release(o.fh);
    fs.write(Unique::NONE, &h, 0, b"stop\n", Writer::default())
        .unwrap();
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
        fs.unlink(Unique::NONE, pool, OsStr::new("a")).unwrap();
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

/// Writes `text` to the control file `name` of volume `vol` as request `u`.
fn control(fs: &PoolFs, pool: u64, vol: &str, name: &str, u: u64, text: &[u8]) -> u32 {
    let vols = fs.lookup(pool, OsStr::new(".vol")).unwrap().attr.ino;
    let dir = fs.lookup(vols, OsStr::new(vol)).unwrap().attr.ino;
    let ino = fs.lookup(dir, OsStr::new(name)).unwrap().attr.ino;
    let o = fs.open(CTX, ino, libc::O_WRONLY).unwrap();
    let h = fs.handle(ino, o.fh).unwrap();
    let n = fs.write(Unique(u), &h, 0, text, Writer::default()).unwrap();
    fs.release(o.fh);
    n
}

fn size_of(fs: &PoolFs, pool: u64, vol: &str) -> u64 {
    fs.getattr(fs.lookup(pool, OsStr::new(vol)).unwrap().attr.ino)
        .unwrap()
        .attr
        .size
}

/// The rules for requests the kernel sends again after a crash, without a
/// mount: a server journals what it does; its successor takes the journal
/// over and answers a resent create whose file its predecessor made, does
/// not apply twice a resize its predecessor finished, and applies one it
/// had begun in the journaled form (`+1M` as the size it aimed at), while
/// the same requests sent fresh are refused or applied as usual.
#[test]
fn core_answers_resent_requests_from_the_predecessors_journal() {
    use poolfs::journal::{self, Journal};
    const RESENT: u64 = 1 << 63;
    const MIB: u64 = 1 << 20;
    let (d, fs) = core();
    let file = journal::memfd().unwrap();
    fs.start_journal(file.try_clone().unwrap()).unwrap();
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;
    let excl = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
    let (_, o) = fs
        .create(Unique(7), CTX, pool, OsStr::new("a"), 0o600, excl)
        .unwrap();
    fs.release(o.fh);
    assert_eq!(control(&fs, pool, "a", "resize", 9, b"+1M\n"), 4);
    assert_eq!(size_of(&fs, pool, "a"), MIB);
    // The server begins the next resize (`+1M`, journaled as the size it
    // aims at), applies it and dies before marking it done.
    let (j, _) = Journal::open(file.try_clone().unwrap()).unwrap().unwrap();
    j.begun(11, format!("{}\n", 2 * MIB).as_bytes());
    let grown = SetAttr {
        size: Some(2 * MIB),
        ..Default::default()
    };
    fs.setattr(fs.lookup(pool, OsStr::new("a")).unwrap().attr.ino, grown)
        .unwrap();
    drop((j, fs));

    let (j, state) = Journal::open(file).unwrap().unwrap();
    let dir = poolfs::pool::persist::StateDir::new(d.path().to_path_buf());
    let reg = Arc::new(Registry::load_with_ids(dir, &state.pools).unwrap());
    reg.resume();
    let fs = PoolFs::with_generation(reg, state.generation);
    fs.set_journal(Arc::new(j));
    assert!(fs.restore(&state).is_empty());
    let pool = fs.lookup(ROOT, OsStr::new("default")).unwrap().attr.ino;

    let (_, o) = fs
        .create(Unique(7 | RESENT), CTX, pool, OsStr::new("a"), 0o600, excl)
        .expect("a resent create whose file the predecessor made opens it");
    fs.release(o.fh);
    let fresh = fs.create(Unique(8), CTX, pool, OsStr::new("a"), 0o600, excl);
    assert_eq!(fresh.unwrap_err().errno(), nix::errno::Errno::EEXIST);

    control(&fs, pool, "a", "resize", 9 | RESENT, b"+1M\n");
    assert_eq!(
        size_of(&fs, pool, "a"),
        2 * MIB,
        "a finished resize ran twice"
    );
    control(&fs, pool, "a", "resize", 11 | RESENT, b"+1M\n");
    assert_eq!(
        size_of(&fs, pool, "a"),
        2 * MIB,
        "a begun resize grew twice"
    );
    control(&fs, pool, "a", "resize", 12, b"+1M\n");
    assert_eq!(size_of(&fs, pool, "a"), 3 * MIB);

    let gone = fs.unlink(Unique(13 | RESENT), pool, OsStr::new("nothing"));
    assert_eq!(gone.unwrap_err().errno(), nix::errno::Errno::ENOENT);
}
