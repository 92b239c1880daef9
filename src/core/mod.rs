//! The namespace: every FUSE operation as a typed method returning
//! `Result<T>`, callable without a mount (tests drive it directly).
//!
//! Request flow: resolve the inode number to a `Node` (a short read lock on
//! the inode table, or the registry for synthetic nodes), clone the `Arc`s
//! needed, drop every lock, do the syscall, then lock briefly again to record
//! a new inode or handle.
//!
//! Lock order: a directory handle's listing -> registry -> pool -> inode
//! table -> handle table. No lock is
//! held across a syscall on a volume, nor across a backend start or stop.
//!
//! Confinement: every backing object is reached from its parent's descriptor
//! one component at a time with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`;
//! symlinks, FIFOs, sockets and devices are never shown nor followed.

mod control_ops;
pub mod handles;
pub mod inodes;
pub mod remote;
mod volume_ops;

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag};
use parking_lot::RwLock;

use crate::control::{self, PoolFile, VolFile};
use crate::error::{Error, Result};
use crate::pool::{Active, Pool, Registry};
use crate::store::Storage;
pub use crate::store::{Attr, Cache, Ctx, DirEntry, Entry, Kind, Opened, SetAttr, StatFs, Time};
use crate::sys;
use handles::{Ctl, HandleTable, OpenFile, OpenKind};
use inodes::{Backing, InodeTable, Reconnect, Synthetic, cname};
use remote::RemoteNode;

/// How to change a pool definition, for refusals that an editor runs into.
const CONFIG_IN_PLACE: &str = "to change a pool's config, write the whole new definition into it in place: `cat new.toml > config`";

/// What an inode number stands for.
#[derive(Debug, Clone)]
enum Node {
    Root,
    PoolDir(Arc<Pool>),
    PoolCtl(Arc<Pool>, PoolFile),
    Backing(Arc<Backing>),
    /// `<pool>/.vol`
    VolRoot(Arc<Pool>),
    /// `<pool>/.vol/<path>`: mirrors a volume (its control files) or a sub-directory.
    VolDir(Arc<Backing>),
    VolCtl(Arc<Backing>, VolFile),
    /// A volume or sub-directory of a userspace NFS pool.
    Remote(Arc<RemoteNode>),
    /// `<pool>/.vol/<path>` of a userspace NFS pool.
    RemoteVolDir(Arc<RemoteNode>),
    RemoteVolCtl(Arc<RemoteNode>, VolFile),
}

/// A directory that holds volumes: a running pool's top or a sub-directory.
struct Parent {
    pool: Arc<Pool>,
    active: Arc<Active>,
    /// The pool's target directory.
    root: Arc<std::os::fd::OwnedFd>,
    /// The sub-directory, or `None` for the top of the pool.
    dir: Option<Arc<Backing>>,
}

