//! Read-ahead for one open of a userspace NFS volume.
//!
//! The file is read ahead in aligned chunks of the server's read size (at
//! most 1 MiB): a request that continues an earlier one (it starts where
//! one of the last `STREAMS` requests ended) or falls in a chunk already
//! asked for is served from the chunks, and the `AHEAD` chunks after it are
//! asked for at once, so the server works on the next megabytes while the
//! kernel's 128 KiB requests are answered from those that came back.
//! Several readers of one open (qemu's parallel requests, each reading its
//! own stretch) share the chunks. A request that continues nothing is read
//! as it is asked.
//!
//! Coherence, the same as without it (see docs/backends.md, close-to-open):
//! the chunks belong to one open, so a new open never sees data read before
//! it; a chunk is not served once older than the pool's `cache` time (with
//! `cache = 0` nothing is read ahead), nor once a change made from this
//! host reached the server or a lock was taken since it was asked for
//! (`FileShared::changes`). Memory: a chunk is dropped once every byte of
//! it was served (and is not asked for again as a chunk ahead while it
//! would have been fresh: `store::passed`), an open keeps at most
//! `KEEP` chunks (the oldest go), and all opens together at most `BUDGET`
//! bytes; past it, reads are read as asked.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;

use super::client::{Client, Fetch};
use crate::error::Result;
use crate::store::passed::Passed;

/// Chunks asked for past a request that continues another.
const AHEAD: u64 = 4;

/// The largest chunk.
const CHUNK: u32 = 1 << 20;

/// Request ends remembered, to tell a continuing request.
const STREAMS: usize = 16;

/// Chunks one open keeps.
const KEEP: usize = 64;

/// Bytes all opens' chunks may hold together.
const BUDGET: usize = 256 << 20;

/// Bytes asked for by every open's chunks now.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// One open's read-ahead. Its lock is held only to plan (no NFS call waits
/// under it: READs are sent on the runtime and awaited after); inside it
/// only the client's `down` lock is taken.
#[derive(Debug, Default)]
pub struct ReadAhead {
    /// Shared with the reads under way (a failed one empties it).
    w: Arc<Mutex<Window>>,
}

#[derive(Debug)]
struct Window {
    /// Where the last requests ended, newest last.
    ends: VecDeque<u64>,
    /// Chunks asked for, by index (offset / chunk size).
    chunks: BTreeMap<u64, Chunk>,
    /// Chunks (by index) served whole: at most `KEEP`.
    passed: Passed,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            ends: VecDeque::new(),
            chunks: BTreeMap::new(),
            passed: Passed::new(KEEP),
        }
    }
}

#[derive(Debug)]
struct Chunk {
    len: u32,
    /// When it was sent, and the file's change count then.
    at: Instant,
    changes: u64,
    /// Bytes of it served so far.
    served: u64,
    fetch: Fetch,
}

impl Drop for Chunk {
    fn drop(&mut self) {
        HELD.fetch_sub(self.len as usize, Ordering::Relaxed);
    }
}

