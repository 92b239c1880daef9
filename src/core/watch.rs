//! Watching local trees for changes made behind poolfs's back, so that the
//! kernel may cache their entries and attributes long (`Cache::Watched`):
//! an admin copying a volume into a pool's target, `chmod` or `truncate` of
//! a backing file, a file removed there, are reported by inotify and
//! invalidated in the kernel within milliseconds.
//!
//! Invariants:
//! - the kernel gets the long cache time for an object only while the
//!   object's parent directory is watched (`Object::watched`), and the watch
//!   is placed before the store is asked, so no change falls between. A
//!   directory's watch lasts while the kernel holds the directory (its last
//!   `forget` removes it: the kernel cannot hold a child without its
//!   parent) or until its pool's run ends;
//! - what poolfs changes itself is not invalidated again: poolfs counts its
//!   own creations, removals and renames (`own`) before the syscall, so
//!   their events cannot come first and are dropped (a failed one is
//!   uncounted, and a failed removal invalidates the name in case another
//!   process's removal took the count); an attribute event is dropped when
//!   the object's attributes still equal what poolfs last told the kernel
//!   (`Object::told`), a new name when the inode table already maps it to
//!   the object found there;
//! - a name changed behind poolfs's back expires every name the kernel
//!   cached (`Inval::Names`: one lock-free epoch bump per batch of events),
//!   not just that one: `FUSE_NOTIFY_INVAL_ENTRY` waits for the directory's
//!   lock, which a process holds while it waits for this server's reply, and
//!   a server that crashed with its notification thread stuck there could
//!   never finish exiting (its keeper starts a successor only once it has).
//!   Attribute invalidations take no such lock;
//! - a lost event (the inotify queue overflowed) invalidates every entry
//!   and attribute of every watched object;
//! - what inotify does not report is bounded by the cache time: writes by a
//!   process that keeps the file open (seen when it closes it), writes
//!   through `mmap`, changes made through a hard link in another directory
//!   (files with more than one link keep the short cache time).
//!
//! Lock order: the watcher's table is a leaf lock: taken with no other
//! poolfs lock held, and never held across a store call or an invalidation;
//! `inotify_add_watch`/`rm_watch` (quick, non-blocking) are made under it,
//! so an addition and a removal of one watch cannot interleave.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify, WatchDescriptor};
use parking_lot::Mutex;

use super::inodes::{self, Object, Seen};
use super::{Cache, Dir, Inval, PoolFs};
use crate::control;
use crate::store::{Attr, Kind};

/// What a watch reports: changes of names, of attributes and of content
/// (at the writer's close).
const MASK: F = F::IN_CREATE
    .union(F::IN_DELETE)
    .union(F::IN_MOVED_FROM)
    .union(F::IN_MOVED_TO)
    .union(F::IN_ATTRIB)
    .union(F::IN_CLOSE_WRITE)
    .union(F::IN_ONLYDIR);

/// A pause after each batch of events: a burst (a program creating or
/// removing files one after another) is read in one go instead of waking
/// the thread per event. Also the longest extra delay an invalidation sees.
const BATCH: Duration = Duration::from_millis(5);

/// Bytes read per batch: about 2000 events of short names.
const READ_BUF: usize = 64 << 10;

/// One inotify event: the watch, what happened, the name in the directory.
#[derive(Debug)]
struct Event {
    wd: i32,
    mask: F,
    name: Option<OsString>,
}

/// Splits what `read(2)` gave on an inotify descriptor into events
/// (`struct inotify_event`: wd, mask, cookie, len, then `len` bytes of
/// NUL-padded name). A truncated tail is dropped (the kernel never writes one).
fn parse_events(buf: &[u8]) -> Vec<Event> {
    const HEADER: usize = 16;
    let word = |b: &[u8], at: usize| -> Option<[u8; 4]> { b.get(at..at + 4)?.try_into().ok() };
    let mut out = Vec::new();
    let mut at = 0;
    while let (Some(wd), Some(mask), Some(len)) =
        (word(buf, at), word(buf, at + 4), word(buf, at + 12))
    {
        let len = u32::from_ne_bytes(len) as usize;
        let Some(raw) = buf.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        let name = raw.split(|b| *b == 0).next().filter(|n| !n.is_empty());
        out.push(Event {
            wd: i32::from_ne_bytes(wd),
            mask: F::from_bits_truncate(u32::from_ne_bytes(mask)),
            name: name.map(|n| OsStr::from_bytes(n).to_os_string()),
        });
        at += HEADER + len;
    }
    out
}

