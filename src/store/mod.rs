//! Stores: what a running pool's volumes are, below the namespace (`core`).
//!
//! A started pool hands the namespace one `Store`: the object that answers
//! every question about its volumes and sub-directories (lookup, attributes,
//! I/O, volume facts). Each storage kind is one implementation in one file:
//! `tree` (a local directory: dir, fs and kernel-NFS pools), `block` (a list
//! of devices) and `nfs` (an export reached by poolfs's own client). `local`
//! holds the open-file code `tree` and `block` share.
//!
//! This module also holds the vocabulary every layer shares (attributes,
//! entries, who asks, what a setattr changes). Nothing here imports `core`,
//! `pool` or `kinds`: `kinds` builds stores, `pool` keeps the running
//! one, `core` asks it; none of them imports the others' types to do so.
//!
//! Contract for implementors:
//! - an `Obj` is the store's own handle on one object (a descriptor, an NFS
//!   file handle, a device index); the namespace never looks inside it;
//! - a `Found::id` names one object for as long as the pool runs (two
//!   lookups of the same object give the same id); a `NodeKey` names it
//!   across a daemon restart;
//! - no method holds a poolfs lock; each may block (bounded by the store's
//!   own timeout), and no method panics on anything a user or the backend does;
//! - names reaching a store are single components (never `.`, `..` or a
//!   reserved name at the top: the namespace filters those).

pub mod behind;
pub mod fdcache;
pub mod local;
pub mod passed;
pub mod tree;

use std::ffi::{OsStr, OsString};
use std::fmt::Debug;
use std::fs::File;
use std::sync::Arc;
use std::time::SystemTime;

use nix::errno::Errno;

use crate::control::volume::{ResizeRequest, WipeAlgorithm};
use crate::error::{Error, Result};
pub use crate::volume::aio::{ReadDone, WriteDone};
use crate::volume::format::Probe;

/// Who asks: the caller's credentials from the FUSE request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ctx {
    pub uid: u32,
    pub gid: u32,
    /// The calling process (0: unknown), for its supplementary groups.
    pub pid: u32,
}

impl Ctx {
    /// Treated as holding CAP_FSETID (and CAP_FOWNER): root. FUSE passes
    /// no capabilities, so this is the daemon's approximation.
    pub fn privileged(&self) -> bool {
        self.uid == 0
    }

    /// True when the caller is in group `gid`: its fsgid, or one of its
    /// supplementary groups (read from `/proc/<pid>/status`).
    pub fn in_group(&self, gid: u32) -> bool {
        if self.gid == gid {
            return true;
        }
        if self.pid == 0 {
            return false;
        }
        std::fs::read_to_string(format!("/proc/{}/status", self.pid)).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Groups:"))
                .is_some_and(|g| g.split_whitespace().any(|x| x.parse() == Ok(gid)))
        })
    }
}

/// Attributes as poolfs reports them.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub ino: u64,
    pub size: u64,
    pub blocks: u64,
    pub atime: SystemTime,
    pub mtime: SystemTime,
    pub ctime: SystemTime,
    pub kind: Kind,
    pub perm: u16,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub blksize: u32,
}

/// How long the kernel may cache what a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Backing objects, the root and pool directories: cache briefly (what
    /// poolfs itself changes, it invalidates at once).
    Backing,
    /// Objects of a local tree whose directory is watched for changes made
    /// behind poolfs's back (`core::watch`): cache long.
    Watched,
    /// Control files and pool directories: never cache.
    Never,
    /// Objects of a store other clients change too: cache this long
    /// (`Store::cache_time`).
    For(std::time::Duration),
}

#[derive(Debug, Clone, Copy)]
pub struct Entry {
    pub attr: Attr,
    pub cache: Cache,
}