impl Parent {
    /// A directory of a file-backed pool (block pools are flat and have none).
    fn new(pool: Arc<Pool>, active: Arc<Active>, dir: Option<Arc<Backing>>) -> Result<Parent> {
        let root = match &active.storage {
            Storage::Dir(fd) => fd.clone(),
            Storage::Block(_) => {
                return Err(Error::NotPermitted(format!(
                    "pool '{}' is a block pool: its volumes are its devices, nothing is created, removed or renamed",
                    pool.name()
                )));
            }
            Storage::Nfs(_) => {
                return Err(Error::NotFound(format!(
                    "pool '{}' is reached by NFS file handle, not through a local directory",
                    pool.name()
                )));
            }
        };
        Ok(Parent {
            pool,
            active,
            root,
            dir,
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.dir {
            Some(b) => b.fd.as_fd(),
            None => self.root.as_fd(),
        }
    }

    fn top(&self) -> bool {
        self.dir.is_none()
    }

    fn child_path(&self, name: &OsStr) -> String {
        let name = name.to_string_lossy();
        match &self.dir {
            Some(b) => format!("{}/{}", b.path.read(), name),
            None => name.into_owned(),
        }
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
    /// Nodes of userspace NFS pools. Lock order: like `inodes` (never both).
    remote: RwLock<InodeTable<RemoteNode>>,
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
    /// See `set_keep_cache`.
    keep_cache: std::sync::atomic::AtomicBool,
    /// Last or ongoing wipe of each volume (by backing inode number).
    wipes: parking_lot::Mutex<std::collections::HashMap<u64, control::volume::WipeStatus>>,
}

/// What identifies a version of a file's content: mtime and size.
fn stamp(st: &FileStat) -> (i64, i64, i64) {
    (st.st_mtime, st.st_mtime_nsec, st.st_size)
}

/// True for a file with set-user-id or set-group-id bits.
fn has_setid(b: &Backing) -> bool {
    fstat(b.fd.as_fd()).is_ok_and(|st| st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0)
}

/// What the VFS does to a regular file when an unprivileged caller writes,
/// truncates or allocates, and when anyone changes its owner: drop
/// set-user-id, set-group-id when group-executable or when the caller is
/// neither privileged nor in the file's group, and file capabilities. The
/// daemon works as root, so it must do it itself.
fn kill_privs(fd: BorrowedFd<'_>, caller: &Ctx) -> Result<()> {
    let st = fstat(fd)?;
    kill_privs_as_of(fd, &st, caller)
}

/// `kill_privs`, deciding from `before` (the file's state before an owner
/// change: the group the caller must be in is the old one).
fn kill_privs_as_of(fd: BorrowedFd<'_>, before: &FileStat, caller: &Ctx) -> Result<()> {
    if before.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Ok(());
    }
    let old = before.st_mode & 0o7777;
    let mut kill = libc::S_ISUID;
    if old & libc::S_ISGID != 0
        && (old & libc::S_IXGRP != 0 || (!caller.privileged() && !caller.in_group(before.st_gid)))
    {
        kill |= libc::S_ISGID;
    }
    let mode = fstat(fd)?.st_mode & 0o7777;
    if mode & kill != 0 {
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            sys::proc_path(fd).as_c_str(),
            Mode::from_bits_truncate(mode & !kill),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .map_err(Error::os("chmod"))?;
    }
    match sys::removexattr(fd, c"security.capability") {
        Ok(()) | Err(Errno::ENODATA) | Err(Errno::EOPNOTSUPP) => Ok(()),
        Err(e) => Err(Error::Os {
            op: "removexattr",
            errno: e,
        }),
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

/// The path of an open object relative to `target` (its pool's directory),
/// from the kernel's name for the descriptor; `None` when it lies elsewhere
/// or was removed.
fn relative_path(fd: BorrowedFd<'_>, target: &std::path::Path) -> Option<String> {
    let full = std::fs::read_link(std::path::Path::new(sys::proc_path(fd).to_str().ok()?)).ok()?;
    let rel = full.strip_prefix(target).ok()?.to_str()?;
    (!rel.is_empty() && !rel.ends_with(" (deleted)")).then(|| rel.to_string())
}

/// I/O on a device of an inaccessible block pool fails with EIO.
fn refuse_gone_device(node: &Backing) -> Result<()> {
    if node.block.is_some() && node.pool.state() == crate::pool::PoolState::Inaccessible {
        return Err(Error::Os {
            op: "io",
            errno: Errno::EIO,
        });
    }
    Ok(())
}

/// Attributes of a backing node; a block device shows as a regular file of
/// the device's size, all of it allocated.
fn backing_attr(b: &Backing) -> Result<Attr> {
    let mut a = stat_attr(b.ino, &fstat(b.fd.as_fd())?);
    if let Some(size) = b.block {
        a.size = size;
        a.blocks = size / 512;
        a.nlink = 1;
    }
    Ok(a)
}

/// Every entry of a listed backing directory becomes a `.vol` directory.
fn mirror_entries(out: &mut [DirEntry]) {
    for e in out.iter_mut().skip(2) {
        e.ino = inodes::mirror_dir(e.ino);
        e.kind = Kind::Dir;
    }
}

fn stat_attr(ino: u64, st: &FileStat) -> Attr {
    let ts = |s: i64, ns: i64| {
        if s >= 0 {
            SystemTime::UNIX_EPOCH + std::time::Duration::new(s as u64, ns as u32)
        } else {
            SystemTime::UNIX_EPOCH - std::time::Duration::new(s.unsigned_abs(), 0)
                + std::time::Duration::new(0, ns as u32)
        }
    };
    let is_dir = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR;
    Attr {
        ino,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: ts(st.st_atime, st.st_atime_nsec),
        mtime: ts(st.st_mtime, st.st_mtime_nsec),
        ctime: ts(st.st_ctime, st.st_ctime_nsec),
        kind: if is_dir { Kind::Dir } else { Kind::File },
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        blksize: st.st_blksize as u32,
    }
}

fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat> {
    nix::sys::stat::fstatat(fd, c"", AtFlags::AT_EMPTY_PATH).map_err(Error::os("stat"))
}

fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn time_spec(t: Option<Time>) -> nix::sys::time::TimeSpec {
    use nix::sys::time::TimeSpec;
    match t {
        None => TimeSpec::UTIME_OMIT,
        Some(Time::Now) => TimeSpec::UTIME_NOW,
        Some(Time::At(st)) => match st.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => TimeSpec::from_duration(d),
            Err(e) => {
                let d = e.duration();
                let mut ts = TimeSpec::new(-(d.as_secs() as i64), 0);
                if d.subsec_nanos() > 0 {
                    ts = TimeSpec::new(
                        -(d.as_secs() as i64) - 1,
                        1_000_000_000 - i64::from(d.subsec_nanos()),
                    );
                }
                ts
            }
        },
    }
}

impl PoolFs {
    pub fn new(reg: Arc<Registry>) -> Self {
        PoolFs {
            reg,
            inodes: RwLock::new(InodeTable::new(inodes::DYNAMIC_BASE)),
            remote: RwLock::new(InodeTable::new(inodes::REMOTE_BASE)),
            handles: HandleTable::default(),
            started: SystemTime::now(),
            generation: new_generation(),
            inval: parking_lot::Mutex::new(None),
            mountpoint: RwLock::new(None),
            busy: parking_lot::Mutex::new(Default::default()),
            wipes: parking_lot::Mutex::new(Default::default()),
            keep_cache: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The generation to give the kernel with every node (see the field).
    pub fn generation(&self) -> u64 {
        self.generation
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
        let mut names: Vec<OsString> = active
            .devices()
            .iter()
            .map(|d| OsString::from(&d.name))
            .collect();
        names.extend(self.remote_names(active).into_iter().map(OsString::from));
        if let Some(root) = active.dir()
            && let Ok(mut dir) = sys::reopen(root, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .and_then(nix::dir::Dir::from_fd)
        {
            for ent in dir.iter().flatten() {
                let name = OsStr::from_bytes(ent.file_name().to_bytes());
                if name != "." && name != ".." {
                    names.push(name.to_os_string());
                }
            }
        }
        for name in names {
            self.invalidate(Inval::Entry { parent, name });
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
                if let Some((base, file)) = inodes::decode_mirror(ino) {
                    if base >= inodes::REMOTE_BASE {
                        let r = self.remote.read().get(base).ok_or_else(stale)?;
                        if !r.is_live() {
                            return Err(stale());
                        }
                        return Ok(match file {
                            None => Node::RemoteVolDir(r),
                            Some(f) => Node::RemoteVolCtl(r, f),
                        });
                    }
                    let b = self.inodes.read().get(base).ok_or_else(stale)?;
                    if !b.is_live() {
                        return Err(stale());
                    }
                    return Ok(match file {
                        None => Node::VolDir(b),
                        Some(f) => Node::VolCtl(b, f),
                    });
                }
                if ino >= inodes::REMOTE_BASE {
                    let r = self.remote.read().get(ino).ok_or_else(stale)?;
                    if !r.is_live() {
                        return Err(stale());
                    }
                    return Ok(Node::Remote(r));
                }
                let b = self.inodes.read().get(ino).ok_or_else(stale)?;
                if !b.is_live() {
                    return Err(stale());
                }
                Ok(Node::Backing(b))
            }
        }
    }

    /// The directory `ino` as a parent of volumes.
    fn parent(&self, ino: u64) -> Result<Parent> {
        match self.node(ino)? {
            Node::PoolDir(pool) => {
                let active = pool.active().ok_or_else(|| {
                    Error::NotFound(format!("pool '{}' is not running", pool.name()))
                })?;
                Parent::new(pool, active, None)
            }
            Node::Backing(b) if b.is_dir => Parent::new(b.pool.clone(), b.active.clone(), Some(b)),
            Node::Backing(_)
            | Node::PoolCtl(..)
            | Node::VolCtl(..)
            | Node::Remote(_)
            | Node::RemoteVolCtl(..) => Err(Error::Os {
                op: "lookup",
                errno: Errno::ENOTDIR,
            }),
            Node::VolRoot(_) | Node::VolDir(_) | Node::RemoteVolDir(_) => Err(Error::NotPermitted(
                "the .vol tree mirrors the pool; create and remove volumes in the pool itself"
                    .into(),
            )),
            Node::Root => Err(Error::NotPermitted(
                "only pools live at the top of the mount".into(),
            )),
        }
    }

    /// `parent` for a request that makes a new name there: an inactive pool
    /// holds no volumes, and the one file an admin may be trying to edit
    /// through a temporary file is `config` (`sed -i`, editors).
    fn parent_for_new(&self, ino: u64) -> Result<Parent> {
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
            Node::Backing(b) | Node::VolDir(b) | Node::VolCtl(b, _) => Some(b.pool.clone()),
            Node::Remote(r) | Node::RemoteVolDir(r) | Node::RemoteVolCtl(r, _) => {
                Some(r.pool.clone())
            }
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

    fn pool_dir_attr(&self, pool: &Pool) -> Result<Attr> {
        let ino = inodes::pool_dir_ino(pool.id);
        match pool.active() {
            Some(a) => match a.dir() {
                Some(fd) => Ok(stat_attr(ino, &fstat(fd)?)),
                None => Ok(self.dir_attr(ino, 0o755, 2)),
            },
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
                if let Some(d) = self.remote_dir(parent)? {
                    return self.remote_lookup(&d, name);
                }
                if let Some(e) = self.lookup_device(&pool, name)? {
                    return Ok(e);
                }
                self.lookup_backing(&self.parent(parent)?, name)
            }
            Node::VolRoot(pool) => {
                if control::is_reserved(&name.to_string_lossy()) {
                    return Err(Error::NotFound("no such volume".into()));
                }
                if let Some(d) = self.remote_dir(inodes::pool_dir_ino(pool.id))? {
                    let e = self.remote_lookup(&d, name)?;
                    return Ok(self.mirror_entry(e));
                }
                if let Some(e) = self.lookup_device(&pool, name)? {
                    return Ok(self.mirror_entry(e));
                }
                let p = self.parent(inodes::pool_dir_ino(pool.id))?;
                self.lookup_mirror(&p, name)
            }
            Node::RemoteVolDir(r) if r.is_dir => {
                let d = self.remote_dir(r.ino)?.ok_or(Error::Os {
                    op: "lookup",
                    errno: Errno::ENOTDIR,
                })?;
                let e = self.remote_lookup(&d, name)?;
                Ok(self.mirror_entry(e))
            }
            Node::RemoteVolDir(r) => {
                let f = VolFile::from_name(&name.to_string_lossy())
                    .ok_or_else(|| Error::NotFound("no such control file".into()))?;
                let r = self.remote.write().add_lookup(r.ino).ok_or_else(|| {
                    Error::NotFound("no such volume (its pool stopped or it was removed)".into())
                })?;
                Ok(Entry {
                    attr: self.ctl_attr(inodes::mirror_file(r.ino, f), f.writable()),
                    cache: Cache::Never,
                })
            }
            Node::VolDir(b) if b.is_dir => {
                let p = Parent::new(b.pool.clone(), b.active.clone(), Some(b))?;
                self.lookup_mirror(&p, name)
            }
            Node::VolDir(b) => {
                let f = VolFile::from_name(&name.to_string_lossy())
                    .ok_or_else(|| Error::NotFound("no such control file".into()))?;
                let b = self.inodes.write().add_lookup(b.ino).ok_or_else(|| {
                    Error::NotFound("no such volume (its pool stopped or it was removed)".into())
                })?;
                Ok(Entry {
                    attr: self.ctl_attr(inodes::mirror_file(b.ino, f), f.writable()),
                    cache: Cache::Never,
                })
            }
            Node::Remote(_) => match self.remote_dir(parent)? {
                Some(d) => self.remote_lookup(&d, name),
                None => Err(Error::Os {
                    op: "lookup",
                    errno: Errno::ENOTDIR,
                }),
            },
            _ => self.lookup_backing(&self.parent(parent)?, name),
        }
    }

    /// A device of a running block pool (`None`: not a block pool).
    fn lookup_device(&self, pool: &Arc<Pool>, name: &OsStr) -> Result<Option<Entry>> {
        let Some(active) = pool.active() else {
            return Ok(None);
        };
        if active.dir().is_some() {
            return Ok(None);
        }
        let (idx, dev) = active
            .devices()
            .iter()
            .enumerate()
            .find(|(_, d)| OsStr::new(&d.name) == name)
            .ok_or(Error::Os {
                op: "lookup",
                errno: Errno::ENOENT,
            })?;
        let fd = sys::dup(dev.fd.as_fd()).map_err(Error::os("lookup"))?;
        let (size, path) = (dev.size, dev.name.clone());
        let key = (pool.id, active.run, 0, idx as u64);
        let node = {
            let mut t = self.inodes.write();
            let (node, unremembered) = t.lookup_unremembered(key, |ino| Backing {
                ino,
                pool: pool.clone(),
                active: active.clone(),
                fd,
                is_dir: false,
                block: Some(size),
                stamp: parking_lot::Mutex::new(None),
                path: RwLock::new(path),
            });
            if unremembered {
                t.remember(node.ino, key, Reconnect::Device(idx));
            }
            node
        };
        Ok(Some(Entry {
            attr: backing_attr(&node)?,
            cache: Cache::Backing,
        }))
    }

    /// Looks a backing object up and answers with its `.vol` mirror directory.
    fn lookup_mirror(&self, p: &Parent, name: &OsStr) -> Result<Entry> {
        let e = self.lookup_backing(p, name)?;
        Ok(self.mirror_entry(e))
    }

    /// The `.vol` mirror directory of a looked-up object.
    fn mirror_entry(&self, e: Entry) -> Entry {
        Entry {
            attr: self.dir_attr(inodes::mirror_dir(e.attr.ino), 0o755, 2),
            cache: Cache::Never,
        }
    }

    fn lookup_backing(&self, parent: &Parent, name: &OsStr) -> Result<Entry> {
        let c = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        let fd = match sys::open_beneath(parent.fd(), &c, OFlag::O_PATH, 0) {
            Ok(fd) => fd,
            // A symlink: never shown, never followed.
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => {
                return Err(Error::Os {
                    op: "lookup",
                    errno: Errno::ENOENT,
                });
            }
            Err(e) => {
                return Err(Error::Os {
                    op: "lookup",
                    errno: e,
                });
            }
        };
        let st = fstat(fd.as_fd())?;
        let is_dir = match file_type(&st) {
            SFlag::S_IFREG => false,
            SFlag::S_IFDIR => true,
            _ => {
                return Err(Error::Os {
                    op: "lookup",
                    errno: Errno::ENOENT,
                });
            }
        };
        let fd = if is_dir {
            sys::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(Error::os("lookup"))?
        } else {
            fd
        };
        let key = (parent.pool.id, parent.active.run, st.st_dev, st.st_ino);
        let path = parent.child_path(name);
        let (node, unremembered) = self.inodes.write().lookup_unremembered(key, |ino| Backing {
            ino,
            pool: parent.pool.clone(),
            active: parent.active.clone(),
            fd,
            is_dir,
            block: None,
            stamp: parking_lot::Mutex::new(None),
            path: RwLock::new(path.clone()),
        });
        *node.path.write() = path.clone();
        if unremembered {
            self.remember_tree_node(&node, key, path);
        }
        Ok(Entry {
            attr: stat_attr(node.ino, &st),
            cache: Cache::Backing,
        })
    }

    /// Records how to find a local node again after the kernel forgot it
    /// (its file handle; once per number, see `lookup_unremembered`); see
    /// `lookup_self`. The syscall runs with no lock held.
    fn remember_tree_node(&self, node: &Backing, key: inodes::Key, path: String) {
        // Not every filesystem gives handles: such nodes only live while cached.
        if let Ok(handle) = sys::file_handle(node.fd.as_fd()) {
            let how = Reconnect::Tree {
                handle,
                path,
                is_dir: node.is_dir,
            };
            self.inodes.write().remember(node.ino, key, how);
        }
    }

    /// `LOOKUP(ino, ".")`: the kernel asks for a node by number, from a
    /// file handle it gave out (`open_by_handle_at`, an NFS re-export)
    /// after it forgot the node. Counts as a lookup of that node.
    fn lookup_self(&self, ino: u64) -> Result<Entry> {
        let stale = || Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        };
        if inodes::decode(ino).is_some() {
            return self.getattr(ino);
        }
        let base = inodes::decode_mirror(ino).map_or(ino, |(b, _)| b);
        if base >= inodes::REMOTE_BASE {
            // Userspace NFS nodes: only while the kernel still holds them.
            self.remote.write().add_lookup(base).ok_or_else(stale)?;
            return self.getattr(ino);
        }
        if self.inodes.write().add_lookup(base).is_none() {
            self.revive(base)?;
        }
        self.getattr(ino)
    }

    /// Finds a forgotten node of a pool's current run again and counts one
    /// lookup of it; `ESTALE` when it is gone or its run ended.
    fn revive(&self, ino: u64) -> Result<()> {
        let stale = || Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        };
        let (key, how) = self.inodes.read().reconnect_of(ino).ok_or_else(stale)?;
        let pool = self.reg.by_id(key.0).ok_or_else(stale)?;
        let active = pool.active().filter(|a| a.run == key.1).ok_or_else(stale)?;
        let (fd, is_dir, block, path) = match how {
            Reconnect::Device(idx) => {
                let dev = active.devices().get(idx).ok_or_else(stale)?;
                let fd = sys::dup(dev.fd.as_fd()).map_err(Error::os("lookup"))?;
                (fd, false, Some(dev.size), dev.name.clone())
            }
            Reconnect::Tree {
                handle,
                path,
                is_dir,
            } => {
                let root = active.dir().ok_or_else(stale)?;
                let fd = sys::open_by_handle(root, &handle, OFlag::O_PATH).map_err(|_| stale())?;
                let st = fstat(fd.as_fd())?;
                if (st.st_dev, st.st_ino) != (key.2, key.3) {
                    return Err(stale());
                }
                let fd = if is_dir {
                    sys::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                        .map_err(Error::os("lookup"))?
                } else {
                    fd
                };
                let path = relative_path(fd.as_fd(), &active.target).unwrap_or(path);
                (fd, is_dir, None, path)
            }
        };
        self.inodes.write().lookup(key, |ino| Backing {
            ino,
            pool: pool.clone(),
            active: active.clone(),
            fd,
            is_dir,
            block,
            stamp: parking_lot::Mutex::new(None),
            path: RwLock::new(path),
        });
        Ok(())
    }

    /// `LOOKUP(ino, "..")`: the parent of a directory, for the kernel to
    /// reconnect a directory it found by file handle.
    fn lookup_parent(&self, ino: u64) -> Result<Entry> {
        match self.node(ino)? {
            Node::Root | Node::PoolDir(_) => self.getattr(inodes::ROOT),
            Node::Backing(b) if b.is_dir => {
                let path = b.path.read().clone();
                let Some((up, _)) = path.rsplit_once('/') else {
                    return self.getattr(inodes::pool_dir_ino(b.pool.id));
                };
                // Walk down from the pool's top; only the last step counts
                // as the kernel's lookup.
                let mut parent = Parent::new(b.pool.clone(), b.active.clone(), None)?;
                let mut walked = Vec::new();
                let mut entry = None;
                for comp in up.split('/') {
                    let e = self.lookup_backing(&parent, OsStr::new(comp))?;
                    let node = self.inodes.read().get(e.attr.ino).ok_or(Error::Os {
                        op: "lookup",
                        errno: Errno::ESTALE,
                    })?;
                    walked.push(e.attr.ino);
                    parent = Parent::new(b.pool.clone(), b.active.clone(), Some(node))?;
                    entry = Some(e);
                }
                walked.pop();
                for w in walked {
                    self.forget(w, 1);
                }
                entry.ok_or(Error::Os {
                    op: "lookup",
                    errno: Errno::ESTALE,
                })
            }
            _ => Err(Error::Os {
                op: "lookup",
                errno: Errno::ENOTDIR,
            }),
        }
    }

    pub fn forget(&self, ino: u64, n: u64) {
        if inodes::decode(ino).is_none() {
            let base = inodes::decode_mirror(ino).map_or(ino, |(b, _)| b);
            if base >= inodes::REMOTE_BASE {
                self.remote.write().forget(base, n);
            } else {
                self.inodes.write().forget(base, n);
            }
        }
    }

    pub fn getattr(&self, ino: u64) -> Result<Entry> {
        let (attr, cache) = match self.node(ino)? {
            Node::Root => (self.dir_attr(ino, 0o755, 2), Cache::Backing),
            Node::PoolDir(p) => (self.pool_dir_attr(&p)?, Cache::Backing),
            Node::PoolCtl(_, f) => (self.ctl_attr(ino, f.writable()), Cache::Never),
            Node::Backing(b) => (backing_attr(&b)?, Cache::Backing),
            Node::Remote(r) => (self.remote_getattr(&r)?, Cache::Backing),
            Node::VolRoot(_) | Node::VolDir(_) | Node::RemoteVolDir(_) => {
                (self.dir_attr(ino, 0o755, 2), Cache::Never)
            }
            Node::VolCtl(_, f) | Node::RemoteVolCtl(_, f) => {
                (self.ctl_attr(ino, f.writable()), Cache::Never)
            }
        };
        Ok(Entry { attr, cache })
    }

    pub fn setattr(&self, ino: u64, sa: SetAttr) -> Result<Entry> {
        let fd_owner;
        let fd = match self.node(ino)? {
            Node::Remote(r) => return self.remote_setattr(&r, sa),
            Node::PoolCtl(..) | Node::VolCtl(..) | Node::RemoteVolCtl(..) => {
                // O_TRUNC on a control file does nothing (sysfs rule).
                if sa.mode.is_some() || sa.uid.is_some() || sa.gid.is_some() {
                    return Err(Error::NotPermitted(
                        "control files keep their owner and mode".into(),
                    ));
                }
                return self.getattr(ino);
            }
            Node::Root | Node::VolRoot(_) | Node::VolDir(_) | Node::RemoteVolDir(_) => {
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
                    return Err(Error::Os {
                        op: "truncate",
                        errno: Errno::EISDIR,
                    });
                }
                let root = match &a.storage {
                    Storage::Dir(fd) => fd.clone(),
                    Storage::Block(_) | Storage::Nfs(_) => {
                        return Err(Error::NotPermitted(
                            "the directory of a block or userspace NFS pool cannot be changed"
                                .into(),
                        ));
                    }
                };
                fd_owner = Fd::Root(root);
                fd_owner.fd()
            }
            Node::Backing(b) => {
                if let Some(size) = b.block {
                    let only_same_size = sa.size.is_none_or(|s| s == size)
                        && sa.mode.is_none()
                        && sa.uid.is_none()
                        && sa.gid.is_none()
                        && sa.atime.is_none()
                        && sa.mtime.is_none();
                    if !only_same_size {
                        return Err(Error::NotPermitted(format!(
                            "'{}' is a block device volume: its size and attributes are fixed",
                            b.path.read()
                        )));
                    }
                    return self.getattr(ino);
                }
                fd_owner = Fd::Node(b);
                fd_owner.fd()
            }
        };
        if sa.changes_nothing() {
            // `chown(f, -1, -1)` or an unprivileged change the kernel saw
            // coming (fallocate): drop set-id bits as the VFS would.
            kill_privs(fd, &sa.caller)?;
        }
        if sa.uid.is_some() || sa.gid.is_some() {
            let before = fstat(fd)?;
            nix::unistd::fchownat(
                fd,
                c"",
                sa.uid.map(nix::unistd::Uid::from_raw),
                sa.gid.map(nix::unistd::Gid::from_raw),
                AtFlags::AT_EMPTY_PATH,
            )
            .map_err(Error::os("chown"))?;
            // Any owner change drops set-user-id, whoever asks.
            kill_privs_as_of(fd, &before, &sa.caller)?;
        }
        if let Some(mode) = sa.mode {
            nix::sys::stat::fchmodat(
                nix::fcntl::AT_FDCWD,
                sys::proc_path(fd).as_c_str(),
                Mode::from_bits_truncate(mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(Error::os("chmod"))?;
        }
        if let Some(size) = sa.size {
            let size = i64::try_from(size).map_err(|_| Error::Os {
                op: "truncate",
                errno: Errno::EFBIG,
            })?;
            let via_handle = sa.fh.and_then(|fh| self.handles.get(fh, ino).ok());
            match via_handle.as_deref().map(|h| &h.kind) {
                Some(OpenKind::Volume { file, .. }) => nix::unistd::ftruncate(file, size),
                _ => nix::unistd::truncate(sys::proc_path(fd).as_c_str(), size),
            }
            .map_err(Error::os("truncate"))?;
            if !sa.caller.privileged() {
                kill_privs(fd, &sa.caller)?;
            }
        }
        if sa.atime.is_some() || sa.mtime.is_some() {
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                sys::proc_path(fd).as_c_str(),
                &time_spec(sa.atime),
                &time_spec(sa.mtime),
                nix::sys::stat::UtimensatFlags::FollowSymlink,
            )
            .map_err(Error::os("utimens"))?;
        }
        self.getattr(ino)
    }

    // ---- directories -------------------------------------------------------------

    pub fn mkdir(&self, ctx: Ctx, parent: u64, name: &OsStr, mode: u32) -> Result<Entry> {
        if let Node::Root = self.node(parent)? {
            return self.define_pool(name);
        }
        if let Some(d) = self.remote_dir(parent)? {
            return self.remote_mkdir(ctx, &d, name, mode);
        }
        let p = self.parent_for_new(parent)?;
        self.refuse_reserved(&p, name)?;
        let c = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        {
            let _ids = sys::FsIdGuard::new(ctx.uid, ctx.gid);
            nix::sys::stat::mkdirat(
                p.fd(),
                c.as_c_str(),
                Mode::from_bits_truncate(mode & 0o7777),
            )
            .map_err(Error::os("mkdir"))?;
        }
        self.lookup_backing(&p, name)
    }

    fn refuse_reserved(&self, p: &Parent, name: &OsStr) -> Result<()> {
        if p.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::Exists(format!(
                "'{}' is a reserved name in a pool and cannot be a volume",
                name.to_string_lossy()
            )));
        }
        Ok(())
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> Result<()> {
        if let Node::Root = self.node(parent)? {
            return self.undefine_pool(name);
        }
        if let Some(d) = self.remote_dir(parent)? {
            return self.remote_unlink(&d, name, true);
        }
        let p = self.parent(parent)?;
        if p.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::NotPermitted(format!(
                "'{}' is a control file and cannot be removed",
                name.to_string_lossy()
            )));
        }
        let c = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        nix::unistd::unlinkat(p.fd(), c.as_c_str(), nix::unistd::UnlinkatFlags::RemoveDir)
            .map_err(Error::os("rmdir"))
    }