impl ReadAhead {
    /// Reads up to `len` bytes at `off` of file `fh` (short only at its
    /// end); `changes` is the file's change count now. The READs are sent
    /// now; the future (awaited on `c`'s runtime: `Client::wait` or
    /// `Client::complete`) gathers their answers.
    pub fn read(
        &self,
        c: &Arc<Client>,
        fh: &Bytes,
        changes: u64,
        off: u64,
        len: usize,
    ) -> impl Future<Output = Result<Bytes>> + Send + 'static {
        let plan = self.plan(c, fh, changes, off, len);
        let (c, fh, w) = (c.clone(), fh.clone(), self.w.clone());
        async move {
            let Some(parts) = plan else {
                return c.read_async(&fh, off, len).await;
            };
            let asked: Vec<(u64, u32)> = parts.iter().map(|(o, l, _)| (*o, *l)).collect();
            let got = match c
                .fetched(parts.into_iter().map(|(_, _, f)| f).collect())
                .await
            {
                Ok(g) => g,
                Err(e) => {
                    // Nothing failed is kept: the next request asks again.
                    w.lock().chunks.clear();
                    return Err(e);
                }
            };
            Ok(gather(&asked, got, off, len))
        }
    }

    /// The chunks that hold [off, off + len), asking for those missing and
    /// the `AHEAD` after them; `None` to read it as asked.
    fn plan(
        &self,
        c: &Arc<Client>,
        fh: &Bytes,
        changes: u64,
        off: u64,
        len: usize,
    ) -> Option<Vec<(u64, u32, Fetch)>> {
        let cache = c.cache_time();
        let size = chunk_size(c.max_read());
        let end = off + len as u64;
        let (first, last) = (off / size, end.saturating_sub(1) / size);
        let now = Instant::now();
        let mut w = self.w.lock();
        w.chunks
            .retain(|_, k| k.changes == changes && now.duration_since(k.at) < cache);
        w.passed.expire(changes, cache, now);
        let continues = w.ends.contains(&off) || w.chunks.contains_key(&first);
        if w.ends.len() == STREAMS {
            w.ends.pop_front();
        }
        w.ends.push_back(end);
        if !continues || cache.is_zero() || len == 0 || c.down().is_some() {
            return None;
        }
        for i in first..=last + AHEAD {
            if w.chunks.contains_key(&i) || i > last && w.passed.contains(i) {
                continue;
            }
            if w.chunks.len() >= KEEP {
                let oldest = w
                    .chunks
                    .iter()
                    .filter(|(j, _)| **j < first || **j > last)
                    .min_by_key(|(_, k)| k.at)
                    .map(|(j, _)| *j);
                match oldest {
                    Some(j) => w.chunks.remove(&j),
                    None => break,
                };
            }
            if HELD.fetch_add(size as usize, Ordering::Relaxed) + size as usize > BUDGET {
                HELD.fetch_sub(size as usize, Ordering::Relaxed);
                break;
            }
            let fetch = c.read_soon(fh, i * size, size as u32);
            w.chunks.insert(
                i,
                Chunk {
                    len: size as u32,
                    at: now,
                    changes,
                    served: 0,
                    fetch,
                },
            );
        }
        let mut parts = Vec::new();
        for i in first..=last {
            let k = w.chunks.get_mut(&i)?;
            let (start, stop) = (i * size, (i + 1) * size);
            k.served += end.min(stop) - off.max(start);
            parts.push((start, k.len, k.fetch.clone()));
            // Served whole: not needed again.
            if k.served >= u64::from(k.len) {
                let at = k.at;
                w.chunks.remove(&i);
                w.passed.note(i, changes, at);
            }
        }
        Some(parts)
    }
}

/// The bytes of [off, off + len) out of the chunks `asked` (offset, length)
/// and their answers `got`: one chunk's own buffer where it holds them all.
fn gather(asked: &[(u64, u32)], got: Vec<Bytes>, off: u64, len: usize) -> Bytes {
    let end = off + len as u64;
    let mut whole: Option<Bytes> = None;
    let mut out: Option<BytesMut> = None;
    for ((o, l), data) in asked.iter().zip(got) {
        let from = (off.saturating_sub(*o) as usize).min(data.len());
        let to = ((end - o) as usize).min(data.len()).max(from);
        let piece = data.slice(from..to);
        match (&mut whole, &mut out) {
            (None, _) => whole = Some(piece),
            (Some(first), None) => {
                let mut b = BytesMut::with_capacity(len);
                b.extend_from_slice(first);
                b.extend_from_slice(&piece);
                out = Some(b);
            }
            (Some(_), Some(b)) => b.extend_from_slice(&piece),
        }
        // A short READ is the end of the file.
        if data.len() < *l as usize {
            break;
        }
    }
    match out {
        Some(b) => b.freeze(),
        None => whole.unwrap_or_default(),
    }
}

/// The chunk size for a server's read size: the largest power of two up to
/// it (requests are aligned, so chunks are), at most `CHUNK`.
fn chunk_size(max_read: u32) -> u64 {
    let m = max_read.clamp(4096, CHUNK);
    1u64 << (31 - m.leading_zeros())
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_up_to_the_read_size() {
        assert_eq!(super::chunk_size(1 << 20), 1 << 20);
        assert_eq!(super::chunk_size((1 << 20) - 4096), 512 << 10);
        assert_eq!(super::chunk_size(4 << 20), 1 << 20);
        assert_eq!(super::chunk_size(1000), 4096);
    }
}
