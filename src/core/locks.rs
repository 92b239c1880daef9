//! File locks served by the daemon: POSIX (`fcntl` F_SETLK, also OFD
//! locks) and BSD (`flock`). Each FUSE lock owner of a volume gets an open
//! file description of its own on the backing object (`Store::lock_file`),
//! and its locks are OFD locks (or a `flock`) on it. So the kernel's lock
//! manager arbitrates, between the owners using poolfs and the processes
//! that use the backing file directly; on a backing file on a network
//! filesystem, its client turns them into that protocol's locks. A store
//! whose server keeps locks (`Store::remote_locks`: userspace NFSv4.1)
//! gets them instead, one server lock owner per owner.
//!
//! Owners: the kernel names a POSIX lock's owner by the process's file
//! table, an OFD lock's and a `flock`'s by the open file. A POSIX owner's
//! locks go when it closes any descriptor of the file (`FLUSH`); everything
//! locked through a handle goes when the handle is released (the last close
//! of an open file: OFD and BSD locks).
//!
//! Lock order: `Locks::held` is a leaf (no other lock is taken under it);
//! no lock is held across a `fcntl` that waits (none here does: blocking
//! requests retry a non-blocking one, `fuse`).

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::Arc;

use nix::errno::Errno;
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::store::{LockRange as Range, RemoteLocks};

/// A lock owner of one volume: node number, the kernel's owner id, and
/// whether its locks are BSD ones.
pub type Owner = (u64, u64, bool);

/// A conflicting lock, as `F_GETLK` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    pub range: Range,
    pub pid: u32,
}

#[derive(Debug, Default)]
pub struct Locks {
    /// Each owner's open file description, and the handles it locked
    /// through.
    held: Mutex<HashMap<Owner, Held>>,
    /// For nodes with no backing object to lock on (control files, `.vol`
    /// entries): one memfd each, whose open file descriptions stand in for it.
    arenas: Mutex<HashMap<u64, File>>,
}

/// Where an owner's locks live.
#[derive(Debug, Clone)]
pub enum Target {
    /// OFD locks on an open file description of its own.
    Ofd(Arc<File>),
    /// The server's locks.
    Remote(Arc<dyn RemoteLocks>),
}

impl Target {
    /// Drops the owner's locks: closing its description does it; a
    /// server is told (no `Locks` lock held: it is a round trip).
    fn drop_owner(self, owner: Owner) {
        if let Target::Remote(r) = self {
            r.drop_owner(owner.1, owner.2);
        }
    }
}

#[derive(Debug)]
struct Held {
    target: Target,
    fhs: HashSet<u64>,
    /// The process that set its last lock (what `F_GETLK` reports).
    pid: u32,
}

/// `struct flock` for `r` (`l_len` 0: to the end of the file).
fn flock_of(r: Range) -> Result<libc::flock> {
    let start = i64::try_from(r.start).map_err(|_| einval())?;
    let len = if r.end >= i64::MAX as u64 {
        0
    } else {
        i64::try_from(r.end - r.start + 1).map_err(|_| einval())?
    };
    if r.end < r.start {
        return Err(einval());
    }
    Ok(libc::flock {
        l_type: r.typ as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: start,
        l_len: len,
        l_pid: 0,
    })
}

fn einval() -> Error {
    Error::Os {
        op: "lock",
        errno: Errno::EINVAL,
    }
}

/// `F_OFD_SETLK` (`get`: `F_OFD_GETLK`, which fills `fl` in).
fn ofd(file: &File, get: bool, fl: &mut libc::flock) -> Result<()> {
    use nix::fcntl::{FcntlArg, fcntl};
    let arg = if get {
        FcntlArg::F_OFD_GETLK(fl)
    } else {
        FcntlArg::F_OFD_SETLK(fl)
    };
    fcntl(file, arg).map(drop).map_err(Error::os("lock"))
}

/// `flock(fd, op | LOCK_NB)` for a BSD lock of type `typ`.
fn bsd(file: &File, typ: i32) -> Result<()> {
    let op = match typ {
        libc::F_RDLCK => libc::LOCK_SH,
        libc::F_WRLCK => libc::LOCK_EX,
        _ => libc::LOCK_UN,
    };
    crate::sys::flock(file.as_fd(), op | libc::LOCK_NB).map_err(|e| Error::Os {
        op: "lock",
        errno: if e == Errno::EWOULDBLOCK {
            Errno::EAGAIN
        } else {
            e
        },
    })
}

impl Locks {
    /// A new open file description of node `ino`'s stand-in (see `arenas`).
    pub fn arena(&self, ino: u64) -> Result<Target> {
        let mut arenas = self.arenas.lock();
        let arena = match arenas.get(&ino) {
            Some(f) => f,
            None => {
                let f = nix::sys::memfd::memfd_create(
                    c"poolfs-lock",
                    nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
                )
                .map(File::from)
                .map_err(Error::sys("cannot create a lock memfd"))?;
                arenas.entry(ino).or_insert(f)
            }
        };
        crate::sys::reopen(arena.as_fd(), nix::fcntl::OFlag::O_RDWR)
            .map(|f| Target::Ofd(Arc::new(File::from(f))))
            .map_err(Error::os("lock"))
    }

