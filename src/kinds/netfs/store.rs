//! The userspace NFS store: a netfs pool with `client = "userspace"`. Its
//! volumes and sub-directories are reached by NFS file handle through the
//! pool's `nfs::Client`, never by a local descriptor.
//!
//! Invariants: no poolfs lock is held across an NFS call (each call is
//! bounded by the pool's timeout); only regular files and directories are
//! shown; names must be UTF-8 (NFS names are strings here).

use std::ffi::OsStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use parking_lot::Mutex;

use bytes::Bytes;
use nix::errno::Errno;

use super::client::{Client, REPLAY_MOST, SetStat, Stat, WriteTo};
use super::locks::{LockState, NfsLocks};
use super::readahead::ReadAhead;
use super::shared::{ByFh, FileShared};
use crate::control::volume::{ResizeRequest, WipeAlgorithm};
use crate::error::{Error, Result};
use crate::store::{
    Attr, Ctx, Found, Kind, Listed, NodeKey, Obj, OpenVolume, ReadDone, RemoteLocks, SetAttr,
    Space, StatFs, Store, StoreOpen, Time, VolumeFacts, VolumeRef, WriteDone, foreign,
};
use crate::volume::format::{self, Format};
use crate::volume::qcow2::{self, MAX_FILE};

#[derive(Debug)]
pub struct NfsStore {
    client: Arc<Client>,
    /// The lock state of each file some open uses (NFSv4.1).
    locks: ByFh<NfsLocks>,
    /// The state of each file some open or lock uses.
    files: ByFh<FileShared>,
}

/// A file or directory of the export.
#[derive(Debug)]

/// What the store reads of one of its objects (`Obj::Remote`).
struct NfsObj<'a> {
    fh: &'a Bytes,
    is_dir: bool,
}

fn utf8(name: &OsStr) -> Result<&str> {
    name.to_str()
        .ok_or_else(|| Error::Invalid("names on a userspace NFS pool must be UTF-8".into()))
}

fn enoent(op: &'static str) -> Error {
    Error::Os {
        op,
        errno: Errno::ENOENT,
    }
}

fn stat_attr(st: &Stat) -> Attr {
    let t = |(s, ns): (u32, u32)| SystemTime::UNIX_EPOCH + std::time::Duration::new(s.into(), ns);
    Attr {
        ino: 0,
        size: st.size,
        blocks: st.used.div_ceil(512),
        atime: t(st.atime),
        mtime: t(st.mtime),
        ctime: t(st.ctime),
        kind: if st.is_dir { Kind::Dir } else { Kind::File },
        perm: st.mode as u16,
        nlink: st.nlink,
        uid: st.uid,
        gid: st.gid,
        blksize: 1 << 20,
    }
}

fn found(fh: Bytes, st: &Stat) -> Found {
    Found {
        id: (st.fsid, st.fileid),
        attr: stat_attr(st),
        obj: Obj::Remote {
            fh,
            is_dir: st.is_dir,
        },
    }
}

fn nfs_time(t: Option<Time>) -> Option<(u32, u32)> {
    let at = match t? {
        Time::Now => SystemTime::now(),
        Time::At(t) => t,
    };
    let d = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Some((
        u32::try_from(d.as_secs()).unwrap_or(u32::MAX),
        d.subsec_nanos(),
    ))
}

fn size_to(n: u64) -> SetStat {
    SetStat {
        size: Some(n),
        ..SetStat::default()
    }
}

impl NfsStore {
    /// What `info` says of the pool's locks.
    fn lock_state(&self) -> String {
        let Some(lease) = self.client.lease() else {
            return format!(
                "this host only: poolfs takes NFS locks over NFSv4.1 and 4.2, this pool speaks NFS {}",
                self.client.version()
            );
        };
        let lost = self.locks.live().iter().filter(|l| l.is_lost()).count();
        if lost > 0 {
            format!(
                "lost on {lost} volume(s): the NFS server was out of reach for longer than its lease; close and open them again"
            )
        } else {
            format!("held by the NFS server, lease {} s", lease.as_secs())
        }
    }

    pub fn new(client: Arc<Client>) -> NfsStore {
        NfsStore {
            client,
            locks: ByFh::default(),
            files: ByFh::default(),
        }
    }

