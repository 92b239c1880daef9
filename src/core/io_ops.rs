//! Open volumes and control files: open, read, write, sync, release.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use nix::errno::Errno;

use super::handles::{Ctl, Handle, OpenFile, OpenKind};
use super::inodes::Object;
use super::inval::Inval;
use super::{Ctx, MAX_COPY, Node, Opened, PoolFs, Unique, eisdir};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::StoreOpen;
use crate::volume::aio::{ReadDone, WriteDone};

/// Who a write comes from and how (the kernel's `FUSE_WRITE_*` flags).
#[derive(Debug, Clone, Copy, Default)]
pub struct Writer {
    /// The kernel asks the daemon to clear set-id bits for this caller (it
    /// lacks CAP_FSETID, `FUSE_HANDLE_KILLPRIV_V2`).
    pub kill_privs_for: Option<Ctx>,
    /// The write-back of the kernel's cached pages (`FUSE_WRITE_CACHE`),
    /// not a caller's `write(2)`.
    pub from_cache: bool,
    /// The writer's file table, when the kernel names it
    /// (`FUSE_WRITE_LOCKOWNER`).
    pub lock_owner: Option<u64>,
}

impl PoolFs {
    pub fn open(&self, ctx: Ctx, ino: u64, flags: i32) -> Result<Opened> {
        match self.node(ino)? {
            Node::PoolCtl(pool, f) => self.open_control(ino, Ctl::Pool(pool, f), flags),
            Node::VolCtl(o, f) => self.open_control(ino, Ctl::Volume(o, f), flags),
            Node::Object(o) if !o.is_dir => {
                // A store that watches its storage says now whether it answers.
                self.check_health(&o.pool);
                let opened = o.store().open(&ctx, &o.obj, flags)?;
                if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
                    self.overlays_changed();
                }
                self.register_volume(o, opened, flags, ctx, None)
            }
            Node::Object(_)
            | Node::PoolDir(_)
            | Node::Root
            | Node::VolRoot(_)
            | Node::VolDir(_) => Err(eisdir("open")),
        }
    }

    /// Registers an open of a volume (at handle `at`, one a predecessor
    /// server gave out, or a new one): refused while the volume is being
    /// wiped; counted by its pool, so `stop` waits for it; journaled. The wipes
    /// lock is held until the handle is in the table, so a wipe cannot start in
    /// between.
    pub(super) fn register_volume(
        &self,
        node: Arc<Object>,
        opened: StoreOpen,
        flags: i32,
        ctx: Ctx,
        at: Option<u64>,
    ) -> Result<Opened> {
        // The stamp is taken first: no syscall under the wipes lock.
        let keep_cache = self.keep_cache.load(std::sync::atomic::Ordering::Relaxed)
            && opened
                .file
                .stamp()
                .is_some_and(|s| *node.stamp.lock() == Some(s));
        let parallel_writes = flags & libc::O_DIRECT != 0 && opened.file.parallel_direct_writes();
        let path = node.path.read().clone();
        let ino = node.ino;
        let fh = self.wipes.open_unless_wiping(ino, &path, || {
            let fh = at.unwrap_or_else(|| self.handles.reserve());
            node.pool.register_open(fh, &path, node.active.run)?;
            let direct = flags & libc::O_DIRECT != 0;
            if !direct {
                node.cached_opens.fetch_add(1, Ordering::SeqCst);
            }
            let writer = (flags & libc::O_ACCMODE != libc::O_RDONLY).then(|| path.clone());
            if let Some(p) = &writer {
                self.overlay_writer(&node.pool, node.active.run, p, true);
            }
            self.handles.insert_at(
                fh,
                OpenFile {
                    ino: node.ino,
                    kind: OpenKind::Volume {
                        node,
                        file: opened.file,
                        direct,
                        writer,
                    },
                },
            );
            Ok(fh)
        })?;
        if at.is_none() {
            self.journal_open(fh, ino, journal::HandleKind::Volume, flags, ctx);
        }
        Ok(Opened {
            fh,
            direct_io: parallel_writes,
            volume: opened.passthrough,
            keep_cache,
            parallel_writes,
        })
    }

    /// The open handle `fh`, if it was opened on `ino`: looked up once per
    /// request, then passed to each call that serves it.
    pub fn handle(&self, ino: u64, fh: u64) -> Result<Handle> {
        self.handles.get(fh, ino)
    }

    pub fn read(&self, h: &Handle, offset: u64, size: u32) -> Result<crate::volume::Data> {
        match &h.kind {
            OpenKind::Volume { file, .. } => file.read(offset, size),
            OpenKind::Control { snapshot, .. } => {
                let start = (offset as usize).min(snapshot.len());
                let end = start.saturating_add(size as usize).min(snapshot.len());
                Ok(snapshot[start..end].to_vec().into())
            }
            OpenKind::Dir { .. } => Err(eisdir("read")),
        }
    }

    /// `read` of a volume with no thread waiting on it: `done` gets the
    /// bytes at completion. `done` comes back where the volume's store
    /// cannot, and for control files (the caller then calls `read`).
    pub fn read_async(
        &self,
        h: &Handle,
        offset: u64,
        size: u32,
        done: ReadDone,
    ) -> Option<ReadDone> {
        let OpenKind::Volume { file, .. } = &h.kind else {
            return Some(done);
        };
        // The handle (its descriptor) lives until the completion has run.
        let keep = h.clone();
        file.read_async(
            offset,
            size,
            Box::new(move |r| {
                done(r);
                drop(keep);
            }),
        )
    }

    /// `write` of a volume with no thread waiting on it, as `read_async`;
    /// only a plain write by the caller (no set-id bits to drop, not the
    /// write-back of the kernel's pages), and, when it is direct, not while
    /// another open may cache the range: `write` drops it from the kernel's
    /// cache before it answers, which the completion thread cannot do (the
    /// kernel may wait there for a read this very thread completes).
    pub fn write_async(
        self: &Arc<Self>,
        h: &Handle,
        offset: u64,
        data: &[u8],
        w: Writer,
        done: WriteDone,
    ) -> Option<WriteDone> {
        let OpenKind::Volume {
            file, node, direct, ..
        } = &h.kind
        else {
            return Some(done);
        };
        if w.from_cache
            || w.kill_privs_for.is_some()
            || (*direct && node.cached_opens.load(Ordering::SeqCst) > 0)
        {
            return Some(done);
        }
        let (keep, core, direct) = (h.clone(), self.clone(), *direct);
        file.write_async(
            offset,
            data,
            Box::new(move |r| {
                // An open that may cache the range came meanwhile: its
                // pages go shortly after (as a concurrent buffered read of
                // a direct write's range on a local filesystem).
                if let (Ok(n), OpenKind::Volume { node, .. }) = (&r, &keep.kind)
                    && direct
                    && node.cached_opens.load(Ordering::SeqCst) > 0
                {
                    core.inval.send(Inval::Range {
                        ino: keep.ino,
                        offset,
                        len: u64::from(*n),
                    });
                }
                done(r);
                drop(keep);
            }),
        )
    }

    /// `w`: who writes and how (`Writer`); `u`: the request, for a
    /// control write (`apply_once`).
    pub fn write(&self, u: Unique, h: &Handle, offset: u64, data: &[u8], w: Writer) -> Result<u32> {
        let (ino, kill_privs_for) = (h.ino, w.kill_privs_for);
        match &h.kind {
            OpenKind::Volume { file, .. } if w.from_cache => {
                file.write_cached(offset, data, kill_privs_for.as_ref())
            }
            OpenKind::Volume {
                file, node, direct, ..
            } => {
                let n = file.write(offset, data, kill_privs_for.as_ref())?;
                // The kernel drops a file's cached pages before a direct
                // write, but after an asynchronous one (AIO, io_uring) it
                // does not: a buffered read running meanwhile may have
                // cached what the backing held before. Like a local
                // filesystem at direct I/O completion, the range written is
                // dropped from the cache before the write is answered, when
                // another open may have cached it.
                if *direct && node.cached_opens.load(Ordering::SeqCst) > 0 {
                    self.inval.send_now(Inval::Range {
                        ino,
                        offset,
                        len: u64::from(n),
                    });
                }
                Ok(n)
            }
            OpenKind::Control { ctl, document, .. } => {
                self.control_write(u, ctl, document.as_ref(), data, w.lock_owner)?;
                Ok(data.len() as u32)
            }
            OpenKind::Dir { .. } => Err(eisdir("write")),
        }
    }

    /// The file the kernel should read and write for volume `ino` in kernel
    /// passthrough: opened read-write once per inode and shared by all its
    /// opens (the kernel allows one backing file per inode). The caller's
    /// access mode and `O_DIRECT` still apply: the kernel checks and passes
    /// them per request.
    pub fn passthrough_file(&self, ino: u64) -> Result<std::fs::File> {
        match self.node(ino)? {
            Node::Object(o) if !o.is_dir => o.store().passthrough_file(&o.obj),
            _ => Err(Error::Os {
                op: "open",
                errno: Errno::EINVAL,
            }),
        }
    }

    /// `close(2)` of one descriptor: a `config` document written through it
    /// is applied now, so `close` returns the refusal.
    /// `lock_owner`: the closer's file table (see `Document`).
    pub fn flush(&self, h: &Handle, lock_owner: u64) -> Result<()> {
        match &h.kind {
            OpenKind::Control {
                ctl,
                document: Some(doc),
                ..
            } => {
                let writer = doc.lock().writer;
                if writer.is_some_and(|w| w != lock_owner) {
                    // Another holder of the descriptor closed its copy.
                    return Ok(());
                }
                self.control_close(ctl, doc)
            }
            OpenKind::Volume { file, .. } => file.flush(),
            _ => Ok(()),
        }
    }

    pub fn release(&self, fh: u64) {
        self.release_locks(fh);
        let Some(h) = self.handles.remove(fh) else {
            return;
        };
        if let Some(j) = self.journal() {
            j.release(fh);
        }
        match &h.kind {
            OpenKind::Control {
                ctl,
                document: Some(doc),
                ..
            } => {
                if let Err(e) = self.control_close(ctl, doc) {
                    // Only reached without a flush (the kernel always sends one at close).
                    tracing::warn!("config written without close(2) was refused: {e}");
                }
            }
            OpenKind::Volume {
                node,
                file,
                direct,
                writer,
            } => {
                if !direct {
                    node.cached_opens.fetch_sub(1, Ordering::SeqCst);
                }
                if let Some(p) = writer {
                    self.overlay_writer(&node.pool, node.active.run, p, false);
                }
                // What it wrote may have made it an overlay.
                self.overlays_changed();
                if self.keep_cache.load(std::sync::atomic::Ordering::Relaxed) {
                    *node.stamp.lock() = file.stamp();
                }
                if let Err(e) = file.close() {
                    tracing::error!(pool = %node.pool.name(), "closing '{}': {e}", node.path.read());
                }
                // The descriptor closes with the handle, and a volume removed
                // while open goes, before a stop waiting for the pool's open
                // volumes sees this one gone.
                let (pool, ino) = (node.pool.clone(), node.ino);
                drop(h);
                self.removed_closed(ino);
                pool.release_open(fh);
            }
            _ => {}
        }
    }

    /// Records what INIT negotiated: whether the kernel passes volume I/O
    /// through. Without passthrough every open goes through the page cache,
    /// so opens may keep the pages of files unchanged since poolfs closed
    /// them (passthrough writes would bypass that cache).
    pub fn set_io_passthrough(&self, on: bool) {
        self.passthrough
            .store(on, std::sync::atomic::Ordering::Relaxed);
        self.keep_cache
            .store(!on, std::sync::atomic::Ordering::Relaxed);
    }

    /// See `set_io_passthrough`.
    pub fn io_passthrough(&self) -> bool {
        self.passthrough.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether INIT switched the connection to FUSE-over-io_uring: the
    /// journal keeps it for a successor server, which gets no INIT.
    pub fn set_io_uring(&self, on: bool) {
        self.uring.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// See `set_io_uring`.
    pub fn io_uring(&self) -> bool {
        self.uring.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn volume_file(h: &Handle) -> Result<&dyn crate::store::OpenVolume> {
        match &h.kind {
            OpenKind::Volume { file, .. } => Ok(&**file),
            _ => Err(Error::Unsupported(
                "only volumes support this operation".into(),
            )),
        }
    }

    pub fn fsync(&self, h: &Handle, datasync: bool) -> Result<()> {
        match &h.kind {
            OpenKind::Volume { file, .. } => file.fsync(datasync),
            _ => Ok(()),
        }
    }

    pub fn fsyncdir(&self, ino: u64) -> Result<()> {
        match self.node(ino)? {
            Node::Object(o) if o.is_dir => o.store().fsyncdir(Some(&o.obj)),
            Node::PoolDir(p) => match p.active() {
                Some(a) => a.store.fsyncdir(None),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub fn fallocate(&self, h: &Handle, offset: u64, length: u64, mode: i32) -> Result<()> {
        Self::volume_file(h)?.fallocate(offset, length, mode)
    }

    pub fn lseek(&self, h: &Handle, offset: i64, whence: i32) -> Result<i64> {
        Self::volume_file(h)?.lseek(offset, whence)
    }

    pub fn copy_file_range(
        &self,
        from: &Handle,
        off_in: u64,
        to: &Handle,
        off_out: u64,
        len: u64,
    ) -> Result<u64> {
        let dst = Self::volume_file(to)?;
        Self::volume_file(from)?.copy_to(off_in, dst, off_out, len.min(MAX_COPY))
    }
}
