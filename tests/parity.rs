//! Parity: the same syscalls on a volume through the mount and on a file in a
//! plain directory of the same filesystem give the same result, errno and data.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

mod common;

use std::fs::{self, File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use common::Fixture;

/// Runs `f` in the mounted default pool and in a native directory; the
/// outcomes must be equal.
fn both<T: PartialEq + std::fmt::Debug>(fx: &Fixture, f: impl Fn(&Path) -> T) {
    let native = fx.dir.path().join("native");
    fs::create_dir_all(&native).unwrap();
    let m = f(&fx.pool("default"));
    let n = f(&native);
    assert_eq!(m, n, "mount (left) and native directory (right) differ");
}

fn res<T>(r: nix::Result<T>) -> Result<T, i32> {
    r.map_err(|e| e as i32)
}

fn io<T>(r: std::io::Result<T>) -> Result<T, i32> {
    r.map_err(|e| e.raw_os_error().unwrap_or(-1))
}

fn rw(p: PathBuf) -> File {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(p)
        .unwrap()
}

/// Opens `p` (made if missing) read-write with `O_DIRECT`.
fn rw_direct(p: &Path) -> File {
    drop(rw(p.to_path_buf()));
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(p)
        .unwrap()
}

/// Size, allocated blocks and content digest of a file.
fn shape(p: &Path) -> (u64, u64, u64) {
    let data = fs::read(p).unwrap();
    let m = fs::metadata(p).unwrap();
    let sum = data.iter().enumerate().fold(0u64, |h, (i, b)| {
        h.wrapping_mul(31).wrapping_add(*b as u64 ^ i as u64)
    });
    (m.len(), m.blocks(), sum)
}

#[test]
fn parity_read_write_truncate() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("rw.img");
        let f = rw(p.clone());
        let mut out = vec![];
        for (off, len) in [(0u64, 10usize), (4096, 5000), (1 << 20, 3), (12345, 1)] {
            out.push(io(f.write_at(&vec![(off % 251) as u8 + 1; len], off)));
        }
        let mut buf = vec![0u8; 100];
        out.push(io(f.read_at(&mut buf, (1 << 20) + 1)));
        out.push(io(f.read_at(&mut buf, 10 << 20)));
        f.set_len(3 << 20).unwrap();
        let s1 = shape(&p);
        f.set_len(5000).unwrap();
        drop(f);
        (out, s1, shape(&p))
    });
}

#[test]
fn parity_fallocate_modes() {
    require_mount!();
    let fx = Fixture::new();
    use nix::fcntl::{FallocateFlags as F, fallocate};
    let modes = [
        F::empty(),
        F::FALLOC_FL_KEEP_SIZE,
        F::FALLOC_FL_PUNCH_HOLE | F::FALLOC_FL_KEEP_SIZE,
        F::FALLOC_FL_ZERO_RANGE,
        F::FALLOC_FL_ZERO_RANGE | F::FALLOC_FL_KEEP_SIZE,
        F::FALLOC_FL_PUNCH_HOLE, // invalid without KEEP_SIZE: EOPNOTSUPP both sides
    ];
    for (i, mode) in modes.iter().enumerate() {
        both(&fx, |d| {
            let p = d.join(format!("fa{i}.img"));
            let f = rw(p.clone());
            f.write_at(&[7u8; 1 << 20], 0).unwrap();
            let r1 = res(fallocate(&f, *mode, 64 << 10, 256 << 10));
            let r2 = res(fallocate(&f, *mode, 900 << 10, 2 << 20));
            let r3 = res(fallocate(&f, *mode, 3, 5));
            drop(f);
            (r1, r2, r3, shape(&p))
        });
    }
}

/// The kernel's FUSE module forwards only keep-size, punch-hole and
/// zero-range; collapse and insert range stop in the kernel with EOPNOTSUPP.
#[test]
fn fallocate_collapse_and_insert_are_refused_by_the_kernel() {
    require_mount!();
    let fx = Fixture::new();
    use nix::fcntl::{FallocateFlags as F, fallocate};
    let f = rw(fx.pool("default").join("c.img"));
    f.write_at(&[7u8; 1 << 20], 0).unwrap();
    for mode in [F::FALLOC_FL_COLLAPSE_RANGE, F::FALLOC_FL_INSERT_RANGE] {
        assert_eq!(
            res(fallocate(&f, mode, 64 << 10, 256 << 10)),
            Err(libc::EOPNOTSUPP)
        );
    }
    assert_eq!(f.metadata().unwrap().len(), 1 << 20, "nothing changed");
}

