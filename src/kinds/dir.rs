//! `dir` pools: volumes are files in a local directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

use super::PoolBackend;

#[derive(Debug)]
pub struct DirBackend {
    target: PathBuf,
}

impl DirBackend {
    pub fn new(target: PathBuf) -> Self {
        DirBackend { target }
    }
}

impl PoolBackend for DirBackend {
    fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the target directory (and its parents), mode 0711 like libvirt.
    fn build(&self, _overwrite: bool) -> Result<()> {
        super::create_target(&self.target, 0o711)
    }

    /// Checks that the target is a directory.
    fn attach(&self) -> Result<()> {
        match std::fs::symlink_metadata(&self.target) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::Invalid(format!(
                "target '{}' is not a directory",
                self.target.display()
            ))),
            Err(e) => Err(Error::io(format!(
                "cannot open target directory '{}'",
                self.target.display()
            ))(e)),
        }
    }

    fn stop(&self) -> Result<()> {
        Ok(())
    }
}
