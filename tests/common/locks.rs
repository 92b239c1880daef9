//! Lock helpers shared by the lock tests: `fcntl` locks from the test
//! process (OFD or POSIX, waiting or not), `flock(1)`, read-write opens.
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;

fn flock_struct(start: i64, len: i64, typ: i32) -> libc::flock {
    libc::flock {
        l_type: typ as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: start,
        l_len: len,
        l_pid: 0,
    }
}

/// A lock of type `typ` on bytes [start, start+len) of `f` (len 0: to the
/// end): OFD (`ofd`) or POSIX, waiting or not. The errno on failure.
pub fn lock(
    f: &fs::File,
    start: i64,
    len: i64,
    typ: i32,
    ofd: bool,
    wait: bool,
) -> Result<(), i32> {
    let mut fl = flock_struct(start, len, typ);
    let cmd = match (ofd, wait) {
        (true, false) => libc::F_OFD_SETLK,
        (true, true) => libc::F_OFD_SETLKW,
        (false, false) => libc::F_SETLK,
        (false, true) => libc::F_SETLKW,
    };
    // SAFETY: a valid flock for the call on an open descriptor.
    let r = unsafe { libc::fcntl(f.as_raw_fd(), cmd, &mut fl as *mut libc::flock) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

/// An OFD lock, not waiting.
pub fn ofd_lock(f: &fs::File, start: i64, len: i64, typ: i32) -> Result<(), i32> {
    lock(f, start, len, typ, true, false)
}

/// `F_OFD_GETLK` for a write lock: the type of the lock in the way, or `F_UNLCK`.
pub fn test_lock(f: &fs::File, start: i64, len: i64) -> i32 {
    let mut fl = flock_struct(start, len, libc::F_WRLCK);
    // SAFETY: as above.
    let r = unsafe {
        libc::fcntl(
            f.as_raw_fd(),
            libc::F_OFD_GETLK,
            &mut fl as *mut libc::flock,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    i32::from(fl.l_type)
}

pub fn rw(p: &Path) -> fs::File {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap()
}

/// `flock -n` on `p`: true when it got the lock.
pub fn flock_n(p: &Path, shared: bool) -> bool {
    Command::new("flock")
        .arg("-n")
        .arg(if shared { "-s" } else { "-x" })
        .arg(p)
        .arg("true")
        .status()
        .unwrap()
        .success()
}
