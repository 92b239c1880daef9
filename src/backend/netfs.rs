//! `netfs` pools: an NFS export. With the kernel's NFS client the export is
//! mounted on the target and the pool is a `dir` pool there. The userspace
//! client (poolfs speaking NFS itself) is not in this build.

use std::path::{Path, PathBuf};

use super::{PoolBackend, commands, mounts};
use crate::error::{Error, Result};

#[derive(Debug)]
pub struct NetfsBackend {
    source: String,
    target: PathBuf,
    client: Client,
    options: commands::NfsOptions,
}

/// Which NFS client reaches the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Kernel,
    Userspace,
}

/// True when the running kernel has an NFS client (`/proc/filesystems`).
pub fn kernel_has_nfs() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|t| {
            t.lines()
                .any(|l| matches!(l.split_whitespace().last(), Some("nfs" | "nfs4")))
        })
        .unwrap_or(false)
}

impl NetfsBackend {
    pub fn new(
        source: String,
        target: PathBuf,
        client: Option<&str>,
        options: commands::NfsOptions,
    ) -> Self {
        let client = match client {
            Some("kernel") => Client::Kernel,
            Some("userspace") => Client::Userspace,
            _ if kernel_has_nfs() => Client::Kernel,
            _ => Client::Userspace,
        };
        NetfsBackend {
            source,
            target,
            client,
            options,
        }
    }

    fn require_kernel_client(&self) -> Result<()> {
        match self.client {
            Client::Kernel if !kernel_has_nfs() => Err(Error::Unsupported(
                "this kernel has no NFS client (no nfs in /proc/filesystems); set client = \"userspace\"".into(),
            )),
            Client::Kernel => Ok(()),
            Client::Userspace => Err(Error::Unsupported(
                "the userspace NFS client is not available in this build of poolfs".into(),
            )),
        }
    }
}

impl PoolBackend for NetfsBackend {
    fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the mountpoint.
    fn build(&self, _overwrite: bool) -> Result<()> {
        std::fs::create_dir_all(&self.target).map_err(Error::io(format!(
            "cannot create target directory '{}'",
            self.target.display()
        )))
    }

    /// Mounts the export (reusing a mount of the same export already there).
    fn start(&self) -> Result<()> {
        if let Some(m) = mounts::at(&self.target) {
            if m.fstype.starts_with("nfs") && m.source == self.source {
                return Ok(());
            }
            return Err(Error::Busy(format!(
                "'{}' already has another filesystem mounted ({} from {})",
                self.target.display(),
                m.fstype,
                m.source
            )));
        }
        self.require_kernel_client()?;
        commands::mount_nfs(&self.source, &self.target, &self.options)
            .run()
            .map(drop)
    }

    fn stop(&self) -> Result<()> {
        match mounts::at(&self.target) {
            Some(m) if m.fstype.starts_with("nfs") => {
                commands::umount(&self.target).run().map(drop)
            }
            _ => Ok(()),
        }
    }
}