    fn obj<'a>(&self, obj: &'a Obj) -> Result<NfsObj<'a>> {
        match obj {
            Obj::Remote { fh, is_dir } => Ok(NfsObj {
                fh,
                is_dir: *is_dir,
            }),
            _ => Err(foreign()),
        }
    }

    /// The file handle of a directory argument (`None`: the export's root).
    fn dir<'a>(&'a self, dir: Option<&'a Obj>) -> Result<&'a Bytes> {
        match dir {
            None => Ok(self.client.root()),
            Some(o) => {
                let o = self.obj(o)?;
                if !o.is_dir {
                    return Err(Error::Os {
                        op: "lookup",
                        errno: Errno::ENOTDIR,
                    });
                }
                Ok(o.fh)
            }
        }
    }

    /// New objects belong to the caller, as on a local pool (the daemon
    /// speaks to the server as root).
    fn give_to(&self, fh: &Bytes, st: &mut Stat, ctx: &Ctx) -> Result<()> {
        if (st.uid, st.gid) != (ctx.uid, ctx.gid) {
            self.client.setattr(
                fh,
                SetStat {
                    uid: Some(ctx.uid),
                    gid: Some(ctx.gid),
                    ..SetStat::default()
                },
            )?;
            (st.uid, st.gid) = (ctx.uid, ctx.gid);
        }
        Ok(())
    }

    fn volume(&self, obj: &Obj, name: &str) -> Result<Bytes> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Invalid(format!(
                "'{name}' is a directory, not a volume"
            )));
        }
        Ok(o.fh.clone())
    }

    fn facts_of(&self, fh: &Bytes) -> Result<VolumeFacts> {
        let st = self.client.getattr(fh)?;
        let head = self.client.read(fh, 0, format::PROBE_LEN)?;
        Ok(VolumeFacts {
            probe: format::probe(&head),
            size: st.size,
            allocated: st.used,
        })
    }
}

impl Store for NfsStore {
    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found> {
        let (fh, mut st) = self.client.lookup(self.dir(dir)?, utf8(name)?)?;
        if let Some(f) = self.files.get(&fh)
            && !f.behind.idle()
        {
            // Its size must include the writes in flight.
            f.behind.settle(self.client.timeout())?;
            st = self.client.getattr(&fh)?;
        }
        if !st.is_dir && !st.is_file {
            return Err(enoent("lookup"));
        }
        Ok(found(fh, &st))
    }

    fn getattr(&self, obj: &Obj) -> Result<Attr> {
        let fh = self.obj(obj)?.fh;
        self.settle(fh)?;
        Ok(stat_attr(&self.client.getattr(fh)?))
    }

    fn setattr(
        &self,
        obj: Option<&Obj>,
        sa: &SetAttr,
        _open: Option<&dyn OpenVolume>,
    ) -> Result<()> {
        let Some(obj) = obj else {
            return Err(Error::NotPermitted(
                "the directory of a userspace NFS pool cannot be changed".into(),
            ));
        };
        let o = self.obj(obj)?;
        self.settle(o.fh)?;
        if o.is_dir && sa.size.is_some() {
            return Err(Error::Os {
                op: "truncate",
                errno: Errno::EISDIR,
            });
        }
        self.client.setattr(
            o.fh,
            SetStat {
                mode: sa.mode.map(|m| m & 0o7777),
                uid: sa.uid,
                gid: sa.gid,
                size: sa.size,
                atime: nfs_time(sa.atime),
                mtime: nfs_time(sa.mtime),
            },
        )?;
        if sa.size.is_some()
            && let Some(f) = self.files.get(o.fh)
        {
            f.changed();
        }
        Ok(())
    }

    fn list(&self, dir: Option<&Obj>) -> Result<Vec<Listed>> {
        // The listing's attributes include every write of this host.
        for f in self.files.live() {
            f.behind.settle(self.client.timeout())?;
        }
        Ok(self
            .client
            .list(self.dir(dir)?)?
            .into_iter()
            .filter(|e| e.stat.is_file || e.stat.is_dir)
            .map(|e| Listed {
                id: (e.stat.fsid, e.stat.fileid),
                kind: if e.stat.is_dir { Kind::Dir } else { Kind::File },
                attr: Some(stat_attr(&e.stat)),
                name: e.name.into(),
            })
            .collect())
    }

