//! Changes of the tree: directories and volumes made, removed and renamed,
//! each a request that a crash may cut (`PoolFs::change`).

use std::ffi::OsStr;

use nix::errno::Errno;

use super::watch::Change;
use super::{
    CONFIG_IN_PLACE, Ctx, Dir, Entry, Kind, Node, Opened, PoolFs, SetAttr, Unique, eisdir,
};
use crate::control::PoolFile;
use crate::error::{Error, Result};
use crate::journal;

impl PoolFs {
    pub fn mkdir(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        self.change(
            u,
            "mkdir",
            Errno::EEXIST,
            || self.mkdir_once(ctx, parent, name, mode),
            || self.lookup(parent, name),
        )
    }

    pub(super) fn mkdir_once(
        &self,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        if let Node::Root = self.node(parent)? {
            return self.define_pool(name);
        }
        let d = self.parent_for_new(parent)?;
        d.refuse_reserved(name)?;
        let watched = self.watch_dir(&d);
        let found = self.own(&[(&d, name, Change::Came)], || {
            d.store().mkdir(&ctx, d.obj(), name, mode)
        })?;
        Ok(self.adopt(&d, d.child_path(name), found, watched).1)
    }

    pub fn rmdir(&self, u: Unique, parent: u64, name: &OsStr) -> Result<()> {
        let run = || self.rmdir_once(parent, name);
        self.change(u, "rmdir", Errno::ENOENT, run, || Ok(()))
    }

    pub(super) fn rmdir_once(&self, parent: u64, name: &OsStr) -> Result<()> {
        if let Node::Root = self.node(parent)? {
            return self.undefine_pool(name);
        }
        let d = self.parent(parent)?;
        d.refuse_control(name, "removed")?;
        let victim = d.store().lookup(d.obj(), name).ok().map(|f| f.id);
        let rmdir = || {
            self.own(&[(&d, name, Change::Gone)], || {
                d.store().rmdir(d.obj(), name)
            })
        };
        match rmdir() {
            Err(e) if e.errno() == Errno::ENOTEMPTY && self.holds_only_removed(&d, name)? => {
                rmdir()?
            }
            r => r?,
        }
        if let Some(id) = victim {
            self.unnumber(&d, id);
        }
        Ok(())
    }

    pub fn create(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        self.change(
            u,
            "create",
            Errno::EEXIST,
            || self.create_once(ctx, parent, name, mode, flags),
            // The predecessor created it: open what it made.
            || self.create_once(ctx, parent, name, mode, flags & !libc::O_EXCL),
        )
    }

    pub(super) fn create_once(
        &self,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        let d = self.parent_for_new(parent)?;
        d.refuse_reserved(name)?;
        let watched = self.watch_dir(&d);
        let made = self.own(&[(&d, name, Change::Came)], || {
            d.store().create(&ctx, d.obj(), name, mode, flags)
        });
        self.overlays_changed();
        match made {
            Ok((found, opened)) => {
                let (node, entry) = self.adopt(&d, d.child_path(name), found, watched);
                // What a successor opens again: the file, not a new one.
                let reopen = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
                Ok((
                    entry,
                    self.register_volume(node, opened, reopen, ctx, None)?,
                ))
            }
            Err(Error::Os {
                errno: Errno::EEXIST,
                ..
            }) if flags & libc::O_EXCL == 0 => {
                // Appeared behind poolfs's back: open what is there, if it
                // is a volume (a name hidden from poolfs stays taken).
                let e = self.lookup_in(&d, name).map_err(|e| match e {
                    Error::Os {
                        errno: Errno::ENOENT,
                        ..
                    } => Error::Os {
                        op: "create",
                        errno: Errno::EEXIST,
                    },
                    e => e,
                })?;
                if e.attr.kind == Kind::Dir {
                    self.forget(e.attr.ino, 1);
                    return Err(eisdir("create"));
                }
                let opened = self
                    .open(ctx, e.attr.ino, flags)
                    .inspect_err(|_| self.forget(e.attr.ino, 1))?;
                if flags & libc::O_TRUNC != 0 && e.attr.size > 0 {
                    let sa = SetAttr {
                        size: Some(0),
                        fh: Some(opened.fh),
                        caller: ctx,
                        ..SetAttr::default()
                    };
                    if let Err(err) = self.setattr(e.attr.ino, sa) {
                        self.release(opened.fh);
                        self.forget(e.attr.ino, 1);
                        return Err(err);
                    }
                }
                Ok((e, opened))
            }
            Err(e) => Err(e),
        }
    }

