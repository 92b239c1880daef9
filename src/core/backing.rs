//! qcow2 backing chains within a pool, for any store: the chain `info`
//! shows, and the refusal to delete (or replace by a rename) a volume that
//! another volume of its pool uses as its backing file. The names are
//! resolved by `volume::chain` (pure); this file walks the store.
//!
//! Which volume backs which is found by reading every volume's header, so
//! it is kept for a while (`Overlays`): deleting many volumes reads the
//! pool once, not once per volume.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Dir, PoolFs};
use crate::control;
use crate::error::{Error, Result};
use crate::pool::{Active, Pool};
use crate::store::{Kind, Obj, Store, VolumeFacts};
use crate::volume::chain;

/// How deep a chain or a pool's directory tree is followed (a cycle of
/// backing files or a pathological tree ends here).
const MAX_DEPTH: usize = 16;

/// A file shorter than this cannot hold a qcow2 header: not read.
const MIN_HEADER: u64 = 512;

/// How long a pool's backing map is used before it is read again: the bound
/// on how late a change made behind poolfs's back is seen (the attribute
/// cache time of a pool that is not watched). Changes poolfs makes or
/// serves (a volume created, opened for writing, closed, truncated,
/// renamed, a control request) drop every map at once.
const OVERLAYS_TTL: Duration = Duration::from_secs(1);

/// For each backing file of a pool, the volumes that name it
/// (pool-relative paths).
type BackingMap = HashMap<String, Vec<String>>;

/// The backing maps of running pools, by (pool id, run), with when each
/// was read.
#[derive(Debug, Default)]
pub(super) struct Overlays {
    /// Bumped by each drop: a map read before the last drop is not kept.
    generation: u64,
    maps: HashMap<(u32, u64), (Instant, BackingMap)>,
}

impl PoolFs {
    /// The absolute paths at which the top of `pool` is reached.
    fn pool_roots(&self, pool: &Pool, active: &Active) -> Vec<PathBuf> {
        let mut roots = Vec::new();
        if let Some(m) = self.mountpoint.read().as_ref() {
            roots.push(m.join(pool.name()));
        }
        if active.target.is_absolute() {
            roots.push(active.target.clone());
        }
        roots
    }

    /// The pool-relative path of the backing file of the volume at `path`,
    /// if `facts` name one inside the pool.
    fn backing_in_pool(
        &self,
        pool: &Pool,
        active: &Active,
        path: &str,
        facts: &VolumeFacts,
    ) -> Option<String> {
        let roots = self.pool_roots(pool, active);
        let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();
        chain::resolve(facts.probe.backing.as_deref()?, path, &roots)
    }

    /// The backing chain below a volume whose facts are `first`, for `info`:
    /// each link's pool-relative path, or the name as the header says it
    /// where it leads out of the pool (and the chain stops there).
    pub(super) fn backing_chain(
        &self,
        pool: &Pool,
        active: &Active,
        path: &str,
        first: &VolumeFacts,
    ) -> Vec<String> {
        let mut links = Vec::new();
        let (mut path, mut facts) = (path.to_string(), first.clone());
        while let Some(named) = facts.probe.backing.clone() {
            if links.len() == MAX_DEPTH {
                links.push("...".into());
                break;
            }
            let Some(next) = self.backing_in_pool(pool, active, &path, &facts) else {
                links.push(named);
                break;
            };
            links.push(next.clone());
            match lookup_path(&*active.store, &next).and_then(|o| active.store.facts(&o)) {
                Ok(f) => (path, facts) = (next, f),
                Err(_) => break,
            }
        }
        links
    }

