//! The inode table: kernel inode numbers <-> poolfs nodes.
//!
//! Numbering (stable, unique within the mount, never reused while the daemon runs):
//! - `1` is the mount's root;
//! - every pool gets a block of eight numbers from its registry id: its
//!   directory, then its control files;
//! - store objects (volumes and sub-directories, of any store) get numbers
//!   from `DYNAMIC_BASE` up, keyed by (pool, run, the store's object id), so a
//!   volume keeps its number for as long as its pool runs, whatever the
//!   kernel forgets;
//! - the `.vol` mirror of an object with number `n` is `n + (1 << 56)`
//!   (its control directory) and `n + (k << 56)` for its control files; a
//!   lookup of a mirror counts as a lookup of `n`.
//!
//! The table is a plain struct; `core` owns the lock around it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::RwLock;

use crate::control::{PoolFile, VolFile};
use crate::pool::{Active, Pool};
use crate::store::{NodeKey, Obj, Stamp, Store};

pub const ROOT: u64 = 1;
const POOL_BASE: u64 = 16;
const POOL_STRIDE: u64 = 8;
/// First number of store objects.
pub const DYNAMIC_BASE: u64 = 1 << 40;
const MIRROR_SHIFT: u32 = 56;
const VOL_ROOT_SLOT: u64 = 1 + PoolFile::ALL.len() as u64;

/// A node whose number derives from the registry alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synthetic {
    Root,
    PoolDir(u32),
    PoolCtl(u32, PoolFile),
    /// `<pool>/.vol`
    VolRoot(u32),
}

/// What a mirror number stands for: the backing number and, for a control
/// file, which one (`None`: the control directory itself).
pub fn decode_mirror(ino: u64) -> Option<(u64, Option<VolFile>)> {
    let k = ino >> MIRROR_SHIFT;
    let base = ino & ((1 << MIRROR_SHIFT) - 1);
    match k {
        0 => None,
        1 => Some((base, None)),
        k => VolFile::ALL.get(k as usize - 2).map(|f| (base, Some(*f))),
    }
}

pub fn mirror_dir(base: u64) -> u64 {
    base + (1 << MIRROR_SHIFT)
}

pub fn mirror_file(base: u64, f: VolFile) -> u64 {
    let k = VolFile::ALL.iter().position(|x| *x == f).unwrap_or(0) as u64 + 2;
    base + (k << MIRROR_SHIFT)
}

pub fn vol_root_ino(id: u32) -> u64 {
    pool_dir_ino(id) + VOL_ROOT_SLOT
}

pub fn pool_dir_ino(id: u32) -> u64 {
    POOL_BASE + u64::from(id) * POOL_STRIDE
}

pub fn pool_ctl_ino(id: u32, f: PoolFile) -> u64 {
    let k = PoolFile::ALL.iter().position(|x| *x == f).unwrap_or(0) as u64;
    pool_dir_ino(id) + 1 + k
}

pub fn decode(ino: u64) -> Option<Synthetic> {
    if ino == ROOT {
        return Some(Synthetic::Root);
    }
    if !(POOL_BASE..DYNAMIC_BASE).contains(&ino) {
        return None;
    }
    let id = u32::try_from((ino - POOL_BASE) / POOL_STRIDE).ok()?;
    match (ino - POOL_BASE) % POOL_STRIDE {
        0 => Some(Synthetic::PoolDir(id)),
        VOL_ROOT_SLOT => Some(Synthetic::VolRoot(id)),
        k => PoolFile::ALL
            .get(k as usize - 1)
            .map(|f| Synthetic::PoolCtl(id, *f)),
    }
}

/// Identity of a store object within one run of one pool: (pool, run, id).
pub type Key = (u32, u64, u64, u64);

/// The attributes the kernel caches that a change behind poolfs's back
/// can alter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    size: u64,
    mtime: SystemTime,
    ctime: SystemTime,
    perm: u16,
    uid: u32,
    gid: u32,
    nlink: u32,
}

impl Seen {
    pub(super) fn of(a: &crate::store::Attr) -> Seen {
        Seen {
            size: a.size,
            mtime: a.mtime,
            ctime: a.ctime,
            perm: a.perm,
            uid: a.uid,
            gid: a.gid,
            nlink: a.nlink,
        }
    }
}

