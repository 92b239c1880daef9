//! One RBD image open in this daemon (`Vol`), shared by every open of it
//! and by the store's cache, and what RBD has no place for: a volume's
//! mode and owner, kept in the image's metadata (`poolfs.attr`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;

use super::librbd::{Image, Stat, held_elsewhere, plain_address};
use crate::error::{Error, Result};
use crate::store::behind::Behind;
use crate::store::{Attr, Kind};

/// How long a volume's allocation (a walk of its object map) is reused.
const ALLOC_TTL: Duration = Duration::from_secs(1);
/// The largest volume: RBD's sizes are 64-bit, the kernel's `loff_t` is signed.
pub const MAX_SIZE: u64 = i64::MAX as u64;
/// The preferred I/O size (`st_blksize`): RBD's default object size, so
/// `cp` and other tools that size their buffers by it write whole objects
/// (the kernel sends them as 1 MiB requests).
const BLKSIZE: u32 = 4 << 20;
/// The metadata key holding a volume's mode, owner and group.
pub const ATTR_KEY: &str = "poolfs.attr";

/// The mode, owner and group of a volume (`poolfs.attr`: "0600 0 0").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
}

impl Owner {
    /// An image poolfs did not create: root's, readable and writable by it.
    pub const DEFAULT: Owner = Owner {
        mode: 0o600,
        uid: 0,
        gid: 0,
    };

    fn parse(text: &str) -> Option<Owner> {
        let mut w = text.split_whitespace();
        Some(Owner {
            mode: u16::from_str_radix(w.next()?, 8).ok()? & 0o7777,
            uid: w.next()?.parse().ok()?,
            gid: w.next()?.parse().ok()?,
        })
    }

    fn text(&self) -> String {
        format!("{:04o} {} {}", self.mode, self.uid, self.gid)
    }
}

/// The attributes of an image that is not open here, read without
/// opening it (`Cluster::stat_image` with `ATTR_KEY`).
pub fn stat_attr(st: &Stat) -> Attr {
    let owner = st
        .meta
        .as_deref()
        .and_then(Owner::parse)
        .unwrap_or(Owner::DEFAULT);
    attr(st.size, st.allocated, st.modified, st.created, owner)
}

/// A volume's attributes: RBD keeps one modify and one create time.
fn attr(size: u64, allocated: u64, m: libc::timespec, c: libc::timespec, o: Owner) -> Attr {
    let ts = |t: libc::timespec| {
        SystemTime::UNIX_EPOCH + Duration::new(t.tv_sec.max(0) as u64, t.tv_nsec as u32)
    };
    Attr {
        ino: 0,
        size,
        blocks: allocated.div_ceil(512),
        atime: ts(m),
        mtime: ts(m).max(ts(c)),
        ctime: ts(m).max(ts(c)),
        kind: Kind::File,
        perm: o.mode,
        nlink: 1,
        uid: o.uid,
        gid: o.gid,
        blksize: BLKSIZE,
    }
}

/// One image, open in this daemon, shared by its opens and the cache.
#[derive(Debug)]
pub struct Vol {
    pub image: Image,
    pub id: String,
    pub owner: Mutex<Owner>,
    /// (when, bytes): the allocation last read.
    pub alloc: Mutex<Option<(Instant, u64)>>,
    /// Counts the changes made from this host (data read ahead before the
    /// latest one is not served).
    generation: AtomicU64,
    /// Serialises size changes (a write past the end grows the image first).
    pub grow: Mutex<()>,
    /// Writes answered and not yet on the cluster (`grower`): whatever
    /// reads or changes the image otherwise waits for them first.
    pub behind: Behind,
    /// Opens for writing here: while there is one, this host keeps the
    /// image's exclusive lock (held across taking and releasing it).
    writers: Mutex<usize>,
    /// The image's size as this host last read or set it. Exact while an
    /// open for writing holds the image's lock (only this host resizes it
    /// then, through `set_size`): what a write checks on a request thread,
    /// where `rbd_get_size` must not be called (it may first refresh the
    /// image from the cluster, and wait for it).
    size_hint: AtomicU64,
}

impl Vol {
    pub fn open(image: Image) -> Result<Vol> {
        let id = image.id()?;
        let owner = image
            .metadata(ATTR_KEY)?
            .and_then(|t| Owner::parse(&t))
            .unwrap_or(Owner::DEFAULT);
        let size = image.size()?;
        Ok(Vol {
            image,
            id,
            owner: Mutex::new(owner),
            alloc: Mutex::new(None),
            generation: AtomicU64::new(0),
            grow: Mutex::new(()),
            behind: Behind::new("the Ceph cluster"),
            writers: Mutex::new(0),
            size_hint: AtomicU64::new(size),
        })
    }

    pub fn allocated(&self, size: u64) -> Result<u64> {
        if let Some((at, bytes)) = *self.alloc.lock()
            && at.elapsed() < ALLOC_TTL
        {
            return Ok(bytes);
        }
        // `size` counts writes in flight past the image's end; librbd
        // refuses a range past it (`EINVAL`).
        let size = size.min(self.image.size()?);
        let bytes = self
            .image
            .extents(0, size)?
            .iter()
            .map(|(o, l)| (*l).min(size.saturating_sub(*o)))
            .sum();
        *self.alloc.lock() = Some((Instant::now(), bytes));
        Ok(bytes)
    }

