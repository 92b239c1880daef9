//! What an NFS server offers, asked without a pool: its exports
//! (`find-storage-pool-sources`).

use std::time::Duration;

use nix::errno::Errno;

use super::client::runtime;
use crate::error::{Error, Result};

/// The exports an NFS server lists through the MOUNT protocol's EXPORT
/// call (`showmount -e`): each path with the clients it is exported to.
/// `mount_port`: where the server's MOUNT service listens (default: what
/// its rpcbind says). Bounded by `timeout`.
pub fn list_exports(
    host: &str,
    mount_port: Option<u16>,
    timeout: Duration,
) -> Result<Vec<(String, Vec<String>)>> {
    let port = mount_port
        .map(|p| format!("?mountport={p}"))
        .unwrap_or_default();
    let url = format!("nfs://{host}/.{port}");
    let listed = runtime()?
        .block_on(async { tokio::time::timeout(timeout, nfs_rs::list_exports(&url)).await });
    let what = |e: String| Error::Sys {
        what: format!("cannot list the exports of NFS server {host}: {e}"),
        errno: Errno::EHOSTUNREACH,
    };
    let exports = listed
        .map_err(|_| what(format!("no answer within {} s", timeout.as_secs())))?
        .map_err(|e| what(e.to_string()))?;
    Ok(exports.into_iter().map(|e| (e.path, e.groups)).collect())
}
