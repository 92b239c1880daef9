//! The local tree store: a pool's volumes are the regular files (and its
//! sub-directories the directories) under a local directory — dir and fs
//! pools, and netfs pools mounted by the kernel's NFS client.
//!
//! Confinement: every object is reached from its parent's descriptor one
//! component at a time with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`;
//! symlinks, FIFOs, sockets and devices are never shown nor followed.
//!
//! Objects are named by their file handle (`name_to_handle_at`), not held
//! by a descriptor each: a bounded cache (`fdcache`) keeps the descriptors
//! (`O_PATH` for files, `O_RDONLY` for directories) of recently used ones,
//! and an evicted object is opened again with `open_by_handle_at`. What a
//! handle opens must still lie beneath the target and be linked, or it is
//! stale (a file moved out of the pool behind poolfs's back is not served).
//! Where the target's filesystem gives no handles, or the daemon may not open
//! by handle (no CAP_DAC_READ_SEARCH), each object known keeps its
//! descriptor instead, as the log and `info` say.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FallocateFlags, OFlag, RenameFlags};
use nix::sys::stat::{Mode, SFlag};

use super::fdcache;
use super::local::{self, LocalFile, fstat, stat_attr};
use super::{
    Attr, Ctx, Found, HeldPath, Kind, Listed, NodeKey, Obj, OpenVolume, SetAttr, Space, StatFs,
    Store, StoreOpen, VolumeFacts, VolumeRef, foreign,
};
use crate::control::volume::{ResizeRequest, WipeAlgorithm};
use crate::error::{Error, Result};
use crate::sys;
use crate::volume::format::Format;
use crate::volume::qcow2::{self, MAX_FILE};

/// A started file-backed pool: its target directory.
#[derive(Debug)]
pub struct TreeStore {
    /// The target, opened `O_RDONLY | O_DIRECTORY`.
    root: Arc<OwnedFd>,
    target: PathBuf,
    /// The target as the kernel names it (`/proc/self/fd`): what an object
    /// opened by handle must lie beneath.
    beneath: PathBuf,
    /// The target is on a local filesystem: every change to it happens on
    /// this host, where inotify sees it (`Store::watch_path`).
    local: bool,
    /// Objects are opened again by file handle (else each keeps its
    /// descriptor).
    by_handle: bool,
}

/// Filesystems whose changes all happen on this host (`statfs` magic
/// numbers): ext2/3/4, xfs, btrfs, tmpfs, f2fs, bcachefs and zfs. Network
/// and cluster filesystems (NFS, CIFS, Ceph, GFS2, OCFS2, FUSE) are left out:
/// other hosts change them without an inotify event here.
const LOCAL_FILESYSTEMS: [i64; 7] = [
    0xEF53,
    0x5846_5342,
    0x9123_683E,
    0x0102_1994,
    0xF2F5_2010,
    0xCA45_1A4E,
    0x2FC1_2FC1,
];

/// One file or directory of the tree.
#[derive(Debug)]
pub struct TreeObj {
    /// Its entry in the descriptor cache.
    id: u64,
    is_dir: bool,
    /// Its file handle (`sys::file_handle`); `None` where there is none.
    handle: Option<Vec<u8>>,
    /// The descriptor last opened for it, while anyone holds it (an open
    /// volume keeps an unlinked file reachable this way).
    live: parking_lot::Mutex<Weak<OwnedFd>>,
    /// Without opening by handle: its descriptor, for as long as it lives.
    pinned: Option<Arc<OwnedFd>>,
}

impl Drop for TreeObj {
    fn drop(&mut self) {
        fdcache::cache().remove(self.id);
    }
}

fn cname(name: &OsStr) -> Result<std::ffi::CString> {
    std::ffi::CString::new(name.as_bytes())
        .map_err(|_| Error::Invalid("a name cannot hold NUL".into()))
}

/// Open flags the daemon keeps from a caller's open: creation, truncation
/// and appending are the kernel's business (or done here explicitly).
fn open_flags(flags: i32) -> OFlag {
    OFlag::from_bits_truncate(flags)
        & !(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_TRUNC | OFlag::O_APPEND | OFlag::O_NOCTTY)
}

fn enoent() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ENOENT,
    }
}

