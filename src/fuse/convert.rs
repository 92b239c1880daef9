//! Between fuser's types and core's: attributes, kinds, open flags, the
//! caller, times, cache lifetimes, and the one failure path.

use std::time::Duration;

use fuser::{Errno, FileAttr, FileType, FopenFlags, INodeNo, Request, TimeOrNow};

use crate::core::{Attr, Cache, Ctx, Kind, Opened, PoolFs, Time, Unique};
use crate::error::Error;

/// How long the kernel may cache entries and attributes of backing objects.
pub(super) const BACKING_TTL: Duration = Duration::from_secs(1);

/// The same for objects of watched local trees (`core::watch`): a change
/// behind poolfs's back is invalidated when inotify reports it; this bounds
/// what it does not report.
pub(super) const WATCHED_TTL: Duration = Duration::from_secs(10);

/// Logs a failed request once, records refusals, and returns its errno.
pub(super) fn fail(core: &PoolFs, op: &'static str, ino: u64, err: &Error) -> Errno {
    let errno = err.errno();
    core.requests().failed(op, errno as i32);
    if err.is_refusal() {
        let pool = core.pool_of(ino);
        if let Some(p) = &pool {
            p.record_error(&err.to_string());
        }
        tracing::warn!(
            op,
            pool = pool.map(|p| p.name()).unwrap_or_default(),
            errno = %errno,
            "{err}"
        );
    } else {
        tracing::debug!(op, ino, errno = %errno, "{err}");
    }
    Errno::from_i32(errno as i32)
}

/// True when `r` failed with `errno`.
pub(super) fn is_errno<T>(r: &crate::error::Result<T>, errno: i32) -> bool {
    matches!(r, Err(e) if e.errno() as i32 == errno)
}

pub(super) fn ttl(c: Cache) -> Duration {
    match c {
        Cache::Backing => BACKING_TTL,
        Cache::Watched => WATCHED_TTL,
        Cache::Never => Duration::ZERO,
        Cache::For(d) => d,
    }
}

pub(super) fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.ctime,
        kind: kind(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: a.blksize,
        flags: 0,
    }
}

pub(super) fn kind(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
    }
}

pub(super) fn fopen(o: &Opened) -> FopenFlags {
    let mut f = FopenFlags::empty();
    if o.direct_io {
        f |= FopenFlags::FOPEN_DIRECT_IO;
    }
    if o.keep_cache {
        f |= FopenFlags::FOPEN_KEEP_CACHE;
    }
    if o.parallel_writes {
        f |= FopenFlags::FOPEN_PARALLEL_DIRECT_WRITES;
    }
    f
}

pub(super) fn unique(req: &Request) -> Unique {
    Unique(req.unique().0)
}

pub(super) fn ctx(req: &Request) -> Ctx {
    Ctx {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

pub(super) fn time(t: Option<TimeOrNow>) -> Option<Time> {
    t.map(|t| match t {
        TimeOrNow::Now => Time::Now,
        TimeOrNow::SpecificTime(s) => Time::At(s),
    })
}