/// One watched directory as the kernel knows it.
#[derive(Debug, Clone)]
struct Watched {
    /// The kernel's number for it (the pool's directory for the top).
    ino: u64,
    dir: Dir,
}

#[derive(Debug, Default)]
struct Table {
    /// One inotify watch per directory inode (by its raw number); two
    /// kernel directories share it when two pools show the same directory.
    by_wd: HashMap<i32, Vec<Watched>>,
    by_ino: HashMap<u64, WatchDescriptor>,
    /// Changes of names poolfs is making in a watched directory (its kernel
    /// number, the name, which change): their events are its own.
    own: HashMap<(u64, OsString, Change), u32>,
}

/// A change of a name, as inotify reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Change {
    /// Created, or renamed to (`IN_CREATE`, `IN_MOVED_TO`).
    Came,
    /// Removed, or renamed away (`IN_DELETE`, `IN_MOVED_FROM`).
    Gone,
}

pub struct Watcher {
    inotify: Inotify,
    table: Mutex<Table>,
    /// False once no thread reads the events: nothing counts as watched.
    alive: AtomicBool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Removes the watches for which `drop` holds, and the inotify watches
    /// no kernel directory needs any more.
    fn remove(&self, drop: impl Fn(&Watched) -> bool) {
        let mut unused = Vec::new();
        let mut t = self.table.lock();
        {
            let Table { by_wd, by_ino, own } = &mut *t;
            by_wd.retain(|_, dirs| {
                let mut wd = None;
                dirs.retain(|w| {
                    let d = drop(w);
                    if d {
                        wd = by_ino.remove(&w.ino).or(wd);
                        own.retain(|(ino, ..), _| *ino != w.ino);
                    }
                    !d
                });
                if dirs.is_empty() {
                    unused.extend(wd);
                }
                !dirs.is_empty()
            });
        }
        for wd in unused {
            // EINVAL: the watch already went (its directory was removed).
            let _ = self.inotify.rm_watch(wd);
        }
    }
}

fn kernel_ino(d: &Dir) -> u64 {
    d.dir
        .as_ref()
        .map_or_else(|| inodes::pool_dir_ino(d.pool.id), |o| o.ino)
}

impl PoolFs {
    /// Starts watching local trees; called once the kernel connection
    /// takes invalidations. Until then, and where inotify is not available,
    /// every object keeps the short cache time.
    pub fn start_watching(self: &Arc<Self>) {
        // A predecessor server's watches died with it: a name it let the
        // kernel cache long may have changed since, unseen (a directory
        // replaced behind poolfs's back while no server ran). Every cached
        // name is expired at once; looked up again, it is watched again. On
        // a fresh mount there is nothing to expire. Done before the first
        // request is served: a name looked up before the expiry would be
        // answered from the kernel's cache with the predecessor's object.
        self.inval.send_now(Inval::Names(Vec::new()));
        let inotify = match Inotify::init(InitFlags::IN_CLOEXEC) {
            Ok(i) => i,
            Err(e) => {
                tracing::warn!(
                    "cannot watch local pools for changes (inotify: {e}): their entries are cached for 1 s only"
                );
                return;
            }
        };
        let w = Arc::new(Watcher {
            inotify,
            table: Mutex::new(Table::default()),
            alive: AtomicBool::new(true),
        });
        if self.watcher.set(w.clone()).is_err() {
            return;
        }
        let core = Arc::downgrade(self);
        let reader = w.clone();
        let spawned = std::thread::Builder::new()
            .name("watch".into())
            .spawn(move || watch_loop(&reader, &core));
        if let Err(e) = spawned {
            tracing::warn!(
                "cannot start the watch thread ({e}): local pools are cached for 1 s only"
            );
            w.alive.store(false, Ordering::Relaxed);
        }
    }