    /// Opens a directory; it is listed by the first `readdir` (offset 0).
    pub fn opendir(&self, ino: u64) -> Result<u64> {
        if let Node::Remote(r) = self.node(ino)? {
            if !r.is_dir {
                return Err(Error::Os {
                    op: "opendir",
                    errno: Errno::ENOTDIR,
                });
            }
        } else if let Node::Backing(b) = self.node(ino)?
            && !b.is_dir
        {
            return Err(Error::Os {
                op: "opendir",
                errno: Errno::ENOTDIR,
            });
        }
        let entries = Vec::new();
        Ok(self.handles.insert(OpenFile {
            ino,
            kind: OpenKind::Dir {
                entries: parking_lot::Mutex::new(entries),
            },
        }))
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
        self.handles.remove(fh);
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
                if let Some(active) = pool.active() {
                    out.push(DirEntry {
                        ino: inodes::vol_root_ino(pool.id),
                        kind: Kind::Dir,
                        name: control::VOL_DIR.into(),
                    });
                    if active.nfs().is_some() {
                        if let Some(d) = self.remote_dir(ino)? {
                            self.remote_list(&d, &mut out)?;
                        }
                    } else if active.dir().is_none() {
                        self.list_devices(&pool, &active, &mut out);
                    } else {
                        let p = Parent::new(pool, active, None)?;
                        self.list_backing(&p, &mut out)?;
                    }
                }
            }
            Node::Backing(b) if b.is_dir => {
                let p = Parent::new(b.pool.clone(), b.active.clone(), Some(b))?;
                self.list_backing(&p, &mut out)?;
            }
            Node::Remote(r) if r.is_dir => {
                if let Some(d) = self.remote_dir(ino)? {
                    self.remote_list(&d, &mut out)?;
                }
            }
            Node::VolRoot(pool) => {
                match pool.active() {
                    Some(a) if a.nfs().is_some() => {
                        if let Some(d) = self.remote_dir(inodes::pool_dir_ino(pool.id))? {
                            self.remote_list(&d, &mut out)?;
                        }
                    }
                    Some(a) if a.dir().is_none() => self.list_devices(&pool, &a, &mut out),
                    _ => {
                        let p = self.parent(inodes::pool_dir_ino(pool.id))?;
                        self.list_backing(&p, &mut out)?;
                    }
                }
                mirror_entries(&mut out);
            }
            Node::VolDir(b) if b.is_dir => {
                let p = Parent::new(b.pool.clone(), b.active.clone(), Some(b))?;
                self.list_backing(&p, &mut out)?;
                mirror_entries(&mut out);
            }
            Node::RemoteVolDir(r) if r.is_dir => {
                if let Some(d) = self.remote_dir(r.ino)? {
                    self.remote_list(&d, &mut out)?;
                }
                mirror_entries(&mut out);
            }
            Node::VolDir(_) | Node::RemoteVolDir(_) => {
                let base = inodes::decode_mirror(ino).map_or(ino, |(b, _)| b);
                for f in VolFile::ALL {
                    out.push(DirEntry {
                        ino: inodes::mirror_file(base, f),
                        kind: Kind::File,
                        name: f.name().into(),
                    });
                }
            }
            _ => {
                return Err(Error::Os {
                    op: "opendir",
                    errno: Errno::ENOTDIR,
                });
            }
        }
        Ok(out)
    }

    fn list_devices(&self, pool: &Pool, active: &Active, out: &mut Vec<DirEntry>) {
        let mut t = self.inodes.write();
        for (i, d) in active.devices().iter().enumerate() {
            out.push(DirEntry {
                ino: t.number((pool.id, active.run, 0, i as u64)),
                kind: Kind::File,
                name: OsString::from(&d.name),
            });
        }
    }

    fn list_backing(&self, p: &Parent, out: &mut Vec<DirEntry>) -> Result<()> {
        let fd = sys::reopen(p.fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(Error::os("readdir"))?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(Error::os("readdir"))?;
        let dirfd = sys::dup(dir.as_fd()).map_err(Error::os("readdir"))?;
        let dev = fstat(dirfd.as_fd())?.st_dev;
        let start = out.len();
        for ent in dir.iter() {
            let ent = ent.map_err(Error::os("readdir"))?;
            let name = OsStr::from_bytes(ent.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            if p.top() && control::is_reserved(&name.to_string_lossy()) {
                continue;
            }
            let kind = match ent.file_type() {
                Some(nix::dir::Type::File) => Kind::File,
                Some(nix::dir::Type::Directory) => Kind::Dir,
                Some(_) => continue,
                None => match nix::sys::stat::fstatat(
                    &dirfd,
                    ent.file_name(),
                    AtFlags::AT_SYMLINK_NOFOLLOW,
                ) {
                    Ok(st) if file_type(&st) == SFlag::S_IFREG => Kind::File,
                    Ok(st) if file_type(&st) == SFlag::S_IFDIR => Kind::Dir,
                    _ => continue,
                },
            };
            out.push(DirEntry {
                // The backing inode number for now; replaced below.
                ino: ent.ino(),
                kind,
                name: name.to_os_string(),
            });
        }
        let mut t = self.inodes.write();
        for e in out.iter_mut().skip(start) {
            e.ino = t.number((p.pool.id, p.active.run, dev, e.ino));
        }
        Ok(())
    }

    // ---- files ---------------------------------------------------------------------

    pub fn open(&self, ctx: Ctx, ino: u64, flags: i32) -> Result<Opened> {
        match self.node(ino)? {
            Node::PoolCtl(pool, f) => self.open_control(ino, Ctl::Pool(pool, f), flags),
            Node::VolCtl(b, f) => self.open_control(ino, Ctl::Volume(b, f), flags),
            Node::RemoteVolCtl(r, f) => self.open_control(ino, Ctl::RemoteVolume(r, f), flags),
            Node::Backing(b) if !b.is_dir => {
                let mut o = self.open_volume(b.clone(), flags)?;
                if ctx.uid != 0 && flags & libc::O_ACCMODE != libc::O_RDONLY && has_setid(&b) {
                    o.volume = false;
                }
                Ok(o)
            }
            Node::Remote(r) => self.remote_open(r),
            Node::RemoteVolDir(_)
            | Node::Backing(_)
            | Node::PoolDir(_)
            | Node::Root
            | Node::VolRoot(_)
            | Node::VolDir(_) => Err(Error::Os {
                op: "open",
                errno: Errno::EISDIR,
            }),
        }
    }

    fn open_volume(&self, node: Arc<Backing>, flags: i32) -> Result<Opened> {
        if node.block.is_some() {
            self.check_health(&node.pool);
            if node.pool.state() == crate::pool::PoolState::Inaccessible {
                return Err(Error::Os {
                    op: "open",
                    errno: Errno::EIO,
                });
            }
        }
        let oflags = OFlag::from_bits_truncate(flags)
            & !(OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_TRUNC
                | OFlag::O_APPEND
                | OFlag::O_NOCTTY);
        let fd = sys::reopen(node.fd.as_fd(), oflags).map_err(Error::os("open"))?;
        self.register_volume(node, fd, oflags)
    }

    fn register_volume(
        &self,
        node: Arc<Backing>,
        fd: std::os::fd::OwnedFd,
        oflags: OFlag,
    ) -> Result<Opened> {
        let direct = oflags.contains(OFlag::O_DIRECT);
        // The stat is taken before the lock: no syscall under `busy`.
        let keep_cache = self.keep_cache.load(std::sync::atomic::Ordering::Relaxed)
            && node.block.is_none()
            && fstat(fd.as_fd()).is_ok_and(|st| *node.stamp.lock() == Some(stamp(&st)));
        let (ino, pool, run, path) = (
            node.ino,
            node.pool.clone(),
            node.active.run,
            node.path.read().clone(),
        );
        let fh = self.admit_open(ino, &pool, run, &path, || OpenKind::Volume {
            node,
            file: std::fs::File::from(fd),
            direct,
        })?;
        Ok(Opened {
            fh,
            direct_io: false,
            volume: true,
            keep_cache,
        })
    }

    /// Registers an open of volume `ino` (any pool type): refused while the
    /// volume is being wiped; counted by its pool, so `stop` waits for it.
    /// `busy` is held until the handle is in the table, so a wipe cannot
    /// start in between.
    fn admit_open(
        &self,
        ino: u64,
        pool: &Pool,
        run: u64,
        path: &str,
        kind: impl FnOnce() -> OpenKind,
    ) -> Result<u64> {
        let busy = self.busy.lock();
        if busy.contains(&ino) {
            return Err(Error::Busy(format!("volume '{path}' is being wiped")));
        }
        let fh = self.handles.reserve();
        pool.register_open(fh, path, run)?;
        self.handles.insert_at(fh, OpenFile { ino, kind: kind() });
        drop(busy);
        Ok(fh)
    }

    pub fn create(
        &self,
        ctx: Ctx,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Entry, Opened)> {
        if let Some(d) = self.remote_dir(parent)? {
            return self.remote_create(ctx, &d, name, mode, flags);
        }
        let p = self.parent_for_new(parent)?;
        self.refuse_reserved(&p, name)?;
        let c = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        let oflags = OFlag::from_bits_truncate(flags)
            & !(OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_TRUNC
                | OFlag::O_APPEND
                | OFlag::O_NOCTTY);
        let created = {
            let _ids = sys::FsIdGuard::new(ctx.uid, ctx.gid);
            sys::open_beneath(
                p.fd(),
                &c,
                oflags | OFlag::O_CREAT | OFlag::O_EXCL,
                mode & 0o7777,
            )
        };
        let fd = match created {
            Ok(fd) => fd,
            Err(Errno::EEXIST) if flags & libc::O_EXCL == 0 => {
                // Appeared behind poolfs's back: open what is there, if it is a volume.
                let e = self.lookup_backing(&p, name)?;
                let opened = self.open(ctx, e.attr.ino, flags)?;
                return Ok((e, opened));
            }
            Err(Errno::ELOOP) => {
                return Err(Error::Os {
                    op: "create",
                    errno: Errno::EEXIST,
                });
            }
            Err(e) => {
                return Err(Error::Os {
                    op: "create",
                    errno: e,
                });
            }
        };
        let st = fstat(fd.as_fd())?;
        let pfd = sys::reopen(fd.as_fd(), OFlag::O_PATH).map_err(Error::os("create"))?;
        let key = (p.pool.id, p.active.run, st.st_dev, st.st_ino);
        let path = p.child_path(name);
        let (node, unremembered) = self.inodes.write().lookup_unremembered(key, |ino| Backing {
            ino,
            pool: p.pool.clone(),
            active: p.active.clone(),
            fd: pfd,
            is_dir: false,
            block: None,
            stamp: parking_lot::Mutex::new(None),
            path: RwLock::new(path.clone()),
        });
        if unremembered {
            self.remember_tree_node(&node, key, path);
        }
        let entry = Entry {
            attr: stat_attr(node.ino, &st),
            cache: Cache::Backing,
        };
        let opened = self.register_volume(node, fd, oflags)?;
        Ok((entry, opened))
    }

    pub fn mknod(&self, ctx: Ctx, parent: u64, name: &OsStr, mode: u32) -> Result<Entry> {
        if mode & libc::S_IFMT != libc::S_IFREG {
            return Err(Error::NotPermitted(
                "poolfs holds only volumes and directories: no FIFOs, sockets or device nodes"
                    .into(),
            ));
        }
        let (e, o) = self.create(ctx, parent, name, mode, libc::O_RDONLY | libc::O_EXCL)?;
        self.release(o.fh);
        Ok(e)
    }

    pub fn unlink(&self, parent: u64, name: &OsStr) -> Result<()> {
        if let Some(d) = self.remote_dir(parent)? {
            return self.remote_unlink(&d, name, false);
        }
        let p = self.parent(parent)?;
        if p.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::NotPermitted(format!(
                "'{}' is a control file and cannot be removed",
                name.to_string_lossy()
            )));
        }
        let c = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        nix::unistd::unlinkat(
            p.fd(),
            c.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(Error::os("unlink"))
    }

    pub fn rename(
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
        match (self.remote_dir(parent)?, self.remote_dir(newparent)?) {
            (Some(from), Some(to)) => {
                return self.remote_rename(&from, name, &to, newname, flags);
            }
            (None, None) => {}
            _ => {
                return Err(Error::CrossPool(
                    "volumes cannot move between pools: copy them instead".into(),
                ));
            }
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
        if from.top() && control::is_reserved(&name.to_string_lossy()) {
            return Err(Error::NotPermitted(format!(
                "'{}' is a control file and cannot be renamed",
                name.to_string_lossy()
            )));
        }
        if to.top() && newname == PoolFile::Config.name() {
            return Err(Error::Exists(format!(
                "'config' of pool '{}' cannot be replaced by a rename (as editors and `sed -i` save); {CONFIG_IN_PLACE}",
                to.pool.name()
            )));
        }
        self.refuse_reserved(&to, newname)?;
        let c1 = cname(name).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        let c2 = cname(newname).ok_or_else(|| Error::Invalid("a name cannot hold NUL".into()))?;
        nix::fcntl::renameat2(
            from.fd(),
            c1.as_c_str(),
            to.fd(),
            c2.as_c_str(),
            RenameFlags::from_bits_truncate(flags),
        )
        .map_err(Error::os("rename"))?;
        // Keep the moved node's path (used in messages) current.
        if let Ok(fd) = sys::open_beneath(to.fd(), &c2, OFlag::O_PATH, 0)
            && let Ok(st) = fstat(fd.as_fd())
        {
            let key = (to.pool.id, to.active.run, st.st_dev, st.st_ino);
            let mut t = self.inodes.write();
            let ino = t.number(key);
            if let Some(n) = t.get(ino) {
                *n.path.write() = to.child_path(newname);
            }
        }
        Ok(())
    }

    pub fn read(&self, ino: u64, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let h = self.handles.get(fh, ino)?;
        match &h.kind {
            OpenKind::Volume { file, direct, node } => {
                refuse_gone_device(node)?;
                crate::volume::read_at(file, *direct, offset, size as usize)
            }
            OpenKind::Remote { node, .. } => node.client.read(&node.fh, offset, size as usize),
            OpenKind::Control { snapshot, .. } => {
                let start = (offset as usize).min(snapshot.len());
                let end = start.saturating_add(size as usize).min(snapshot.len());
                Ok(snapshot[start..end].to_vec())
            }
            OpenKind::Dir { .. } => Err(Error::Os {
                op: "read",
                errno: Errno::EISDIR,
            }),
        }
    }

    /// `kill_privs_for`: the kernel asks the daemon to clear set-id bits for
    /// this writer (it lacks CAP_FSETID, `FUSE_HANDLE_KILLPRIV_V2`).
    pub fn write(
        &self,
        ino: u64,
        fh: u64,
        offset: u64,
        data: &[u8],
        kill_privs_for: Option<Ctx>,
    ) -> Result<u32> {
        let h = self.handles.get(fh, ino)?;
        match &h.kind {
            OpenKind::Volume { file, direct, node } => {
                refuse_gone_device(node)?;
                let n = crate::volume::write_at(file, *direct, offset, data)?;
                if let Some(caller) = kill_privs_for
                    && node.block.is_none()
                {
                    kill_privs(node.fd.as_fd(), &caller)?;
                }
                Ok(n as u32)
            }
            OpenKind::Remote { node, pending } => node
                .client
                .write(&node.fh, offset, data, pending)
                .map(|n| n as u32),
            OpenKind::Control { ctl, document, .. } => {
                self.control_write(ctl, document.as_ref(), data)?;
                Ok(data.len() as u32)
            }
            OpenKind::Dir { .. } => Err(Error::Os {
                op: "write",
                errno: Errno::EISDIR,
            }),
        }
    }

    /// The file the kernel should read and write for volume `ino` in kernel
    /// passthrough: opened read-write once per inode and shared by all its
    /// opens (the kernel allows one backing file per inode). The caller's
    /// access mode and `O_DIRECT` still apply: the kernel checks and passes
    /// them per request.
    pub fn passthrough_file(&self, ino: u64) -> Result<std::fs::File> {
        match self.node(ino)? {
            Node::Backing(b) if !b.is_dir => sys::reopen(b.fd.as_fd(), OFlag::O_RDWR)
                .map(std::fs::File::from)
                .map_err(Error::os("open")),
            _ => Err(Error::Os {
                op: "open",
                errno: Errno::EINVAL,
            }),
        }
    }

    /// True for an open volume of a userspace NFS pool: its requests may wait
    /// on the server (the FUSE layer runs them off its worker threads).
    pub fn is_remote_handle(&self, fh: u64) -> bool {
        self.handles.is_remote(fh)
    }

    /// `close(2)` of one descriptor: a `config` document written through it
    /// is applied now, so `close` returns the refusal.
    pub fn flush(&self, ino: u64, fh: u64) -> Result<()> {
        let h = self.handles.get(fh, ino)?;
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
        if let Some(h) = self.handles.remove(fh) {
            if let OpenKind::Control {
                ctl,
                document: Some(doc),
                ..
            } = &h.kind
                && let Err(e) = self.control_close(ctl, doc)
            {
                // Only reached without a flush (the kernel always sends one at close).
                tracing::warn!("config written without close(2) was refused: {e}");
            }
            if let OpenKind::Volume { node, file, .. } = &h.kind {
                if self.keep_cache.load(std::sync::atomic::Ordering::Relaxed) {
                    *node.stamp.lock() = fstat(file.as_fd()).ok().map(|st| stamp(&st));
                }
                node.pool.release_open(fh);
            }
            if let OpenKind::Remote { node, pending } = &h.kind {
                // Close-to-open: what this open wrote is on the server's disk
                // before another client opens the volume.
                if let Err(e) = node.client.commit(&node.fh, pending) {
                    tracing::error!(pool = %node.pool.name(), "commit at close of '{}': {e}", node.path.read());
                }
                node.pool.release_open(fh);
            }
        }
    }

    /// Lets opens keep the kernel's page cache of files unchanged since
    /// poolfs closed them. Only coherent when every open uses the page cache
    /// (no kernel passthrough in the session): passthrough writes bypass it.
    pub fn set_keep_cache(&self, on: bool) {
        self.keep_cache
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    fn volume_file(&self, ino: u64, fh: u64) -> Result<Arc<OpenFile>> {
        let h = self.handles.get(fh, ino)?;
        match h.kind {
            OpenKind::Volume { .. } | OpenKind::Remote { .. } => Ok(h),
            _ => Err(Error::Unsupported(
                "only volumes support this operation".into(),
            )),
        }
    }

    pub fn fsync(&self, ino: u64, fh: u64, datasync: bool) -> Result<()> {
        let h = self.handles.get(fh, ino)?;
        match &h.kind {
            OpenKind::Volume { file, .. } => if datasync {
                file.sync_data()
            } else {
                file.sync_all()
            }
            .map_err(|e| Error::Os {
                op: "fsync",
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
            }),
            OpenKind::Remote { node, pending } => node.client.commit(&node.fh, pending),
            _ => Ok(()),
        }
    }

    pub fn fsyncdir(&self, ino: u64) -> Result<()> {
        match self.node(ino)? {
            Node::Backing(b) => nix::unistd::fsync(&b.fd).map_err(Error::os("fsyncdir")),
            Node::PoolDir(p) => match p.active() {
                Some(a) => match a.dir() {
                    Some(fd) => nix::unistd::fsync(fd).map_err(Error::os("fsyncdir")),
                    None => Ok(()),
                },
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    pub fn fallocate(&self, ino: u64, fh: u64, offset: u64, length: u64, mode: i32) -> Result<()> {
        let h = self.volume_file(ino, fh)?;
        if let OpenKind::Remote { node, pending } = &h.kind {
            return self.remote_fallocate(node, pending, offset, length, mode);
        }
        let OpenKind::Volume { file, .. } = &h.kind else {
            return Err(Error::BadHandle);
        };
        let off = i64::try_from(offset).map_err(|_| Error::Os {
            op: "fallocate",
            errno: Errno::EFBIG,
        })?;
        let len = i64::try_from(length).map_err(|_| Error::Os {
            op: "fallocate",
            errno: Errno::EFBIG,
        })?;
        nix::fcntl::fallocate(
            file,
            nix::fcntl::FallocateFlags::from_bits_retain(mode),
            off,
            len,
        )
        .map_err(Error::os("fallocate"))
    }

    pub fn lseek(&self, ino: u64, fh: u64, offset: i64, whence: i32) -> Result<i64> {
        let h = self.volume_file(ino, fh)?;
        if let OpenKind::Remote { node, .. } = &h.kind {
            return self.remote_lseek(node, offset, whence);
        }
        let OpenKind::Volume { file, node, .. } = &h.kind else {
            return Err(Error::BadHandle);
        };
        if let Some(size) = node.block {
            // A device has no holes: all of it is data.
            let off = u64::try_from(offset).map_err(|_| Error::Os {
                op: "lseek",
                errno: Errno::ENXIO,
            })?;
            return match whence {
                libc::SEEK_DATA if off < size => Ok(offset),
                libc::SEEK_HOLE if off < size => Ok(size as i64),
                libc::SEEK_DATA | libc::SEEK_HOLE => Err(Error::Os {
                    op: "lseek",
                    errno: Errno::ENXIO,
                }),
                _ => Err(Error::Os {
                    op: "lseek",
                    errno: Errno::EINVAL,
                }),
            };
        }
        let whence = match whence {
            libc::SEEK_DATA => nix::unistd::Whence::SeekData,
            libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
            libc::SEEK_SET => nix::unistd::Whence::SeekSet,
            libc::SEEK_END => nix::unistd::Whence::SeekEnd,
            _ => {
                return Err(Error::Os {
                    op: "lseek",
                    errno: Errno::EINVAL,
                });
            }
        };
        nix::unistd::lseek(file, offset, whence).map_err(Error::os("lseek"))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn copy_file_range(
        &self,
        ino_in: u64,
        fh_in: u64,
        off_in: u64,
        ino_out: u64,
        fh_out: u64,
        off_out: u64,
        len: u64,
    ) -> Result<u64> {
        let hi = self.volume_file(ino_in, fh_in)?;
        let ho = self.volume_file(ino_out, fh_out)?;
        match (&hi.kind, &ho.kind) {
            (OpenKind::Remote { node: src, .. }, OpenKind::Remote { node: dst, pending }) => {
                return self.remote_copy(src, off_in, dst, pending, off_out, len.min(1 << 30));
            }
            (OpenKind::Remote { .. }, _) | (_, OpenKind::Remote { .. }) => {
                return Err(Error::Os {
                    op: "copy_file_range",
                    errno: Errno::EXDEV,
                });
            }
            _ => {}
        }
        let (OpenKind::Volume { file: fi, .. }, OpenKind::Volume { file: fo, .. }) =
            (&hi.kind, &ho.kind)
        else {
            return Err(Error::BadHandle);
        };
        // The reply counts bytes in a u32: never copy more than fits.
        let len = len.min(1 << 30);
        crate::volume::copy::copy_range(fi, off_in, fo, off_out, len).map_err(|e| Error::Os {
            op: "copy_file_range",
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })
    }

    pub fn statfs(&self, ino: u64) -> Result<StatFs> {
        let active = self.node(ino).ok().and_then(|n| match n {
            Node::PoolDir(p) | Node::PoolCtl(p, _) | Node::VolRoot(p) => p.active(),
            Node::Backing(b) | Node::VolDir(b) | Node::VolCtl(b, _) => Some(b.active.clone()),
            Node::Remote(r) | Node::RemoteVolDir(r) | Node::RemoteVolCtl(r, _) => {
                Some(r.active.clone())
            }
            Node::Root => None,
        });
        if let Some(c) = active.as_deref().and_then(|a| a.nfs()) {
            return self.remote_statfs(c);
        }
        let st = match active.as_deref().map(|a| (a.dir(), a.devices())) {
            Some((Some(fd), _)) => nix::sys::statvfs::fstatvfs(fd),
            Some((None, devs)) => {
                // A block pool: its devices, all in use.
                let blocks = devs.iter().map(|d| d.size / 4096).sum();
                return Ok(StatFs {
                    blocks,
                    bfree: 0,
                    bavail: 0,
                    files: devs.len() as u64,
                    ffree: 0,
                    bsize: 4096,
                    namelen: crate::config::NAME_MAX as u32,
                    frsize: 4096,
                });
            }
            None => nix::sys::statvfs::statvfs(self.reg.state_dir().root()),
        }
        .map_err(Error::os("statfs"))?;
        Ok(StatFs {
            blocks: st.blocks(),
            bfree: st.blocks_free(),
            // Passed through as the backing filesystem reports it: df's
            // "Avail" excludes root's reserve there and here alike (`info`'s
            // `available` counts all free blocks, as libvirt does).
            bavail: st.blocks_available(),
            files: st.files(),
            ffree: st.files_free(),
            bsize: st.block_size() as u32,
            namelen: st.name_max() as u32,
            frsize: st.fragment_size() as u32,
        })
    }

    // ---- extended attributes: the user.* namespace of backing objects -----------

    fn xattr_node(&self, ino: u64) -> Result<Arc<Backing>> {
        match self.node(ino)? {
            Node::Backing(b) => Ok(b),
            _ => Err(Error::Os {
                op: "xattr",
                errno: Errno::EOPNOTSUPP,
            }),
        }
    }

    fn user_name(name: &OsStr) -> Result<std::ffi::CString> {
        if !name.as_bytes().starts_with(b"user.") {
            return Err(Error::Os {
                op: "xattr",
                errno: Errno::EOPNOTSUPP,
            });
        }
        cname(name).ok_or(Error::Os {
            op: "xattr",
            errno: Errno::EINVAL,
        })
    }

    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        let b = self.xattr_node(ino)?;
        let n = Self::user_name(name)?;
        sys::setxattr(b.fd.as_fd(), &n, value, flags).map_err(Error::os("setxattr"))
    }

    /// With `size == 0` returns the value's length in an empty vector's place.
    pub fn getxattr(&self, ino: u64, name: &OsStr, size: u32) -> Result<XattrReply> {
        if !name.as_bytes().starts_with(b"user.") {
            // Only user.* is shown: security.capability and ACLs are absent.
            return Err(Error::Os {
                op: "getxattr",
                errno: Errno::ENODATA,
            });
        }
        let b = self.xattr_node(ino).map_err(|_| Error::Os {
            op: "getxattr",
            errno: Errno::ENODATA,
        })?;
        let n = Self::user_name(name)?;
        let mut buf = vec![0u8; size as usize];
        let len = sys::getxattr(b.fd.as_fd(), &n, &mut buf).map_err(Error::os("getxattr"))?;
        if size == 0 {
            return Ok(XattrReply::Size(len as u32));
        }
        buf.truncate(len);
        Ok(XattrReply::Data(buf))
    }

    pub fn listxattr(&self, ino: u64, size: u32) -> Result<XattrReply> {
        let names = match self.node(ino)? {
            Node::Backing(b) => {
                let len = sys::listxattr(b.fd.as_fd(), &mut []).map_err(Error::os("listxattr"))?;
                let mut buf = vec![0u8; len];
                let len = sys::listxattr(b.fd.as_fd(), &mut buf).map_err(Error::os("listxattr"))?;
                buf.truncate(len);
                buf.split_inclusive(|c| *c == 0)
                    .filter(|n| n.starts_with(b"user."))
                    .flat_map(|n| n.iter().copied())
                    .collect::<Vec<u8>>()
            }
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
        let b = self.xattr_node(ino)?;
        let n = Self::user_name(name)?;
        sys::removexattr(b.fd.as_fd(), &n).map_err(Error::os("removexattr"))
    }
}

/// A reply to getxattr/listxattr: the size asked for, or the bytes.
#[derive(Debug)]
pub enum XattrReply {
    Size(u32),
    Data(Vec<u8>),
}

/// Keeps the owner of a borrowed descriptor alive.
enum Fd {
    Root(Arc<std::os::fd::OwnedFd>),
    Node(Arc<Backing>),
}

impl Fd {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Fd::Root(fd) => fd.as_fd(),
            Fd::Node(b) => b.fd.as_fd(),
        }
    }
}
