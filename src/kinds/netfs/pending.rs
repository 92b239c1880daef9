//! What the opens of one file on this host wrote and the server has not
//! committed yet, kept for a replay.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use nfs_rs::WriteOutcome;
use parking_lot::Mutex;

/// What the opens of one file wrote since its last COMMIT: every piece
/// with the server's acknowledgement, in the order the server acknowledged
/// them (two overlapping writes are never in flight at once: `Behind`), so
/// a later piece holds the newer data. The data is kept until a COMMIT
/// covers it, so a server that restarted in between (a changed write
/// verifier: it may have lost UNSTABLE data) gets it again, as the kernel's
/// NFS client does; one list per file, not per open, so no open sends its
/// older data again over what another open wrote after it. Bounded: past
/// `REPLAY_LIMIT` bytes a COMMIT goes behind the writers' backs, past
/// `REPLAY_MOST` a write waits for one.
#[derive(Debug, Default)]
pub struct Pending {
    writes: Mutex<Writes>,
    /// One COMMIT of the file at a time (taken before `writes`; held
    /// across the COMMIT's calls, which have the pool's timeout).
    pub(super) committing: Mutex<()>,
    /// A COMMIT behind the writer's back is under way (at most one).
    pub(super) behind: AtomicBool,
    /// For a file whose opens were taken over from a crashed server: the write verifier of
    /// the writes that server may have left uncommitted (their data died
    /// with it). The next commit sends a COMMIT for them; a changed
    /// verifier means the NFS server may have lost them: `EIO`, once.
    pub(super) inherited: Mutex<Option<[u8; 8]>>,
}

/// Written pieces in order, and their total size.
#[derive(Debug, Default)]
struct Writes {
    list: Vec<(u64, Bytes, WriteOutcome)>,
    bytes: usize,
}

pub(super) type Piece = (u64, Bytes, WriteOutcome);

impl Pending {
    /// An open of this file continues one of a crashed server whose unstable writes
    /// had write verifier `v` (a note it journaled).
    pub fn inherit(&self, note: &[u8]) {
        if let Ok(v) = <[u8; 8]>::try_from(note) {
            *self.inherited.lock() = Some(v);
        }
    }

    /// Adds pieces at the end (`front`: before the others); returns the
    /// bytes now kept.
    pub(super) fn add(&self, pieces: Vec<Piece>, front: bool) -> usize {
        let mut g = self.writes.lock();
        g.bytes += pieces.iter().map(|(_, b, _)| b.len()).sum::<usize>();
        if front {
            g.list.splice(0..0, pieces);
        } else {
            g.list.extend(pieces);
        }
        g.bytes
    }

    /// The bytes kept.
    pub(super) fn bytes(&self) -> usize {
        self.writes.lock().bytes
    }

    pub(super) fn snapshot(&self) -> Vec<Piece> {
        self.writes.lock().list.clone()
    }

    /// Forgets the first `n` writes (a COMMIT covered them).
    pub(super) fn settle(&self, n: usize) {
        let mut g = self.writes.lock();
        let n = n.min(g.list.len());
        let gone: usize = g.list.drain(..n).map(|(_, b, _)| b.len()).sum();
        g.bytes = g.bytes.saturating_sub(gone);
    }
}

/// What `pieces` (in the order written) leave in the file: the newest data
/// of each byte they cover, as ranges that do not overlap, so they may be
/// sent again all at once (the server applies WRITEs in flight in any
/// order).
pub(super) fn newest(pieces: &[Piece]) -> Vec<(u64, Bytes)> {
    let mut map: BTreeMap<u64, Bytes> = BTreeMap::new();
    for (off, data, _) in pieces {
        let (off, end) = (*off, *off + data.len() as u64);
        // The ranges kept that this piece overlaps: they start before its end
        // and end after its start.
        let hit: Vec<u64> = map
            .range(..end)
            .rev()
            .take_while(|(s, b)| **s + b.len() as u64 > off)
            .map(|(s, _)| *s)
            .collect();
        for s in hit {
            let Some(b) = map.remove(&s) else { continue };
            let e = s + b.len() as u64;
            if s < off {
                map.insert(s, b.slice(..(off - s) as usize));
            }
            if e > end {
                map.insert(end, b.slice((end - s) as usize..));
            }
        }
        if !data.is_empty() {
            map.insert(off, data.clone());
        }
    }
    map.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(off: u64, byte: u8, len: usize) -> Piece {
        (
            off,
            Bytes::from(vec![byte; len]),
            WriteOutcome::new(len as u32, nfs_rs::WriteCommitted::Unstable, None),
        )
    }

    /// The file `pieces` write over zeros, byte by byte.
    fn apply(pieces: &[(u64, Bytes)], len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len];
        for (o, b) in pieces {
            f[*o as usize..*o as usize + b.len()].copy_from_slice(b);
        }
        f
    }

    #[test]
    fn newest_keeps_the_last_data_of_each_byte_in_ranges_that_do_not_overlap() {
        let written = [
            piece(0, 1, 100),
            piece(50, 2, 100),
            piece(20, 3, 10),
            piece(300, 4, 10),
            piece(0, 5, 5),
            piece(290, 6, 30),
            piece(120, 7, 0),
        ];
        let mut want = vec![0u8; 400];
        for (o, b, _) in &written {
            want[*o as usize..*o as usize + b.len()].copy_from_slice(b);
        }
        let kept = newest(&written);
        assert_eq!(apply(&kept, 400), want);
        for w in kept.windows(2) {
            assert!(w[0].0 + w[0].1.len() as u64 <= w[1].0, "{kept:?}");
        }
        let bytes: usize = kept.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(bytes, 150 + 30, "{kept:?}");
    }
}