/// A volume or sub-directory of a running pool, of any store.
#[derive(Debug)]
pub struct Object {
    pub ino: u64,
    pub pool: Arc<Pool>,
    pub active: Arc<Active>,
    pub is_dir: bool,
    /// The store's own handle on the object.
    pub obj: Obj,
    /// The content version when poolfs last closed the file; see
    /// `PoolFs::set_io_passthrough`.
    pub stamp: parking_lot::Mutex<Option<Stamp>>,
    /// Path relative to the pool, for messages (kept up to date on renames
    /// through poolfs).
    pub path: RwLock<String>,
    /// Its parent directory is watched (`core::watch`): the kernel may
    /// cache it long.
    pub watched: std::sync::atomic::AtomicBool,
    /// What poolfs last told the kernel of its attributes.
    pub told: parking_lot::Mutex<Option<Seen>>,
    /// Open handles without `O_DIRECT`: while there are any, the kernel may
    /// cache the file's pages (see `PoolFs::write`).
    pub cached_opens: std::sync::atomic::AtomicU32,
}

impl Object {
    /// True when this node belongs to its pool's current run.
    pub fn is_live(&self) -> bool {
        self.pool.is_current(self.active.run)
    }

    pub fn store(&self) -> &dyn Store {
        &*self.active.store
    }

    fn owner(&self) -> (u32, u64) {
        (self.pool.id, self.active.run)
    }
}

/// How a node the kernel forgot is found again when it asks for it by
/// number (a file handle it gave out: `FUSE_EXPORT_SUPPORT`): its store's
/// key and its path when last seen.
#[derive(Debug, Clone)]
pub struct Reconnect {
    pub key: NodeKey,
    pub path: String,
}

#[derive(Debug)]
struct Entry {
    node: Arc<Object>,
    lookups: u64,
}

#[derive(Debug)]
pub struct InodeTable {
    nodes: HashMap<u64, Entry>,
    numbers: HashMap<Key, u64>,
    /// For every number handed out in a pool's current run: its key and how
    /// to find the object again (dropped with the run, like `numbers`).
    reconnect: HashMap<u64, (Key, Reconnect)>,
    base: u64,
    next: u64,
}

impl InodeTable {
    /// A table numbering its nodes from `base` up.
    pub fn new(base: u64) -> Self {
        InodeTable {
            nodes: HashMap::new(),
            numbers: HashMap::new(),
            reconnect: HashMap::new(),
            base,
            next: 0,
        }
    }

    /// The stable number of a backing object, allocated on first sight.
    pub fn number(&mut self, key: Key) -> u64 {
        if let Some(n) = self.numbers.get(&key) {
            return *n;
        }
        let n = self.base + self.next;
        self.next += 1;
        self.numbers.insert(key, n);
        n
    }

    /// Counts one kernel lookup of the object `key`; `make` builds the node
    /// when the table has none (its descriptor is dropped otherwise).
    pub fn lookup(&mut self, key: Key, make: impl FnOnce(u64) -> Object) -> Arc<Object> {
        let ino = self.number(key);
        if let Some(e) = self.nodes.get_mut(&ino) {
            e.lookups = e.lookups.saturating_add(1);
            return e.node.clone();
        }
        let node = Arc::new(make(ino));
        self.nodes.insert(
            ino,
            Entry {
                node: node.clone(),
                lookups: 1,
            },
        );
        node
    }

    /// Counts one more kernel lookup of an existing node.
    pub fn add_lookup(&mut self, ino: u64) -> Option<Arc<Object>> {
        let e = self.nodes.get_mut(&ino)?;
        e.lookups = e.lookups.saturating_add(1);
        Some(e.node.clone())
    }

    pub fn get(&self, ino: u64) -> Option<Arc<Object>> {
        self.nodes.get(&ino).map(|e| e.node.clone())
    }

    /// The node of `key`, if the kernel holds it.
    pub fn node_of(&self, key: Key) -> Option<Arc<Object>> {
        self.numbers.get(&key).and_then(|n| self.get(*n))
    }

    /// Every node the kernel holds.
    pub fn nodes(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.nodes.values().map(|e| &e.node)
    }

    /// Drops `n` kernel references; the node goes at zero (and is returned).
    /// Saturating: a confused kernel cannot underflow the count.
    pub fn forget(&mut self, ino: u64, n: u64) -> Option<Arc<Object>> {
        let e = self.nodes.get_mut(&ino)?;
        e.lookups = e.lookups.saturating_sub(n);
        if e.lookups == 0 {
            return self.nodes.remove(&ino).map(|e| e.node);
        }
        None
    }