impl TreeStore {
    /// Opens a started pool's target directory.
    pub fn open(target: &Path) -> Result<TreeStore> {
        let root = nix::fcntl::open(
            target,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(Error::sys(format!(
            "cannot open target '{}'",
            target.display()
        )))?;
        let local = nix::sys::statfs::fstatfs(&root)
            .is_ok_and(|st| LOCAL_FILESYSTEMS.contains(&st.filesystem_type().0));
        let beneath = std::fs::read_link(proc_link(&root)).map_err(Error::io(format!(
            "cannot name target '{}'",
            target.display()
        )))?;
        // Opening the target by its own handle tells whether objects can be.
        let by_handle = sys::file_handle(root.as_fd())
            .and_then(|h| sys::open_by_handle(root.as_fd(), &h, OFlag::O_PATH))
            .inspect_err(|e| {
                tracing::warn!(
                    "target '{}': no file handles ({e}): each file and directory the kernel knows keeps a descriptor open",
                    target.display()
                )
            })
            .is_ok();
        Ok(TreeStore {
            root: Arc::new(root),
            target: target.to_path_buf(),
            beneath,
            local,
            by_handle,
        })
    }

    fn obj<'a>(&self, obj: &'a Obj) -> Result<&'a TreeObj> {
        match obj {
            Obj::Tree(o) => Ok(o),
            _ => Err(foreign()),
        }
    }

    /// The descriptor of a directory argument (`None`: the top).
    fn dir(&self, dir: Option<&Obj>) -> Result<Arc<OwnedFd>> {
        match dir {
            None => Ok(self.root.clone()),
            Some(o) => self.fd(self.obj(o)?),
        }
    }

    /// The descriptor of an object: the cached one, one still held
    /// elsewhere, or one opened again by its handle.
    fn fd(&self, o: &TreeObj) -> Result<Arc<OwnedFd>> {
        if let Some(fd) = &o.pinned {
            return Ok(fd.clone());
        }
        let cache = fdcache::cache();
        if let Some(fd) = cache.get(o.id) {
            return Ok(fd);
        }
        let held = o.live.lock().upgrade();
        let fd = match held {
            Some(fd) => fd,
            None => {
                let handle = o.handle.as_deref().ok_or_else(stale)?;
                let fd = Arc::new(self.open_handle(handle, o.is_dir, None)?);
                *o.live.lock() = Arc::downgrade(&fd);
                fd
            }
        };
        cache.put(o.id, fd.clone());
        Ok(fd)
    }

    /// Opens the object a file handle names: `ESTALE` unless it is still a
    /// linked file or directory (as `is_dir` says) beneath the target.
    ///
    /// A directory opened by handle is connected to the tree, so its path
    /// says where it is. A file may come back disconnected (its path reads
    /// `/`): an object the kernel still holds (`hint` `None`) was beneath the
    /// target when it was looked up and is served as its descriptor would
    /// be; one found again for a forgotten handle must still be what its
    /// last known path `hint` names beneath the target.
    fn open_handle(&self, handle: &[u8], is_dir: bool, hint: Option<&str>) -> Result<OwnedFd> {
        let flags = if is_dir {
            OFlag::O_RDONLY | OFlag::O_DIRECTORY
        } else {
            OFlag::O_PATH
        };
        let fd = sys::open_by_handle(self.root.as_fd(), handle, flags).map_err(|_| stale())?;
        let st = fstat(fd.as_fd())?;
        let kind = if is_dir {
            SFlag::S_IFDIR
        } else {
            SFlag::S_IFREG
        };
        if local::file_type(&st) != kind || st.st_nlink == 0 {
            return Err(stale());
        }
        let path = std::fs::read_link(proc_link(&fd)).map_err(|_| stale())?;
        if path.starts_with(&self.beneath) {
            return Ok(fd);
        }
        let disconnected = !is_dir && path == Path::new("/");
        match hint {
            None if disconnected => return Ok(fd),
            Some(hint) if disconnected => {
                let c = std::ffi::CString::new(hint).map_err(|_| stale())?;
                let there = sys::open_beneath(self.root.as_fd(), &c, OFlag::O_PATH, 0)
                    .ok()
                    .and_then(|f| fstat(f.as_fd()).ok());
                if there.is_some_and(|t| (t.st_dev, t.st_ino) == (st.st_dev, st.st_ino)) {
                    return Ok(fd);
                }
            }
            _ => {}
        }
        tracing::warn!(
            "an object known in target '{}' is no longer there ({}): not served",
            self.target.display(),
            if disconnected {
                format!("not at '{}'", hint.unwrap_or_default())
            } else {
                format!("now at '{}'", path.display())
            }
        );
        Err(stale())
    }

    /// A found object from its `O_PATH` descriptor: regular files and
    /// directories only (directories reopened for listing).
    fn found(&self, fd: OwnedFd) -> Result<Found> {
        let st = fstat(fd.as_fd())?;
        let is_dir = match local::file_type(&st) {
            SFlag::S_IFREG => false,
            SFlag::S_IFDIR => true,
            _ => return Err(enoent()),
        };
        let fd = if is_dir {
            sys::reopen(fd.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(Error::os("lookup"))?
        } else {
            fd
        };
        Ok(Found {
            id: (st.st_dev, st.st_ino),
            attr: stat_attr(&st),
            obj: Obj::Tree(self.object(fd, is_dir)),
        })
    }

    /// A new object around its descriptor, which the cache keeps (or the
    /// object itself, without handles).
    fn object(&self, fd: OwnedFd, is_dir: bool) -> TreeObj {
        let cache = fdcache::cache();
        let fd = Arc::new(fd);
        let handle = sys::file_handle(fd.as_fd()).ok();
        let id = cache.id();
        let by_handle = self.by_handle && handle.is_some();
        if by_handle {
            cache.put(id, fd.clone());
        }
        TreeObj {
            id,
            is_dir,
            handle,
            live: parking_lot::Mutex::new(Arc::downgrade(&fd)),
            pinned: (!by_handle).then_some(fd),
        }
    }

    fn volume_file(&self, obj: &Obj, vol: &VolumeRef, flags: OFlag) -> Result<File> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Invalid(format!(
                "'{}' is a directory, not a volume",
                vol.name
            )));
        }
        sys::reopen(self.fd(o)?.as_fd(), flags)
            .map(File::from)
            .map_err(Error::os("open"))
    }
}