    fn create(
        &self,
        ctx: &Ctx,
        dir: Option<&Obj>,
        name: &OsStr,
        mode: u32,
        _flags: i32,
    ) -> Result<(Found, StoreOpen)> {
        let (fh, mut st) = self.client.create(self.dir(dir)?, utf8(name)?, mode)?;
        self.give_to(&fh, &mut st, ctx)?;
        let open = self.open_fh(fh.clone())?;
        Ok((found(fh, &st), open))
    }

    fn mkdir(&self, ctx: &Ctx, dir: Option<&Obj>, name: &OsStr, mode: u32) -> Result<Found> {
        let (fh, mut st) = self.client.mkdir(self.dir(dir)?, utf8(name)?, mode)?;
        self.give_to(&fh, &mut st, ctx)?;
        Ok(found(fh, &st))
    }

    fn unlink(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        self.client.remove(self.dir(dir)?, utf8(name)?)
    }

    /// The server forgets a removed file's handle (the kernel's client
    /// "silly-renames" an open file for the same reason).
    fn hides_removed_open(&self) -> bool {
        true
    }

    fn rmdir(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        self.client.rmdir(self.dir(dir)?, utf8(name)?)
    }

    fn rename(
        &self,
        from: Option<&Obj>,
        name: &OsStr,
        to: Option<&Obj>,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if flags != 0 {
            return Err(Error::Unsupported(
                "rename flags (noreplace, exchange) are not available on userspace NFS pools"
                    .into(),
            ));
        }
        self.client
            .rename(self.dir(from)?, utf8(name)?, self.dir(to)?, utf8(newname)?)
    }

