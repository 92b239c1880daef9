//! File handles on the mount (`name_to_handle_at` / `open_by_handle_at`, what
//! an NFS re-export of a pool uses): they keep working after the kernel
//! dropped its caches, and go stale when their object's pool run or the
//! daemon ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;

use common::handles::{handle_of, open_by_handle};
use common::{Fixture, run};

/// Makes the kernel forget every unused dentry and inode of the mount (it
/// sends FORGET for them).
fn drop_caches() {
    run("sync; echo 2 > /proc/sys/vm/drop_caches");
}

#[test]
fn handles_open_files_and_directories_after_the_kernel_forgot_them() {
    require_mount!();
    let mut fx = Fixture::new();
    let pool = fx.pool("default");
    fs::create_dir_all(pool.join("d/e")).unwrap();
    fs::write(pool.join("a.img"), b"volume a").unwrap();
    fs::write(pool.join("d/e/b.img"), b"volume b").unwrap();
    let names = ["a.img", "d", "d/e", "d/e/b.img"];
    let handles: Vec<Vec<u32>> = names.iter().map(|n| handle_of(&pool.join(n))).collect();
    let pool_handle = handle_of(&pool);
    let forgets_before = fx.log().matches("FORGET").count();
    drop_caches();
    let mount = fs::File::open(&fx.mnt).unwrap();
    let a = open_by_handle(&mount, &handles[0], libc::O_RDONLY)
        .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", fx.log()));
    assert_eq!(std::io::read_to_string(&a).unwrap(), "volume a");
    let b = open_by_handle(&mount, &handles[3], libc::O_RDONLY).unwrap();
    assert_eq!(std::io::read_to_string(&b).unwrap(), "volume b");
    for i in [1, 2] {
        let d = open_by_handle(&mount, &handles[i], libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        assert!(d.metadata().unwrap().is_dir(), "{}", names[i]);
    }
    let p = open_by_handle(&mount, &pool_handle, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
    assert!(p.metadata().unwrap().is_dir());
    drop((a, b, p));
    assert!(
        fx.log().matches("FORGET").count() > forgets_before,
        "the kernel forgot nothing: the test did not exercise the reconnect"
    );
    // Directories are reconnected to the tree through their parents.
    assert!(
        fx.log().contains("LOOKUP name \"..\""),
        "no parent lookup: directory reconnection was not exercised"
    );
    // A new run of the pool: its old handles are stale.
    drop_caches();
    fx.ctl("default/status", "stop").unwrap();
    fx.ctl("default/status", "start").unwrap();
    let err = open_by_handle(&mount, &handles[0], libc::O_RDONLY).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESTALE), "{err}");
    // A new daemon: numbers start over, the generation tells them apart.
    let fresh = handle_of(&pool.join("a.img"));
    drop(mount);
    fx.stop();
    fx.start();
    let mount = fs::File::open(&fx.mnt).unwrap();
    let err = open_by_handle(&mount, &fresh, libc::O_RDONLY).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ESTALE), "{err}");
    let again = open_by_handle(&mount, &handle_of(&pool.join("a.img")), libc::O_RDONLY).unwrap();
    assert_eq!(std::io::read_to_string(&again).unwrap(), "volume a");
}

/// The backing inode number of a file in the default pool's target.
fn backing_ino(fx: &Fixture, rel: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(fx.backing().join(rel)).unwrap().ino()
}

