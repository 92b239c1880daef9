//! `rbd` pools on a real, throw-away Ceph cluster (one monitor, one
//! manager, one BlueStore OSD on loopback; `scripts/ceph-cluster.sh`): the
//! images of a Ceph pool as volumes, driven with ordinary tools and checked
//! with Ceph's own `rbd`. The cluster takes 10-20 s to start, so one test
//! starts it and runs every scenario on it in turn, each on a pool of its
//! own (`case`); the cluster stops at the end, also when a scenario fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/exerciser.rs"]
mod exerciser;

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::time::Duration;

use common::ceph::Ceph;
use common::qemu::{migrate_writing, migrated_bytes};
use common::{Fixture, errno_of, have_tool, survives_crash};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn define(fx: &Fixture, ceph: &Ceph, pool: &str) {
    fs::create_dir(fx.mnt.join(pool)).unwrap();
    fx.ctl(format!("{pool}/config"), &ceph.pool_config())
        .unwrap();
    fx.ctl(format!("{pool}/status"), "start")
        .unwrap_or_else(|e| panic!("start: {e}\n{}", fx.read(format!("{pool}/info"))));
}

#[test]
fn rbd_pools_on_a_throwaway_ceph_cluster() {
    require_mount!();
    let Some(ceph) = Ceph::start("rbd") else {
        return;
    };
    let fx = Fixture::new();
    define(&fx, &ceph, "ceph");
    // POOLFS_RBD_STEP=<part of a name>: only the steps it names (one
    // cluster start for the few a change is about).
    let only = std::env::var("POOLFS_RBD_STEP").ok();
    let step = |name: &str, f: &dyn Fn()| {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            return;
        }
        let t = std::time::Instant::now();
        f();
        eprintln!("{name}: {:?}", t.elapsed());
    };
    step("images_are_volumes", &|| images_are_volumes(&fx, &ceph));
    step("sizes_holes_and_allocation", &|| {
        sizes_holes_and_allocation(&fx, &ceph)
    });
    step("allocation_writes_zeros_into_holes_only", &|| {
        allocation_writes_zeros_into_holes_only(&fx, &ceph)
    });
    step("exercisers_find_the_bytes_they_wrote", &|| {
        exercisers_find_the_bytes_they_wrote(&fx)
    });
    step("a_listing_opens_no_image", &|| {
        a_listing_opens_no_image(&fx, &ceph)
    });
    step("a_closed_images_stat_is_its_open_ones", &|| {
        a_closed_images_stat_is_its_open_ones(&fx, &ceph)
    });
    step("mode_and_owner_are_kept_in_the_image", &|| {
        mode_and_owner_are_kept_in_the_image(&fx, &ceph)
    });
    step("renames_and_removals", &|| renames_and_removals(&fx, &ceph));
    step(
        "what_rbd_changes_shows_and_only_open_volumes_are_watched",
        &|| what_rbd_changes_shows_and_only_open_volumes_are_watched(&fx, &ceph),
    );
    step("a_missing_ceph_pool_is_refused_with_a_sentence", &|| {
        a_missing_ceph_pool_is_refused_with_a_sentence(&fx, &ceph)
    });
    step("a_key_in_the_definition_is_never_shown", &|| {
        a_key_in_the_definition_is_never_shown(&fx, &ceph)
    });
    step("reads_ahead_and_sees_every_change", &|| {
        reads_ahead_and_sees_every_change(&fx, &ceph)
    });
    step("a_copy_off_reads_each_object_once", &|| {
        a_copy_off_reads_each_object_once(&fx, &ceph)
    });
    step("clones_are_instant_and_keep_their_parent", &|| {
        clones_are_instant_and_keep_their_parent(&fx, &ceph)
    });
    step(
        "a_volume_open_for_writing_is_locked_against_other_hosts",
        &|| a_volume_open_for_writing_is_locked_against_other_hosts(&fx, &ceph),
    );
    if have_tool("qemu-system-x86_64") {
        step("qemu_migrates_between_two_hosts_of_one_pool", &|| {
            qemu_migrates_between_two_hosts_of_one_pool(&fx, &ceph)
        });
    }
    if survives_crash() {
        step(
            "a_write_answered_before_the_cluster_had_it_survives_a_crash",
            &|| a_write_answered_before_the_cluster_had_it_survives_a_crash(&ceph),
        );
    }
    step("pool_dumpxml_is_libvirts_rbd_pool", &|| {
        pool_dumpxml_is_libvirts_rbd_pool(&fx)
    });
    step("many_requests_in_flight_return_the_right_bytes", &|| {
        many_requests_in_flight_return_the_right_bytes(&fx)
    });
    // Not on the ring: its 15 waiting writes would hold every entry of
    // their CPUs' queues (common::on_the_ring).
    if !common::on_the_ring() {
        step(
            "writes_waiting_on_a_frozen_cluster_hold_up_no_other_pool",
            &|| writes_waiting_on_a_frozen_cluster_hold_up_no_other_pool(&fx, &ceph),
        );
    }
    step("a_silent_cluster_is_waited_for_once", &|| {
        a_silent_cluster_is_waited_for_once(&fx, &ceph)
    });
    if survives_crash() {
        step("fio_verifies_through_two_crashes_of_the_server", &|| {
            fio_verifies_through(&fx, "crash", &|| {
                fx.crash_server();
            })
        });
        step("fio_verifies_through_two_upgrades", &|| {
            fio_verifies_through(&fx, "upgrade", &|| upgrade(&fx))
        });
        step("a_volume_removed_while_open_goes_after_an_upgrade", &|| {
            a_volume_removed_while_open_goes_after_an_upgrade(&fx, &ceph)
        });
    }
}

