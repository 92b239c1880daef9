//! Kernel passthrough of volume I/O: one backing id per open volume inode,
//! shared by its opens, registered at the first and closed at the last;
//! what a predecessor server registered is adopted.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use fuser::BackingId;

use super::FuseAdapter;
use super::convert::ttl;
use crate::core::recovery::BackingRecord;
use crate::core::{Cache, Inval};

/// Backing ids registered with the kernel for passthrough: one per open
/// volume inode, shared by all its opens, closed at its last release.
#[derive(Debug, Default)]
pub(super) struct Passthrough {
    by_ino: HashMap<u64, (Registered, usize)>,
    /// Handle -> (inode, opened for writing).
    by_fh: HashMap<u64, (u64, bool)>,
    /// Writable passthrough opens per inode: their writes, and above all
    /// their mmap writes, change the backing file behind the daemon.
    writers: HashMap<u64, usize>,
}

/// A backing id this server owns, or one a predecessor registered (reused
/// at the inode's next open, closed with an ioctl at its last release).
#[derive(Debug, Clone)]
pub(super) enum Registered {
    Id(Arc<BackingId>),
    Raw(u32),
}

impl Passthrough {
    /// Takes the registrations of the handles a predecessor left open.
    pub(super) fn inherit(&mut self, backing: &[BackingRecord]) {
        for k in backing {
            let e = self
                .by_ino
                .entry(k.ino)
                .or_insert((Registered::Raw(k.id), 0));
            e.1 += 1;
            self.by_fh.insert(k.fh, (k.ino, k.writable));
            if k.writable {
                *self.writers.entry(k.ino).or_insert(0) += 1;
            }
        }
    }
}

impl FuseAdapter {
    /// The backing id for a new open of volume `ino` (registering one at the
    /// inode's first open); `None` means: serve this open from the daemon.
    ///
    /// Writes through a backing file (and mmap writes above all) change its
    /// times and size without the daemon seeing them: while an inode has a
    /// writable passthrough open its attributes are never cached
    /// (`attr_ttl`), and what the kernel cached before the first such open
    /// is dropped here. Read-only opens change nothing and keep the cache.
    pub(super) fn backing_for(
        &self,
        ino: u64,
        fh: u64,
        flags: i32,
        created: bool,
        register: impl FnOnce(&std::fs::File) -> std::io::Result<BackingId>,
        adopt: Option<&dyn Fn(u32) -> BackingId>,
    ) -> Option<Arc<BackingId>> {
        let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let (id, first_writer) = self.register_backing(ino, fh, writable, register, adopt)?;
        self.core.backing_registered(&BackingRecord {
            fh,
            ino,
            id: id.id(),
            writable,
        });
        // A file created by this request has nothing cached yet.
        if first_writer && !created {
            self.core.invalidator().send_now(Inval::Attr { ino });
        }
        Some(id)
    }

    /// `backing_for` under the passthrough lock; `true` for an inode's
    /// first writable open.
    pub(super) fn register_backing(
        &self,
        ino: u64,
        fh: u64,
        writable: bool,
        register: impl FnOnce(&std::fs::File) -> std::io::Result<BackingId>,
        adopt: Option<&dyn Fn(u32) -> BackingId>,
    ) -> Option<(Arc<BackingId>, bool)> {
        let mut pt = self.pt.lock();
        let id = match pt.by_ino.get_mut(&ino) {
            Some((Registered::Id(id), n)) => {
                *n += 1;
                id.clone()
            }
            Some((reg @ Registered::Raw(_), n)) => {
                // A predecessor's id: the inode must keep it.
                let (Registered::Raw(raw), Some(adopt)) = (reg.clone(), adopt) else {
                    return None;
                };
                let id = Arc::new(adopt(raw));
                *reg = Registered::Id(id.clone());
                *n += 1;
                id
            }
            None => {
                let id = match self.core.passthrough_file(ino) {
                    Ok(f) => register(&f).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match id {
                    Ok(id) => {
                        let id = Arc::new(id);
                        pt.by_ino.insert(ino, (Registered::Id(id.clone()), 1));
                        id
                    }
                    Err(e) => {
                        tracing::warn!(
                            ino,
                            "kernel passthrough unavailable for this volume, the daemon serves it: {e}"
                        );
                        return None;
                    }
                }
            }
        };
        pt.by_fh.insert(fh, (ino, writable));
        let mut first_writer = false;
        if writable {
            let n = pt.writers.entry(ino).or_insert(0);
            first_writer = *n == 0;
            *n += 1;
        }
        Some((id, first_writer))
    }

    /// How long the kernel may cache attributes of `ino`: never while it is
    /// open for writing through a backing file (see `backing_for`).
    pub(super) fn attr_ttl(&self, ino: u64, c: Cache) -> Duration {
        if matches!(c, Cache::Backing | Cache::Watched)
            && self.passthrough
            && self.pt.lock().writers.contains_key(&ino)
        {
            return Duration::ZERO;
        }
        ttl(c)
    }

    pub(super) fn release_backing(&self, fh: u64) {
        let mut pt = self.pt.lock();
        let Some((ino, writable)) = pt.by_fh.remove(&fh) else {
            return;
        };
        if writable && let Some(n) = pt.writers.get_mut(&ino) {
            *n -= 1;
            if *n == 0 {
                pt.writers.remove(&ino);
            }
        }
        if let Some((_, n)) = pt.by_ino.get_mut(&ino) {
            *n -= 1;
            if *n == 0
                && let Some((Registered::Raw(id), _)) = pt.by_ino.remove(&ino)
                && let Some(dev) = &self.dev
                && let Err(e) = crate::sys::backing_close(dev.as_fd(), id)
            {
                tracing::warn!(ino, "cannot close a predecessor's backing id {id}: {e}");
            }
        }
    }
}
