//! Set-id bits and the kernel's privilege checks: an unprivileged writer or
//! truncater loses set-id bits exactly as on a local filesystem, and writes
//! do not cost a getxattr("security.capability") round trip each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Fixture, run};

/// Mode bits after an unprivileged write and truncate, in `dir`.
fn after_unprivileged_changes(dir: &Path) -> (u32, u32) {
    fs::create_dir_all(dir).unwrap();
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    let (w, t) = (dir.join("w.img"), dir.join("t.img"));
    for f in [&w, &t] {
        fs::write(f, b"data").unwrap();
        run(&format!("chown nobody {}", f.display()));
        fs::set_permissions(f, fs::Permissions::from_mode(0o6775)).unwrap();
    }
    run(&format!(
        "runuser -u nobody -- sh -c 'printf more >> {}'",
        w.display()
    ));
    run(&format!(
        "runuser -u nobody -- truncate -s 1 {}",
        t.display()
    ));
    (
        fs::metadata(&w).unwrap().mode() & 0o7777,
        fs::metadata(&t).unwrap().mode() & 0o7777,
    )
}

#[test]
fn unprivileged_write_and_truncate_clear_setid_bits_like_a_local_filesystem() {
    require_mount!();
    let fx = Fixture::new();
    let native = after_unprivileged_changes(&fx.dir.path().join("native"));
    let mounted = after_unprivileged_changes(&fx.pool("default").join("sub"));
    assert_eq!(mounted, native, "mount vs native");
    assert_eq!(mounted, (0o775, 0o775));
}

#[test]
fn writes_do_not_ask_for_security_capability_each_time() {
    require_mount!();
    let fx = Fixture::new();
    let f = fx.pool("default").join("w.img");
    run(&format!(
        "dd if=/dev/zero of={} bs=4k count=500 oflag=direct status=none",
        f.display()
    ));
    run(&format!(
        "dd if=/dev/zero of={} bs=4k count=500 conv=notrunc status=none",
        f.display()
    ));
    let asked = fx
        .log()
        .matches("GETXATTR name \"security.capability\"")
        .count();
    assert!(
        asked < 10,
        "{asked} getxattr(security.capability) round trips for 1000 writes"
    );
}