    /// The watcher, while a thread reads its events.
    fn watching(&self) -> Option<&Watcher> {
        self.watcher
            .get()
            .map(|w| &**w)
            .filter(|w| w.alive.load(Ordering::Relaxed))
    }

    /// Watches directory `d` for changes behind poolfs's back, if its store
    /// allows it; true when it is watched.
    pub(super) fn watch_dir(&self, d: &Dir) -> bool {
        let Some(w) = self.watching() else {
            return false;
        };
        let ino = kernel_ino(d);
        if w.table.lock().by_ino.contains_key(&ino) {
            return true;
        }
        let Some(path) = d.store().watch_path(d.obj()) else {
            return false;
        };
        // Added under the lock, as watches are removed: a removal cannot
        // undo an addition it did not see.
        let mut t = w.table.lock();
        match w.inotify.add_watch(path.path(), MASK) {
            Ok(wd) => {
                t.by_ino.insert(ino, wd);
                let dirs = t.by_wd.entry(wd.as_raw()).or_default();
                if !dirs.iter().any(|x| x.ino == ino) {
                    dirs.push(Watched {
                        ino,
                        dir: d.clone(),
                    });
                }
                true
            }
            Err(e) => {
                // ENOSPC: out of inotify watches (fs.inotify.max_user_watches).
                tracing::debug!(pool = %d.pool.name(), "cannot watch a directory ({e}): its entries are cached for 1 s only");
                false
            }
        }
    }

    /// The kernel forgot directory `ino`: no child of it is cached any more.
    pub(super) fn unwatch(&self, ino: u64) {
        if let Some(w) = self.watcher.get() {
            w.remove(|x| x.ino == ino);
        }
    }

    /// A pool's run ended: none of its directories needs watching.
    pub(super) fn unwatch_run(&self, pool: u32, run: u64) {
        if let Some(w) = self.watcher.get() {
            w.remove(|x| x.dir.pool.id == pool && x.dir.active.run == run);
        }
    }

    /// Runs `op`, which makes `changes` (directory, name, change): the
    /// watch's events for them are poolfs's own and not passed on.
    pub(super) fn own<T>(
        &self,
        changes: &[(&Dir, &OsStr, Change)],
        op: impl FnOnce() -> crate::error::Result<T>,
    ) -> crate::error::Result<T> {
        let keys: Vec<_> = match self.watching() {
            Some(w) => {
                let mut t = w.table.lock();
                let mut keys = Vec::new();
                for (d, name, c) in changes {
                    let ino = kernel_ino(d);
                    if t.by_ino.contains_key(&ino) {
                        let key = (ino, name.to_os_string(), *c);
                        *t.own.entry(key.clone()).or_insert(0) += 1;
                        keys.push(key);
                    }
                }
                keys
            }
            None => Vec::new(),
        };
        let r = op();
        if r.is_err()
            && !keys.is_empty()
            && let Some(w) = self.watching()
        {
            {
                let mut t = w.table.lock();
                for k in &keys {
                    if let Some(n) = t.own.get_mut(k) {
                        *n -= 1;
                        if *n == 0 {
                            t.own.remove(k);
                        }
                    }
                }
            }
            let gone: Vec<_> = keys
                .into_iter()
                .filter(|k| k.2 == Change::Gone)
                .map(|(ino, name, _)| (ino, name))
                .collect();
            if !gone.is_empty() {
                self.inval.send(Inval::Names(gone));
            }
        }
        r
    }