    /// Refuses to delete or replace (`what`) the volume `name` of `d` while
    /// another volume of the pool uses it as its backing file: the overlays
    /// would lose their data. Files too short to be a backing and files
    /// with other hard links are not looked into.
    pub(super) fn refuse_backing_removal(&self, d: &Dir, name: &OsStr, what: &str) -> Result<()> {
        let Ok(victim) = d.store().lookup(d.obj(), name) else {
            return Ok(());
        };
        if victim.attr.kind != Kind::File || victim.attr.size == 0 || victim.attr.nlink > 1 {
            return Ok(());
        }
        let path = d.child_path(name);
        let users: Vec<String> = self
            .backing_users(d, &path)
            .into_iter()
            .filter(|u| *u != path)
            .map(|u| format!("'{u}'"))
            .collect();
        if users.is_empty() {
            return Ok(());
        }
        Err(Error::Busy(format!(
            "volume '{path}' is the backing file of {} and cannot be {what} (delete or flatten the overlays first)",
            users.join(", "),
        )))
    }

    /// The volumes of `d`'s pool whose backing file is `path`, from the
    /// pool's backing map (read again when older than `OVERLAYS_TTL` or
    /// dropped). No lock is held while the pool is read.
    fn backing_users(&self, d: &Dir, path: &str) -> Vec<String> {
        let key = (d.pool.id, d.active.run);
        let generation = {
            let o = self.overlays.lock();
            if let Some((at, map)) = o.maps.get(&key)
                && at.elapsed() < OVERLAYS_TTL
            {
                return map.get(path).cloned().unwrap_or_default();
            }
            o.generation
        };
        // Timed from the start: the map is as old as its first header.
        let read_at = Instant::now();
        let mut map = BackingMap::new();
        walk(&*d.active.store, None, "", 0, &mut |p, obj| {
            if let Ok(f) = d.active.store.facts(obj)
                && let Some(b) = self.backing_in_pool(&d.pool, &d.active, p, &f)
            {
                map.entry(b).or_default().push(p.to_string());
            }
        });
        let users = map.get(path).cloned().unwrap_or_default();
        let mut o = self.overlays.lock();
        if o.generation == generation {
            o.maps.insert(key, (read_at, map));
        }
        users
    }

    /// Something in a pool changed that may make a volume an overlay, or
    /// change what it is an overlay of: every backing map is read again.
    pub(super) fn overlays_changed(&self) {
        let mut o = self.overlays.lock();
        o.generation += 1;
        o.maps.clear();
    }

    /// The volume at `path` of `d`'s pool was deleted: it backs nothing
    /// (it was not deleted otherwise) and is no longer an overlay.
    pub(super) fn overlay_removed(&self, d: &Dir, path: &str) {
        let mut o = self.overlays.lock();
        if let Some((_, map)) = o.maps.get_mut(&(d.pool.id, d.active.run)) {
            map.remove(path);
            map.retain(|_, users| {
                users.retain(|u| u != path);
                !users.is_empty()
            });
        }
    }
}

/// The store's object at pool-relative `path`.
fn lookup_path(store: &dyn Store, path: &str) -> Result<Obj> {
    let mut obj: Option<Obj> = None;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        obj = Some(store.lookup(obj.as_ref(), OsStr::new(part))?.obj);
    }
    obj.ok_or_else(|| Error::NotFound(format!("no volume '{path}'")))
}

/// Calls `f` with the pool-relative path and object of every regular file
/// of at least `MIN_HEADER` bytes under `dir` (control names at the top are
/// skipped). Entries that vanish or fail meanwhile are passed over.
fn walk(
    store: &dyn Store,
    dir: Option<&Obj>,
    prefix: &str,
    depth: usize,
    f: &mut dyn FnMut(&str, &Obj),
) {
    let Ok(entries) = store.list(dir) else {
        return;
    };
    for e in entries {
        let name = e.name.to_string_lossy();
        if depth == 0 && control::is_reserved(&name) {
            continue;
        }
        let Ok(found) = store.lookup(dir, &e.name) else {
            continue;
        };
        let path = format!("{prefix}{name}");
        match found.attr.kind {
            Kind::File if found.attr.size >= MIN_HEADER => f(&path, &found.obj),
            Kind::Dir if depth < MAX_DEPTH => {
                walk(store, Some(&found.obj), &format!("{path}/"), depth + 1, f)
            }
            _ => {}
        }
    }
}
