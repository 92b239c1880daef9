//! The chunks a read-ahead served whole (the rbd and the userspace NFS
//! kinds each read ahead in chunks), remembered while they would still
//! have been fresh: the readers are past them, so a read-ahead asks for
//! none of them again as a chunk ahead. Several readers of one open (such
//! as qemu-img's eight parallel requests) otherwise ask again for chunks
//! another reader already consumed: a copy read a third more than the
//! file held. A read that falls in one still asks for it.
//!
//! Bounded: at most `cap` chunks, the oldest go; a chunk goes too once it
//! is older than the freshness the read-ahead serves with, or once the
//! file changed (its version differs).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Passed {
    cap: usize,
    /// (chunk, the file's version then, when the chunk was asked for).
    list: VecDeque<(u64, u64, Instant)>,
}

impl Passed {
    pub fn new(cap: usize) -> Passed {
        Passed {
            cap,
            list: VecDeque::new(),
        }
    }

    /// Chunk `chunk`, asked for at `asked` while the file was at `version`,
    /// was served whole.
    pub fn note(&mut self, chunk: u64, version: u64, asked: Instant) {
        if self.list.len() >= self.cap {
            self.list.pop_front();
        }
        self.list.push_back((chunk, version, asked));
    }

    /// Forgets the chunks of another version of the file, or asked for
    /// `fresh` or longer before `now`.
    pub fn expire(&mut self, version: u64, fresh: Duration, now: Instant) {
        self.list
            .retain(|(_, v, asked)| *v == version && now.duration_since(*asked) < fresh);
    }

    /// True when chunk `chunk` was served whole (and is still remembered).
    pub fn contains(&self, chunk: u64) -> bool {
        self.list.iter().any(|(c, ..)| *c == chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_what_is_fresh_of_this_version_up_to_its_bound() {
        let t0 = Instant::now();
        let fresh = Duration::from_secs(1);
        let mut p = Passed::new(2);
        p.note(1, 7, t0);
        p.note(2, 7, t0);
        assert!(p.contains(1) && p.contains(2) && !p.contains(3));
        // The oldest goes past the bound.
        p.note(3, 7, t0 + Duration::from_millis(500));
        assert!(!p.contains(1) && p.contains(2) && p.contains(3));
        // Staleness: what was asked for a second or more ago goes.
        p.expire(7, fresh, t0 + Duration::from_millis(1200));
        assert!(!p.contains(2) && p.contains(3));
        // A change of the file: everything goes.
        p.expire(8, fresh, t0 + Duration::from_millis(600));
        assert!(!p.contains(3));
    }
}