#[derive(Debug, Clone, Copy)]
pub struct Opened {
    pub fh: u64,
    /// Serve reads and writes straight from the daemon, without page cache.
    pub direct_io: bool,
    /// A volume whose reads and writes the kernel may pass straight to the
    /// backing file (`passthrough_file`). False for a write open, by a caller
    /// without CAP_FSETID, of a file with set-id bits: its writes must reach
    /// the daemon, which clears the bits.
    pub volume: bool,
    /// The kernel may keep the pages it cached at earlier opens: the file
    /// is unchanged since poolfs last closed it (`FOPEN_KEEP_CACHE`).
    pub keep_cache: bool,
    /// The kernel may send this open's writes in parallel
    /// (`FOPEN_PARALLEL_DIRECT_WRITES`; with `direct_io`): otherwise it
    /// holds the file's lock across each `O_DIRECT` write, so writers on
    /// several threads (qemu's aio=threads) have one write in flight.
    pub parallel_writes: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Time {
    Now,
    At(SystemTime),
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<Time>,
    pub mtime: Option<Time>,
    pub fh: Option<u64>,
    /// Who asks: decides which set-id bits a size or owner change clears.
    pub caller: Ctx,
}

impl SetAttr {
    /// A SETATTR that changes nothing: the kernel asks the filesystem to
    /// drop privileges (`chown(f, -1, -1)`, or an unprivileged `fallocate`
    /// or write that the kernel did not flag itself).
    pub fn changes_nothing(&self) -> bool {
        self.mode.is_none()
            && self.uid.is_none()
            && self.gid.is_none()
            && self.size.is_none()
            && self.atime.is_none()
            && self.mtime.is_none()
    }
}

#[derive(Debug, Clone, Copy)]
pub struct StatFs {
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub bsize: u32,
    pub namelen: u32,
    pub frsize: u32,
}

/// File kinds poolfs shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub ino: u64,
    pub kind: Kind,
    pub name: OsString,
    /// A listing with attributes (`READDIRPLUS`) looks it up; false: its
    /// name only, looked up when a program asks (`Store::cheap_lookups`).
    pub plus: bool,
}

/// A path that names an object for as long as this value lives (a
/// `/proc/<pid>/fd/N` link whose descriptor it holds open).
#[derive(Debug)]
pub struct HeldPath {
    path: std::path::PathBuf,
    _held: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
}

impl HeldPath {
    pub fn new(
        path: std::path::PathBuf,
        held: Option<std::sync::Arc<std::os::fd::OwnedFd>>,
    ) -> Self {
        HeldPath { path, _held: held }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The path as text (`/proc` and device paths are ASCII).
    pub fn as_str(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }
}

/// One line a store adds to its pool's `info`: (the key of the line it
/// follows, its key, its value).
pub type InfoLine = (&'static str, &'static str, String);

/// A store's own handle on one of its objects. Each store makes and reads
/// only its own variant (a new kind that names its objects another way adds
/// one); only that store looks inside.
#[derive(Debug)]
pub enum Obj {
    /// A file or directory of a local tree (`tree::TreeStore`).
    Tree(tree::TreeObj),
    /// An object a server names by an opaque file handle (an NFS export).
    Remote { fh: bytes::Bytes, is_dir: bool },
    /// The n-th of a store's fixed set of objects (a block pool's devices).
    Slot(usize),
}

/// What a store found or made: one object, its attributes (`ino` 0: the
/// namespace numbers it) and the store's handle on it.
pub struct Found {
    /// Names the object for as long as the pool runs (an inode's device and
    /// number, an NFS fsid and fileid, a device index).
    pub id: (u64, u64),
    pub attr: Attr,
    pub obj: Obj,
}

/// Names an object across a daemon restart: a local file handle
/// (`name_to_handle_at`), an NFS file handle, a device index. Opaque bytes
/// only the store that made them reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeKey(pub Vec<u8>);

/// An entry of a listed directory (`ino` is assigned by the namespace).
#[derive(Debug, Clone)]
pub struct Listed {
    pub id: (u64, u64),
    pub kind: Kind,
    pub name: OsString,
    /// Its attributes, where the listing brings them at no cost (an NFS
    /// READDIRPLUS); `None` otherwise.
    pub attr: Option<Attr>,
}

/// A volume a store opened.
#[derive(Debug)]
pub struct StoreOpen {
    pub file: Box<dyn OpenVolume>,
    /// The kernel may read and write the store's `passthrough_file` itself.
    pub passthrough: bool,
}

/// A pool's space in bytes, as `info` shows it (libvirt's numbers).
#[derive(Debug, Clone, Copy)]
pub struct Space {
    pub capacity: u64,
    pub allocation: u64,
    pub available: u64,
}

/// What a volume is, read from its data.
#[derive(Debug, Clone)]
pub struct VolumeFacts {
    pub probe: Probe,
    /// Bytes the volume holds (its file's or device's size).
    pub size: u64,
    pub allocated: u64,
}

impl VolumeFacts {
    /// The guest-visible size: a qcow2's virtual size, else the file's.
    pub fn capacity(&self) -> u64 {
        self.probe.virtual_size.unwrap_or(self.size)
    }
}

/// How a volume control request names its volume.
#[derive(Debug, Clone)]
pub struct VolumeRef<'a> {
    /// The volume's path in its pool, for messages.
    pub name: &'a str,
    /// The volume's path through the mount (for tools that need a path when
    /// the store has no local one), if the tree is mounted.
    pub mounted: Option<String>,
}