    /// `lookup` of an object whose store key is `found` (its file handle:
    /// `None` where the store has none), also telling whether the object's
    /// number still lacks its `Reconnect` (the caller then records one with
    /// `remember`).
    ///
    /// A backing filesystem reuses the identity `key` carries (an inode
    /// number) once an object is deleted: when the number of `key` was
    /// remembered with another store key, it named an object that is gone,
    /// and the object found now gets a number of its own. The old number
    /// stays with what the kernel may still hold under it (its node until
    /// the kernel forgets it) and can never be reconnected, so a file handle
    /// of the deleted object gives `ESTALE`, never the new object.
    pub fn lookup_unremembered(
        &mut self,
        key: Key,
        found: Option<&NodeKey>,
        make: impl FnOnce(u64) -> Object,
    ) -> (Arc<Object>, bool) {
        if let (Some(found), Some(n)) = (found, self.numbers.get(&key).copied())
            && self
                .reconnect
                .get(&n)
                .is_some_and(|(_, how)| how.key != *found)
        {
            self.numbers.remove(&key);
            self.reconnect.remove(&n);
        }
        let node = self.lookup(key, make);
        let missing = self
            .numbers
            .get(&key)
            .is_some_and(|n| !self.reconnect.contains_key(n));
        (node, missing)
    }

    pub fn remember(&mut self, ino: u64, key: Key, how: Reconnect) {
        self.reconnect.insert(ino, (key, how));
    }

    /// Takes over a number a predecessor server gave the kernel: `key` is
    /// the object's identity in this server's run of its pool.
    /// Numbers are restored in ascending order, so of two numbers a reused
    /// identity had, the newer one names it (the older object is gone).
    pub fn restore_number(&mut self, ino: u64, key: Key, how: Reconnect) {
        if let Some(old) = self.numbers.insert(key, ino)
            && old != ino
        {
            self.reconnect.remove(&old);
        }
        self.reconnect.insert(ino, (key, how));
        self.next = self.next.max(ino.saturating_sub(self.base) + 1);
    }

    /// The object `key` now lives at `path` (renamed through poolfs): its
    /// reconnect record follows; returns the number and updated record.
    pub fn repath(&mut self, key: Key, path: &str) -> Option<(u64, Reconnect)> {
        let n = *self.numbers.get(&key)?;
        let (_, how) = self.reconnect.get_mut(&n)?;
        how.path = path.to_string();
        Some((n, how.clone()))
    }

    /// The object `key` is gone: its number is no longer given out or
    /// reconnected (a node the kernel holds under it stays until forgotten).
    /// Returns the number it had.
    pub fn unnumber(&mut self, key: Key) -> Option<u64> {
        let n = self.numbers.remove(&key)?;
        self.reconnect.remove(&n);
        Some(n)
    }

    /// What number `ino` stood for, while its pool's run lasts.
    pub fn reconnect_of(&self, ino: u64) -> Option<(Key, Reconnect)> {
        self.reconnect.get(&ino).cloned()
    }

    /// Forgets every node and number of one run of a pool (after it stopped).
    pub fn drop_run(&mut self, pool: u32, run: u64) {
        self.nodes.retain(|_, e| e.node.owner() != (pool, run));
        self.numbers.retain(|k, _| !(k.0 == pool && k.1 == run));
        self.reconnect
            .retain(|_, (k, _)| !(k.0 == pool && k.1 == run));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_numbers_round_trip() {
        assert_eq!(decode(ROOT), Some(Synthetic::Root));
        for id in [0u32, 1, 77] {
            assert_eq!(decode(pool_dir_ino(id)), Some(Synthetic::PoolDir(id)));
            for f in PoolFile::ALL {
                assert_eq!(decode(pool_ctl_ino(id, f)), Some(Synthetic::PoolCtl(id, f)));
            }
        }
        assert_eq!(decode(DYNAMIC_BASE + 5), None);
        assert_eq!(decode(vol_root_ino(3)), Some(Synthetic::VolRoot(3)));
        let n = DYNAMIC_BASE + 9;
        assert_eq!(decode_mirror(n), None);
        assert_eq!(decode_mirror(mirror_dir(n)), Some((n, None)));
        for f in VolFile::ALL {
            assert_eq!(decode_mirror(mirror_file(n, f)), Some((n, Some(f))));
            assert_eq!(decode(mirror_file(n, f)), None);
        }
    }

    #[test]
    fn numbers_are_stable_per_key() {
        let mut t = InodeTable::new(DYNAMIC_BASE);
        let a = t.number((0, 1, 2, 3));
        let b = t.number((0, 1, 2, 4));
        assert_ne!(a, b);
        assert_eq!(t.number((0, 1, 2, 3)), a);
        t.drop_run(0, 1);
        assert_ne!(t.number((0, 1, 2, 3)), a, "numbers are never reused");
    }
}
