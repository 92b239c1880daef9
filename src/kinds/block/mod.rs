//! `block` pools: each listed device is one fixed-size volume, named after
//! the device's file name and held open `O_EXCL` while the pool runs, so
//! nothing mounts it by mistake.

mod store;

use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::PoolBackend;
use crate::error::{Error, Result};
use crate::store::Store;
use std::sync::Arc;
use store::{BlockDev, BlockStore};

#[derive(Debug)]
pub struct BlockBackend {
    sources: Vec<PathBuf>,
}

impl BlockBackend {
    pub fn new(sources: Vec<PathBuf>) -> Self {
        BlockBackend { sources }
    }

    /// The device paths: every source, with glob patterns expanded (sorted).
    fn devices(&self) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for s in &self.sources {
            let text = s.to_string_lossy();
            if text.contains(['*', '?', '[']) {
                let matches = glob::glob(&text)
                    .map_err(|e| Error::Invalid(format!("bad device pattern '{text}': {e}")))?;
                let mut found: Vec<PathBuf> = matches.flatten().collect();
                found.sort();
                out.extend(found);
            } else {
                out.push(s.clone());
            }
        }
        if out.is_empty() {
            return Err(Error::NotFound(
                "no device matches the pool's source".into(),
            ));
        }
        Ok(out)
    }
}

impl PoolBackend for BlockBackend {
    /// Block pools have no target directory.
    fn target(&self) -> &Path {
        Path::new("")
    }

    fn build(&self, _overwrite: bool) -> Result<()> {
        Ok(())
    }

    /// Checks that every source is a block device.
    fn attach(&self) -> Result<()> {
        for d in self.devices()? {
            let m = std::fs::metadata(&d)
                .map_err(Error::io(format!("device '{}' is missing", d.display())))?;
            if !m.file_type().is_block_device() {
                return Err(Error::Invalid(format!(
                    "'{}' is not a block device",
                    d.display()
                )));
            }
        }
        Ok(())
    }

    fn stop(&self) -> Result<()> {
        Ok(())
    }

    /// Opens every device `O_RDWR | O_EXCL` (refused while something else,
    /// such as a mount, holds it exclusively).
    fn open_store(&self) -> Result<Arc<dyn Store>> {
        let mut devs = Vec::new();
        for path in self.devices()? {
            let fd = nix::fcntl::open(
                &path,
                OFlag::O_RDWR | OFlag::O_EXCL | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| match e {
                nix::errno::Errno::EBUSY => Error::Busy(format!(
                    "device '{}' is in use (mounted or held open exclusively)",
                    path.display()
                )),
                e => Error::sys(format!("cannot open device '{}'", path.display()))(e),
            })?;
            let size = crate::sys::device_size(fd.as_fd()).map_err(Error::sys(format!(
                "cannot read the size of '{}'",
                path.display()
            )))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| Error::Invalid(format!("'{}' has no file name", path.display())))?;
            if devs.iter().any(|d: &BlockDev| d.name == name) {
                return Err(Error::Invalid(format!("two devices are named '{name}'")));
            }
            devs.push(BlockDev {
                name,
                path,
                fd,
                size,
            });
        }
        Ok(Arc::new(BlockStore::new(devs)))
    }
}