    fn open(&self, _ctx: &Ctx, obj: &Obj, _flags: i32) -> Result<StoreOpen> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Os {
                op: "open",
                errno: Errno::EISDIR,
            });
        }
        if let Some(why) = self.client.down() {
            return Err(Error::Sys {
                what: format!(
                    "cannot open: the NFS server of {} is not answering ({why})",
                    self.client.server()
                ),
                errno: Errno::EIO,
            });
        }
        // Close-to-open, as the kernel's NFS client does it: the handle is
        // checked with the server first. A file another client removed
        // within the cache time is stale (the server says so, or still
        // serves it with no name left): `ESTALE` makes the kernel look the
        // name up again instead of writing into a file nobody can reach.
        let st = self.client.getattr(o.fh)?;
        if st.nlink == 0 {
            return Err(Error::Os {
                op: "open",
                errno: Errno::ESTALE,
            });
        }
        self.open_fh(o.fh.clone())
    }

    /// Space on the export, in 4 KiB blocks.
    fn statfs(&self) -> Result<StatFs> {
        let s = self.client.space()?;
        Ok(StatFs::in_4k_blocks(
            s.total, s.free, s.avail, s.files, s.ffree,
        ))
    }

    fn space(&self) -> Result<Space> {
        let sp = self.client.space()?;
        Ok(Space {
            capacity: sp.total,
            allocation: sp.total.saturating_sub(sp.free),
            available: sp.free,
        })
    }

    /// The files at the top of the export (sub-directories are not walked:
    /// each would cost a round trip).
    fn census(&self, hidden: &dyn Fn(&str) -> bool) -> Result<(u64, Vec<String>)> {
        let (shadowed, shown): (Vec<_>, Vec<_>) = self
            .client
            .list(self.client.root())?
            .into_iter()
            .filter(|e| e.stat.is_file && !crate::store::is_removed_name(&e.name))
            .map(|e| e.name)
            .partition(|n| hidden(n));
        Ok((shown.len() as u64, shadowed))
    }

    /// The NFS file handle.
    fn key(&self, obj: &Obj) -> Option<NodeKey> {
        Some(NodeKey(self.obj(obj).ok()?.fh.to_vec()))
    }

    /// The export bounds what a handle reaches (the server checks).
    fn reconnect(&self, key: &NodeKey, _path: &str) -> Result<Found> {
        let fh = Bytes::from(key.0.clone());
        let st = self.client.getattr(&fh).map_err(|_| Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        })?;
        Ok(found(fh, &st))
    }

    fn facts(&self, obj: &Obj) -> Result<VolumeFacts> {
        self.facts_of(&self.volume(obj, "")?)
    }

    fn backing_name(&self, obj: &Obj) -> Result<Option<String>> {
        let fh = self.volume(obj, "")?;
        format::backing_name(|off, len| self.client.read(&fh, off, len).map(|b| b.to_vec()))
    }

    /// SETATTR of the size (raw), ALLOCATE for `allocate` (NFSv4.2;
    /// otherwise refused, nothing changed), `qemu-img resize` through the
    /// mount (qcow2).
    fn resize(&self, obj: &Obj, vol: &VolumeRef, req: &ResizeRequest) -> Result<()> {
        let fh = self.volume(obj, vol.name)?;
        let v = self.facts_of(&fh)?;
        if v.probe.format == Format::Qcow2 {
            let path = vol.mounted.as_deref().ok_or_else(|| {
                Error::Unsupported(
                    "qcow2 volumes of a userspace NFS pool are changed through the mount, and there is none"
                        .into(),
                )
            })?;
            return qcow2::resize(path, vol.name, v.capacity(), req);
        }
        let current = v.size;
        let target = req.plan(current, MAX_FILE)?;
        if req.allocate && target > current {
            let free = self.client.space()?.free;
            if target - current > free {
                return Err(Error::NoSpace(format!(
                    "allocating {} bytes needs more than the {free} bytes available in the pool",
                    target - current
                )));
            }
            self.client.setattr(&fh, size_to(target))?;
            if let Err(e) = self.client.allocate(&fh, current, target - current) {
                // Nothing half done: back to the old size.
                let _ = self.client.setattr(&fh, size_to(current));
                return Err(match e {
                    Error::Unsupported(_) => Error::Unsupported(format!(
                        "allocating space for '{}' needs NFSv4.2 ALLOCATE, which this server or protocol version does not have",
                        vol.name
                    )),
                    e => e,
                });
            }
            return Ok(());
        }
        self.client.setattr(&fh, size_to(target))
    }

    /// DEALLOCATE (NFSv4.2) or zeros written for `zero`/`trim`, random data
    /// for `random`; committed before it returns.
    fn wipe(
        &self,
        obj: &Obj,
        vol: &VolumeRef,
        alg: WipeAlgorithm,
        size: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let fh = self.volume(obj, vol.name)?;
        // In turn with the writes of any open of the volume here, and
        // committed with them; their failures stay for the opens to report.
        let file = self.file_of(&fh);
        let unreported = AtomicU64::new(u64::MAX);
        let to = WriteTo {
            fh: &fh,
            file: &file,
            seen: &unreported,
        };
        let punched = match alg {
            WipeAlgorithm::Zero | WipeAlgorithm::Trim => {
                match self.client.deallocate(&fh, 0, size) {
                    Ok(()) => true,
                    Err(Error::Unsupported(_)) => false,
                    Err(e) => return Err(e),
                }
            }
            WipeAlgorithm::Random => false,
        };
        if !punched {
            crate::store::overwrite(alg, size, progress, |off, buf| {
                self.client.write_through(&to, off, buf)
            })?;
        }
        self.client.commit(&fh, &file)
    }

    fn health(&self) -> Option<std::result::Result<(), String>> {
        Some(match self.client.down() {
            Some(why) => Err(format!(
                "NFS server of {} is not answering ({why})",
                self.client.server()
            )),
            None => Ok(()),
        })
    }

    /// The NFS version in use (after `target`) and where locks are kept.
    fn info_lines(&self) -> Vec<crate::store::InfoLine> {
        vec![
            ("target", "nfs_version", self.client.version().to_string()),
            ("volumes", "locks", self.lock_state()),
        ]
    }

    /// The server answering, its round trips and reconnections.
    fn metrics(&self) -> Vec<crate::metrics::Family> {
        use crate::metrics::{Family, Sample};
        let c = self.client.counters();
        let up = self.health().is_none_or(|h| h.is_ok());
        vec![
            Family {
                name: "poolfs_nfs_server_up",
                help: "1 while a userspace NFS pool's server answers.",
                sample: Sample::Gauge(u64::from(up)),
            },
            Family {
                name: "poolfs_nfs_rtt_seconds",
                help: "Round trips of the NFS calls a userspace NFS pool's server answered.",
                sample: Sample::Histogram(c.rtt.snapshot()),
            },
            Family {
                name: "poolfs_nfs_reconnects",
                help: "Times a userspace NFS pool's server answered again after it had stopped answering.",
                sample: Sample::Counter(c.reconnects.load(std::sync::atomic::Ordering::Relaxed)),
            },
        ]
    }

    fn remote_locks(&self, obj: &Obj, path: &str) -> Option<Result<Arc<dyn RemoteLocks>>> {
        self.client.lease()?;
        let fh = match self.obj(obj) {
            Ok(o) => o.fh.clone(),
            Err(e) => return Some(Err(e)),
        };
        let l = self.locks_of(&fh);
        *l.path.lock() = path.to_string();
        Some(Ok(l))
    }

    /// Other hosts change the export too: what they did shows within this.
    fn cache_time(&self) -> Option<std::time::Duration> {
        Some(self.client.cache_time())
    }

    /// Notes: each new write verifier of the server.
    fn set_notes(&self, sink: crate::store::NoteSink) {
        self.client.set_notes(sink);
    }

    fn adopt(&self, w: crate::store::ParkedWrite) -> Result<()> {
        let file = self.file_of(&Bytes::from(w.key.clone()));
        self.client.resend(file, w)
    }
}

