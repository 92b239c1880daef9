//! What one open wrote and the server has not committed yet, kept for a
//! replay.

use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use nfs_rs::WriteOutcome;
use parking_lot::Mutex;

/// What one open wrote since its last COMMIT: every piece with the
/// server's acknowledgement. The data is kept until a COMMIT covers it, so a
/// server that restarted in between (a changed write verifier: it may have
/// lost UNSTABLE data) gets it again, as the kernel's NFS client does.
/// Bounded: past `REPLAY_LIMIT` bytes a COMMIT goes behind the writer's
/// back, past `REPLAY_MOST` a write waits for one.
#[derive(Debug, Default)]
pub struct Pending {
    writes: Mutex<Writes>,
    /// One COMMIT of this open at a time (taken before `writes`; held
    /// across the COMMIT's calls, which have the pool's timeout).
    pub(super) committing: Mutex<()>,
    /// A COMMIT behind the writer's back is under way (at most one).
    pub(super) behind: AtomicBool,
    /// For an open taken over from a crashed server: the write verifier of
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
    /// This open continues one of a crashed server whose unstable writes
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
