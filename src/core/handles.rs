//! Open file and directory handles. Ids are monotonic and never reused; a
//! handle is only valid together with the inode it was opened on.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use super::inodes::Object;
use crate::control::{PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::pool::Pool;
use crate::store::OpenVolume;
pub use crate::store::{DirEntry, Kind};

#[derive(Debug)]
pub enum OpenKind {
    /// An open volume of any store.
    Volume {
        node: Arc<Object>,
        file: Box<dyn OpenVolume>,
        /// Opened with `O_DIRECT`: its writes bypass the kernel's page cache
        /// (see `PoolFs::write`).
        direct: bool,
        /// Opened for writing: the pool-relative path it was opened at,
        /// whose qcow2 header the backing index reads until it closes.
        writer: Option<String>,
    },
    /// An open control file: the text rendered at open. `document` collects
    /// the writes of one open of `config` (a whole document, applied at
    /// close); `None` for every other control file.
    Control {
        ctl: Ctl,
        snapshot: Vec<u8>,
        document: Option<Mutex<Document>>,
    },
    /// An open directory: entries listed at open (and at every rewind), so
    /// offsets stay stable while the directory changes.
    Dir { entries: Mutex<Vec<DirEntry>> },
}

/// A `config` document being written: the text so far, why a write of it
/// was refused, if one was (then nothing of it is applied), and the lock
/// owner (the writer's file table) of its first write: only that owner's
/// `close(2)` applies it. Another process holding a copy of the descriptor
/// (a child of the writer, between its fork and its exec) closes it too,
/// and that must neither apply half a document nor lose it.
#[derive(Debug, Default)]
pub struct Document {
    pub text: Vec<u8>,
    pub refused: Option<String>,
    pub writer: Option<u64>,
}

/// Which control file.
#[derive(Debug, Clone)]
pub enum Ctl {
    Pool(Arc<Pool>, PoolFile),
    Volume(Arc<Object>, VolFile),
}

#[derive(Debug)]
pub struct OpenFile {
    pub ino: u64,
    pub kind: OpenKind,
}

/// An open handle as the FUSE layer holds it while it serves one request:
/// looked up once (`PoolFs::handle`), passed to every core call the
/// request makes.
pub type Handle = Arc<OpenFile>;

impl OpenFile {
    /// For an open volume whose requests may wait on a server
    /// (`OpenVolume::may_block`): its pool. The FUSE layer serves them off
    /// its workers, on threads of that pool's own.
    pub fn remote_pool(&self) -> Option<u32> {
        match &self.kind {
            OpenKind::Volume { file, node, .. } if file.may_block() => Some(node.pool.id),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct HandleTable {
    map: RwLock<HashMap<u64, Arc<OpenFile>>>,
    next: AtomicU64,
}

impl Default for HandleTable {
    fn default() -> Self {
        HandleTable {
            map: RwLock::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }
}

impl HandleTable {
    /// Reserves an id (used before the handle exists, to register it with its pool).
    pub fn reserve(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// Ids from `fh` on are never given out (they were, by a predecessor).
    pub fn skip_past(&self, fh: u64) {
        self.next.fetch_max(fh + 1, Ordering::Relaxed);
    }

    pub fn insert_at(&self, fh: u64, of: OpenFile) {
        self.map.write().insert(fh, Arc::new(of));
    }

    pub fn insert(&self, of: OpenFile) -> u64 {
        let fh = self.reserve();
        self.insert_at(fh, of);
        fh
    }

    /// The handle `fh`, if it was opened on `ino`.
    pub fn get(&self, fh: u64, ino: u64) -> Result<Arc<OpenFile>> {
        self.map
            .read()
            .get(&fh)
            .filter(|h| h.ino == ino)
            .cloned()
            .ok_or(Error::BadHandle)
    }

    /// How many open volume handles refer to the node `ino`.
    pub fn volume_opens(&self, ino: u64) -> usize {
        self.map
            .read()
            .values()
            .filter(|h| match &h.kind {
                OpenKind::Volume { node, .. } => node.ino == ino,
                _ => false,
            })
            .count()
    }

    pub fn remove(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.map.write().remove(&fh)
    }
}