#[test]
fn parity_seek_data_hole() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("sparse.img");
        let f = rw(p.clone());
        f.set_len(16 << 20).unwrap();
        f.write_at(&[1u8; 65536], 1 << 20).unwrap();
        f.write_at(&[2u8; 4096], 8 << 20).unwrap();
        f.sync_all().unwrap();
        let mut out = vec![];
        for off in [
            0i64,
            1 << 20,
            (1 << 20) + 70000,
            9 << 20,
            16 << 20,
            17 << 20,
        ] {
            for w in [libc::SEEK_DATA, libc::SEEK_HOLE] {
                // SAFETY: lseek on an open descriptor.
                let r = unsafe { libc::lseek(f.as_raw_fd(), off, w) };
                out.push(if r < 0 {
                    Err(std::io::Error::last_os_error().raw_os_error())
                } else {
                    Ok(r)
                });
            }
        }
        (out, shape(&p))
    });
}

#[test]
fn parity_xattrs() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("x.img");
        drop(rw(p.clone()));
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        let get = |name: &std::ffi::CStr| {
            let mut buf = [0u8; 64];
            // SAFETY: valid path, name and buffer.
            let n = unsafe {
                libc::getxattr(
                    c.as_ptr(),
                    name.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                Err(std::io::Error::last_os_error().raw_os_error())
            } else {
                Ok(buf[..n as usize].to_vec())
            }
        };
        let set = |name: &std::ffi::CStr, v: &[u8], fl: i32| {
            // SAFETY: valid path, name and value.
            let r = unsafe {
                libc::setxattr(c.as_ptr(), name.as_ptr(), v.as_ptr().cast(), v.len(), fl)
            };
            if r < 0 {
                Err(std::io::Error::last_os_error().raw_os_error())
            } else {
                Ok(())
            }
        };
        let list = || {
            let mut buf = [0u8; 256];
            // SAFETY: valid path and buffer.
            let n = unsafe { libc::listxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            buf[..n.max(0) as usize].to_vec()
        };
        (
            get(c"user.none"),
            set(c"user.a", b"hello", 0),
            set(c"user.a", b"x", libc::XATTR_CREATE),
            set(c"user.b", b"y", libc::XATTR_REPLACE),
            get(c"user.a"),
            list(),
            // SAFETY: valid path and name.
            unsafe { libc::removexattr(c.as_ptr(), c"user.a".as_ptr()) },
            get(c"user.a"),
        )
    });
}

#[test]
fn parity_flock_and_ofd_locks() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("lock.img");
        let a = rw(p.clone());
        let b = rw(p.clone());
        // SAFETY: flock on open descriptors.
        let r = unsafe {
            (
                libc::flock(a.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
                libc::flock(b.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
                libc::flock(a.as_raw_fd(), libc::LOCK_UN),
                libc::flock(b.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB),
            )
        };
        let ofd = |f: &File, typ: i32, start: i64| {
            // SAFETY: flock is plain old data; all-zero is a valid value.
            let mut fl: libc::flock = unsafe { std::mem::zeroed() };
            fl.l_type = typ as i16;
            fl.l_whence = libc::SEEK_SET as i16;
            fl.l_start = start;
            fl.l_len = 1;
            // SAFETY: F_OFD_SETLK with a valid flock struct.
            let r = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_OFD_SETLK, &fl) };
            if r < 0 {
                Err(std::io::Error::last_os_error().raw_os_error())
            } else {
                Ok(r)
            }
        };
        (
            r,
            ofd(&a, libc::F_WRLCK, 100),
            ofd(&b, libc::F_WRLCK, 100),
            ofd(&b, libc::F_RDLCK, 200),
            ofd(&a, libc::F_UNLCK, 100),
            ofd(&b, libc::F_WRLCK, 100),
        )
    });
}

#[test]
fn parity_o_direct() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("direct.img");
        let f = rw_direct(&p);
        let layout = std::alloc::Layout::from_size_align(8192, 4096).unwrap();
        // SAFETY: the layout is non-zero; freed below.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        // SAFETY: ptr is valid for 8192 bytes.
        let buf = unsafe { std::slice::from_raw_parts_mut(ptr, 8192) };
        buf.fill(0x5a);
        let w1 = io(f.write_at(buf, 4096));
        let w2 = io(f.write_at(&buf[1..100], 3)); // unaligned: EINVAL
        buf.fill(0);
        let r1 = io(f.read_at(buf, 4096));
        let ok = buf.iter().all(|b| *b == 0x5a);
        // SAFETY: allocated above with this layout.
        unsafe { std::alloc::dealloc(ptr, layout) };
        drop(f);
        (w1, w2, r1, ok, shape(&p))
    });
}

