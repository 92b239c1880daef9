//! Looking names up and the attributes of nodes: what the kernel asks
//! before it opens or changes anything, and the statfs and extended
//! attributes of store objects.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use nix::errno::Errno;

use super::handles::OpenKind;
use super::inodes::{self, Object, Reconnect};
use super::{
    Attr, Cache, Dir, Entry, Kind, Node, PoolFs, SetAttr, StatFs, XattrReply, eisdir, enotdir,
    estale,
};
use crate::control::{self, PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::journal;
use crate::store::Found;
use parking_lot::RwLock;

impl PoolFs {
    // ---- lookup and attributes -------------------------------------------------

    pub fn lookup(&self, parent: u64, name: &OsStr) -> Result<Entry> {
        if name == "." {
            return self.lookup_self(parent);
        }
        if name == ".." {
            return self.lookup_parent(parent);
        }
        match self.node(parent)? {
            Node::Root => {
                let pool = self
                    .reg
                    .get(&name.to_string_lossy())
                    .ok_or_else(|| Error::NotFound("no such pool".into()))?;
                Ok(Entry {
                    attr: self.pool_dir_attr(&pool)?,
                    cache: Cache::Backing,
                })
            }
            Node::PoolDir(pool) => {
                if let Some(f) = PoolFile::from_name(&name.to_string_lossy()) {
                    return Ok(Entry {
                        attr: self.ctl_attr(inodes::pool_ctl_ino(pool.id, f), f.writable()),
                        cache: Cache::Never,
                    });
                }
                if name == control::VOL_DIR {
                    if pool.active().is_none() {
                        return Err(Error::NotFound("an inactive pool has no .vol".into()));
                    }
                    return Ok(Entry {
                        attr: self.dir_attr(inodes::vol_root_ino(pool.id), 0o755, 2),
                        cache: Cache::Never,
                    });
                }
                self.lookup_in(&self.parent(parent)?, name)
            }
            Node::VolRoot(_) if control::is_reserved(&name.to_string_lossy()) => {
                Err(Error::NotFound("no such volume".into()))
            }
            Node::VolDir(o) if !o.is_dir => {
                let f = VolFile::from_name(&name.to_string_lossy())
                    .filter(|f| *f != VolFile::Clone || o.store().can_clone())
                    .ok_or_else(|| Error::NotFound("no such control file".into()))?;
                // Forgotten since `node` found it (after a takeover the
                // kernel forgets the nodes it looked up from the
                // predecessor, which this server did not count): found
                // again through its store key, as `node` does.
                if self.inodes.write().add_lookup(o.ino).is_none() {
                    self.revive(o.ino).map_err(|_| {
                        Error::NotFound(
                            "no such volume (its pool stopped or it was removed)".into(),
                        )
                    })?;
                }
                Ok(Entry {
                    attr: self.ctl_attr(inodes::mirror_file(o.ino, f), f.writable()),
                    cache: Cache::Never,
                })
            }
            n @ (Node::VolRoot(_) | Node::VolDir(_)) => {
                let e = self.lookup_in(&self.mirrored(n)?, name)?;
                Ok(self.mirror_entry(e))
            }
            _ => self.lookup_in(&self.parent(parent)?, name),
        }
    }

    /// The `.vol` mirror directory of a looked-up object.
    pub(super) fn mirror_entry(&self, e: Entry) -> Entry {
        Entry {
            attr: self.dir_attr(inodes::mirror_dir(e.attr.ino), 0o755, 2),
            cache: Cache::Never,
        }
    }

    /// Looks `name` up in a directory of a running pool: one kernel lookup
    /// of the node.
    pub(super) fn lookup_in(&self, d: &Dir, name: &OsStr) -> Result<Entry> {
        let hidden = || {
            d.store().hides_removed_open() && crate::store::is_removed_name(&name.to_string_lossy())
        };
        if d.top() && control::is_reserved(&name.to_string_lossy()) || hidden() {
            return Err(Error::Os {
                op: "lookup",
                errno: Errno::ENOENT,
            });
        }
        // Watched before the store is asked: no change can fall between.
        let watched = self.watch_dir(d);
        let found = d.store().lookup(d.obj(), name)?;
        Ok(self.adopt(d, d.child_path(name), found, watched).1)
    }

    /// Records what a store found as a node of `d`'s pool (one kernel
    /// lookup); its store key is kept once per number (see `lookup_self`),
    /// taken with no lock held.
    pub(super) fn adopt(
        &self,
        d: &Dir,
        path: String,
        found: Found,
        watched: bool,
    ) -> (Arc<Object>, Entry) {
        let key = (d.pool.id, d.active.run, found.id.0, found.id.1);
        let is_dir = found.attr.kind == Kind::Dir;
        // Taken before the table's lock: it tells a reused identity apart.
        let store_key = d.store().key(&found.obj);
        let (node, unremembered) =
            self.inodes
                .write()
                .lookup_unremembered(key, store_key.as_ref(), |ino| Object {
                    ino,
                    pool: d.pool.clone(),
                    active: d.active.clone(),
                    is_dir,
                    obj: found.obj,
                    stamp: parking_lot::Mutex::new(None),
                    path: RwLock::new(path.clone()),
                    watched: Default::default(),
                    told: Default::default(),
                    cached_opens: Default::default(),
                });
        *node.path.write() = path.clone();
        node.watched
            .store(watched, std::sync::atomic::Ordering::Relaxed);
        if unremembered && let Some(k) = store_key {
            if let Some(j) = self.journal() {
                j.number(&journal::Number {
                    ino: node.ino,
                    pool: d.pool.id,
                    id: found.id,
                    key: k.0.clone(),
                    path: path.clone(),
                });
            }
            self.inodes
                .write()
                .remember(node.ino, key, Reconnect { key: k, path });
        }
        let attr = Attr {
            ino: node.ino,
            ..found.attr
        };
        let entry = Entry {
            cache: self.told(&node, &attr),
            attr,
        };
        (node, entry)
    }

    /// `LOOKUP(ino, ".")`: the kernel asks for a node by number, from a
    /// file handle it gave out (`open_by_handle_at`, an NFS re-export)
    /// after it forgot the node. Counts as a lookup of that node.
    pub(super) fn lookup_self(&self, ino: u64) -> Result<Entry> {
        if inodes::decode(ino).is_some() {
            return self.getattr(ino);
        }
        let base = inodes::decode_mirror(ino).map_or(ino, |(b, _)| b);
        if self.inodes.write().add_lookup(base).is_none() {
            self.revive(base)?;
        }
        self.getattr(ino)
    }

    /// Finds a forgotten node of a pool's current run again through its
    /// store key and counts one lookup of it; `ESTALE` when it is gone or
    /// its run ended.
    pub(super) fn revive(&self, ino: u64) -> Result<()> {
        let (key, how) = self.inodes.read().reconnect_of(ino).ok_or_else(estale)?;
        let pool = self.reg.by_id(key.0).ok_or_else(estale)?;
        let active = pool
            .active()
            .filter(|a| a.run == key.1)
            .ok_or_else(estale)?;
        let found = active.store.reconnect(&how.key, &how.path)?;
        if found.id != (key.2, key.3) {
            return Err(estale());
        }
        let path = active.store.path_of(&found.obj).unwrap_or(how.path);
        let is_dir = found.attr.kind == Kind::Dir;
        self.inodes.write().lookup(key, |ino| Object {
            ino,
            pool: pool.clone(),
            active: active.clone(),
            is_dir,
            obj: found.obj,
            stamp: parking_lot::Mutex::new(None),
            path: RwLock::new(path),
            watched: Default::default(),
            told: Default::default(),
            cached_opens: Default::default(),
        });
        Ok(())
    }

    /// `LOOKUP(ino, "..")`: the parent of a directory, for the kernel to
    /// reconnect a directory it found by file handle.
    pub(super) fn lookup_parent(&self, ino: u64) -> Result<Entry> {
        match self.node(ino)? {
            Node::Root | Node::PoolDir(_) => self.getattr(inodes::ROOT),
            Node::Object(o) if o.is_dir => {
                let path = o.path.read().clone();
                let Some((up, _)) = path.rsplit_once('/') else {
                    return self.getattr(inodes::pool_dir_ino(o.pool.id));
                };
                // Walk down from the pool's top; only the last step counts
                // as the kernel's lookup.
                let mut d = Dir {
                    pool: o.pool.clone(),
                    active: o.active.clone(),
                    dir: None,
                };
                let mut walked = Vec::new();
                let mut entry = None;
                for comp in up.split('/') {
                    let e = self.lookup_in(&d, OsStr::new(comp))?;
                    let node = self.inodes.read().get(e.attr.ino).ok_or_else(estale)?;
                    walked.push(e.attr.ino);
                    d.dir = Some(node);
                    entry = Some(e);
                }
                walked.pop();
                for w in walked {
                    self.forget(w, 1);
                }
                entry.ok_or_else(estale)
            }
            _ => Err(enotdir("lookup")),
        }
    }

    pub fn forget(&self, ino: u64, n: u64) {
        if inodes::decode(ino).is_none() {
            let base = inodes::decode_mirror(ino).map_or(ino, |(b, _)| b);
            let gone = self.inodes.write().forget(base, n);
            if let Some(node) = gone
                && node.is_dir
            {
                self.unwatch(node.ino);
            }
        }
    }

    pub fn getattr(&self, ino: u64) -> Result<Entry> {
        let (attr, cache) = match self.node(ino)? {
            Node::Root => (self.dir_attr(ino, 0o755, 2), Cache::Backing),
            Node::PoolDir(p) => (self.pool_dir_attr(&p)?, Cache::Backing),
            Node::PoolCtl(_, f) => (self.ctl_attr(ino, f.writable()), Cache::Never),
            Node::Object(o) => {
                let attr = Attr {
                    ino,
                    ..o.store().getattr(&o.obj)?
                };
                (attr, self.told(&o, &attr))
            }
            Node::VolRoot(_) | Node::VolDir(_) => (self.dir_attr(ino, 0o755, 2), Cache::Never),
            Node::VolCtl(_, f) => (self.ctl_attr(ino, f.writable()), Cache::Never),
        };
        Ok(Entry { attr, cache })
    }

    pub fn setattr(&self, ino: u64, sa: SetAttr) -> Result<Entry> {
        match self.node(ino)? {
            Node::PoolCtl(..) | Node::VolCtl(..) => {
                // O_TRUNC on a control file does nothing (sysfs rule).
                if sa.mode.is_some() || sa.uid.is_some() || sa.gid.is_some() {
                    return Err(Error::NotPermitted(
                        "control files keep their owner and mode".into(),
                    ));
                }
            }
            Node::Root | Node::VolRoot(_) | Node::VolDir(_) => {
                return Err(Error::NotPermitted(
                    "the mount's root and the .vol tree cannot be changed".into(),
                ));
            }
            Node::PoolDir(p) => {
                let a = p.active().ok_or_else(|| {
                    Error::NotPermitted(format!(
                        "pool '{}' is not running; its directory cannot be changed",
                        p.name()
                    ))
                })?;
                if sa.size.is_some() {
                    return Err(eisdir("truncate"));
                }
                a.store.setattr(None, &sa, None)?;
            }
            Node::Object(o) => {
                let via = sa.fh.and_then(|fh| self.handles.get(fh, ino).ok());
                let open = match via.as_deref().map(|h| &h.kind) {
                    Some(OpenKind::Volume { file, .. }) => Some(&**file),
                    _ => None,
                };
                let set = o.store().setattr(Some(&o.obj), &sa, open);
                self.overlays_changed();
                if sa.size.is_some() {
                    self.overlay_touched(&o.pool, o.active.run, &o.path.read());
                }
                set?;
            }
        }
        self.getattr(ino)
    }

    pub fn statfs(&self, ino: u64) -> Result<StatFs> {
        let active = self.node(ino).ok().and_then(|n| match n {
            Node::PoolDir(p) | Node::PoolCtl(p, _) | Node::VolRoot(p) => p.active(),
            Node::Object(o) | Node::VolDir(o) | Node::VolCtl(o, _) => Some(o.active.clone()),
            Node::Root => None,
        });
        if let Some(a) = active {
            return a.store.statfs();
        }
        nix::sys::statvfs::statvfs(self.reg.state_dir().root())
            .map(StatFs::from)
            .map_err(Error::os("statfs"))
    }

    // ---- extended attributes: those of store objects ---------------------------

    pub(super) fn xattr_node(&self, ino: u64) -> Result<Arc<Object>> {
        match self.node(ino)? {
            Node::Object(o) => Ok(o),
            _ => Err(Error::Os {
                op: "xattr",
                errno: Errno::EOPNOTSUPP,
            }),
        }
    }

    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        let o = self.xattr_node(ino)?;
        o.store().setxattr(&o.obj, name, value, flags)
    }

    /// With `size == 0` returns the value's length in an empty vector's place.
    pub fn getxattr(&self, ino: u64, name: &OsStr, size: u32) -> Result<XattrReply> {
        let enodata = || Error::Os {
            op: "getxattr",
            errno: Errno::ENODATA,
        };
        if !crate::store::kept_xattr(name.as_bytes()) {
            // security.capability and ACLs are absent.
            return Err(enodata());
        }
        let o = self.xattr_node(ino).map_err(|_| enodata())?;
        let mut buf = vec![0u8; size as usize];
        let len = match o.store().getxattr(&o.obj, name, &mut buf) {
            Err(Error::Os {
                errno: Errno::EOPNOTSUPP,
                ..
            }) => return Err(enodata()),
            r => r?,
        };
        if size == 0 {
            return Ok(XattrReply::Size(len as u32));
        }
        buf.truncate(len);
        Ok(XattrReply::Data(buf))
    }

    /// `privileged`: the caller may see `trusted.*` names (root, as ext4
    /// shows them only to `CAP_SYS_ADMIN`; the kernel checks reads and
    /// writes of them itself).
    pub fn listxattr(&self, ino: u64, size: u32, privileged: bool) -> Result<XattrReply> {
        let mut names = match self.node(ino)? {
            Node::Object(o) => o.store().listxattr(&o.obj)?,
            _ => Vec::new(),
        };
        if !privileged {
            names = names
                .split_inclusive(|c| *c == 0)
                .filter(|n| !n.starts_with(b"trusted."))
                .flatten()
                .copied()
                .collect();
        }
        if size == 0 {
            return Ok(XattrReply::Size(names.len() as u32));
        }
        if names.len() > size as usize {
            return Err(Error::Os {
                op: "listxattr",
                errno: Errno::ERANGE,
            });
        }
        Ok(XattrReply::Data(names))
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> Result<()> {
        let o = self.xattr_node(ino)?;
        o.store().removexattr(&o.obj, name)
    }
}
