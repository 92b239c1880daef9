//! The namespace: every FUSE operation as a typed method returning
//! `Result<T>`, callable without a mount (tests drive it directly).
//!
//! What is the same for every pool lives here: the root, pool directories,
//! control files, the `.vol` mirror, inode numbers, handles, invalidation,
//! open accounting and the names reserved at a pool's top. What a pool's
//! volumes are is its `Store` (`crate::store`): each operation on a volume
//! or sub-directory is dispatched once to the store of the pool it lives in.
//!
//! `PoolFs` is composed of parts that own their state, each with its own
//! `impl` in its own file: the inode table (`inodes`), the handle table
//! (`handles`), file locks (`locks`), invalidations (`inval`), recovery
//! (`recovery`: the journal, what a predecessor left, the resend rules),
//! the watcher (`watch`) and the backing index (`backing::Overlays`). The
//! requests are grouped by file: names and attributes (`names`), tree
//! changes (`tree_ops`), directories (`dir_ops`), open files (`io_ops`),
//! control files (`control_ops`, `volume_ops`), locks (`lock_ops`), a
//! successor's takeover (`takeover`).
//!
//! Request flow: resolve the inode number to a `Node` (a short read lock on
//! the inode table, or the registry for synthetic nodes), clone the `Arc`s
//! needed, drop every lock, call the store, then lock briefly again to
//! record a new inode or handle.
//!
//! Lock order: a directory handle's listing -> wipes (busy) -> registry -> pool -> inode
//! table -> handle table. No lock is held across a store call, nor across a
//! backend start or stop.

mod backing;
mod control_ops;
mod dir_ops;
pub mod handles;
pub mod inodes;
pub mod inval;
mod io_ops;
mod lock_ops;
pub mod locks;
mod names;
pub mod recovery;
mod removed;
mod takeover;
mod tree_ops;
mod volume_ops;
pub mod watch;
mod wipes;

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::SystemTime;

use nix::errno::Errno;
use parking_lot::RwLock;

use crate::control::{self, PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::journal::Journal;
use crate::pool::{Active, Pool, Registry};
pub use crate::store::{Attr, Cache, Ctx, DirEntry, Entry, Kind, Opened, SetAttr, StatFs, Time};
use crate::store::{Obj, Store};
pub use control_ops::PoolFacts;
pub use handles::Handle;
use handles::HandleTable;
use inodes::{InodeTable, Object, Synthetic};
pub use inval::{Inval, InvalRequest};
pub use io_ops::Writer;
pub use recovery::Unique;

/// How to change a pool definition, for refusals that an editor runs into.
const CONFIG_IN_PLACE: &str = "to change a pool's config, write the whole new definition into it in place: `cat new.toml > config`";

/// The reply to copy_file_range counts bytes in a u32: never copy more than fits.
const MAX_COPY: u64 = 1 << 30;

/// What an inode number stands for.
#[derive(Debug, Clone)]
enum Node {
    Root,
    PoolDir(Arc<Pool>),
    PoolCtl(Arc<Pool>, PoolFile),
    /// A volume or sub-directory of a running pool, of any store.
    Object(Arc<Object>),
    /// `<pool>/.vol`
    VolRoot(Arc<Pool>),
    /// `<pool>/.vol/<path>`: mirrors a volume (its control files) or a sub-directory.
    VolDir(Arc<Object>),
    VolCtl(Arc<Object>, VolFile),
}

/// A directory that holds volumes: a running pool's top or a sub-directory.
#[derive(Debug, Clone)]
struct Dir {
    pool: Arc<Pool>,
    active: Arc<Active>,
    /// The sub-directory, or `None` for the top of the pool.
    dir: Option<Arc<Object>>,
}

impl Dir {
    fn store(&self) -> &dyn Store {
        &*self.active.store
    }

    fn obj(&self) -> Option<&Obj> {
        self.dir.as_ref().map(|d| &d.obj)
    }

    fn top(&self) -> bool {
        self.dir.is_none()
    }

    fn child_path(&self, name: &OsStr) -> String {
        let name = name.to_string_lossy();
        match &self.dir {
            Some(d) => format!("{}/{}", d.path.read(), name),
            None => name.into_owned(),
        }
    }

    /// Refuses a name reserved at a pool's top for a new volume or directory.
    fn refuse_reserved(&self, name: &OsStr) -> Result<()> {
        if self.store().hides_removed_open() {
            crate::store::refuse_removed_name(name)?;
        }
        if self.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::Exists(format!(
                "'{}' is a reserved name in a pool and cannot be a volume",
                name.to_string_lossy()
            )));
        }
        Ok(())
    }

    /// Refuses to remove or rename a control file.
    fn refuse_control(&self, name: &OsStr, what: &str) -> Result<()> {
        if self.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::NotPermitted(format!(
                "'{}' is a control file and cannot be {what}",
                name.to_string_lossy()
            )));
        }
        Ok(())
    }
}

