//! One open of an RBD volume: reads through librbd's asynchronous calls
//! (answered from its completion), writes behind (`grower`), sizes, holes.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use nix::errno::Errno;

use super::grower::{Grower, Job};
use super::librbd::plain_address;
use super::readahead::ReadAhead;
use super::vol::{MAX_SIZE, Owner, Vol};
use crate::error::{Error, Result};
use crate::store::{Ctx, OpenVolume, ReadDone, SpillSink, StoreOpen, WriteDone};
use crate::volume::Data;

/// What the opens of one pool share to write behind: where writes are
/// parked, the grower, and how long a wait for the cluster may take.
#[derive(Debug, Clone)]
pub struct Sink {
    pub spill: Option<SpillSink>,
    pub grower: Arc<Grower>,
    pub timeout: Duration,
}

/// Opens volume `vol` with `flags`: an open for writing keeps other hosts
/// from writing it until it closes (`Vol::start_writing`). O_TRUNC never
/// reaches a store: the namespace truncates with `setattr`.
pub fn open_vol(vol: Arc<Vol>, flags: i32, sink: Sink) -> Result<StoreOpen> {
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
    if writes {
        vol.start_writing()?;
    }
    let seen = AtomicU64::new(vol.behind.failures());
    Ok(StoreOpen {
        file: Box::new(RbdFile {
            vol,
            writes,
            sink,
            seen,
            ra: ReadAhead::default(),
        }),
        passthrough: false,
    })
}

/// One open of a volume.
#[derive(Debug)]
struct RbdFile {
    vol: Arc<Vol>,
    writes: bool,
    sink: Sink,
    /// The image's write-behind failures this open has seen (`Behind`).
    seen: AtomicU64,
    ra: ReadAhead,
}

impl Drop for RbdFile {
    fn drop(&mut self) {
        if self.writes {
            self.vol.stop_writing();
        }
    }
}

impl RbdFile {
    /// The bytes of a read at `offset` of `size` that the image has.
    fn clip(&self, offset: u64, size: u32) -> Result<usize> {
        let end = self.vol.size()?;
        Ok(end.saturating_sub(offset).min(size as u64) as usize)
    }

    /// Waits for this host's writes in flight (a read or change of the
    /// image must see them).
    fn settle(&self) -> Result<()> {
        self.vol.behind.settle(self.sink.timeout)
    }

    /// `settle`, and a failure of one of them this open has not seen.
    fn drain(&self) -> Result<()> {
        self.vol.behind.drain(self.sink.timeout, &self.seen)
    }

    /// Sends a write within the image answered at its completion (no
    /// slot to park it in).
    fn write_through(&self, offset: u64, data: &[u8], done: WriteDone) {
        let (vol, end) = (self.vol.clone(), offset + data.len() as u64);
        self.vol.image.aio_write(
            offset,
            data.to_vec(),
            Box::new(move |r| {
                vol.changed();
                vol.behind.done(offset, end, None);
                done(r)
            }),
        );
    }

    /// Parks a write admitted to `behind` and sends it (through the
    /// grower when it ends past the image's end); false, with nothing
    /// done, when there is no slot to park it in.
    fn park_and_send(&self, offset: u64, end: u64, data: &[u8]) -> bool {
        let parked = self
            .sink
            .spill
            .as_ref()
            .and_then(|s| s.park(self.vol.id.as_bytes(), offset, data));
        let Some(parked) = parked else {
            return false;
        };
        self.vol.changed();
        let fits = self.vol.fits(end);
        let job = Job {
            vol: self.vol.clone(),
            offset,
            data: data.to_vec(),
            parked,
        };
        if fits {
            job.send();
        } else {
            self.sink.grower.queue(job);
        }
        true
    }

    /// Drops the set-id bits a write by an unprivileged caller clears.
    fn kill_privs(&self) -> Result<()> {
        let o = *self.vol.owner.lock();
        if o.mode & 0o6000 != 0 {
            self.vol.set_owner(Owner {
                mode: o.mode & !0o6000,
                ..o
            })?;
        }
        Ok(())
    }
}