    pub fn mknod(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::NotPermitted(
                "poolfs holds only volumes and directories: no FIFOs, sockets or device nodes"
                    .into(),
            ));
        }
        let made = || {
            let (e, o) =
                self.create_once(ctx, parent, name, mode, libc::O_RDONLY | libc::O_EXCL)?;
            self.release(o.fh);
            Ok(e)
        };
        self.change(u, "mknod", Errno::EEXIST, made, || {
            self.lookup(parent, name)
        })
    }

    pub fn unlink(&self, u: Unique, parent: u64, name: &OsStr) -> Result<()> {
        let run = || self.unlink_once(parent, name);
        self.change(u, "unlink", Errno::ENOENT, run, || Ok(()))
    }

    pub(super) fn unlink_once(&self, parent: u64, name: &OsStr) -> Result<()> {
        let d = self.parent(parent)?;
        d.refuse_control(name, "removed")?;
        let victim = self.refuse_backing_removal(&d, name, "deleted")?;
        if self.hide_if_open(&d, name, victim)? {
            return Ok(());
        }
        self.own(&[(&d, name, Change::Gone)], || {
            d.store().unlink(d.obj(), name)
        })?;
        self.overlay_removed(&d, &d.child_path(name));
        if let Some((id, 1)) = victim {
            self.unnumber(&d, id);
        }
        Ok(())
    }

    /// The object `id` of `d`'s pool is gone (its last name removed through
    /// poolfs): its number is no longer remembered, in the table or the
    /// journal, so they do not grow with every file ever made. What the
    /// kernel still holds under the number stays until it forgets it.
    pub(super) fn unnumber(&self, d: &Dir, id: (u64, u64)) {
        self.unnumber_key((d.pool.id, d.active.run, id.0, id.1));
    }

    pub(super) fn unnumber_key(&self, key: super::inodes::Key) {
        let gone = self.inodes.write().unnumber(key);
        if let Some(ino) = gone {
            self.wipes.forget(ino);
            if let Some(j) = self.journal() {
                j.unnumber(ino);
            }
        }
    }

    pub fn rename(
        &self,
        u: Unique,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        let run = || self.rename_once(parent, name, newparent, newname, flags);
        self.change(u, "rename", Errno::ENOENT, run, || Ok(()))
    }

    pub(super) fn rename_once(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if matches!(self.node(parent)?, Node::Root) || matches!(self.node(newparent)?, Node::Root) {
            return self.rename_pool(parent, name, newparent, newname);
        }
        let from = self.parent(parent)?;
        let to = self.parent(newparent)?;
        if from.pool.id != to.pool.id || from.active.run != to.active.run {
            return Err(Error::CrossPool(format!(
                "volumes cannot move between pools ('{}' to '{}'): copy them instead",
                from.pool.name(),
                to.pool.name()
            )));
        }
        from.refuse_control(name, "renamed")?;
        if to.top() && newname == PoolFile::Config.name() {
            return Err(Error::Exists(format!(
                "'config' of pool '{}' cannot be replaced by a rename (as editors and `sed -i` save); {CONFIG_IN_PLACE}",
                to.pool.name()
            )));
        }
        to.refuse_reserved(newname)?;
        let same = parent == newparent && name == newname;
        if !same && flags & (libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) == 0 {
            let victim = self.refuse_backing_removal(&to, newname, "replaced")?;
            // A volume in the way that is open here is hidden, as `rm`
            // would (once the volume to move is known to exist).
            if victim.is_some() && from.store().lookup(from.obj(), name).is_ok() {
                self.hide_if_open(&to, newname, victim)?;
            }
        }
        let watched = self.watch_dir(&to);
        let mut changes = vec![(&from, name, Change::Gone), (&to, newname, Change::Came)];
        if flags & libc::RENAME_EXCHANGE != 0 {
            // Each name also gets the other's object.
            changes.extend([(&from, name, Change::Came), (&to, newname, Change::Gone)]);
        }
        let renamed = self.own(&changes, || {
            from.store()
                .rename(from.obj(), name, to.obj(), newname, flags)
        });
        self.overlays_changed();
        renamed?;
        self.moved(&to, newname, watched);
        Ok(())
    }

    /// `newname` of `to` is where a node moved: its path (used in messages
    /// and to tell the watcher's events from poolfs's own) and its cache
    /// time follow, and so does its reconnect record (a forgotten file is
    /// found again only where it was last seen).
    pub(super) fn moved(&self, to: &Dir, newname: &OsStr, watched: bool) {
        if let Ok(found) = to.store().lookup(to.obj(), newname) {
            let key = (to.pool.id, to.active.run, found.id.0, found.id.1);
            let path = to.child_path(newname);
            let node = self.inodes.read().node_of(key);
            if let Some(n) = node {
                *n.path.write() = path.clone();
                n.watched
                    .store(watched, std::sync::atomic::Ordering::Relaxed);
            }
            let moved = self.inodes.write().repath(key, &path);
            if let (Some((ino, how)), Some(j)) = (moved, self.journal()) {
                j.number(&journal::Number {
                    ino,
                    pool: to.pool.id,
                    id: found.id,
                    key: how.key.0,
                    path,
                });
            }
        }
    }
}
