//! The block store: a block pool's volumes are its devices, each a
//! fixed-size volume named after the device's file name, held open `O_EXCL`
//! while the pool runs. Flat: no directories, nothing created or removed.

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::control::volume::{ResizeRequest, WipeAlgorithm};
use crate::error::{Error, Result};
use crate::store::local::{self, Device, LocalFile, fstat, stat_attr};
use crate::store::{
    Attr, Ctx, Found, HeldPath, Kind, Listed, NodeKey, Obj, OpenVolume, SetAttr, Space, StatFs,
    Store, StoreOpen, VolumeFacts, VolumeRef, foreign, not_dir,
};
use crate::sys;

/// One device of a running block pool.
#[derive(Debug)]
pub struct BlockDev {
    /// The volume's name: the device's file name.
    pub name: String,
    pub path: PathBuf,
    /// Held `O_RDWR | O_EXCL`.
    pub fd: OwnedFd,
    pub size: u64,
}

#[derive(Debug)]
pub struct BlockStore {
    devices: Vec<BlockDev>,
    /// A device went away (`health`): I/O on every open fails with EIO.
    gone: Arc<AtomicBool>,
}

impl BlockStore {
    pub fn new(devices: Vec<BlockDev>) -> BlockStore {
        BlockStore {
            devices,
            gone: Arc::new(AtomicBool::new(false)),
        }
    }

    fn dev(&self, obj: &Obj) -> Result<&BlockDev> {
        let Obj::Slot(i) = obj else {
            return Err(foreign());
        };
        self.devices.get(*i).ok_or(Error::Os {
            op: "lookup",
            errno: Errno::ESTALE,
        })
    }

    fn found(&self, idx: usize) -> Result<Found> {
        let dev = self.devices.get(idx).ok_or(Error::Os {
            op: "lookup",
            errno: Errno::ENOENT,
        })?;
        let mut attr = stat_attr(&fstat(dev.fd.as_fd())?);
        // A device shows as a regular file of its size, all of it allocated.
        attr.size = dev.size;
        attr.blocks = dev.size / 512;
        attr.nlink = 1;
        attr.kind = Kind::File;
        Ok(Found {
            id: (0, idx as u64),
            attr,
            obj: Obj::Slot(idx),
        })
    }

    fn device_file(&self, dev: &BlockDev, flags: OFlag) -> Result<File> {
        sys::reopen(dev.fd.as_fd(), flags)
            .map(File::from)
            .map_err(Error::os("open"))
    }
}

impl Store for BlockStore {
    fn refuse_layout_change(&self, _what: &str) -> Error {
        Error::NotPermitted(
            "this is a block pool: its volumes are its devices, nothing is created, removed or renamed"
                .into(),
        )
    }

    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found> {
        if dir.is_some() {
            return Err(not_dir());
        }
        let idx = self
            .devices
            .iter()
            .position(|d| OsStr::new(&d.name) == name)
            .ok_or(Error::Os {
                op: "lookup",
                errno: Errno::ENOENT,
            })?;
        self.found(idx)
    }

    fn getattr(&self, obj: &Obj) -> Result<Attr> {
        let Obj::Slot(i) = obj else {
            return Err(foreign());
        };
        Ok(self.found(*i)?.attr)
    }

    fn setattr(
        &self,
        obj: Option<&Obj>,
        sa: &SetAttr,
        _open: Option<&dyn OpenVolume>,
    ) -> Result<()> {
        let Some(obj) = obj else {
            return Err(Error::NotPermitted(
                "the directory of a block pool cannot be changed".into(),
            ));
        };
        let dev = self.dev(obj)?;
        let only_same_size = sa.size.is_none_or(|s| s == dev.size)
            && sa.mode.is_none()
            && sa.uid.is_none()
            && sa.gid.is_none()
            && sa.atime.is_none()
            && sa.mtime.is_none();
        if !only_same_size {
            return Err(Error::NotPermitted(format!(
                "'{}' is a block device volume: its size and attributes are fixed",
                dev.name
            )));
        }
        Ok(())
    }

    fn list(&self, dir: Option<&Obj>) -> Result<Vec<Listed>> {
        if dir.is_some() {
            return Err(not_dir());
        }
        Ok(self
            .devices
            .iter()
            .enumerate()
            .map(|(i, d)| Listed {
                id: (0, i as u64),
                kind: Kind::File,
                name: d.name.clone().into(),
                attr: None,
            })
            .collect())
    }

    fn open(&self, _ctx: &Ctx, obj: &Obj, flags: i32) -> Result<StoreOpen> {
        if self.gone.load(Ordering::Relaxed) {
            return Err(Error::Os {
                op: "open",
                errno: Errno::EIO,
            });
        }
        let dev = self.dev(obj)?;
        let oflags = OFlag::from_bits_truncate(flags)
            & !(OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_TRUNC
                | OFlag::O_APPEND
                | OFlag::O_NOCTTY);
        let file = self.device_file(dev, oflags)?;
        Ok(StoreOpen {
            file: Box::new(LocalFile::new(
                file,
                oflags.contains(OFlag::O_DIRECT),
                Some(Device {
                    size: dev.size,
                    gone: self.gone.clone(),
                }),
            )),
            passthrough: true,
        })
    }

