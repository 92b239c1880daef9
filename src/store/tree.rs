//! The local tree store: a pool's volumes are the regular files (and its
//! sub-directories the directories) under a local directory — dir and fs
//! pools, and netfs pools mounted by the kernel's NFS client.
//!
//! Confinement: every object is reached from its parent's descriptor one
//! component at a time with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`;
//! symlinks, FIFOs, sockets and devices are never shown nor followed. Each
//! object is held by a descriptor (`O_PATH` for files, `O_RDONLY` for
//! directories), which pins its inode: (st_dev, st_ino) names it while held.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, FallocateFlags, OFlag, RenameFlags};
use nix::sys::stat::{Mode, SFlag};

use super::local::{self, LocalFile, fstat, stat_attr};
use super::{
    Attr, Ctx, Found, Kind, Listed, NodeKey, Obj, OpenVolume, SetAttr, Space, StatFs, Store,
    StoreOpen, VolumeFacts, VolumeRef, downcast,
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
    root: OwnedFd,
    target: PathBuf,
    /// The target is on a local filesystem: every change to it happens on
    /// this host, where inotify sees it (`Store::watch_path`).
    local: bool,
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
struct TreeObj {
    fd: OwnedFd,
    is_dir: bool,
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
        Ok(TreeStore {
            root,
            target: target.to_path_buf(),
            local,
        })
    }

    fn obj<'a>(&self, obj: &'a Obj) -> Result<&'a TreeObj> {
        downcast::<TreeObj>(obj)
    }

    /// The descriptor of a directory argument (`None`: the top).
    fn dir<'a>(&'a self, dir: Option<&'a Obj>) -> Result<BorrowedFd<'a>> {
        match dir {
            None => Ok(self.root.as_fd()),
            Some(o) => Ok(self.obj(o)?.fd.as_fd()),
        }
    }

    /// A found object from its `O_PATH` descriptor: regular files and
    /// directories only (directories reopened for listing).
    fn found(fd: OwnedFd) -> Result<Found> {
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
            obj: Box::new(TreeObj { fd, is_dir }),
        })
    }

    fn volume_file(&self, obj: &Obj, vol: &VolumeRef, flags: OFlag) -> Result<File> {
        let o = self.obj(obj)?;
        if o.is_dir {
            return Err(Error::Invalid(format!(
                "'{}' is a directory, not a volume",
                vol.name
            )));
        }
        sys::reopen(o.fd.as_fd(), flags)
            .map(File::from)
            .map_err(Error::os("open"))
    }
}

impl Store for TreeStore {
    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found> {
        let c = cname(name)?;
        match sys::open_beneath(self.dir(dir)?, &c, OFlag::O_PATH, 0) {
            Ok(fd) => Self::found(fd),
            // A symlink: never shown, never followed.
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => Err(enoent()),
            Err(e) => Err(Error::Os {
                op: "lookup",
                errno: e,
            }),
        }
    }