/// An image made with `rbd` shows up; a file copied in is an image `rbd`
/// sees, with the same bytes.
fn images_are_volumes(fx: &Fixture, ceph: &Ceph) {
    ceph.rbd("create --size 16M made-by-rbd");
    let p = fx.pool("ceph");
    let m = fs::metadata(p.join("made-by-rbd")).unwrap();
    assert_eq!(m.len(), 16 << 20);
    assert_eq!(m.mode() & 0o7777, 0o600, "an image poolfs did not make");
    assert_eq!(m.blocks(), 0, "a new image holds nothing");

    let data = pattern(5 << 20, 7);
    fs::write(p.join("copied.img"), &data).unwrap();
    assert!(fs::read(p.join("copied.img")).unwrap() == data);
    let info = ceph.rbd("info copied.img");
    assert!(info.contains("size 5 MiB"), "{info}");
    let exported = fx.dir.path().join("exported");
    ceph.rbd(&format!("export copied.img {}", exported.display()));
    assert!(fs::read(&exported).unwrap() == data, "rbd export differs");

    let names: Vec<String> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.contains(&"made-by-rbd".to_string()), "{names:?}");
    // A listing with attributes (its images opened at once, `warm`).
    let long = common::run(&format!("ls -ln {}", p.display()));
    let line = long
        .lines()
        .find(|l| l.ends_with(" made-by-rbd"))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(line.contains(" 16777216 "), "{line}");
    let line = long
        .lines()
        .find(|l| l.ends_with(" copied.img"))
        .unwrap_or_else(|| panic!("{long}"));
    assert!(line.contains(&format!(" {} ", 5 << 20)), "{line}");
    assert_eq!(fx.info("ceph", "type"), "rbd");
    assert_eq!(fx.info("ceph", "ceph_pool"), "rbd");
    assert!(fx.info("ceph", "capacity").parse::<u64>().unwrap() > 1 << 30);
    let vinfo = fx.read("ceph/.vol/copied.img/info");
    assert!(vinfo.contains("format: raw"), "{vinfo}");
}

/// truncate grows and shrinks, a write past the end grows, a punched
/// hole reads as zeros, `resize` grows; the allocation follows the data.
fn sizes_holes_and_allocation(fx: &Fixture, ceph: &Ceph) {
    let path = fx.pool("ceph").join("sparse.img");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.set_len(64 << 20).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().blocks(), 0);
    f.write_all_at(&pattern(8 << 20, 1), 0).unwrap();
    f.write_all_at(&pattern(4096, 2), (80 << 20) - 4096)
        .unwrap();
    f.sync_all().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        80 << 20,
        "a write past the end"
    );
    let blocks = fs::metadata(&path).unwrap().blocks() * 512;
    assert!(
        (8 << 20..=16 << 20).contains(&blocks),
        "allocation {blocks} for 8 MiB + 4 KiB written"
    );
    // Punch 4 MiB + 4 KiB from 1 MiB: a partial object too.
    let r = common::run(&format!(
        "fallocate --punch-hole --offset {} --length {} {}",
        1 << 20,
        (4 << 20) + 4096,
        path.display()
    ));
    assert!(r.is_empty());
    let mut back = vec![0u8; 8 << 20];
    f.read_exact_at(&mut back, 0).unwrap();
    let mut want = pattern(8 << 20, 1);
    want[1 << 20..(5 << 20) + 4096].fill(0);
    assert!(back == want, "a punched hole does not read as zeros");
    f.set_len(2 << 20).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 2 << 20);
    drop(f);
    fx.ctl("ceph/.vol/sparse.img/resize", "+2M").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 4 << 20);
    let info = ceph.rbd("info sparse.img");
    assert!(info.contains("size 4 MiB"), "{info}");
    // Past the old end: zeros, not the bytes the shrink cut off.
    let back = fs::read(&path).unwrap();
    assert!(back[2 << 20..].iter().all(|&b| b == 0));
}

/// fsx (buffered, mmap, fallocate, punch-hole, copy_file_range, a size
/// check after every operation) and the project's exerciser (`O_DIRECT`
/// mixed with buffered I/O, zero-range, SEEK_DATA/HOLE) on volumes: every
/// read and size matches their model, with writes behind and read-ahead.
fn exercisers_find_the_bytes_they_wrote(fx: &Fixture) {
    let p = fx.pool("ceph");
    let fsx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fsx.sh");
    for (profile, ops) in [("full", 3000), ("large", 1000)] {
        let (ok, out, err) = common::sh(&format!(
            "{} --profile {profile} {} {ops}",
            fsx.display(),
            p.join(format!("fsx-{profile}.img")).display()
        ));
        assert!(ok, "fsx ({profile}) failed:\n{out}\n{err}");
    }
    let cfg = exerciser::Config {
        ops: 3000,
        seed: 1,
        max_size: 16 << 20,
        direct: true,
    };
    let report = exerciser::run(&p.join("exerciser.img"), &cfg).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("exerciser: {report}");
    for v in ["fsx-full.img", "fsx-large.img", "exerciser.img"] {
        fs::remove_file(p.join(v)).unwrap();
    }
}

/// `ls` of a pool is one list call, whatever the number of images: a
/// listing gives names only (`READDIRPLUS` looks no image up, each lookup
/// being an image open); `stat` of an image reads it without opening it.
fn a_listing_opens_no_image(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    for i in 0..40 {
        fs::File::create(p.join(format!("l{i:02}.img"))).unwrap();
    }
    // Past the store's cache time: a lookup would open the image again.
    std::thread::sleep(Duration::from_millis(1200));
    let before = ceph.osd_ops();
    let names: Vec<_> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('l'))
        .collect();
    let ops = ceph.osd_ops() - before;
    assert_eq!(names.len(), 40);
    // The listing reads the pool's directory object (a few operations);
    // each image opened would be several.
    assert!(ops < 20, "listing 40 images took {ops} OSD operations");
    // `stat` of an image not open here reads its header and object map:
    // three operations, where an open of the image takes a dozen.
    let before = ceph.osd_ops();
    for n in &names {
        assert_eq!(fs::metadata(p.join(n)).unwrap().len(), 0);
    }
    let ops = ceph.osd_ops() - before;
    assert!(ops <= 4 * 40, "40 stats took {ops} OSD operations");
    for i in 0..40 {
        fs::remove_file(p.join(format!("l{i:02}.img"))).unwrap();
    }
}

