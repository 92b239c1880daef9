//! FUSE-over-io_uring (Linux 6.14+, `Documentation/filesystems/fuse/fuse-io-uring.rst`).
//!
//! Once INIT granted `FUSE_OVER_IO_URING`, the kernel hands requests to ring
//! entries the server registered, one queue per possible CPU, instead of
//! queueing them for `read(2)` on `/dev/fuse`. Each queue here has its own
//! io_uring and thread. An entry is a pair of buffers the kernel copies a
//! request into (the header page: in-header, the op's own header, the
//! entry's `commit_id`; the payload: the rest) and reads the reply from; the
//! server answers with `FUSE_IO_URING_CMD_COMMIT_AND_FETCH`, which also makes
//! the entry available for the next request.
//!
//! FORGET, INTERRUPT and notifications still travel through `/dev/fuse`, so
//! the `/dev/fuse` workers keep running beside the queues.
//!
//! Invariants:
//! - an entry's buffers belong to the kernel from the moment its
//!   REGISTER or COMMIT_AND_FETCH is submitted until its completion arrives,
//!   and to this process from then until the next submission;
//! - the request a filesystem method borrows lives in the entry's buffers,
//!   so a reply made while the method runs is staged and written into the
//!   buffers (and committed) only after the dispatch returned; a reply made
//!   later (from another thread) is written into the buffers at once and
//!   handed to the queue's thread to commit (`Queue::ready`, an eventfd
//!   wakes it);
//! - only the queue's own thread submits to its ring and reads its
//!   completions. The kernel ties a command to the task that submitted it:
//!   it copies the next request into the entry from that task's context
//!   and cancels the command when that task exits, so a commit submitted
//!   by a short-lived thread (one that waited for a lock) would strand the
//!   entry.

use std::io;
use std::io::IoSlice;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::Mutex;

use io_uring::IoUring;
use io_uring::cqueue;
use io_uring::opcode;
use io_uring::squeue;
use io_uring::types;
use log::debug;
use log::error;

use crate::channel::ChannelSender;
use crate::dev_fuse::DevFuse;

/// `FUSE_IO_URING_CMD_REGISTER`: give the kernel an entry.
const CMD_REGISTER: u32 = 1;
/// `FUSE_IO_URING_CMD_COMMIT_AND_FETCH`: answer the entry's request, take
/// the next one.
const CMD_COMMIT_AND_FETCH: u32 = 2;

/// `FUSE_URING_IN_OUT_HEADER_SZ` and `FUSE_URING_OP_IN_OUT_SZ`.
const IN_OUT_SZ: usize = 128;
const OP_IN_OUT_SZ: usize = 128;
const IN_HEADER_SZ: usize = 40;
const OUT_HEADER_SZ: usize = 16;

/// Room before the payload for the in-header and the op's header, so that
/// a request is one contiguous slice without copying its payload.
const PREFIX: usize = 4096;

/// `struct fuse_uring_ent_in_out`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
struct EntInOut {
    flags: u64,
    commit_id: u64,
    payload_sz: u32,
    padding: u32,
    reserved: u64,
}

/// `struct fuse_uring_req_header`.
#[repr(C)]
struct ReqHeader {
    in_out: [u8; IN_OUT_SZ],
    op_in: [u8; OP_IN_OUT_SZ],
    ent: EntInOut,
}

/// `struct fuse_uring_cmd_req`, in the SQE's command area.
fn cmd_req(commit_id: u64, qid: u16) -> [u8; 80] {
    let mut cmd = [0u8; 80];
    // flags: 0 (bytes 0..8)
    cmd[8..16].copy_from_slice(&commit_id.to_ne_bytes());
    cmd[16..18].copy_from_slice(&qid.to_ne_bytes());
    cmd
}

/// Memory the kernel writes to and reads from at fixed addresses.
struct Buffers {
    /// The header page (`ReqHeader` at its start).
    header: *mut ReqHeader,
    /// `PREFIX` bytes, then the payload.
    data: *mut u8,
    data_len: usize,
    iov: [libc::iovec; 2],
}

// SAFETY: the buffers are only reached through raw pointers, by the thread
// that owns the entry at the time (see the module's invariants).
unsafe impl Send for Buffers {}
// SAFETY: as above.
unsafe impl Sync for Buffers {}

