//! Thin wrappers over the syscalls that `nix` does not cover. The only module
//! with `unsafe`; every block states why it is sound.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

/// Opens `name` (one path component) under `dir` without ever following a
/// symlink or leaving `dir` (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`).
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: OFlag,
    mode: u32,
) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .mode(Mode::from_bits_truncate(mode))
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS,
        );
    nix::fcntl::openat2(dir, name, how)
}

/// The `/proc/self/fd/N` path naming an open descriptor.
pub fn proc_path(fd: BorrowedFd<'_>) -> CString {
    // A decimal number never holds a NUL byte.
    CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default()
}

/// Opens the object an `O_PATH` descriptor refers to, with new flags.
/// The magic link names the inode itself, so no path is resolved again.
pub fn reopen(fd: BorrowedFd<'_>, flags: OFlag) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        proc_path(fd).as_c_str(),
        (flags | OFlag::O_CLOEXEC)
            & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOCTTY | OFlag::O_NOFOLLOW),
        Mode::empty(),
    )
}

/// Sets the calling thread's filesystem uid and gid until the guard drops,
/// so files are created with the caller's ownership and permission rules.
#[derive(Debug)]
pub struct FsIdGuard {
    active: bool,
}

impl FsIdGuard {
    pub fn new(uid: u32, gid: u32) -> Self {
        if uid == 0 && gid == 0 {
            return FsIdGuard { active: false };
        }
        // SAFETY: setfsgid/setfsuid change only this thread's credentials and
        // take plain integers; the guard restores them on drop.
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
        }
        FsIdGuard { active: true }
    }
}

impl Drop for FsIdGuard {
    fn drop(&mut self) {
        if self.active {
            // SAFETY: as in `new`; back to root, which this daemon runs as.
            unsafe {
                libc::setfsuid(0);
                libc::setfsgid(0);
            }
        }
    }
}

fn cvt(ret: isize) -> nix::Result<usize> {
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as usize)
    }
}

/// `getxattr` on the inode behind `fd` (any kind of descriptor, `O_PATH` included).
/// With an empty `buf` returns the size of the value.
pub fn getxattr(fd: BorrowedFd<'_>, name: &CStr, buf: &mut [u8]) -> nix::Result<usize> {
    let path = proc_path(fd);
    // SAFETY: path and name are NUL-terminated; buf is valid for buf.len() bytes
    // (a null pointer with size 0 asks for the size only).
    cvt(unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })
}