impl StatFs {
    /// A store's space given in bytes (total, free, available to users)
    /// and files (total, free), as 4 KiB blocks.
    pub fn in_4k_blocks(total: u64, free: u64, avail: u64, files: u64, ffree: u64) -> StatFs {
        StatFs {
            blocks: total / 4096,
            bfree: free / 4096,
            bavail: avail / 4096,
            files,
            ffree,
            bsize: 4096,
            namelen: crate::config::NAME_MAX as u32,
            frsize: 4096,
        }
    }
}

impl From<nix::sys::statvfs::Statvfs> for StatFs {
    /// Passed through as the filesystem reports it: df's "Avail" excludes
    /// root's reserve there and here alike.
    fn from(st: nix::sys::statvfs::Statvfs) -> StatFs {
        StatFs {
            blocks: st.blocks(),
            bfree: st.blocks_free(),
            bavail: st.blocks_available(),
            files: st.files(),
            ffree: st.files_free(),
            bsize: st.block_size() as u32,
            namelen: st.name_max() as u32,
            frsize: st.fragment_size() as u32,
        }
    }
}

/// A content version of a local file: (mtime, mtime_ns, size).
pub type Stamp = (i64, i64, i64);

/// One open volume. Reads and writes are positional; no method holds a lock
/// across the I/O.
pub trait OpenVolume: Send + Sync + Debug {
    fn read(&self, offset: u64, size: u32) -> Result<crate::volume::Data>;
    /// `kill_privs_for`: the writer lacks CAP_FSETID, so set-id bits go.
    fn write(&self, offset: u64, data: &[u8], kill_privs_for: Option<&Ctx>) -> Result<u32>;
    /// A write-back from the kernel's page cache (a shared mapping's dirty
    /// pages): it reaches the file as a local filesystem's page cache
    /// would, even through a handle opened with `O_DIRECT`, whose alignment
    /// rules it need not meet (the last page of a file stops at its end).
    fn write_cached(&self, offset: u64, data: &[u8], kill_privs_for: Option<&Ctx>) -> Result<u32> {
        self.write(offset, data, kill_privs_for)
    }
    /// Starts `read` with no thread waiting on it: `done` gets the bytes at
    /// completion. `done` comes back when this open cannot (the caller then
    /// calls `read`).
    fn read_async(&self, _offset: u64, _size: u32, done: ReadDone) -> Option<ReadDone> {
        Some(done)
    }
    /// Starts a plain `write` (no set-id bits to drop) with no thread
    /// waiting on it, as `read_async`.
    fn write_async(&self, _offset: u64, _data: &[u8], done: WriteDone) -> Option<WriteDone> {
        Some(done)
    }
    fn fsync(&self, datasync: bool) -> Result<()>;
    fn fallocate(&self, offset: u64, length: u64, mode: i32) -> Result<()>;
    fn lseek(&self, offset: i64, whence: i32) -> Result<i64>;
    /// The size of the volume now.
    fn size(&self) -> Result<u64>;
    /// The local file this open reads and writes, if it is one (for copies
    /// between two such opens in the kernel).
    fn local_file(&self) -> Option<&std::fs::File> {
        None
    }
    /// Copies `len` bytes to `dst`; `EXDEV` when this open cannot copy to
    /// it (the kernel then copies through reads and writes).
    fn copy_to(&self, off_in: u64, dst: &dyn OpenVolume, off_out: u64, len: u64) -> Result<u64>;
    /// Sets the size through this open (`ftruncate`); `None`: not by handle.
    fn truncate(&self, _size: u64) -> Option<Result<()>> {
        None
    }
    /// At each close(2) of a descriptor (FUSE flush): what was answered
    /// before the backend had it is sent, and a failure to is reported
    /// there, as a filesystem reports a failed writeback at close.
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    /// At release: what must reach storage before another client opens the
    /// volume (the NFS close-to-open commit).
    fn close(&self) -> Result<()> {
        Ok(())
    }
    /// This open replaces one a crashed server had; `note` is the last note
    /// its store left (`Store::set_notes`): what that server may have left
    /// unfinished (an NFS write verifier: its writes are committed, or
    /// reported lost, at this open's next fsync).
    fn inherit(&self, _note: &[u8]) {}
    /// The content version now, when the kernel may keep cached pages of an
    /// unchanged file across opens; `None`: never kept.
    fn stamp(&self) -> Option<Stamp> {
        None
    }
    /// Writes of an `O_DIRECT` open may reach the store in parallel, none
    /// past the end of the file (the kernel still sends those one at a
    /// time): for a store whose writes wait on a network, where one write
    /// in flight per file would cap the writers at one.
    fn parallel_direct_writes(&self) -> bool {
        false
    }
    /// Requests may wait on a server: the FUSE layer serves them off its
    /// worker threads, on threads of the volume's pool.
    fn may_block(&self) -> bool {
        false
    }
}

