//! Writes answered to the kernel before their backend has them (a
//! userspace NFS pool's write-behind), parked in the journal's memfd so a
//! successor server sends them if this one dies first.
//!
//! The spill is `BIG` slots of a header page and up to `SLOT_DATA` bytes
//! after the journal's two regions, then `SMALL` slots of a header page and
//! up to `SMALL_DATA` bytes (a small write takes a small slot while one is
//! free: queue-depth-16 writes of 4 KiB keep more than 16 in flight, and
//! the memfd's pages for the window stay bounded at about 24 MiB). A
//! journal of format 4 had the big slots only, at the same places: its
//! small slots read as free. A write is parked before it is
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

/// Big slots for parked writes: the daemon's write-behind window for
/// large writes.
const BIG: usize = 16;
/// The largest write a big slot holds (a FUSE write is at most 1 MiB).
const SLOT_DATA: usize = 1 << 20;
/// Small slots, after the big ones: the window for small writes.
const SMALL: usize = 112;
/// The largest write a small slot holds.
const SMALL_DATA: usize = 64 << 10;
const SLOTS: usize = BIG + SMALL;
const SLOT_HEAD: usize = 4096;
const SLOT: u64 = (SLOT_HEAD + SLOT_DATA) as u64;
const SMALL_SLOT: u64 = (SLOT_HEAD + SMALL_DATA) as u64;
/// The spill's size in the memfd.
pub(super) const BYTES: u64 = BIG as u64 * SLOT + SMALL as u64 * SMALL_SLOT;

/// Where slot `slot` starts, from the spill's start, and the most data it holds.
fn slot_at(slot: usize) -> (u64, usize) {
    match slot.checked_sub(BIG) {
        None => (slot as u64 * SLOT, SLOT_DATA),
        Some(small) => (BIG as u64 * SLOT + small as u64 * SMALL_SLOT, SMALL_DATA),
    }
}
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
    free: Mutex<Free>,
}

/// The free slots, big and small.
#[derive(Debug, Default)]
struct Free {
    big: Vec<usize>,
    small: Vec<usize>,
}

impl Free {
    /// A slot for `len` bytes: a small one while one is free.
    fn take(&mut self, len: usize) -> Option<usize> {
        let small = (len <= SMALL_DATA).then(|| self.small.pop()).flatten();
        small.or_else(|| self.big.pop())
    }

    fn give_back(&mut self, slot: usize) {
        if slot < BIG {
            self.big.push(slot);
        } else {
            self.small.push(slot);
        }
    }
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
        let slot = self.spill.free.lock().take(data.len())?;
        let start = self.spill.at + slot_at(slot).0;
        let head = full_head(self.pool, key, offset, data.len());
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

/// The header of a full slot: a write of `len` bytes at `offset` of file
/// `key` in pool `pool`.
fn full_head(pool: u32, key: &[u8], offset: u64, len: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(FIXED + key.len());
    head.extend(FULL.to_le_bytes());
    head.extend(pool.to_le_bytes());
    head.extend(offset.to_le_bytes());
    head.extend((len as u32).to_le_bytes());
    head.extend((key.len() as u32).to_le_bytes());
    head.extend(key);
    head
}

impl Drop for Parked {
    fn drop(&mut self) {
        let start = self.spill.at + slot_at(self.slot).0;
        if let Err(e) = self.spill.file.write_all_at(&0u32.to_le_bytes(), start) {
            // Left full, it would be sent again by a successor: harmless
            // (the same data at the same place), so the slot is reused.
            tracing::warn!("journal: cannot free a parked write's slot: {e}");
        }
        self.spill.free.lock().give_back(self.slot);
    }
}

impl Spill {
    /// The spill at `at` in `file`, and the writes parked there (their
    /// slots stay taken until they are dropped).
    pub(super) fn open(file: File, at: u64) -> (Arc<Spill>, Vec<ParkedWrite>) {
        let spill = Arc::new(Spill {
            file,
            at,
            free: Mutex::new(Free::default()),
        });
        let mut parked = Vec::new();
        let mut free = Free::default();
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
                None => free.give_back(slot),
            }
        }
        *spill.free.lock() = free;
        (spill, parked)
    }

    /// The write parked in `slot`, if it is full.
    fn read_slot(&self, slot: usize) -> Option<(u32, Vec<u8>, u64, Vec<u8>)> {
        let (at, most) = slot_at(slot);
        let start = self.at + at;
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
        if len > most {
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
        let free = |s: &Spill| {
            let f = s.free.lock();
            (f.big.len(), f.small.len())
        };
        assert_eq!(free(&spill2), (BIG, SMALL - 1));
        drop(found);
        assert_eq!(free(&spill2), (BIG, SMALL));
        drop(b);
        assert!(Spill::open(file, 4096).1.is_empty());
        // Too large for a slot: written through instead.
        assert!(sink.park(b"k", 0, &vec![0u8; SLOT_DATA + 1]).is_none());
    }

    /// Small writes fill the small slots, then the big ones; a large write
    /// takes a big one; a successor finds each where it was parked.
    #[test]
    fn small_writes_take_small_slots_then_big_ones() {
        let file = crate::journal::memfd().unwrap();
        file.set_len(4096 + BYTES).unwrap();
        let (spill, _) = Spill::open(file.try_clone().unwrap(), 4096);
        let sink = SpillSink { spill, pool: 1 };
        let large = sink.park(b"f", 0, &vec![1u8; SMALL_DATA + 1]).unwrap();
        assert!(large.slot < BIG);
        let small: Vec<Parked> = (0..SMALL + 1)
            .map(|i| sink.park(b"f", i as u64 * 4096, &[2u8; 4096]).unwrap())
            .collect();
        assert!(small[..SMALL].iter().all(|p| p.slot >= BIG));
        assert!(small[SMALL].slot < BIG);
        let (_, found) = Spill::open(file.try_clone().unwrap(), 4096);
        assert_eq!(found.len(), SMALL + 2);
        assert!(found.iter().any(|w| w.data == vec![1u8; SMALL_DATA + 1]));
        assert_eq!(
            found.iter().filter(|w| w.data == [2u8; 4096]).count(),
            SMALL + 1
        );
    }

    /// A format-4 journal's memfd ends after its big slots: a successor
    /// finds its parked writes and takes the small slots as free.
    #[test]
    fn a_spill_of_big_slots_only_is_read() {
        let file = crate::journal::memfd().unwrap();
        file.set_len(4096 + BIG as u64 * SLOT).unwrap();
        let old = full_head(3, b"fh", 8192, 5);
        file.write_all_at(b"hello", 4096 + 2 * SLOT + SLOT_HEAD as u64)
            .unwrap();
        file.write_all_at(&old, 4096 + 2 * SLOT).unwrap();
        let (spill, found) = Spill::open(file, 4096);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].pool, found[0].offset), (3, 8192));
        assert_eq!(found[0].data, b"hello");
        let f = spill.free.lock();
        assert_eq!((f.big.len(), f.small.len()), (BIG - 1, SMALL));
    }
}