impl Buffers {
    fn new(payload: usize) -> io::Result<Buffers> {
        let header = alloc_zeroed(std::mem::size_of::<ReqHeader>())?.cast::<ReqHeader>();
        let data_len = PREFIX + payload;
        let data = alloc_zeroed(data_len)?;
        let iov = [
            libc::iovec {
                iov_base: header.cast(),
                iov_len: std::mem::size_of::<ReqHeader>(),
            },
            libc::iovec {
                // SAFETY: PREFIX < data_len.
                iov_base: unsafe { data.add(PREFIX) }.cast(),
                iov_len: payload,
            },
        ];
        Ok(Buffers {
            header,
            data,
            data_len,
            iov,
        })
    }

    fn payload_cap(&self) -> usize {
        self.data_len - PREFIX
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        // SAFETY: both were mapped by `alloc_zeroed` with these sizes.
        unsafe {
            libc::munmap(self.header.cast(), std::mem::size_of::<ReqHeader>());
            libc::munmap(self.data.cast(), self.data_len);
        }
    }
}

/// Anonymous memory, written through once so that no page faults in while
/// the kernel copies a request into it.
fn alloc_zeroed(len: usize) -> io::Result<*mut u8> {
    // SAFETY: a fresh private anonymous mapping; checked below.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(p.cast())
}

/// What an entry's request is waiting for.
#[derive(Debug, Default)]
struct EntryState {
    /// The request's `commit_id` (set when the kernel hands it over).
    commit_id: u64,
    /// The dispatch of the request is still on the queue thread's stack.
    dispatching: bool,
    /// A reply made during the dispatch, written once it returned.
    staged: Option<Vec<u8>>,
}

struct Entry {
    index: u64,
    buffers: Buffers,
    state: Mutex<EntryState>,
}

/// The `user_data` of the eventfd read that wakes the queue's thread.
const WAKE: u64 = u64::MAX;

/// Where the kernel puts the eventfd's counter (nobody reads it).
struct WakeBuf(std::cell::UnsafeCell<u64>);

// SAFETY: only the kernel writes the cell, through the read the queue's
// thread submits; no Rust code reads or writes it.
unsafe impl Sync for WakeBuf {}

/// One queue: an io_uring, its entries, the thread that reads completions.
pub(crate) struct Queue {
    qid: u16,
    ring: IoUring<squeue::Entry128, cqueue::Entry>,
    entries: Vec<Entry>,
    dev: Arc<DevFuse>,
    /// Replies other threads wrote into their entries: (entry, commit_id)
    /// for the queue's thread to commit.
    ready: Mutex<Vec<(usize, u64)>>,
    /// Written when `ready` gains an entry, or to stop.
    wake: std::os::fd::OwnedFd,
    /// The connection ended: the thread returns at its next wake-up.
    stopping: std::sync::atomic::AtomicBool,
    wake_buf: WakeBuf,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("qid", &self.qid).finish_non_exhaustive()
    }
}

/// The reply side of one request that came through a ring entry.
#[derive(Debug, Clone)]
pub(crate) struct RingSender {
    queue: Arc<Queue>,
    entry: usize,
    /// For passthrough backing ids, which go through `/dev/fuse`.
    pub(crate) ch: ChannelSender,
}

impl RingSender {
    pub(crate) fn send(&self, data: &[IoSlice<'_>]) -> io::Result<()> {
        let e = &self.queue.entries[self.entry];
        let mut st = lock(&e.state);
        if st.dispatching {
            let mut v = Vec::with_capacity(data.iter().map(|d| d.len()).sum());
            for d in data {
                v.extend_from_slice(d);
            }
            st.staged = Some(v);
            return Ok(());
        }
        let commit_id = st.commit_id;
        drop(st);
        self.queue.answer(self.entry, commit_id, data, false)
    }
}

impl RingSender {
    /// Answers the request with an error (one fuser could not parse).
    pub(crate) fn fail(&self, errno: i32) -> io::Result<()> {
        let unique = lock(&self.queue.entries[self.entry].state).commit_id;
        self.send(&[IoSlice::new(&error_header(unique, errno))])
    }
}

/// The out-header of a reply that carries only an error.
fn error_header(unique: u64, errno: i32) -> [u8; OUT_HEADER_SZ] {
    let mut head = [0u8; OUT_HEADER_SZ];
    head[0..4].copy_from_slice(&(OUT_HEADER_SZ as u32).to_ne_bytes());
    head[4..8].copy_from_slice(&(-errno).to_ne_bytes());
    head[8..16].copy_from_slice(&unique.to_ne_bytes());
    head
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The number of queues the kernel expects: one per possible CPU.
pub(crate) fn queue_count() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| {
            let last = s.trim().rsplit(['-', ',']).next()?.to_string();
            last.parse::<usize>().ok()
        })
        .map_or(1, |n| n + 1)
}