impl NfsStore {
    /// The lock state of file `fh`, shared by every open of it. Lock order:
    /// `locks`' map, then `files`' map (taken inside `make`); never the
    /// other way round.
    fn locks_of(&self, fh: &Bytes) -> Arc<NfsLocks> {
        self.locks.get_or(fh, || NfsLocks {
            client: self.client.clone(),
            fh: fh.clone(),
            path: Mutex::new(String::new()),
            state: Mutex::new(LockState::default()),
            file: self.file_of(fh),
        })
    }

    /// Waits for the writes in flight of file `fh`, if any: what the
    /// server says of it then includes them.
    fn settle(&self, fh: &Bytes) -> Result<()> {
        match self.files.get(fh) {
            Some(f) => f.behind.settle(self.client.timeout()),
            None => Ok(()),
        }
    }

    fn file_of(&self, fh: &Bytes) -> Arc<FileShared> {
        self.files.get_or(fh, FileShared::default)
    }

    fn open_fh(&self, fh: Bytes) -> Result<StoreOpen> {
        let locks = self.client.lease().map(|_| self.locks_of(&fh));
        let file = self.file_of(&fh);
        // No passthrough (there is no local file) and no kept page cache: an
        // open sees what other clients of the export wrote (close-to-open).
        Ok(StoreOpen {
            file: Box::new(NfsFile {
                client: self.client.clone(),
                locks,
                seen: AtomicU64::new(file.behind.failures()),
                file,
                fh,
                ra: ReadAhead::default(),
            }),
            passthrough: false,
        })
    }
}

/// An open volume of the export.
#[derive(Debug)]
struct NfsFile {
    client: Arc<Client>,
    fh: Bytes,
    /// The file's lock state (NFSv4.1): I/O stops once its locks are lost.
    locks: Option<Arc<NfsLocks>>,
    /// The file's state on this host, shared by its opens.
    file: Arc<FileShared>,
    /// The file's write-behind failures this open has seen (`Behind`).
    seen: AtomicU64,
    ra: ReadAhead,
}