    /// The open file description of `owner`, made by `open` at its first lock.
    fn target_of(
        &self,
        owner: Owner,
        fh: u64,
        pid: u32,
        open: impl FnOnce() -> Result<Target>,
    ) -> Result<Target> {
        if let Some(h) = self.held.lock().get_mut(&owner) {
            h.fhs.insert(fh);
            if pid != 0 {
                h.pid = pid;
            }
            return Ok(h.target.clone());
        }
        // Opened with no lock held (a store may take its time).
        let target = open()?;
        let mut g = self.held.lock();
        let h = g.entry(owner).or_insert_with(|| Held {
            target,
            fhs: HashSet::new(),
            pid,
        });
        h.fhs.insert(fh);
        Ok(h.target.clone())
    }

    /// Sets (or removes: `F_UNLCK`) a lock of `owner` without waiting;
    /// `EAGAIN` when another owner's lock is in the way.
    pub fn set(
        &self,
        owner: Owner,
        fh: u64,
        pid: u32,
        r: Range,
        open: impl FnOnce() -> Result<Target>,
    ) -> Result<()> {
        if r.typ == libc::F_UNLCK && !self.held.lock().contains_key(&owner) {
            return Ok(());
        }
        match self.target_of(owner, fh, pid, open)? {
            Target::Remote(rl) => rl.set(owner.1, owner.2, r),
            Target::Ofd(f) if owner.2 => bsd(&f, r.typ),
            Target::Ofd(f) => ofd(&f, false, &mut flock_of(r)?),
        }
    }

    /// The first lock in the way of `r` for `owner`, if any.
    pub fn test(
        &self,
        owner: Owner,
        fh: u64,
        r: Range,
        open: impl FnOnce() -> Result<Target>,
    ) -> Result<Option<Conflict>> {
        let f = match self.target_of(owner, fh, 0, open)? {
            Target::Ofd(f) => f,
            // The server does not say whose lock it is, nor its range.
            Target::Remote(rl) => {
                let free = rl.free(owner.1, r)?;
                return Ok((!free).then_some(Conflict {
                    range: Range {
                        typ: libc::F_WRLCK,
                        ..r
                    },
                    pid: 0,
                }));
            }
        };
        let mut fl = flock_of(r)?;
        ofd(&f, true, &mut fl)?;
        let found = fl;
        if i32::from(fl.l_type) == libc::F_UNLCK {
            return Ok(None);
        }
        let start = fl.l_start as u64;
        let end = if fl.l_len == 0 {
            i64::MAX as u64
        } else {
            start + fl.l_len as u64 - 1
        };
        // -1: an OFD lock, which has no process; when it is another
        // owner's here, that owner's process.
        let pid = u32::try_from(fl.l_pid).unwrap_or_else(|_| self.holder(owner, found));
        Ok(Some(Conflict {
            range: Range {
                start,
                end,
                typ: i32::from(fl.l_type),
            },
            pid,
        }))
    }

    /// The process of the other POSIX owner of the same node whose lock
    /// `fl` is (seen from its own description, its own lock is no conflict).
    fn holder(&self, owner: Owner, fl: libc::flock) -> u32 {
        let g = self.held.lock();
        for (o, h) in g.iter() {
            let Target::Ofd(file) = &h.target else {
                continue;
            };
            if o.0 != owner.0 || o.2 || *o == owner {
                continue;
            }
            let mut probe = fl;
            probe.l_pid = 0;
            if ofd(file, true, &mut probe).is_ok() && i32::from(probe.l_type) == libc::F_UNLCK {
                return h.pid;
            }
        }
        0
    }

    /// The server that keeps `owner`'s locks, if a server does.
    pub fn remote(&self, owner: Owner) -> Option<Arc<dyn RemoteLocks>> {
        match &self.held.lock().get(&owner)?.target {
            Target::Remote(r) => Some(r.clone()),
            Target::Ofd(_) => None,
        }
    }

    /// `close(2)` by a POSIX owner: its locks on `ino` go.
    pub fn flush(&self, ino: u64, owner: u64) -> bool {
        let who = (ino, owner, false);
        let gone = self.held.lock().remove(&who);
        gone.map(|h| h.target.drop_owner(who)).is_some()
    }

    /// The last close of handle `fh`: the locks taken through it go (OFD
    /// and BSD locks belong to the open file; a POSIX owner's went at its
    /// `FLUSH`). Returns the owners dropped.
    pub fn release(&self, fh: u64) -> Vec<Owner> {
        let gone: Vec<(Owner, Held)> = {
            let mut g = self.held.lock();
            let owners: Vec<Owner> = g
                .iter()
                .filter(|(_, h)| h.fhs.contains(&fh))
                .map(|(o, _)| *o)
                .collect();
            owners
                .into_iter()
                .filter_map(|o| g.remove(&o).map(|h| (o, h)))
                .collect()
        };
        gone.into_iter()
            .map(|(o, h)| {
                h.target.drop_owner(o);
                o
            })
            .collect()
    }
}
