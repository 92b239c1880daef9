//! Snapshots, clones and the exclusive lock: what layers images on one
//! another (a clone reads through to a protected snapshot of its parent)
//! and what keeps two hosts from writing one image at once.

use std::ffi::{CStr, c_char, c_int};

use nix::errno::Errno;

use super::image::Image;
use super::{Cluster, FEATURES, LinkedImageSpecT, SnapInfoT, SnapSpecT, cstr};
use crate::error::Result;

/// An image a clone relation names: where it is and whether it is only in
/// the pool's trash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linked {
    pub pool: String,
    pub namespace: String,
    pub id: String,
    pub name: String,
    pub trash: bool,
}

/// A C string librbd owns (empty for a null pointer).
fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: librbd's strings are NUL-terminated and live until the
    // cleanup call of the structure holding them, after every read here.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn linked(s: &LinkedImageSpecT) -> Linked {
    Linked {
        pool: text(s.pool_name),
        namespace: text(s.pool_namespace),
        id: text(s.image_id),
        name: text(s.image_name),
        trash: s.trash,
    }
}

impl Cluster {
    /// Makes image `child` a clone of snapshot `snap` of image `parent`
    /// (same pool): nothing is copied, the clone reads through to it.
    pub fn clone_image(&self, parent: &str, snap: &str, child: &str) -> Result<()> {
        self.gate()?;
        let (p, s, c) = (cstr(parent)?, cstr(snap)?, cstr(child)?);
        let mut order: c_int = 0;
        // SAFETY: valid contexts, NUL-terminated names, an out-pointer.
        let rc = unsafe {
            (self.api.rbd_clone)(
                self.io,
                p.as_ptr(),
                s.as_ptr(),
                self.io,
                c.as_ptr(),
                FEATURES,
                &mut order,
            )
        };
        self.check(rc as isize, || {
            format!("cannot clone image '{parent}' as '{child}'")
        })?;
        Ok(())
    }
}

impl Image {
    /// Takes snapshot `name` and protects it (a clone's parent must be).
    pub fn snapshot(&self, name: &str) -> Result<()> {
        self.cluster.gate()?;
        let c = cstr(name)?;
        // SAFETY: a valid image and a NUL-terminated name.
        let rc = unsafe { (self.api().rbd_snap_create)(self.img, c.as_ptr()) };
        self.cluster
            .check(rc as isize, || format!("cannot take snapshot '{name}'"))?;
        // SAFETY: as above.
        let rc = unsafe { (self.api().rbd_snap_protect)(self.img, c.as_ptr()) };
        if let Err(e) = self
            .cluster
            .check(rc as isize, || format!("cannot protect snapshot '{name}'"))
        {
            // SAFETY: as above; the snapshot just taken goes again.
            unsafe { (self.api().rbd_snap_remove)(self.img, c.as_ptr()) };
            return Err(e);
        }
        Ok(())
    }

    /// Removes snapshot `name`, unprotecting it first: `EBUSY` while a
    /// clone reads through to it.
    pub fn drop_snapshot(&self, name: &str) -> Result<()> {
        self.cluster.gate()?;
        let c = cstr(name)?;
        // SAFETY: a valid image and a NUL-terminated name.
        let rc = unsafe { (self.api().rbd_snap_unprotect)(self.img, c.as_ptr()) };
        // EINVAL: it was not protected.
        if rc != -libc::EINVAL {
            self.cluster.check(rc as isize, || {
                format!("cannot unprotect snapshot '{name}'")
            })?;
        }
        // SAFETY: as above.
        let rc = unsafe { (self.api().rbd_snap_remove)(self.img, c.as_ptr()) };
        self.cluster
            .check(rc as isize, || format!("cannot remove snapshot '{name}'"))?;
        Ok(())
    }