    /// True (and uncounted) when poolfs made this change itself.
    fn own_change(&self, w: &Watcher, dir: u64, name: &OsStr, c: Change) -> bool {
        let mut t = w.table.lock();
        let key = (dir, name.to_os_string(), c);
        match t.own.get_mut(&key) {
            Some(n) => {
                *n -= 1;
                if *n == 0 {
                    t.own.remove(&key);
                }
                true
            }
            None => false,
        }
    }

    /// How long the kernel may cache what poolfs is about to tell it of
    /// `node`, recording what that is.
    pub(super) fn told(&self, node: &Object, attr: &Attr) -> Cache {
        if let Some(t) = node.store().cache_time() {
            return Cache::For(t);
        }
        *node.told.lock() = Some(Seen::of(attr));
        let single = attr.kind == Kind::Dir || attr.nlink <= 1;
        if single && node.watched.load(Ordering::Relaxed) && self.watching().is_some() {
            Cache::Watched
        } else {
            Cache::Backing
        }
    }

    fn changed(&self, w: &Watcher, events: Vec<Event>) {
        let mut names = Vec::new();
        for ev in events {
            if ev.mask.contains(F::IN_Q_OVERFLOW) {
                tracing::info!("inotify lost events: invalidating every watched entry");
                self.invalidate_watched(w, &mut names);
                continue;
            }
            if ev.mask.contains(F::IN_IGNORED) {
                // The directory went (removed, or its filesystem unmounted).
                let mut t = w.table.lock();
                if let Some(dirs) = t.by_wd.remove(&ev.wd) {
                    for d in dirs {
                        t.by_ino.remove(&d.ino);
                        t.own.retain(|(ino, ..), _| *ino != d.ino);
                    }
                }
                continue;
            }
            let dirs = w.table.lock().by_wd.get(&ev.wd).cloned();
            for d in dirs.unwrap_or_default() {
                self.dir_changed(w, &d, &ev, &mut names);
            }
        }
        if !names.is_empty() {
            self.inval.send(Inval::Names(names));
        }
    }

    /// Invalidates what an event changed; a changed name goes to `names`.
    fn dir_changed(&self, w: &Watcher, d: &Watched, ev: &Event, names: &mut Vec<(u64, OsString)>) {
        let Some(name) = &ev.name else {
            if ev.mask.contains(F::IN_ATTRIB) {
                self.inval.send(Inval::Attr { ino: d.ino });
            }
            return;
        };
        if d.dir.top() && control::is_reserved(&name.to_string_lossy()) {
            return;
        }
        let gone = ev.mask.intersects(F::IN_DELETE | F::IN_MOVED_FROM)
            && !self.own_change(w, d.ino, name, Change::Gone);
        let came = ev.mask.intersects(F::IN_CREATE | F::IN_MOVED_TO)
            && !self.own_change(w, d.ino, name, Change::Came);
        // A new name needs no invalidation (the kernel never caches a
        // failed lookup here, and the name's earlier holder went with its
        // own removal event); a rename onto a name that held another
        // object does.
        let replaced = came && ev.mask.contains(F::IN_MOVED_TO) && !self.kernel_knows(&d.dir, name);
        if gone || replaced {
            names.push((d.ino, name.clone()));
        }
        if gone || came {
            self.inval.send(Inval::Attr { ino: d.ino });
        }
        if ev.mask.intersects(F::IN_ATTRIB | F::IN_CLOSE_WRITE)
            && let Some((node, now)) = self.known_child(&d.dir, name)
            && *node.told.lock() != Some(Seen::of(&now))
        {
            self.inval.send(Inval::Attr { ino: node.ino });
        }
    }

    /// The node the kernel may hold for `name` in `d`, with the object's
    /// attributes now.
    fn known_child(&self, d: &Dir, name: &OsStr) -> Option<(Arc<Object>, Attr)> {
        let found = d.store().lookup(d.obj(), name).ok()?;
        let key = (d.pool.id, d.active.run, found.id.0, found.id.1);
        let node = self.inodes.read().node_of(key)?;
        Some((node, found.attr))
    }