impl NfsFile {
    /// I/O may go on: the file's locks, if any, are still ours.
    fn write_to(&self) -> WriteTo<'_> {
        WriteTo {
            fh: &self.fh,
            file: &self.file,
            seen: &self.seen,
        }
    }

    fn fenced(&self) -> Result<()> {
        self.locks.as_ref().map_or(Ok(()), |l| l.check())
    }

    /// ALLOCATE / DEALLOCATE where the server has them (NFSv4.2). Without
    /// them: punch-hole and zero-range write zeros (the content is right,
    /// the space stays allocated); mode 0 is `EOPNOTSUPP`, as the kernel's
    /// NFS client answers (`posix_fallocate` then writes itself).
    fn allocate(&self, offset: u64, length: u64, mode: i32) -> Result<()> {
        const KEEP: i32 = libc::FALLOC_FL_KEEP_SIZE;
        const PUNCH: i32 = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        const ZERO: i32 = libc::FALLOC_FL_ZERO_RANGE;
        let end = offset.saturating_add(length);
        match mode {
            0 => self.client.allocate(&self.fh, offset, length),
            KEEP => {
                let size = self.size()?;
                self.client.allocate(&self.fh, offset, length)?;
                // ALLOCATE may extend the file: put the size back.
                if end > size {
                    self.client.setattr(&self.fh, size_to(size))?;
                }
                Ok(())
            }
            PUNCH => match self.client.deallocate(&self.fh, offset, length) {
                Err(Error::Unsupported(_)) => {
                    let size = self.size()?;
                    self.zero(offset, end.min(size))
                }
                other => other,
            },
            m if m == ZERO || m == ZERO | KEEP => {
                let size = self.size()?;
                let stop = if m & KEEP != 0 { end.min(size) } else { end };
                self.zero(offset, stop)
            }
            _ => Err(Error::Unsupported(
                "this fallocate mode is not available on userspace NFS pools".into(),
            )),
        }
    }

    /// Writes zeros over [start, end).
    fn zero(&self, start: u64, end: u64) -> Result<()> {
        let chunk = self.client.max_io().clamp(4096, 1 << 20) as u64;
        let zeros = vec![0u8; chunk as usize];
        // Failures of writes behind stay for this open's write, fsync or
        // close to report.
        let unreported = AtomicU64::new(u64::MAX);
        let to = WriteTo {
            seen: &unreported,
            ..self.write_to()
        };
        let mut at = start;
        while at < end {
            let n = (end - at).min(chunk) as usize;
            self.client.write_through(&to, at, &zeros[..n])?;
            at += n as u64;
        }
        Ok(())
    }
}

impl OpenVolume for NfsFile {
    fn size(&self) -> Result<u64> {
        self.file.behind.settle(self.client.timeout())?;
        Ok(self.client.getattr(&self.fh)?.size)
    }

    fn truncate(&self, size: u64) -> Option<Result<()>> {
        Some(self.fenced().and_then(|()| {
            self.file.behind.drain(self.client.timeout(), &self.seen)?;
            let r = self.client.setattr(&self.fh, size_to(size));
            self.file.changed();
            r
        }))
    }

    fn read(&self, offset: u64, size: u32) -> Result<crate::volume::Data> {
        self.fenced()?;
        self.file.behind.settle(self.client.timeout())?;
        let changes = self.file.changes();
        self.client
            .wait(
                self.ra
                    .read(&self.client, &self.fh, changes, offset, size as usize),
            )
            .map(Into::into)
    }

    /// Sent now and answered from the runtime when the server has: not
    /// while this host's writes to the file are in flight (`read` waits for
    /// them) nor once its locks are lost (`read` says so).
    fn read_async(&self, offset: u64, size: u32, done: ReadDone) -> Option<ReadDone> {
        if self.fenced().is_err() || !self.file.behind.idle() {
            return Some(done);
        }
        let changes = self.file.changes();
        let fut = self
            .ra
            .read(&self.client, &self.fh, changes, offset, size as usize);
        self.client
            .complete(fut, move |r| done(r.map(crate::volume::Data::from)));
        None
    }

    fn write(&self, offset: u64, data: &[u8], _kill_privs_for: Option<&Ctx>) -> Result<u32> {
        self.fenced()?;
        self.client.write_behind(&self.write_to(), offset, data)?;
        // Counted at once, and again when the server has it (read-ahead).
        self.file.changed();
        if self.file.pending.bytes() > REPLAY_MOST {
            self.fsync(true)?;
        }
        self.client.commit_behind(&self.fh, &self.file.pending);
        Ok(data.len() as u32)
    }

