//! Per-volume control files through the mount: `.vol/<volume>/info`,
//! `resize` and `wipe` (SPEC 3.5-3.7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};

use common::{Fixture, errno_of, have_tool, run};

fn vol_info(fx: &Fixture, vol: &str, key: &str) -> String {
    let text = fx.read(format!("default/.vol/{vol}/info"));
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("no {key}:\n{text}"))
        .to_string()
}

#[test]
fn vol_tree_mirrors_the_pool_and_only_while_running() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    fs::create_dir_all(p.join("images/100")).unwrap();
    File::create(p.join("images/100/vm-100-disk-0.raw"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    File::create(p.join("a.raw")).unwrap();
    let top: Vec<String> = fs::read_dir(p.join(".vol"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        top.contains(&"a.raw".into()) && top.contains(&"images".into()),
        "{top:?}"
    );
    let files: Vec<String> = fs::read_dir(p.join(".vol/a.raw"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        vol_info(&fx, "images/100/vm-100-disk-0.raw", "name"),
        "images/100/vm-100-disk-0.raw"
    );
    assert_eq!(
        vol_info(&fx, "images/100/vm-100-disk-0.raw", "path"),
        p.join("images/100/vm-100-disk-0.raw").display().to_string()
    );
    assert_eq!(
        errno_of(File::create(p.join(".vol/new.raw"))),
        Some(libc::EPERM)
    );
    assert_eq!(
        errno_of(
            fs::OpenOptions::new()
                .write(true)
                .open(p.join(".vol/a.raw/info"))
        ),
        Some(libc::EACCES)
    );
    fx.ctl("default/status", "stop").unwrap();
    assert_eq!(errno_of(fs::read_dir(p.join(".vol"))), Some(libc::ENOENT));
}

#[test]
fn vol_info_reads_raw_and_qcow2() {
    require_mount!();
    if !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    let f = File::create(p.join("r.raw")).unwrap();
    f.set_len(10 << 20).unwrap();
    f.write_at(&[1u8; 8192], 0).unwrap();
    f.sync_all().unwrap();
    assert_eq!(vol_info(&fx, "r.raw", "format"), "raw");
    assert_eq!(vol_info(&fx, "r.raw", "capacity"), (10 << 20).to_string());
    assert_eq!(vol_info(&fx, "r.raw", "physical"), (10 << 20).to_string());
    let blocks = fs::metadata(fx.backing().join("r.raw")).unwrap().blocks();
    assert_eq!(
        vol_info(&fx, "r.raw", "allocation"),
        (blocks * 512).to_string()
    );
    run(&format!(
        "qemu-img create -q -f qcow2 {}/base.qcow2 2G",
        p.display()
    ));
    run(&format!(
        "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 {}/top.qcow2",
        p.display()
    ));
    assert_eq!(vol_info(&fx, "top.qcow2", "format"), "qcow2");
    assert_eq!(
        vol_info(&fx, "top.qcow2", "capacity"),
        (2u64 << 30).to_string()
    );
    assert_eq!(vol_info(&fx, "top.qcow2", "backing"), "base.qcow2");
    assert_eq!(vol_info(&fx, "base.qcow2", "backing"), "-");
    let physical: u64 = vol_info(&fx, "top.qcow2", "physical").parse().unwrap();
    assert_eq!(physical, fs::metadata(p.join("top.qcow2")).unwrap().len());
}

#[test]
fn resize_grammar_grow_delta_shrink_and_allocate() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    File::create(p.join("v.raw"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let size = || fs::metadata(p.join("v.raw")).unwrap().len();
    assert_eq!(
        fx.read("default/.vol/v.raw/resize"),
        format!("{}\n", 1u64 << 30)
    );
    fx.ctl("default/.vol/v.raw/resize", "2G").unwrap();
    assert_eq!(size(), 2 << 30);
    fx.ctl("default/.vol/v.raw/resize", "+512M").unwrap();
    assert_eq!(size(), (2 << 30) + (512 << 20));
    for bad in ["1G", "-1G", "2147483648"] {
        assert_eq!(
            errno_of(fx.ctl("default/.vol/v.raw/resize", bad)),
            Some(libc::EINVAL),
            "{bad}"
        );
    }
    assert!(fx.info("default", "last_error").contains("shrink"));
    assert_eq!(
        size(),
        (2 << 30) + (512 << 20),
        "refused shrinks change nothing"
    );
    fx.ctl("default/.vol/v.raw/resize", "-1536M shrink")
        .unwrap();
    assert_eq!(size(), 1 << 30);
    assert_eq!(
        errno_of(fx.ctl("default/.vol/v.raw/resize", "-2G shrink")),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno_of(fx.ctl("default/.vol/v.raw/resize", "10Q")),
        Some(libc::EINVAL)
    );
    assert_eq!(
        errno_of(fx.ctl("default/.vol/v.raw/resize", "16E")),
        Some(libc::EFBIG)
    );
    assert_eq!(
        errno_of(fx.ctl("default/.vol/v.raw/resize", "9E")),
        Some(libc::EFBIG),
        "beyond the largest file"
    );
    // allocate: the new space is allocated, not sparse.
    fx.ctl("default/.vol/v.raw/resize", "+64M allocate")
        .unwrap();
    let m = fs::metadata(fx.backing().join("v.raw")).unwrap();
    assert_eq!(m.len(), (1 << 30) + (64 << 20));
    assert!(
        m.blocks() * 512 >= 64 << 20,
        "allocated {} bytes",
        m.blocks() * 512
    );
}

#[test]
fn resize_allocate_beyond_free_space_is_enospc_with_nothing_allocated() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    File::create(p.join("big.raw"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let before = fs::metadata(fx.backing().join("big.raw")).unwrap();
    let avail: u64 = fx.info("default", "available").parse().unwrap();
    let req = format!("+{} allocate", avail + (1 << 30));
    assert_eq!(
        errno_of(fx.ctl("default/.vol/big.raw/resize", &req)),
        Some(libc::ENOSPC)
    );
    let after = fs::metadata(fx.backing().join("big.raw")).unwrap();
    assert_eq!(
        (after.len(), after.blocks()),
        (before.len(), before.blocks())
    );
    assert!(fx.info("default", "last_error").contains("available"));
}

#[test]
fn qcow2_capacity_is_resized_in_the_header() {
    require_mount!();
    if !have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    run(&format!(
        "qemu-img create -q -f qcow2 {}/q.qcow2 1G",
        p.display()
    ));
    let physical = fs::metadata(p.join("q.qcow2")).unwrap().len();
    fx.ctl("default/.vol/q.qcow2/resize", "+1G").unwrap();
    assert_eq!(
        fx.read("default/.vol/q.qcow2/resize"),
        format!("{}\n", 2u64 << 30)
    );
    let out = run(&format!(
        "qemu-img info --output=json {}/q.qcow2",
        p.display()
    ));
    assert!(
        out.contains(&format!("\"virtual-size\": {}", 2u64 << 30)),
        "{out}"
    );
    assert!(
        fs::metadata(p.join("q.qcow2")).unwrap().len() < physical + (1 << 20),
        "the host file stays small"
    );
    assert_eq!(
        errno_of(fx.ctl("default/.vol/q.qcow2/resize", "1G")),
        Some(libc::EINVAL)
    );
    fx.ctl("default/.vol/q.qcow2/resize", "1G shrink").unwrap();
    assert_eq!(
        vol_info(&fx, "q.qcow2", "capacity"),
        (1u64 << 30).to_string()
    );
    run(&format!("qemu-img check {}/q.qcow2", p.display()));
}

#[test]
fn wipe_leaves_no_old_byte_readable() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    for (alg, name) in [
        ("zero", "z.raw"),
        ("random", "r.raw"),
        ("trim", "t.raw"),
        ("", "d.raw"),
    ] {
        let secret = b"SECRET-DATA-0123456789".repeat(1000);
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p.join(name))
            .unwrap();
        f.set_len(8 << 20).unwrap();
        for off in [0u64, 3 << 20, (8 << 20) - secret.len() as u64] {
            f.write_at(&secret, off).unwrap();
        }
        f.sync_all().unwrap();
        drop(f);
        fx.ctl(format!("default/.vol/{name}/wipe"), alg).unwrap();
        let want = if alg.is_empty() { "zero" } else { alg };
        assert_eq!(
            fx.read(format!("default/.vol/{name}/wipe")),
            format!("done {want}\n")
        );
        let data = fs::read(p.join(name)).unwrap();
        assert_eq!(data.len(), 8 << 20, "size kept");
        assert!(
            !data.windows(11).any(|w| w == b"SECRET-DATA"),
            "{alg}: old data readable"
        );
        let backing = fs::read(fx.backing().join(name)).unwrap();
        assert!(
            !backing.windows(11).any(|w| w == b"SECRET-DATA"),
            "{alg}: old data on the backing file"
        );
        if want != "random" {
            assert!(data.iter().all(|b| *b == 0));
            assert_eq!(
                fs::metadata(fx.backing().join(name)).unwrap().blocks(),
                0,
                "{alg} frees the space"
            );
        }
    }
}

#[test]
fn wipe_refused_while_the_volume_is_open() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    fs::write(p.join("open.raw"), b"keep me").unwrap();
    let held = File::open(p.join("open.raw")).unwrap();
    assert_eq!(
        errno_of(fx.ctl("default/.vol/open.raw/wipe", "zero")),
        Some(libc::EBUSY)
    );
    assert_eq!(fs::read(p.join("open.raw")).unwrap(), b"keep me");
    assert_eq!(fx.read("default/.vol/open.raw/wipe"), "none\n");
    drop(held);
    fx.ctl("default/.vol/open.raw/wipe", "zero").unwrap();
}

#[test]
fn wipe_of_qcow2_keeps_the_format_and_size() {
    require_mount!();
    if !have_tool("qemu-io") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    run(&format!(
        "qemu-img create -q -f qcow2 {}/w.qcow2 256M",
        p.display()
    ));
    run(&format!(
        "qemu-io -f qcow2 -c 'write -P 0x5a 0 4M' {}/w.qcow2",
        p.display()
    ));
    fx.ctl("default/.vol/w.qcow2/wipe", "random").unwrap();
    assert_eq!(vol_info(&fx, "w.qcow2", "format"), "qcow2");
    assert_eq!(
        vol_info(&fx, "w.qcow2", "capacity"),
        (256u64 << 20).to_string()
    );
    run(&format!("qemu-img check {}/w.qcow2", p.display()));
    let out = run(&format!(
        "qemu-io -f qcow2 -c 'read -P 0 0 4M' {}/w.qcow2",
        p.display()
    ));
    assert!(out.contains("read 4194304/4194304"), "{out}");
}

#[test]
fn progress_is_readable_while_a_long_wipe_runs() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    File::create(p.join("long.raw"))
        .unwrap()
        .set_len(768 << 20)
        .unwrap();
    let mnt = fx.mnt.clone();
    let writer = std::thread::spawn(move || {
        let mut f = OpenOptions::new()
            .write(true)
            .open(mnt.join("default/.vol/long.raw/wipe"))
            .unwrap();
        std::io::Write::write_all(&mut f, b"random").unwrap();
    });
    let mut saw_running = false;
    for _ in 0..2000 {
        let s = fx.read("default/.vol/long.raw/wipe");
        if s.starts_with("running ") && s.contains('%') {
            saw_running = true;
            assert_eq!(
                errno_of(File::open(p.join("long.raw"))),
                Some(libc::EBUSY),
                "opens wait for the wipe"
            );
            break;
        }
        if s.starts_with("done") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    writer.join().unwrap();
    assert!(saw_running, "never saw a running wipe");
    assert_eq!(fx.read("default/.vol/long.raw/wipe"), "done random\n");
}

/// poll(2) on a volume answers at once, readable and writable, as on a
/// local filesystem, and the daemon does not log it as unimplemented
/// (qemu with aio=io_uring polls its disks).
#[test]
fn poll_on_a_volume_is_ready_and_quiet() {
    require_mount!();
    let fx = Fixture::new();
    let vol = fx.pool("default").join("p.img");
    fs::write(&vol, vec![0u8; 4096]).unwrap();
    let out = common::run(&format!(
        "python3 -c \"import select,sys; f=open(sys.argv[1],'r+b'); p=select.poll(); p.register(f, select.POLLIN|select.POLLOUT); print(p.poll(1000)[0][1])\" {}",
        vol.display()
    ));
    let ready: i32 = out.trim().parse().unwrap();
    assert_eq!(
        ready & (libc::POLLIN | libc::POLLOUT) as i32,
        (libc::POLLIN | libc::POLLOUT) as i32
    );
    assert!(!fx.log().contains("Not Implemented"), "{}", fx.log());
}

/// Volume I/O through the daemon with many requests in flight (direct I/O
/// on native AIO, cold buffered reads on io_uring, answered by the
/// completion thread) returns exactly what was written: fio's own checks
/// at queue depth 32, a direct read across an unaligned end of file, and
/// eight readers of a file whose pages are not cached.
#[test]
fn many_requests_in_flight_through_the_daemon_return_the_right_bytes() {
    require_mount!();
    if !have_tool("fio") {
        return;
    }
    let fx = Fixture::with_args(&["--io", "daemon"]);
    let p = fx.pool("default");
    let fio = |args: &[&str]| {
        let out = std::process::Command::new("fio")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "fio {args:?}: {}{}\nlog:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            fx.log()
        );
    };
    let disk = format!("--filename={}", p.join("disk.img").display());
    fio(&[
        "--name=direct",
        &disk,
        "--size=32M",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=32",
        "--ioengine=libaio",
        "--direct=1",
        "--verify=crc32c",
        "--verify_fatal=1",
        "--verify_state_save=0",
        "--loops=2",
    ]);

    // 10,000 bytes: a direct read of the last block gets 1808 of them.
    // Eight threads read it at once, so most reads are in flight together.
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    fs::write(fx.backing().join("tail.img"), &data).unwrap();
    let tails: Vec<_> = (0..8)
        .map(|_| {
            let path = p.join("tail.img");
            std::thread::spawn(move || {
                let direct = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_DIRECT)
                    .open(path)
                    .unwrap();
                let mut buf = AlignedBlock([0; 4096]);
                (0..200)
                    .map(|_| {
                        let mut got = Vec::new();
                        let mut off = 0;
                        loop {
                            let n = direct.read_at(&mut buf.0, off).unwrap();
                            if n == 0 {
                                break got;
                            }
                            got.extend_from_slice(&buf.0[..n]);
                            off += n as u64;
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in tails {
        for got in t.join().unwrap() {
            assert!(got == data, "a direct read across the end of the file");
        }
    }

    // Cold buffered reads: the backing file written here, its pages dropped.
    let cold: Vec<u8> = (0..(48u32 << 20) / 4)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect();
    let backing = File::create(fx.backing().join("cold.img")).unwrap();
    backing.write_all_at(&cold, 0).unwrap();
    // Written back, so that its pages can be dropped.
    backing.sync_all().unwrap();
    run(&format!(
        "dd if={} iflag=nocache count=0 status=none",
        fx.backing().join("cold.img").display()
    ));
    let readers: Vec<_> = (0..8u64)
        .map(|i| {
            let path = p.join("cold.img");
            std::thread::spawn(move || {
                let f = File::open(path).unwrap();
                let part = 6u64 << 20;
                let mut buf = vec![0u8; part as usize];
                f.read_exact_at(&mut buf, i * part).unwrap();
                buf
            })
        })
        .collect();
    for (i, r) in readers.into_iter().enumerate() {
        let part = 6 << 20;
        assert!(
            r.join().unwrap() == cold[i * part..(i + 1) * part],
            "reader {i} of an uncached file got other bytes"
        );
    }
}

#[repr(align(4096))]
struct AlignedBlock([u8; 4096]);
