//! What a running pool's volumes are, below the namespace (`core`): the
//! vocabulary every layer shares (attributes, entries, who asks, what a
//! setattr changes) and the storage a started pool hands to the namespace.
//! Nothing here imports `core`, `pool` or `backend`, so `pool` and
//! `backend` both build on it without importing each other's types.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

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
    /// Control files and pool directories: never cache.
    Never,
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
}

/// Where a running pool's volumes are.
#[derive(Debug)]
pub enum Storage {
    /// The target directory, opened `O_RDONLY | O_DIRECTORY`; every volume
    /// path is resolved beneath it.
    Dir(Arc<OwnedFd>),
    /// Block devices, each one a volume, held open `O_EXCL` while the pool runs.
    Block(Vec<BlockDev>),
    /// An NFS export reached by poolfs's own client (`client = "userspace"`).
    Nfs(Arc<crate::nfs::Client>),
}

#[derive(Debug)]
pub struct BlockDev {
    /// The volume's name: the device's file name.
    pub name: String,
    pub path: PathBuf,
    pub fd: OwnedFd,
    pub size: u64,
}
