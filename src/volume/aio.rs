//! Reads and writes of local volumes with no thread waiting on them. One
//! thread, `poolfs-aio`, runs each operation's completion (the reply to the
//! kernel) as it arrives, so a caller with 16 requests in flight has 16 at
//! the disk, not as many as there are server threads.
//!
//! - `O_DIRECT` reads and writes go through Linux native AIO
//!   (`sys::Aio`), which completes them from the disk's interrupt: one
//!   wake-up per request, as a server thread waiting in `pread` had.
//! - Buffered reads are first tried from the page cache (`RWF_NOWAIT`):
//!   what is cached is answered at once by the server thread, as before;
//!   the rest goes to an io_uring of the submitting thread (`sys::Ring`,
//!   one per thread, no lock shared), which reads it in the background.
//! - Buffered writes are not here: the kernel sends a `write(2)` and waits
//!   for it, so nothing is gained, and writing from the request's buffer
//!   saves the copy an operation that outlives the request needs.
//!
//! Where neither can be used (`kernel.io_uring_disabled`, `fs.aio-max-nr`
//! reached, a full queue), the caller does the I/O itself, as before.
//!
//! Invariants: a completion runs exactly once, with no lock of this module
//! held (on `poolfs-aio`, or on the submitting thread when the operation
//! was not taken); the file stays open until it has run (the operation
//! holds an `Arc` of it); memory is bounded by the queues' limits of
//! operations in flight.

use std::cell::OnceCell;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use parking_lot::Mutex;

use super::{Data, read_rest};
use crate::error::{Error, Result};
use crate::sys::{Aio, AlignedBuf, IoBuf, Ring};

/// Submission entries per thread's ring.
const ENTRIES: u32 = 64;

/// What a read hands its bytes (or its failure) to.
pub type ReadDone = Box<dyn FnOnce(Result<Data>) + Send>;
/// What a write hands the count written (or its failure) to.
pub type WriteDone = Box<dyn FnOnce(Result<u32>) + Send>;

/// The AIO context, the rings of every thread that submitted, and the
/// eventfd all of them signal.
struct Engine {
    notify: Arc<EventFd>,
    aio: Option<Arc<Aio>>,
    rings: Arc<Mutex<Vec<Arc<Ring>>>>,
}

static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();

thread_local! {
    static RING: OnceCell<Option<Arc<Ring>>> = const { OnceCell::new() };
}

fn start() -> Option<Engine> {
    let notify = match EventFd::from_flags(EfdFlags::EFD_CLOEXEC) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            tracing::warn!(
                "no eventfd for asynchronous volume I/O ({e}): I/O waits in the server threads"
            );
            return None;
        }
    };
    let aio = match Aio::new(notify.as_fd()) {
        Ok(a) => Some(Arc::new(a)),
        Err(e) => {
            tracing::warn!("no AIO context ({e}): direct I/O waits in the server threads");
            None
        }
    };
    let rings = Arc::new(Mutex::new(Vec::new()));
    let (n, a, r) = (notify.clone(), aio.clone(), rings.clone());
    match std::thread::Builder::new()
        .name("poolfs-aio".into())
        .spawn(move || complete(&n, a.as_deref(), &r))
    {
        Ok(_) => Some(Engine { notify, aio, rings }),
        Err(e) => {
            tracing::warn!(
                "no thread for asynchronous volume I/O ({e}): I/O waits in the server threads"
            );
            None
        }
    }
}

/// This thread's ring, made at its first use.
fn ring() -> Option<Arc<Ring>> {
    RING.with(|r| {
        r.get_or_init(|| {
            let engine = ENGINE.get_or_init(start).as_ref()?;
            match Ring::new(ENTRIES, engine.notify.as_fd()) {
                Ok(ring) => {
                    let ring = Arc::new(ring);
                    engine.rings.lock().push(ring.clone());
                    Some(ring)
                }
                Err(e) => {
                    tracing::debug!("no io_uring for this thread ({e}): its volume I/O waits");
                    None
                }
            }
        })
        .clone()
    })
}

/// The completion thread: woken by the eventfd, runs what completed.
fn complete(notify: &EventFd, aio: Option<&Aio>, rings: &Mutex<Vec<Arc<Ring>>>) {
    loop {
        if notify.read().is_err() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for (done, res, buf) in aio.map(Aio::reap).unwrap_or_default() {
            done(res, buf);
        }
        let rings = rings.lock().clone();
        for ring in rings {
            for (done, res, buf) in ring.reap() {
                done(res, buf);
            }
        }
    }
}

/// Reads and writes of this module under way, waited for by a server
/// thread or in flight.
static UNDER_WAY: AtomicUsize = AtomicUsize::new(0);

/// One of `UNDER_WAY`, until dropped (at completion).
struct UnderWay;