    fn getattr(&self, obj: &Obj) -> Result<Attr> {
        Ok(stat_attr(&fstat(self.obj(obj)?.fd.as_fd())?))
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
        let fd = self.dir(obj)?;
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
        let fd = sys::reopen(self.dir(dir)?, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
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
                self.dir(dir)?,
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
        let found = Found {
            id: (st.st_dev, st.st_ino),
            attr: stat_attr(&st),
            obj: Box::new(TreeObj {
                fd: pfd,
                is_dir: false,
            }),
        };
        let file = LocalFile::new(File::from(fd), oflags.contains(OFlag::O_DIRECT), None);
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
                self.dir(dir)?,
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
            self.dir(dir)?,
            c.as_c_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(Error::os("unlink"))
    }

    fn rmdir(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        let c = cname(name)?;
        nix::unistd::unlinkat(
            self.dir(dir)?,
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
            self.dir(from)?,
            c1.as_c_str(),
            self.dir(to)?,
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
        let fd = sys::reopen(o.fd.as_fd(), oflags).map_err(Error::os("open"))?;
        // A write open, by a caller without CAP_FSETID, of a file with set-id
        // bits: its writes must reach the daemon, which clears the bits.
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let passthrough = !(ctx.uid != 0 && writes && local::has_setid(o.fd.as_fd()));
        Ok(StoreOpen {
            file: Box::new(LocalFile::new(
                File::from(fd),
                oflags.contains(OFlag::O_DIRECT),
                None,
            )),
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
        sys::reopen(o.fd.as_fd(), OFlag::O_RDWR)
            .map(File::from)
            .map_err(Error::os("open"))
    }

    fn watch_path(&self, dir: Option<&Obj>) -> Option<PathBuf> {
        let fd = self.dir(dir).ok()?;
        self.local
            .then(|| PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())))
    }

    fn fsyncdir(&self, dir: Option<&Obj>) -> Result<()> {
        nix::unistd::fsync(self.dir(dir)?).map_err(Error::os("fsyncdir"))
    }

    fn statfs(&self) -> Result<StatFs> {
        // `info`'s `available` counts all free blocks, as libvirt does
        // (`space`); statfs passes the filesystem's own numbers.
        nix::sys::statvfs::fstatvfs(&self.root)
            .map(StatFs::from)
            .map_err(Error::os("statfs"))
    }

    fn space(&self) -> Result<Space> {
        let st = nix::sys::statvfs::fstatvfs(&self.root).map_err(Error::os("statfs"))?;
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
        local::setxattr(self.obj(obj)?.fd.as_fd(), name, value, flags)
    }

    fn getxattr(&self, obj: &Obj, name: &OsStr, buf: &mut [u8]) -> Result<usize> {
        local::getxattr(self.obj(obj)?.fd.as_fd(), name, buf)
    }

    fn listxattr(&self, obj: &Obj) -> Result<Vec<u8>> {
        local::listxattr(self.obj(obj)?.fd.as_fd())
    }

    fn removexattr(&self, obj: &Obj, name: &OsStr) -> Result<()> {
        local::removexattr(self.obj(obj)?.fd.as_fd(), name)
    }

    /// The file handle (`name_to_handle_at`) after one byte: 1 for a directory.
    /// Not every filesystem gives handles: such nodes only live while cached.
    fn key(&self, obj: &Obj) -> Option<NodeKey> {
        let o = self.obj(obj).ok()?;
        let mut key = vec![u8::from(o.is_dir)];
        key.extend(sys::file_handle(o.fd.as_fd()).ok()?);
        Some(NodeKey(key))
    }

    fn reconnect(&self, key: &NodeKey) -> Result<Found> {
        let stale = || Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        };
        let (_, handle) = key.0.split_first().ok_or_else(stale)?;
        let fd =
            sys::open_by_handle(self.root.as_fd(), handle, OFlag::O_PATH).map_err(|_| stale())?;
        Self::found(fd).map_err(|_| stale())
    }

    fn path_of(&self, obj: &Obj) -> Option<String> {
        let fd = self.obj(obj).ok()?.fd.as_fd();
        let full = std::fs::read_link(Path::new(sys::proc_path(fd).to_str().ok()?)).ok()?;
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

    /// A raw volume's file changes size; a qcow2 volume's virtual disk
    /// changes size through `qemu-img resize`.
    fn resize(&self, obj: &Obj, vol: &VolumeRef, req: &ResizeRequest) -> Result<()> {
        let file = self.volume_file(obj, vol, OFlag::O_RDWR)?;
        let v = local::facts(&file, None)?;
        if v.probe.format == Format::Qcow2 {
            drop(file);
            let path = self.external_path(obj).unwrap_or_default();
            return qcow2::resize(&path, vol.name, v.capacity(), req);
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
    /// is resolved again.
    fn external_path(&self, obj: &Obj) -> Option<String> {
        let fd = self.obj(obj).ok()?.fd.as_raw_fd();
        Some(format!("/proc/{}/fd/{fd}", std::process::id()))
    }
}