    fn lock_file(&self, obj: &Obj) -> Option<Result<File>> {
        Some(self.passthrough_file(obj))
    }

    fn passthrough_file(&self, obj: &Obj) -> Result<File> {
        self.device_file(self.dev(obj)?, OFlag::O_RDWR)
    }

    /// The devices, all in use.
    fn statfs(&self) -> Result<StatFs> {
        let total = self.devices.iter().map(|d| d.size / 4096 * 4096).sum();
        Ok(StatFs::in_4k_blocks(
            total,
            0,
            0,
            self.devices.len() as u64,
            0,
        ))
    }

    /// The devices' sizes, all allocated.
    fn space(&self) -> Result<Space> {
        let capacity = self.devices.iter().map(|d| d.size).sum();
        Ok(Space {
            capacity,
            allocation: capacity,
            available: 0,
        })
    }

    fn census(&self, hidden: &dyn Fn(&str) -> bool) -> Result<(u64, Vec<String>)> {
        let (shadowed, shown): (Vec<_>, Vec<_>) = self
            .devices
            .iter()
            .map(|d| d.name.clone())
            .partition(|n| hidden(n));
        Ok((shown.len() as u64, shadowed))
    }

    fn setxattr(&self, obj: &Obj, name: &OsStr, value: &[u8], flags: i32) -> Result<()> {
        local::setxattr(self.dev(obj)?.fd.as_fd(), name, value, flags)
    }

    fn getxattr(&self, obj: &Obj, name: &OsStr, buf: &mut [u8]) -> Result<usize> {
        local::getxattr(self.dev(obj)?.fd.as_fd(), name, buf)
    }

    fn listxattr(&self, obj: &Obj) -> Result<Vec<u8>> {
        local::listxattr(self.dev(obj)?.fd.as_fd())
    }

    fn removexattr(&self, obj: &Obj, name: &OsStr) -> Result<()> {
        local::removexattr(self.dev(obj)?.fd.as_fd(), name)
    }

    /// The device's index in the pool's list (a restarted pool lists the
    /// same sources in the same order).
    fn key(&self, obj: &Obj) -> Option<NodeKey> {
        let Obj::Slot(i) = obj else {
            return None;
        };
        Some(NodeKey((*i as u64).to_le_bytes().to_vec()))
    }

    fn reconnect(&self, key: &NodeKey, _path: &str) -> Result<Found> {
        let idx = <[u8; 8]>::try_from(key.0.as_slice())
            .map(u64::from_le_bytes)
            .map_err(|_| Error::Os {
                op: "lookup",
                errno: Errno::ESTALE,
            })?;
        self.found(idx as usize)
    }

    fn path_of(&self, obj: &Obj) -> Option<String> {
        self.dev(obj).ok().map(|d| d.name.clone())
    }

    fn facts(&self, obj: &Obj) -> Result<VolumeFacts> {
        let dev = self.dev(obj)?;
        local::facts(&self.device_file(dev, OFlag::O_RDONLY)?, Some(dev.size))
    }

    fn resize(&self, obj: &Obj, _vol: &VolumeRef, _req: &ResizeRequest) -> Result<()> {
        Err(Error::Unsupported(format!(
            "'{}' is a block device: its size is fixed",
            self.dev(obj)?.name
        )))
    }

    fn wipe(
        &self,
        obj: &Obj,
        vol: &VolumeRef,
        alg: WipeAlgorithm,
        size: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let file = self.device_file(self.dev(obj)?, OFlag::O_RDWR)?;
        local::wipe(&file, vol.name, alg, size, progress)
    }

    fn external_path(&self, obj: &Obj) -> Option<HeldPath> {
        let fd = self.dev(obj).ok()?.fd.as_raw_fd();
        let path = format!("/proc/{}/fd/{fd}", std::process::id());
        Some(HeldPath::new(path.into(), None))
    }

    /// A device that disappeared turns the pool `inaccessible`; all of them
    /// answering again turn it back to `running`.
    fn health(&self) -> Option<std::result::Result<(), String>> {
        let why = self.devices.iter().find_map(device_gone);
        self.gone.store(why.is_some(), Ordering::Relaxed);
        Some(why.map_or(Ok(()), Err))
    }
}

/// Why a device of a running pool no longer answers, if it does not: its
/// node is gone or names another device, or a loop device is being detached.
fn device_gone(dev: &BlockDev) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let held = nix::sys::stat::fstat(&dev.fd).ok()?.st_rdev;
    match std::fs::metadata(&dev.path) {
        Err(e) => return Some(format!("device '{}' disappeared: {e}", dev.path.display())),
        Ok(m) if m.rdev() != held => {
            return Some(format!("'{}' now names another device", dev.path.display()));
        }
        Ok(_) => {}
    }
    let (major, minor) = (nix::sys::stat::major(held), nix::sys::stat::minor(held));
    let sys = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    if !sys.exists() {
        return Some(format!("device '{}' was removed", dev.path.display()));
    }
    let autoclear = std::fs::read_to_string(sys.join("loop/autoclear")).unwrap_or_default();
    let backing = sys.join("loop/backing_file");
    if autoclear.trim() == "1" || (sys.join("loop").exists() && !backing.exists()) {
        return Some(format!("loop device '{}' was detached", dev.path.display()));
    }
    None
}
