//! The descriptors the local tree store keeps open between requests: one
//! bounded, process-wide LRU for every pool, so the daemon holds at most
//! (capacity + open volumes + a constant) descriptors however many objects
//! the kernel knows.
//!
//! Design assumptions:
//! - an object of a tree is named by its file handle; a descriptor is only
//!   a shortcut to it, opened again with `open_by_handle_at` after eviction
//!   (`tree::TreeStore::fd`);
//! - whoever still holds an evicted descriptor's `Arc` (an open volume, a
//!   request in progress) keeps it alive, and the object finds it again
//!   through its `Weak` (an unlinked file that is still open has no handle
//!   to open it by);
//! - the lock is never held across a syscall other than the `close` of an
//!   evicted descriptor.

use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use lru::LruCache;
use parking_lot::Mutex;

/// Descriptors kept when `poolfs mount --fd-cache` does not say.
pub const DEFAULT_CAPACITY: usize = 4096;

/// The process-wide cache (ids are never reused).
#[derive(Debug)]
pub struct FdCache {
    map: Mutex<LruCache<u64, Arc<OwnedFd>>>,
    next: AtomicU64,
}

static CACHE: OnceLock<FdCache> = OnceLock::new();

/// The cache every tree store shares.
pub fn cache() -> &'static FdCache {
    CACHE.get_or_init(|| FdCache::new(DEFAULT_CAPACITY))
}

impl FdCache {
    pub fn new(capacity: usize) -> FdCache {
        FdCache {
            map: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            next: AtomicU64::new(1),
        }
    }

    /// Changes how many descriptors are kept (the least recently used go).
    pub fn set_capacity(&self, capacity: usize) {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        let evicted: Vec<_> = {
            let mut m = self.map.lock();
            let mut out = Vec::new();
            while m.len() > cap.get() {
                out.extend(m.pop_lru());
            }
            m.resize(cap);
            out
        };
        drop(evicted);
    }

    pub fn capacity(&self) -> usize {
        self.map.lock().cap().get()
    }

    /// Descriptors held now.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A new id for an object.
    pub fn id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// The descriptor of object `id`, now the most recently used.
    pub fn get(&self, id: u64) -> Option<Arc<OwnedFd>> {
        self.map.lock().get(&id).cloned()
    }

    /// Keeps `fd` for object `id`; the least recently used one goes when
    /// full (closed after the lock is dropped, unless someone holds it).
    pub fn put(&self, id: u64, fd: Arc<OwnedFd>) {
        let evicted = self.map.lock().push(id, fd);
        drop(evicted);
    }

    /// Forgets object `id` (it is gone from the namespace).
    pub fn remove(&self, id: u64) {
        let gone = self.map.lock().pop(&id);
        drop(gone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> Arc<OwnedFd> {
        Arc::new(OwnedFd::from(
            std::fs::File::open("/").unwrap_or_else(|e| unreachable!("/ cannot be opened: {e}")),
        ))
    }

    #[test]
    fn fdcache_keeps_at_most_its_capacity() {
        let c = FdCache::new(3);
        let held = fd();
        c.put(1, held.clone());
        for id in 2..10 {
            c.put(id, fd());
        }
        assert_eq!(c.len(), 3);
        assert!(c.get(1).is_none(), "the least recently used went");
        assert_eq!(
            Arc::strong_count(&held),
            1,
            "evicted: only its holder keeps it"
        );
        assert!(c.get(9).is_some());
        c.set_capacity(1);
        assert_eq!(c.len(), 1);
        assert!(c.get(9).is_some(), "the most recently used stays");
        c.remove(9);
        assert!(c.is_empty());
    }

    #[test]
    fn fdcache_ids_are_never_reused() {
        let c = FdCache::new(1);
        let a = c.id();
        let b = c.id();
        assert_ne!(a, b);
    }
}
