//! Taking over from a predecessor server: the numbers and handles the
//! kernel holds, restored from its journal.

use super::handles::{OpenFile, OpenKind};
use super::inodes::{self, Reconnect};
use super::{Ctx, Node, PoolFs, eisdir};
use crate::error::Result;
use crate::journal;
use crate::store::NodeKey;

impl PoolFs {
    /// Takes over what a predecessor server left: the numbers it gave the
    /// kernel (objects of pools running again are found through their
    /// store keys when the kernel next asks) and the handles the kernel
    /// holds (volumes opened again with their flags, counted by their pools
    /// so `stop` still waits for them; directories listed again); a wipe it
    /// was running shows as interrupted until it is requested again (a
    /// resent request runs it from the start). Returns the handles that
    /// could not be restored (their objects are gone).
    pub fn restore(&self, state: &journal::State) -> Vec<u64> {
        self.recovery.take_over(state);
        {
            let mut t = self.inodes.write();
            for n in state.numbers.values() {
                let Some(active) = self.reg.by_id(n.pool).and_then(|p| p.active()) else {
                    continue;
                };
                let key = (n.pool, active.run, n.id.0, n.id.1);
                let how = Reconnect {
                    key: NodeKey(n.key.clone()),
                    path: n.path.clone(),
                };
                t.restore_number(n.ino, key, how);
            }
        }
        self.mark_wipes_interrupted(state.wipes.iter().copied());
        if let Some(j) = self.journal() {
            for ino in &state.wipes {
                j.wipe(*ino, false);
            }
        }
        for (pool, note) in state.notes.iter().filter(|(_, n)| !n.is_empty()) {
            if let Some(a) = self.reg.by_id(*pool).and_then(|p| p.active()) {
                a.store.succeed(note);
            }
        }
        let mut lost = Vec::new();
        for h in state.handles.values() {
            self.handles.skip_past(h.fh);
            if let Err(e) = self.restore_handle(h, &state.notes) {
                tracing::warn!(fh = h.fh, ino = h.ino, "cannot restore an open handle: {e}");
                lost.push(h.fh);
            }
        }
        self.restore_locks(state);
        self.adopt_parked();
        lost
    }

    /// Writes the predecessor answered before its backend had them go to
    /// their pools' stores, before any request is served.
    fn adopt_parked(&self) {
        let Some(j) = self.journal() else { return };
        let parked = j.take_parked();
        if !parked.is_empty() {
            tracing::info!(
                "sent {} writes the previous server had answered before its backend had them",
                parked.len()
            );
        }
        for w in parked {
            let bytes = w.data.len();
            let r = match self.reg.by_id(w.pool).and_then(|p| p.active()) {
                Some(a) => a.store.adopt(w),
                None => Err(crate::error::Error::PoolInactive(
                    "its pool is not running".into(),
                )),
            };
            if let Err(e) = r {
                tracing::error!("{bytes} bytes the previous server had written are lost: {e}");
            }
        }
    }

    pub(super) fn restore_handle(
        &self,
        h: &journal::Handle,
        notes: &std::collections::BTreeMap<u32, Vec<u8>>,
    ) -> Result<()> {
        let base = inodes::decode_mirror(h.ino).map_or(h.ino, |(b, _)| b);
        if inodes::decode(base).is_none() && self.inodes.write().add_lookup(base).is_none() {
            self.revive(base)?;
        }
        if h.kind == journal::HandleKind::Control {
            return self.restore_control(h);
        }
        if h.kind == journal::HandleKind::Dir {
            let entries = self.list_dir(h.ino)?;
            self.handles.skip_past(h.fh);
            self.handles.insert_at(
                h.fh,
                OpenFile {
                    ino: h.ino,
                    kind: OpenKind::Dir {
                        entries: parking_lot::Mutex::new(entries),
                    },
                },
            );
            // Already in the journal: restored handles are not recorded again.
            return Ok(());
        }
        let Node::Object(o) = self.node(h.ino)? else {
            return Err(eisdir("open"));
        };
        let ctx = Ctx {
            uid: h.uid,
            gid: h.gid,
            pid: 0,
        };
        let opened = o.store().open(&ctx, &o.obj, h.flags)?;
        if let Some(note) = notes.get(&o.pool.id).filter(|n| !n.is_empty()) {
            opened.file.inherit(note);
        }
        self.register_volume(o, opened, h.flags, ctx, Some(h.fh))
            .map(drop)
    }

    /// Records an open handle for a successor server.
    pub(super) fn journal_open(
        &self,
        fh: u64,
        ino: u64,
        kind: journal::HandleKind,
        flags: i32,
        ctx: Ctx,
    ) {
        if let Some(j) = self.journal() {
            j.open_handle(&journal::Handle {
                fh,
                ino,
                kind,
                flags,
                uid: ctx.uid,
                gid: ctx.gid,
            });
        }
    }
}