impl Queue {
    pub(crate) fn new(
        qid: u16,
        depth: usize,
        payload: usize,
        dev: Arc<DevFuse>,
    ) -> io::Result<Arc<Queue>> {
        // A slot per entry and one for the wake-up read.
        let slots = (depth as u32 + 1).next_power_of_two();
        let ring = IoUring::<squeue::Entry128, cqueue::Entry>::builder()
            .setup_cqsize(2 * slots)
            .build(slots)?;
        let mut entries = Vec::with_capacity(depth);
        for index in 0..depth {
            entries.push(Entry {
                index: index as u64,
                buffers: Buffers::new(payload)?,
                state: Mutex::new(EntryState::default()),
            });
        }
        // SAFETY: a plain eventfd; checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned here alone.
        let wake = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(Arc::new(Queue {
            qid,
            ring,
            entries,
            dev,
            ready: Mutex::new(Vec::new()),
            wake,
            stopping: std::sync::atomic::AtomicBool::new(false),
            wake_buf: WakeBuf(std::cell::UnsafeCell::new(0)),
        }))
    }

    /// Queues one SQE (on the queue's thread only).
    fn queue_sqe(&self, sqe: &squeue::Entry128) -> io::Result<()> {
        // SAFETY: only the queue's thread uses the submission queue
        // (module invariants).
        unsafe {
            let mut sq = self.ring.submission_shared();
            if sq.push(sqe).is_err() {
                // One SQE per entry and the wake-up read at most are ever
                // outstanding, and the ring has a slot more than entries.
                return Err(io::Error::other("io_uring submission queue full"));
            }
            sq.sync();
        }
        Ok(())
    }

    /// Queues one command for `entry` (on the queue's thread only; the
    /// next `submit_and_wait` submits it).
    fn push(&self, entry: usize, cmd: u32, commit_id: u64) -> io::Result<()> {
        let e = &self.entries[entry];
        let mut sqe = opcode::UringCmd80::new(types::Fd(self.dev.as_raw_fd()), cmd)
            .cmd(cmd_req(commit_id, self.qid))
            .addr((cmd == CMD_REGISTER).then(|| e.buffers.iov.as_ptr() as u64))
            .build()
            .user_data(e.index);
        if cmd == CMD_REGISTER {
            set_len(&mut sqe, 2);
        }
        self.queue_sqe(&sqe)
    }

    /// Queues the read of the eventfd other threads wake the queue with.
    fn arm_wake(&self) -> io::Result<()> {
        let read = opcode::Read::new(
            types::Fd(self.wake.as_raw_fd()),
            self.wake_buf.0.get().cast::<u8>(),
            8,
        )
        .build()
        .user_data(WAKE);
        self.queue_sqe(&read.into())
    }

    /// From another thread: `entry`'s reply is in its buffers; the queue's
    /// thread commits it.
    fn hand_over(&self, entry: usize, commit_id: u64) -> io::Result<()> {
        lock(&self.ready).push((entry, commit_id));
        self.wake_up()
    }