/// The refusal of an operation a store does not have.
pub fn unsupported(what: &str) -> Error {
    Error::Unsupported(format!("{what} is not supported by this pool type"))
}

/// `EOPNOTSUPP` for extended attributes a store does not keep.
fn no_xattrs() -> Error {
    Error::Os {
        op: "xattr",
        errno: Errno::EOPNOTSUPP,
    }
}

/// A running pool's volumes: one implementation per storage kind. `dir`
/// arguments are `None` for the top of the pool.
pub trait Store: Send + Sync + Debug {
    /// The refusal of a create, remove or rename the store does not have
    /// (`what`: which), unless it overrides the operation.
    fn refuse_layout_change(&self, what: &str) -> Error {
        unsupported(what)
    }
    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found>;
    fn getattr(&self, obj: &Obj) -> Result<Attr>;
    /// The top directory's own attributes; `None`: the pool directory is
    /// synthetic (block and userspace NFS pools).
    fn top_attr(&self) -> Option<Result<Attr>> {
        None
    }
    /// Applies `sa` (`open`: the handle it came through, if any).
    fn setattr(&self, obj: Option<&Obj>, sa: &SetAttr, open: Option<&dyn OpenVolume>)
    -> Result<()>;
    /// Volumes and sub-directories of `dir` (regular files and directories only).
    fn list(&self, dir: Option<&Obj>) -> Result<Vec<Listed>>;
    /// A lookup costs little (a local `fstatat`, or attributes the listing
    /// brought): a listing with attributes looks every entry up. False
    /// where each lookup is a round trip to a cluster: a listing then
    /// gives names only, so `ls` of 100,000 volumes is one list call.
    fn cheap_lookups(&self) -> bool {
        true
    }
    /// A removed volume is lost to its opens (an NFS server forgets its
    /// handle; RBD removes no open image): the namespace then hides a
    /// volume removed while open under a name `is_removed_name` knows and
    /// removes it at its last close (`core::removed`). False where a
    /// removed file stays readable through its open descriptors.
    fn hides_removed_open(&self) -> bool {
        false
    }
    /// Refuses, with the store's sentence, a removal of `name` that
    /// `unlink` would refuse (asked before a volume open here is hidden
    /// instead of removed).
    fn refuse_removal(&self, _dir: Option<&Obj>, _name: &OsStr) -> Result<()> {
        Ok(())
    }
    /// Creates a volume and opens it; `EEXIST` when the name is taken.
    fn create(
        &self,
        _ctx: &Ctx,
        _dir: Option<&Obj>,
        _name: &OsStr,
        _mode: u32,
        _flags: i32,
    ) -> Result<(Found, StoreOpen)> {
        Err(self.refuse_layout_change("creating volumes"))
    }
    fn mkdir(&self, _ctx: &Ctx, _dir: Option<&Obj>, _name: &OsStr, _mode: u32) -> Result<Found> {
        Err(self.refuse_layout_change("creating directories"))
    }
    fn unlink(&self, _dir: Option<&Obj>, _name: &OsStr) -> Result<()> {
        Err(self.refuse_layout_change("removing volumes"))
    }
    fn rmdir(&self, _dir: Option<&Obj>, _name: &OsStr) -> Result<()> {
        Err(self.refuse_layout_change("removing directories"))
    }
    fn rename(
        &self,
        _from: Option<&Obj>,
        _name: &OsStr,
        _to: Option<&Obj>,
        _newname: &OsStr,
        _flags: u32,
    ) -> Result<()> {
        Err(self.refuse_layout_change("renaming volumes"))
    }
    fn open(&self, ctx: &Ctx, obj: &Obj, flags: i32) -> Result<StoreOpen>;
    /// The file the kernel reads and writes in passthrough (one per volume).
    fn passthrough_file(&self, _obj: &Obj) -> Result<File> {
        Err(Error::Os {
            op: "open",
            errno: Errno::EINVAL,
        })
    }
    /// A new open file description of volume `obj`'s backing object, for
    /// one lock owner's locks (`core::locks`): they then conflict with locks
    /// that processes take on it directly. `None`: the store has no such
    /// object here (a userspace NFS pool); locks are arbitrated on this host.
    fn lock_file(&self, _obj: &Obj) -> Option<Result<File>> {
        None
    }
    /// Locks held by the store's server for volume `obj` (at `path` in the
    /// pool), which arbitrates between every client of it: a userspace
    /// NFSv4.1 pool. `None`: locks go to `lock_file` or, without one, hold
    /// on this host only.
    fn remote_locks(&self, _obj: &Obj, _path: &str) -> Option<Result<Arc<dyn RemoteLocks>>> {
        None
    }
    /// How long the kernel may cache names and attributes of the store's
    /// objects; `None`: briefly (`Cache::Backing`).
    fn cache_time(&self) -> Option<std::time::Duration> {
        None
    }
    /// A path inotify can watch for changes to the entries of directory
    /// `dir` (`None`: the top) made behind poolfs's back: only where every
    /// change happens on this host (a local filesystem). `None`: the
    /// store's objects keep the short cache time.
    fn watch_path(&self, _dir: Option<&Obj>) -> Option<HeldPath> {
        None
    }
    /// Facts of this kind of store for the pool's `info`: (the line it
    /// follows, key, value), e.g. the NFS version after `target`, where its
    /// locks are kept after `volumes`.
    fn info_lines(&self) -> Vec<InfoLine> {
        Vec::new()
    }
    fn fsyncdir(&self, _dir: Option<&Obj>) -> Result<()> {
        Ok(())
    }
    fn statfs(&self) -> Result<StatFs>;
    fn space(&self) -> Result<Space>;
    /// How many volumes the pool holds, and the names at its top that
    /// `hidden` (the namespace's reserved names) shadows.
    fn census(&self, hidden: &dyn Fn(&str) -> bool) -> Result<(u64, Vec<String>)>;
    fn setxattr(&self, _obj: &Obj, _name: &OsStr, _value: &[u8], _flags: i32) -> Result<()> {
        Err(no_xattrs())
    }
    fn getxattr(&self, _obj: &Obj, _name: &OsStr, _buf: &mut [u8]) -> Result<usize> {
        Err(no_xattrs())
    }
    /// Every attribute name, NUL-terminated, concatenated.
    fn listxattr(&self, _obj: &Obj) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }
    fn removexattr(&self, _obj: &Obj, _name: &OsStr) -> Result<()> {
        Err(no_xattrs())
    }
    /// What names `obj` across a daemon restart (`None`: nothing does).
    fn key(&self, _obj: &Obj) -> Option<NodeKey> {
        None
    }
    /// Finds an object again from its key; `ESTALE` when it is gone (or no
    /// longer in the pool). `path`: where in the pool it was last seen.
    fn reconnect(&self, _key: &NodeKey, _path: &str) -> Result<Found> {
        Err(Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        })
    }
    /// The object's path in the pool now, where the store can tell.
    fn path_of(&self, _obj: &Obj) -> Option<String> {
        None
    }
    fn facts(&self, obj: &Obj) -> Result<VolumeFacts>;
    /// The backing file a volume's header names (qcow2), reading no more
    /// than that takes: asked of every volume of a pool when its backing
    /// index is read (`core::backing`).
    fn backing_name(&self, obj: &Obj) -> Result<Option<String>> {
        self.facts(obj).map(|f| f.probe.backing)
    }
    /// SPEC 3.5: changes a volume's capacity.
    fn resize(&self, _obj: &Obj, vol: &VolumeRef, _req: &ResizeRequest) -> Result<()> {
        Err(Error::Unsupported(format!(
            "'{}': resizing is not supported by this pool type",
            vol.name
        )))
    }
    /// SPEC 3.6: overwrites `size` bytes so no old byte can be read back,
    /// calling `progress` with the bytes done; the size stays.
    fn wipe(
        &self,
        _obj: &Obj,
        vol: &VolumeRef,
        _alg: WipeAlgorithm,
        _size: u64,
        _progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        Err(Error::Unsupported(format!(
            "'{}': wiping is not supported by this pool type",
            vol.name
        )))
    }
    /// True where a volume is cloned instantly inside the store (an RBD
    /// clone): its control directory has `clone`. Elsewhere a clone is a
    /// copy through the mount (`cp --reflink=auto`).
    fn can_clone(&self) -> bool {
        false
    }
    /// Makes `newname` (a name at the top of the pool) an instant clone of
    /// volume `obj`; only where `can_clone`.
    fn clone_volume(&self, _obj: &Obj, vol: &VolumeRef, _newname: &str) -> Result<()> {
        Err(Error::Unsupported(format!(
            "'{}': this pool type clones by copying (cp --reflink=auto)",
            vol.name
        )))
    }
    /// The names of the clones of volume `obj` (where `can_clone`).
    fn clones(&self, _obj: &Obj) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// Facts of this kind of store for a volume's `info`, after the common
    /// ones (an RBD clone's parent).
    fn volume_lines(&self, _obj: &Obj) -> Result<Vec<(&'static str, String)>> {
        Ok(Vec::new())
    }
    /// A path tools outside the daemon (qemu-img) reach the volume by
    /// without the mount; `None`: only through the mount.
    fn external_path(&self, _obj: &Obj) -> Option<HeldPath> {
        None
    }
    /// `None`: the store is not watched; `Some(Err(why))`: its storage
    /// stopped answering (the pool turns `inaccessible`).
    fn health(&self) -> Option<std::result::Result<(), String>> {
        None
    }
    /// Metric families of this kind of store, for its pool (the exporter
    /// labels them with the pool's name).
    fn metrics(&self) -> Vec<crate::metrics::Family> {
        Vec::new()
    }
    /// This store takes over from the same pool's store of a server that
    /// crashed or was upgraded; `note` is the last note that store left
    /// (`set_notes`). Called once, before any handle is restored (an rbd
    /// store fences the predecessor's Ceph client).
    fn succeed(&self, _note: &[u8]) {}
    /// Where the store sends notes for a successor server (they are
    /// journaled; the last one reaches `OpenVolume::inherit`). Stores that
    /// leave nothing unfinished outside an open send none.
    fn set_notes(&self, _sink: NoteSink) {}
    /// A write a crashed predecessor answered and parked (`NoteSink::spill`):
    /// the store sends it before anything else of its file. Stores that
    /// park nothing have none to take.
    fn adopt(&self, _w: ParkedWrite) -> Result<()> {
        Err(unsupported("taking over a parked write"))
    }
}