fn stale() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ESTALE,
    }
}

/// `sys::proc_path` as a path.
fn proc_link(fd: &impl AsFd) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(sys::proc_path(fd.as_fd()).as_bytes()))
}

impl Store for TreeStore {
    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found> {
        let c = cname(name)?;
        match sys::open_beneath(self.dir(dir)?.as_fd(), &c, OFlag::O_PATH, 0) {
            Ok(fd) => self.found(fd),
            // A symlink: never shown, never followed.
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => Err(enoent()),
            Err(e) => Err(Error::Os {
                op: "lookup",
                errno: e,
            }),
        }
    }

    fn getattr(&self, obj: &Obj) -> Result<Attr> {
        Ok(stat_attr(&fstat(self.fd(self.obj(obj)?)?.as_fd())?))
    }

    fn top_attr(&self) -> Option<Result<Attr>> {
        Some(fstat(self.root.as_fd()).map(|st| stat_attr(&st)))
    }

    fn setattr(
        &self,
        obj: Option<&Obj>,
        sa: &SetAttr,
        open: Option<&dyn OpenVolume>,
    ) -> Result<()> {
        let held = self.dir(obj)?;
        let fd = held.as_fd();
        if sa.changes_nothing() {
            // `chown(f, -1, -1)` or an unprivileged change the kernel saw
            // coming (fallocate): drop set-id bits as the VFS would.
            local::kill_privs(fd, &sa.caller)?;
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
            local::kill_privs_as_of(fd, &before, &sa.caller)?;
        }
        if let Some(mode) = sa.mode {
            local::chmod(fd, mode)?;
        }
        if let Some(size) = sa.size {
            match open.and_then(|o| o.truncate(size)) {
                Some(r) => r?,
                None => {
                    let size = i64::try_from(size).map_err(|_| Error::Os {
                        op: "truncate",
                        errno: Errno::EFBIG,
                    })?;
                    nix::unistd::truncate(sys::proc_path(fd).as_c_str(), size)
                        .map_err(Error::os("truncate"))?;
                }
            }
            if !sa.caller.privileged() {
                local::kill_privs(fd, &sa.caller)?;
            }
        }
        if sa.atime.is_some() || sa.mtime.is_some() {
            nix::sys::stat::utimensat(
                nix::fcntl::AT_FDCWD,
                sys::proc_path(fd).as_c_str(),
                &local::time_spec(sa.atime),
                &local::time_spec(sa.mtime),
                nix::sys::stat::UtimensatFlags::FollowSymlink,
            )
            .map_err(Error::os("utimens"))?;
        }
        Ok(())
    }