/// `stat` of an image not open here (read from its header and object map
/// without opening it) shows what `fstat` of an open shows: size,
/// allocation, mode, owner, times; for sparse images, one made by `rbd`
/// and a clone (which is opened, its allocation counting its parent's).
fn a_closed_images_stat_is_its_open_ones(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    let f = fs::File::create(p.join("st-a.img")).unwrap();
    f.write_all_at(&pattern(3 << 20, 1), 10 << 20).unwrap();
    f.set_len(100 << 20).unwrap();
    drop(f);
    fs::set_permissions(p.join("st-a.img"), fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(p.join("st-a.img"), Some(7), Some(8)).unwrap();
    fs::write(p.join("st-b.img"), pattern(5000, 2)).unwrap();
    ceph.rbd("create --size 20M st-c.img");
    let out = poolfs(fx, &["vol-clone", "st-a.img", "st-d.img", "--pool", "ceph"]);
    assert!(out.status.success(), "{out:?}");
    std::thread::sleep(Duration::from_millis(1200));
    let shown = |m: &fs::Metadata| (m.len(), m.blocks(), m.mode(), m.uid(), m.gid(), m.mtime());
    for v in ["st-a.img", "st-b.img", "st-c.img", "st-d.img"] {
        let closed = shown(&fs::metadata(p.join(v)).unwrap());
        let open = shown(&fs::File::open(p.join(v)).unwrap().metadata().unwrap());
        assert_eq!(closed, open, "{v}: stat closed (left) and open (right)");
    }
    let a = fs::metadata(p.join("st-a.img")).unwrap();
    assert_eq!((a.len(), a.blocks() * 512), (100 << 20, 8 << 20));
    assert_eq!((a.mode() & 0o7777, a.uid(), a.gid()), (0o640, 7, 8));
    for v in ["st-d.img", "st-a.img", "st-b.img", "st-c.img"] {
        fs::remove_file(p.join(v)).unwrap();
    }
}

/// The bytes `rbd du` counts as used by `image`.
fn used(ceph: &Ceph, image: &str) -> u64 {
    let du = ceph.rbd(&format!("du --format json {image}"));
    let at = du.find("\"used_size\":").unwrap_or_else(|| panic!("{du}")) + 12;
    du[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{du}"))
}

/// A plain `fallocate` and `vol-create-as --allocation` allocate (zeros
/// written into the holes, as on ext4 the blocks are reserved) and keep
/// the data already there.
fn allocation_writes_zeros_into_holes_only(fx: &Fixture, ceph: &Ceph) {
    let path = fx.pool("ceph").join("falloc.img");
    let f = fs::OpenOptions::new()
        .create_new(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let data = pattern(8192, 9);
    f.write_all_at(&data, (6 << 20) - 4096).unwrap();
    f.sync_all().unwrap();
    // `rbd du` counts the bytes of each object up to its last written one.
    assert!(used(ceph, "falloc.img") <= 4 << 20, "one object before");
    let r = common::run(&format!("fallocate --length 16M {}", path.display()));
    assert!(r.is_empty(), "{r}");
    assert_eq!(fs::metadata(&path).unwrap().len(), 16 << 20);
    assert_eq!(fs::metadata(&path).unwrap().blocks() * 512, 16 << 20);
    let u = used(ceph, "falloc.img");
    assert!(u >= 14 << 20, "{u} bytes used after fallocate of 16 MiB");
    let mut back = vec![0u8; 16 << 20];
    f.read_exact_at(&mut back, 0).unwrap();
    let mut want = vec![0u8; 16 << 20];
    want[(6 << 20) - 4096..(6 << 20) + 4096].copy_from_slice(&data);
    assert!(back == want, "fallocate changed the volume's bytes");
    drop(f);
    let out = poolfs(
        fx,
        &[
            "vol-create-as",
            "ceph",
            "pre.img",
            "12M",
            "--allocation",
            "8M",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(used(ceph, "pre.img"), 8 << 20);
    assert!(ceph.rbd("info pre.img").contains("size 12 MiB"));
    fx.ctl("ceph/.vol/pre.img/resize", "+4M allocate").unwrap();
    assert!(ceph.rbd("info pre.img").contains("size 16 MiB"));
    assert_eq!(used(ceph, "pre.img"), 12 << 20, "the new part allocated");
    for v in ["falloc.img", "pre.img"] {
        fs::remove_file(fx.pool("ceph").join(v)).unwrap();
    }
}

/// chmod and chown are kept in the image's metadata: they survive a stop
/// and start of the pool, and a new volume belongs to its creator.
fn mode_and_owner_are_kept_in_the_image(fx: &Fixture, ceph: &Ceph) {
    let path = fx.pool("ceph").join("owned.img");
    fs::write(&path, b"x").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o644);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::chown(&path, Some(107), Some(108)).unwrap();
    fx.ctl("ceph/status", "stop").unwrap();
    fx.ctl("ceph/status", "start").unwrap();
    let m = fs::metadata(&path).unwrap();
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid()),
        (0o640, 107, 108),
        "after a restart of the pool"
    );
    let meta = ceph.rbd("image-meta get owned.img poolfs.attr");
    assert_eq!(meta.trim(), "0640 107 108");
}

/// mv renames the image (replacing one in the way), rm removes it. As on
/// ext4, a volume removed while open stays readable and writable through
/// its opens and is freed at the last close (RBD removes no open image:
/// poolfs hides it until then); a hidden image left open nowhere (its host
/// crashed) is removed by the next listing.
fn renames_and_removals(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    fs::write(p.join("a.img"), pattern(4096, 3)).unwrap();
    fs::write(p.join("b.img"), pattern(4096, 4)).unwrap();
    fs::rename(p.join("a.img"), p.join("b.img")).unwrap();
    assert!(!p.join("a.img").exists());
    assert_eq!(fs::read(p.join("b.img")).unwrap(), pattern(4096, 3));
    let listed = ceph.rbd("ls");
    assert!(
        listed.contains("b.img") && !listed.contains("a.img"),
        "{listed}"
    );

    let reader = fs::File::open(p.join("b.img")).unwrap();
    let writer = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p.join("b.img"))
        .unwrap();
    fs::remove_file(p.join("b.img")).unwrap();
    assert!(!p.join("b.img").exists());
    let shown: Vec<_> = fs::read_dir(&p)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(!shown.iter().any(|n| n.starts_with(".poolfs")), "{shown:?}");
    let listed = ceph.rbd("ls");
    assert!(
        !listed.contains("b.img") && listed.contains(".poolfs-removed-"),
        "{listed}"
    );
    // The opens go on; the name is free for a new volume meanwhile.
    writer.write_all_at(&pattern(4096, 5), 4096).unwrap();
    writer.sync_all().unwrap();
    let mut back = vec![0u8; 8192];
    reader.read_exact_at(&mut back, 0).unwrap();
    assert!(back[..4096] == pattern(4096, 3)[..] && back[4096..] == pattern(4096, 5)[..]);
    fs::write(p.join("b.img"), pattern(4096, 6)).unwrap();
    assert_eq!(fs::read(p.join("b.img")).unwrap(), pattern(4096, 6));
    assert_eq!(
        errno_of(fs::write(p.join(".poolfs-removed-x"), b"x")),
        Some(libc::EINVAL),
        "a hidden name was taken"
    );
    drop(reader);
    assert!(
        ceph.rbd("ls").contains(".poolfs-removed-"),
        "removed at a close that was not the last"
    );
    drop(writer);
    no_hidden_image_within_10s(ceph, "not removed at its last close");
    fs::remove_file(p.join("b.img")).unwrap();
    assert!(!p.join("b.img").exists());
    assert!(!ceph.rbd("ls").contains("b.img"));

    // Left behind by a host that crashed: the next listing removes it.
    ceph.rbd("create --size 1M .poolfs-removed-left");
    assert!(
        fs::read_dir(&p)
            .unwrap()
            .all(|e| e.unwrap().file_name() != ".poolfs-removed-left")
    );
    no_hidden_image_within_10s(ceph, "a listing left the hidden image");
}

/// Waits until the Ceph pool holds no hidden image of a removed volume.
fn no_hidden_image_within_10s(ceph: &Ceph, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ceph.rbd("ls").contains(".poolfs-removed-") {
        assert!(std::time::Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sequential reads are served read ahead (4 MiB chunks, several asked
/// for at once), and never stale: a write made from this host shows at
/// once, one made by another client (qemu's rbd driver) within the pool's
/// cache time (1 s), as without read-ahead.
fn reads_ahead_and_sees_every_change(fx: &Fixture, ceph: &Ceph) {
    const MIB: u64 = 1 << 20;
    let path = fx.pool("ceph").join("ra.img");
    let want = pattern(32 << 20, 21);
    fs::write(&path, &want).unwrap();
    let r = fs::File::open(&path).unwrap();
    let read = |from: u64, to: u64| {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 128 << 10];
        let mut at = from;
        while at < to {
            r.read_exact_at(&mut buf, at).unwrap();
            out.extend_from_slice(&buf);
            at += buf.len() as u64;
        }
        out
    };
    assert!(read(0, 8 * MIB) == want[..8 << 20], "a sequential read");
    // A write from this host, into what is read ahead by now (O_DIRECT:
    // a buffered write would leave its page in the kernel's cache, which
    // the read below would find without asking poolfs).
    let w = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .unwrap();
    let mut block = vec![0u8; 8192];
    let a = block.as_ptr().align_offset(4096);
    block[a..a + 4096].copy_from_slice(&pattern(4096, 22));
    w.write_all_at(&block[a..a + 4096], 12 * MIB).unwrap();
    w.sync_all().unwrap();
    drop(w);
    let mut now = want.clone();
    now[12 << 20..(12 << 20) + 4096].copy_from_slice(&pattern(4096, 22));
    assert!(
        read(8 * MIB, 16 * MIB) == now[8 << 20..16 << 20],
        "a write from this host did not show in the data read ahead"
    );
    // Another client writes what this open has read ahead; the write
    // reaches RBD once this host's close let the lock go.
    let url = format!(
        "rbd:{}/ra.img:conf={}/ceph.conf:keyring={}",
        ceph.pool,
        ceph.path.display(),
        ceph.keyring().display()
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (ok, _, err) = common::sh(&format!(
            "qemu-io -f raw -c 'write -P 0x5a {} 65536' '{url}'",
            20 * MIB
        ));
        if ok {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "qemu-io: {err}");
        std::thread::sleep(Duration::from_millis(100));
    }
    now[20 << 20..(20 << 20) + 65536].fill(0x5a);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        read(16 * MIB, 24 * MIB) == now[16 << 20..24 << 20],
        "another client's write did not show after the cache time"
    );
    drop(r);
    fs::remove_file(&path).unwrap();
}

/// `qemu-img convert` off a volume (eight requests of 2 MiB in flight, so
/// eight streams of reads on one open) reads each byte off the cluster
/// once: the read-ahead asks for no chunk twice. It asked again for
/// chunks ahead that the readers had gone past: 6 % more bytes than the
/// volume held here, 35 % for 1 GiB.
fn a_copy_off_reads_each_object_once(fx: &Fixture, ceph: &Ceph) {
    const SIZE: usize = 256 << 20;
    let path = fx.pool("ceph").join("copied.img");
    let want = pattern(SIZE, 23);
    fs::write(&path, &want).unwrap();
    let out = fx.dir.path().join("copied-out.img");
    let before = ceph.osd_read_bytes();
    common::run(&format!(
        "qemu-img convert -f raw -O raw '{}' '{}'",
        path.display(),
        out.display()
    ));
    let read = ceph.osd_read_bytes() - before;
    assert!(fs::read(&out).unwrap() == want, "the copy differs");
    fs::remove_file(&out).unwrap();
    fs::remove_file(&path).unwrap();
    eprintln!(
        "read off the cluster: {} MiB for {} MiB",
        read >> 20,
        SIZE >> 20
    );
    // The first request of each 2 MiB stretch continues nothing and is
    // read as asked, before its chunk: a few hundred KiB read twice.
    assert!(
        read >= SIZE as u64 && read <= SIZE as u64 + (4 << 20),
        "the copy read {read} bytes off the cluster for a volume of {SIZE}"
    );
}

fn poolfs(fx: &Fixture, args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::BIN)
        .args(args)
        .arg("--mount")
        .arg(&fx.mnt)
        .output()
        .unwrap()
}

/// `vol-clone` makes an RBD clone: instant whatever the size, its parent
/// in `info` and in `rbd info`; a volume with clones cannot be removed (the
/// refusal names them); the snapshot goes with the last clone; `--flatten`
/// copies. Clones are copies elsewhere: a dir pool's volume has no `clone`.
fn clones_are_instant_and_keep_their_parent(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    let f = fs::File::create(p.join("base.img")).unwrap();
    f.set_len(100 << 30).unwrap();
    f.write_all_at(&pattern(6 << 20, 5), 1 << 30).unwrap();
    f.sync_all().unwrap();
    drop(f);
    let t = std::time::Instant::now();
    let out = poolfs(fx, &["vol-clone", "base.img", "c.img", "--pool", "ceph"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a clone of a 100 GiB volume took {:?}",
        t.elapsed()
    );
    let rbd_info = ceph.rbd("info c.img");
    assert!(
        rbd_info.contains("parent: rbd/base.img@poolfs-clone-"),
        "{rbd_info}"
    );
    let info = fx.read("ceph/.vol/c.img/info");
    assert!(info.contains("parent: base.img@poolfs-clone-"), "{info}");
    assert_eq!(fx.read("ceph/.vol/base.img/clone"), "c.img\n");
    let c = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p.join("c.img"))
        .unwrap();
    assert_eq!(c.metadata().unwrap().len(), 100 << 30);
    let mut back = vec![0u8; 6 << 20];
    c.read_exact_at(&mut back, 1 << 30).unwrap();
    assert!(
        back == pattern(6 << 20, 5),
        "a clone reads its parent's data"
    );
    // Holes of the parent are holes of the clone; its data is data.
    let data = common::run(&format!(
        "python3 -c \"import os; f=os.open('{}', os.O_RDONLY); print(os.lseek(f, 0, os.SEEK_DATA))\"",
        p.join("c.img").display()
    ));
    assert_eq!(
        data.trim(),
        (1u64 << 30).to_string(),
        "SEEK_DATA on a clone"
    );
    c.write_all_at(&pattern(4096, 9), 1 << 30).unwrap();
    c.sync_all().unwrap();
    drop(c);
    let mut base = vec![0u8; 4096];
    fs::File::open(p.join("base.img"))
        .unwrap()
        .read_exact_at(&mut base, 1 << 30)
        .unwrap();
    assert!(
        base == pattern(4096, 5),
        "a write to a clone changed its parent"
    );

    assert_eq!(
        errno_of(fs::remove_file(p.join("base.img"))),
        Some(libc::EBUSY)
    );
    let why = fx.info("ceph", "last_error");
    assert!(why.contains("has clones (c.img)"), "{why}");
    // Also while open (it would otherwise be hidden until its last close).
    let open = fs::File::open(p.join("base.img")).unwrap();
    assert_eq!(
        errno_of(fs::remove_file(p.join("base.img"))),
        Some(libc::EBUSY)
    );
    drop(open);
    assert!(p.join("base.img").exists());
    let out = poolfs(
        fx,
        &[
            "vol-clone",
            "base.img",
            "flat.img",
            "--pool",
            "ceph",
            "--flatten",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(!ceph.rbd("info flat.img").contains("parent:"));
    fs::remove_file(p.join("flat.img")).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Err(e) = fs::remove_file(p.join("c.img")) {
        assert!(std::time::Instant::now() < deadline, "rm c.img: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let snaps = ceph.rbd("snap ls base.img");
    assert!(
        snaps.trim().is_empty(),
        "the clone's snapshot stayed: {snaps}"
    );
    fs::remove_file(p.join("base.img")).unwrap();

    fs::write(fx.pool("default").join("d.img"), b"x").unwrap();
    assert!(!fx.mnt.join("default/.vol/d.img/clone").exists());
    let listed: Vec<_> = fs::read_dir(fx.mnt.join("default/.vol/d.img"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(!listed.contains(&"clone".into()), "{listed:?}");
    fs::remove_file(fx.pool("default").join("d.img")).unwrap();
}

/// Write-behind: a write is answered once parked in the journal's memfd,
/// before the cluster has it; writes past the end grow the image first on
/// the pool's grower. The server crashes after answering a parked write and
/// before sending it (`POOLFS_CRASH_AFTER=write-parked`): its successor
/// sends it, and the image holds every answered byte at the right size.
fn a_write_answered_before_the_cluster_had_it_survives_a_crash(ceph: &Ceph) {
    let (fx, flag) = Fixture::crashing_after("write-parked");
    define(&fx, ceph, "ceph");
    let path = fx.pool("ceph").join("wb.img");
    let f = fs::File::create(&path).unwrap();
    fs::write(&flag, b"").unwrap();
    let old = fx.server_pid();
    let mut want = Vec::new();
    for i in 0..6u8 {
        f.write_all_at(&pattern(1 << 20, 10 + i), u64::from(i) << 20)
            .unwrap();
        want.extend(pattern(1 << 20, 10 + i));
    }
    fx.wait_new_server(old);
    assert!(!flag.exists(), "the server did not crash");
    f.sync_all()
        .unwrap_or_else(|e| panic!("fsync after the crash: {e}; log:\n{}", fx.log()));
    drop(f);
    assert_eq!(fs::metadata(&path).unwrap().len(), 6 << 20);
    let exported = fx.dir.path().join("wb.exported");
    ceph.rbd(&format!("export wb.img {}", exported.display()));
    assert!(
        fs::read(&exported).unwrap() == want,
        "a parked write did not reach the cluster; log:\n{}",
        fx.log()
    );
    assert!(
        fx.log().contains("writes the previous server had answered"),
        "the successor sent no parked write"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Err(e) = fs::remove_file(&path) {
        assert!(std::time::Instant::now() < deadline, "rm: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends `sig` to a process.
fn signal(pid: i32, sig: nix::sys::signal::Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
}

/// Stops the cluster's OSD (`SIGSTOP`: it holds every request) until the
/// returned guard is dropped, however the test ends.
fn stop_the_osd(ceph: &Ceph) -> Resume {
    let osd: i32 = fs::read_to_string(ceph.path.join("run/osd.0.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal(osd, nix::sys::signal::Signal::SIGSTOP);
    Resume(osd)
}

/// Continues a stopped process (a server, the OSD) however the test ends.
struct Resume(i32);
impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, nix::sys::signal::Signal::SIGCONT);
    }
}

/// A second daemon on the same Ceph pool (another host) sees the same
/// volumes; while one host has a volume open for writing, the other's
/// opens for writing are refused (`EBUSY`, the holder named) and its reads
/// work; a host that stops answering loses the lock once its watch times
/// out, and then gets `EIO` (fenced) until its pool is started again.
fn a_volume_open_for_writing_is_locked_against_other_hosts(fx: &Fixture, ceph: &Ceph) {
    let other = Fixture::new();
    define(&other, ceph, "ceph");
    let (a, b) = (fx.pool("ceph"), other.pool("ceph"));
    let rw = |p: &std::path::Path| fs::OpenOptions::new().read(true).write(true).open(p);
    fs::write(a.join("shared.img"), pattern(1 << 20, 1)).unwrap();
    let held = rw(&a.join("shared.img")).unwrap();
    held.write_all_at(&pattern(4096, 2), 0).unwrap();
    held.sync_all().unwrap();
    assert_eq!(errno_of(rw(&b.join("shared.img"))), Some(libc::EBUSY));
    let why = other.info("ceph", "last_error");
    assert!(why.contains("open for writing on another host"), "{why}");
    assert_eq!(
        fs::read(b.join("shared.img")).unwrap()[..4096],
        pattern(4096, 2)[..],
        "the other host reads what this one wrote"
    );
    drop(held);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let theirs = loop {
        match rw(&b.join("shared.img")) {
            Ok(f) => break f,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "still locked after the close: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    theirs.write_all_at(&pattern(4096, 3), 0).unwrap();
    theirs.sync_all().unwrap();

    // The other host stops answering (a hung or partitioned host).
    let stopped = other.server_pid();
    signal(stopped, nix::sys::signal::Signal::SIGSTOP);
    let resume = Resume(stopped);
    let t = std::time::Instant::now();
    let mine = loop {
        match rw(&a.join("shared.img")) {
            Ok(f) => break f,
            Err(e) => assert!(
                t.elapsed() < Duration::from_secs(60),
                "the lock of a host that stopped answering was never broken: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    eprintln!("lock taken over after {:?}", t.elapsed());
    mine.write_all_at(&pattern(4096, 4), 0).unwrap();
    mine.sync_all().unwrap();
    drop(resume);
    let late = theirs
        .write_all_at(&pattern(4096, 5), 0)
        .and_then(|()| theirs.sync_all());
    assert_eq!(errno_of(late), Some(libc::EIO), "the fenced host wrote");
    drop(theirs);
    let mut back = vec![0u8; 4096];
    mine.read_exact_at(&mut back, 0).unwrap();
    assert!(back == pattern(4096, 4), "the fenced host's write landed");
    drop(mine);
    // The fenced host's pool says so until it starts a new client.
    assert_eq!(other.read("ceph/status").trim(), "inaccessible");
    let info = other.read("ceph/info");
    assert!(info.contains("this host was fenced"), "{info}");
    // A new start connects as a new client.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Err(e) = other.ctl("ceph/status", "stop") {
        assert!(std::time::Instant::now() < deadline, "stop: {e}");
        std::thread::sleep(Duration::from_millis(100));
    }
    other.ctl("ceph/status", "start").unwrap();
    assert_eq!(other.read("ceph/status").trim(), "running");
    assert_eq!(
        fs::read(b.join("shared.img")).unwrap()[..4096],
        pattern(4096, 4)[..]
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Err(e) = fs::remove_file(a.join("shared.img")) {
        assert!(std::time::Instant::now() < deadline, "rm: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A qemu (no guest: a paused machine) with its disk on an rbd volume of
/// one host migrates live to a qemu on another host whose disk is the same
/// volume through that host's mount. qemu opens a disk read-write only
/// while it may write it: the destination waits read-only, the source
/// holds the volume open for writing (another writer on the other host is
/// refused) until the switch-over, where it reopens it read-only, so the
/// lock goes with the guest and the destination writes at once.
fn qemu_migrates_between_two_hosts_of_one_pool(fx: &Fixture, ceph: &Ceph) {
    let other = Fixture::new();
    define(&other, ceph, "ceph");
    let (a, b) = (fx.pool("ceph"), other.pool("ceph"));
    fs::write(a.join("mig.img"), pattern(1 << 20, 7)).unwrap();
    let rw = |p: &std::path::Path| fs::OpenOptions::new().read(true).write(true).open(p);
    migrate_writing(
        fx.dir.path(),
        &a.join("mig.img"),
        &b.join("mig.img"),
        &|| other.log(),
        // No other writer on the destination's host meanwhile.
        &|| assert_eq!(errno_of(rw(&b.join("mig.img"))), Some(libc::EBUSY)),
        // The lock went with the guest.
        &|| assert_eq!(errno_of(rw(&a.join("mig.img"))), Some(libc::EBUSY)),
    );
    migrated_bytes(&fs::read(a.join("mig.img")).unwrap(), &pattern(1 << 20, 7));
    fs::remove_file(a.join("mig.img")).unwrap();
}

/// Ceph's own tools work beside poolfs: a resize made with `rbd` shows
/// within the pool's cache time (1 s); only a volume open through poolfs is
/// watched (RBD removes no watched image), so `rbd rm` removes an image
/// poolfs has only looked at.
fn what_rbd_changes_shows_and_only_open_volumes_are_watched(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    ceph.rbd("create --size 8M outside.img");
    assert_eq!(fs::metadata(p.join("outside.img")).unwrap().len(), 8 << 20);
    ceph.rbd("resize --size 24M outside.img");
    std::thread::sleep(Duration::from_millis(1300));
    assert_eq!(
        fs::metadata(p.join("outside.img")).unwrap().len(),
        24 << 20,
        "a resize made with rbd does not show after the cache time"
    );
    let f = fs::File::open(p.join("outside.img")).unwrap();
    let status = ceph.rbd("status outside.img");
    assert!(
        status.contains("watcher="),
        "an open volume is watched: {status}"
    );
    drop(f);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = ceph.rbd("status outside.img");
        if status.contains("Watchers: none") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a closed volume is still watched: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    ceph.rbd("rm outside.img");
    std::thread::sleep(Duration::from_millis(1300));
    assert!(!p.join("outside.img").exists());
}

fn a_missing_ceph_pool_is_refused_with_a_sentence(fx: &Fixture, ceph: &Ceph) {
    fs::create_dir(fx.mnt.join("nopool")).unwrap();
    let cfg = ceph
        .pool_config()
        .replace("pool = \"rbd\"", "pool = \"no-such-pool\"");
    fx.ctl("nopool/config", &cfg).unwrap();
    assert_eq!(
        errno_of(fx.ctl("nopool/status", "start")),
        Some(libc::ENOENT)
    );
    let last = fx.info("nopool", "last_error");
    assert!(
        last.contains("the Ceph pool 'no-such-pool' does not exist"),
        "{last}"
    );
    assert_eq!(fx.read("nopool/status").trim(), "inactive");
}

/// `key = "..."` (the secret itself): the pool starts with it; `config`
/// shows that one is set, never the key; a definition without `key` keeps
/// it; the stored definition is readable by root only.
fn a_key_in_the_definition_is_never_shown(fx: &Fixture, ceph: &Ceph) {
    let keyring = fs::read_to_string(ceph.keyring()).unwrap();
    let key = keyring
        .lines()
        .find_map(|l| l.trim().strip_prefix("key = "))
        .unwrap()
        .to_string();
    fs::create_dir(fx.mnt.join("keyed")).unwrap();
    let cfg = ceph.pool_config().replace(
        &format!("keyring = \"{}\"", ceph.keyring().display()),
        &format!("key = \"{key}\""),
    );
    fx.ctl("keyed/config", &cfg).unwrap();
    let shown = fx.read("keyed/config");
    assert!(!shown.contains(&key), "config shows the key:\n{shown}");
    assert!(shown.contains("# key: set"), "{shown}");
    // Written back as read (no key line): the key stays.
    fx.ctl("keyed/config", &shown).unwrap();
    fx.ctl("keyed/status", "start").unwrap();
    assert!(!fx.read("keyed/info").contains(&key));
    assert!(fs::read_dir(fx.pool("keyed")).is_ok());
    fx.ctl("keyed/status", "stop").unwrap();
    for e in walk(&fx.state) {
        let text = fs::read(&e).unwrap_or_default();
        if String::from_utf8_lossy(&text).contains(&key) {
            let mode = fs::metadata(&e).unwrap().mode() & 0o777;
            assert_eq!(
                mode & 0o077,
                0,
                "{} holds the key, mode {mode:o}",
                e.display()
            );
        }
    }
}

/// `poolfs pool-dumpxml` of an rbd pool is libvirt's rbd pool XML (its
/// monitor, its Ceph pool, no target), valid against libvirt's schema, and
/// names no secret; one with a key neither.
fn pool_dumpxml_is_libvirts_rbd_pool(fx: &Fixture) {
    if !have_tool("virt-xml-validate") {
        return;
    }
    for pool in ["ceph", "keyed"] {
        let out = std::process::Command::new(common::BIN)
            .args(["pool-dumpxml", pool])
            .env("POOLFS_MOUNT", &fx.mnt)
            .output()
            .unwrap();
        let xml = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{xml}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            xml.contains("<pool type='rbd'>") && xml.contains("<name>rbd</name>"),
            "{xml}"
        );
        assert!(!xml.contains("key ="), "{xml}");
        let f = fx.dir.path().join(format!("{pool}.xml"));
        fs::write(&f, &xml).unwrap();
        let (ok, o, e) = common::sh(&format!("virt-xml-validate '{}' storagepool", f.display()));
        assert!(ok, "not a valid storagepool:\n{xml}\n{o}{e}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// fio at queue depth 16 with `verify`: requests answered from librbd's
/// completions, many in flight, each with its own bytes.
fn many_requests_in_flight_return_the_right_bytes(fx: &Fixture) {
    if !have_tool("fio") {
        return;
    }
    let out = common::run(&format!(
        "fio --name=qd16 --filename={} --size=16M --rw=randwrite --bsrange=4k-64k \
         --iodepth=16 --ioengine=libaio --direct=1 --verify=crc32c --verify_fatal=1 \
         --verify_state_save=0 --output-format=terse",
        fx.pool("ceph").join("parallel.img").display()
    ));
    // Terse format: field 5 is the job's error.
    assert_eq!(out.split(';').nth(4), Some("0"), "{out}");
}

/// A frozen cluster holds up only its own pool: while the OSD is stopped,
/// 16 threads rewrite one block of a volume with `O_DIRECT` (the first is
/// parked and answered; each other one must wait for the write in flight
/// that it overlaps), and a write and a read on the mount's other pool still
/// answer at once: the waiting writes hold none of the mount's request
/// threads. Once the OSD runs again every write is answered and the block
/// holds one of them.
fn writes_waiting_on_a_frozen_cluster_hold_up_no_other_pool(fx: &Fixture, ceph: &Ceph) {
    let path = fx.pool("ceph").join("frozen.img");
    fs::write(&path, pattern(1 << 20, 1)).unwrap();
    // Opened before the freeze: an open for writing takes the image's lock.
    let files: Vec<fs::File> = (0..16)
        .map(|_| {
            fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .unwrap()
        })
        .collect();
    let resume = stop_the_osd(ceph);
    let writers: Vec<_> = files
        .into_iter()
        .zip(0u8..)
        .map(|(f, i)| std::thread::spawn(move || f.write_all_at(&pattern(4096, 100 + i), 0)))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let other = fx.pool("default").join("beside-the-frozen.img");
    let t = std::time::Instant::now();
    fs::write(&other, pattern(4096, 7)).unwrap();
    assert_eq!(fs::read(&other).unwrap(), pattern(4096, 7));
    let took = t.elapsed();
    drop(resume);
    assert!(
        took < Duration::from_secs(2),
        "the other pool waited {took:?} for the frozen cluster"
    );
    for w in writers {
        w.join()
            .unwrap()
            .unwrap_or_else(|e| panic!("a write after the thaw: {e}; log:\n{}", fx.log()));
    }
    let block = fs::read(&path).unwrap()[..4096].to_vec();
    assert!(
        (0..16u8).any(|i| block == pattern(4096, 100 + i)),
        "the block holds none of the writes"
    );
    fs::remove_file(&other).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Err(e) = fs::remove_file(&path) {
        assert!(std::time::Instant::now() < deadline, "rm: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A cluster that stops answering is waited for once: the first request
/// that needs it fails with `EIO` after the pool's timeout (3 s here) and
/// the pool turns `inaccessible`; lookups, stats and listings then fail at
/// once (12 in parallel, and the mount's other pool answers meanwhile)
/// instead of each waiting out the timeout on a request thread. Once the
/// OSD runs again the pool is `running` by itself and the volume is there.
fn a_silent_cluster_is_waited_for_once(fx: &Fixture, ceph: &Ceph) {
    fs::create_dir(fx.mnt.join("silent")).unwrap();
    let config = ceph.pool_config().replace("timeout = 20", "timeout = 3");
    fx.ctl("silent/config", &config).unwrap();
    fx.ctl("silent/status", "start").unwrap();
    let p = fx.pool("silent");
    fs::write(p.join("there.img"), pattern(4096, 9)).unwrap();
    let resume = stop_the_osd(ceph);
    // Past the pool's cache time: a stat asks the cluster.
    std::thread::sleep(Duration::from_millis(1500));
    let t = std::time::Instant::now();
    let first = fs::metadata(p.join("there.img"));
    let waited = t.elapsed();
    assert_eq!(errno_of(first), Some(libc::EIO), "after {waited:?}");
    assert!(
        waited < Duration::from_secs(8),
        "the first request waited {waited:?}"
    );
    assert_eq!(fx.read("silent/status").trim(), "inaccessible");
    let t = std::time::Instant::now();
    let askers: Vec<_> = (0..12)
        .map(|i| {
            let p = p.clone();
            std::thread::spawn(move || fs::metadata(p.join(format!("other-{i}.img"))))
        })
        .collect();
    let listing = fs::read_dir(&p).and_then(|d| d.collect::<std::io::Result<Vec<_>>>());
    assert_eq!(errno_of(listing), Some(libc::EIO), "a listing");
    let other = fx.pool("default").join("beside-the-silent.img");
    fs::write(&other, pattern(4096, 8)).unwrap();
    assert_eq!(fs::read(&other).unwrap(), pattern(4096, 8));
    for a in askers {
        assert_eq!(errno_of(a.join().unwrap()), Some(libc::EIO));
    }
    let took = t.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "requests to the silent pool waited {took:?}"
    );
    eprintln!(
        "silent cluster: the first request waited {waited:?}, 12 more and a listing {took:?}"
    );
    drop(resume);
    let back = std::time::Instant::now();
    let deadline = back + Duration::from_secs(20);
    while fx.read("silent/status").trim() != "running" {
        assert!(
            std::time::Instant::now() < deadline,
            "the pool did not come back: {}",
            fx.read("silent/info")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "silent cluster: running again {:?} after the thaw",
        back.elapsed()
    );
    assert_eq!(fs::read(p.join("there.img")).unwrap(), pattern(4096, 9));
    fs::remove_file(&other).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while let Err(e) = fs::remove_file(p.join("there.img")) {
        assert!(std::time::Instant::now() < deadline, "rm: {e}");
        std::thread::sleep(Duration::from_millis(50));
    }
    fx.ctl("silent/status", "stop").unwrap();
}

/// fio with `verify` on an RBD volume while the server is replaced twice
/// (`what`: killed, or upgraded): no error, and what fio reads back is
/// what it wrote.
fn fio_verifies_through(fx: &Fixture, what: &str, replace: &dyn Fn()) {
    if !have_tool("fio") {
        return;
    }
    let out = fx.dir.path().join("fio.json");
    let mut fio = std::process::Command::new("fio")
        .args([
            "--name=rbd",
            &format!(
                "--filename={}",
                fx.pool("ceph").join(format!("fio-{what}.img")).display()
            ),
            "--size=16M",
            "--rw=randwrite",
            "--bs=64k",
            "--iodepth=8",
            "--ioengine=libaio",
            "--direct=1",
            "--verify=crc32c",
            "--verify_fatal=1",
            "--verify_state_save=0",
            "--loops=40",
            "--output-format=json",
            &format!("--output={}", out.display()),
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let first = std::time::Instant::now();
    for _ in 0..2 {
        assert!(
            fio.try_wait().unwrap().is_none(),
            "fio ended before the {what}s"
        );
        replace();
        std::thread::sleep(Duration::from_millis(700));
    }
    let st = fio.wait().unwrap();
    let report = fs::read_to_string(&out).unwrap_or_default();
    assert!(
        st.success() && report.contains("\"error\" : 0"),
        "fio failed ({st}): {report}\nlog:\n{}",
        fx.log()
    );
    // About 8 s with the old server's image lock broken at takeover;
    // 30 s more when the successor waits for its watch to time out.
    let took = first.elapsed();
    assert!(
        took < Duration::from_secs(25),
        "fio took {took:?} after the first {what}: writes waited for the old server's image lock\nlog:\n{}",
        fx.log()
    );
}

/// Replaces the server with a new one (`poolfs upgrade`).
fn upgrade(fx: &Fixture) {
    let old = fx.server_pid();
    let up = std::process::Command::new(common::BIN)
        .arg("upgrade")
        .arg("--mount")
        .arg(&fx.mnt)
        .arg("--state-dir")
        .arg(&fx.state)
        .output()
        .unwrap();
    assert!(up.status.success(), "{up:?}\nlog:\n{}", fx.log());
    assert_ne!(fx.server_pid(), old, "the server was not replaced");
}

/// A volume removed while open is still removed at its last close when a
/// new server took the open over (it knows the image by its hidden name).
fn a_volume_removed_while_open_goes_after_an_upgrade(fx: &Fixture, ceph: &Ceph) {
    let p = fx.pool("ceph");
    fs::write(p.join("doomed.img"), pattern(8192, 1)).unwrap();
    let open = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p.join("doomed.img"))
        .unwrap();
    fs::remove_file(p.join("doomed.img")).unwrap();
    upgrade(fx);
    open.write_all_at(&pattern(4096, 2), 0).unwrap();
    open.sync_all().unwrap();
    let mut back = vec![0u8; 8192];
    open.read_exact_at(&mut back, 0).unwrap();
    assert!(back[..4096] == pattern(4096, 2)[..] && back[4096..] == pattern(8192, 1)[4096..]);
    assert!(ceph.rbd("ls").contains(".poolfs-removed-"));
    drop(open);
    no_hidden_image_within_10s(ceph, "not removed at its last close");
}
