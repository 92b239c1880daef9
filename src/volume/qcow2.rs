//! qcow2 volumes are changed by `qemu-img` (never by hand-written header code).

use crate::cmd::Cmd;
use crate::control::volume::ResizeRequest;
use crate::error::{Error, Result};

/// The largest capacity poolfs asks of a file-backed volume (the kernel's
/// `loff_t` limit); the backing filesystem may refuse less with `EFBIG`.
pub const MAX_FILE: u64 = i64::MAX as u64;

/// `qemu-img resize` of a qcow2 volume of virtual size `capacity` reached at
/// `path` (`name` for messages).
pub fn resize(path: &str, name: &str, capacity: u64, req: &ResizeRequest) -> Result<()> {
    let target = req.plan(capacity, MAX_FILE)?;
    let mut cmd = Cmd::new("qemu-img")
        .arg("resize")
        .arg("-q")
        .arg("-f")
        .arg("qcow2");
    if target < capacity {
        cmd = cmd.arg("--shrink");
    }
    if req.allocate {
        cmd = cmd.arg("--preallocation=falloc");
    }
    cmd.arg(path)
        .arg(target.to_string())
        .run()
        .map(drop)
        .map_err(|e| match e {
            Error::Command { ref stderr, .. } if stderr.contains("lock") => {
                Error::Busy(format!("volume '{name}' is in use: {e}"))
            }
            e => e,
        })
}

/// An empty qcow2 of `capacity` bytes at `path` (what a wipe leaves of a qcow2 volume).
pub fn recreate(path: &str, capacity: u64) -> Result<()> {
    Cmd::new("qemu-img")
        .arg("create")
        .arg("-q")
        .arg("-f")
        .arg("qcow2")
        .arg(path)
        .arg(capacity.to_string())
        .run()
        .map(drop)
}
