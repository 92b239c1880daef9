//! qcow2 backing chains within a pool, for any store: the chain `info`
//! shows, and the refusal to delete (or replace by a rename) a volume that
//! another volume of its pool uses as its backing file. The names are
//! resolved by `volume::chain` (pure); this file walks the store.
//!
//! Which volume backs which is an index per pool run (`PoolIndex`), read
//! once by walking the pool and kept current so that a delete costs O(1)
//! in the pool's size:
//! - a local tree (one whose store gives a `watch_path`) is watched with
//!   inotify, every directory of it: a file closed after writing, made,
//!   moved in or out, or removed, by poolfs or behind its back, is read
//!   again (or dropped) at the next question. The events are queued by the
//!   kernel when the change happens, so a question sees every change made
//!   before it; a lost event (queue overflow) means one new walk;
//! - a volume open for writing through poolfs is read again at every
//!   question until it is closed (its header may change at any time);
//! - other stores (userspace NFS, block devices) are walked again when their
//!   index is older than `OVERLAYS_TTL`, or after poolfs made or served a
//!   change there (`overlays_changed`).
//!
//! Lock order: `PoolFs::overlays` (the index table, taken alone and never
//! across I/O), then one pool's `PoolIndex` (held across that pool's header
//! reads, so only questions about the same pool wait for them).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::inotify::{AddWatchFlags as F, InitFlags, Inotify, WatchDescriptor};

use super::{Dir, PoolFs};
use crate::control;
use crate::error::{Error, Result};
use crate::pool::{Active, Pool};
use crate::store::{Kind, Obj, Store, VolumeFacts};
use crate::volume::chain;

/// How deep a chain or a pool's directory tree is followed (a cycle of
/// backing files or a pathological tree ends here).
const MAX_DEPTH: usize = 16;

/// A file shorter than this cannot hold a qcow2 header: not read.
const MIN_HEADER: u64 = 512;

/// How long the index of a pool that is not watched is used before it is
/// read again: the bound on how late a change made behind poolfs's back is
/// seen (the attribute cache time of such a pool).
const OVERLAYS_TTL: Duration = Duration::from_secs(1);

/// What the index watches in every directory of a local pool.
const MASK: F = F::IN_CLOSE_WRITE
    .union(F::IN_CREATE)
    .union(F::IN_MOVED_TO)
    .union(F::IN_MOVED_FROM)
    .union(F::IN_DELETE)
    .union(F::IN_ONLYDIR);

/// A pool's run.
type PoolKey = (u32, u64);

/// What happened to a path of a pool since its index last looked.
#[derive(Debug)]
enum Change {
    /// A file to read again.
    File(String),
    /// A directory moved or made there: walked.
    Dir(String),
    /// A path (and what was under it) that went.
    Gone(String),
    /// Events were lost: walk the whole pool again.
    Lost,
    /// poolfs made or served a change: a pool that is not watched is
    /// walked again.
    Served,
}

/// Changes to one pool not yet applied to its index: a set per kind, so it
/// stays bounded however long no question comes (past `MAX_PENDING` paths it
/// becomes one `lost`). Applied in an order that makes the order of the
/// changes themselves irrelevant: what went, then new directories, then
/// files read again (a read finds whatever is there now).
#[derive(Debug, Default)]
struct Pending {
    files: HashSet<String>,
    dirs: HashSet<String>,
    gone: HashSet<String>,
    lost: bool,
    served: bool,
}

/// Paths remembered before a pool's pending changes become "read it again".
const MAX_PENDING: usize = 65536;

impl Pending {
    fn add(&mut self, c: Change) {
        match c {
            Change::File(p) => {
                self.files.insert(p);
            }
            Change::Dir(p) => {
                self.dirs.insert(p);
            }
            Change::Gone(p) => {
                self.gone.insert(p);
            }
            Change::Lost => self.lost = true,
            Change::Served => self.served = true,
        }
        if self.files.len() + self.dirs.len() + self.gone.len() > MAX_PENDING {
            self.lost = true;
        }
        if self.lost {
            self.files.clear();
            self.dirs.clear();
            self.gone.clear();
        }
    }
}