#[test]
fn parity_mmap_shared_write() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("mmap.img");
        let f = rw(p.clone());
        f.set_len(1 << 20).unwrap();
        // SAFETY: a shared mapping of an open file of 1 MiB, unmapped below.
        unsafe {
            let m = libc::mmap(
                std::ptr::null_mut(),
                1 << 20,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            );
            assert_ne!(m, libc::MAP_FAILED);
            let s = std::slice::from_raw_parts_mut(m as *mut u8, 1 << 20);
            s[5000..5100].fill(9);
            libc::msync(m, 1 << 20, libc::MS_SYNC);
            libc::munmap(m, 1 << 20);
        }
        let mut buf = [0u8; 100];
        f.read_at(&mut buf, 5000).unwrap();
        drop(f);
        (buf.iter().all(|b| *b == 9), shape(&p).0, shape(&p).2)
    });
}

#[test]
fn parity_namespace_errnos() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let mut out = vec![];
        out.push(io(File::open(d.join("missing"))).map(|_| ()));
        drop(rw(d.join("exists")));
        out.push(
            io(OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(d.join("exists")))
            .map(|_| ()),
        );
        out.push(io(fs::remove_file(d.join("missing"))));
        out.push(io(fs::create_dir(d.join("sub"))));
        out.push(io(fs::create_dir(d.join("sub"))));
        drop(rw(d.join("sub/f")));
        out.push(io(fs::remove_dir(d.join("sub"))));
        out.push(io(fs::remove_file(d.join("sub"))));
        out.push(io(fs::remove_dir(d.join("exists"))));
        out.push(io(fs::rename(d.join("exists"), d.join("sub/g"))));
        out.push(io(fs::rename(d.join("sub"), d.join("sub/g/x"))));
        out.push(io(File::open(d.join("sub/g/x"))).map(|_| ()));
        out.push(
            io(fs::metadata(d.join("sub/g")).map(|m| (m.len(), m.mode() & 0o777))).map(|_| ()),
        );
        out
    });
}

#[test]
fn parity_copy_file_range_keeps_data() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let src = rw(d.join("src.img"));
        src.set_len(8 << 20).unwrap();
        src.write_at(&[3u8; 100_000], 1 << 20).unwrap();
        let dst = rw(d.join("dst.img"));
        let (mut oi, mut oo) = (1i64 << 20, 4096i64);
        let n = res(nix::fcntl::copy_file_range(
            &src,
            Some(&mut oi),
            &dst,
            Some(&mut oo),
            100_000,
        ));
        let past_eof = res(nix::fcntl::copy_file_range(
            &src,
            Some(&mut (9i64 << 20)),
            &dst,
            Some(&mut 0i64),
            10,
        ));
        drop((src, dst));
        (n, oi, oo, past_eof, shape(&d.join("dst.img")))
    });
}

/// `msync` of a shared mapping of a file opened with `O_DIRECT`: the
/// write-back of the last page, which stops at the end of the file, is not
/// a direct write and must not fail (xfstests generic/263, fsx `-Z`).
#[test]
fn parity_msync_of_a_file_opened_with_o_direct() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("direct-mmap.img");
        let f = rw_direct(&p);
        let len = 5000;
        f.set_len(len as u64).unwrap();
        // SAFETY: a shared mapping of `len` bytes of an open file, unmapped below.
        let synced = unsafe {
            let m = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            );
            assert_ne!(m, libc::MAP_FAILED);
            let s = std::slice::from_raw_parts_mut(m as *mut u8, len);
            s[100..200].fill(7);
            s[4500..4600].fill(9);
            let r = libc::msync(m, len, libc::MS_SYNC);
            let r = if r == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error().raw_os_error())
            };
            libc::munmap(m, len);
            r
        };
        drop(f);
        let data = fs::read(&p).unwrap();
        (
            synced,
            data.len(),
            data[4500..4600].iter().all(|b| *b == 9),
            data[100..200].iter().all(|b| *b == 7),
        )
    });
}