/// `listxattr` on the inode behind `fd`; an empty `buf` asks for the size.
pub fn listxattr(fd: BorrowedFd<'_>, buf: &mut [u8]) -> nix::Result<usize> {
    let path = proc_path(fd);
    // SAFETY: path is NUL-terminated; buf is valid for buf.len() bytes.
    cvt(unsafe { libc::listxattr(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `setxattr` on the inode behind `fd`.
pub fn setxattr(fd: BorrowedFd<'_>, name: &CStr, value: &[u8], flags: i32) -> nix::Result<()> {
    let path = proc_path(fd);
    // SAFETY: path and name are NUL-terminated; value is valid for value.len() bytes.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    };
    cvt(r as isize).map(|_| ())
}

/// `removexattr` on the inode behind `fd`.
pub fn removexattr(fd: BorrowedFd<'_>, name: &CStr) -> nix::Result<()> {
    let path = proc_path(fd);
    // SAFETY: path and name are NUL-terminated.
    let r = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
    cvt(r as isize).map(|_| ())
}

/// `FICLONE`: shares all extents of `src` with `dst` (reflink).
pub fn ficlone(dst: BorrowedFd<'_>, src: BorrowedFd<'_>) -> nix::Result<()> {
    // SAFETY: FICLONE takes the source descriptor as its integer argument.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE as _, src.as_raw_fd()) };
    cvt(r as isize).map(|_| ())
}

/// Raises the open-file limit: as root, soft and hard to `fs.nr_open` (the
/// most the kernel allows a process); otherwise the soft limit to the hard
/// one. Open volumes and the descriptor cache (`store::fdcache`) use them.
pub fn raise_nofile_limit() {
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<libc::rlim_t>().ok());
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to fill and then to pass back.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if let Some(n) = nr_open.filter(|n| *n > lim.rlim_max) {
            let raised = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            // Needs CAP_SYS_RESOURCE: fall back to the hard limit without it.
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return;
            }
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// A zeroed buffer aligned for `O_DIRECT` I/O (4096 bytes covers every
/// logical block size Linux uses).
#[derive(Debug)]
pub struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: AlignedBuf owns its allocation exclusively, like a Vec<u8>.
unsafe impl Send for AlignedBuf {}

const DIRECT_ALIGN: usize = 4096;

impl AlignedBuf {
    pub fn new(len: usize) -> Option<Self> {
        let layout = std::alloc::Layout::from_size_align(len.max(1), DIRECT_ALIGN).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = std::ptr::NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) })?;
        Some(AlignedBuf { ptr, len })
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised (zeroed) bytes while self lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if let Ok(layout) = std::alloc::Layout::from_size_align(self.len.max(1), DIRECT_ALIGN) {
            // SAFETY: allocated in `new` with this very layout.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) }
        }
    }
}

/// Duplicates a borrowed descriptor into an owned one.
pub fn dup(fd: BorrowedFd<'_>) -> nix::Result<OwnedFd> {
    fd.try_clone_to_owned()
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
}

/// Largest file handle the kernel hands out (`MAX_HANDLE_SZ`).
const MAX_HANDLE_SZ: usize = 128;
/// Bytes before the opaque part of a `struct file_handle`.
const HANDLE_HEADER: usize = std::mem::size_of::<libc::file_handle>();

/// The file handle of the inode behind `fd` (`name_to_handle_at` with
/// `AT_EMPTY_PATH`): the whole `struct file_handle`, header included. It
/// names the inode on its filesystem for as long as the inode exists.
pub fn file_handle(fd: BorrowedFd<'_>) -> nix::Result<Vec<u8>> {
    // u32 words keep the buffer aligned for the struct's header.
    let mut buf = vec![0u32; (HANDLE_HEADER + MAX_HANDLE_SZ) / 4];
    buf[0] = MAX_HANDLE_SZ as u32;
    let mut mount_id: libc::c_int = 0;
    // SAFETY: buf is aligned for and large enough to hold a file_handle with
    // MAX_HANDLE_SZ opaque bytes (handle_bytes says so); the empty path is
    // NUL-terminated; mount_id is a valid int to fill.
    let r = unsafe {
        libc::name_to_handle_at(
            fd.as_raw_fd(),
            c"".as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut mount_id,
            libc::AT_EMPTY_PATH,
        )
    };
    cvt(r as isize)?;
    let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let len = HANDLE_HEADER + (buf[0] as usize).min(MAX_HANDLE_SZ);
    Ok(bytes[..len].to_vec())
}

/// Opens the inode a `file_handle` result names, on the filesystem of
/// `mount_fd` (`open_by_handle_at`; needs CAP_DAC_READ_SEARCH).
pub fn open_by_handle(
    mount_fd: BorrowedFd<'_>,
    handle: &[u8],
    flags: OFlag,
) -> nix::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    if handle.len() < HANDLE_HEADER || handle.len() > HANDLE_HEADER + MAX_HANDLE_SZ {
        return Err(Errno::EINVAL);
    }
    let mut buf = vec![0u32; (HANDLE_HEADER + MAX_HANDLE_SZ) / 4];
    for (i, b) in handle.iter().enumerate() {
        let (w, k) = (i / 4, i % 4);
        let mut word = buf[w].to_ne_bytes();
        word[k] = *b;
        buf[w] = u32::from_ne_bytes(word);
    }
    // SAFETY: buf holds a complete, aligned file_handle (as written by
    // `file_handle`); open_by_handle_at only reads it.
    let r = unsafe {
        libc::open_by_handle_at(
            mount_fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            (flags | OFlag::O_CLOEXEC).bits(),
        )
    };
    cvt(r as isize)?;
    // SAFETY: a successful open_by_handle_at returns a new descriptor this
    // process owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r) })
}

