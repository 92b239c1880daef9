//! What every open of one file on this host shares, found by file handle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;

use super::pending::Pending;
use crate::store::behind::Behind;

/// One file's state on this host, kept while an open (or the file's locks)
/// holds it.
#[derive(Debug)]
pub(super) struct FileShared {
    /// Counts the changes made from here that reached the server (writes,
    /// truncates, allocations) and the locks taken: data read ahead before
    /// the latest one is not served (see `readahead`).
    changes: AtomicU64,
    /// The writes of the file's opens the server has not answered yet.
    pub(super) behind: Arc<Behind>,
    /// The writes of the file's opens the server has not committed yet.
    pub(super) pending: Arc<Pending>,
}

impl Default for FileShared {
    fn default() -> Self {
        FileShared {
            changes: AtomicU64::new(0),
            behind: Arc::new(Behind::new("the NFS server")),
            pending: Arc::default(),
        }
    }
}

impl FileShared {
    /// A change from here reached the server, or a lock was taken (what
    /// another host wrote before it must show).
    pub(super) fn changed(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }
}

/// Per-file values by file handle, each kept while someone holds it.
#[derive(Debug)]
pub(super) struct ByFh<T>(Mutex<Map<T>>);

/// The values, and the size at which the forgotten ones are swept out
/// (twice the size after the last sweep: sweeping costs O(1) a value).
#[derive(Debug)]
struct Map<T> {
    by_fh: HashMap<Bytes, Weak<T>>,
    sweep_at: usize,
}

impl<T> Default for ByFh<T> {
    fn default() -> Self {
        ByFh(Mutex::new(Map {
            by_fh: HashMap::new(),
            sweep_at: 64,
        }))
    }
}

impl<T> ByFh<T> {
    /// The value of `fh`, if anyone holds one.
    pub(super) fn get(&self, fh: &Bytes) -> Option<Arc<T>> {
        self.0.lock().by_fh.get(fh).and_then(Weak::upgrade)
    }

    /// The value of `fh`, made with `make` when nobody holds one.
    pub(super) fn get_or(&self, fh: &Bytes, make: impl FnOnce() -> T) -> Arc<T> {
        let mut m = self.0.lock();
        if let Some(v) = m.by_fh.get(fh).and_then(Weak::upgrade) {
            return v;
        }
        if m.by_fh.len() >= m.sweep_at {
            m.by_fh.retain(|_, w| w.strong_count() > 0);
            m.sweep_at = (2 * m.by_fh.len()).max(64);
        }
        let v = Arc::new(make());
        m.by_fh.insert(fh.clone(), Arc::downgrade(&v));
        v
    }

    /// Every value someone holds.
    pub(super) fn live(&self) -> Vec<Arc<T>> {
        self.0
            .lock()
            .by_fh
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }
}