impl Drop for UnderWay {
    fn drop(&mut self) {
        UNDER_WAY.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts an operation; true when it is the only one. The only one is done
/// by the thread that got it, which then waits for nothing else: answered
/// by another thread, a request at queue depth 1 would cost a wake-up on
/// another CPU (40 us a 4 KiB read on this project's test machine).
fn begin() -> (UnderWay, bool) {
    let alone = UNDER_WAY.fetch_add(1, Ordering::Relaxed) == 0;
    (UnderWay, alone)
}

fn aio() -> Option<Arc<Aio>> {
    ENGINE.get_or_init(start).as_ref()?.aio.clone()
}

fn os(op: &'static str) -> impl Fn(Errno) -> Error {
    move |errno| Error::Os { op, errno }
}

/// Reads up to `size` bytes of `file` at `offset` (short only at its end)
/// and hands them to `done` at completion; `done` comes back when the read
/// cannot be submitted.
pub fn read(
    file: &Arc<File>,
    direct: bool,
    offset: u64,
    size: usize,
    done: ReadDone,
) -> Option<ReadDone> {
    let buf = if direct {
        if aio().is_none() {
            return Some(done);
        }
        match AlignedBuf::new(size) {
            Some(b) => IoBuf::Aligned(b),
            None => return Some(done),
        }
    } else {
        let mut v = vec![0; size];
        // All of it cached: answered here, with no queue between.
        if crate::sys::pread_cached(file.as_fd(), &mut v, offset).is_ok_and(|n| n == size) {
            done(Ok(Data::Heap(v)));
            return None;
        }
        if ring().is_none() {
            return Some(done);
        }
        IoBuf::Heap(v)
    };
    let (under_way, alone) = begin();
    let keep = file.clone();
    let finish: crate::sys::RingDone = Box::new(
        move |res: std::result::Result<usize, Errno>, mut buf: IoBuf| {
            let _under_way = under_way;
            let res = res.map_err(os("read")).and_then(|n| {
                if n == 0 || n == size {
                    return Ok(n);
                }
                // Short: the end of the file, or a read the kernel split.
                read_rest(&keep, buf.as_mut_slice(), offset, n)
            });
            done(res.map(|n| match buf {
                IoBuf::Aligned(buf) => Data::Aligned { buf, len: n },
                IoBuf::Heap(mut v) => {
                    v.truncate(n);
                    Data::Heap(v)
                }
            }))
        },
    );
    let taken = match (alone, direct, aio(), ring()) {
        (true, ..) => Err((buf, finish)),
        (_, true, Some(aio), _) => aio.read(file.as_fd(), offset, buf, finish),
        (_, false, _, Some(ring)) => ring.read(file.as_fd(), offset, buf, finish),
        _ => Err((buf, finish)),
    };
    if let Err((mut buf, finish)) = taken {
        // Alone, or not taken (the queue is full): read here.
        let res = read_rest(file, buf.as_mut_slice(), offset, 0).map_err(|e| e.errno());
        finish(res, buf);
    }
    None
}

/// Writes all of `data` to `file` (opened with `O_DIRECT`) at `offset`
/// from an aligned copy the operation owns, and hands the count to `done`
/// at completion; `done` comes back when there is no AIO context.
pub fn write(file: &Arc<File>, offset: u64, data: &[u8], done: WriteDone) -> Option<WriteDone> {
    let Some(aio) = aio() else {
        return Some(done);
    };
    let buf = match AlignedBuf::new(data.len()) {
        Some(mut b) => {
            b.as_mut_slice().copy_from_slice(data);
            IoBuf::Aligned(b)
        }
        None => return Some(done),
    };
    let len = data.len();
    let (under_way, alone) = begin();
    let keep = file.clone();
    let finish: crate::sys::RingDone =
        Box::new(move |res: std::result::Result<usize, Errno>, buf: IoBuf| {
            let _under_way = under_way;
            let res = res.map_err(os("write")).and_then(|n| {
                if n < len {
                    // Short (the disk filled up): the rest here, which reports
                    // why it cannot be written.
                    keep.write_all_at(&buf.as_slice()[n..], offset + n as u64)
                        .map_err(|e| os("write")(super::io_errno(&e)))?;
                }
                Ok(len as u32)
            });
            done(res)
        });
    let taken = match alone {
        true => Err((buf, finish)),
        false => aio.write(file.as_fd(), offset, buf, finish),
    };
    if let Err((buf, finish)) = taken {
        // Alone, or not taken (the queue is full): write here.
        let res = file
            .write_all_at(buf.as_slice(), offset)
            .map(|()| len)
            .map_err(|e| super::io_errno(&e));
        finish(res, buf);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// With another operation under way, reads and writes go to the queues
    /// and complete on `poolfs-aio`: a buffered read past the cached end of
    /// a file (io_uring, then the short-read rule), direct reads and writes
    /// (native AIO).
    #[test]
    fn queued_reads_and_writes_complete_with_the_right_bytes() {
        let path =
            std::path::Path::new("/var/tmp").join(format!("poolfs-aio-{}", std::process::id()));
        let data: Vec<u8> = (0..16384u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data[..10_000]).unwrap();
        let _other = begin();

        let file = Arc::new(File::open(&path).unwrap());
        let (tx, rx) = channel();
        let t = tx.clone();
        assert!(
            read(
                &file,
                false,
                0,
                16384,
                Box::new(move |r| t.send(r.map(|d| d.to_vec())).unwrap())
            )
            .is_none()
        );
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert!(got == data[..10_000], "buffered read past the end");

        let direct = Arc::new(
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_DIRECT)
                .open(&path)
                .unwrap(),
        );
        let (wtx, wrx) = channel();
        assert!(write(&direct, 0, &data, Box::new(move |r| wtx.send(r).unwrap())).is_none());
        assert_eq!(
            wrx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap(),
            16384
        );
        let t = tx.clone();
        assert!(
            read(
                &direct,
                true,
                4096,
                8192,
                Box::new(move |r| t.send(r.map(|d| d.to_vec())).unwrap())
            )
            .is_none()
        );
        let got = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert!(got == data[4096..12288], "direct read");
        std::fs::remove_file(&path).unwrap();
    }
}