/// A lock request: byte range (inclusive end; `u64::MAX`: to the end of
/// the file) and `F_RDLCK`, `F_WRLCK` or `F_UNLCK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockRange {
    pub start: u64,
    pub end: u64,
    pub typ: i32,
}

/// The locks of one volume, kept by a server every client shares
/// (`Store::remote_locks`). Owners are the kernel's lock owner ids; BSD
/// locks are whole-file locks of an owner of their own.
pub trait RemoteLocks: Send + Sync + Debug {
    /// Sets (or removes: `F_UNLCK`) a lock of `owner` without waiting:
    /// `EAGAIN` when another owner holds one in the way, here or elsewhere.
    fn set(&self, owner: u64, bsd: bool, r: LockRange) -> Result<()>;
    /// True when `r` could be locked by `owner` now.
    fn free(&self, owner: u64, r: LockRange) -> Result<bool>;
    /// Every lock of `owner` goes (its close).
    fn drop_owner(&self, owner: u64, bsd: bool);
    /// Locks held here before a restart could not be taken again: another
    /// client has them now, so I/O on the volume must stop (fencing) until
    /// it is closed.
    fn lost(&self);
}

pub use crate::journal::NoteSink;
pub use crate::journal::spill::{Parked, ParkedWrite, Spill, SpillSink};

