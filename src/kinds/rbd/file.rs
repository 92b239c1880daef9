//! One open of an RBD volume: reads and writes through librbd's
//! asynchronous calls (answered from its completion), sizes, holes.

use std::sync::Arc;

use nix::errno::Errno;

use super::librbd::plain_address;
use super::vol::{MAX_SIZE, Owner, Vol};
use crate::error::{Error, Result};
use crate::store::{Ctx, OpenVolume, ReadDone, StoreOpen, WriteDone};
use crate::volume::Data;

/// Opens volume `vol` with `flags`: an open for writing keeps other hosts
/// from writing it until it closes (`Vol::start_writing`). O_TRUNC never
/// reaches a store: the namespace truncates with `setattr`.
pub fn open_vol(vol: Arc<Vol>, flags: i32) -> Result<StoreOpen> {
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
    if writes {
        vol.start_writing()?;
    }
    Ok(StoreOpen {
        file: Box::new(RbdFile { vol, writes }),
        passthrough: false,
    })
}

/// One open of a volume.
#[derive(Debug)]
struct RbdFile {
    vol: Arc<Vol>,
    writes: bool,
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
        let end = self.vol.image.size()?;
        Ok(end.saturating_sub(offset).min(size as u64) as usize)
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
        self.vol.grow_to(end)?;
        let n = self.vol.image.write(offset, data)?;
        self.vol.changed();
        Ok(n as u32)
    }

    fn read_async(&self, offset: u64, size: u32, done: ReadDone) -> Option<ReadDone> {
        let n = match self.clip(offset, size) {
            Ok(0) => return Some(done),
            Ok(n) => n,
            Err(e) => {
                done(Err(e));
                return None;
            }
        };
        self.vol
            .image
            .aio_read(offset, n, Box::new(move |r| done(r.map(Data::Heap))));
        None
    }

    /// Only within the image's size: a write past its end grows it first,
    /// in `write`.
    fn write_async(&self, offset: u64, data: &[u8], done: WriteDone) -> Option<WriteDone> {
        let fits = self
            .vol
            .image
            .size()
            .is_ok_and(|s| offset.saturating_add(data.len() as u64) <= s);
        if !fits {
            return Some(done);
        }
        self.vol.changed();
        self.vol.image.aio_write(offset, data.to_vec(), done);
        None
    }

    fn fsync(&self, _datasync: bool) -> Result<()> {
        self.vol.image.flush()
    }

    fn fallocate(&self, offset: u64, length: u64, mode: i32) -> Result<()> {
        let end = offset
            .checked_add(length)
            .filter(|e| *e <= MAX_SIZE)
            .ok_or(Error::Os {
                op: "fallocate",
                errno: Errno::EFBIG,
            })?;
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
        // Plain allocation: RBD allocates on write; only the size grows.
        if mode == 0 {
            self.vol.grow_to(end)?;
        }
        self.vol.changed();
        Ok(())
    }

    /// SEEK_DATA and SEEK_HOLE from the image's allocated extents (whole
    /// objects where the image has an object map: data may start early,
    /// as a local filesystem's block granularity allows).
    fn lseek(&self, offset: i64, whence: i32) -> Result<i64> {
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
        self.vol.image.size()
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
        let _g = self.vol.grow.lock();
        let r = self.vol.image.resize(size);
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
