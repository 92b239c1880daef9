//! What the local stores (`tree`, `block`) share: attributes from `fstat`,
//! the set-id rules the daemon applies for the VFS, user xattrs on a
//! descriptor, and an open volume that is a local file or device.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::{Attr, Ctx, Kind, OpenVolume, Stamp, Time};
use crate::control::volume::WipeAlgorithm;
use crate::error::{Error, Result};
use crate::sys;

pub fn fstat(fd: BorrowedFd<'_>) -> Result<FileStat> {
    nix::sys::stat::fstatat(fd, c"", AtFlags::AT_EMPTY_PATH).map_err(Error::os("stat"))
}

pub fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// What identifies a version of a file's content: mtime and size.
pub fn stamp(st: &FileStat) -> Stamp {
    (st.st_mtime, st.st_mtime_nsec, st.st_size)
}

/// Attributes from a stat (`ino` 0: the namespace numbers the node).
pub fn stat_attr(st: &FileStat) -> Attr {
    let ts = |s: i64, ns: i64| {
        if s >= 0 {
            SystemTime::UNIX_EPOCH + std::time::Duration::new(s as u64, ns as u32)
        } else {
            SystemTime::UNIX_EPOCH - std::time::Duration::new(s.unsigned_abs(), 0)
                + std::time::Duration::new(0, ns as u32)
        }
    };
    Attr {
        ino: 0,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: ts(st.st_atime, st.st_atime_nsec),
        mtime: ts(st.st_mtime, st.st_mtime_nsec),
        ctime: ts(st.st_ctime, st.st_ctime_nsec),
        kind: if file_type(st) == SFlag::S_IFDIR {
            Kind::Dir
        } else {
            Kind::File
        },
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        blksize: st.st_blksize as u32,
    }
}

pub fn time_spec(t: Option<Time>) -> nix::sys::time::TimeSpec {
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

/// True for a file with set-user-id or set-group-id bits.
pub fn has_setid(fd: BorrowedFd<'_>) -> bool {
    fstat(fd).is_ok_and(|st| st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0)
}

/// What the VFS does to a regular file when an unprivileged caller writes,
/// truncates or allocates, and when anyone changes its owner: drop
/// set-user-id, set-group-id when group-executable or when the caller is
/// neither privileged nor in the file's group, and file capabilities. The
/// daemon works as root, so it must do it itself.
pub fn kill_privs(fd: BorrowedFd<'_>, caller: &Ctx) -> Result<()> {
    let st = fstat(fd)?;
    kill_privs_as_of(fd, &st, caller)
}

/// `kill_privs`, deciding from `before` (the file's state before an owner
/// change: the group the caller must be in is the old one).
pub fn kill_privs_as_of(fd: BorrowedFd<'_>, before: &FileStat, caller: &Ctx) -> Result<()> {
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
        chmod(fd, mode & !kill)?;
    }
    match sys::removexattr(fd, c"security.capability") {
        Ok(()) | Err(Errno::ENODATA) | Err(Errno::EOPNOTSUPP) => Ok(()),
        Err(e) => Err(Error::Os {
            op: "removexattr",
            errno: e,
        }),
    }
}

/// chmod through the descriptor (an `O_PATH` one too).
pub fn chmod(fd: BorrowedFd<'_>, mode: u32) -> Result<()> {
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        sys::proc_path(fd).as_c_str(),
        Mode::from_bits_truncate(mode & 0o7777),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(Error::os("chmod"))
}

// ---- extended attributes: only the user.* namespace is shown ----------------

fn user_name(name: &OsStr) -> Result<std::ffi::CString> {
    if !super::kept_xattr(name.as_bytes()) {
        return Err(Error::Os {
            op: "xattr",
            errno: Errno::EOPNOTSUPP,
        });
    }
    std::ffi::CString::new(name.as_bytes()).map_err(|_| Error::Os {
        op: "xattr",
        errno: Errno::EINVAL,
    })
}

pub fn setxattr(fd: BorrowedFd<'_>, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
    sys::setxattr(fd, &user_name(name)?, value, flags).map_err(Error::os("setxattr"))
}

pub fn getxattr(fd: BorrowedFd<'_>, name: &OsStr, buf: &mut [u8]) -> Result<usize> {
    sys::getxattr(fd, &user_name(name)?, buf).map_err(Error::os("getxattr"))
}

pub fn listxattr(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let len = sys::listxattr(fd, &mut []).map_err(Error::os("listxattr"))?;
    let mut buf = vec![0u8; len];
    let len = sys::listxattr(fd, &mut buf).map_err(Error::os("listxattr"))?;
    buf.truncate(len);
    Ok(buf
        .split_inclusive(|c| *c == 0)
        .filter(|n| super::kept_xattr(n))
        .flat_map(|n| n.iter().copied())
        .collect())
}

pub fn removexattr(fd: BorrowedFd<'_>, name: &OsStr) -> Result<()> {
    sys::removexattr(fd, &user_name(name)?).map_err(Error::os("removexattr"))
}