/// Which volume backs which in one pool run.
#[derive(Debug, Default)]
struct PoolIndex {
    /// Walked at least once (and no event lost since).
    complete: bool,
    /// Kept current by inotify (else walked again after `OVERLAYS_TTL`).
    watched: bool,
    read_at: Option<Instant>,
    /// Overlay -> the pool-relative path of its backing file.
    backing_of: HashMap<String, String>,
    /// Backing file -> the overlays that name it.
    users: HashMap<String, BTreeSet<String>>,
    /// A pool walked again (not watched): each file's (size, mtime, ctime)
    /// when its header was read, so a walk reads only changed headers.
    seen: HashMap<String, (u64, std::time::SystemTime, std::time::SystemTime)>,
}

impl PoolIndex {
    fn set(&mut self, path: &str, backing: Option<String>) {
        self.unset(path);
        if let Some(b) = backing {
            self.users
                .entry(b.clone())
                .or_default()
                .insert(path.to_string());
            self.backing_of.insert(path.to_string(), b);
        }
    }

    fn unset(&mut self, path: &str) {
        if let Some(b) = self.backing_of.remove(path)
            && let Some(u) = self.users.get_mut(&b)
        {
            u.remove(path);
            if u.is_empty() {
                self.users.remove(&b);
            }
        }
    }

    /// Forgets `path` and, for a directory, every overlay under it.
    fn unset_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let under: Vec<String> = self
            .backing_of
            .keys()
            .filter(|p| *p == path || p.starts_with(&prefix))
            .cloned()
            .collect();
        for p in under {
            self.unset(&p);
        }
    }

    fn clear(&mut self) {
        self.backing_of.clear();
        self.users.clear();
        self.seen.clear();
        self.complete = false;
    }
}

/// What a walk of a pool that is not watched may keep from the one before:
/// the stamps it saw and the backing files it found.
#[derive(Debug, Default)]
struct Before {
    seen: HashMap<String, (u64, std::time::SystemTime, std::time::SystemTime)>,
    kept: HashMap<String, String>,
}

/// The backing indexes of running pools.
#[derive(Debug, Default)]
pub(super) struct Overlays {
    /// One inotify instance for every watched pool (made at first need).
    inotify: Option<Inotify>,
    /// Watch -> (pool run, the directory's pool-relative path, "" the top).
    wds: HashMap<WatchDescriptor, (PoolKey, String)>,
    /// Changes read from inotify (or told by poolfs) not yet applied.
    pending: HashMap<PoolKey, Pending>,
    /// Volumes open for writing through poolfs, with how many opens.
    writers: HashMap<PoolKey, HashMap<String, u32>>,
    indexes: HashMap<PoolKey, Arc<parking_lot::Mutex<PoolIndex>>>,
}

impl Overlays {
    /// Moves every queued inotify event to `pending` (non-blocking).
    fn drain(&mut self) {
        let Some(ino) = &self.inotify else {
            return;
        };
        while let Ok(events) = ino.read_events() {
            if events.is_empty() {
                break;
            }
            for ev in events {
                if ev.mask.contains(F::IN_Q_OVERFLOW) {
                    for key in self.indexes.keys() {
                        self.pending.entry(*key).or_default().add(Change::Lost);
                    }
                    continue;
                }
                if ev.mask.contains(F::IN_IGNORED) {
                    self.wds.remove(&ev.wd);
                    continue;
                }
                let (Some((key, dir)), Some(name)) = (self.wds.get(&ev.wd), &ev.name) else {
                    continue;
                };
                let name = name.to_string_lossy();
                if dir.is_empty() && control::is_reserved(&name) {
                    continue;
                }
                let path = if dir.is_empty() {
                    name.into_owned()
                } else {
                    format!("{dir}/{name}")
                };
                let change = if ev.mask.intersects(F::IN_DELETE | F::IN_MOVED_FROM) {
                    Change::Gone(path)
                } else if ev.mask.contains(F::IN_ISDIR) {
                    Change::Dir(path)
                } else {
                    Change::File(path)
                };
                self.pending.entry(*key).or_default().add(change);
            }
        }
    }
}

