//! Writes of one file sent to the server and not answered yet (write
//! behind): a write is answered once it is sent, so the next one need not
//! wait for the server.
//!
//! Rules: at most `WINDOW` bytes are in flight per file; a write that
//! overlaps one in flight waits for it (the server may apply two WRITEs in
//! any order); whatever reads or changes the file otherwise waits for all
//! of them first (`settle`), so this host always sees its own writes. A
//! failure is kept and reported by the next write, fsync or close of the
//! file (`drain`), as a local filesystem reports a failed writeback.

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

/// Bytes in flight per file.
const WINDOW: u64 = 8 << 20;

#[derive(Debug, Default)]
pub(super) struct Behind {
    st: Mutex<St>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct St {
    /// The ranges in flight.
    flying: Vec<(u64, u64)>,
    bytes: u64,
    /// The first failure not reported yet.
    failed: Option<Error>,
}

impl Behind {
    /// Counts [start, end) in flight once the window has room and no write
    /// in flight overlaps it; a failure not reported yet is returned instead.
    pub(super) fn admit(&self, start: u64, end: u64) -> Result<()> {
        let mut st = self.st.lock();
        loop {
            if let Some(e) = st.failed.take() {
                return Err(e);
            }
            let overlaps = st.flying.iter().any(|&(s, e)| s < end && start < e);
            if !overlaps && (st.bytes == 0 || st.bytes + (end - start) <= WINDOW) {
                break;
            }
            self.cv.wait(&mut st);
        }
        st.flying.push((start, end));
        st.bytes += end - start;
        Ok(())
    }

    /// The write of [start, end) was answered (`failed`: with an error).
    pub(super) fn done(&self, start: u64, end: u64, failed: Option<Error>) {
        let mut st = self.st.lock();
        if let Some(i) = st.flying.iter().position(|&r| r == (start, end)) {
            st.flying.swap_remove(i);
            st.bytes -= end - start;
        }
        if st.failed.is_none() {
            st.failed = failed;
        }
        self.cv.notify_all();
    }

    /// No write is in flight.
    pub(super) fn idle(&self) -> bool {
        self.st.lock().flying.is_empty()
    }

    /// Waits until no write is in flight (each is bounded by the pool's
    /// timeout).
    pub(super) fn settle(&self) {
        let mut st = self.st.lock();
        while !st.flying.is_empty() {
            self.cv.wait(&mut st);
        }
    }

    /// `settle`, then reports the failure not reported yet.
    pub(super) fn drain(&self) -> Result<()> {
        let mut st = self.st.lock();
        while !st.flying.is_empty() {
            self.cv.wait(&mut st);
        }
        st.failed.take().map_or(Ok(()), Err)
    }
}