fn io_error(op: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Os {
        op,
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

/// A block device volume: its fixed size and whether its device went away.
#[derive(Debug, Clone)]
pub struct Device {
    pub size: u64,
    pub gone: Arc<AtomicBool>,
}

/// An open local volume: a regular file of a tree, or a device.
#[derive(Debug)]
pub struct LocalFile {
    /// Shared with the asynchronous operations in flight on it.
    pub file: Arc<File>,
    /// Opened with `O_DIRECT`: buffers must be aligned.
    pub direct: bool,
    pub device: Option<Device>,
    /// The same file without `O_DIRECT`, opened at the first write-back
    /// from the kernel's page cache (`OpenVolume::write_cached`).
    pub cached: std::sync::OnceLock<File>,
    /// The descriptor of the tree object it was opened from, kept while the
    /// volume is open (see `tree`).
    _pin: Option<Arc<std::os::fd::OwnedFd>>,
}

impl LocalFile {
    /// An open volume (`direct`: opened with `O_DIRECT`).
    pub fn new(file: File, direct: bool, device: Option<Device>) -> LocalFile {
        LocalFile {
            file: Arc::new(file),
            direct,
            device,
            cached: std::sync::OnceLock::new(),
            _pin: None,
        }
    }

    /// Keeps `fd` open for as long as the volume is.
    pub fn pinning(self, fd: Arc<std::os::fd::OwnedFd>) -> LocalFile {
        LocalFile {
            _pin: Some(fd),
            ..self
        }
    }

    /// The file without `O_DIRECT`, same access mode.
    fn cached(&self) -> Result<&File> {
        if let Some(f) = self.cached.get() {
            return Ok(f);
        }
        let mode = nix::fcntl::fcntl(&self.file, nix::fcntl::FcntlArg::F_GETFL)
            .map_err(Error::os("open"))?;
        let access = nix::fcntl::OFlag::from_bits_truncate(mode & libc::O_ACCMODE);
        let f = File::from(sys::reopen(self.file.as_fd(), access).map_err(Error::os("open"))?);
        Ok(self.cached.get_or_init(|| f))
    }

    /// I/O on a device that went away fails with EIO.
    fn refuse_gone(&self) -> Result<()> {
        match &self.device {
            Some(d) if d.gone.load(Ordering::Relaxed) => Err(Error::Os {
                op: "io",
                errno: Errno::EIO,
            }),
            _ => Ok(()),
        }
    }
}

impl OpenVolume for LocalFile {
    fn read(&self, offset: u64, size: u32) -> Result<crate::volume::Data> {
        self.refuse_gone()?;
        crate::volume::read_at(&self.file, self.direct, offset, size as usize)
    }

    fn write(&self, offset: u64, data: &[u8], kill_privs_for: Option<&Ctx>) -> Result<u32> {
        self.refuse_gone()?;
        let n = crate::volume::write_at(&self.file, self.direct, offset, data)?;
        if let Some(caller) = kill_privs_for
            && self.device.is_none()
        {
            kill_privs(self.file.as_fd(), caller)?;
        }
        Ok(n as u32)
    }

    fn read_async(
        &self,
        offset: u64,
        size: u32,
        done: crate::volume::aio::ReadDone,
    ) -> Option<crate::volume::aio::ReadDone> {
        if self.refuse_gone().is_err() {
            return Some(done);
        }
        crate::volume::aio::read(&self.file, self.direct, offset, size as usize, done)
    }

    /// Direct writes only: the kernel sends a buffered `write(2)` and waits
    /// for it, so nothing is gained by not waiting here, and writing from
    /// the request's buffer saves the copy an asynchronous write needs.
    fn write_async(
        &self,
        offset: u64,
        data: &[u8],
        done: crate::volume::aio::WriteDone,
    ) -> Option<crate::volume::aio::WriteDone> {
        if !self.direct || self.refuse_gone().is_err() {
            return Some(done);
        }
        crate::volume::aio::write(&self.file, offset, data, done)
    }

    fn write_cached(&self, offset: u64, data: &[u8], kill_privs_for: Option<&Ctx>) -> Result<u32> {
        if !self.direct {
            return self.write(offset, data, kill_privs_for);
        }
        self.refuse_gone()?;
        let n = crate::volume::write_at(self.cached()?, false, offset, data)?;
        if let Some(caller) = kill_privs_for
            && self.device.is_none()
        {
            kill_privs(self.file.as_fd(), caller)?;
        }
        Ok(n as u32)
    }

    fn fsync(&self, datasync: bool) -> Result<()> {
        if datasync {
            self.file.sync_data()
        } else {
            self.file.sync_all()
        }
        .map_err(io_error("fsync"))
    }

    fn fallocate(&self, offset: u64, length: u64, mode: i32) -> Result<()> {
        let efbig = || Error::Os {
            op: "fallocate",
            errno: Errno::EFBIG,
        };
        let off = i64::try_from(offset).map_err(|_| efbig())?;
        let len = i64::try_from(length).map_err(|_| efbig())?;
        nix::fcntl::fallocate(
            &self.file,
            nix::fcntl::FallocateFlags::from_bits_retain(mode),
            off,
            len,
        )
        .map_err(Error::os("fallocate"))
    }

    fn size(&self) -> Result<u64> {
        if let Some(d) = &self.device {
            return Ok(d.size);
        }
        Ok(fstat(self.file.as_fd())?.st_size as u64)
    }

    fn local_file(&self) -> Option<&File> {
        Some(&self.file)
    }

    fn lseek(&self, offset: i64, whence: i32) -> Result<i64> {
        let err = |errno| Error::Os { op: "lseek", errno };
        if let Some(d) = &self.device {
            // A device has no holes: all of it is data.
            let off = u64::try_from(offset).map_err(|_| err(Errno::ENXIO))?;
            return match whence {
                libc::SEEK_DATA if off < d.size => Ok(offset),
                libc::SEEK_HOLE if off < d.size => Ok(d.size as i64),
                libc::SEEK_DATA | libc::SEEK_HOLE => Err(err(Errno::ENXIO)),
                _ => Err(err(Errno::EINVAL)),
            };
        }
        let whence = match whence {
            libc::SEEK_DATA => nix::unistd::Whence::SeekData,
            libc::SEEK_HOLE => nix::unistd::Whence::SeekHole,
            libc::SEEK_SET => nix::unistd::Whence::SeekSet,
            libc::SEEK_END => nix::unistd::Whence::SeekEnd,
            _ => return Err(err(Errno::EINVAL)),
        };
        nix::unistd::lseek(&self.file, offset, whence).map_err(Error::os("lseek"))
    }

    fn copy_to(&self, off_in: u64, dst: &dyn OpenVolume, off_out: u64, len: u64) -> Result<u64> {
        let Some(dst) = dst.local_file() else {
            return Err(Error::Os {
                op: "copy_file_range",
                errno: Errno::EXDEV,
            });
        };
        crate::volume::copy::copy_range(&self.file, off_in, dst, off_out, len)
            .map_err(io_error("copy_file_range"))
    }

    fn truncate(&self, size: u64) -> Option<Result<()>> {
        if self.device.is_some() {
            return None;
        }
        Some(match i64::try_from(size) {
            Ok(size) => nix::unistd::ftruncate(&self.file, size).map_err(Error::os("truncate")),
            Err(_) => Err(Error::Os {
                op: "truncate",
                errno: Errno::EFBIG,
            }),
        })
    }

    fn stamp(&self) -> Option<Stamp> {
        if self.device.is_some() {
            return None;
        }
        fstat(self.file.as_fd()).ok().map(|st| stamp(&st))
    }
}

/// The backing file a local volume's header names (`format::backing_name`).
/// A file whose first bytes are a hole is no qcow2 (its header is data): a
/// sparse raw volume is not read at all; otherwise read-ahead is turned
/// off, so a pool of 100,000 volumes does not fill the page cache.
pub fn backing_name(file: &File) -> Result<Option<String>> {
    match nix::unistd::lseek(file, 0, nix::unistd::Whence::SeekData) {
        Ok(0) => {}
        Ok(_) | Err(Errno::ENXIO) => return Ok(None),
        // No SEEK_DATA here: read.
        Err(_) => {}
    }
    let _ = nix::fcntl::posix_fadvise(
        file,
        0,
        0,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_RANDOM,
    );
    crate::volume::format::backing_name(|off, len| {
        crate::volume::read_at(file, false, off, len).map(|d| d.to_vec())
    })
}

/// What a local volume is: its format from its first bytes, its size and
/// allocation (`device`: a device of that size, all of it allocated).
pub fn facts(file: &File, device: Option<u64>) -> Result<super::VolumeFacts> {
    let head = crate::volume::read_at(file, false, 0, crate::volume::format::PROBE_LEN)?;
    let (size, allocated) = match device {
        Some(size) => (size, size),
        None => {
            let st = fstat(file.as_fd())?;
            (st.st_size as u64, st.st_blocks as u64 * 512)
        }
    };
    Ok(super::VolumeFacts {
        probe: crate::volume::format::probe(&head),
        size,
        allocated,
    })
}

/// SPEC 3.6 on a local file or device: holes punched where it can (zero,
/// trim), data written otherwise; synced before it returns.
pub fn wipe(
    file: &File,
    name: &str,
    alg: WipeAlgorithm,
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let punched = match alg {
        WipeAlgorithm::Zero | WipeAlgorithm::Trim => nix::fcntl::fallocate(
            file,
            nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
                | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
            0,
            size as i64,
        )
        .is_ok(),
        WipeAlgorithm::Random => false,
    };
    if !punched {
        super::overwrite(alg, size, progress, |off, buf| {
            file.write_all_at(buf, off)
                .map_err(|e| Error::io(format!("wipe of '{name}' failed"))(e))
        })?;
    }
    file.sync_all()
        .map_err(|e| Error::io(format!("cannot sync '{name}'"))(e))
}
