//! Kernel-cache invalidations: queued by core, sent to the kernel by the
//! FUSE layer from a thread of its own, never from a request handler (no
//! deadlock on the directory locks the kernel holds while it waits for a
//! reply).

use std::ffi::OsString;
use std::sync::mpsc::{Sender, sync_channel};

use parking_lot::Mutex;

/// A kernel cache entry that no longer tells the truth.
#[derive(Debug, Clone)]
pub enum Inval {
    /// The name `name` in directory `parent`.
    Entry { parent: u64, name: OsString },
    /// The attributes and cached data of inode `ino` (changed behind the kernel).
    Inode { ino: u64 },
    /// Only the attributes of inode `ino` (its pages stay).
    Attr { ino: u64 },
    /// The attributes of inode `ino` and its cached pages of one range.
    Range { ino: u64, offset: u64, len: u64 },
    /// Names that changed behind poolfs's back (directory, name): every
    /// name the kernel cached is expired at once (`FUSE_NOTIFY_INC_EPOCH`),
    /// which takes no lock in the kernel, so it never waits for a process
    /// that holds a directory while it waits for this server; before Linux
    /// 6.16, each of these names is invalidated instead.
    Names(Vec<(u64, OsString)>),
}

/// An invalidation and, when the sender waits for it, where to say it is done.
#[derive(Debug)]
pub struct InvalRequest {
    pub inval: Inval,
    pub done: Option<std::sync::mpsc::SyncSender<()>>,
}

/// Longest wait for a synchronous invalidation.
const INVAL_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where invalidations go: unset until the kernel connection takes them.
#[derive(Debug, Default)]
pub struct Invalidator {
    tx: Mutex<Option<Sender<InvalRequest>>>,
}

impl Invalidator {
    /// Connects the channel the FUSE layer reads.
    pub fn connect(&self, tx: Sender<InvalRequest>) {
        *self.tx.lock() = Some(tx);
    }

    /// Queues an invalidation; it reaches the kernel shortly after.
    pub fn send(&self, i: Inval) {
        if let Some(tx) = self.tx.lock().as_ref() {
            let _ = tx.send(InvalRequest {
                inval: i,
                done: None,
            });
        }
    }

    /// Invalidates before returning (so a control request that changed a
    /// volume is visible when its `write(2)` returns). Waits at most
    /// `INVAL_WAIT`: a kernel that cannot take the notification now (it
    /// holds a lock while waiting for another request) never blocks this one.
    pub fn send_now(&self, i: Inval) {
        let (done_tx, done_rx) = sync_channel(1);
        let sent = self.tx.lock().as_ref().is_some_and(|tx| {
            tx.send(InvalRequest {
                inval: i,
                done: Some(done_tx),
            })
            .is_ok()
        });
        if sent {
            let _ = done_rx.recv_timeout(INVAL_WAIT);
        }
    }
}
