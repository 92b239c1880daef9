//! Read-ahead for one open of an rbd volume.
//!
//! The kernel reads a file ahead in requests of its read-ahead size (128
//! KiB by default), one or two in flight, and each waits for a round trip
//! to the cluster. A read that continues an earlier one (it starts where
//! one of the last `STREAMS` reads ended: several readers of one open,
//! such as qemu-img's parallel requests, each read their own stretch) or
//! falls in a chunk already asked for is served from aligned chunks of
//! `CHUNK` bytes, and the `AHEAD` chunks after it are asked for at once
//! with librbd's aio, so the cluster works on the next megabytes while the
//! kernel's requests are answered from those that came back. A read that
//! continues nothing is read as asked.
//!
//! Coherence: a chunk is not served once this host changed the image
//! after it was asked for (`Vol::generation`), nor once older than
//! `FRESH` (the pool's cache time: what another host wrote shows within
//! it, as without read-ahead). Reads only come here while no write of this
//! host is in flight. Memory: a chunk goes once every byte of it was
//! served (and is not asked for again as a chunk ahead while it would
//! have been fresh: `store::passed`); an open keeps at most
//! `KEEP` chunks (the oldest go), all opens together at most `BUDGET`
//! bytes (past it, reads are read as asked).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nix::errno::Errno;
use parking_lot::Mutex;

use super::vol::Vol;
use crate::error::Error;
use crate::store::ReadDone;
use crate::store::passed::Passed;
use crate::volume::Data;

/// The size and alignment of a chunk: RBD's object size.
const CHUNK: u64 = 4 << 20;
/// Chunks asked for past the one a continuing read falls in.
const AHEAD: u64 = 4;
/// Read ends remembered, to tell a continuing read.
const STREAMS: usize = 16;
/// Chunks one open keeps.
const KEEP: usize = 12;
/// Chunks served whole one open remembers.
const PASSED: usize = 32;
/// How long a chunk may be served after it was asked for.
const FRESH: Duration = Duration::from_secs(1);
/// Bytes the chunks of every open may hold together.
const BUDGET: usize = 256 << 20;

static HELD: AtomicUsize = AtomicUsize::new(0);

/// One open's read-ahead.
#[derive(Debug)]
pub struct ReadAhead {
    st: Mutex<St>,
}

impl Default for ReadAhead {
    fn default() -> ReadAhead {
        ReadAhead {
            st: Mutex::new(St {
                ends: VecDeque::new(),
                chunks: VecDeque::new(),
                passed: Passed::new(PASSED),
            }),
        }
    }
}

#[derive(Debug)]
struct St {
    /// Where the last reads ended.
    ends: VecDeque<u64>,
    chunks: VecDeque<Arc<Chunk>>,
    /// Chunks (by start) that went once all of them was served.
    passed: Passed,
}

#[derive(Debug)]
struct Chunk {
    start: u64,
    len: u64,
    generation: u64,
    asked: Instant,
    /// Bytes of it served so far.
    served: AtomicU64,
    state: Mutex<State>,
}

enum State {
    /// In flight: the reads waiting for it (offset, length, reply).
    Waiting(Vec<(u64, usize, ReadDone)>),
    /// Done: the data, or why not (errno and message, for each read).
    Ready(std::result::Result<Bytes, (Errno, String)>),
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Waiting(w) => write!(f, "Waiting({})", w.len()),
            State::Ready(r) => write!(f, "Ready({:?})", r.as_ref().map(Bytes::len)),
        }
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        HELD.fetch_sub(self.len as usize, Ordering::Relaxed);
    }
}

impl Chunk {
    fn covers(&self, off: u64, end: u64) -> bool {
        self.start <= off && end <= self.start + self.len
    }

    fn usable(&self, vol: &Vol) -> bool {
        self.generation == vol.generation()
            && self.asked.elapsed() < FRESH
            && self.served.load(Ordering::Relaxed) < self.len
    }
}

