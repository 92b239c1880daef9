//! An open image: synchronous calls, asynchronous reads and writes
//! answered from librbd's completion, and closing off librbd's threads.

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Arc;

use nix::errno::Errno;

use super::Cluster;
use super::{Api, CompletionT, ImageT, cstr};
use crate::error::{Error, Result};

thread_local! {
    /// True on librbd's callback thread while poolfs's callback runs.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// One open image (shared by every open of it in this process).
#[derive(Debug)]
pub struct Image {
    pub(super) img: ImageT,
    pub(super) cluster: Arc<Cluster>,
}

// SAFETY: librbd image handles may be used from several threads at once.
unsafe impl Send for Image {}
// SAFETY: as above.
unsafe impl Sync for Image {}

/// What an asynchronous operation gives its caller.
pub type AioDone<T> = Box<dyn FnOnce(Result<T>) + Send>;

/// An operation in flight: its buffer and what to call at completion.
enum Pending {
    /// A buffer of the read's length in capacity, none of it initialised
    /// (librbd fills what it returns, zeros for what the image does not
    /// hold, as qemu's rbd driver relies on).
    Read(Vec<u8>, AioDone<Vec<u8>>),
    Write(Vec<u8>, AioDone<u32>),
}

/// librbd's completion callback: runs each operation's `done` once.
unsafe extern "C" fn trampoline(c: CompletionT, arg: *mut c_void) {
    // SAFETY: `arg` is the `Box<(Arc<Cluster>, Pending)>` leaked by
    // `submit`, given back exactly once, here.
    let boxed = unsafe { Box::from_raw(arg as *mut (Arc<Cluster>, Pending)) };
    let (cluster, pending) = *boxed;
    let api = cluster.api;
    // SAFETY: `c` is this operation's completion, released once.
    let rc = unsafe { (api.rbd_aio_get_return_value)(c) };
    // SAFETY: as above; librbd allows the release from its own callback.
    unsafe { (api.rbd_aio_release)(c) };
    IN_CALLBACK.with(|f| f.set(true));
    let failed = |what: &str| match cluster.check(rc, || what.into()) {
        Err(e) => e,
        Ok(_) => Error::Sys {
            what: what.into(),
            errno: Errno::EIO,
        },
    };
    match pending {
        Pending::Read(mut buf, done) => done(if rc < 0 {
            Err(failed("read from the Ceph image failed"))
        } else {
            // SAFETY: librbd wrote the `rc` bytes it returns, at most the
            // capacity it was given.
            unsafe { buf.set_len((rc as usize).min(buf.capacity())) };
            Ok(buf)
        }),
        Pending::Write(buf, done) => done(if rc < 0 {
            Err(failed("write to the Ceph image failed"))
        } else {
            Ok(buf.len() as u32)
        }),
    }
    IN_CALLBACK.with(|f| f.set(false));
}

impl Image {
    pub(super) fn api(&self) -> &'static Api {
        self.cluster.api
    }

    /// The image's id: what names it across a rename.
    pub fn id(&self) -> Result<String> {
        let mut buf = [0 as c_char; 64];
        // SAFETY: a valid image and a buffer of the length given.
        let rc = unsafe { (self.api().rbd_get_id)(self.img, buf.as_mut_ptr(), buf.len()) };
        self.cluster
            .check(rc as isize, || "cannot read an image's id".into())?;
        // SAFETY: librbd wrote a NUL-terminated id into `buf`.
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned())
    }

    /// The size in bytes (librbd keeps it current from the image's header).
    pub fn size(&self) -> Result<u64> {
        let mut s = 0u64;
        // SAFETY: a valid image and an out-pointer.
        let rc = unsafe { (self.api().rbd_get_size)(self.img, &mut s) };
        self.cluster
            .check(rc as isize, || "cannot read an image's size".into())?;
        Ok(s)
    }

    pub fn resize(&self, size: u64) -> Result<()> {
        self.cluster.gate()?;
        // SAFETY: a valid image.
        let rc = unsafe { (self.api().rbd_resize)(self.img, size) };
        self.cluster
            .check(rc as isize, || "cannot resize the image".into())?;
        Ok(())
    }

    /// (modified, created) as seconds and nanoseconds since the epoch.
    pub fn times(&self) -> Result<(libc::timespec, libc::timespec)> {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let (mut m, mut c) = (zero, zero);
        // SAFETY: a valid image and out-structs of the C layout.
        let rc = unsafe { (self.api().rbd_get_modify_timestamp)(self.img, &mut m) };
        self.cluster
            .check(rc as isize, || "cannot read the image's times".into())?;
        // SAFETY: as above.
        let rc = unsafe { (self.api().rbd_get_create_timestamp)(self.img, &mut c) };
        self.cluster
            .check(rc as isize, || "cannot read the image's times".into())?;
        Ok((m, c))
    }

    /// The value of metadata `key`; `None` when unset.
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        self.cluster.gate()?;
        let k = cstr(key)?;
        let mut buf = vec![0u8; 256];
        loop {
            let mut len = buf.len();
            // SAFETY: a valid image, a NUL-terminated key, a buffer of `len`.
            let rc = unsafe {
                (self.api().rbd_metadata_get)(
                    self.img,
                    k.as_ptr(),
                    buf.as_mut_ptr().cast(),
                    &mut len,
                )
            };
            match rc {
                0 => {
                    let end = buf[..len.min(buf.len())]
                        .iter()
                        .position(|&b| b == 0)
                        .unwrap_or(len.min(buf.len()));
                    return Ok(Some(String::from_utf8_lossy(&buf[..end]).into_owned()));
                }
                rc if rc == -libc::ENOENT => return Ok(None),
                rc if rc == -libc::ERANGE && len > buf.len() => buf.resize(len, 0),
                rc => {
                    self.cluster.check(rc as isize, || {
                        format!("cannot read the image's metadata '{key}'")
                    })?;
                }
            }
        }
    }

    pub fn set_metadata(&self, key: &str, value: &str) -> Result<()> {
        self.cluster.gate()?;
        let (k, v) = (cstr(key)?, cstr(value)?);
        // SAFETY: a valid image and NUL-terminated strings.
        let rc = unsafe { (self.api().rbd_metadata_set)(self.img, k.as_ptr(), v.as_ptr()) };
        self.cluster.check(rc as isize, || {
            format!("cannot set the image's metadata '{key}'")
        })?;
        Ok(())
    }

    /// Reads `len` bytes at `off` (fewer at the end of the image).
    pub fn read(&self, off: u64, len: usize) -> Result<Vec<u8>> {
        // Not zeroed first: librbd fills what it returns (`Pending::Read`).
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        // SAFETY: a valid image and a buffer of `len` bytes.
        let rc = unsafe { (self.api().rbd_read)(self.img, off, len, buf.as_mut_ptr().cast()) };
        let n = self
            .cluster
            .check(rc, || "read from the Ceph image failed".into())?;
        // SAFETY: librbd wrote the `n` bytes it returns, at most `len`.
        unsafe { buf.set_len(n.min(len)) };
        Ok(buf)
    }

    pub fn write(&self, off: u64, data: &[u8]) -> Result<usize> {
        // SAFETY: a valid image and `data.len()` readable bytes.
        let rc = unsafe { (self.api().rbd_write)(self.img, off, data.len(), data.as_ptr().cast()) };
        self.cluster
            .check(rc, || "write to the Ceph image failed".into())
    }

    /// Writes zeros over a range (deallocating what it can).
    pub fn write_zeroes(&self, off: u64, len: u64) -> Result<()> {
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(1 << 30) as usize;
            // SAFETY: a valid image; no flags.
            let rc = unsafe { (self.api().rbd_write_zeroes)(self.img, off + done, n, 0, 0) };
            self.cluster
                .check(rc, || "writing zeros to the Ceph image failed".into())?;
            done += n as u64;
        }
        Ok(())
    }

    /// The clients holding the image's exclusive lock (none, or one).
    pub fn lock_owners(&self) -> Result<Vec<String>> {
        self.cluster.gate()?;
        let mut owners: [*mut c_char; 8] = [std::ptr::null_mut(); 8];
        let mut n = owners.len();
        let mut mode: c_int = 0;
        // SAFETY: a valid image; room for `n` owner strings.
        let rc = unsafe {
            (self.api().rbd_lock_get_owners)(self.img, &mut mode, owners.as_mut_ptr(), &mut n)
        };
        if rc == -libc::ENOENT {
            return Ok(Vec::new());
        }
        self.cluster.check(rc as isize, || {
            "cannot read who holds the image's lock".into()
        })?;
        let out = owners[..n.min(owners.len())]
            .iter()
            .map(|p| {
                // SAFETY: librbd filled `n` NUL-terminated strings, freed below.
                unsafe { CStr::from_ptr(*p) }.to_string_lossy().into_owned()
            })
            .collect();
        // SAFETY: the `n` strings librbd allocated, freed once.
        unsafe { (self.api().rbd_lock_get_owners_cleanup)(owners.as_mut_ptr(), n) };
        Ok(out)
    }

    /// Breaks the exclusive lock `owner` holds (and blocklists it, so
    /// nothing it still sends lands).
    pub fn break_lock(&self, owner: &str) -> Result<()> {
        self.cluster.gate()?;
        let o = cstr(owner)?;
        // SAFETY: a valid image and a NUL-terminated owner; mode exclusive (0).
        let rc = unsafe { (self.api().rbd_lock_break)(self.img, 0, o.as_ptr()) };
        self.cluster.check(rc as isize, || {
            format!("cannot break the lock {owner} holds")
        })?;
        Ok(())
    }

    /// Every answered write is on the cluster.
    pub fn flush(&self) -> Result<()> {
        // SAFETY: a valid image.
        let rc = unsafe { (self.api().rbd_flush)(self.img) };
        self.cluster
            .check(rc as isize, || "flush of the Ceph image failed".into())?;
        Ok(())
    }

    /// The allocated extents in `[off, off + len)`: (offset, length), in
    /// order, at the object map's granularity (whole objects) where the
    /// image has one.
    pub fn extents(&self, off: u64, len: u64) -> Result<Vec<(u64, u64)>> {
        self.cluster.gate()?;
        unsafe extern "C" fn each(off: u64, len: usize, exists: c_int, arg: *mut c_void) -> c_int {
            // SAFETY: `arg` is the `Vec` passed below, alive for the call.
            let out = unsafe { &mut *(arg as *mut Vec<(u64, u64)>) };
            if exists != 0 {
                match out.last_mut() {
                    Some(last) if last.0 + last.1 == off => last.1 += len as u64,
                    _ => out.push((off, len as u64)),
                }
            }
            0
        }
        let mut out: Vec<(u64, u64)> = Vec::new();
        // librbd 16 asserts (aborting the process) on an empty range.
        if len == 0 {
            return Ok(out);
        }
        // SAFETY: a valid image; `each` matches the callback's declaration
        // and `out` outlives the call (librbd calls back before returning).
        let rc = unsafe {
            (self.api().rbd_diff_iterate2)(
                self.img,
                std::ptr::null(),
                off,
                len,
                1,
                1,
                each,
                (&mut out as *mut Vec<(u64, u64)>).cast(),
            )
        };
        self.cluster
            .check(rc as isize, || "cannot read the image's allocation".into())?;
        Ok(out)
    }

    /// Starts a read of `len` bytes at `off`; `done` gets them (fewer at
    /// the end of the image) on librbd's thread.
    pub fn aio_read(&self, off: u64, len: usize, done: AioDone<Vec<u8>>) {
        let api = self.api();
        self.submit(
            Pending::Read(Vec::with_capacity(len), done),
            |img, buf, _, c| {
                // SAFETY: the buffer (at least `len` bytes of capacity) lives
                // in the pending operation, which librbd hands back only at
                // completion.
                unsafe { (api.rbd_aio_read)(img, off, len, buf.cast(), c) }
            },
        )
    }

    /// Starts a write of `data` at `off`; `done` gets its length.
    pub fn aio_write(&self, off: u64, data: Vec<u8>, done: AioDone<u32>) {
        let api = self.api();
        self.submit(Pending::Write(data, done), |img, buf, len, c| {
            // SAFETY: as `aio_read`.
            unsafe { (api.rbd_aio_write)(img, off, len, buf.cast_const().cast(), c) }
        })
    }

    /// Hands `pending` to librbd with `start` (given the image, the
    /// operation's buffer and its length, and the completion). An operation
    /// librbd refuses to start is completed here, with the error.
    fn submit(
        &self,
        mut pending: Pending,
        start: impl FnOnce(ImageT, *mut u8, usize, CompletionT) -> c_int,
    ) {
        let api = self.api();
        // The buffer's heap block does not move with the `Vec`.
        let (buf, len) = match &mut pending {
            Pending::Read(b, _) => (b.as_mut_ptr(), b.capacity()),
            Pending::Write(b, _) => (b.as_mut_ptr(), b.len()),
        };
        let arg = Box::into_raw(Box::new((self.cluster.clone(), pending)));
        let mut c: CompletionT = std::ptr::null_mut();
        // SAFETY: `arg` stays valid until `trampoline` takes it back.
        let mut rc = unsafe { (api.rbd_aio_create_completion)(arg.cast(), trampoline, &mut c) };
        if rc >= 0 {
            rc = start(self.img, buf, len, c);
            if rc >= 0 {
                return;
            }
            // SAFETY: the operation did not start: the completion is still
            // ours, released once.
            unsafe { (api.rbd_aio_release)(c) };
        }
        // SAFETY: librbd did not take `arg`: it is still ours, once.
        let (_, pending) = *unsafe { Box::from_raw(arg) };
        let e = || Error::Sys {
            what: "cannot start I/O on the Ceph image".into(),
            errno: Errno::from_raw(-rc),
        };
        match pending {
            Pending::Read(_, done) => done(Err(e())),
            Pending::Write(_, done) => done(Err(e())),
        }
    }
}

/// An image handle moved to the thread that closes it.
struct Closing(ImageT, Arc<Cluster>);
// SAFETY: an image handle may be closed from any thread.
unsafe impl Send for Closing {}

impl Closing {
    fn close(self) {
        // SAFETY: the handle is open and closed once, here.
        unsafe { (self.1.api.rbd_close)(self.0) };
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let closing = Closing(self.img, self.cluster.clone());
        if IN_CALLBACK.with(|f| f.get()) {
            // librbd's callback thread cannot wait for itself.
            let _ = std::thread::Builder::new()
                .name("poolfs-rbd-close".into())
                .spawn(move || closing.close());
        } else {
            closing.close();
        }
    }
}
