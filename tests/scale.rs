//! Scale: a pool with more files than the server may hold descriptors keeps
//! working, and the server's descriptors stay bounded by its cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;

use common::handles::{handle_of, open_by_handle};
use common::{Fixture, run};

/// Descriptors the process `pid` holds.
fn fds_of(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count()
}

/// With its hard limit at 3,000 descriptors (and no CAP_SYS_RESOURCE to
/// raise it), a server asked about 8,000 files (`ls -l`, twice) still
/// opens, creates and stats files afterwards, holds no more than its cache
/// of 500 plus a constant, and file handles of files made afterwards keep
/// working once the kernel forgot them.
#[test]
fn scale_many_files_do_not_exhaust_descriptors() {
    require_mount!();
    let mut fx = Fixture::unstarted(&["--fd-cache", "500"]);
    fx.wrap = [
        "prlimit",
        "--nofile=3000:3000",
        "setpriv",
        "--bounding-set",
        "-sys_resource",
    ]
    .map(String::from)
    .to_vec();
    fx.start();
    let pool = fx.pool("default");
    let backing = fx.backing().join("many");
    fs::create_dir_all(&backing).unwrap();
    for i in 0..8000 {
        fs::File::create(backing.join(format!("v{i:05}.img"))).unwrap();
    }
    for _ in 0..2 {
        let out = run(&format!("ls -l {} | wc -l", pool.join("many").display()));
        assert_eq!(out.trim(), "8001", "ls -l listed every file");
    }
    let server = fx.server_pid();
    let held = fds_of(server);
    assert!(
        held <= 500 + 100,
        "the server holds {held} descriptors with a cache of 500"
    );
    // Every kind of request still works, in this pool and another place.
    fs::write(pool.join("many/new.img"), b"made after").unwrap();
    assert_eq!(fs::read(pool.join("many/v00007.img")).unwrap(), b"");
    assert!(fs::metadata(pool.join("many/v07999.img")).is_ok());
    fs::write(pool.join("top.img"), b"top").unwrap();
    // File handles of files made after the listing survive a forgetting kernel.
    let h = handle_of(&pool.join("many/new.img"));
    let h_old = handle_of(&pool.join("many/v00042.img"));
    run("sync; echo 2 > /proc/sys/vm/drop_caches");
    let mount = fs::File::open(&fx.mnt).unwrap();
    let f = open_by_handle(&mount, &h, libc::O_RDONLY)
        .unwrap_or_else(|e| panic!("new file's handle: {e}; log:\n{}", fx.log()));
    assert_eq!(std::io::read_to_string(f).unwrap(), "made after");
    open_by_handle(&mount, &h_old, libc::O_RDONLY)
        .unwrap_or_else(|e| panic!("old file's handle: {e}; log:\n{}", fx.log()));
    assert!(
        !fx.log().contains("Too many open files"),
        "the server ran out of descriptors"
    );
}

/// An open file that was unlinked has no handle to be opened by: with a
/// cache far smaller than the files looked up since, `fstat`, `ftruncate`
/// and I/O on it still work, as on ext4.
#[test]
fn scale_an_unlinked_open_file_outlives_the_descriptor_cache() {
    use std::os::unix::fs::FileExt;
    require_mount!();
    let fx = Fixture::with_args(&["--fd-cache", "16"]);
    let pool = fx.pool("default");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(pool.join("gone.img"))
        .unwrap();
    f.write_all_at(b"still here", 0).unwrap();
    fs::remove_file(pool.join("gone.img")).unwrap();
    for i in 0..200 {
        fs::write(pool.join(format!("f{i}.img")), b"x").unwrap();
        assert!(fs::metadata(pool.join(format!("f{i}.img"))).is_ok());
    }
    let m = f.metadata().unwrap();
    assert_eq!(m.len(), 10);
    f.set_len(4).unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);
    let mut buf = [0u8; 4];
    f.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"stil");
}
