//! `netfs` pools: an NFS export. With the kernel's NFS client the export is
//! mounted on the target and the pool is a `dir` pool there. With the
//! userspace client poolfs speaks NFS itself (`crate::nfs`): nothing is
//! mounted, `start` connects and the namespace reaches volumes by NFS file
//! handle.

pub mod client;
pub mod exports;
mod locks;
mod pending;
mod readahead;
mod shared;
mod status;
mod store;
pub mod url;

use std::path::{Path, PathBuf};

use super::{PoolBackend, commands};
use crate::error::{Error, Result};
use crate::mounts;
use crate::store::Store;
use crate::store::tree::TreeStore;
use std::sync::Arc;
use store::NfsStore;

#[derive(Debug)]
pub struct NetfsBackend {
    source: String,
    target: PathBuf,
    client: Client,
    options: commands::NfsOptions,
    mount_port: Option<u16>,
    /// The NFSv4.1 client owner (`PoolBackend::set_identity`).
    identity: Option<String>,
}

/// Which NFS client reaches the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Kernel,
    Userspace,
}

pub use crate::config::kernel_has_nfs;

impl NetfsBackend {
    pub fn new(
        source: String,
        target: PathBuf,
        client: Option<&str>,
        options: commands::NfsOptions,
        mount_port: Option<u16>,
    ) -> Self {
        let client = match client {
            Some("kernel") => Client::Kernel,
            Some("userspace") => Client::Userspace,
            _ => match crate::config::default_nfs_client() {
                "kernel" => Client::Kernel,
                _ => Client::Userspace,
            },
        };
        NetfsBackend {
            source,
            target,
            client,
            options,
            mount_port,
            identity: None,
        }
    }

    fn userspace_options(&self) -> client::Options {
        client::Options {
            source: self.source.clone(),
            version: self.options.version.clone(),
            port: self.options.port,
            mount_port: self.mount_port,
            timeout: self
                .options
                .timeout
                .map_or(url::DEFAULT_TIMEOUT, std::time::Duration::from_secs),
            client_owner: self.identity.clone(),
            cache: std::time::Duration::from_secs(self.options.cache.unwrap_or(1)),
            nconnect: self.options.nconnect.unwrap_or(1),
        }
    }

    fn require_kernel_client(&self) -> Result<()> {
        match self.client {
            Client::Kernel if !kernel_has_nfs() => Err(Error::Unsupported(
                "this kernel has no NFS client (no nfs in /proc/filesystems); set client = \"userspace\"".into(),
            )),
            Client::Kernel | Client::Userspace => Ok(()),
        }
    }
}

impl PoolBackend for NetfsBackend {
    fn target(&self) -> &Path {
        &self.target
    }

    /// Creates the mountpoint (the userspace client needs none).
    fn build(&self, _overwrite: bool) -> Result<()> {
        if self.client == Client::Userspace {
            return Ok(());
        }
        super::create_target(&self.target, 0o755)
    }

    /// Mounts the export (reusing a mount of the same export already there);
    /// the userspace client connects in `open_store`.
    fn attach(&self) -> Result<()> {
        if self.client == Client::Userspace {
            return Ok(());
        }
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
        if self.client == Client::Userspace {
            return Ok(());
        }
        match mounts::at(&self.target) {
            Some(m) if m.fstype.starts_with("nfs") => super::unmount(&self.target),
            _ => Ok(()),
        }
    }

    fn set_identity(&mut self, identity: String) {
        self.identity = Some(identity);
    }

    fn open_store(&self) -> Result<Arc<dyn Store>> {
        Ok(match self.client {
            Client::Userspace => Arc::new(NfsStore::new(client::Client::connect(
                &self.userspace_options(),
            )?)),
            Client::Kernel => Arc::new(TreeStore::open(&self.target)?),
        })
    }
}
