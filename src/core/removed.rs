//! Volumes removed while open, in pools whose backend would take a removed
//! volume from its opens (`Store::hides_removed_open`: an NFS server
//! forgets a removed file's handle, RBD removes no open image). ext4
//! unlinks an open file and frees it at its last close; here `rm` (or a
//! rename over it) renames a volume open on this host to a hidden name
//! (`store::REMOVED_PREFIX`, then this daemon's host id, the server's
//! generation and the node's number) that listings and lookups skip and no
//! new volume may take, and its last close here removes it. The hidden name
//! is the durable mark: it is the node's path, which the journal keeps, so a
//! successor server that took the opens over removes it at their last close
//! too. A hidden file of this host that no node here holds open (its host
//! died with no successor, or the removal at the last close failed) is a
//! leftover: a listing of its directory removes it (`leftovers`). Other
//! hosts' hidden files are theirs: whether they are still open there cannot
//! be told from here.
//!
//! No lock is held across the store's rename or removal: the hiding and
//! the last close may both see the volume closed and remove it; the second
//! removal finds nothing (`ENOENT`, ignored).

use std::ffi::{OsStr, OsString};

use nix::errno::Errno;

use super::watch::Change;
use super::{Dir, PoolFs, backing};
use crate::error::Result;
use crate::store::{REMOVED_PREFIX, is_removed_name};

impl PoolFs {
    /// Hides `name` of `d` instead of removing it when it is open here and
    /// its store would take it from its opens; `victim` is its identity
    /// and link count. True when hidden.
    pub(super) fn hide_if_open(
        &self,
        d: &Dir,
        name: &OsStr,
        victim: Option<((u64, u64), u32)>,
    ) -> Result<bool> {
        let Some((id, 1)) = victim else {
            return Ok(false);
        };
        if !d.store().hides_removed_open() {
            return Ok(false);
        }
        let node = self
            .inodes
            .read()
            .node_of((d.pool.id, d.active.run, id.0, id.1));
        let Some(node) = node.filter(|n| self.handles.volume_opens(n.ino) > 0) else {
            return Ok(false);
        };
        // What would refuse the removal at the last close refuses it now.
        d.store().refuse_removal(d.obj(), name)?;
        let hidden = OsString::from(format!(
            "{}{:08x}-{:x}",
            self.hidden_prefix(),
            self.generation,
            node.ino
        ));
        let watched = self.watch_dir(d);
        let changes = [
            (d, name, Change::Gone),
            (d, hidden.as_os_str(), Change::Came),
        ];
        self.own(&changes, || {
            d.store().rename(d.obj(), name, d.obj(), &hidden, 0)
        })?;
        self.moved(d, &hidden, watched);
        tracing::info!(
            pool = %d.pool.name(),
            "'{}' removed while open: hidden as '{}' until its last close",
            d.child_path(name),
            hidden.to_string_lossy()
        );
        // Its last close may have come before its path was the hidden one.
        self.removed_closed(node.ino);
        Ok(true)
    }

    /// The start of the hidden names this host gives (`REMOVED_PREFIX`, the
    /// first 16 digits of the host id, a dash).
    fn hidden_prefix(&self) -> String {
        let host = self.reg.host_id();
        format!("{REMOVED_PREFIX}{}-", host.get(..16).unwrap_or(host))
    }

    /// True when the hidden name `name` of `d`, of object `id`, is a
    /// leftover of this host: given here, and no node here holds it open.
    /// The caller holds the inode table (`t`), which takes the handle table
    /// after it.
    pub(super) fn is_leftover(
        &self,
        t: &super::inodes::InodeTable,
        d: &Dir,
        name: &str,
        id: (u64, u64),
    ) -> bool {
        if !name.starts_with(&self.hidden_prefix()) {
            return false;
        }
        t.node_of((d.pool.id, d.active.run, id.0, id.1))
            .is_none_or(|n| self.handles.volume_opens(n.ino) == 0)
    }

