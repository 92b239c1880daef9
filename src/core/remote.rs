//! Userspace NFS pools in the namespace. Their volumes and sub-directories
//! are reached by NFS file handle through the pool's `nfs::Client`, never by a
//! local descriptor; everything else (numbering, handles, open accounting,
//! reserved names) follows the same rules as the local path.
//!
//! Invariants: no poolfs lock is held across an NFS call (each call is
//! bounded by the pool's timeout); only regular files and directories are
//! shown; names must be UTF-8 (NFS names are strings here).

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use nix::errno::Errno;
use parking_lot::RwLock;

use super::handles::{DirEntry, Kind, OpenKind};
use super::inodes::TableNode;
use super::volume_ops::{MAX_FILE, VolumeFacts, qcow2_recreate, qcow2_resize};
use super::{Attr, Cache, Ctx, Entry, Node, Opened, PoolFs, SetAttr, StatFs, Time};
use crate::control::volume::{ResizeRequest, WipeAlgorithm, WipeStatus};
use crate::control::{self, VolFile};
use crate::error::{Error, Result};
use crate::nfs::{Client, Pending, SetStat, Stat};
use crate::pool::{Active, Pool};
use crate::volume::format::{self, Format};

/// A volume or sub-directory of a running userspace NFS pool.
#[derive(Debug)]
pub struct RemoteNode {
    pub ino: u64,
    pub pool: Arc<Pool>,
    pub active: Arc<Active>,
    pub client: Arc<Client>,
    pub fh: Bytes,
    pub is_dir: bool,
    /// Path relative to the pool, for messages.
    pub path: RwLock<String>,
}

impl RemoteNode {
    pub fn is_live(&self) -> bool {
        self.pool.is_current(self.active.run)
    }
}

impl TableNode for RemoteNode {
    fn owner(&self) -> (u32, u64) {
        (self.pool.id, self.active.run)
    }
}

/// A directory of a userspace NFS pool: its top or a sub-directory.
pub(super) struct RemoteDir {
    pool: Arc<Pool>,
    active: Arc<Active>,
    client: Arc<Client>,
    fh: Bytes,
    dir: Option<Arc<RemoteNode>>,
}

impl RemoteDir {
    fn top(&self) -> bool {
        self.dir.is_none()
    }