nix::ioctl_write_ptr!(fuse_backing_close, 229, 2, u32);

/// Closes a passthrough backing id of the FUSE connection `dev` that no
/// `fuser::BackingId` owns (one a predecessor server registered).
pub fn backing_close(dev: BorrowedFd<'_>, id: u32) -> nix::Result<()> {
    // SAFETY: FUSE_DEV_IOC_BACKING_CLOSE reads one u32, which outlives the call.
    unsafe { fuse_backing_close(dev.as_raw_fd(), &id) }.map(drop)
}

/// Takes ownership of backing id `id`, registered on this connection by a
/// predecessor server, to answer `reply` with it again (an inode keeps one
/// backing file for all its opens).
pub fn adopt_backing(reply: &fuser::ReplyOpen, id: u32) -> fuser::BackingId {
    // SAFETY: `id` was opened on this session's connection and is closed only
    // through the returned BackingId (the caller drops its record of the raw id).
    unsafe { reply.wrap_backing(id) }
}

/// Writes `FUSE_NOTIFY_RESEND` to the FUSE connection `dev` (Linux 6.9+):
/// the kernel queues again every request its servers read but never
/// answered, with bit 63 set in their unique ids.
pub fn fuse_resend(dev: BorrowedFd<'_>) -> nix::Result<()> {
    const FUSE_NOTIFY_RESEND: i32 = 7;
    fuse_notify_bare(dev, FUSE_NOTIFY_RESEND)
}

/// Writes `FUSE_NOTIFY_INC_EPOCH` to the FUSE connection `dev` (Linux
/// 6.16+): every name the kernel cached is looked up again at its next use.
/// The kernel takes no lock for it (unlike `FUSE_NOTIFY_INVAL_ENTRY`, which
/// waits for the directory's lock).
pub fn fuse_inc_epoch(dev: BorrowedFd<'_>) -> nix::Result<()> {
    const FUSE_NOTIFY_INC_EPOCH: i32 = 8;
    fuse_notify_bare(dev, FUSE_NOTIFY_INC_EPOCH)
}

/// A notification without a body.
fn fuse_notify_bare(dev: BorrowedFd<'_>, code: i32) -> nix::Result<()> {
    // struct fuse_out_header { u32 len; i32 error; u64 unique }: a
    // notification has unique 0 and its code in `error`.
    let mut h = Vec::with_capacity(16);
    h.extend(16u32.to_ne_bytes());
    h.extend(code.to_ne_bytes());
    h.extend(0u64.to_ne_bytes());
    nix::unistd::write(dev, &h).map(drop)
}

/// Takes ownership of descriptor `fd`, which the keeper passed to this
/// process at exec, and keeps it from this process's own children.
pub fn take_inherited(fd: i32) -> crate::error::Result<OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl on a plain integer touches no memory; a descriptor that
    // is not open makes it fail with EBADF.
    let r = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    cvt(r as isize).map_err(crate::error::Error::sys(format!(
        "descriptor {fd} from the keeper"
    )))?;
    // SAFETY: `fd` is open (checked above) and nothing else in this process
    // owns it: the keeper passed it for this process to own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `flock(2)` (nix's `Flock` owns the descriptor; poolfs keeps its own).
pub fn flock(fd: BorrowedFd<'_>, op: i32) -> nix::Result<()> {
    // SAFETY: flock on a borrowed, open descriptor touches no memory.
    let r = unsafe { libc::flock(fd.as_raw_fd(), op) };
    cvt(r as isize).map(drop)
}

nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);

/// The size of a block device in bytes (`BLKGETSIZE64`).
pub fn device_size(fd: BorrowedFd<'_>) -> nix::Result<u64> {
    let mut size = 0u64;
    // SAFETY: BLKGETSIZE64 writes one u64 into `size`, which outlives the call.
    unsafe { blkgetsize64(fd.as_raw_fd(), &mut size) }?;
    Ok(size)
}