    fn list(&self, dir: Option<&Obj>) -> Result<Vec<Listed>> {
        let fd = sys::reopen(self.dir(dir)?.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(Error::os("readdir"))?;
        let mut d = nix::dir::Dir::from_fd(fd).map_err(Error::os("readdir"))?;
        let dirfd = sys::dup(d.as_fd()).map_err(Error::os("readdir"))?;
        let dev = fstat(dirfd.as_fd())?.st_dev;
        let mut out = Vec::new();
        for ent in d.iter() {
            let ent = ent.map_err(Error::os("readdir"))?;
            let name = OsStr::from_bytes(ent.file_name().to_bytes());
            if name == "." || name == ".." {
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
                    Ok(st) if local::file_type(&st) == SFlag::S_IFREG => Kind::File,
                    Ok(st) if local::file_type(&st) == SFlag::S_IFDIR => Kind::Dir,
                    _ => continue,
                },
            };
            out.push(Listed {
                id: (dev, ent.ino()),
                kind,
                name: name.to_os_string(),
                attr: None,
            });
        }
        Ok(out)
    }

    fn create(
        &self,
        ctx: &Ctx,
        dir: Option<&Obj>,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Found, StoreOpen)> {
        let c = cname(name)?;
        let oflags = open_flags(flags);
        let created = {
            let _ids = sys::FsIdGuard::new(ctx.uid, ctx.gid);
            sys::open_beneath(
                self.dir(dir)?.as_fd(),
                &c,
                oflags | OFlag::O_CREAT | OFlag::O_EXCL,
                mode & 0o7777,
            )
        };
        let fd = created.map_err(|e| Error::Os {
            op: "create",
            // A symlink holds the name: it exists, though it is not shown.
            errno: if e == Errno::ELOOP { Errno::EEXIST } else { e },
        })?;
        let st = fstat(fd.as_fd())?;
        let pfd = sys::reopen(fd.as_fd(), OFlag::O_PATH).map_err(Error::os("create"))?;
        let obj = self.object(pfd, false);
        let pin = self.fd(&obj)?;
        let found = Found {
            id: (st.st_dev, st.st_ino),
            attr: stat_attr(&st),
            obj: Obj::Tree(obj),
        };
        let file =
            LocalFile::new(File::from(fd), oflags.contains(OFlag::O_DIRECT), None).pinning(pin);
        Ok((
            found,
            StoreOpen {
                file: Box::new(file),
                passthrough: true,
            },
        ))
    }

    fn mkdir(&self, ctx: &Ctx, dir: Option<&Obj>, name: &OsStr, mode: u32) -> Result<Found> {
        let c = cname(name)?;
        {
            let _ids = sys::FsIdGuard::new(ctx.uid, ctx.gid);
            nix::sys::stat::mkdirat(
                self.dir(dir)?.as_fd(),
                c.as_c_str(),
                Mode::from_bits_truncate(mode & 0o7777),
            )
            .map_err(Error::os("mkdir"))?;
        }
        self.lookup(dir, name)
    }

