//! `rbd` pools: the images of a Ceph pool (and namespace) as volumes,
//! reached through librbd in the daemon: no kernel module, nothing mounted.
//! `start` connects (bounded by the pool's timeout) and checks that the Ceph
//! pool exists; `stop` disconnects once the store is dropped; there is
//! nothing to build.

mod file;
mod grower;
#[allow(unsafe_code)]
mod librbd;
mod readahead;
mod store;
mod vol;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PoolBackend;
use crate::error::Result;
use crate::store::Store;

/// Seconds a connection and each cluster operation may take by default.
const DEFAULT_TIMEOUT: u64 = 30;

#[derive(Debug)]
pub struct RbdBackend {
    opts: librbd::ConnectOpts,
}

/// What a definition says of the cluster (`PoolDef::Rbd`).
#[derive(Debug, Clone)]
pub struct RbdSource {
    pub source: String,
    pub pool: String,
    pub namespace: Option<String>,
    pub user: Option<String>,
    pub keyring: Option<PathBuf>,
    pub key: Option<String>,
    pub conf: Option<PathBuf>,
    pub timeout: Option<u64>,
}

impl RbdBackend {
    pub fn new(s: RbdSource) -> Self {
        let path = |p: Option<PathBuf>| p.map(|p| p.display().to_string());
        RbdBackend {
            opts: librbd::ConnectOpts {
                mon_host: s.source,
                pool: s.pool,
                namespace: s.namespace.filter(|n| !n.is_empty()),
                user: s.user.unwrap_or_else(|| "admin".into()),
                keyring: path(s.keyring),
                key: s.key,
                conf: path(s.conf),
                timeout: s.timeout.unwrap_or(DEFAULT_TIMEOUT),
            },
        }
    }
}

impl PoolBackend for RbdBackend {
    /// Nothing on this host holds the volumes.
    fn target(&self) -> &Path {
        Path::new("")
    }

    /// Nothing to build: the Ceph pool is made with Ceph's tools (libvirt
    /// does not make it either).
    fn build(&self, _overwrite: bool) -> Result<()> {
        Ok(())
    }

    fn attach(&self) -> Result<()> {
        Ok(())
    }

    /// The connection goes with the store (the pool drops it at stop).
    fn stop(&self) -> Result<()> {
        Ok(())
    }

    /// Connects to the cluster and opens the pool (refused when the Ceph
    /// pool does not exist).
    fn open_store(&self) -> Result<Arc<dyn Store>> {
        let cluster = librbd::Cluster::connect(&self.opts)?;
        Ok(store::RbdStore::new(cluster, &self.opts)?)
    }
}