    /// Removes the leftovers `names` of `d` (`is_leftover`; no lock held).
    pub(super) fn remove_leftovers(&self, d: &Dir, names: Vec<OsString>) {
        for name in names {
            match d.store().unlink(d.obj(), &name) {
                Ok(()) => tracing::info!(
                    pool = %d.pool.name(),
                    "removed '{}', left by this host after a removal while open",
                    d.child_path(&name)
                ),
                Err(e) if e.errno() == Errno::ENOENT => {}
                Err(e) => tracing::warn!(
                    pool = %d.pool.name(),
                    "cannot remove '{}', left by this host after a removal while open: {e}",
                    d.child_path(&name)
                ),
            }
        }
    }

    /// For `rmdir` of `name` of `d`, which the store found not empty: true
    /// when it holds only this host's hidden volumes, which are then moved
    /// to the pool's top (those open here: the node follows, as a rename)
    /// or removed (leftovers), so the directory goes as on ext4, where the
    /// files' opens keep them. False, with nothing done, when it holds
    /// anything else.
    pub(super) fn holds_only_removed(&self, d: &Dir, name: &OsStr) -> Result<bool> {
        if !d.store().hides_removed_open() {
            return Ok(false);
        }
        let sub = d.store().lookup(d.obj(), name)?;
        let listed = d.store().list(Some(&sub.obj))?;
        let ours = self.hidden_prefix();
        if !listed
            .iter()
            .all(|e| e.name.to_string_lossy().starts_with(&ours))
        {
            return Ok(false);
        }
        let top = Dir {
            pool: d.pool.clone(),
            active: d.active.clone(),
            dir: None,
        };
        for e in listed {
            let key = (d.pool.id, d.active.run, e.id.0, e.id.1);
            let node = self.inodes.read().node_of(key);
            if node.is_none_or(|n| self.handles.volume_opens(n.ino) == 0) {
                match d.store().unlink(Some(&sub.obj), &e.name) {
                    Err(err) if err.errno() != Errno::ENOENT => return Err(err),
                    _ => continue,
                }
            }
            // Hidden names are unique (host, generation, node): free at the top.
            let watched = self.watch_dir(&top);
            self.own(&[(&top, e.name.as_os_str(), Change::Came)], || {
                d.store().rename(Some(&sub.obj), &e.name, None, &e.name, 0)
            })?;
            self.moved(&top, &e.name, watched);
            // Its last close may have come before its path was the new one.
            let node = self.inodes.read().node_of(key);
            if let Some(n) = node {
                self.removed_closed(n.ino);
            }
        }
        Ok(true)
    }

    /// The last open of node `ino` here may have closed: a volume removed
    /// while open (its path's name a hidden one) is removed now.
    pub(super) fn removed_closed(&self, ino: u64) {
        let Some(node) = self.inodes.read().get(ino) else {
            return;
        };
        let path = {
            let path = node.path.read();
            if !is_removed_name(path.rsplit('/').next().unwrap_or_default()) {
                return;
            }
            path.clone()
        };
        let (dir, name) = match path.rsplit_once('/') {
            Some((dir, name)) => (Some(dir), name),
            None => (None, path.as_str()),
        };
        if !node.store().hides_removed_open() || self.handles.volume_opens(ino) > 0 {
            return;
        }
        let store = node.store();
        let removed = dir
            .map(|d| backing::lookup_path(store, d))
            .transpose()
            .and_then(|parent| store.unlink(parent.as_ref(), OsStr::new(name)));
        match removed {
            Ok(()) => {
                tracing::info!(pool = %node.pool.name(), "removed '{path}' at its last close")
            }
            Err(e) if e.errno() == Errno::ENOENT => {}
            Err(e) => {
                tracing::warn!(pool = %node.pool.name(), "cannot remove '{path}', removed while open, at its last close: {e}");
                return;
            }
        }
        let key = self.inodes.read().reconnect_of(ino).map(|(k, _)| k);
        if let Some(key) = key {
            self.unnumber_key(key);
        }
    }
}