    /// Ends the queue's thread (the connection is gone).
    pub(crate) fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = self.wake_up() {
            error!("io_uring queue {}: cannot wake its thread to stop: {e}", self.qid);
        }
    }

    fn wake_up(&self) -> io::Result<()> {
        let one = 1u64.to_ne_bytes();
        // SAFETY: an 8-byte write to the eventfd this queue owns.
        let n = unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), 8) };
        if n != 8 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Writes a reply into the entry's buffers and commits it. A reply
    /// that cannot travel (no out-header, larger than the payload) is
    /// answered with `EIO` instead: the caller must not wait for ever.
    fn answer(
        &self,
        entry: usize,
        commit_id: u64,
        data: &[IoSlice<'_>],
        on_queue: bool,
    ) -> io::Result<()> {
        let b = &self.entries[entry].buffers;
        let total: usize = data.iter().map(|d| d.len()).sum();
        let head = data.first().filter(|h| h.len() == OUT_HEADER_SZ);
        let fits = total - OUT_HEADER_SZ.min(total) <= b.payload_cap();
        let Some(head) = head.filter(|_| fits) else {
            error!(
                "io_uring queue {}: a reply of {total} bytes cannot travel on the ring; the request fails with EIO",
                self.qid
            );
            return self.answer_error(entry, commit_id, libc::EIO, on_queue);
        };
        let payload_len = total - OUT_HEADER_SZ;
        // SAFETY: the entry is this process's until the commit below
        // (module invariants); the copies stay within the buffers.
        unsafe {
            let hdr = &mut *b.header;
            hdr.in_out[..OUT_HEADER_SZ].copy_from_slice(head);
            let mut at = b.data.add(PREFIX);
            for d in &data[1..] {
                std::ptr::copy_nonoverlapping(d.as_ptr(), at, d.len());
                at = at.add(d.len());
            }
            hdr.ent.payload_sz = payload_len as u32;
        }
        self.commit(entry, commit_id, on_queue)
    }

    fn commit(&self, entry: usize, commit_id: u64, on_queue: bool) -> io::Result<()> {
        if on_queue {
            self.push(entry, CMD_COMMIT_AND_FETCH, commit_id)
        } else {
            self.hand_over(entry, commit_id)
        }
    }

    /// Answers the entry's request with an error and no data.
    fn answer_error(
        &self,
        entry: usize,
        commit_id: u64,
        errno: i32,
        on_queue: bool,
    ) -> io::Result<()> {
        let head = error_header(commit_id, errno);
        let b = &self.entries[entry].buffers;
        // SAFETY: as in `answer`.
        unsafe {
            let hdr = &mut *b.header;
            hdr.in_out[..OUT_HEADER_SZ].copy_from_slice(&head);
            hdr.ent.payload_sz = 0;
        }
        self.commit(entry, commit_id, on_queue)
    }

    /// Registers every entry, then serves completions until the connection
    /// ends. `dispatch` serves one request (`&[u8]` as `/dev/fuse` would
    /// have delivered it) with a sender that replies through the entry.
    pub(crate) fn serve(
        self: &Arc<Self>,
        ch: &ChannelSender,
        mut dispatch: impl FnMut(&[u8], RingSender),
    ) -> io::Result<()> {
        for i in 0..self.entries.len() {
            self.push(i, CMD_REGISTER, 0)?;
        }
        self.arm_wake()?;
        let mut aligned: Vec<u64> = Vec::new();
        let mut lost = 0;
        loop {
            // Replies other threads made: committed from here.
            let ready = std::mem::take(&mut *lock(&self.ready));
            for (entry, commit_id) in ready {
                self.push(entry, CMD_COMMIT_AND_FETCH, commit_id)?;
            }
            match self.ring.submitter().submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e),
            }
            // SAFETY: completions are only read by this thread.
            let done: Vec<(u64, i32)> = unsafe { self.ring.completion_shared() }
                .map(|c| (c.user_data(), c.result()))
                .collect();
            for (index, res) in done {
                if index == WAKE {
                    if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                        return Ok(());
                    }
                    if res < 0 && res != -libc::EINTR && res != -libc::EAGAIN {
                        let e = io::Error::from_raw_os_error(-res);
                        error!("io_uring queue {}: its wake-up read failed: {e}", self.qid);
                        return Err(e);
                    }
                    self.arm_wake()?;
                    continue;
                }
                let Ok(entry) = usize::try_from(index) else {
                    continue;
                };
                if entry >= self.entries.len() {
                    continue;
                }
                match res {
                    0 => {}
                    r if r == -libc::EINTR || r == -libc::EAGAIN => {
                        // The command did not reach the kernel: again.
                        let st = lock(&self.entries[entry].state);
                        let commit_id = st.commit_id;
                        drop(st);
                        let cmd = if commit_id == 0 {
                            CMD_REGISTER
                        } else {
                            CMD_COMMIT_AND_FETCH
                        };
                        self.push(entry, cmd, commit_id)?;
                        continue;
                    }
                    r if r == -libc::ENOTCONN || r == -libc::ENODEV || r == -libc::ECANCELED => {
                        debug!("io_uring queue {}: connection ended", self.qid);
                        return Ok(());
                    }
                    r => {
                        // The kernel refused this entry's command (it
                        // stays with the kernel); the others serve on.
                        let e = io::Error::from_raw_os_error(-r);
                        error!("io_uring queue {}: entry {entry} is lost: {e}", self.qid);
                        lost += 1;
                        if lost == self.entries.len() {
                            return Err(e);
                        }
                        continue;
                    }
                }
                self.take(entry, ch, &mut aligned, &mut dispatch)?;
            }
        }
    }

    /// Serves the request the kernel put into `entry`.
    fn take(
        self: &Arc<Self>,
        entry: usize,
        ch: &ChannelSender,
        aligned: &mut Vec<u64>,
        dispatch: &mut impl FnMut(&[u8], RingSender),
    ) -> io::Result<()> {
        let e = &self.entries[entry];
        let b = &e.buffers;
        // SAFETY: the completion gave the entry to this thread (module
        // invariants); all offsets stay within the buffers.
        let (request, commit_id): (&[u8], u64) = unsafe {
            let hdr = &*b.header;
            let commit_id = hdr.ent.commit_id;
            let payload = hdr.ent.payload_sz as usize;
            let len = u32::from_ne_bytes([
                hdr.in_out[0],
                hdr.in_out[1],
                hdr.in_out[2],
                hdr.in_out[3],
            ]) as usize;
            let op_len = len
                .checked_sub(IN_HEADER_SZ + payload)
                .filter(|l| *l <= OP_IN_OUT_SZ && payload <= b.payload_cap());
            let Some(op_len) = op_len else {
                error!(
                    "io_uring queue {}: malformed request (length {len}, payload {payload}); it fails with EIO",
                    self.qid
                );
                return self.answer_error(entry, commit_id, libc::EIO, true);
            };
            let start = PREFIX - IN_HEADER_SZ - op_len;
            let base = b.data.add(start);
            std::ptr::copy_nonoverlapping(hdr.in_out.as_ptr(), base, IN_HEADER_SZ);
            std::ptr::copy_nonoverlapping(hdr.op_in.as_ptr(), base.add(IN_HEADER_SZ), op_len);
            let slice = std::slice::from_raw_parts(base, len);
            if (base as usize) % std::mem::align_of::<u64>() == 0 {
                (slice, commit_id)
            } else {
                // The request parser needs 8-byte alignment.
                aligned.clear();
                aligned.resize(len.div_ceil(8), 0);
                let dst = aligned.as_mut_ptr().cast::<u8>();
                std::ptr::copy_nonoverlapping(slice.as_ptr(), dst, len);
                (std::slice::from_raw_parts(dst, len), commit_id)
            }
        };
        {
            let mut st = lock(&e.state);
            st.commit_id = commit_id;
            st.dispatching = true;
            st.staged = None;
        }
        dispatch(
            request,
            RingSender {
                queue: self.clone(),
                entry,
                ch: ch.clone(),
            },
        );
        let staged = {
            let mut st = lock(&e.state);
            st.dispatching = false;
            st.staged.take()
        };
        if let Some(reply) = staged {
            if reply.len() < OUT_HEADER_SZ {
                return Err(io::Error::other("a reply shorter than its out-header"));
            }
            let (head, rest) = reply.split_at(OUT_HEADER_SZ);
            self.answer(entry, commit_id, &[IoSlice::new(head), IoSlice::new(rest)], true)?;
        }
        Ok(())
    }
}

/// Sets the SQE's `len` (the iovec count REGISTER needs), which the
/// builder of `UringCmd80` does not expose.
fn set_len(sqe: &mut squeue::Entry128, len: u32) {
    const _: () = assert!(std::mem::size_of::<squeue::Entry128>() == 128);
    // SAFETY: `Entry128` is `#[repr(C)]` over `io_uring_sqe` (plus 64
    // bytes), whose `len` is the `u32` at byte 24.
    unsafe {
        let p = (sqe as *mut squeue::Entry128).cast::<u8>().add(24).cast::<u32>();
        p.write_unaligned(len);
    }
}