/// The poolfs namespace over a registry of pools.
#[derive(Debug)]
pub struct PoolFs {
    reg: Arc<Registry>,
    inodes: RwLock<InodeTable>,
    handles: HandleTable,
    started: SystemTime,
    /// Generation of every node of this daemon's life: node numbers start
    /// over when the daemon does, so a file handle from an earlier daemon
    /// must not name whatever holds its number now (the kernel compares).
    generation: u64,
    /// Where invalidations go (`inval`).
    inval: inval::Invalidator,
    /// Where the tree is mounted (for the `path:` of volume info).
    mountpoint: RwLock<Option<std::path::PathBuf>>,
    /// See `set_io_passthrough`.
    keep_cache: std::sync::atomic::AtomicBool,
    passthrough: std::sync::atomic::AtomicBool,
    /// See `set_io_uring`.
    uring: std::sync::atomic::AtomicBool,
    /// Volumes being wiped and how each one's last wipe went (`wipes`).
    wipes: wipes::Wipes,
    /// What a successor server needs: the journal, what a predecessor
    /// left, the rules for resent requests (`recovery`).
    recovery: recovery::Recovery,
    /// File locks (`locks`).
    locks: locks::Locks,
    /// Requests served, for the metrics (counting nothing unless on).
    requests: Arc<crate::metrics::Requests>,
    /// Watches local trees for changes behind poolfs's back; unset until
    /// the kernel connection takes invalidations (`start_watching`).
    watcher: std::sync::OnceLock<Arc<watch::Watcher>>,
    /// Which volume backs which, per running pool (`backing`). Lock order:
    /// taken alone, never across I/O.
    overlays: parking_lot::Mutex<backing::Overlays>,
}

fn enotdir(op: &'static str) -> Error {
    Error::Os {
        op,
        errno: Errno::ENOTDIR,
    }
}

fn eisdir(op: &'static str) -> Error {
    Error::Os {
        op,
        errno: Errno::EISDIR,
    }
}

fn estale() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ESTALE,
    }
}

/// Every entry of a listed directory becomes a `.vol` directory.
fn mirror_entries(out: &mut [DirEntry]) {
    for e in out.iter_mut().skip(2) {
        e.ino = inodes::mirror_dir(e.ino);
        e.kind = Kind::Dir;
    }
}

/// A generation unlike that of earlier daemons: the clock's nanoseconds and
/// the pid, folded into the 32 bits the kernel keeps, never 0.
fn new_generation() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ ((nanos >> 64) as u64) ^ (u64::from(std::process::id()) << 17);
    u64::from(((mixed >> 32) as u32) ^ (mixed as u32)).max(1)
}

impl PoolFs {
    pub fn new(reg: Arc<Registry>) -> Self {
        Self::with_generation(reg, new_generation())
    }

    /// A namespace whose nodes carry `generation`: a successor server keeps
    /// its predecessor's, or the kernel would take every node it holds for
    /// a new one and fail its open files.
    pub fn with_generation(reg: Arc<Registry>, generation: u64) -> Self {
        PoolFs {
            reg,
            inodes: RwLock::new(InodeTable::new(inodes::DYNAMIC_BASE)),
            handles: HandleTable::default(),
            started: SystemTime::now(),
            generation,
            inval: Default::default(),
            mountpoint: RwLock::new(None),
            wipes: Default::default(),
            keep_cache: std::sync::atomic::AtomicBool::new(false),
            passthrough: std::sync::atomic::AtomicBool::new(false),
            uring: std::sync::atomic::AtomicBool::new(false),
            recovery: Default::default(),
            requests: crate::metrics::Requests::new(false),
            locks: Default::default(),
            watcher: std::sync::OnceLock::new(),
            overlays: Default::default(),
        }
    }

    /// Records from now on what a successor server needs (every pool's id
    /// first: the numbers of pool directories derive from it).
    pub fn set_journal(&self, j: Arc<Journal>) {
        for p in self.reg.list() {
            j.pool(&p.uuid(), p.id);
        }
        let notes = j.clone();
        self.reg.set_notes(crate::pool::PoolNotes {
            note: Arc::new(move |pool, note: &[u8]| notes.note(pool, note)),
            spill: Some(j.spill()),
        });
        self.recovery.set_journal(j);
    }