    /// The names of the image's snapshots.
    pub fn snapshots(&self) -> Result<Vec<String>> {
        self.cluster.gate()?;
        let mut cap: c_int = 16;
        loop {
            let mut snaps: Vec<SnapInfoT> = Vec::with_capacity(cap as usize + 1);
            let mut n = cap;
            // SAFETY: room for `n` entries (and the list's end marker).
            let rc = unsafe { (self.api().rbd_snap_list)(self.img, snaps.as_mut_ptr(), &mut n) };
            if rc == -libc::ERANGE {
                cap = n.max(cap * 2);
                continue;
            }
            let count = self
                .cluster
                .check(rc as isize, || "cannot list the image's snapshots".into())?;
            // SAFETY: librbd filled `count` entries.
            unsafe { snaps.set_len(count) };
            let names = snaps.iter().map(|s| text(s.name)).collect();
            // SAFETY: the list librbd filled, freed once.
            unsafe { (self.api().rbd_snap_list_end)(snaps.as_mut_ptr()) };
            return Ok(names);
        }
    }

    /// The clones of any of the image's snapshots.
    pub fn children(&self) -> Result<Vec<Linked>> {
        self.cluster.gate()?;
        let mut cap = 16usize;
        loop {
            let mut specs: Vec<LinkedImageSpecT> = Vec::with_capacity(cap);
            let mut n = cap;
            // SAFETY: room for `n` entries; librbd says how many it filled
            // (or needs: -ERANGE).
            let rc =
                unsafe { (self.api().rbd_list_children3)(self.img, specs.as_mut_ptr(), &mut n) };
            if rc == -libc::ERANGE {
                cap = n.max(cap * 2);
                continue;
            }
            self.cluster
                .check(rc as isize, || "cannot list the image's clones".into())?;
            // SAFETY: librbd initialised the first `n` entries.
            unsafe { specs.set_len(n) };
            let out = specs.iter().map(linked).collect();
            // SAFETY: the `n` entries librbd filled, freed once.
            unsafe { (self.api().rbd_linked_image_spec_list_cleanup)(specs.as_mut_ptr(), n) };
            return Ok(out);
        }
    }

    /// The image and snapshot a clone reads through to; `None` for an
    /// image that is no clone (or was flattened).
    pub fn parent(&self) -> Result<Option<(Linked, String)>> {
        self.cluster.gate()?;
        let mut image = LinkedImageSpecT {
            pool_id: 0,
            pool_name: std::ptr::null_mut(),
            pool_namespace: std::ptr::null_mut(),
            image_id: std::ptr::null_mut(),
            image_name: std::ptr::null_mut(),
            trash: false,
        };
        let mut snap = SnapSpecT {
            id: 0,
            namespace_type: 0,
            name: std::ptr::null_mut(),
        };
        // SAFETY: a valid image and out-structs of the C layout.
        let rc = unsafe { (self.api().rbd_get_parent)(self.img, &mut image, &mut snap) };
        if rc == -libc::ENOENT {
            return Ok(None);
        }
        self.cluster
            .check(rc as isize, || "cannot read the image's parent".into())?;
        let out = (linked(&image), text(snap.name));
        // SAFETY: both structures librbd filled, freed once.
        unsafe {
            (self.api().rbd_linked_image_spec_cleanup)(&mut image);
            (self.api().rbd_snap_spec_cleanup)(&mut snap);
        }
        Ok(Some(out))
    }

    /// Takes the image's exclusive lock and keeps it: librbd hands it to
    /// no other client that asks (they are refused), until `unlock`.
    /// `EROFS`/`EBUSY`: another client holds it and keeps it.
    pub fn lock(&self) -> Result<()> {
        self.cluster.gate()?;
        // SAFETY: a valid image; mode exclusive (0).
        let rc = unsafe { (self.api().rbd_lock_acquire)(self.img, 0) };
        self.cluster
            .check(rc as isize, || "cannot take the image's lock".into())?;
        Ok(())
    }

    pub fn unlock(&self) -> Result<()> {
        // SAFETY: a valid image.
        let rc = unsafe { (self.api().rbd_lock_release)(self.img) };
        // EINVAL: the lock was not held (lost to a fence, or never taken).
        if rc == -libc::EINVAL {
            return Ok(());
        }
        self.cluster
            .check(rc as isize, || "cannot release the image's lock".into())?;
        Ok(())
    }
}

/// True for an errno librbd gives when another client keeps the lock.
pub fn held_elsewhere(e: Errno) -> bool {
    matches!(e, Errno::EROFS | Errno::EBUSY | Errno::EAGAIN)
}
