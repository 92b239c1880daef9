//! What a successor server needs to take over from one that died, in one
//! place: the journal (`crate::journal`) it writes to, what a predecessor
//! left in it (tree changes it had started, control writes it had begun,
//! passthrough backing ids it had registered), and the crash points the
//! survival tests use.
//!
//! The rule a resent request follows: the kernel sends a request again, with
//! bit 63 of its unique id set, when the server that read it died before
//! answering (`FUSE_NOTIFY_RESEND`). Its effect may already be there. A tree
//! change journals an intent before it runs, so a successor knows which
//! resent requests may find their own effect (`EEXIST` after a create,
//! `ENOENT` after an unlink) and answers them as done. A control write
//! journals the form it applies (`+5G` as the capacity it aims at) and is
//! applied again in that form. Only core reads these rules; the FUSE adapter
//! passes the request's unique id along and never knows it was a resend.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

pub use crate::journal::Backing as BackingRecord;
use crate::journal::{Journal, State};

/// Bit 63 of a request's unique id: the kernel sends it again because the
/// server that read it died.
const RESENT: u64 = 1 << 63;

/// The unique id the kernel gave a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unique(pub u64);

impl Unique {
    /// For callers without a kernel request (tests, the CLI): never resent.
    pub const NONE: Unique = Unique(0);

    /// The id without the resend bit: the same for both sendings.
    fn id(self) -> u64 {
        self.0 & !RESENT
    }

    fn resent(self) -> bool {
        self.0 & RESENT != 0
    }
}

/// What a predecessor server left for the FUSE layer: whether INIT
/// negotiated passthrough, and the backing ids of the handles the kernel
/// holds.
#[derive(Debug, Default)]
pub struct Inherited {
    pub passthrough: bool,
    /// The connection serves requests through FUSE-over-io_uring.
    pub uring: bool,
    pub backing: Vec<BackingRecord>,
}

#[derive(Debug, Default)]
pub struct Recovery {
    /// Unset without a keeper (nothing would read it).
    journal: OnceLock<Arc<Journal>>,
    /// Requests the predecessor started changing the tree (journaled
    /// intents). Written once, at takeover.
    started: RwLock<BTreeSet<u64>>,
    /// Control writes the predecessor had begun and not finished, in the
    /// form it applied. Written once, at takeover.
    begun: RwLock<BTreeMap<u64, Vec<u8>>>,
    /// Taken by the FUSE layer when it resumes the session.
    inherited: Mutex<Option<Inherited>>,
}

impl Recovery {
    pub(super) fn set_journal(&self, j: Arc<Journal>) {
        let _ = self.journal.set(j);
    }

    pub(super) fn journal(&self) -> Option<&Journal> {
        self.journal.get().map(|j| &**j)
    }

    /// Takes what the predecessor's journal says about requests in flight.
    pub(super) fn take_over(&self, state: &State) {
        *self.started.write() = state.intents.clone();
        *self.begun.write() = state.begun.clone();
        *self.inherited.lock() = Some(Inherited {
            passthrough: state.passthrough,
            uring: state.uring,
            backing: state.backing.values().cloned().collect(),
        });
    }

    /// What the predecessor left for the FUSE layer (once; `None` for a
    /// server that did not take over).
    pub(super) fn inherited(&self) -> Option<Inherited> {
        self.inherited.lock().take()
    }

    /// Journals that request `u` is about to change the tree.
    pub(super) fn intent(&self, u: Unique) {
        if let Some(j) = self.journal() {
            j.intent(u.id());
        }
    }

    /// True for a request the predecessor had started when it died: an
    /// `EEXIST` or `ENOENT` may be its own effect.
    pub(super) fn started_before(&self, u: Unique) -> bool {
        u.resent() && self.started.read().contains(&u.id())
    }

    /// The form of control write `u` the predecessor began applying, when
    /// `u` is its resend.
    pub(super) fn begun_form(&self, u: Unique) -> Option<Vec<u8>> {
        if !u.resent() {
            return None;
        }
        self.begun.read().get(&u.id()).cloned()
    }

    /// Journals the form of control write `u` about to be applied.
    pub(super) fn begin(&self, u: Unique, text: &[u8]) {
        if let Some(j) = self.journal() {
            j.begun(u.id(), text);
        }
    }

    /// Journals that control write `u` is done: a resend is answered.
    pub(super) fn done(&self, u: Unique) {
        self.intent(u);
    }

    /// Journals a backing id registered for an open handle.
    pub(super) fn backing(&self, rec: &BackingRecord) {
        if let Some(j) = self.journal() {
            j.backing(rec);
        }
    }
}
