//! File handles from the test process: `name_to_handle_at` and
//! `open_by_handle_at` on the mount, as an NFS re-export uses them.
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `name_to_handle_at`: the whole `struct file_handle` as u32 words.
pub fn handle_of(p: &Path) -> Vec<u32> {
    let mut buf = vec![0u32; (8 + 128) / 4];
    buf[0] = 128;
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    let mut mount_id = 0;
    // SAFETY: buf is an aligned file_handle with room for 128 bytes.
    let r = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut mount_id,
            0,
        )
    };
    assert_eq!(
        r,
        0,
        "name_to_handle_at {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
    buf
}

pub fn open_by_handle(mount: &fs::File, handle: &[u32], flags: i32) -> std::io::Result<fs::File> {
    let mut h = handle.to_vec();
    // SAFETY: h is a file_handle as name_to_handle_at wrote it.
    let fd = unsafe {
        libc::open_by_handle_at(
            mount.as_raw_fd(),
            h.as_mut_ptr().cast(),
            flags | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor this process owns.
    Ok(fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}
