//! Part of `PoolFs`: which volumes are being wiped (opens are refused
//! meanwhile) and how each volume's last wipe went (its `wipe` file).
//!
//! Lock order: `busy` is taken before the pool lock and the handle table
//! (an open registers under it, so no open slips in as a wipe starts);
//! `status` is taken alone.

use std::collections::{HashMap, HashSet};

use parking_lot::Mutex;

use crate::control::volume::WipeStatus;
use crate::error::{Error, Result};

#[derive(Debug, Default)]
pub struct Wipes {
    busy: Mutex<HashSet<u64>>,
    status: Mutex<HashMap<u64, WipeStatus>>,
}

impl Wipes {
    /// Runs `open` (the registration of an open of volume `ino` at `path`)
    /// unless the volume is being wiped.
    pub fn open_unless_wiping<T>(
        &self,
        ino: u64,
        path: &str,
        open: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let busy = self.busy.lock();
        if busy.contains(&ino) {
            return Err(Error::Busy(format!("volume '{path}' is being wiped")));
        }
        open()
    }

    /// Marks volume `ino` as being wiped, unless it is already or `opens()`
    /// (counted under the lock) says it is open.
    pub fn begin(&self, ino: u64, path: &str, opens: impl FnOnce() -> usize) -> Result<()> {
        let mut busy = self.busy.lock();
        if busy.contains(&ino) {
            return Err(Error::Busy(format!(
                "volume '{path}' is already being wiped"
            )));
        }
        if opens() > 0 {
            return Err(Error::Busy(format!(
                "volume '{path}' is open; close it before wiping it"
            )));
        }
        busy.insert(ino);
        Ok(())
    }

    /// The wipe of `ino` ended (opens are allowed again).
    pub fn end(&self, ino: u64) {
        self.busy.lock().remove(&ino);
    }

    pub fn set_status(&self, ino: u64, st: WipeStatus) {
        self.status.lock().insert(ino, st);
    }

    /// What the `wipe` file of `ino` shows.
    pub fn status(&self, ino: u64) -> WipeStatus {
        self.status
            .lock()
            .get(&ino)
            .cloned()
            .unwrap_or(WipeStatus::None)
    }

    /// Volume `ino` is gone: its last wipe is forgotten.
    pub fn forget(&self, ino: u64) {
        self.status.lock().remove(&ino);
    }
}