/// Chunk of a written wipe (random, or zeros where holes cannot be punched).
const WIPE_CHUNK: usize = 1 << 20;

/// Overwrites `size` bytes with zeros or random data (`alg`) in chunks
/// through `write`, calling `progress` with the bytes done.
pub fn overwrite(
    alg: WipeAlgorithm,
    size: u64,
    progress: &mut dyn FnMut(u64),
    mut write: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut rng = rand::rngs::OsRng;
    let mut buf = vec![0u8; WIPE_CHUNK];
    let mut off = 0u64;
    while off < size {
        let n = (size - off).min(WIPE_CHUNK as u64) as usize;
        if alg == WipeAlgorithm::Random {
            rand::RngCore::fill_bytes(&mut rng, &mut buf[..n]);
        }
        write(off, &buf[..n])?;
        off += n as u64;
        progress(off);
    }
    Ok(())
}

/// True for the name of an extended attribute a volume keeps: `user.*`,
/// and `trusted.*`, which the kernel lets only callers with
/// `CAP_SYS_ADMIN` read or write (libvirt remembers a disk's owner there,
/// `trusted.libvirt.security.*`). `security.*` and `system.*` (labels,
/// ACLs) are the daemon's own business on the backing file: not passed.
pub fn kept_xattr(name: &[u8]) -> bool {
    name.starts_with(b"user.") || name.starts_with(b"trusted.")
}

/// `ENOTDIR`: a directory asked of a flat store (block, rbd).
pub fn not_dir() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ENOTDIR,
    }
}

/// The refusal of an object of another store (never happens: the
/// namespace keeps each object with its pool).
pub fn foreign() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ESTALE,
    }
}

/// The start of the name a volume removed while open is hidden under in a
/// store that `hides_removed_open` (`core::removed`).
pub const REMOVED_PREFIX: &str = ".poolfs-removed-";

/// True for the hidden name of a volume removed while open.
pub fn is_removed_name(name: &str) -> bool {
    name.starts_with(REMOVED_PREFIX)
}

/// Refuses a hidden name for a new volume (`EINVAL`, with a sentence).
pub fn refuse_removed_name(name: &OsStr) -> Result<()> {
    let name = name.to_string_lossy();
    if is_removed_name(&name) {
        return Err(Error::Invalid(format!(
            "'{name}': names starting with '{REMOVED_PREFIX}' are kept for volumes removed while open"
        )));
    }
    Ok(())
}