/// `fork(2)`, for `poolfs mount` going to the background. Only sound while
/// the process has a single thread: the caller forks before spawning any.
pub fn fork_before_threads() -> nix::Result<nix::unistd::ForkResult> {
    // SAFETY: the only caller forks before the process starts any thread, so
    // the child cannot inherit a lock held by a thread that does not exist
    // there.
    unsafe { nix::unistd::fork() }
}

/// Points standard input, output and error at `to` (`dup2`).
pub fn redirect_stdio(to: BorrowedFd<'_>) {
    for target in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which this process owns;
        // `to` is a valid descriptor for the call's duration.
        unsafe {
            libc::dup2(to.as_raw_fd(), target);
        }
    }
}

/// A buffer an I/O operation on a `Ring` owns until it completes.
#[derive(Debug)]
pub enum IoBuf {
    Heap(Vec<u8>),
    /// For a descriptor opened with `O_DIRECT`.
    Aligned(AlignedBuf),
}

impl IoBuf {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            IoBuf::Heap(v) => v,
            IoBuf::Aligned(a) => a.as_slice(),
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        match self {
            IoBuf::Heap(v) => v,
            IoBuf::Aligned(a) => a.as_mut_slice(),
        }
    }
}

/// What runs when an operation completes: its result (bytes transferred)
/// and its buffer back.
pub type RingDone = Box<dyn FnOnce(Result<usize, Errno>, IoBuf) + Send>;

/// The operations in flight, by id: each one's buffer and completion.
type InFlight = std::collections::HashMap<u64, (IoBuf, RingDone)>;

/// An operation the ring took: run its `RingDone` once `Ring::reap` returns it.
pub type Completed = (RingDone, Result<usize, Errno>, IoBuf);

/// Operations one ring keeps in flight at most; more are refused (the
/// caller then does the I/O itself).
const RING_IN_FLIGHT: usize = 64;

/// An io_uring for buffered reads of files, whose completions are
/// signalled on an eventfd.
///
/// Soundness: an operation's buffer moves into the ring's table before its
/// entry is queued, and leaves it only when its completion is reaped (or at
/// drop, which waits for every completion), so the kernel never writes into
/// or reads from freed memory. The descriptor is the caller's to keep open
/// until the completion (it is resolved when the entry is submitted).
pub struct Ring {
    inner: parking_lot::Mutex<RingInner>,
}

struct RingInner {
    ring: io_uring::IoUring,
    ops: InFlight,
    next: u64,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring").finish_non_exhaustive()
    }
}

impl Ring {
    /// A ring of `entries` submission entries whose completions write to `notify`.
    pub fn new(entries: u32, notify: BorrowedFd<'_>) -> std::io::Result<Ring> {
        let ring = io_uring::IoUring::new(entries)?;
        ring.submitter().register_eventfd(notify.as_raw_fd())?;
        Ok(Ring {
            inner: parking_lot::Mutex::new(RingInner {
                ring,
                ops: InFlight::new(),
                next: 0,
            }),
        })
    }

    /// Reads as much of `fd` at `offset` as `buf` holds. Refused (everything
    /// handed back) when the ring is full or the kernel does not take the
    /// entry.
    pub fn read(
        &self,
        fd: BorrowedFd<'_>,
        offset: u64,
        buf: IoBuf,
        done: RingDone,
    ) -> Result<(), (IoBuf, RingDone)> {
        let Ok(len) = u32::try_from(buf.as_slice().len()) else {
            return Err((buf, done));
        };
        let mut g = self.inner.lock();
        if g.ops.len() >= RING_IN_FLIGHT {
            return Err((buf, done));
        }
        let id = g.next;
        g.next = g.next.wrapping_add(1);
        // The buffer's memory does not move with the value (a Vec's heap,
        // an AlignedBuf's allocation): its address is taken once it is in
        // the table, where it stays until its completion is reaped.
        let (buf, _) = g.ops.entry(id).or_insert((buf, done));
        // The read's target is the buffer, which the table owns exclusively
        // until the completion.
        let target = io_uring::types::Fd(fd.as_raw_fd());
        let entry = io_uring::opcode::Read::new(target, buf.as_mut_slice().as_mut_ptr(), len)
            .offset(offset)
            .build()
            .user_data(id);
        // SAFETY: the entry's buffer stays valid until its completion (see
        // the type's comment).
        let pushed = unsafe { g.ring.submission().push(&entry) }.is_ok();
        if !pushed || g.ring.submit().is_err() {
            if pushed {
                // Queued but not yet taken by the kernel: it goes with the
                // next submission (`reap` submits too); the operation stays.
                return Ok(());
            }
            let Some(op) = g.ops.remove(&id) else {
                return Ok(());
            };
            return Err(op);
        }
        Ok(())
    }