    /// True when whatever the kernel holds for `name` in `d` is right: the
    /// name holds the object poolfs last told the kernel it holds, or it
    /// holds nothing poolfs shows (a later event tells what went).
    fn kernel_knows(&self, d: &Dir, name: &OsStr) -> bool {
        let found = match d.store().lookup(d.obj(), name) {
            Ok(f) => f,
            Err(_) => return true,
        };
        let key = (d.pool.id, d.active.run, found.id.0, found.id.1);
        let node = self.inodes.read().node_of(key);
        node.is_some_and(|n| *n.path.read() == d.child_path(name))
    }

    /// After lost events: every watched directory's attributes and every
    /// name (into `names`) and attribute of a watched object the kernel holds.
    fn invalidate_watched(&self, w: &Watcher, names: &mut Vec<(u64, OsString)>) {
        let dirs: Vec<u64> = w.table.lock().by_ino.keys().copied().collect();
        for ino in dirs {
            self.inval.send(Inval::Attr { ino });
        }
        let nodes: Vec<Arc<Object>> = self.inodes.read().nodes().cloned().collect();
        // Where each held directory is, to find the parent of a path.
        let by_path: HashMap<(u32, u64, String), u64> = nodes
            .iter()
            .filter(|n| n.is_dir)
            .map(|n| ((n.pool.id, n.active.run, n.path.read().clone()), n.ino))
            .collect();
        for n in nodes.iter().filter(|n| n.watched.load(Ordering::Relaxed)) {
            let path = n.path.read().clone();
            let (parent, name) = match path.rsplit_once('/') {
                None => (Some(inodes::pool_dir_ino(n.pool.id)), path.as_str()),
                Some((up, name)) => (
                    by_path
                        .get(&(n.pool.id, n.active.run, up.to_string()))
                        .copied(),
                    name,
                ),
            };
            if let Some(parent) = parent {
                names.push((parent, name.into()));
            }
            // Attributes only: dropping pages could wait on a read in
            // progress (see the crash note above).
            self.inval.send(Inval::Attr { ino: n.ino });
        }
    }
}

/// Reads events until the namespace is gone.
fn watch_loop(w: &Watcher, core: &Weak<PoolFs>) {
    use std::os::fd::AsFd;
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let events = match nix::unistd::read(w.inotify.as_fd(), &mut buf) {
            Ok(n) => parse_events(&buf[..n]),
            Err(Errno::EINTR) => continue,
            Err(e) => {
                tracing::error!(
                    "reading inotify events failed ({e}): changes behind poolfs's back are seen after 1 s from now on"
                );
                w.alive.store(false, Ordering::Relaxed);
                w.remove(|_| true);
                return;
            }
        };
        let Some(core) = core.upgrade() else {
            return;
        };
        core.changed(w, events);
        drop(core);
        std::thread::sleep(BATCH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(wd: i32, mask: u32, name: &[u8], padded: usize) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(wd.to_ne_bytes());
        b.extend(mask.to_ne_bytes());
        b.extend(0u32.to_ne_bytes());
        b.extend((padded as u32).to_ne_bytes());
        b.extend(name);
        b.resize(b.len() + padded - name.len(), 0);
        b
    }

    #[test]
    fn events_are_split_with_their_names() {
        let mut buf = raw(3, libc::IN_CREATE, b"vm1.img", 16);
        buf.extend(raw(4, libc::IN_ATTRIB, b"", 0));
        buf.extend(raw(3, libc::IN_DELETE, b"a", 16));
        buf.extend(&raw(5, libc::IN_CREATE, b"cut", 16)[..20]);
        let ev = parse_events(&buf);
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert_eq!(
            (ev[0].wd, ev[0].name.as_deref()),
            (3, Some(OsStr::new("vm1.img")))
        );
        assert!(ev[0].mask.contains(F::IN_CREATE));
        assert_eq!((ev[1].wd, ev[1].name.as_deref()), (4, None));
        assert_eq!(ev[2].name.as_deref(), Some(OsStr::new("a")));
        assert!(ev[2].mask.contains(F::IN_DELETE));
    }
}