    /// Parked, sent and answered at once, on the caller's thread: not once
    /// the file's locks are lost or its writes must wait for a COMMIT, nor
    /// when it would wait (`Client::try_write_behind`); those go to `write`,
    /// on the pool's threads.
    fn write_async(&self, offset: u64, data: &[u8], done: WriteDone) -> Option<WriteDone> {
        if self.fenced().is_err() || self.file.pending.bytes() > REPLAY_MOST {
            return Some(done);
        }
        if !self.client.try_write_behind(&self.write_to(), offset, data) {
            return Some(done);
        }
        self.file.changed();
        done(Ok(data.len() as u32));
        None
    }

    fn fsync(&self, _datasync: bool) -> Result<()> {
        self.fenced()?;
        self.file.behind.drain(self.client.timeout(), &self.seen)?;
        self.client.commit(&self.fh, &self.file)
    }

    fn inherit(&self, note: &[u8]) {
        self.file.pending.inherit(note);
    }

    fn fallocate(&self, offset: u64, length: u64, mode: i32) -> Result<()> {
        self.fenced()?;
        self.file.behind.drain(self.client.timeout(), &self.seen)?;
        let r = self.allocate(offset, length, mode);
        self.file.changed();
        r
    }

    /// SEEK_DATA / SEEK_HOLE: the server's SEEK (NFSv4.2) or, without it,
    /// the answer of a filesystem without holes (all data up to the size).
    fn lseek(&self, offset: i64, whence: i32) -> Result<i64> {
        let err = |errno| Error::Os { op: "lseek", errno };
        let off = u64::try_from(offset).map_err(|_| err(Errno::ENXIO))?;
        let data = match whence {
            libc::SEEK_DATA => true,
            libc::SEEK_HOLE => false,
            _ => return Err(err(Errno::EINVAL)),
        };
        let size = self.size()?;
        if off >= size {
            return Err(err(Errno::ENXIO));
        }
        match self.client.seek(&self.fh, off, data)? {
            Some((true, _)) if data => Err(err(Errno::ENXIO)),
            Some((eof, o)) if !data && (eof || o > size) => Ok(size as i64),
            Some((_, o)) => Ok(o as i64),
            None if data => Ok(offset),
            None => Ok(size as i64),
        }
    }

    /// Copies to any open volume: read and write through the daemon,
    /// blocks of zeros past the destination's end skipped (holes stay holes
    /// in the destination).
    fn copy_to(&self, off_in: u64, dst: &dyn OpenVolume, off_out: u64, len: u64) -> Result<u64> {
        self.file.behind.drain(self.client.timeout(), &self.seen)?;
        let chunk = self.client.max_io().clamp(4096, 1 << 20) as u64;
        // Zeros past the destination's end are not written: the copy keeps holes.
        let dst_size = dst.size()?;
        let mut extend_to = dst_size;
        let mut done = 0u64;
        while done < len {
            let want = (len - done).min(chunk) as usize;
            let buf = self.client.read(&self.fh, off_in + done, want)?;
            if buf.is_empty() {
                break;
            }
            let at = off_out + done;
            let end = at + buf.len() as u64;
            if !(at >= dst_size && buf.iter().all(|b| *b == 0)) {
                let mut put = 0;
                while put < buf.len() {
                    put += dst.write(at + put as u64, &buf[put..], None)? as usize;
                }
            }
            extend_to = extend_to.max(end);
            done += buf.len() as u64;
        }
        if extend_to > dst.size()? {
            match dst.truncate(extend_to) {
                Some(r) => r?,
                None => return Err(crate::store::unsupported("extending a copy's destination")),
            }
        }
        Ok(done)
    }

    /// What this host wrote reaches the server before close(2) returns
    /// (another client opening it then reads it).
    fn flush(&self) -> Result<()> {
        self.file.behind.drain(self.client.timeout(), &self.seen)
    }

    /// Close-to-open: what this open wrote is on the server's disk before
    /// another client opens the volume.
    fn close(&self) -> Result<()> {
        self.file.behind.drain(self.client.timeout(), &self.seen)?;
        self.client.commit(&self.fh, &self.file)
    }

    /// Each write is a round trip to the server or a parked copy:
    /// `O_DIRECT` writers on several threads (qemu's `aio=threads`) keep as
    /// many writes in flight; `Behind` orders overlapping ones.
    fn parallel_direct_writes(&self) -> bool {
        true
    }

    fn may_block(&self) -> bool {
        true
    }
}