/// A deleted file's handle never opens the file that reused its backing
/// inode (ext4 reuses numbers at once): it gives `ESTALE` (or the deleted
/// file itself, while the kernel still holds it), and the new file's own
/// handle opens the new file, whether the kernel still caches the nodes or
/// forgot them (xfstests generic/426, 467, 477).
#[test]
fn handles_of_deleted_files_are_stale_when_their_inode_is_reused() {
    require_mount!();
    let fx = Fixture::new();
    let pool = fx.pool("default");
    let mount = fs::File::open(&fx.mnt).unwrap();
    let mut reused = 0;
    for i in 0..40 {
        fs::create_dir_all(pool.join("t")).unwrap();
        fs::write(pool.join("t/a"), format!("old {i}")).unwrap();
        let old = handle_of(&pool.join("t/a"));
        let old_ino = backing_ino(&fx, "t/a");
        if i % 2 == 0 {
            fs::remove_file(pool.join("t/a")).unwrap();
        } else {
            // As the xfstests helper does: the whole directory goes.
            fs::remove_dir_all(pool.join("t")).unwrap();
            fs::create_dir_all(pool.join("t")).unwrap();
        }
        fs::write(pool.join("t/b"), format!("new {i}")).unwrap();
        if backing_ino(&fx, "t/b") == old_ino {
            reused += 1;
        }
        let new = handle_of(&pool.join("t/b"));
        if i % 4 >= 2 {
            drop_caches();
        }
        // ESTALE, or the deleted file itself while the kernel still holds
        // it (its last close's RELEASE may still be on its way, as ext4
        // opens an unlinked file that is still open): never the new file.
        match open_by_handle(&mount, &old, libc::O_RDONLY) {
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ESTALE), "round {i}: {e}"),
            Ok(f) => assert_eq!(
                std::io::read_to_string(f).unwrap(),
                format!("old {i}"),
                "round {i}: the deleted file's handle opened another file"
            ),
        }
        let f = open_by_handle(&mount, &new, libc::O_RDONLY)
            .unwrap_or_else(|e| panic!("round {i}: the live file's handle: {e}"));
        assert_eq!(std::io::read_to_string(f).unwrap(), format!("new {i}"));
        fs::remove_dir_all(pool.join("t")).unwrap();
    }
    assert!(
        reused > 0,
        "the backing filesystem reused no inode number: nothing was tested"
    );
}

/// Confinement holds for objects found again by handle: a file or directory
/// moved out of the pool's target behind poolfs's back (same filesystem, so
/// its backing handle still opens it) is not served, its handle is stale;
/// one renamed through poolfs is still found.
#[test]
fn handles_of_objects_moved_out_of_the_pool_are_stale() {
    require_mount!();
    let fx = Fixture::new();
    let pool = fx.pool("default");
    fs::write(pool.join("out.img"), b"moved out").unwrap();
    fs::create_dir_all(pool.join("outdir")).unwrap();
    fs::write(pool.join("kept.img"), b"kept").unwrap();
    let file = handle_of(&pool.join("out.img"));
    let dir = handle_of(&pool.join("outdir"));
    let kept = handle_of(&pool.join("kept.img"));
    fs::create_dir_all(pool.join("sub")).unwrap();
    fs::rename(pool.join("kept.img"), pool.join("sub/kept.img")).unwrap();
    drop_caches();
    let outside = fx.dir.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::rename(fx.backing().join("out.img"), outside.join("out.img")).unwrap();
    fs::rename(fx.backing().join("outdir"), outside.join("outdir")).unwrap();
    let mount = fs::File::open(&fx.mnt).unwrap();
    match open_by_handle(&mount, &file, libc::O_RDONLY) {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ESTALE), "{e}"),
        Ok(f) => panic!(
            "a file outside the pool was served: {:?}",
            std::io::read_to_string(f).unwrap()
        ),
    }
    let err = open_by_handle(&mount, &dir, libc::O_RDONLY | libc::O_DIRECTORY)
        .expect_err("a directory outside the pool was served");
    assert_eq!(err.raw_os_error(), Some(libc::ESTALE), "{err}");
    let f = open_by_handle(&mount, &kept, libc::O_RDONLY)
        .unwrap_or_else(|e| panic!("a file renamed through poolfs: {e}\nlog:\n{}", fx.log()));
    assert_eq!(std::io::read_to_string(f).unwrap(), "kept");
}
