//! Writes answered to the kernel before their backend has them (a
//! userspace NFS pool's write-behind), parked in the journal's memfd so a
//! successor server sends them if this one dies first.
//!
//! The spill is `SLOTS` slots after the journal's two regions, each a
//! header page and up to `SLOT_DATA` bytes. A write is parked before it is
//! answered (data first, then the header that marks the slot full: each
//! one `pwrite`, so a server killed in between leaves a free slot and an
//! unanswered write, which the kernel sends again) and freed once the
//! backend has it (`Parked` dropped). A successor reads the full slots
//! (`Journal::take_parked`) and hands each to its pool's store
//! (`Store::adopt`) before it serves a request. When no slot is free the
//! store writes through, waiting for the backend.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use parking_lot::Mutex;

/// Slots for parked writes: the daemon's write-behind window.
pub const SLOTS: usize = 16;
/// The largest write a slot holds (a FUSE write is at most 1 MiB).
pub const SLOT_DATA: usize = 1 << 20;
const SLOT_HEAD: usize = 4096;
const SLOT: u64 = (SLOT_HEAD + SLOT_DATA) as u64;
/// The spill's size in the memfd.
pub(super) const BYTES: u64 = SLOTS as u64 * SLOT;
/// Header: full (u32 = 1), pool (u32), offset (u64), length (u32), key
/// length (u32), key.
const FIXED: usize = 24;
const FULL: u32 = 1;

/// The spill of one journal.
#[derive(Debug)]
pub struct Spill {
    file: File,
    /// Where the spill starts in `file`.
    at: u64,
    free: Mutex<Vec<usize>>,
}

/// A write parked in slot `slot`; the slot is freed when it is dropped.
#[derive(Debug)]
pub struct Parked {
    spill: Arc<Spill>,
    slot: usize,
}

/// A write a predecessor server parked.
#[derive(Debug)]
pub struct ParkedWrite {
    pub pool: u32,
    /// The store's name for the file (an NFS file handle).
    pub key: Vec<u8>,
    pub offset: u64,
    pub data: Vec<u8>,
    /// Its slot, kept full until the write is done.
    pub parked: Parked,
}

/// Where one pool's store parks writes.
#[derive(Debug, Clone)]
pub struct SpillSink {
    pub spill: Arc<Spill>,
    pub pool: u32,
}

impl SpillSink {
    /// Parks `data`, written at `offset` of file `key`; `None` when no slot
    /// is free, the write is too large or the memfd failed (then the
    /// caller waits for its backend).
    pub fn park(&self, key: &[u8], offset: u64, data: &[u8]) -> Option<Parked> {
        if data.len() > SLOT_DATA || key.len() > SLOT_HEAD - FIXED {
            return None;
        }
        let slot = self.spill.free.lock().pop()?;
        let start = self.spill.at + slot as u64 * SLOT;
        let mut head = Vec::with_capacity(FIXED + key.len());
        head.extend(FULL.to_le_bytes());
        head.extend(self.pool.to_le_bytes());
        head.extend(offset.to_le_bytes());
        head.extend((data.len() as u32).to_le_bytes());
        head.extend((key.len() as u32).to_le_bytes());
        head.extend(key);
        let parked = Parked {
            spill: self.spill.clone(),
            slot,
        };
        let f = &self.spill.file;
        match f
            .write_all_at(data, start + SLOT_HEAD as u64)
            .and_then(|()| f.write_all_at(&head, start))
        {
            Ok(()) => Some(parked),
            Err(e) => {
                tracing::warn!("journal: cannot park a write: {e}");
                None
            }
        }
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        let start = self.spill.at + self.slot as u64 * SLOT;
        if let Err(e) = self.spill.file.write_all_at(&0u32.to_le_bytes(), start) {
            // Left full, it would be sent again by a successor: harmless
            // (the same data at the same place), so the slot is reused.
            tracing::warn!("journal: cannot free a parked write's slot: {e}");
        }
        self.spill.free.lock().push(self.slot);
    }
}

impl Spill {
    /// The spill at `at` in `file`, and the writes parked there (their
    /// slots stay taken until they are dropped).
    pub(super) fn open(file: File, at: u64) -> (Arc<Spill>, Vec<ParkedWrite>) {
        let spill = Arc::new(Spill {
            file,
            at,
            free: Mutex::new(Vec::new()),
        });
        let mut parked = Vec::new();
        let mut free = Vec::new();
        for slot in (0..SLOTS).rev() {
            match spill.read_slot(slot) {
                Some((pool, key, offset, data)) => parked.push(ParkedWrite {
                    pool,
                    key,
                    offset,
                    data,
                    parked: Parked {
                        spill: spill.clone(),
                        slot,
                    },
                }),
                None => free.push(slot),
            }
        }
        *spill.free.lock() = free;
        (spill, parked)
    }

    /// The write parked in `slot`, if it is full.
    fn read_slot(&self, slot: usize) -> Option<(u32, Vec<u8>, u64, Vec<u8>)> {
        let start = self.at + slot as u64 * SLOT;
        let mut head = vec![0u8; SLOT_HEAD];
        self.file.read_exact_at(&mut head, start).ok()?;
        let u32_at = |i: usize| {
            head.get(i..i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        if u32_at(0)? != FULL {
            return None;
        }
        let pool = u32_at(4)?;
        let offset = u64::from_le_bytes(head.get(8..16)?.try_into().ok()?);
        let len = u32_at(16)? as usize;
        let key_len = u32_at(20)? as usize;
        let key = head.get(FIXED..FIXED.checked_add(key_len)?)?.to_vec();
        if len > SLOT_DATA {
            return None;
        }
        let mut data = vec![0u8; len];
        self.file
            .read_exact_at(&mut data, start + SLOT_HEAD as u64)
            .ok()?;
        Some((pool, key, offset, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parked_write_is_found_by_a_successor_until_it_is_done() {
        let file = crate::journal::memfd().unwrap();
        file.set_len(4096 + BYTES).unwrap();
        let (spill, none) = Spill::open(file.try_clone().unwrap(), 4096);
        assert!(none.is_empty());
        let sink = SpillSink { spill, pool: 7 };
        let a = sink.park(b"fh-a", 1 << 20, b"hello").unwrap();
        let b = sink.park(b"fh-b", 5, &[9u8; 4096]).unwrap();
        drop(a);
        let (spill2, found) = Spill::open(file.try_clone().unwrap(), 4096);
        assert_eq!(found.len(), 1);
        let w = &found[0];
        assert_eq!((w.pool, &w.key[..], w.offset), (7, &b"fh-b"[..], 5));
        assert_eq!(w.data, vec![9u8; 4096]);
        // Its slot stays taken in the successor until the write is done.
        assert_eq!(spill2.free.lock().len(), SLOTS - 1);
        drop(found);
        assert_eq!(spill2.free.lock().len(), SLOTS);
        drop(b);
        assert!(Spill::open(file, 4096).1.is_empty());
        // Too large for a slot: written through instead.
        assert!(sink.park(b"k", 0, &vec![0u8; SLOT_DATA + 1]).is_none());
    }
}