impl PoolFs {
    /// The absolute paths at which the top of `pool` is reached.
    fn pool_roots(&self, pool: &Pool, active: &Active) -> Vec<PathBuf> {
        let mut roots = Vec::new();
        if let Some(m) = self.mountpoint.read().as_ref() {
            roots.push(m.join(pool.name()));
        }
        if active.target.is_absolute() {
            roots.push(active.target.clone());
        }
        roots
    }

    /// The pool-relative path of the backing file of the volume at `path`,
    /// if `facts` name one inside the pool.
    fn backing_in_pool(
        &self,
        pool: &Pool,
        active: &Active,
        path: &str,
        facts: &VolumeFacts,
    ) -> Option<String> {
        self.resolve_in_pool(pool, active, path, facts.probe.backing.as_deref()?)
    }

    /// The pool-relative path of `named`, the backing file the volume at
    /// `path` names, if it lies inside the pool.
    fn resolve_in_pool(
        &self,
        pool: &Pool,
        active: &Active,
        path: &str,
        named: &str,
    ) -> Option<String> {
        let roots = self.pool_roots(pool, active);
        let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
        chain::resolve(named, path, &roots)
    }

    /// The backing chain below a volume whose facts are `first`, for `info`:
    /// each link's pool-relative path, or the name as the header says it
    /// where it leads out of the pool (and the chain stops there).
    pub(super) fn backing_chain(
        &self,
        pool: &Pool,
        active: &Active,
        path: &str,
        first: &VolumeFacts,
    ) -> Vec<String> {
        let mut links = Vec::new();
        let (mut path, mut facts) = (path.to_string(), first.clone());
        while let Some(named) = facts.probe.backing.clone() {
            if links.len() == MAX_DEPTH {
                links.push("...".into());
                break;
            }
            let Some(next) = self.backing_in_pool(pool, active, &path, &facts) else {
                links.push(named);
                break;
            };
            links.push(next.clone());
            match lookup_path(&*active.store, &next).and_then(|o| active.store.facts(&o)) {
                Ok(f) => (path, facts) = (next, f),
                Err(_) => break,
            }
        }
        links
    }

    /// Refuses to delete or replace (`what`) the volume `name` of `d` while
    /// another volume of the pool uses it as its backing file: the overlays
    /// would lose their data. Files too short to be a backing and files
    /// with other hard links are not looked into. Returns the victim's
    /// identity and link count, where it exists.
    pub(super) fn refuse_backing_removal(
        &self,
        d: &Dir,
        name: &OsStr,
        what: &str,
    ) -> Result<Option<((u64, u64), u32)>> {
        let Ok(victim) = d.store().lookup(d.obj(), name) else {
            return Ok(None);
        };
        let found = Some((victim.id, victim.attr.nlink));
        if victim.attr.kind != Kind::File || victim.attr.size == 0 || victim.attr.nlink > 1 {
            return Ok(found);
        }
        let path = d.child_path(name);
        let users: Vec<String> = self
            .backing_users(d, &path)
            .into_iter()
            .filter(|u| *u != path)
            .map(|u| format!("'{u}'"))
            .collect();
        if users.is_empty() {
            return Ok(found);
        }
        Err(Error::Busy(format!(
            "volume '{path}' is the backing file of {} and cannot be {what} (delete or flatten the overlays first)",
            users.join(", "),
        )))
    }