impl OpenVolume for RbdFile {
    fn read(&self, offset: u64, size: u32) -> Result<Data> {
        self.settle()?;
        let n = self.clip(offset, size)?;
        if n == 0 {
            return Ok(Data::Heap(Vec::new()));
        }
        self.vol.image.read(offset, n).map(Data::Heap)
    }

    fn write(&self, offset: u64, data: &[u8], kill_privs_for: Option<&Ctx>) -> Result<u32> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|e| *e <= MAX_SIZE)
            .ok_or(Error::Os {
                op: "write",
                errno: Errno::EFBIG,
            })?;
        if kill_privs_for.is_some() {
            self.kill_privs()?;
        }
        // Counted in flight as a write behind is (a plain `fallocate`
        // filling holes meanwhile waits for it); a failure of one this open
        // has not seen is reported here.
        self.vol
            .behind
            .admit(offset, end, self.sink.timeout, &self.seen)?;
        if self.park_and_send(offset, end, data) {
            return Ok(data.len() as u32);
        }
        let r = self
            .vol
            .grow_to(end)
            .and_then(|()| self.vol.image.write(offset, data));
        self.vol.behind.done(offset, end, None);
        self.vol.changed();
        Ok(r? as u32)
    }

    /// Not while this host's writes are in flight (`read` waits for them).
    /// A read that continues the previous one is served read ahead.
    fn read_async(&self, offset: u64, size: u32, done: ReadDone) -> Option<ReadDone> {
        if !self.vol.behind.idle() {
            return Some(done);
        }
        let end = match self.vol.size() {
            Ok(end) => end,
            Err(e) => {
                done(Err(e));
                return None;
            }
        };
        let n = end.saturating_sub(offset).min(size as u64) as usize;
        if n == 0 {
            return Some(done);
        }
        let done = self.ra.read(&self.vol, end, offset, n, done)?;
        self.vol
            .image
            .aio_read(offset, n, Box::new(move |r| done(r.map(Data::Heap))));
        None
    }

    /// Parked and answered at once, then sent (`grower`); without a free
    /// slot, sent and answered at its completion; past the image's end
    /// without one, or when it would wait for writes in flight (the
    /// window full, an overlapping write) or has a failure to report, left
    /// to `write`, on the pool's threads: the caller's thread never waits
    /// for the cluster.
    fn write_async(&self, offset: u64, data: &[u8], done: WriteDone) -> Option<WriteDone> {
        let len = data.len() as u64;
        let Some(end) = offset.checked_add(len).filter(|e| *e <= MAX_SIZE) else {
            return Some(done);
        };
        if !self.vol.behind.try_admit(offset, end, &self.seen) {
            return Some(done);
        }
        if self.park_and_send(offset, end, data) {
            done(Ok(len as u32));
            return None;
        }
        if self.vol.fits(end) {
            self.write_through(offset, data, done);
            return None;
        }
        self.vol.behind.done(offset, end, None);
        Some(done)
    }

    fn fsync(&self, _datasync: bool) -> Result<()> {
        self.drain()?;
        self.vol.image.flush()
    }

    /// At each close(2): this host's writes are on the cluster, and one
    /// that failed after it was answered is reported here.
    fn flush(&self) -> Result<()> {
        self.drain()
    }

    /// At the last close: another host that opens the volume next reads
    /// this one's writes.
    fn close(&self) -> Result<()> {
        self.settle()
    }

    fn fallocate(&self, offset: u64, length: u64, mode: i32) -> Result<()> {
        let end = offset
            .checked_add(length)
            .filter(|e| *e <= MAX_SIZE)
            .ok_or(Error::Os {
                op: "fallocate",
                errno: Errno::EFBIG,
            })?;
        self.settle()?;
        let keep = mode & libc::FALLOC_FL_KEEP_SIZE != 0;
        let size = self.vol.image.size()?;
        match mode & !libc::FALLOC_FL_KEEP_SIZE {
            0 => {}
            libc::FALLOC_FL_PUNCH_HOLE if keep => {
                // write-zeroes deallocates whole objects and zeroes partial
                // ones (a discard skips partial objects: old bytes would stay).
                let end = end.min(size);
                if end > offset {
                    self.vol.image.write_zeroes(offset, end - offset)?;
                }
            }
            libc::FALLOC_FL_ZERO_RANGE => {
                let zero_end = if keep { end.min(size) } else { end };
                if !keep {
                    self.vol.grow_to(end)?;
                }
                if zero_end > offset {
                    self.vol.image.write_zeroes(offset, zero_end - offset)?;
                }
            }
            _ => {
                return Err(Error::Os {
                    op: "fallocate",
                    errno: Errno::EOPNOTSUPP,
                });
            }
        }
        // Plain allocation: the size grows, and zeros are written into
        // the range's holes (RBD allocates at write).
        if mode & !libc::FALLOC_FL_KEEP_SIZE == 0 {
            if !keep {
                self.vol.grow_to(end)?;
            }
            self.vol
                .allocate(offset, end.min(self.vol.image.size()?), self.sink.timeout)?;
        }
        self.vol.changed();
        Ok(())
    }

    /// SEEK_DATA and SEEK_HOLE from the image's allocated extents (whole
    /// objects where the image has an object map: data may start early,
    /// as a local filesystem's block granularity allows).
    fn lseek(&self, offset: i64, whence: i32) -> Result<i64> {
        self.settle()?;
        let size = self.vol.image.size()?;
        let nxio = || Error::Os {
            op: "lseek",
            errno: Errno::ENXIO,
        };
        let off = u64::try_from(offset).map_err(|_| nxio())?;
        if off >= size {
            return Err(nxio());
        }
        let extents = self.vol.image.extents(0, size)?;
        let found = match whence {
            libc::SEEK_DATA => extents
                .iter()
                .find(|(o, l)| o + l > off)
                .map(|(o, _)| (*o).max(off))
                .ok_or_else(nxio)?,
            libc::SEEK_HOLE => extents
                .iter()
                .find(|(o, l)| *o <= off && o + l > off)
                .map_or(off, |(o, l)| (o + l).min(size)),
            _ => {
                return Err(Error::Os {
                    op: "lseek",
                    errno: Errno::EINVAL,
                });
            }
        };
        Ok(found as i64)
    }

    fn size(&self) -> Result<u64> {
        self.vol.size()
    }

    fn copy_to(
        &self,
        _off_in: u64,
        _dst: &dyn OpenVolume,
        _off_out: u64,
        _len: u64,
    ) -> Result<u64> {
        Err(Error::Os {
            op: "copy_file_range",
            errno: Errno::EXDEV,
        })
    }

    fn truncate(&self, size: u64) -> Option<Result<()>> {
        if size > MAX_SIZE {
            return Some(Err(Error::Os {
                op: "truncate",
                errno: Errno::EFBIG,
            }));
        }
        if let Err(e) = self.settle() {
            return Some(Err(e));
        }
        let _g = self.vol.grow.lock();
        let r = self.vol.set_size(size);
        self.vol.changed();
        Some(r)
    }

    /// This open replaces one of a server that crashed or was upgraded
    /// (`note`: the client it was to Ceph, fenced by `Store::succeed`):
    /// the exclusive lock that client holds on the image is broken now,
    /// rather than at this open's first write.
    fn inherit(&self, note: &[u8]) {
        let dead = String::from_utf8_lossy(note);
        let owners = match self.vol.image.lock_owners() {
            Ok(o) => o,
            Err(e) => return tracing::warn!("cannot read the image's lock owners: {e}"),
        };
        let Some(owner) = owners.iter().find(|o| plain_address(o) == dead) else {
            return tracing::debug!(?owners, %dead, "no lock of the previous server to break");
        };
        match self.vol.image.break_lock(owner) {
            Ok(()) => tracing::info!(%owner, "broke the image lock of the previous server"),
            Err(e) => tracing::warn!(%owner, "cannot break the lock of the previous server: {e}"),
        }
    }

    /// Each write waits on the cluster: `O_DIRECT` writers on several
    /// threads keep as many writes in flight.
    fn parallel_direct_writes(&self) -> bool {
        true
    }

    fn may_block(&self) -> bool {
        true
    }
}
