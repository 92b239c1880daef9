//! Open directories: listed at open and at every rewind, so offsets stay
//! stable while the directory changes.

use std::ffi::OsString;

use super::handles::{OpenFile, OpenKind};
use super::inodes::{self};
use super::{Ctx, Dir, DirEntry, Kind, Node, PoolFs, enotdir, mirror_entries};
use crate::control::{self, PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::journal;

impl PoolFs {
    /// Opens a directory; it is listed by the first `readdir` (offset 0).
    pub fn opendir(&self, ino: u64) -> Result<u64> {
        if let Node::Object(o) = self.node(ino)?
            && !o.is_dir
        {
            return Err(enotdir("opendir"));
        }
        let fh = self.handles.insert(OpenFile {
            ino,
            kind: OpenKind::Dir {
                entries: parking_lot::Mutex::new(Vec::new()),
            },
        });
        self.journal_open(fh, ino, journal::HandleKind::Dir, 0, Ctx::default());
        Ok(fh)
    }

    /// Entries from `offset` on; a read at offset 0 lists the directory anew
    /// (rewinddir sees changes; other offsets stay stable).
    /// `add` receives each entry with the offset of the next one and
    /// returns true when the reply is full.
    pub fn readdir(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
        mut add: impl FnMut(u64, &DirEntry) -> bool,
    ) -> Result<()> {
        let h = self.handles.get(fh, ino)?;
        let OpenKind::Dir { entries } = &h.kind else {
            return Err(Error::BadHandle);
        };
        if offset == 0 {
            let fresh = self.list_dir(ino)?;
            *entries.lock() = fresh;
        }
        let g = entries.lock();
        for (i, e) in g.iter().enumerate().skip(offset as usize) {
            if add(i as u64 + 1, e) {
                break;
            }
        }
        Ok(())
    }

    pub fn releasedir(&self, fh: u64) {
        if self.handles.remove(fh).is_some()
            && let Some(j) = self.journal()
        {
            j.release(fh);
        }
    }

    pub(super) fn list_dir(&self, ino: u64) -> Result<Vec<DirEntry>> {
        let dot = |name: &str, ino: u64| DirEntry {
            ino,
            kind: Kind::Dir,
            name: OsString::from(name),
            plus: true,
        };
        let mut out = vec![dot(".", ino), dot("..", inodes::ROOT)];
        match self.node(ino)? {
            Node::Root => {
                for p in self.reg.list() {
                    out.push(DirEntry {
                        ino: inodes::pool_dir_ino(p.id),
                        kind: Kind::Dir,
                        name: p.name().into(),
                        plus: true,
                    });
                }
            }
            Node::PoolDir(pool) => {
                for f in PoolFile::ALL {
                    out.push(DirEntry {
                        ino: inodes::pool_ctl_ino(pool.id, f),
                        kind: Kind::File,
                        name: f.name().into(),
                        plus: true,
                    });
                }
                if pool.active().is_some() {
                    out.push(DirEntry {
                        ino: inodes::vol_root_ino(pool.id),
                        kind: Kind::Dir,
                        name: control::VOL_DIR.into(),
                        plus: true,
                    });
                    self.list_in(&self.parent(ino)?, &mut out)?;
                }
            }
            Node::Object(o) if o.is_dir => self.list_in(&self.parent(ino)?, &mut out)?,
            Node::VolDir(o) if !o.is_dir => {
                let clones = o.store().can_clone();
                for f in VolFile::ALL
                    .into_iter()
                    .filter(|f| *f != VolFile::Clone || clones)
                {
                    out.push(DirEntry {
                        ino: inodes::mirror_file(o.ino, f),
                        kind: Kind::File,
                        name: f.name().into(),
                        plus: true,
                    });
                }
            }
            n @ (Node::VolRoot(_) | Node::VolDir(_)) => {
                self.list_in(&self.mirrored(n)?, &mut out)?;
                mirror_entries(&mut out);
            }
            _ => return Err(enotdir("opendir")),
        }
        Ok(out)
    }

    /// The volumes and sub-directories of `d` (names reserved at a pool's
    /// top hidden: the control files shadow them).
    pub(super) fn list_in(&self, d: &Dir, out: &mut Vec<DirEntry>) -> Result<()> {
        let listed = d.store().list(d.obj())?;
        let plus = d.store().cheap_lookups();
        let hides = d.store().hides_removed_open();
        let mut leftovers = Vec::new();
        let mut t = self.inodes.write();
        for e in listed {
            let name = e.name.to_string_lossy();
            if hides && crate::store::is_removed_name(&name) {
                if self.is_leftover(&t, d, &name, e.id) {
                    leftovers.push(e.name);
                }
                continue;
            }
            if d.top() && control::is_reserved(&name) {
                continue;
            }
            out.push(DirEntry {
                ino: t.number((d.pool.id, d.active.run, e.id.0, e.id.1)),
                kind: e.kind,
                name: e.name,
                plus,
            });
        }
        drop(t);
        if !leftovers.is_empty() {
            self.remove_leftovers(d, leftovers);
        }
        Ok(())
    }
}