    /// The volumes of `d`'s pool whose backing file is `path`, from the
    /// pool's index, brought up to date first (see the module's doc).
    fn backing_users(&self, d: &Dir, path: &str) -> Vec<String> {
        let key = (d.pool.id, d.active.run);
        let watched = d.store().watch_path(None).is_some();
        let (index, changes, writers) = {
            let mut o = self.overlays.lock();
            o.drain();
            let index = o.indexes.entry(key).or_default().clone();
            let changes = o.pending.remove(&key).unwrap_or_default();
            let writers: Vec<String> = o
                .writers
                .get(&key)
                .map(|w| w.keys().cloned().collect())
                .unwrap_or_default();
            (index, changes, writers)
        };
        let mut ix = index.lock();
        let stale = !ix.watched
            && (changes.served || ix.read_at.is_none_or(|t| t.elapsed() >= OVERLAYS_TTL));
        if !ix.complete || stale || changes.lost {
            // A pool walked again keeps what it saw of unchanged files.
            let seen = if ix.complete && !ix.watched && !changes.lost {
                std::mem::take(&mut ix.seen)
            } else {
                HashMap::new()
            };
            let kept = std::mem::take(&mut ix.backing_of);
            ix.clear();
            ix.watched = watched;
            // Timed from the start: the index is as old as its first header.
            ix.read_at = Some(Instant::now());
            let before = Before { seen, kept };
            self.index_tree(d, &mut ix, &before, None, "", 0);
            ix.complete = true;
        } else {
            for p in &changes.gone {
                ix.unset_tree(p);
            }
            for p in &changes.dirs {
                ix.unset_tree(p);
                if let Ok(obj) = lookup_path(d.store(), p) {
                    let depth = p.matches('/').count() + 1;
                    self.index_tree(d, &mut ix, &Before::default(), Some(&obj), p, depth);
                }
            }
            let mut reread = changes.files;
            reread.extend(writers);
            for p in reread {
                self.index_file(d, &mut ix, &p);
            }
        }
        ix.users
            .get(path)
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Reads the header of the file at `path` into the index (or forgets
    /// it, gone or too short to be an overlay).
    fn index_file(&self, d: &Dir, ix: &mut PoolIndex, path: &str) {
        let backing = lookup_path(d.store(), path).ok().and_then(|obj| {
            let attr = d.store().getattr(&obj).ok()?;
            if attr.kind != Kind::File || attr.size < MIN_HEADER {
                return None;
            }
            let named = d.store().backing_name(&obj).ok()??;
            self.resolve_in_pool(&d.pool, &d.active, path, &named)
        });
        ix.set(path, backing);
    }

    /// Walks the directory `dir` (at pool-relative `prefix`, "" the top)
    /// into the index; in a watched pool each directory is watched before
    /// it is listed, so nothing made meanwhile is missed.
    fn index_tree(
        &self,
        d: &Dir,
        ix: &mut PoolIndex,
        before: &Before,
        dir: Option<&Obj>,
        prefix: &str,
        depth: usize,
    ) {
        if ix.watched {
            self.watch_for_index(d, dir, prefix);
        }
        let store = d.store();
        let Ok(entries) = store.list(dir) else {
            return;
        };
        for e in entries {
            let name = e.name.to_string_lossy();
            if depth == 0 && control::is_reserved(&name) {
                continue;
            }
            let path = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}/{name}")
            };
            // A listing that brings attributes (NFS READDIRPLUS) spares the
            // lookup of every file unchanged since the last walk.
            if let Some(a) = e.attr.as_ref().filter(|a| a.kind == Kind::File) {
                let stamp = (a.size, a.mtime, a.ctime);
                if a.size < MIN_HEADER {
                    continue;
                }
                if before.seen.get(&path) == Some(&stamp) {
                    if !ix.watched {
                        ix.seen.insert(path.clone(), stamp);
                    }
                    let kept = before.kept.get(&path).cloned();
                    ix.set(&path, kept);
                    continue;
                }
            }
            let Ok(found) = store.lookup(dir, &e.name) else {
                continue;
            };
            match found.attr.kind {
                Kind::File if found.attr.size >= MIN_HEADER => {
                    let a = &found.attr;
                    let stamp = (a.size, a.mtime, a.ctime);
                    let backing = if before.seen.get(&path) == Some(&stamp) {
                        before.kept.get(&path).cloned()
                    } else {
                        store
                            .backing_name(&found.obj)
                            .ok()
                            .flatten()
                            .and_then(|named| {
                                self.resolve_in_pool(&d.pool, &d.active, &path, &named)
                            })
                    };
                    if !ix.watched {
                        ix.seen.insert(path.clone(), stamp);
                    }
                    ix.set(&path, backing);
                }
                Kind::Dir if depth < MAX_DEPTH => {
                    self.index_tree(d, ix, before, Some(&found.obj), &path, depth + 1)
                }
                _ => {}
            }
        }
    }