    fn child_path(&self, name: &str) -> String {
        match &self.dir {
            Some(d) => format!("{}/{}", d.path.read(), name),
            None => name.to_string(),
        }
    }
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

fn stat_attr(ino: u64, st: &Stat) -> Attr {
    let t = |(s, ns): (u32, u32)| SystemTime::UNIX_EPOCH + std::time::Duration::new(s.into(), ns);
    Attr {
        ino,
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

impl PoolFs {
    /// `ino` as a directory of a userspace NFS pool (`None`: another kind of node).
    pub(super) fn remote_dir(&self, ino: u64) -> Result<Option<RemoteDir>> {
        match self.node(ino)? {
            Node::PoolDir(pool) => {
                let Some(active) = pool.active() else {
                    return Ok(None);
                };
                let Some(client) = active.nfs().cloned() else {
                    return Ok(None);
                };
                Ok(Some(RemoteDir {
                    fh: client.root().clone(),
                    pool,
                    active,
                    client,
                    dir: None,
                }))
            }
            Node::Remote(r) if r.is_dir => Ok(Some(RemoteDir {
                pool: r.pool.clone(),
                active: r.active.clone(),
                client: r.client.clone(),
                fh: r.fh.clone(),
                dir: Some(r),
            })),
            Node::Remote(_) => Err(Error::Os {
                op: "lookup",
                errno: Errno::ENOTDIR,
            }),
            _ => Ok(None),
        }
    }

    fn remote_node(&self, d: &RemoteDir, name: &str, fh: Bytes, st: &Stat) -> Arc<RemoteNode> {
        let key = (d.pool.id, d.active.run, st.fsid, st.fileid);
        let path = d.child_path(name);
        let node = self.remote.write().lookup(key, |ino| RemoteNode {
            ino,
            pool: d.pool.clone(),
            active: d.active.clone(),
            client: d.client.clone(),
            fh,
            is_dir: st.is_dir,
            path: RwLock::new(path.clone()),
        });
        *node.path.write() = path;
        node
    }

    pub(super) fn remote_lookup(&self, d: &RemoteDir, name: &OsStr) -> Result<Entry> {
        let name = utf8(name)?;
        if d.top() && control::is_reserved(name) {
            return Err(enoent("lookup"));
        }
        let (fh, st) = d.client.lookup(&d.fh, name)?;
        if !st.is_dir && !st.is_file {
            return Err(enoent("lookup"));
        }
        let node = self.remote_node(d, name, fh, &st);
        Ok(Entry {
            attr: stat_attr(node.ino, &st),
            cache: Cache::Backing,
        })
    }

    pub(super) fn remote_getattr(&self, r: &RemoteNode) -> Result<Attr> {
        Ok(stat_attr(r.ino, &r.client.getattr(&r.fh)?))
    }

    pub(super) fn remote_setattr(&self, r: &RemoteNode, sa: SetAttr) -> Result<Entry> {
        let s = SetStat {
            mode: sa.mode.map(|m| m & 0o7777),
            uid: sa.uid,
            gid: sa.gid,
            size: sa.size,
            atime: nfs_time(sa.atime),
            mtime: nfs_time(sa.mtime),
        };
        if r.is_dir && s.size.is_some() {
            return Err(Error::Os {
                op: "truncate",
                errno: Errno::EISDIR,
            });
        }
        r.client.setattr(&r.fh, s)?;
        Ok(Entry {
            attr: self.remote_getattr(r)?,
            cache: Cache::Backing,
        })
    }

    fn refuse_reserved_remote(d: &RemoteDir, name: &str) -> Result<()> {
        if d.top() && control::is_reserved(name) {
            return Err(Error::Exists(format!(
                "'{name}' is a reserved name in a pool and cannot be a volume"
            )));
        }
        Ok(())
    }

    /// New objects belong to the caller, as on a local pool (the daemon
    /// speaks to the server as root).
    fn give_to(client: &Client, fh: &Bytes, st: &mut Stat, ctx: Ctx) -> Result<()> {
        if (st.uid, st.gid) != (ctx.uid, ctx.gid) {
            client.setattr(
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

    pub(super) fn remote_mkdir(
        &self,
        ctx: Ctx,
        d: &RemoteDir,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        let name = utf8(name)?;
        Self::refuse_reserved_remote(d, name)?;
        let (fh, mut st) = d.client.mkdir(&d.fh, name, mode)?;
        Self::give_to(&d.client, &fh, &mut st, ctx)?;
        let node = self.remote_node(d, name, fh, &st);
        Ok(Entry {
            attr: stat_attr(node.ino, &st),
            cache: Cache::Backing,
        })
    }

    pub(super) fn remote_create(
        &self,
        ctx: Ctx,
        d: &RemoteDir,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        let name = utf8(name)?;
        Self::refuse_reserved_remote(d, name)?;
        let (fh, st) = match d.client.create(&d.fh, name, mode) {
            Ok((fh, mut st)) => {
                Self::give_to(&d.client, &fh, &mut st, ctx)?;
                (fh, st)
            }
            Err(Error::Os {
                errno: Errno::EEXIST,
                ..
            }) if flags & libc::O_EXCL == 0 => {
                let (fh, st) = d.client.lookup(&d.fh, name)?;
                if !st.is_file {
                    return Err(Error::Os {
                        op: "create",
                        errno: Errno::EISDIR,
                    });
                }
                (fh, st)
            }
            Err(e) => return Err(e),
        };
        let node = self.remote_node(d, name, fh, &st);
        let entry = Entry {
            attr: stat_attr(node.ino, &st),
            cache: Cache::Backing,
        };
        if flags & libc::O_TRUNC != 0 && st.size > 0 {
            node.client.setattr(
                &node.fh,
                SetStat {
                    size: Some(0),
                    ..SetStat::default()
                },
            )?;
        }
        Ok((entry, self.remote_open(node)?))
    }

    pub(super) fn remote_unlink(&self, d: &RemoteDir, name: &OsStr, dir: bool) -> Result<()> {
        let name = utf8(name)?;
        if d.top() && control::is_reserved(name) {
            return Err(Error::NotPermitted(format!(
                "'{name}' is a control file and cannot be removed"
            )));
        }
        if dir {
            d.client.rmdir(&d.fh, name)
        } else {
            d.client.remove(&d.fh, name)
        }
    }

    pub(super) fn remote_rename(
        &self,
        from: &RemoteDir,
        name: &OsStr,
        to: &RemoteDir,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if from.pool.id != to.pool.id || from.active.run != to.active.run {
            return Err(Error::CrossPool(format!(
                "volumes cannot move between pools ('{}' to '{}'): copy them instead",
                from.pool.name(),
                to.pool.name()
            )));
        }
        if flags != 0 {
            return Err(Error::Unsupported(
                "rename flags (noreplace, exchange) are not available on userspace NFS pools"
                    .into(),
            ));
        }
        let (name, newname) = (utf8(name)?, utf8(newname)?);
        if from.top() && control::is_reserved(name) {
            return Err(Error::NotPermitted(format!(
                "'{name}' is a control file and cannot be renamed"
            )));
        }
        Self::refuse_reserved_remote(to, newname)?;
        from.client.rename(&from.fh, name, &to.fh, newname)?;
        if let Ok((fh, st)) = to.client.lookup(&to.fh, newname) {
            self.remote_node(to, newname, fh, &st);
        }
        Ok(())
    }

    /// The directory's volumes and sub-directories (reserved names hidden at
    /// the top, like a local pool's shadowed files).
    pub(super) fn remote_list(&self, d: &RemoteDir, out: &mut Vec<DirEntry>) -> Result<()> {
        let entries = d.client.list(&d.fh)?;
        let mut t = self.remote.write();
        for e in entries {
            if !(e.stat.is_file || e.stat.is_dir) || (d.top() && control::is_reserved(&e.name)) {
                continue;
            }
            out.push(DirEntry {
                ino: t.number((d.pool.id, d.active.run, e.stat.fsid, e.stat.fileid)),
                kind: if e.stat.is_dir { Kind::Dir } else { Kind::File },
                name: e.name.into(),
            });
        }
        Ok(())
    }

    /// The names at the top of a userspace NFS pool (for invalidation; a
    /// server that does not answer gives none).
    pub(super) fn remote_names(&self, active: &Active) -> Vec<String> {
        active
            .nfs()
            .and_then(|c| c.list(c.root()).ok())
            .map(|v| v.into_iter().map(|e| e.name).collect())
            .unwrap_or_default()
    }

    pub(super) fn remote_open(&self, node: Arc<RemoteNode>) -> Result<Opened> {
        if node.is_dir {
            return Err(Error::Os {
                op: "open",
                errno: Errno::EISDIR,
            });
        }
        if let Some(why) = node.client.down() {
            self.check_health(&node.pool);
            return Err(Error::Sys {
                what: format!(
                    "cannot open '{}': the NFS server of {} is not answering ({why})",
                    node.path.read(),
                    node.client.server()
                ),
                errno: Errno::EIO,
            });
        }
        let (ino, pool, run, path) = (
            node.ino,
            node.pool.clone(),
            node.active.run,
            node.path.read().clone(),
        );
        let fh = self.admit_open(ino, &pool, run, &path, || OpenKind::Remote {
            node,
            pending: Pending::default(),
        })?;
        // No passthrough (there is no local file) and no kept page cache: an
        // open sees what other clients of the export wrote (close-to-open).
        Ok(Opened {
            fh,
            direct_io: false,
            volume: false,
            keep_cache: false,
        })
    }

    /// Space on the export, in 4 KiB blocks.
    pub(super) fn remote_statfs(&self, client: &Client) -> Result<StatFs> {
        let s = client.space()?;
        Ok(StatFs {
            blocks: s.total / 4096,
            bfree: s.free / 4096,
            bavail: s.avail / 4096,
            files: s.files,
            ffree: s.ffree,
            bsize: 4096,
            namelen: crate::config::NAME_MAX as u32,
            frsize: 4096,
        })
    }

    /// SEEK_DATA / SEEK_HOLE: the server's SEEK (NFSv4.2) or, without it,
    /// the answer of a filesystem without holes (all data up to the size).
    pub(super) fn remote_lseek(&self, r: &RemoteNode, offset: i64, whence: i32) -> Result<i64> {
        let enxio = Error::Os {
            op: "lseek",
            errno: Errno::ENXIO,
        };
        let off = u64::try_from(offset).map_err(|_| Error::Os {
            op: "lseek",
            errno: Errno::ENXIO,
        })?;
        let data = match whence {
            libc::SEEK_DATA => true,
            libc::SEEK_HOLE => false,
            _ => {
                return Err(Error::Os {
                    op: "lseek",
                    errno: Errno::EINVAL,
                });
            }
        };
        let size = r.client.getattr(&r.fh)?.size;
        if off >= size {
            return Err(enxio);
        }
        match r.client.seek(&r.fh, off, data)? {
            Some((true, _)) if data => Err(enxio),
            Some((eof, o)) if !data && (eof || o > size) => Ok(size as i64),
            Some((_, o)) => Ok(o as i64),
            None if data => Ok(offset),
            None => Ok(size as i64),
        }
    }

    /// fallocate: ALLOCATE / DEALLOCATE where the server has them (NFSv4.2).
    /// Without them: punch-hole and zero-range write zeros (the content is
    /// right, the space stays allocated); mode 0 is `EOPNOTSUPP`, as the
    /// kernel's NFS client answers (`posix_fallocate` then writes itself).
    pub(super) fn remote_fallocate(
        &self,
        r: &RemoteNode,
        pending: &Pending,
        offset: u64,
        length: u64,
        mode: i32,
    ) -> Result<()> {
        const KEEP: i32 = libc::FALLOC_FL_KEEP_SIZE;
        const PUNCH: i32 = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        const ZERO: i32 = libc::FALLOC_FL_ZERO_RANGE;
        let end = offset.saturating_add(length);
        match mode {
            0 => r.client.allocate(&r.fh, offset, length),
            KEEP => {
                let size = r.client.getattr(&r.fh)?.size;
                r.client.allocate(&r.fh, offset, length)?;
                // ALLOCATE may extend the file: put the size back.
                if end > size {
                    r.client.setattr(
                        &r.fh,
                        SetStat {
                            size: Some(size),
                            ..SetStat::default()
                        },
                    )?;
                }
                Ok(())
            }
            PUNCH => match r.client.deallocate(&r.fh, offset, length) {
                Err(Error::Unsupported(_)) => {
                    let size = r.client.getattr(&r.fh)?.size;
                    self.remote_zero(r, pending, offset, end.min(size))
                }
                other => other,
            },
            m if m == ZERO || m == ZERO | KEEP => {
                let size = r.client.getattr(&r.fh)?.size;
                let stop = if m & KEEP != 0 { end.min(size) } else { end };
                self.remote_zero(r, pending, offset, stop)
            }
            _ => Err(Error::Unsupported(
                "this fallocate mode is not available on userspace NFS pools".into(),
            )),
        }
    }

    /// Writes zeros over [start, end).
    fn remote_zero(&self, r: &RemoteNode, pending: &Pending, start: u64, end: u64) -> Result<()> {
        let chunk = r.client.max_io().clamp(4096, 1 << 20) as u64;
        let zeros = vec![0u8; chunk as usize];
        let mut at = start;
        while at < end {
            let n = (end - at).min(chunk) as usize;
            r.client.write(&r.fh, at, &zeros[..n], pending)?;
            at += n as u64;
        }
        Ok(())
    }

    /// Copies within one export: read and write through the daemon, blocks
    /// of zeros skipped (holes stay holes in the destination).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn remote_copy(
        &self,
        src: &RemoteNode,
        off_in: u64,
        dst: &RemoteNode,
        pending: &Pending,
        off_out: u64,
        len: u64,
    ) -> Result<u64> {
        if !Arc::ptr_eq(&src.client, &dst.client) {
            return Err(Error::Os {
                op: "copy_file_range",
                errno: Errno::EXDEV,
            });
        }
        let chunk = src.client.max_io().clamp(4096, 1 << 20) as u64;
        // Zeros past the destination's end are not written: the copy keeps holes.
        let dst_size = dst.client.getattr(&dst.fh)?.size;
        let mut extend_to = dst_size;
        let mut done = 0u64;
        while done < len {
            let want = (len - done).min(chunk) as usize;
            let buf = src.client.read(&src.fh, off_in + done, want)?;
            if buf.is_empty() {
                break;
            }
            let at = off_out + done;
            let end = at + buf.len() as u64;
            if at >= dst_size && buf.iter().all(|b| *b == 0) {
                extend_to = extend_to.max(end);
            } else {
                dst.client.write(&dst.fh, at, &buf, pending)?;
                extend_to = extend_to.max(end);
            }
            done += buf.len() as u64;
        }
        if extend_to > dst.client.getattr(&dst.fh)?.size {
            dst.client.setattr(
                &dst.fh,
                SetStat {
                    size: Some(extend_to),
                    ..SetStat::default()
                },
            )?;
        }
        Ok(done)
    }

    // ---- volume control files (.vol/<volume>/{info,resize,wipe}) -------------

    fn remote_facts(r: &RemoteNode) -> Result<VolumeFacts> {
        if r.is_dir {
            return Err(Error::Invalid(format!(
                "'{}' is a directory, not a volume",
                r.path.read()
            )));
        }
        let st = r.client.getattr(&r.fh)?;
        let head = r.client.read(&r.fh, 0, format::PROBE_LEN)?;
        Ok(VolumeFacts {
            probe: format::probe(&head),
            size: st.size,
            allocated: st.used,
        })
    }

    /// Where external tools (qemu-img) reach the volume: through this mount.
    fn mounted_path(&self, r: &RemoteNode) -> Result<String> {
        match &*self.mountpoint.read() {
            Some(m) => Ok(m
                .join(r.pool.name())
                .join(&*r.path.read())
                .display()
                .to_string()),
            None => Err(Error::Unsupported(
                "qcow2 volumes of a userspace NFS pool are changed through the mount, and there is none"
                    .into(),
            )),
        }
    }

    pub(super) fn remote_render_volume(&self, r: &Arc<RemoteNode>, f: VolFile) -> Result<String> {
        let name = r.path.read().clone();
        self.render_volume_facts(r.ino, &r.pool.name(), name, f, || Self::remote_facts(r))
    }

    pub(super) fn remote_volume_write(
        &self,
        r: &Arc<RemoteNode>,
        f: VolFile,
        text: &str,
    ) -> Result<()> {
        match f {
            VolFile::Info => Err(Error::ReadOnly("'info' is read-only".into())),
            VolFile::Resize => self.remote_resize(r, &text.parse()?),
            VolFile::Wipe => {
                let alg = text.parse()?;
                let v = Self::remote_facts(r)?;
                // The path is copied: no lock on it is held during the wipe.
                let path = r.path.read().clone();
                self.run_wipe(r.ino, &r.pool, &path, r.active.run, alg, || {
                    self.remote_do_wipe(r, alg, v.size)
                })?;
                // qemu-img reaches the volume through the mount, so this runs
                // after the wipe has let opens in again.
                if v.probe.format == Format::Qcow2 {
                    qcow2_recreate(&self.mounted_path(r)?, v.capacity()).inspect_err(|e| {
                        self.set_wipe(r.ino, WipeStatus::Failed(e.to_string()));
                    })?;
                }
                Ok(())
            }
        }
        .inspect(|()| self.invalidate_now(super::Inval::Inode { ino: r.ino }))
    }

    /// SPEC 3.5 on an NFS volume: SETATTR of the size (raw), ALLOCATE for
    /// `allocate` (NFSv4.2; otherwise refused, nothing changed), `qemu-img
    /// resize` through the mount (qcow2).
    fn remote_resize(&self, r: &RemoteNode, req: &ResizeRequest) -> Result<()> {
        let v = Self::remote_facts(r)?;
        if v.probe.format == Format::Qcow2 {
            // No lock on the path while qemu-img runs: it comes back through
            // the mount and its lookups update the path.
            let name = r.path.read().clone();
            return qcow2_resize(&self.mounted_path(r)?, &name, &v, req);
        }
        let current = v.size;
        let target = req.plan(current, MAX_FILE)?;
        let size = |n| SetStat {
            size: Some(n),
            ..SetStat::default()
        };
        if req.allocate && target > current {
            let free = r.client.space()?.free;
            if target - current > free {
                return Err(Error::NoSpace(format!(
                    "allocating {} bytes needs more than the {free} bytes available in the pool",
                    target - current
                )));
            }
            r.client.setattr(&r.fh, size(target))?;
            if let Err(e) = r.client.allocate(&r.fh, current, target - current) {
                // Nothing half done: back to the old size.
                let _ = r.client.setattr(&r.fh, size(current));
                return Err(match e {
                    Error::Unsupported(_) => Error::Unsupported(format!(
                        "allocating space for '{}' needs NFSv4.2 ALLOCATE, which this server or protocol version does not have",
                        r.path.read()
                    )),
                    e => e,
                });
            }
            return Ok(());
        }
        r.client.setattr(&r.fh, size(target))
    }

    /// SPEC 3.6 on an NFS volume of `size` bytes: DEALLOCATE (NFSv4.2) or
    /// zeros written for `zero`/`trim`, random data for `random`.
    fn remote_do_wipe(&self, r: &RemoteNode, alg: WipeAlgorithm, size: u64) -> Result<()> {
        let pending = Pending::default();
        let punched = match alg {
            WipeAlgorithm::Zero | WipeAlgorithm::Trim => {
                match r.client.deallocate(&r.fh, 0, size) {
                    Ok(()) => true,
                    Err(Error::Unsupported(_)) => false,
                    Err(e) => return Err(e),
                }
            }
            WipeAlgorithm::Random => false,
        };
        if !punched {
            self.overwrite(r.ino, alg, size, |off, buf| {
                r.client.write(&r.fh, off, buf, &pending).map(drop)
            })?;
        }
        r.client.commit(&r.fh, &pending)
    }
}
