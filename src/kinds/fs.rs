//! `fs` pools: a block device or a disk image holding a filesystem, mounted
//! on the target when the pool starts and unmounted when it stops.

use std::path::{Path, PathBuf};

use super::{PoolBackend, commands};
use crate::error::{Error, Result};
use crate::mounts;

#[derive(Debug)]
pub struct FsBackend {
    source: PathBuf,
    format: String,
    target: PathBuf,
}

impl FsBackend {
    pub fn new(source: PathBuf, format: String, target: PathBuf) -> Self {
        FsBackend {
            source,
            format,
            target,
        }
    }

    fn is_image(&self) -> Result<bool> {
        let m = std::fs::metadata(&self.source).map_err(Error::io(format!(
            "source '{}' cannot be used",
            self.source.display()
        )))?;
        Ok(m.file_type().is_file())
    }

    /// True when `m` is a mount of this pool's source (a device, or a loop
    /// device reading this pool's image).
    fn is_ours(&self, m: &mounts::MountInfo) -> bool {
        let canon = self
            .source
            .canonicalize()
            .unwrap_or_else(|_| self.source.clone());
        let dev = Path::new(&m.source);
        dev.canonicalize().is_ok_and(|d| d == canon)
            || mounts::loop_backing_file(&m.source).is_some_and(|f| f == canon)
    }

    /// The filesystem or partition-table signature on the source, if any.
    fn signature(&self) -> Result<Option<String>> {
        match commands::probe(&self.source).run() {
            Ok(out) => {
                let kv = |k: &str| {
                    out.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .map(str::to_string)
                };
                Ok(kv("TYPE=")
                    .map(|t| format!("a filesystem ({t})"))
                    .or_else(|| kv("PTTYPE=").map(|t| format!("a partition table ({t})"))))
            }
            // blkid exits 2 when it finds nothing.
            Err(Error::Command { ref status, .. }) if status == "exit status 2" => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl PoolBackend for FsBackend {
    fn target(&self) -> &Path {
        &self.target
    }

    /// Makes the filesystem; refuses a source that already holds a
    /// filesystem or partition table unless `overwrite`.
    fn build(&self, overwrite: bool) -> Result<()> {
        if self.format == "auto" {
            return Err(Error::Invalid(
                "a pool with format 'auto' cannot be built: set format to ext4, xfs or btrfs"
                    .into(),
            ));
        }
        self.is_image()?;
        if mounts::all().iter().any(|m| self.is_ours(m)) {
            return Err(Error::Busy(format!(
                "'{}' is mounted; it cannot be formatted",
                self.source.display()
            )));
        }
        if let Some(sig) = self.signature()?
            && !overwrite
        {
            return Err(Error::Exists(format!(
                "'{}' already holds {sig}; write 'build overwrite' to replace it",
                self.source.display()
            )));
        }
        super::create_target(&self.target, 0o755)?;
        commands::mkfs(&self.format, &self.source).run().map(drop)
    }

    /// Mounts the source on the target (`nodev,nosuid`), or reuses a mount
    /// of the same source already there.
    fn attach(&self) -> Result<()> {
        if let Some(m) = mounts::at(&self.target) {
            if self.is_ours(&m) {
                return Ok(());
            }
            return Err(Error::Busy(format!(
                "'{}' already has another filesystem mounted ({} from {})",
                self.target.display(),
                m.fstype,
                m.source
            )));
        }
        let image = self.is_image()?;
        if !self.target.is_dir() {
            return Err(Error::NotFound(format!(
                "target '{}' does not exist; build the pool first",
                self.target.display()
            )));
        }
        commands::mount_fs(&self.format, &self.source, &self.target, image)
            .run()
            .map(drop)
    }

    /// Unmounts (which also detaches the loop device of an image).
    fn stop(&self) -> Result<()> {
        match mounts::at(&self.target) {
            Some(m) if self.is_ours(&m) => super::unmount(&self.target),
            _ => Ok(()),
        }
    }
}