    pub fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.alloc.lock() = None;
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The size this host's writers see: the image's, or the end of a
    /// write answered and not yet on the cluster (it grows the image).
    pub fn size(&self) -> Result<u64> {
        let size = self.image.size()?;
        self.size_hint.store(size, Ordering::SeqCst);
        Ok(size.max(self.behind.end()))
    }

    /// A write ending at `end` is within the image (`size_hint`: no call
    /// to the cluster).
    pub fn fits(&self, end: u64) -> bool {
        end <= self.size_hint.load(Ordering::SeqCst)
    }

    /// Resizes the image; the caller holds `grow`.
    pub fn set_size(&self, size: u64) -> Result<()> {
        self.image.resize(size)?;
        self.size_hint.store(size, Ordering::SeqCst);
        Ok(())
    }

    pub fn attr(&self) -> Result<Attr> {
        let size = self.size()?;
        let (m, c) = self.image.times()?;
        Ok(attr(size, self.allocated(size)?, m, c, *self.owner.lock()))
    }

    pub fn set_owner(&self, o: Owner) -> Result<()> {
        self.image.set_metadata(ATTR_KEY, &o.text())?;
        *self.owner.lock() = o;
        Ok(())
    }

    /// An open for writing: the first takes RBD's exclusive lock and keeps
    /// it until the last closes, so no other host writes meanwhile (its
    /// opens for writing are refused with `EBUSY`).
    pub fn start_writing(&self) -> Result<()> {
        let mut w = self.writers.lock();
        if *w == 0 {
            self.image.lock().map_err(|e| {
                if !held_elsewhere(e.errno()) {
                    return e;
                }
                let owner = self
                    .image
                    .lock_owners()
                    .ok()
                    .and_then(|o| o.first().map(|o| plain_address(o)))
                    .unwrap_or_else(|| "unknown".into());
                Error::Busy(format!(
                    "the volume is open for writing on another host (Ceph client {owner})"
                ))
            })?;
            // Another host may have resized it before this one took the
            // lock: the size writes are checked against must be read now,
            // or the open fails (and lets the lock go).
            match self.image.size() {
                Ok(size) => self.size_hint.store(size, Ordering::SeqCst),
                Err(e) => {
                    if let Err(u) = self.image.unlock() {
                        tracing::warn!("cannot release the lock of image {}: {u}", self.id);
                    }
                    return Err(e);
                }
            }
        }
        *w += 1;
        Ok(())
    }

    /// The close of an open for writing: the last one lets the lock go.
    pub fn stop_writing(&self) {
        let mut w = self.writers.lock();
        *w = w.saturating_sub(1);
        if *w == 0
            && let Err(e) = self.image.unlock()
        {
            tracing::warn!("cannot release the lock of image {}: {e}", self.id);
        }
    }

    /// Writes real zeros into the holes of [start, end) and leaves its data
    /// alone (plain `fallocate`, `resize ... allocate`: RBD allocates at
    /// write, and its write-zeroes would deallocate). A step at a time, each
    /// counted as a write in flight first and only then looked at: a write
    /// of this host to it is waited for, and one sent meanwhile waits, so
    /// no data is zeroed over. Other hosts do not write the image meanwhile
    /// (an open for writing holds its lock).
    pub fn allocate(&self, start: u64, end: u64, within: Duration) -> Result<()> {
        const STEP: u64 = 4 << 20;
        // Failures of writes behind stay for the opens' fsync to report.
        let unreported = AtomicU64::new(u64::MAX);
        let zeros = vec![0u8; STEP as usize];
        let mut at = start;
        while at < end {
            let stop = ((at / STEP + 1) * STEP).min(end);
            self.behind.admit(at, stop, within, &unreported)?;
            let r = self.fill(at, stop, &zeros);
            self.behind.done(at, stop, None);
            r?;
            at = stop;
        }
        self.changed();
        Ok(())
    }

    /// Writes `zeros` into what the image does not hold in [start, stop).
    fn fill(&self, start: u64, stop: u64, zeros: &[u8]) -> Result<()> {
        let mut holes = Vec::new();
        let mut at = start;
        for (o, l) in self.image.extents(start, stop - start)? {
            if o > at {
                holes.push((at, o.min(stop)));
            }
            at = at.max(o.saturating_add(l));
        }
        if at < stop {
            holes.push((at, stop));
        }
        for (s, e) in holes {
            self.image.write(s, &zeros[..(e - s) as usize])?;
        }
        Ok(())
    }

    /// Makes the image at least `end` bytes long (a write past its end).
    pub fn grow_to(&self, end: u64) -> Result<()> {
        let _g = self.grow.lock();
        if self.image.size()? < end {
            self.set_size(end)?;
        }
        Ok(())
    }
}
