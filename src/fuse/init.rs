//! The INIT handshake: what poolfs asks the kernel for, and what it does
//! without when the kernel lacks it.

use fuser::{InitFlags, KernelConfig};

use super::{FuseAdapter, MAX_WRITE};
use crate::config::{IoMode, Transport};

impl FuseAdapter {
    /// Negotiates the session's capabilities with the kernel.
    pub(super) fn negotiate(&mut self, config: &mut KernelConfig) -> std::io::Result<()> {
        // Larger requests mean fewer round trips for sequential I/O.
        let _ = config.set_max_write(MAX_WRITE as u32);
        let _ = config.set_max_readahead(super::MAX_READAHEAD);
        let _ = config.set_max_background(64);
        // File handles (open_by_handle_at, an NFS re-export) keep working
        // after the kernel forgot a node: it asks for "." and ".." by number.
        if config
            .add_capabilities(InitFlags::FUSE_EXPORT_SUPPORT)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_EXPORT_SUPPORT: file handles last only while cached"
            );
        }
        // The daemon clears set-id bits itself (on writes flagged by the
        // kernel, and on truncation by unprivileged callers); in exchange the
        // kernel marks the superblock SB_NOSEC and stops asking for
        // security.capability before every write.
        if config
            .add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2)
            .is_err()
        {
            tracing::info!("kernel without FUSE_HANDLE_KILLPRIV_V2: writes cost a getxattr each");
        }
        // Asynchronous direct I/O (libaio, io_uring, qemu's aio=native) is
        // sent as it is submitted instead of one request at a time: without
        // it a QD16 O_DIRECT reader is served at QD1.
        if config.add_capabilities(InitFlags::FUSE_ASYNC_DIO).is_err() {
            tracing::info!(
                "kernel without FUSE_ASYNC_DIO: asynchronous direct I/O is served one request at a time"
            );
        }
        // Lookups and listings of one directory may run at once (the
        // kernel still serialises changes to it). The core holds no lock
        // per directory; a lookup that waits on an NFS server no longer
        // holds up every other lookup in its directory.
        if config
            .add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_PARALLEL_DIROPS: lookups in one directory run one at a time"
            );
        }
        // A listing followed by lookups of its entries (`ls -l`, `find
        // -size`) gets their attributes with the listing: one round trip per
        // page of entries instead of one per entry. Auto: the kernel asks for
        // them only when it sees the entries looked up after a listing.
        if config
            .add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_DO_READDIRPLUS: every entry listed is looked up on its own"
            );
        }
        // Locks are served here, on the backing files (`core::locks`): they
        // then hold against processes using the backing files directly.
        for cap in [InitFlags::FUSE_POSIX_LOCKS, InitFlags::FUSE_FLOCK_LOCKS] {
            if config.add_capabilities(cap).is_err() {
                tracing::info!("kernel without {cap:?}: such locks hold on this mount only");
            }
        }
        if self.io != IoMode::Daemon {
            let root = nix::unistd::geteuid().is_root();
            match config.add_capabilities(InitFlags::FUSE_PASSTHROUGH) {
                Ok(()) if root => {
                    // Backing files on a plain filesystem; poolfs itself may be
                    // stacked under one more layer.
                    let _ = config.set_max_stack_depth(1);
                    self.passthrough = true;
                }
                _ if self.io == IoMode::Passthrough => {
                    return Err(std::io::Error::other(
                        "kernel FUSE passthrough is not available (needs Linux 6.9+ and root)",
                    ));
                }
                _ => tracing::info!(
                    "kernel FUSE passthrough not available: the daemon serves volume I/O"
                ),
            }
        }
        self.core.set_io_passthrough(self.passthrough);
        let uring = match self.transport {
            Transport::Uring => {
                if config
                    .add_capabilities(InitFlags::FUSE_OVER_IO_URING)
                    .is_err()
                {
                    return Err(std::io::Error::other(
                        "the kernel does not offer FUSE-over-io_uring (needs Linux 6.14+ with /sys/module/fuse/parameters/enable_uring set)",
                    ));
                }
                true
            }
            Transport::Auto | Transport::Devfuse => false,
        };
        self.core.set_io_uring(uring);
        tracing::info!(
            passthrough = self.passthrough,
            transport = if uring { "io_uring" } else { "/dev/fuse" },
            "FUSE session initialised"
        );
        Ok(())
    }
}
