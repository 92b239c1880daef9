//! The namespace: every FUSE operation as a typed method returning
//! `Result<T>`, callable without a mount (tests drive it directly).
//!
//! What is the same for every pool lives here: the root, pool directories,
//! control files, the `.vol` mirror, inode numbers, handles, invalidation,
//! open accounting and the names reserved at a pool's top. What a pool's
//! volumes are is its `Store` (`crate::store`): each operation on a volume
//! or sub-directory is dispatched once to the store of the pool it lives in.
//!
//! Request flow: resolve the inode number to a `Node` (a short read lock on
//! the inode table, or the registry for synthetic nodes), clone the `Arc`s
//! needed, drop every lock, call the store, then lock briefly again to
//! record a new inode or handle.
//!
//! Lock order: a directory handle's listing -> registry -> pool -> inode
//! table -> handle table. No lock is held across a store call, nor across a
//! backend start or stop.

mod backing;
mod control_ops;
pub mod handles;
pub mod inodes;
mod lock_ops;
pub mod locks;
pub mod recovery;
mod volume_ops;
pub mod watch;

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use nix::errno::Errno;
use parking_lot::RwLock;

use crate::control::{self, PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::journal::{self, Journal};
use crate::pool::{Active, Pool, Registry};
pub use crate::store::{Attr, Cache, Ctx, DirEntry, Entry, Kind, Opened, SetAttr, StatFs, Time};
use crate::store::{Found, NodeKey, Obj, Store, StoreOpen};
pub use control_ops::PoolFacts;
pub use handles::Handle;
use handles::{Ctl, HandleTable, OpenFile, OpenKind};
use inodes::{InodeTable, Object, Reconnect, Synthetic};
pub use recovery::Unique;
use watch::Change;

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

/// A kernel cache entry that no longer tells the truth.
#[derive(Debug, Clone)]
pub enum Inval {
    /// The name `name` in directory `parent`.
    Entry { parent: u64, name: OsString },
    /// The attributes and cached data of inode `ino` (changed behind the kernel).
    Inode { ino: u64 },
    /// Only the attributes of inode `ino` (its pages stay).
    Attr { ino: u64 },
    /// The attributes of inode `ino` and its cached pages of one range.
    Range { ino: u64, offset: u64, len: u64 },
    /// Names that changed behind poolfs's back (directory, name): every
    /// name the kernel cached is expired at once (`FUSE_NOTIFY_INC_EPOCH`),
    /// which takes no lock in the kernel, so it never waits for a process
    /// that holds a directory while it waits for this server; before Linux
    /// 6.16, each of these names is invalidated instead.
    Names(Vec<(u64, OsString)>),
}

/// An invalidation and, when the sender waits for it, where to say it is done.
#[derive(Debug)]
pub struct InvalRequest {
    pub inval: Inval,
    pub done: Option<std::sync::mpsc::SyncSender<()>>,
}

/// Longest wait for a synchronous invalidation.
const INVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

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
    /// Where invalidations go; the FUSE layer sends them to the kernel from
    /// its own thread, never from a request handler (no deadlock on the
    /// directory locks the kernel holds while it waits for a reply).
    inval: parking_lot::Mutex<Option<std::sync::mpsc::Sender<InvalRequest>>>,
    /// Where the tree is mounted (for the `path:` of volume info).
    mountpoint: RwLock<Option<std::path::PathBuf>>,
    /// Volumes being wiped: opens are refused meanwhile.
    /// Lock order: before the pool lock and the handle table.
    busy: parking_lot::Mutex<std::collections::HashSet<u64>>,
    /// See `set_io_passthrough`.
    keep_cache: std::sync::atomic::AtomicBool,
    passthrough: std::sync::atomic::AtomicBool,
    /// Last or ongoing wipe of each volume (by node number).
    wipes: parking_lot::Mutex<std::collections::HashMap<u64, control::volume::WipeStatus>>,
    /// What a successor server needs: the journal, what a predecessor
    /// left, the rules for resent requests (`recovery`).
    recovery: recovery::Recovery,
    /// File locks (`locks`), and for nodes with no backing object to lock
    /// on, one memfd each whose open file descriptions stand in for it.
    locks: locks::Locks,
    arenas: parking_lot::Mutex<std::collections::HashMap<u64, std::fs::File>>,
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
            inval: parking_lot::Mutex::new(None),
            mountpoint: RwLock::new(None),
            busy: parking_lot::Mutex::new(Default::default()),
            wipes: parking_lot::Mutex::new(Default::default()),
            keep_cache: std::sync::atomic::AtomicBool::new(false),
            passthrough: std::sync::atomic::AtomicBool::new(false),
            recovery: Default::default(),
            requests: crate::metrics::Requests::new(false),
            locks: Default::default(),
            arenas: Default::default(),
            watcher: std::sync::OnceLock::new(),
            overlays: Default::default(),
        }
    }

    /// Records from now on what a successor server needs (every pool's id
    /// first: the numbers of pool directories derive from it).
    pub fn set_journal(&self, j: Arc<Journal>) {
        for p in self.reg.list() {
            j.pool(&p.uuid, p.id);
        }
        let notes = j.clone();
        self.reg.set_notes(crate::pool::PoolNotes(Arc::new(
            move |pool, note: &[u8]| notes.note(pool, note),
        )));
        self.recovery.set_journal(j);
    }

    /// Starts a journal in `file` for a server that did not take over.
    pub fn start_journal(&self, file: std::fs::File) -> Result<()> {
        let j = Journal::create(file, self.generation, self.io_passthrough())?;
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
            recovery::crash_point(op);
        }
        r
    }

    /// Takes over what a predecessor server left: the numbers it gave the
    /// kernel (objects of pools running again are found through their
    /// store keys when the kernel next asks) and the handles the kernel
    /// holds (volumes opened again with their flags, counted by their pools
    /// so `stop` still waits for them; directories listed again); a wipe it
    /// was running shows as interrupted until it is requested again (a
    /// resent request runs it from the start). Returns the handles that
    /// could not be restored (their objects are gone).
    pub fn restore(&self, state: &journal::State) -> Vec<u64> {
        self.recovery.take_over(state);
        {
            let mut t = self.inodes.write();
            for n in state.numbers.values() {
                let Some(active) = self.reg.by_id(n.pool).and_then(|p| p.active()) else {
                    continue;
                };
                let key = (n.pool, active.run, n.id.0, n.id.1);
                let how = Reconnect {
                    key: NodeKey(n.key.clone()),
                    path: n.path.clone(),
                };
                t.restore_number(n.ino, key, how);
            }
        }
        self.mark_wipes_interrupted(state.wipes.iter().copied());
        if let Some(j) = self.journal() {
            for ino in &state.wipes {
                j.wipe(*ino, false);
            }
        }
        let mut lost = Vec::new();
        for h in state.handles.values() {
            self.handles.skip_past(h.fh);
            if let Err(e) = self.restore_handle(h, &state.notes) {
                tracing::warn!(fh = h.fh, ino = h.ino, "cannot restore an open handle: {e}");
                lost.push(h.fh);
            }
        }
        self.restore_locks(state);
        lost
    }

    fn restore_handle(
        &self,
        h: &journal::Handle,
        notes: &std::collections::BTreeMap<u32, Vec<u8>>,
    ) -> Result<()> {
        let base = inodes::decode_mirror(h.ino).map_or(h.ino, |(b, _)| b);
        if inodes::decode(base).is_none() && self.inodes.write().add_lookup(base).is_none() {
            self.revive(base)?;
        }
        if h.kind == journal::HandleKind::Control {
            return self.restore_control(h);
        }
        if h.kind == journal::HandleKind::Dir {
            let entries = self.list_dir(h.ino)?;
            self.handles.skip_past(h.fh);
            self.handles.insert_at(
                h.fh,
                OpenFile {
                    ino: h.ino,
                    kind: OpenKind::Dir {
                        entries: parking_lot::Mutex::new(entries),
                    },
                },
            );
            // Already in the journal: restored handles are not recorded again.
            return Ok(());
        }
        let Node::Object(o) = self.node(h.ino)? else {
            return Err(eisdir("open"));
        };
        let ctx = Ctx {
            uid: h.uid,
            gid: h.gid,
            pid: 0,
        };
        let opened = o.store().open(&ctx, &o.obj, h.flags)?;
        if let Some(note) = notes.get(&o.pool.id).filter(|n| !n.is_empty()) {
            opened.file.inherit(note);
        }
        self.register_volume(o, opened, h.flags, ctx, Some(h.fh))
            .map(drop)
    }

    /// Records an open handle for a successor server.
    fn journal_open(&self, fh: u64, ino: u64, kind: journal::HandleKind, flags: i32, ctx: Ctx) {
        if let Some(j) = self.journal() {
            j.open_handle(&journal::Handle {
                fh,
                ino,
                kind,
                flags,
                uid: ctx.uid,
                gid: ctx.gid,
            });
        }
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
        *self.inval.lock() = Some(tx);
    }

    /// Queues an invalidation; it reaches the kernel shortly after.
    pub(crate) fn invalidate(&self, i: Inval) {
        if let Some(tx) = self.inval.lock().as_ref() {
            let _ = tx.send(InvalRequest {
                inval: i,
                done: None,
            });
        }
    }

    /// Invalidates before returning (so a control request that changed a
    /// volume is visible when its `write(2)` returns). Waits at most
    /// `INVAL_WAIT`: a kernel that cannot take the notification now (it holds
    /// a lock while waiting for another request) never blocks this one.
    pub(crate) fn invalidate_now(&self, i: Inval) {
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
        let sent = self.inval.lock().as_ref().is_some_and(|tx| {
            tx.send(InvalRequest {
                inval: i,
                done: Some(done_tx),
            })
            .is_ok()
        });
        if sent {
            let _ = done_rx.recv_timeout(INVAL_WAIT);
        }
    }

    /// Drops every kernel dentry under a pool's directory (after it stopped
    /// or before it starts), so no cached name leads to a node of an old run.
    pub(crate) fn invalidate_pool_entries(&self, pool: &Pool, active: &Active) {
        let parent = inodes::pool_dir_ino(pool.id);
        // A store that cannot list now (a server that does not answer) gives none.
        for e in active.store.list(None).unwrap_or_default() {
            self.invalidate(Inval::Entry {
                parent,
                name: e.name,
            });
        }
        // FIFO channel: once this one is done, every entry above is too.
        self.invalidate_now(Inval::Inode { ino: parent });
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
                    .ok_or_else(|| Error::NotFound("no such control file".into()))?;
                let o = self.inodes.write().add_lookup(o.ino).ok_or_else(|| {
                    Error::NotFound("no such volume (its pool stopped or it was removed)".into())
                })?;
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
    fn mirror_entry(&self, e: Entry) -> Entry {
        Entry {
            attr: self.dir_attr(inodes::mirror_dir(e.attr.ino), 0o755, 2),
            cache: Cache::Never,
        }
    }

    /// Looks `name` up in a directory of a running pool: one kernel lookup
    /// of the node.
    fn lookup_in(&self, d: &Dir, name: &OsStr) -> Result<Entry> {
        if d.top() && control::is_reserved(&name.to_string_lossy()) {
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
    fn adopt(&self, d: &Dir, path: String, found: Found, watched: bool) -> (Arc<Object>, Entry) {
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
    fn lookup_self(&self, ino: u64) -> Result<Entry> {
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
    fn revive(&self, ino: u64) -> Result<()> {
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
    fn lookup_parent(&self, ino: u64) -> Result<Entry> {
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

    // ---- directories -------------------------------------------------------------

    pub fn mkdir(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        self.change(
            u,
            "mkdir",
            Errno::EEXIST,
            || self.mkdir_once(ctx, parent, name, mode),
            || self.lookup(parent, name),
        )
    }

    fn mkdir_once(&self, ctx: Ctx, parent: u64, name: &OsStr, mode: u32) -> Result<Entry> {
        if let Node::Root = self.node(parent)? {
            return self.define_pool(name);
        }
        let d = self.parent_for_new(parent)?;
        d.refuse_reserved(name)?;
        let watched = self.watch_dir(&d);
        let found = self.own(&[(&d, name, Change::Came)], || {
            d.store().mkdir(&ctx, d.obj(), name, mode)
        })?;
        Ok(self.adopt(&d, d.child_path(name), found, watched).1)
    }

    pub fn rmdir(&self, u: Unique, parent: u64, name: &OsStr) -> Result<()> {
        let run = || self.rmdir_once(parent, name);
        self.change(u, "rmdir", Errno::ENOENT, run, || Ok(()))
    }

    fn rmdir_once(&self, parent: u64, name: &OsStr) -> Result<()> {
        if let Node::Root = self.node(parent)? {
            return self.undefine_pool(name);
        }
        let d = self.parent(parent)?;
        d.refuse_control(name, "removed")?;
        let victim = d.store().lookup(d.obj(), name).ok().map(|f| f.id);
        self.own(&[(&d, name, Change::Gone)], || {
            d.store().rmdir(d.obj(), name)
        })?;
        if let Some(id) = victim {
            self.unnumber(&d, id);
        }
        Ok(())
    }

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

    fn list_dir(&self, ino: u64) -> Result<Vec<DirEntry>> {
        let dot = |name: &str, ino: u64| DirEntry {
            ino,
            kind: Kind::Dir,
            name: OsString::from(name),
        };
        let mut out = vec![dot(".", ino), dot("..", inodes::ROOT)];
        match self.node(ino)? {
            Node::Root => {
                for p in self.reg.list() {
                    out.push(DirEntry {
                        ino: inodes::pool_dir_ino(p.id),
                        kind: Kind::Dir,
                        name: p.name().into(),
                    });
                }
            }
            Node::PoolDir(pool) => {
                for f in PoolFile::ALL {
                    out.push(DirEntry {
                        ino: inodes::pool_ctl_ino(pool.id, f),
                        kind: Kind::File,
                        name: f.name().into(),
                    });
                }
                if pool.active().is_some() {
                    out.push(DirEntry {
                        ino: inodes::vol_root_ino(pool.id),
                        kind: Kind::Dir,
                        name: control::VOL_DIR.into(),
                    });
                    self.list_in(&self.parent(ino)?, &mut out)?;
                }
            }
            Node::Object(o) if o.is_dir => self.list_in(&self.parent(ino)?, &mut out)?,
            Node::VolDir(o) if !o.is_dir => {
                for f in VolFile::ALL {
                    out.push(DirEntry {
                        ino: inodes::mirror_file(o.ino, f),
                        kind: Kind::File,
                        name: f.name().into(),
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
    fn list_in(&self, d: &Dir, out: &mut Vec<DirEntry>) -> Result<()> {
        let listed = d.store().list(d.obj())?;
        let mut t = self.inodes.write();
        for e in listed {
            if d.top() && control::is_reserved(&e.name.to_string_lossy()) {
                continue;
            }
            out.push(DirEntry {
                ino: t.number((d.pool.id, d.active.run, e.id.0, e.id.1)),
                kind: e.kind,
                name: e.name,
            });
        }
        Ok(())
    }

    // ---- files ---------------------------------------------------------------------

    pub fn open(&self, ctx: Ctx, ino: u64, flags: i32) -> Result<Opened> {
        match self.node(ino)? {
            Node::PoolCtl(pool, f) => self.open_control(ino, Ctl::Pool(pool, f), flags),
            Node::VolCtl(o, f) => self.open_control(ino, Ctl::Volume(o, f), flags),
            Node::Object(o) if !o.is_dir => {
                // A store that watches its storage says now whether it answers.
                self.check_health(&o.pool);
                let opened = o.store().open(&ctx, &o.obj, flags)?;
                if flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0 {
                    self.overlays_changed();
                }
                self.register_volume(o, opened, flags, ctx, None)
            }
            Node::Object(_)
            | Node::PoolDir(_)
            | Node::Root
            | Node::VolRoot(_)
            | Node::VolDir(_) => Err(eisdir("open")),
        }
    }

    /// Registers an open of a volume (at handle `at`, one a predecessor
    /// server gave out, or a new one): refused while the volume is being
    /// wiped; counted by its pool, so `stop` waits for it; journaled. `busy`
    /// is held until the handle is in the table, so a wipe cannot start in
    /// between.
    fn register_volume(
        &self,
        node: Arc<Object>,
        opened: StoreOpen,
        flags: i32,
        ctx: Ctx,
        at: Option<u64>,
    ) -> Result<Opened> {
        // The stamp is taken before the lock: no syscall under `busy`.
        let keep_cache = self.keep_cache.load(std::sync::atomic::Ordering::Relaxed)
            && opened
                .file
                .stamp()
                .is_some_and(|s| *node.stamp.lock() == Some(s));
        let path = node.path.read().clone();
        let busy = self.busy.lock();
        if busy.contains(&node.ino) {
            return Err(Error::Busy(format!("volume '{path}' is being wiped")));
        }
        let fh = at.unwrap_or_else(|| self.handles.reserve());
        node.pool.register_open(fh, &path, node.active.run)?;
        let ino = node.ino;
        let direct = flags & libc::O_DIRECT != 0;
        if !direct {
            node.cached_opens.fetch_add(1, Ordering::SeqCst);
        }
        let writer = (flags & libc::O_ACCMODE != libc::O_RDONLY).then(|| path.clone());
        if let Some(p) = &writer {
            self.overlay_writer(&node.pool, node.active.run, p, true);
        }
        self.handles.insert_at(
            fh,
            OpenFile {
                ino: node.ino,
                kind: OpenKind::Volume {
                    node,
                    file: opened.file,
                    direct,
                    writer,
                },
            },
        );
        drop(busy);
        if at.is_none() {
            self.journal_open(fh, ino, journal::HandleKind::Volume, flags, ctx);
        }
        Ok(Opened {
            fh,
            direct_io: false,
            volume: opened.passthrough,
            keep_cache,
        })
    }

    pub fn create(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        self.change(
            u,
            "create",
            Errno::EEXIST,
            || self.create_once(ctx, parent, name, mode, flags),
            // The predecessor created it: open what it made.
            || self.create_once(ctx, parent, name, mode, flags & !libc::O_EXCL),
        )
    }

    fn create_once(
        &self,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        let d = self.parent_for_new(parent)?;
        d.refuse_reserved(name)?;
        let watched = self.watch_dir(&d);
        let made = self.own(&[(&d, name, Change::Came)], || {
            d.store().create(&ctx, d.obj(), name, mode, flags)
        });
        self.overlays_changed();
        match made {
            Ok((found, opened)) => {
                let (node, entry) = self.adopt(&d, d.child_path(name), found, watched);
                // What a successor opens again: the file, not a new one.
                let reopen = flags & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC);
                Ok((
                    entry,
                    self.register_volume(node, opened, reopen, ctx, None)?,
                ))
            }
            Err(Error::Os {
                errno: Errno::EEXIST,
                ..
            }) if flags & libc::O_EXCL == 0 => {
                // Appeared behind poolfs's back: open what is there, if it
                // is a volume (a name hidden from poolfs stays taken).
                let e = self.lookup_in(&d, name).map_err(|e| match e {
                    Error::Os {
                        errno: Errno::ENOENT,
                        ..
                    } => Error::Os {
                        op: "create",
                        errno: Errno::EEXIST,
                    },
                    e => e,
                })?;
                if e.attr.kind == Kind::Dir {
                    self.forget(e.attr.ino, 1);
                    return Err(eisdir("create"));
                }
                let opened = self
                    .open(ctx, e.attr.ino, flags)
                    .inspect_err(|_| self.forget(e.attr.ino, 1))?;
                if flags & libc::O_TRUNC != 0 && e.attr.size > 0 {
                    let sa = SetAttr {
                        size: Some(0),
                        fh: Some(opened.fh),
                        caller: ctx,
                        ..SetAttr::default()
                    };
                    if let Err(err) = self.setattr(e.attr.ino, sa) {
                        self.release(opened.fh);
                        self.forget(e.attr.ino, 1);
                        return Err(err);
                    }
                }
                Ok((e, opened))
            }
            Err(e) => Err(e),
        }
    }

    pub fn mknod(
        &self,
        u: Unique,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<Entry> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::NotPermitted(
                "poolfs holds only volumes and directories: no FIFOs, sockets or device nodes"
                    .into(),
            ));
        }
        let made = || {
            let (e, o) =
                self.create_once(ctx, parent, name, mode, libc::O_RDONLY | libc::O_EXCL)?;
            self.release(o.fh);
            Ok(e)
        };
        self.change(u, "mknod", Errno::EEXIST, made, || {
            self.lookup(parent, name)
        })
    }

    pub fn unlink(&self, u: Unique, parent: u64, name: &OsStr) -> Result<()> {
        let run = || self.unlink_once(parent, name);
        self.change(u, "unlink", Errno::ENOENT, run, || Ok(()))
    }

    fn unlink_once(&self, parent: u64, name: &OsStr) -> Result<()> {
        let d = self.parent(parent)?;
        d.refuse_control(name, "removed")?;
        let victim = self.refuse_backing_removal(&d, name, "deleted")?;
        self.own(&[(&d, name, Change::Gone)], || {
            d.store().unlink(d.obj(), name)
        })?;
        self.overlay_removed(&d, &d.child_path(name));
        if let Some((id, 1)) = victim {
            self.unnumber(&d, id);
        }
        Ok(())
    }

    /// The object `id` of `d`'s pool is gone (its last name removed through
    /// poolfs): its number is no longer remembered, in the table or the
    /// journal, so they do not grow with every file ever made. What the
    /// kernel still holds under the number stays until it forgets it.
    fn unnumber(&self, d: &Dir, id: (u64, u64)) {
        let gone = self
            .inodes
            .write()
            .unnumber((d.pool.id, d.active.run, id.0, id.1));
        if let (Some(ino), Some(j)) = (gone, self.journal()) {
            j.unnumber(ino);
        }
    }

    pub fn rename(
        &self,
        u: Unique,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        let run = || self.rename_once(parent, name, newparent, newname, flags);
        self.change(u, "rename", Errno::ENOENT, run, || Ok(()))
    }

    fn rename_once(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if matches!(self.node(parent)?, Node::Root) || matches!(self.node(newparent)?, Node::Root) {
            return self.rename_pool(parent, name, newparent, newname);
        }
        let from = self.parent(parent)?;
        let to = self.parent(newparent)?;
        if from.pool.id != to.pool.id || from.active.run != to.active.run {
            return Err(Error::CrossPool(format!(
                "volumes cannot move between pools ('{}' to '{}'): copy them instead",
                from.pool.name(),
                to.pool.name()
            )));
        }
        from.refuse_control(name, "renamed")?;
        if to.top() && newname == PoolFile::Config.name() {
            return Err(Error::Exists(format!(
                "'config' of pool '{}' cannot be replaced by a rename (as editors and `sed -i` save); {CONFIG_IN_PLACE}",
                to.pool.name()
            )));
        }
        to.refuse_reserved(newname)?;
        let same = parent == newparent && name == newname;
        if !same && flags & (libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) == 0 {
            self.refuse_backing_removal(&to, newname, "replaced")?;
        }
        let watched = self.watch_dir(&to);
        let mut changes = vec![(&from, name, Change::Gone), (&to, newname, Change::Came)];
        if flags & libc::RENAME_EXCHANGE != 0 {
            // Each name also gets the other's object.
            changes.extend([(&from, name, Change::Came), (&to, newname, Change::Gone)]);
        }
        let renamed = self.own(&changes, || {
            from.store()
                .rename(from.obj(), name, to.obj(), newname, flags)
        });
        self.overlays_changed();
        renamed?;
        // Keep the moved node's path (used in messages and to tell the
        // watcher's events from poolfs's own) and its cache time current.
        // Its reconnect record follows too: a forgotten file is found again
        // only where it was last seen.
        if let Ok(found) = to.store().lookup(to.obj(), newname) {
            let key = (to.pool.id, to.active.run, found.id.0, found.id.1);
            let path = to.child_path(newname);
            let node = self.inodes.read().node_of(key);
            if let Some(n) = node {
                *n.path.write() = path.clone();
                n.watched
                    .store(watched, std::sync::atomic::Ordering::Relaxed);
            }
            let moved = self.inodes.write().repath(key, &path);
            if let (Some((ino, how)), Some(j)) = (moved, self.journal()) {
                j.number(&journal::Number {
                    ino,
                    pool: to.pool.id,
                    id: found.id,
                    key: how.key.0,
                    path,
                });
            }
        }
        Ok(())
    }

    /// The open handle `fh`, if it was opened on `ino`: looked up once per
    /// request, then passed to each call that serves it.
    pub fn handle(&self, ino: u64, fh: u64) -> Result<Handle> {
        self.handles.get(fh, ino)
    }

    pub fn read(&self, h: &Handle, offset: u64, size: u32) -> Result<crate::volume::Data> {
        match &h.kind {
            OpenKind::Volume { file, .. } => file.read(offset, size),
            OpenKind::Control { snapshot, .. } => {
                let start = (offset as usize).min(snapshot.len());
                let end = start.saturating_add(size as usize).min(snapshot.len());
                Ok(snapshot[start..end].to_vec().into())
            }
            OpenKind::Dir { .. } => Err(eisdir("read")),
        }
    }

    /// `kill_privs_for`: the kernel asks the daemon to clear set-id bits for
    /// this writer (it lacks CAP_FSETID, `FUSE_HANDLE_KILLPRIV_V2`).
    /// `from_cache`: the write-back of the kernel's cached pages
    /// (`FUSE_WRITE_CACHE`), not a caller's `write(2)`.
    /// `u`: the request, for a control write (`control_request`).
    pub fn write(
        &self,
        u: Unique,
        h: &Handle,
        offset: u64,
        data: &[u8],
        kill_privs_for: Option<Ctx>,
        from_cache: bool,
    ) -> Result<u32> {
        let ino = h.ino;
        match &h.kind {
            OpenKind::Volume { file, .. } if from_cache => {
                file.write_cached(offset, data, kill_privs_for.as_ref())
            }
            OpenKind::Volume {
                file, node, direct, ..
            } => {
                let n = file.write(offset, data, kill_privs_for.as_ref())?;
                // The kernel drops a file's cached pages before a direct
                // write, but after an asynchronous one (AIO, io_uring) it
                // does not: a buffered read running meanwhile may have
                // cached what the backing held before. Like a local
                // filesystem at direct I/O completion, the range written is
                // dropped from the cache before the write is answered, when
                // another open may have cached it.
                if *direct && node.cached_opens.load(Ordering::SeqCst) > 0 {
                    self.invalidate_now(Inval::Range {
                        ino,
                        offset,
                        len: u64::from(n),
                    });
                }
                Ok(n)
            }
            OpenKind::Control { ctl, document, .. } => {
                self.control_write(u, ctl, document.as_ref(), data)?;
                Ok(data.len() as u32)
            }
            OpenKind::Dir { .. } => Err(eisdir("write")),
        }
    }

    /// The file the kernel should read and write for volume `ino` in kernel
    /// passthrough: opened read-write once per inode and shared by all its
    /// opens (the kernel allows one backing file per inode). The caller's
    /// access mode and `O_DIRECT` still apply: the kernel checks and passes
    /// them per request.
    pub fn passthrough_file(&self, ino: u64) -> Result<std::fs::File> {
        match self.node(ino)? {
            Node::Object(o) if !o.is_dir => o.store().passthrough_file(&o.obj),
            _ => Err(Error::Os {
                op: "open",
                errno: Errno::EINVAL,
            }),
        }
    }

    /// `close(2)` of one descriptor: a `config` document written through it
    /// is applied now, so `close` returns the refusal.
    pub fn flush(&self, h: &Handle) -> Result<()> {
        match &h.kind {
            OpenKind::Control {
                ctl,
                document: Some(doc),
                ..
            } => self.control_close(ctl, doc),
            _ => Ok(()),
        }
    }

    pub fn release(&self, fh: u64) {
        self.release_locks(fh);
        let Some(h) = self.handles.remove(fh) else {
            return;
        };
        if let Some(j) = self.journal() {
            j.release(fh);
        }
        match &h.kind {
            OpenKind::Control {
                ctl,
                document: Some(doc),
                ..
            } => {
                if let Err(e) = self.control_close(ctl, doc) {
                    // Only reached without a flush (the kernel always sends one at close).
                    tracing::warn!("config written without close(2) was refused: {e}");
                }
            }
            OpenKind::Volume {
                node,
                file,
                direct,
                writer,
            } => {
                if !direct {
                    node.cached_opens.fetch_sub(1, Ordering::SeqCst);
                }
                if let Some(p) = writer {
                    self.overlay_writer(&node.pool, node.active.run, p, false);
                }
                // What it wrote may have made it an overlay.
                self.overlays_changed();
                if self.keep_cache.load(std::sync::atomic::Ordering::Relaxed) {
                    *node.stamp.lock() = file.stamp();
                }
                if let Err(e) = file.close() {
                    tracing::error!(pool = %node.pool.name(), "closing '{}': {e}", node.path.read());
                }
                node.pool.release_open(fh);
            }
            _ => {}
        }
    }

    /// Records what INIT negotiated: whether the kernel passes volume I/O
    /// through. Without passthrough every open goes through the page cache,
    /// so opens may keep the pages of files unchanged since poolfs closed
    /// them (passthrough writes would bypass that cache).
    pub fn set_io_passthrough(&self, on: bool) {
        self.passthrough
            .store(on, std::sync::atomic::Ordering::Relaxed);
        self.keep_cache
            .store(!on, std::sync::atomic::Ordering::Relaxed);
    }

    /// See `set_io_passthrough`.
    pub fn io_passthrough(&self) -> bool {
        self.passthrough.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn volume_file(h: &Handle) -> Result<&dyn crate::store::OpenVolume> {
        match &h.kind {
            OpenKind::Volume { file, .. } => Ok(&**file),
            _ => Err(Error::Unsupported(
                "only volumes support this operation".into(),
            )),
        }
    }

    pub fn fsync(&self, h: &Handle, datasync: bool) -> Result<()> {
        match &h.kind {
            OpenKind::Volume { file, .. } => file.fsync(datasync),
            _ => Ok(()),
        }
    }

    pub fn fsyncdir(&self, ino: u64) -> Result<()> {
        match self.node(ino)? {
            Node::Object(o) if o.is_dir => o.store().fsyncdir(Some(&o.obj)),
            Node::PoolDir(p) => match p.active() {
                Some(a) => a.store.fsyncdir(None),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub fn fallocate(&self, h: &Handle, offset: u64, length: u64, mode: i32) -> Result<()> {
        Self::volume_file(h)?.fallocate(offset, length, mode)
    }

    pub fn lseek(&self, h: &Handle, offset: i64, whence: i32) -> Result<i64> {
        Self::volume_file(h)?.lseek(offset, whence)
    }

    pub fn copy_file_range(
        &self,
        from: &Handle,
        off_in: u64,
        to: &Handle,
        off_out: u64,
        len: u64,
    ) -> Result<u64> {
        let dst = Self::volume_file(to)?;
        Self::volume_file(from)?.copy_to(off_in, dst, off_out, len.min(MAX_COPY))
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

    fn xattr_node(&self, ino: u64) -> Result<Arc<Object>> {
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
        if !name.as_bytes().starts_with(b"user.") {
            // Only user.* is shown: security.capability and ACLs are absent.
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

    pub fn listxattr(&self, ino: u64, size: u32) -> Result<XattrReply> {
        let names = match self.node(ino)? {
            Node::Object(o) => o.store().listxattr(&o.obj)?,
            _ => Vec::new(),
        };
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

/// A reply to getxattr/listxattr: the size asked for, or the bytes.
#[derive(Debug)]
pub enum XattrReply {
    Size(u32),
    Data(Vec<u8>),
}