/// Answers `done` with bytes [off, off + n) of a chunk's data.
fn answer(
    chunk_start: u64,
    data: &std::result::Result<Bytes, (Errno, String)>,
    off: u64,
    n: usize,
    done: ReadDone,
) {
    match data {
        Ok(b) => {
            let from = ((off - chunk_start) as usize).min(b.len());
            let to = (from + n).min(b.len());
            done(Ok(Data::Shared(b.slice(from..to))))
        }
        Err((errno, what)) => done(Err(Error::Sys {
            what: what.clone(),
            errno: *errno,
        })),
    }
}

impl ReadAhead {
    /// Serves a read of `n` bytes at `off` (within the image) from the
    /// chunks when it continues the previous read or falls in a chunk
    /// asked for; `done` comes back otherwise.
    pub fn read(
        &self,
        vol: &Arc<Vol>,
        size: u64,
        off: u64,
        n: usize,
        done: ReadDone,
    ) -> Option<ReadDone> {
        let end = off + n as u64;
        let mut st = self.st.lock();
        let continues = off > 0 && st.ends.contains(&off);
        st.ends.retain(|e| *e != off);
        if st.ends.len() >= STREAMS {
            st.ends.pop_front();
        }
        st.ends.push_back(end);
        let generation = vol.generation();
        let St { chunks, passed, .. } = &mut *st;
        chunks.retain(|c| {
            if c.usable(vol) {
                return true;
            }
            if c.served.load(Ordering::Relaxed) >= c.len {
                passed.note(c.start, c.generation, c.asked);
            }
            false
        });
        passed.expire(generation, FRESH, Instant::now());
        let found = st.chunks.iter().find(|c| c.covers(off, end)).cloned();
        if found.is_none() && !continues {
            return Some(done);
        }
        // The chunks from the one holding `off` to `AHEAD` past it.
        let first = off / CHUNK * CHUNK;
        let last = (first + AHEAD * CHUNK).min(size);
        let mut at = first;
        while at < last {
            let passed = at != first && st.passed.contains(at);
            if !passed && !st.chunks.iter().any(|c| c.start == at) {
                let len = CHUNK.min(size - at);
                if HELD.fetch_add(len as usize, Ordering::Relaxed) + len as usize > BUDGET {
                    HELD.fetch_sub(len as usize, Ordering::Relaxed);
                    break;
                }
                let chunk = Arc::new(Chunk {
                    start: at,
                    len,
                    generation: vol.generation(),
                    asked: Instant::now(),
                    served: AtomicU64::new(0),
                    state: Mutex::new(State::Waiting(Vec::new())),
                });
                if st.chunks.len() >= KEEP {
                    st.chunks.pop_front();
                }
                st.chunks.push_back(chunk.clone());
                let c = chunk;
                vol.image.aio_read(
                    at,
                    len as usize,
                    Box::new(move |r| {
                        let data = r.map(Bytes::from).map_err(|e| (e.errno(), e.to_string()));
                        let waiting =
                            std::mem::replace(&mut *c.state.lock(), State::Ready(data.clone()));
                        if let State::Waiting(w) = waiting {
                            for (o, n, done) in w {
                                answer(c.start, &data, o, n, done);
                            }
                        }
                    }),
                );
            }
            at += CHUNK;
        }
        let chunk = st.chunks.iter().find(|c| c.covers(off, end)).cloned();
        drop(st);
        let Some(chunk) = chunk else {
            // Past the budget, or across two chunks: read as asked.
            return Some(done);
        };
        chunk.served.fetch_add(n as u64, Ordering::Relaxed);
        // The reply is sent with no lock held.
        let ready = {
            let mut state = chunk.state.lock();
            match &mut *state {
                State::Waiting(w) => {
                    w.push((off, n, done));
                    return None;
                }
                State::Ready(data) => data.clone(),
            }
        };
        answer(chunk.start, &ready, off, n, done);
        None
    }
}
