//! Removing volumes, also while they are open: ext4 unlinks an open file
//! and frees it at its last close, but RBD removes no image a client has
//! open (watched). So `rm` of a volume open on this host renames its image
//! to a hidden name (`.poolfs-removed-<id>`), which every host's listing
//! and lookup skip; the opens go on (an open is keyed by the image id).
//! The name is the durable mark: the last close here removes the image,
//! a successor server that opens it again after a takeover knows it by its
//! name, and a listing that finds one open nowhere (its host crashed, its
//! last close came through another handle) removes it.
//!
//! Lock order: `Doomed`'s two maps are leaves, never held across a call to
//! the cluster nor while the cache's lock is taken.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use parking_lot::Mutex;

use super::{CLONE_SNAP, RbdStore};
use crate::error::{Error, Result};
use crate::kinds::rbd::file::LastCloses;
use crate::kinds::rbd::librbd::Image;

/// The start of the hidden name of a volume removed while open.
const PREFIX: &str = ".poolfs-removed-";
/// How long a listing leaves a hidden image it could not remove (it may be
/// open on another host) before it tries again.
const RETRY: Duration = Duration::from_secs(30);
/// How long a removal at the last close waits for other watchers to go
/// (Ceph's `osd_client_watch_timeout` is 30 s).
const WATCH_TIMEOUT: Duration = Duration::from_secs(45);

/// True for the hidden name of a volume removed while open.
pub fn is_hidden(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// The volumes of one pool removed while open here, and the hidden images
/// a listing tried to remove.
#[derive(Debug, Default)]
pub struct Doomed {
    /// Image id -> hidden name: removed at the image's last close here.
    ids: Mutex<HashMap<String, String>>,
    /// Hidden name -> when a listing last tried to remove it (bounded by
    /// the hidden images of the pool; entries older than `RETRY` go).
    tried: Mutex<HashMap<String, Instant>>,
}

impl RbdStore {
    /// Removes image `name`; while it is open here, at its last close.
    /// Refused for an image with clones or snapshots poolfs did not take.
    pub(super) fn remove(&self, name: &str) -> Result<()> {
        let id = self.by_name(name)?.id.clone();
        if self.forget(&id) {
            return self.destroy(name, &id);
        }
        // Open here: refused now for what would refuse the removal later.
        let vol = self.rw(&id)?;
        refuse_layers(name, &vol.image, |c| self.names(c))?;
        let hidden = format!("{PREFIX}{id}");
        self.doomed.ids.lock().insert(id.clone(), hidden.clone());
        if let Err(e) = self.cluster.rename(name, &hidden) {
            self.doomed.ids.lock().remove(&id);
            return Err(e);
        }
        self.changed(&id);
        drop(vol);
        // Its last close may have come before it was marked.
        if self.forget(&id) {
            self.closed(&id);
        }
        Ok(())
    }

    /// Image `id` was opened for this host's opens: one renamed away while
    /// open (by the server this one took over from) goes at its last close.
    pub(super) fn opened(&self, id: &str, image: &Image) {
        match image.name() {
            Ok(name) if is_hidden(&name) => {
                self.doomed.ids.lock().insert(id.to_string(), name);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot read the name of image {id}: {e}"),
        }
    }

    /// Hidden images a listing found (id, name): those not open here, and
    /// not tried lately, are removed (refused while open on another host).
    pub(super) fn sweep(&self, hidden: Vec<(String, String)>) {
        let now = Instant::now();
        let mut due = Vec::new();
        {
            let open = self.doomed.ids.lock();
            let mut tried = self.doomed.tried.lock();
            tried.retain(|_, at| now.duration_since(*at) < RETRY);
            for (id, name) in hidden {
                if !open.contains_key(&id) && !tried.contains_key(&name) {
                    tried.insert(name.clone(), now);
                    due.push((id, name));
                }
            }
        }
        due.retain(|(id, _)| self.forget(id));
        if !due.is_empty() {
            self.reap(due);
        }
    }

    /// Removes hidden images (id, name) on a thread of their own (a
    /// removal deletes every object of the image).
    fn reap(&self, images: Vec<(String, String)>) {
        let Some(me) = self.me.upgrade() else { return };
        let spawned = std::thread::Builder::new()
            .name("rbd-remove".into())
            .spawn(move || {
                for (id, name) in images {
                    // A server killed with the image open (replaced by
                    // this one) is still its watcher until the cluster
                    // times the watch out.
                    let deadline = Instant::now() + WATCH_TIMEOUT;
                    let mut r = me.destroy(&name, &id);
                    while matches!(&r, Err(e) if e.errno() == Errno::EBUSY)
                        && Instant::now() < deadline
                    {
                        std::thread::sleep(Duration::from_secs(1));
                        r = me.destroy(&name, &id);
                    }
                    match r {
                        Ok(()) => tracing::info!("removed '{name}', a volume removed while open"),
                        Err(e) => tracing::warn!(
                            "'{name}', a volume removed while open, stays until a listing finds it unused: {e}"
                        ),
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a thread to remove images removed while open: {e}");
        }
    }

    /// Removes image `name` (id `id`), open nowhere on this host.
    fn destroy(&self, name: &str, id: &str) -> Result<()> {
        let parent = {
            let image = self.cluster.open_by_id(id, true)?;
            refuse_layers(name, &image, |c| self.names(c))?;
            self.drop_clone_snapshots(&image);
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

    /// Drops the snapshots poolfs took for clones that no clone reads any
    /// more.
    pub(super) fn drop_clone_snapshots(&self, image: &Image) {
        match image.snapshots() {
            Ok(snaps) => snaps
                .iter()
                .filter(|s| s.starts_with(CLONE_SNAP))
                .for_each(|s| self.drop_clone_snapshot(image, s)),
            Err(e) => tracing::warn!("cannot list an image's snapshots: {e}"),
        }
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

impl LastCloses for RbdStore {
    /// The last open of image `id` here closed: removed if `rm` hid it.
    fn closed(&self, id: &str) {
        let Some(hidden) = self.doomed.ids.lock().remove(id) else {
            return;
        };
        self.reap(vec![(id.to_string(), hidden)]);
    }
}

/// Refuses the removal of an image with clones (named) or with snapshots
/// poolfs did not take (RBD removes neither).
fn refuse_layers(
    name: &str,
    image: &Image,
    names: impl Fn(&[crate::kinds::rbd::librbd::Linked]) -> Vec<String>,
) -> Result<()> {
    let clones = image.children()?;
    if !clones.is_empty() {
        return Err(Error::Busy(format!(
            "'{name}' has clones ({}): remove them, or flatten them, first",
            names(&clones).join(", ")
        )));
    }
    if image
        .snapshots()?
        .iter()
        .any(|s| !s.starts_with(CLONE_SNAP))
    {
        return Err(not_empty(name));
    }
    Ok(())
}

fn not_empty(name: &str) -> Error {
    Error::Busy(format!(
        "'{name}' has snapshots poolfs did not take: remove them first (rbd snap purge)"
    ))
}
