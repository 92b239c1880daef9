//! NFSv4.1 locks of one file, held for the kernel's lock owners, and the
//! fencing that stops I/O once they may be another host's.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use nix::errno::Errno;
use parking_lot::Mutex;

use super::client::{Client, Locked};
use super::shared::FileShared;
use crate::error::{Error, Result};
use crate::store::{LockRange, RemoteLocks};

/// The NFSv4.1 locks this daemon holds on one file: one NFS lock owner per
/// kernel lock owner (BSD locks are whole-file locks of owners of their
/// own), each with the stateid of its newest LOCK, and the file open over
/// NFSv4 while any owner holds one (LOCK needs an open).
///
/// Fencing: the locks are ours while the server keeps our lease. Once the
/// server has been out of reach for longer than `Client::lock_horizon`, it
/// may have given them to another host: from then on, reads and writes of
/// the file from here fail with `EIO` until every owner let go, so this
/// host never writes what another host locked meanwhile.
#[derive(Debug)]
pub(super) struct NfsLocks {
    pub(super) client: Arc<Client>,
    pub(super) fh: Bytes,
    /// Where the file is in the export (for the NFSv4 OPEN).
    pub(super) path: Mutex<String>,
    pub(super) state: Mutex<LockState>,
    /// The file's state here: a lock taken is a change (see `readahead`).
    pub(super) file: Arc<FileShared>,
}

#[derive(Debug, Default)]
pub(super) struct LockState {
    owners: HashMap<(u64, bool), Bytes>,
    /// The client's lease lapses when the first lock was taken.
    lapses: u64,
    /// Lost to a lapse: I/O fails until every owner let go.
    lost: bool,
}

fn lost_locks(server: &str) -> Error {
    Error::Sys {
        what: format!(
            "the locks on this volume were lost: the NFS server {server} was out of reach for longer than its lease, so another host may hold them now; close the volume and open it again"
        ),
        errno: Errno::EIO,
    }
}

/// NFS offset and length (`u64::MAX`: to the end) of a lock range.
fn nfs_range(r: &LockRange) -> (u64, u64) {
    let length = if r.end >= i64::MAX as u64 {
        u64::MAX
    } else {
        r.end.saturating_sub(r.start) + 1
    };
    (r.start, length)
}

fn owner_name(owner: u64, bsd: bool) -> Vec<u8> {
    format!("poolfs-{owner:016x}-{}", if bsd { "bsd" } else { "posix" }).into_bytes()
}

impl NfsLocks {
    /// The locks were lost (see `check`).
    pub(super) fn is_lost(&self) -> bool {
        self.state.lock().lost
    }

    /// `Err(EIO)` once the locks held here may be another host's.
    pub(super) fn check(&self) -> Result<()> {
        let mut st = self.state.lock();
        if st.lost {
            return Err(lost_locks(self.client.server()));
        }
        if st.owners.is_empty() {
            return Ok(());
        }
        let (lapses, lapsed_now) = self.client.lease_lapses();
        if !st.lost && (lapses != st.lapses || lapsed_now) {
            st.lost = true;
            tracing::error!(
                server = %self.client.server(),
                path = %self.path.lock(),
                "locks lost (lease not renewed in time): I/O on this volume fails until it is closed"
            );
        }
        if st.lost {
            return Err(lost_locks(self.client.server()));
        }
        Ok(())
    }
}

impl RemoteLocks for NfsLocks {
    fn set(&self, owner: u64, bsd: bool, r: LockRange) -> Result<()> {
        self.check()?;
        let name = owner_name(owner, bsd);
        let (offset, length) = nfs_range(&r);
        let held = self.state.lock().owners.get(&(owner, bsd)).cloned();
        if r.typ == libc::F_UNLCK {
            return match held {
                Some(sid) => self.client.unlock(&self.fh, &sid, offset, length),
                None => Ok(()),
            };
        }
        // No lock held across the round trips.
        if held.is_none() {
            let path = self.path.lock().clone();
            self.client.open_for_locks(&path)?;
        }
        let write = r.typ == libc::F_WRLCK;
        let got = self.client.lock(&self.fh, &name, write, offset, length);
        match got {
            Ok(Locked::Granted(sid)) => {
                let mut st = self.state.lock();
                if st.owners.is_empty() {
                    st.lapses = self.client.lease_lapses().0;
                }
                st.owners.insert((owner, bsd), sid);
                // What the previous holder wrote must show: nothing read
                // ahead before the lock is served.
                self.file.changed();
                Ok(())
            }
            Ok(Locked::Denied) | Err(_) => {
                if held.is_none() {
                    self.client.close_for_locks(&self.fh);
                }
                got.and(Err(Error::Os {
                    op: "lock",
                    errno: Errno::EAGAIN,
                }))
            }
        }
    }

    fn free(&self, owner: u64, r: LockRange) -> Result<bool> {
        let (offset, length) = nfs_range(&r);
        self.client.lock_free(
            &self.fh,
            &owner_name(owner, false),
            r.typ == libc::F_WRLCK,
            offset,
            length,
        )
    }

    fn lost(&self) {
        self.state.lock().lost = true;
    }

    fn drop_owner(&self, owner: u64, bsd: bool) {
        let sid = {
            let mut st = self.state.lock();
            let sid = st.owners.remove(&(owner, bsd));
            if st.owners.is_empty() {
                // A fresh start for the next lock.
                st.lost = false;
            }
            sid
        };
        if let Some(sid) = sid {
            if let Err(e) = self.client.unlock(&self.fh, &sid, 0, u64::MAX) {
                tracing::debug!("unlocking at close: {e}");
            }
            self.client.close_for_locks(&self.fh);
        }
    }
}
