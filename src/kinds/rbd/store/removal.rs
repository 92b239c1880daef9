//! Removing images. A volume removed while open on this host is renamed
//! to a hidden name by the namespace and removed at its last close
//! (`core::removed`); here: the refusals, the removal itself, and the
//! sweep of hidden images that no close will remove (their host crashed
//! and no server took its opens over): a listing that finds one that no
//! client has open any more (RBD refuses to remove a watched image)
//! removes it.
//!
//! Lock order: `Swept` is a leaf, never held across a call to the cluster.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use parking_lot::Mutex;

use super::{CLONE_SNAP, RbdStore};
use crate::error::{Error, Result};
use crate::kinds::rbd::librbd::{Image, Linked};

/// How long the kernel may take to send the release of a file just
/// closed: a removal right after close(2) waits for it.
const RELEASE_GRACE: Duration = Duration::from_secs(2);
/// How long a listing leaves a hidden image it could not remove (it may be
/// open on another host) before it tries again.
const RETRY: Duration = Duration::from_secs(30);

/// The hidden images a listing tried to remove, and when: bounded by the
/// hidden images of the pool (entries older than `RETRY` go).
#[derive(Debug, Default)]
pub struct Swept(Mutex<HashMap<String, Instant>>);

impl RbdStore {
    /// Removes image `name`, refused while it is open (on this host past
    /// the release grace: the namespace hides an open volume instead).
    pub(super) fn remove(&self, name: &str) -> Result<()> {
        let id = self.by_name(name)?.id.clone();
        let deadline = Instant::now() + RELEASE_GRACE;
        while !self.forget(&id) {
            if Instant::now() >= deadline {
                return Err(Error::Busy(format!(
                    "'{name}' is open: an RBD image is removed once nothing has it open"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.destroy(name, &id)
    }

    /// Refuses the removal of image `name` when RBD would (`refuse_layers`).
    pub(super) fn removal_refused(&self, name: &str) -> Result<()> {
        let vol = self.by_name(name)?;
        refuse_layers(name, &vol.image, |c| self.names(c)).map(drop)
    }

    /// Hidden images a listing found (id, name): those not open here and
    /// not tried lately are removed, on a thread of their own (a removal
    /// deletes every object of the image; it is refused while another
    /// client has the image open).
    pub(super) fn sweep(&self, hidden: Vec<(String, String)>) {
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let mut tried = self.swept.0.lock();
            tried.retain(|_, at| now.duration_since(*at) < RETRY);
            for (id, name) in hidden {
                if !tried.contains_key(&name) {
                    tried.insert(name.clone(), now);
                    due.push((id, name));
                }
            }
        }
        // An image open here keeps its cached attributes.
        due.retain(|(id, _)| !self.open_here(id) && self.forget(id));
        let Some(me) = self.me.upgrade() else { return };
        if due.is_empty() {
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("rbd-remove".into())
            .spawn(move || {
                for (id, name) in due {
                    match me.destroy(&name, &id) {
                        Ok(()) => {
                            tracing::info!("removed '{name}', left by a volume removed while open")
                        }
                        Err(e) => tracing::debug!("'{name}' stays for now: {e}"),
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a thread to remove hidden images: {e}");
        }
    }

    /// Removes image `name` (id `id`), open nowhere on this host.
    fn destroy(&self, name: &str, id: &str) -> Result<()> {
        let parent = {
            let image = self.cluster.open_by_id(id, true)?;
            // Poolfs's own snapshots, kept for clones since removed.
            for s in refuse_layers(name, &image, |c| self.names(c))? {
                self.drop_clone_snapshot(&image, &s);
            }
            image.parent()?
        };
        self.cluster.remove(name).map_err(|e| match e.errno() {
            Errno::EBUSY => Error::Busy(format!(
                "'{name}' is open on another host: it cannot be removed now"
            )),
            Errno::ENOTEMPTY => not_empty(name),
            _ => e,
        })?;
        // The parent's snapshot a clone read through to goes with its
        // last clone (it holds the parent's data as it was).
        if let Some((p, snap)) = parent
            && snap.starts_with(CLONE_SNAP)
            && self.here(&p)
        {
            match self.rw(&p.id) {
                Ok(v) => self.drop_clone_snapshot(&v.image, &snap),
                Err(e) => {
                    tracing::warn!(parent = %p.name, "cannot drop the snapshot '{snap}': {e}")
                }
            }
        }
        Ok(())
    }

    /// Drops snapshot `snap` unless a clone still reads through to it.
    pub(super) fn drop_clone_snapshot(&self, image: &Image, snap: &str) {
        match image.drop_snapshot(snap) {
            Ok(()) => tracing::debug!("dropped the clone snapshot '{snap}'"),
            Err(e) if e.errno() == Errno::EBUSY => {}
            Err(e) => tracing::warn!("cannot drop the clone snapshot '{snap}': {e}"),
        }
    }
}

/// Refuses the removal of an image with clones (named) or with snapshots
/// poolfs did not take (RBD removes neither); else returns its snapshots
/// (poolfs's, taken for clones since removed).
fn refuse_layers(
    name: &str,
    image: &Image,
    names: impl Fn(&[Linked]) -> Vec<String>,
) -> Result<Vec<String>> {
    let clones = image.children()?;
    if !clones.is_empty() {
        return Err(Error::Busy(format!(
            "'{name}' has clones ({}): remove them, or flatten them, first",
            names(&clones).join(", ")
        )));
    }
    let snaps = image.snapshots()?;
    if snaps.iter().any(|s| !s.starts_with(CLONE_SNAP)) {
        return Err(not_empty(name));
    }
    Ok(snaps)
}

fn not_empty(name: &str) -> Error {
    Error::Busy(format!(
        "'{name}' has snapshots poolfs did not take: remove them first (rbd snap purge)"
    ))
}