    /// The operations completed so far, for their `RingDone` to run (with
    /// no lock held). Also submits entries a failed submission left queued.
    pub fn reap(&self) -> Vec<Completed> {
        let mut g = self.inner.lock();
        let _ = g.ring.submit();
        let done: Vec<(u64, i32)> = g
            .ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        done.into_iter()
            .filter_map(|(id, res)| {
                let (buf, f) = g.ops.remove(&id)?;
                let res = usize::try_from(res).map_err(|_| Errno::from_raw(-res));
                Some((f, res, buf))
            })
            .collect()
    }
}

impl Drop for Ring {
    /// Waits until the kernel is done with every buffer in the table.
    fn drop(&mut self) {
        let g = self.inner.get_mut();
        while !g.ops.is_empty() {
            if g.ring.submit_and_wait(1).is_err() {
                // The kernel may still use the buffers: leak them.
                std::mem::forget(std::mem::take(&mut g.ops));
                return;
            }
            let ids: Vec<u64> = g.ring.completion().map(|c| c.user_data()).collect();
            for id in ids {
                g.ops.remove(&id);
            }
        }
    }
}

/// `struct iocb` of Linux native AIO (x86_64 and the other little-endian
/// 64-bit ABIs, where `aio_key` comes before `aio_rw_flags`).
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

/// `struct io_event`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct IoEvent {
    data: u64,
    obj: u64,
    res: i64,
    res2: i64,
}

const IOCB_CMD_PREAD: u16 = 0;
const IOCB_CMD_PWRITE: u16 = 1;
const IOCB_FLAG_RESFD: u32 = 1;

/// Operations the AIO context keeps in flight at most.
const AIO_IN_FLIGHT: usize = 256;

/// A Linux native AIO context for `O_DIRECT` reads and writes: the kernel
/// completes them from the disk's interrupt and signals the eventfd, with
/// no thread of this process woken but the one that reaps (an io_uring
/// read or write completes in the task that submitted it, a second wake-up
/// per request when that task is a server thread waiting for the kernel's
/// next request). Buffered I/O through it would not be asynchronous.
///
/// Soundness: as `Ring` (an operation's buffer is in the table from before
/// its submission until its completion is reaped; drop waits for them all).
pub struct Aio {
    ctx: libc::c_ulong,
    notify: i32,
    /// The operations in flight and the next id.
    ops: parking_lot::Mutex<(InFlight, u64)>,
}

impl std::fmt::Debug for Aio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aio").finish_non_exhaustive()
    }
}