    /// Adds the index's inotify watch on a directory of a watched pool.
    fn watch_for_index(&self, d: &Dir, dir: Option<&Obj>, prefix: &str) {
        let Some(path) = d.store().watch_path(dir) else {
            return;
        };
        let key = (d.pool.id, d.active.run);
        let mut o = self.overlays.lock();
        if o.inotify.is_none() {
            match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
                Ok(i) => o.inotify = Some(i),
                Err(e) => {
                    tracing::warn!(
                        "cannot watch pools for qcow2 overlays (inotify: {e}): each delete reads every volume's header"
                    );
                    return;
                }
            }
        }
        let added = o.inotify.as_ref().map(|i| i.add_watch(path.path(), MASK));
        match added {
            Some(Ok(wd)) => {
                o.wds.insert(wd, (key, prefix.to_string()));
            }
            Some(Err(e)) => {
                // ENOSPC: out of inotify watches. Without the watch this
                // directory's changes would go unseen: walk again each time.
                tracing::warn!(pool = %d.pool.name(), "cannot watch '{prefix}' for qcow2 overlays ({e}): each delete reads every volume's header");
                o.pending.entry(key).or_default().add(Change::Lost);
            }
            None => {}
        }
    }

    /// Something poolfs made or served may have made a volume an overlay:
    /// indexes of pools that are not watched are read again (watched ones
    /// saw it happen).
    pub(super) fn overlays_changed(&self) {
        let mut o = self.overlays.lock();
        let keys: Vec<PoolKey> = o.indexes.keys().copied().collect();
        for key in keys {
            o.pending.entry(key).or_default().add(Change::Served);
        }
    }

    /// A volume of `d`'s pool is open for writing through poolfs (`open`
    /// true) or one such open closed: until the last one closes, its header
    /// is read again at every question; after, once more.
    pub(super) fn overlay_writer(&self, pool: &Pool, run: u64, path: &str, open: bool) {
        let key = (pool.id, run);
        let mut o = self.overlays.lock();
        let w = o.writers.entry(key).or_default();
        if open {
            *w.entry(path.to_string()).or_default() += 1;
            return;
        }
        if let Some(n) = w.get_mut(path) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.remove(path);
            }
        }
        if w.is_empty() {
            o.writers.remove(&key);
        }
        o.pending
            .entry(key)
            .or_default()
            .add(Change::File(path.to_string()));
    }

    /// A volume of a pool changed through poolfs without an open for
    /// writing (a truncate): read again at the next question.
    pub(super) fn overlay_touched(&self, pool: &Pool, run: u64, path: &str) {
        self.overlays
            .lock()
            .pending
            .entry((pool.id, run))
            .or_default()
            .add(Change::File(path.to_string()));
    }

    /// The volume at `path` of `d`'s pool was deleted: it backs nothing
    /// (it was not deleted otherwise) and is no longer an overlay.
    pub(super) fn overlay_removed(&self, d: &Dir, path: &str) {
        self.overlays
            .lock()
            .pending
            .entry((d.pool.id, d.active.run))
            .or_default()
            .add(Change::Gone(path.to_string()));
    }

    /// `refresh`: the pool's index is read again at the next question.
    pub(super) fn overlays_reread(&self, pool: u32, run: u64) {
        self.overlays
            .lock()
            .pending
            .entry((pool, run))
            .or_default()
            .add(Change::Lost);
    }

    /// A pool run stopped: its index and watches go.
    pub(super) fn overlays_dropped(&self, pool: u32, run: u64) {
        let key = (pool, run);
        let mut o = self.overlays.lock();
        o.indexes.remove(&key);
        o.pending.remove(&key);
        o.writers.remove(&key);
        let gone: Vec<WatchDescriptor> = o
            .wds
            .iter()
            .filter(|(_, (k, _))| *k == key)
            .map(|(wd, _)| *wd)
            .collect();
        for wd in gone {
            o.wds.remove(&wd);
            if let Some(i) = &o.inotify {
                let _ = i.rm_watch(wd);
            }
        }
    }
}

/// The store's object at pool-relative `path`.
pub(super) fn lookup_path(store: &dyn Store, path: &str) -> Result<Obj> {
    let mut obj: Option<Obj> = None;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        obj = Some(store.lookup(obj.as_ref(), OsStr::new(part))?.obj);
    }
    obj.ok_or_else(|| Error::NotFound(format!("no volume '{path}'")))
}