    fn unlink(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        let c = cname(name)?;
        nix::unistd::unlinkat(
            self.dir(dir)?.as_fd(),
            c.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(Error::os("unlink"))
    }

    fn rmdir(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        let c = cname(name)?;
        nix::unistd::unlinkat(
            self.dir(dir)?.as_fd(),
            c.as_c_str(),
            nix::unistd::UnlinkatFlags::RemoveDir,
        )
        .map_err(Error::os("rmdir"))
    }

    fn rename(
        &self,
        from: Option<&Obj>,
        name: &OsStr,
        to: Option<&Obj>,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        let (c1, c2) = (cname(name)?, cname(newname)?);
        nix::fcntl::renameat2(
            self.dir(from)?.as_fd(),
            c1.as_c_str(),
            self.dir(to)?.as_fd(),
            c2.as_c_str(),
            RenameFlags::from_bits_truncate(flags),
        )
        .map_err(Error::os("rename"))
    }

    fn open(&self, ctx: &Ctx, obj: &Obj, flags: i32) -> Result<StoreOpen> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Os {
                op: "open",
                errno: Errno::EISDIR,
            });
        }
        let oflags = open_flags(flags);
        // The open volume holds the object's descriptor: should the file be
        // unlinked while open, its object stays reachable.
        let pin = self.fd(o)?;
        let fd = sys::reopen(pin.as_fd(), oflags).map_err(Error::os("open"))?;
        // A write open, by a caller without CAP_FSETID, of a file with set-id
        // bits: its writes must reach the daemon, which clears the bits.
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let passthrough = !(ctx.uid != 0 && writes && local::has_setid(pin.as_fd()));
        Ok(StoreOpen {
            file: Box::new(
                LocalFile::new(File::from(fd), oflags.contains(OFlag::O_DIRECT), None).pinning(pin),
            ),
            passthrough,
        })
    }

    fn lock_file(&self, obj: &Obj) -> Option<Result<File>> {
        Some(self.passthrough_file(obj))
    }

    fn passthrough_file(&self, obj: &Obj) -> Result<File> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Os {
                op: "open",
                errno: Errno::EINVAL,
            });
        }
        sys::reopen(self.fd(o)?.as_fd(), OFlag::O_RDWR)
            .map(File::from)
            .map_err(Error::os("open"))
    }

    fn watch_path(&self, dir: Option<&Obj>) -> Option<HeldPath> {
        if !self.local {
            return None;
        }
        let fd = self.dir(dir).ok()?;
        Some(HeldPath::new(proc_link(&fd), Some(fd)))
    }

    /// Where objects cannot be opened again by file handle, each one the
    /// kernel knows holds a descriptor: said, since it bounds the pool.
    fn info_lines(&self) -> Vec<super::InfoLine> {
        if self.by_handle {
            return Vec::new();
        }
        vec![(
            "volumes",
            "descriptors",
            "one per file and directory the kernel knows (the target gives no file handles)"
                .to_string(),
        )]
    }

    fn fsyncdir(&self, dir: Option<&Obj>) -> Result<()> {
        nix::unistd::fsync(self.dir(dir)?).map_err(Error::os("fsyncdir"))
    }

    fn statfs(&self) -> Result<StatFs> {
        // `info`'s `available` counts all free blocks, as libvirt does
        // (`space`); statfs passes the filesystem's own numbers.
        nix::sys::statvfs::fstatvfs(&*self.root)
            .map(StatFs::from)
            .map_err(Error::os("statfs"))
    }

    fn space(&self) -> Result<Space> {
        let st = nix::sys::statvfs::fstatvfs(&*self.root).map_err(Error::os("statfs"))?;
        let capacity = st.blocks() * st.fragment_size();
        let available = st.blocks_free() * st.fragment_size();
        Ok(Space {
            capacity,
            allocation: capacity.saturating_sub(available),
            available,
        })
    }

    /// Regular files anywhere in the tree are volumes.
    fn census(&self, hidden: &dyn Fn(&str) -> bool) -> Result<(u64, Vec<String>)> {
        let mut shadowed = Vec::new();
        let mut count = 0u64;
        let top = sys::reopen(self.root.as_fd(), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(Error::os("readdir"))?;
        let mut stack = vec![(top, true)];
        while let Some((fd, top)) = stack.pop() {
            let Ok(mut dir) = nix::dir::Dir::from_fd(fd) else {
                continue;
            };
            let Ok(dirfd) = sys::dup(dir.as_fd()) else {
                continue;
            };
            for ent in dir.iter().flatten() {
                let name = ent.file_name().to_string_lossy().into_owned();
                if name == "." || name == ".." {
                    continue;
                }
                if top && hidden(&name) {
                    shadowed.push(name);
                    continue;
                }
                match ent.file_type() {
                    Some(nix::dir::Type::File) => count += 1,
                    Some(nix::dir::Type::Directory) => {
                        if let Ok(sub) = sys::open_beneath(
                            dirfd.as_fd(),
                            ent.file_name(),
                            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
                            0,
                        ) {
                            stack.push((sub, false));
                        }
                    }
                    _ => {}
                }
            }
        }
        shadowed.sort();
        Ok((count, shadowed))
    }

    fn setxattr(&self, obj: &Obj, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        local::setxattr(self.fd(self.obj(obj)?)?.as_fd(), name, value, flags)
    }

    fn getxattr(&self, obj: &Obj, name: &OsStr, buf: &mut [u8]) -> Result<usize> {
        local::getxattr(self.fd(self.obj(obj)?)?.as_fd(), name, buf)
    }

    fn listxattr(&self, obj: &Obj) -> Result<Vec<u8>> {
        local::listxattr(self.fd(self.obj(obj)?)?.as_fd())
    }

    fn removexattr(&self, obj: &Obj, name: &OsStr) -> Result<()> {
        local::removexattr(self.fd(self.obj(obj)?)?.as_fd(), name)
    }

    /// The file handle (`name_to_handle_at`) after one byte: 1 for a directory.
    /// Not every filesystem gives handles: such nodes only live while cached.
    fn key(&self, obj: &Obj) -> Option<NodeKey> {
        let o = self.obj(obj).ok()?;
        let mut key = vec![u8::from(o.is_dir)];
        key.extend(o.handle.as_deref()?);
        Some(NodeKey(key))
    }

    fn reconnect(&self, key: &NodeKey, path: &str) -> Result<Found> {
        let (is_dir, handle) = key.0.split_first().ok_or_else(stale)?;
        let fd = self.open_handle(handle, *is_dir == 1, Some(path))?;
        self.found(fd).map_err(|_| stale())
    }

    fn path_of(&self, obj: &Obj) -> Option<String> {
        let fd = self.fd(self.obj(obj).ok()?).ok()?;
        let full = std::fs::read_link(proc_link(&fd)).ok()?;
        let rel = full.strip_prefix(&self.target).ok()?.to_str()?;
        (!rel.is_empty() && !rel.ends_with(" (deleted)")).then(|| rel.to_string())
    }

    fn facts(&self, obj: &Obj) -> Result<VolumeFacts> {
        let vol = VolumeRef {
            name: "",
            mounted: None,
        };
        local::facts(&self.volume_file(obj, &vol, OFlag::O_RDONLY)?, None)
    }

    fn backing_name(&self, obj: &Obj) -> Result<Option<String>> {
        let vol = VolumeRef {
            name: "",
            mounted: None,
        };
        local::backing_name(&self.volume_file(obj, &vol, OFlag::O_RDONLY)?)
    }

    /// A raw volume's file changes size; a qcow2 volume's virtual disk
    /// changes size through `qemu-img resize`.
    fn resize(&self, obj: &Obj, vol: &VolumeRef, req: &ResizeRequest) -> Result<()> {
        let file = self.volume_file(obj, vol, OFlag::O_RDWR)?;
        let v = local::facts(&file, None)?;
        if v.probe.format == Format::Qcow2 {
            drop(file);
            let path = self.external_path(obj).ok_or_else(stale)?;
            return qcow2::resize(path.as_str(), vol.name, v.capacity(), req);
        }
        let current = v.size;
        let target = req.plan(current, MAX_FILE)?;
        if req.allocate && target > current {
            let st = nix::sys::statvfs::fstatvfs(&file).map_err(Error::os("statfs"))?;
            let available = st.blocks_free() * st.fragment_size();
            if target - current > available {
                return Err(Error::NoSpace(format!(
                    "allocating {} bytes needs more than the {available} bytes available in the pool",
                    target - current
                )));
            }
        }
        nix::unistd::ftruncate(&file, target as i64).map_err(Error::os("truncate"))?;
        if req.allocate && target > current {
            let r = nix::fcntl::fallocate(
                &file,
                FallocateFlags::empty(),
                current as i64,
                (target - current) as i64,
            );
            if let Err(e) = r {
                // Nothing half done: back to the old size, blocks released.
                let _ = nix::unistd::ftruncate(&file, current as i64);
                return Err(match e {
                    Errno::ENOSPC => Error::NoSpace(format!(
                        "not enough space to allocate {} bytes for '{}'",
                        target - current,
                        vol.name
                    )),
                    e => Error::Os {
                        op: "fallocate",
                        errno: e,
                    },
                });
            }
        }
        file.sync_all()
            .map_err(|e| Error::io("cannot sync the resized volume")(e))
    }

    /// Holes punched where the filesystem can (zero, trim), data written
    /// otherwise; synced before it returns.
    fn wipe(
        &self,
        obj: &Obj,
        vol: &VolumeRef,
        alg: WipeAlgorithm,
        size: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let file = self.volume_file(obj, vol, OFlag::O_RDWR)?;
        local::wipe(&file, vol.name, alg, size, progress)
    }

    /// The object's inode as tools outside this process reach it: no path
    /// is resolved again (the descriptor stays open while the path is held).
    fn external_path(&self, obj: &Obj) -> Option<HeldPath> {
        let fd = self.fd(self.obj(obj).ok()?).ok()?;
        let path = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
        Some(HeldPath::new(PathBuf::from(path), Some(fd)))
    }
}
