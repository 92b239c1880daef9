//! File locks on poolfs nodes (`locks` holds the mechanism): which open
//! file description a lock owner's locks live on, and the journal records
//! that let a successor server take them again.

use super::PoolFs;
use super::handles::OpenKind;
use super::locks::{Conflict, Owner, Target};
use crate::error::{Error, Result};
use crate::journal::LockOp;
use crate::store::LockRange as Range;

impl PoolFs {
    /// A lock held before a restart that could not be taken again: said in
    /// the log and the pool's `last_error`; where a server keeps the locks,
    /// the volume's I/O stops until it is closed (another host may write it).
    fn lock_lost(&self, ino: u64, fh: u64, owner: Owner, e: &Error) {
        let msg = format!(
            "a lock held before the server restarted could not be taken again ({e}): another process took it meanwhile"
        );
        tracing::error!(ino, "{msg}");
        if let Ok(h) = self.handles.get(fh, ino)
            && let OpenKind::Volume { node, .. } = &h.kind
        {
            node.pool
                .record_error(&format!("'{}': {msg}", node.path.read()));
        }
        if let Some(r) = self.locks.remote(owner) {
            r.lost();
        }
    }

    /// Where a new lock owner of node `ino` opened as `fh` keeps its
    /// locks: the store's server, or a new open file description on the
    /// volume's backing object, or else on the node's memfd (locks then
    /// hold between users of this mount only).
    fn lock_target(&self, ino: u64, fh: u64) -> Result<Target> {
        let h = self.handles.get(fh, ino)?;
        if let OpenKind::Volume { node, .. } = &h.kind {
            let path = node.path.read().clone();
            if let Some(r) = node.store().remote_locks(&node.obj, &path) {
                return r.map(Target::Remote);
            }
            if let Some(f) = node.store().lock_file(&node.obj) {
                return f.map(|f| Target::Ofd(std::sync::Arc::new(f)));
            }
        }
        self.locks.arena(ino)
    }

    /// `F_SETLK`/`flock(LOCK_NB)` for lock owner `owner` (its id, and the
    /// process asking) of node `ino`: `EAGAIN` when another owner's lock is
    /// in the way.
    pub fn setlk(&self, ino: u64, fh: u64, owner: (u64, u32), bsd: bool, r: Range) -> Result<()> {
        self.take_lock(ino, fh, owner, bsd, r, true)
    }

    /// `setlk`; `record`: journal it (not when taking again what the
    /// journal already holds).
    fn take_lock(
        &self,
        ino: u64,
        fh: u64,
        (owner, pid): (u64, u32),
        bsd: bool,
        r: Range,
        record: bool,
    ) -> Result<()> {
        let who: Owner = (ino, owner, bsd);
        self.locks
            .set(who, fh, pid, r, || self.lock_target(ino, fh))?;
        if record && let Some(j) = self.journal() {
            j.lock(
                who,
                LockOp {
                    fh,
                    start: r.start,
                    end: r.end,
                    typ: r.typ,
                },
            );
        }
        Ok(())
    }

    /// `F_GETLK`: the first lock of another owner in the way of `r`.
    pub fn getlk(&self, ino: u64, fh: u64, owner: u64, r: Range) -> Result<Option<Conflict>> {
        self.locks
            .test((ino, owner, false), fh, r, || self.lock_target(ino, fh))
    }

    /// `close(2)` of a descriptor of node `ino` by POSIX lock owner `owner`.
    pub fn flush_locks(&self, ino: u64, owner: u64) {
        if self.locks.flush(ino, owner)
            && let Some(j) = self.journal()
        {
            j.unlocked((ino, owner, false));
        }
    }

    /// The last close of handle `fh`: the locks taken through it go.
    pub(super) fn release_locks(&self, fh: u64) {
        let gone = self.locks.release(fh);
        if let Some(j) = self.journal() {
            for o in gone {
                j.unlocked(o);
            }
        }
    }

    /// Takes again the locks a predecessor server held (their open file
    /// descriptions closed with it); one another process took meanwhile is
    /// lost, and said so.
    pub(super) fn restore_locks(&self, state: &crate::journal::State) {
        for (&(ino, owner, bsd), ops) in &state.locks {
            for op in ops {
                let r = Range {
                    start: op.start,
                    end: op.end,
                    typ: op.typ,
                };
                if let Err(e) = self.take_lock(ino, op.fh, (owner, 0), bsd, r, false) {
                    self.lock_lost(ino, op.fh, (ino, owner, bsd), &e);
                }
            }
        }
    }
}
