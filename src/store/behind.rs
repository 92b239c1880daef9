//! Writes of one file sent to its backend (an NFS server, a Ceph cluster)
//! and not answered yet (write behind): a write is answered once it is
//! sent and parked (`journal::spill`), so the next one need not wait for
//! the backend.
//!
//! Rules: at most `WINDOW` bytes are in flight per file; a write that
//! overlaps one in flight waits for it (the server may apply two WRITEs in
//! any order); whatever reads or changes the file otherwise waits for all
//! of them first (`settle`), so this host always sees its own writes; that
//! wait is bounded by the pool's timeout (then `EIO`, while the writes stay
//! parked and go on being sent). A failure the server answered (`ENOSPC`,
//! `ESTALE`) is reported as Linux reports a failed writeback (`errseq`):
//! once to each open of the file that was open when it happened, by that
//! open's next write, fsync or close (`drain`); an open made after it never
//! sees it. Each open keeps the count of failures it has seen (`seen`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};

/// Bytes in flight per file.
const WINDOW: u64 = 8 << 20;

#[derive(Debug)]
pub struct Behind {
    st: Mutex<St>,
    cv: Condvar,
    /// What the writes wait for, in messages ("the NFS server").
    backend: &'static str,
}

#[derive(Debug, Default)]
struct St {
    /// The ranges in flight.
    flying: Vec<(u64, u64)>,
    bytes: u64,
    /// Failures so far, and the last one's errno and message.
    failures: u64,
    last: Option<(Errno, String)>,
    /// Every write of the file waits (`hold_all`).
    held: bool,
}

impl St {
    /// [start, end) may be sent now: the window has room (or nothing is in
    /// flight) and no write in flight overlaps it.
    fn room_for(&self, start: u64, end: u64) -> bool {
        if self.held {
            return false;
        }
        let overlaps = self.flying.iter().any(|&(s, e)| s < end && start < e);
        !overlaps && (self.bytes == 0 || self.bytes + (end - start) <= WINDOW)
    }

    fn take(&mut self, start: u64, end: u64) {
        self.flying.push((start, end));
        self.bytes += end - start;
    }

    /// The last failure, once to an open that has not seen it; `seen` is
    /// that open's count.
    fn report(&self, seen: &AtomicU64, backend: &str) -> Result<()> {
        if self.failures <= seen.load(Ordering::Relaxed) {
            return Ok(());
        }
        seen.store(self.failures, Ordering::Relaxed);
        let (errno, why) = self.last.clone().unwrap_or((Errno::EIO, String::new()));
        Err(Error::Sys {
            what: format!(
                "a write to this volume failed at {backend} after it was answered ({why})"
            ),
            errno,
        })
    }
}

impl Behind {
    pub fn new(backend: &'static str) -> Behind {
        Behind {
            st: Mutex::default(),
            cv: Condvar::new(),
            backend,
        }
    }

    /// The failures so far: where an open starts counting (`seen`).
    pub fn failures(&self) -> u64 {
        self.st.lock().failures
    }

    /// Counts [start, end) in flight once the window has room and no write
    /// in flight overlaps it, waiting for at most `within` (the pool's
    /// timeout; then `EIO`); a failure the open (`seen`) has not seen is
    /// returned instead.
    pub fn admit(&self, start: u64, end: u64, within: Duration, seen: &AtomicU64) -> Result<()> {
        let deadline = Instant::now() + within;
        let mut st = self.st.lock();
        loop {
            st.report(seen, self.backend)?;
            if st.room_for(start, end) {
                break;
            }
            if self.cv.wait_until(&mut st, deadline).timed_out() {
                return Err(still_waiting(st.bytes, self.backend));
            }
        }
        st.take(start, end);
        Ok(())
    }

    /// `admit` if it need not wait: false when the window is full, a
    /// write in flight overlaps [start, end), or the open (`seen`) has a
    /// failure to be told (the caller then goes through `admit`, which
    /// waits or reports).
    pub fn try_admit(&self, start: u64, end: u64, seen: &AtomicU64) -> bool {
        let mut st = self.st.lock();
        if st.failures > seen.load(Ordering::Relaxed) || !st.room_for(start, end) {
            return false;
        }
        st.take(start, end);
        true
    }

    /// The write of [start, end) was answered (`failed`: with an error).
    pub fn done(&self, start: u64, end: u64, failed: Option<Error>) {
        let mut st = self.st.lock();
        if let Some(i) = st.flying.iter().position(|&r| r == (start, end)) {
            st.flying.swap_remove(i);
            st.bytes -= end - start;
        }
        if let Some(e) = failed {
            st.failures += 1;
            st.last = Some((e.errno(), e.to_string()));
        }
        self.cv.notify_all();
    }