    /// Starts a journal in `file` for a server that did not take over.
    pub fn start_journal(&self, file: std::fs::File) -> Result<()> {
        let init = crate::journal::Negotiated {
            passthrough: self.io_passthrough(),
            uring: self.io_uring(),
        };
        let j = Journal::create(file, self.generation, init)?;
        self.set_journal(Arc::new(j));
        Ok(())
    }

    fn journal(&self) -> Option<&Journal> {
        self.recovery.journal()
    }

    /// What a predecessor server left for the FUSE layer (taken once).
    pub fn inherited(&self) -> Option<recovery::Inherited> {
        self.recovery.inherited()
    }

    /// Records a passthrough backing id registered for an open handle.
    pub fn backing_registered(&self, rec: &recovery::BackingRecord) {
        self.recovery.backing(rec);
    }

    /// A tree change by request `u` (see `recovery`): journaled before it
    /// runs; the resend of one a predecessor had started takes `errno` for
    /// its own effect and answers with `already`; a crash point after it
    /// took effect.
    fn change<T>(
        &self,
        u: Unique,
        op: &str,
        errno: Errno,
        run: impl FnOnce() -> Result<T>,
        already: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.recovery.intent(u);
        let r = match run() {
            Err(e) if e.errno() == errno && self.recovery.started_before(u) => return already(),
            r => r,
        };
        if r.is_ok() {
            crate::journal::crash_point(op);
        }
        r
    }

    /// The generation of this daemon's nodes (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The generation to give the kernel with node `ino`: the daemon's, but
    /// 0 for the root, which the kernel requires (it never asks for the
    /// root by handle).
    pub fn generation_of(&self, ino: u64) -> u64 {
        if ino == inodes::ROOT {
            0
        } else {
            self.generation
        }
    }

    /// Counts requests for the metrics from now on.
    pub fn count_requests(&mut self) {
        self.requests = crate::metrics::Requests::new(true);
    }

    pub fn requests(&self) -> &Arc<crate::metrics::Requests> {
        &self.requests
    }

    /// When this server started.
    pub fn started(&self) -> SystemTime {
        self.started
    }

    /// Records where the tree is mounted.
    pub fn set_mountpoint(&self, m: std::path::PathBuf) {
        *self.mountpoint.write() = Some(m);
    }

    /// Connects the kernel-cache invalidation channel.
    pub fn set_invalidator(&self, tx: std::sync::mpsc::Sender<InvalRequest>) {
        self.inval.connect(tx);
    }

    /// Where invalidations go (`inval`).
    pub fn invalidator(&self) -> &inval::Invalidator {
        &self.inval
    }

    /// Drops every kernel dentry under a pool's directory (after it stopped
    /// or before it starts), so no cached name leads to a node of an old run.
    pub(crate) fn invalidate_pool_entries(&self, pool: &Pool, active: &Active) {
        let parent = inodes::pool_dir_ino(pool.id);
        // A store that cannot list now (a server that does not answer) gives none.
        for e in active.store.list(None).unwrap_or_default() {
            self.inval.send(Inval::Entry {
                parent,
                name: e.name,
            });
        }
        // FIFO channel: once this one is done, every entry above is too.
        self.inval.send_now(Inval::Inode { ino: parent });
    }

    /// Every open volume as `pool/path`, for messages.
    pub fn open_volumes(&self) -> Vec<String> {
        self.reg
            .list()
            .iter()
            .flat_map(|p| {
                let name = p.name();
                p.open_volumes()
                    .into_iter()
                    .map(move |v| format!("{name}/{v}"))
            })
            .collect()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.reg
    }

    fn node(&self, ino: u64) -> Result<Node> {
        let stale = || Error::NotFound("no such file (its pool stopped or it was removed)".into());
        match inodes::decode(ino) {
            Some(Synthetic::Root) => Ok(Node::Root),
            Some(Synthetic::PoolDir(id)) => self.reg.by_id(id).map(Node::PoolDir).ok_or_else(stale),
            Some(Synthetic::PoolCtl(id, f)) => self
                .reg
                .by_id(id)
                .map(|p| Node::PoolCtl(p, f))
                .ok_or_else(stale),
            Some(Synthetic::VolRoot(id)) => {
                let p = self.reg.by_id(id).ok_or_else(stale)?;
                if p.active().is_none() {
                    return Err(stale());
                }
                Ok(Node::VolRoot(p))
            }
            None => {
                let (base, mirror) = match inodes::decode_mirror(ino) {
                    Some((base, file)) => (base, Some(file)),
                    None => (ino, None),
                };
                let cached = self.inodes.read().get(base);
                let o = match cached {
                    Some(o) => o,
                    // A number a predecessor server gave the kernel: found
                    // again through its store key at first use.
                    None => {
                        self.revive(base).map_err(|_| stale())?;
                        self.inodes.read().get(base).ok_or_else(stale)?
                    }
                };
                if !o.is_live() {
                    return Err(stale());
                }
                Ok(match mirror {
                    None => Node::Object(o),
                    Some(None) => Node::VolDir(o),
                    Some(Some(f)) => Node::VolCtl(o, f),
                })
            }
        }
    }

