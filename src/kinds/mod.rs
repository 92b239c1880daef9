//! Storage kinds: one file or folder per pool type, holding everything
//! that kind has of its own (its lifecycle, its `Store` when the shared
//! local tree does not serve, any client of its own); `for_def` is the one
//! registration. What several kinds share stays in `store` (the trait and
//! its vocabulary, the local tree, the local open file).
//!
//! Each kind's `PoolBackend` is only what really differs between pool types.
//!
//! A backend makes a pool's storage available (mount, connect, check the
//! devices) and hands back the `Store` that serves its volumes: a file-backed
//! backend ends `attach` with a directory (`target`) holding the volumes and
//! opens it as a `TreeStore`; block and userspace NFS pools open their own
//! stores. Contract for implementors:
//! - `attach`, `stop` and `build` are called with no poolfs lock held and may
//!   block (mount, mkfs); they are idempotent ("already mounted" is success);
//! - a failed `start` leaves nothing half-mounted;
//! - `stop` never deletes, formats or edits data.

pub mod block;
pub mod commands;
mod dir;
mod fs;
pub mod netfs;
mod rbd;

use std::fmt::Debug;
use std::path::Path;
use std::sync::Arc;

use crate::config::PoolDef;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::tree::TreeStore;

pub use block::BlockBackend;
pub use dir::DirBackend;
pub use fs::FsBackend;

/// The lifecycle of one pool's storage (libvirt's check/start/stop/build).
pub trait PoolBackend: Send + Sync + Debug {
    /// The directory that holds the volumes while the pool runs.
    fn target(&self) -> &Path;
    /// Prepares the storage (create the target, make a filesystem).
    fn build(&self, overwrite: bool) -> Result<()>;
    /// Makes the storage available (mount the target, check the devices).
    fn attach(&self) -> Result<()>;
    /// Releases what `start` acquired.
    fn stop(&self) -> Result<()>;
    /// Opens the attached storage for the namespace: by default the target
    /// directory as a local tree.
    fn open_store(&self) -> Result<Arc<dyn Store>> {
        Ok(Arc::new(TreeStore::open(self.target())?))
    }
    /// Who this daemon is to a shared server (`poolfs-<host id>-<pool uuid>`:
    /// the NFSv4.1 client owner of a userspace NFS pool); ignored elsewhere.
    fn set_identity(&mut self, _identity: String) {}
    /// Starts the pool: its store, ready to serve. Starting a started pool
    /// opens its store again and changes nothing else.
    fn start(&self) -> Result<Arc<dyn Store>> {
        self.attach()?;
        self.open_store().inspect_err(|_| {
            // Nothing half-started: release what `attach` acquired.
            let _ = self.stop();
        })
    }
}

/// How long a stop retries an unmount that found the target busy: the last
/// close of a volume reaches the backing filesystem a moment after the
/// process that closed it exited (the kernel sends RELEASE asynchronously,
/// and drops a passthrough backing file after it), so a stop right after a
/// VM exits may come first.
const BUSY_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Unmounts `target`, retrying while it is busy for up to `BUSY_GRACE`.
/// Still busy: `EBUSY`, naming the processes that hold it.
pub fn unmount(target: &Path) -> Result<()> {
    let deadline = std::time::Instant::now() + BUSY_GRACE;
    let mut tries = 0u32;
    loop {
        tries += 1;
        let e = match commands::umount(target).run() {
            Ok(_) => {
                if tries > 1 {
                    tracing::info!(target = %target.display(), tries, "unmounted once no longer busy");
                }
                return Ok(());
            }
            Err(e @ Error::Command { .. }) if e.to_string().contains("busy") => e,
            Err(e) => return Err(e),
        };
        // The holders (a scan of /proc) at the first and the last try only.
        let last = std::time::Instant::now() >= deadline;
        if tries == 1 || last {
            let holders = crate::mounts::holders(target);
            let held = if holders.is_empty() {
                String::new()
            } else {
                format!(" (held by {})", holders.join(", "))
            };
            if last {
                return Err(Error::Busy(format!(
                    "'{}' is busy and cannot be unmounted{held}: {e}",
                    target.display()
                )));
            }
            tracing::warn!(target = %target.display(), "busy, unmounting again shortly{held}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Creates a target directory and its missing parents with `mode` (the
/// daemon runs with umask 0, so a plain `create_dir_all` would make them 0777).
pub fn create_target(target: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(target)
        .map_err(Error::io(format!(
            "cannot create target directory '{}'",
            target.display()
        )))
}

/// The backend for a definition.
pub fn for_def(def: &PoolDef) -> Result<Box<dyn PoolBackend>> {
    match def {
        PoolDef::Dir { target } => Ok(Box::new(DirBackend::new(target.clone()))),
        PoolDef::Fs {
            source,
            format,
            target,
        } => Ok(Box::new(FsBackend::new(
            source.clone(),
            format.clone(),
            target.clone(),
        ))),
        PoolDef::Block { source } => Ok(Box::new(BlockBackend::new(source.clone()))),
        PoolDef::Rbd {
            source,
            pool,
            namespace,
            user,
            keyring,
            key,
            conf,
            timeout,
        } => Ok(Box::new(rbd::RbdBackend::new(rbd::RbdSource {
            source: source.clone(),
            pool: pool.clone(),
            namespace: namespace.clone(),
            user: user.clone(),
            keyring: keyring.clone(),
            key: key.clone(),
            conf: conf.clone(),
            timeout: *timeout,
        }))),
        PoolDef::Netfs {
            source,
            target,
            client,
            version,
            port,
            mount_port,
            timeout,
            cache,
            nconnect,
        } => Ok(Box::new(netfs::NetfsBackend::new(
            source.clone(),
            // Validation: only a userspace pool may have none, and it uses none.
            target.clone().unwrap_or_default(),
            client.as_deref(),
            commands::NfsOptions {
                version: version.clone(),
                port: *port,
                timeout: *timeout,
                cache: *cache,
                nconnect: *nconnect,
            },
            *mount_port,
        ))),
    }
}