    /// The end of the furthest write in flight (0: none): a file is at
    /// least this long to its writers.
    pub fn end(&self) -> u64 {
        self.st
            .lock()
            .flying
            .iter()
            .map(|&(_, e)| e)
            .max()
            .unwrap_or(0)
    }

    /// No write is in flight.
    pub fn idle(&self) -> bool {
        self.st.lock().flying.is_empty()
    }

    /// Waits until no write is in flight, for at most `within` (the pool's
    /// timeout): a write still waiting for the server then is `EIO` here;
    /// it stays parked and is sent once the server answers.
    pub fn settle(&self, within: Duration) -> Result<()> {
        self.wait(within, None)
    }

    /// `settle`, then reports a failure the open (`seen`) has not seen.
    pub fn drain(&self, within: Duration, seen: &AtomicU64) -> Result<()> {
        self.wait(within, Some(seen))
    }

    /// Waits until no write is in flight (as `settle`) and holds every new
    /// one back until the returned guard goes: what the file's writes
    /// acknowledged is then all there is, and nothing overtakes what the
    /// holder sends (a replay after the server restarted).
    pub fn hold_all(&self, within: Duration) -> Result<AllHeld<'_>> {
        let deadline = Instant::now() + within;
        let mut st = self.st.lock();
        while st.held || !st.flying.is_empty() {
            if self.cv.wait_until(&mut st, deadline).timed_out()
                && (st.held || !st.flying.is_empty())
            {
                return Err(still_waiting(st.bytes, self.backend));
            }
        }
        st.held = true;
        Ok(AllHeld(self))
    }

    fn wait(&self, within: Duration, seen: Option<&AtomicU64>) -> Result<()> {
        let deadline = Instant::now() + within;
        let mut st = self.st.lock();
        while !st.flying.is_empty() {
            if self.cv.wait_until(&mut st, deadline).timed_out() && !st.flying.is_empty() {
                return Err(still_waiting(st.bytes, self.backend));
            }
        }
        seen.map_or(Ok(()), |seen| st.report(seen, self.backend))
    }
}

/// The file's writes wait while this lives (`Behind::hold_all`).
#[must_use]
pub struct AllHeld<'a>(&'a Behind);

impl Drop for AllHeld<'_> {
    fn drop(&mut self) {
        self.0.st.lock().held = false;
        self.0.cv.notify_all();
    }
}

fn still_waiting(bytes: u64, backend: &str) -> Error {
    Error::Sys {
        what: format!(
            "{bytes} bytes written to this volume are still waiting for {backend} (they are sent when it answers)"
        ),
        errno: Errno::EIO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_admit_takes_only_what_needs_no_wait_and_leaves_failures_to_admit() {
        let b = Behind::new("the test");
        let seen = AtomicU64::new(0);
        assert!(b.try_admit(0, 4096, &seen));
        // Overlapping a write in flight: it would wait.
        assert!(!b.try_admit(0, 512, &seen));
        assert!(b.try_admit(4096, 8192, &seen));
        // The window full: it would wait.
        assert!(!b.try_admit(1 << 20, (1 << 20) + WINDOW, &seen));
        b.done(0, 4096, None);
        b.done(
            4096,
            8192,
            Some(Error::Os {
                op: "write",
                errno: Errno::ENOSPC,
            }),
        );
        assert!(b.idle());
        // A failure this open has not seen: left to `admit`, which reports it once.
        assert!(!b.try_admit(0, 4096, &seen));
        let e = b.admit(0, 4096, Duration::from_secs(1), &seen).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOSPC);
        // Reported, so taken now; and the window fills exactly.
        assert!(b.try_admit(0, 4096, &seen));
        assert!(b.try_admit(8192, 8192 + WINDOW - 4096, &seen));
        assert!(!b.try_admit(1 << 30, (1 << 30) + 1, &seen));
    }

    #[test]
    fn hold_all_waits_for_the_writes_in_flight_and_holds_back_new_ones() {
        let b = std::sync::Arc::new(Behind::new("the test"));
        let seen = AtomicU64::new(0);
        assert!(b.try_admit(0, 4096, &seen));
        // A write in flight: not within a short wait.
        let e = b.hold_all(Duration::from_millis(20)).err().unwrap();
        assert_eq!(e.errno(), Errno::EIO);
        let b2 = b.clone();
        let answer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            b2.done(0, 4096, None);
        });
        let held = b.hold_all(Duration::from_secs(5)).unwrap();
        answer.join().unwrap();
        // Nothing is admitted while held, not even far from the old write.
        assert!(!b.try_admit(1 << 20, (1 << 20) + 4096, &seen));
        assert!(
            b.admit(1 << 20, (1 << 20) + 4096, Duration::from_millis(20), &seen)
                .is_err()
        );
        drop(held);
        assert!(b.try_admit(1 << 20, (1 << 20) + 4096, &seen));
    }
}