/// linux/aio_abi.h
#[repr(C)]
#[derive(Default)]
struct Iocb {
    data: u64,
    key: u32,
    rw_flags: i32,
    opcode: u16,
    reqprio: i16,
    fildes: u32,
    buf: u64,
    nbytes: u64,
    offset: i64,
    reserved2: u64,
    flags: u32,
    resfd: u32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

/// Asynchronous direct writes (kernel AIO) while another process reads the
/// same range through the page cache: once a write completes, a buffered
/// read returns what it wrote, never what the range held before
/// (xfstests generic/451; the kernel drops cached pages before a direct
/// write but not after an asynchronous one).
#[test]
fn buffered_reads_see_completed_direct_aio_writes() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default").join("aio.img");
    const LEN: usize = 640 << 10;
    fs::write(&p, vec![0xffu8; LEN]).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (p, stop) = (p.clone(), stop.clone());
        std::thread::spawn(move || {
            let f = File::open(&p).unwrap();
            let mut buf = vec![0u8; LEN];
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = f.read_at(&mut buf, 0);
            }
        })
    };
    let f = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT)
        .open(&p)
        .unwrap();
    let layout = std::alloc::Layout::from_size_align(LEN, 4096).unwrap();
    // SAFETY: the layout is non-zero; freed below.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    let mut ctx: u64 = 0;
    // SAFETY: io_setup writes the context id into `ctx`.
    assert_eq!(unsafe { libc::syscall(libc::SYS_io_setup, 1, &mut ctx) }, 0);
    let check = File::open(&p).unwrap();
    let mut got = vec![0u8; LEN];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(4);
    let mut cycles = 0u32;
    let mut stale = None;
    while std::time::Instant::now() < deadline && stale.is_none() {
        let pattern = (cycles % 250) as u8;
        // SAFETY: ptr is valid for LEN bytes.
        unsafe { std::ptr::write_bytes(ptr, pattern, LEN) };
        let mut cb = Iocb {
            opcode: 1, // IOCB_CMD_PWRITE
            fildes: f.as_raw_fd() as u32,
            buf: ptr as u64,
            nbytes: LEN as u64,
            ..Default::default()
        };
        let mut cbs = [&mut cb as *mut Iocb];
        // SAFETY: one valid iocb whose buffer outlives its completion below.
        let n = unsafe { libc::syscall(libc::SYS_io_submit, ctx, 1, cbs.as_mut_ptr()) };
        assert_eq!(n, 1, "io_submit: {}", std::io::Error::last_os_error());
        let mut ev = [IoEvent::default()];
        // SAFETY: room for one event; waits without a timeout.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_getevents,
                ctx,
                1,
                1,
                ev.as_mut_ptr(),
                std::ptr::null_mut::<libc::timespec>(),
            )
        };
        assert_eq!(n, 1);
        assert_eq!(ev[0].res, LEN as i64, "the AIO write failed");
        check.read_at(&mut got, 0).unwrap();
        if let Some(i) = got.iter().position(|b| *b != pattern) {
            stale = Some((cycles, i, got[i], pattern));
        }
        cycles += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    // SAFETY: the context made above, with no I/O in flight.
    unsafe { libc::syscall(libc::SYS_io_destroy, ctx) };
    // SAFETY: allocated above with this layout.
    unsafe { std::alloc::dealloc(ptr, layout) };
    if let Some((c, i, was, want)) = stale {
        panic!(
            "write {c}: a buffered read found {was} at byte {i} where the completed write put {want}"
        );
    }
    assert!(cycles > 10, "only {cycles} writes in 4 s");
}

/// `trusted.*` attributes, as on ext4: root keeps them (libvirt remembers a
/// disk's owner in `trusted.libvirt.security.*`), others can neither read,
/// write nor list them.
#[test]
fn parity_trusted_xattrs() {
    require_mount!();
    let fx = Fixture::new();
    both(&fx, |d| {
        let p = d.join("t.img");
        drop(rw(p.clone()));
        fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
        let path = p.display().to_string();
        let sh = |cmd: &str| {
            let (ok, out, err) = common::sh(cmd);
            (
                ok,
                out.trim().to_string(),
                err.contains("Operation not permitted"),
            )
        };
        (
            sh(&format!("setfattr -n trusted.libvirt.x -v 1 {path}")),
            sh(&format!(
                "getfattr --only-values -n trusted.libvirt.x {path}"
            )),
            sh(&format!("getfattr -d -m - {path} | grep -c trusted")),
            sh(&format!(
                "runuser -u nobody -- getfattr --only-values -n trusted.libvirt.x {path}"
            )),
            sh(&format!(
                "runuser -u nobody -- setfattr -n trusted.libvirt.y -v 1 {path}"
            )),
            sh(&format!(
                "runuser -u nobody -- getfattr -d -m - {path} | grep -c trusted"
            )),
        )
    });
}