    /// The directory `ino` as a parent of volumes.
    fn parent(&self, ino: u64) -> Result<Dir> {
        match self.node(ino)? {
            Node::PoolDir(pool) => {
                let active = pool.active().ok_or_else(|| {
                    Error::NotFound(format!("pool '{}' is not running", pool.name()))
                })?;
                Ok(Dir {
                    pool,
                    active,
                    dir: None,
                })
            }
            Node::Object(o) if o.is_dir => Ok(Dir {
                pool: o.pool.clone(),
                active: o.active.clone(),
                dir: Some(o),
            }),
            Node::Object(_) | Node::PoolCtl(..) | Node::VolCtl(..) => Err(enotdir("lookup")),
            Node::VolRoot(_) | Node::VolDir(_) => Err(Error::NotPermitted(
                "the .vol tree mirrors the pool; create and remove volumes in the pool itself"
                    .into(),
            )),
            Node::Root => Err(Error::NotPermitted(
                "only pools live at the top of the mount".into(),
            )),
        }
    }

    /// The directory a `.vol` directory mirrors.
    fn mirrored(&self, node: Node) -> Result<Dir> {
        match node {
            Node::VolRoot(pool) => self.parent(inodes::pool_dir_ino(pool.id)),
            Node::VolDir(o) if o.is_dir => Ok(Dir {
                pool: o.pool.clone(),
                active: o.active.clone(),
                dir: Some(o),
            }),
            _ => Err(enotdir("lookup")),
        }
    }

    /// `parent` for a request that makes a new name there: an inactive pool
    /// holds no volumes, and the one file an admin may be trying to edit
    /// through a temporary file is `config` (`sed -i`, editors).
    fn parent_for_new(&self, ino: u64) -> Result<Dir> {
        match self.parent(ino) {
            Err(Error::NotFound(_)) if inodes::decode(ino).is_some() => {
                let name = self.pool_of(ino).map(|p| p.name()).unwrap_or_default();
                Err(Error::NotFound(format!(
                    "pool '{name}' is not running, so nothing but its control files can be created in it; {CONFIG_IN_PLACE}"
                )))
            }
            r => r,
        }
    }

    /// The pool a node belongs to (for `last_error`).
    pub fn pool_of(&self, ino: u64) -> Option<Arc<Pool>> {
        match self.node(ino).ok()? {
            Node::Root => None,
            Node::PoolDir(p) | Node::PoolCtl(p, _) | Node::VolRoot(p) => Some(p),
            Node::Object(o) | Node::VolDir(o) | Node::VolCtl(o, _) => Some(o.pool.clone()),
        }
    }

    fn dir_attr(&self, ino: u64, perm: u16, nlink: u32) -> Attr {
        Attr {
            ino,
            size: 4096,
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            kind: Kind::Dir,
            perm,
            nlink,
            uid: 0,
            gid: 0,
            blksize: 4096,
        }
    }

    fn ctl_attr(&self, ino: u64, writable: bool) -> Attr {
        Attr {
            kind: Kind::File,
            perm: if writable { 0o644 } else { 0o444 },
            nlink: 1,
            blocks: 0,
            ..self.dir_attr(ino, 0, 1)
        }
    }

    /// A running pool's directory shows its store's top (a local target's
    /// attributes), else a synthetic directory.
    fn pool_dir_attr(&self, pool: &Pool) -> Result<Attr> {
        let ino = inodes::pool_dir_ino(pool.id);
        match pool.active().and_then(|a| a.store.top_attr()) {
            Some(attr) => Ok(Attr { ino, ..attr? }),
            None => Ok(self.dir_attr(ino, 0o755, 2)),
        }
    }

    // ---- directories -------------------------------------------------------------
}

/// A reply to getxattr/listxattr: the size asked for, or the bytes.
#[derive(Debug)]
pub enum XattrReply {
    Size(u32),
    Data(Vec<u8>),
}