impl Aio {
    /// A context whose completions signal `notify` (kept open by the caller
    /// for as long as the context).
    pub fn new(notify: BorrowedFd<'_>) -> nix::Result<Aio> {
        let mut ctx: libc::c_ulong = 0;
        // SAFETY: io_setup writes the context id into `ctx`, a valid location.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_setup,
                AIO_IN_FLIGHT as libc::c_long,
                &mut ctx as *mut libc::c_ulong,
            )
        };
        Errno::result(r)?;
        Ok(Aio {
            ctx,
            notify: notify.as_raw_fd(),
            ops: parking_lot::Mutex::new((InFlight::new(), 0)),
        })
    }

    /// As `Ring::read`.
    pub fn read(
        &self,
        fd: BorrowedFd<'_>,
        offset: u64,
        buf: IoBuf,
        done: RingDone,
    ) -> Result<(), (IoBuf, RingDone)> {
        self.submit(fd, offset, buf, done, IOCB_CMD_PREAD)
    }

    /// Writes all of `buf` to `fd` at `offset`; refused as `read`.
    pub fn write(
        &self,
        fd: BorrowedFd<'_>,
        offset: u64,
        buf: IoBuf,
        done: RingDone,
    ) -> Result<(), (IoBuf, RingDone)> {
        self.submit(fd, offset, buf, done, IOCB_CMD_PWRITE)
    }

    fn submit(
        &self,
        fd: BorrowedFd<'_>,
        offset: u64,
        buf: IoBuf,
        done: RingDone,
        opcode: u16,
    ) -> Result<(), (IoBuf, RingDone)> {
        let Ok(offset) = i64::try_from(offset) else {
            return Err((buf, done));
        };
        let mut iocb = Iocb {
            opcode,
            fildes: fd.as_raw_fd() as u32,
            offset,
            flags: IOCB_FLAG_RESFD,
            resfd: self.notify as u32,
            ..Iocb::default()
        };
        {
            let mut g = self.ops.lock();
            if g.0.len() >= AIO_IN_FLIGHT {
                return Err((buf, done));
            }
            let id = g.1;
            g.1 = g.1.wrapping_add(1);
            // The buffer's memory does not move with the value; it stays in
            // the table until its completion is reaped.
            let (b, _) = g.0.entry(id).or_insert((buf, done));
            let s = b.as_mut_slice();
            iocb.data = id;
            iocb.buf = s.as_mut_ptr() as u64;
            iocb.nbytes = s.len() as u64;
        }
        let mut list = [&mut iocb as *mut Iocb];
        // SAFETY: one valid iocb (copied by the kernel during the call)
        // whose buffer the table keeps alive until its completion.
        let r = unsafe {
            libc::syscall(
                libc::SYS_io_submit,
                self.ctx,
                1 as libc::c_long,
                list.as_mut_ptr(),
            )
        };
        if r == 1 {
            return Ok(());
        }
        match self.ops.lock().0.remove(&iocb.data) {
            Some(op) => Err(op),
            // Cannot be: only a completion removes it, and there is none.
            None => Ok(()),
        }
    }

    /// The operations completed so far (see `Ring::reap`).
    pub fn reap(&self) -> Vec<Completed> {
        let mut events = [IoEvent::default(); 64];
        let mut out = Vec::new();
        loop {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `events` has room for the 64 events asked for at most.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_io_getevents,
                    self.ctx,
                    0 as libc::c_long,
                    events.len() as libc::c_long,
                    events.as_mut_ptr(),
                    &zero as *const libc::timespec,
                )
            };
            let Ok(n) = usize::try_from(n) else {
                return out;
            };
            let mut g = self.ops.lock();
            for e in &events[..n] {
                if let Some((buf, f)) = g.0.remove(&e.data) {
                    let res = usize::try_from(e.res).map_err(|_| Errno::from_raw(-(e.res as i32)));
                    out.push((f, res, buf));
                }
            }
            if n < events.len() {
                return out;
            }
        }
    }
}

impl Drop for Aio {
    /// io_destroy waits for the operations in flight; then their buffers go.
    fn drop(&mut self) {
        // SAFETY: the context is ours and used by no one else once dropped.
        let r = unsafe { libc::syscall(libc::SYS_io_destroy, self.ctx) };
        if r != 0 {
            // The kernel may still use the buffers: leak them.
            std::mem::forget(std::mem::take(&mut self.ops.get_mut().0));
        }
    }
}

/// Reads into `buf` at `offset` only what the page cache holds now
/// (`preadv2` with `RWF_NOWAIT`): `EAGAIN` when that is nothing.
pub fn pread_cached(fd: BorrowedFd<'_>, buf: &mut [u8], offset: u64) -> nix::Result<usize> {
    let offset = i64::try_from(offset).map_err(|_| Errno::EINVAL)?;
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: one iovec describing `buf`, valid and exclusively borrowed for the call.
    let n = unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    Errno::result(n).map(|n| n as usize)
}
