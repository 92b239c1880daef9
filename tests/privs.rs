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

/// Mode bits right after `op` (a shell command run as nobody, `{}` the file)
/// on a 06666 file that nobody owns, in group `group`: no sleep, so a stale
/// cache shows.
fn mode_after(dir: &Path, name: &str, group: &str, op: &str) -> u32 {
    let f = dir.join(name);
    fs::write(&f, vec![1u8; 16384]).unwrap();
    run(&format!("chown nobody:{group} {}", f.display()));
    fs::set_permissions(&f, fs::Permissions::from_mode(0o6666)).unwrap();
    // Cached in the kernel now: the first stat after `op` must not be stale.
    assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o6666);
    let cmd = op.replace("{}", &f.display().to_string());
    run(&format!("runuser -u nobody -- sh -c '{cmd}'"));
    fs::metadata(&f).unwrap().mode() & 0o7777
}

#[test]
fn fallocate_chown_write_and_truncate_clear_setid_bits_like_ext4_and_stat_shows_it_at_once() {
    require_mount!();
    let fx = Fixture::new();
    let native = fx.dir.path().join("native");
    let mounted = fx.pool("default").join("sub");
    for d in [&native, &mounted] {
        fs::create_dir_all(d).unwrap();
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let ops = [
        ("write", "printf x >> {}"),
        (
            "pwrite",
            "dd if=/dev/zero of={} bs=512 count=1 seek=3 conv=notrunc status=none",
        ),
        ("truncate", "truncate -s 100 {}"),
        ("allocate", "fallocate -l 65536 {}"),
        ("allocate-keep-size", "fallocate -n -o 0 -l 65536 {}"),
        ("punch", "fallocate -p -o 0 -l 4096 {}"),
        ("zero", "fallocate -z -o 0 -l 4096 {}"),
        (
            "chown-unchanged",
            "python3 -c \"import os,sys; os.chown(sys.argv[1], -1, -1)\" {}",
        ),
        ("chown-self", "chown nobody {}"),
    ];
    let mut wrong = Vec::new();
    // In the file's group (set-group-id stays unless group-executable), and not.
    for group in ["nogroup", "root"] {
        for (name, op) in ops {
            let name = format!("{name}-{group}");
            let want = mode_after(&native, &name, group, op);
            let got = mode_after(&mounted, &name, group, op);
            // What the mount shows is what the backing file has.
            let backing = fx.backing().join("sub").join(&name);
            let on_disk = fs::metadata(&backing).unwrap().mode() & 0o7777;
            if (got, on_disk) != (want, want) {
                wrong.push(format!(
                    "{name}: ext4 {want:o}, mount {got:o}, backing file {on_disk:o}"
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "differences from ext4:\n{}",
        wrong.join("\n")
    );
}

/// Times and size of a volume right after writes that bypass the daemon
/// (kernel passthrough) are the backing file's, not a cached copy.
#[test]
fn stat_after_passthrough_write_and_mmap_write_is_current() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("t.img");
    let backing = fx.backing().join("t.img");
    fs::write(&vol, vec![0u8; 8192]).unwrap();
    let same = |what: &str| {
        let (m, b) = (fs::metadata(&vol).unwrap(), fs::metadata(&backing).unwrap());
        assert_eq!(
            (
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
                m.size()
            ),
            (
                b.mtime(),
                b.mtime_nsec(),
                b.ctime(),
                b.ctime_nsec(),
                b.size()
            ),
            "{what}: mount vs backing file"
        );
    };
    same("before");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&vol)
        .unwrap();
    for i in 0..3u64 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::os::unix::fs::FileExt::write_at(&f, b"data", 8192 + i * 4096).unwrap();
        same("after a write while open");
    }
    // mmap writes: the kernel never tells the daemon. Attributes cached by
    // a lookup before the file was opened must not hide them either.
    let py = "import mmap,os,sys,time
f, b = sys.argv[1], sys.argv[2]
def same(what):
    m, n = os.stat(f), os.stat(b)
    assert (m.st_mtime_ns, m.st_ctime_ns, m.st_size) == (n.st_mtime_ns, n.st_ctime_ns, n.st_size), what
same('before open')
fd = os.open(f, os.O_RDWR)
m = mmap.mmap(fd, 8192)
for page in [0, 0, 1, 1]:
    time.sleep(0.02)
    m[page * 4096:page * 4096 + 4] = b'mmap'
    same('after an mmap write')
    m.flush()
    same('after msync')
";
    let script = fx.dir.path().join("mmap_stat.py");
    fs::write(&script, py).unwrap();
    run(&format!(
        "python3 {} {} {}",
        script.display(),
        vol.display(),
        backing.display()
    ));
    drop(f);
    same("after close");
}

/// What stays coherent stays cached: a volume open only for reading keeps
/// the kernel's attribute cache (no GETATTR round trip per stat).
#[test]
fn read_only_opens_keep_the_attribute_cache() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("ro.img");
    fs::write(&vol, vec![0u8; 8192]).unwrap();
    let f = fs::File::open(&vol).unwrap();
    let before = fx.log().matches("GETATTR").count();
    // Over 2 s, longer than the 1 s attribute cache: a read-only open must
    // not turn every stat after the first expiry into a round trip.
    for _ in 0..25 {
        std::thread::sleep(std::time::Duration::from_millis(80));
        fs::metadata(&vol).unwrap();
    }
    let asked = fx.log().matches("GETATTR").count() - before;
    drop(f);
    assert!(
        asked <= 3,
        "{asked} GETATTR round trips for 25 stats over 2 s of a read-only open volume"
    );
}
