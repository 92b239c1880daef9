//! The rbd store: a Ceph pool's images are the volumes, flat (no
//! directories), raw. An image is named by its RBD id (`Obj::Remote`), which
//! stays when it is renamed; every open of one image in this daemon shares
//! one librbd handle (`Vol`), so this host is one RBD client of it.
//!
//! What RBD has no place for (a volume's mode and owner) is kept in the
//! image's own metadata (`poolfs.attr`), so every host shows the same.
//! Reads and writes go through librbd's asynchronous calls (the reply is
//! sent from librbd's completion): the cluster sees the caller's queue depth.
//!
//! Invariants: no lock of this module is held across a call to the cluster,
//! except `Vol::grow`, which serialises the size changes of one image, and
//! `Vol::writers`, held while one image's exclusive lock is taken or let
//! go; neither is taken under the other, nor under the cache's lock. The
//! cache of open images holds at most `CACHED` images besides those open.
//! Writes are answered before the cluster has them (`grower`): everything
//! else that reads or changes an image waits for them first.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use parking_lot::Mutex;

use super::file::{Sink, open_vol};
use super::grower::{Grower, resend};
use super::librbd::{Cluster, ConnectOpts, Linked};
use super::vol::{ATTR_KEY, MAX_SIZE, Owner, Vol, stat_attr};
use crate::control::volume::{ResizeRequest, WipeAlgorithm};
use crate::error::{Error, Result};
use crate::store::{
    Attr, Ctx, Found, InfoLine, Kind, Listed, NodeKey, Obj, OpenVolume, ParkedWrite, SetAttr,
    Space, SpillSink, StatFs, Store, StoreOpen, VolumeFacts, VolumeRef, foreign, not_dir,
};

/// Read-only images kept for lookups and stats.
const CACHED: usize = 64;
/// Attributes of images not open here, kept for stats.
const STATS_CACHED: usize = 4096;
/// How long a read-only image answers stats before it is opened again (the
/// pool's cache time: what another client changed shows within it).
const META_TTL: Duration = Duration::from_secs(1);
/// The snapshots poolfs takes for clones are named so (and the time):
/// they go with their last clone.
pub(super) const CLONE_SNAP: &str = "poolfs-clone-";

/// Images open in this daemon, by id. `live`: read-write handles, held by
/// the opens of a volume and by an operation that changes an image (weak:
/// an image is closed at its last release, so RBD's watch on it, which
/// keeps anyone from removing it, lasts only while it is in use). `recent`:
/// read-only handles (not watched) that answer lookups and stats for
/// `META_TTL`, then are opened again, so what other clients change shows.
struct Cache {
    live: HashMap<String, Weak<Vol>>,
    recent: lru::LruCache<String, (Instant, Arc<Vol>)>,
    /// Attributes of images not open here, read without opening them
    /// (`Cluster::stat_image`), answered for `META_TTL`.
    stats: lru::LruCache<String, (Instant, Attr)>,
    /// Counts changes made here: attributes read while one happened are
    /// not kept (they may predate it).
    epoch: u64,
}

impl Cache {
    /// Image `id` changed here: what is kept of it goes.
    fn drop_image(&mut self, id: &str) {
        self.recent.pop(id);
        self.stats.pop(id);
        self.epoch += 1;
    }
}

mod removal;

pub struct RbdStore {
    /// This store, for the threads that remove hidden images (`removal`).
    me: Weak<RbdStore>,
    cluster: Arc<Cluster>,
    /// `pool` or `pool/namespace`, for messages and `info`.
    place: String,
    /// The Ceph pool and namespace ("": none), to tell this pool's images
    /// from others a clone relation names.
    pool: String,
    namespace: String,
    cache: Mutex<Cache>,
    /// Sends the writes answered past an image's end (`grower`).
    grower: Arc<Grower>,
    /// Where writes are parked before they are answered (from `set_notes`).
    spill: std::sync::OnceLock<SpillSink>,
    /// How long a wait for the cluster may take (the pool's `timeout`).
    timeout: Duration,
    /// Hidden images a listing tried to remove (`removal`).
    swept: removal::Swept,
}

impl std::fmt::Debug for RbdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RbdStore({})", self.place)
    }
}

fn enoent(op: &'static str) -> Error {
    Error::Os {
        op,
        errno: Errno::ENOENT,
    }
}

fn stale() -> Error {
    Error::Os {
        op: "lookup",
        errno: Errno::ESTALE,
    }
}

/// A stable number for an image id (RBD ids are hex; others are hashed).
fn id_number(id: &str) -> u64 {
    u64::from_str_radix(id, 16).unwrap_or_else(|_| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        h.finish()
    })
}

fn name_of(name: &OsStr) -> Result<&str> {
    name.to_str()
        .ok_or_else(|| Error::Invalid("an RBD image name must be UTF-8".into()))
}

impl RbdStore {
    pub fn new(cluster: Arc<Cluster>, opts: &ConnectOpts) -> Result<Arc<RbdStore>> {
        let place = match &opts.namespace {
            Some(ns) => format!("{}/{ns}", opts.pool),
            None => opts.pool.clone(),
        };
        let grower = Arc::new(Grower::start(&opts.pool)?);
        Ok(Arc::new_cyclic(|me| RbdStore {
            me: me.clone(),
            swept: removal::Swept::default(),
            cluster,
            grower,
            spill: std::sync::OnceLock::new(),
            timeout: Duration::from_secs(opts.timeout),
            place,
            pool: opts.pool.clone(),
            namespace: opts.namespace.clone().unwrap_or_default(),
            cache: Mutex::new(Cache {
                live: HashMap::new(),
                recent: lru::LruCache::new(NonZeroUsize::new(CACHED).unwrap_or(NonZeroUsize::MIN)),
                stats: lru::LruCache::new(
                    NonZeroUsize::new(STATS_CACHED).unwrap_or(NonZeroUsize::MIN),
                ),
                epoch: 0,
            }),
        }))
    }

    /// What an open of this pool writes behind with.
    fn sink(&self) -> Sink {
        Sink {
            spill: self.spill.get().cloned(),
            grower: self.grower.clone(),
            timeout: self.timeout,
        }
    }

    /// The read-write handle of image `id` that the opens share, opened
    /// unless it is open already.
    fn rw(&self, id: &str) -> Result<Arc<Vol>> {
        if let Some(v) = self.cache.lock().live.get(id).and_then(Weak::upgrade) {
            return Ok(v);
        }
        let image = self.cluster.open_by_id(id, true).map_err(|e| {
            if e.errno() == Errno::ENOENT {
                stale()
            } else {
                e
            }
        })?;
        self.share(Vol::open(image)?)
    }

    /// A read-write handle just opened, shared from now on (or the one
    /// another request opened meanwhile, which is shared instead).
    fn share(&self, vol: Vol) -> Result<Arc<Vol>> {
        let vol = Arc::new(vol);
        let mut c = self.cache.lock();
        if let Some(v) = c.live.get(&vol.id).and_then(Weak::upgrade) {
            // Opened meanwhile by another request: that one is shared.
            return Ok(v);
        }
        if c.live.len() >= 4 * CACHED {
            c.live.retain(|_, w| w.strong_count() > 0);
        }
        c.live.insert(vol.id.clone(), Arc::downgrade(&vol));
        c.drop_image(&vol.id);
        Ok(vol)
    }

    /// A handle of image `id` to read its attributes: the shared read-write
    /// one while the volume is open, else a read-only one at most
    /// `META_TTL` old.
    fn meta(&self, id: &str) -> Result<Arc<Vol>> {
        {
            let mut c = self.cache.lock();
            if let Some(v) = c.live.get(id).and_then(Weak::upgrade) {
                return Ok(v);
            }
            match c.recent.get(id) {
                Some((at, v)) if at.elapsed() < META_TTL => return Ok(v.clone()),
                Some(_) => {
                    c.recent.pop(id);
                }
                None => {}
            }
        }
        let image = self.cluster.open_by_id(id, false).map_err(|e| {
            if e.errno() == Errno::ENOENT {
                stale()
            } else {
                e
            }
        })?;
        self.keep(Vol::open(image)?)
    }

    fn keep(&self, vol: Vol) -> Result<Arc<Vol>> {
        let vol = Arc::new(vol);
        self.cache
            .lock()
            .recent
            .put(vol.id.clone(), (Instant::now(), vol.clone()));
        Ok(vol)
    }

    /// Image `id` changed through this daemon: its read-only handle and
    /// kept attributes go.
    fn changed(&self, id: &str) {
        self.cache.lock().drop_image(id);
    }

    /// The attributes of image `id`: from its open handle while it is open
    /// here, else read without opening it (kept for `META_TTL`), or from a
    /// read-only handle where only an open tells them (a clone).
    fn attr_of(&self, id: &str) -> Result<Attr> {
        let epoch = {
            let mut c = self.cache.lock();
            let live = c.live.get(id).and_then(Weak::upgrade);
            match (live, c.stats.get(id)) {
                (Some(v), _) => {
                    drop(c);
                    return v.attr();
                }
                (None, Some((at, a))) if at.elapsed() < META_TTL => return Ok(*a),
                _ => {}
            }
            // An image only an open describes (a clone), opened lately.
            if let Some((at, v)) = c.recent.get(id)
                && at.elapsed() < META_TTL
            {
                let v = v.clone();
                drop(c);
                return v.attr();
            }
            c.epoch
        };
        let stat = self.cluster.stat_image(id, ATTR_KEY).map_err(|e| {
            if e.errno() == Errno::ENOENT {
                stale()
            } else {
                e
            }
        })?;
        let Some(stat) = stat else {
            return self.meta(id)?.attr();
        };
        let a = stat_attr(&stat);
        let mut c = self.cache.lock();
        if c.epoch == epoch {
            c.stats.put(id.to_string(), (Instant::now(), a));
        }
        Ok(a)
    }

    /// Something holds image `id` open here.
    fn open_here(&self, id: &str) -> bool {
        let c = self.cache.lock();
        c.live.get(id).is_some_and(|w| w.strong_count() > 0)
    }

    /// Forgets image `id` (removed or about to be): true when nothing
    /// holds it open here.
    fn forget(&self, id: &str) -> bool {
        let mut c = self.cache.lock();
        c.drop_image(id);
        match c.live.get(id) {
            Some(w) if w.strong_count() > 0 => false,
            _ => {
                c.live.remove(id);
                true
            }
        }
    }

    /// Image `name`, looked up now (read-only).
    fn by_name(&self, name: &str) -> Result<Arc<Vol>> {
        match self.cluster.open(name, false) {
            Ok(image) => {
                let vol = Vol::open(image)?;
                if let Some(v) = self.cache.lock().live.get(&vol.id).and_then(Weak::upgrade) {
                    return Ok(v);
                }
                self.keep(vol)
            }
            Err(e) if e.errno() == Errno::ENOENT => Err(enoent("lookup")),
            Err(e) => Err(e),
        }
    }

    fn id<'a>(&self, obj: &'a Obj) -> Result<&'a str> {
        let Obj::Remote { fh, is_dir: false } = obj else {
            return Err(foreign());
        };
        std::str::from_utf8(fh).map_err(|_| stale())
    }

    fn vol(&self, obj: &Obj) -> Result<Arc<Vol>> {
        self.meta(self.id(obj)?)
    }

    fn vol_rw(&self, obj: &Obj) -> Result<Arc<Vol>> {
        let id = self.id(obj)?;
        self.changed(id);
        self.rw(id)
    }

    fn found(&self, vol: &Vol) -> Result<Found> {
        Ok(Found {
            id: (0, id_number(&vol.id)),
            attr: vol.attr()?,
            obj: Obj::Remote {
                fh: bytes::Bytes::from(vol.id.clone().into_bytes()),
                is_dir: false,
            },
        })
    }

    /// True for an image of this pool (and namespace).
    fn here(&self, l: &Linked) -> bool {
        l.pool == self.pool && l.namespace == self.namespace
    }

    /// How images a clone relation names are shown: by name in this pool,
    /// else `pool/[namespace/]name`.
    fn names(&self, images: &[Linked]) -> Vec<String> {
        images
            .iter()
            .map(|l| {
                let mut s = match (self.here(l), l.namespace.is_empty()) {
                    (true, _) => l.name.clone(),
                    (false, true) => format!("{}/{}", l.pool, l.name),
                    (false, false) => format!("{}/{}/{}", l.pool, l.namespace, l.name),
                };
                if l.trash {
                    s.push_str(" (in the trash)");
                }
                s
            })
            .collect()
    }
}

impl Store for RbdStore {
    fn refuse_layout_change(&self, what: &str) -> Error {
        Error::NotPermitted(format!(
            "{what}: an rbd pool holds images only, no directories"
        ))
    }

    fn lookup(&self, dir: Option<&Obj>, name: &OsStr) -> Result<Found> {
        if dir.is_some() {
            return Err(not_dir());
        }
        let id = self
            .cluster
            .image_id(name_of(name)?)
            .map_err(|e| match e.errno() {
                Errno::ENOENT => enoent("lookup"),
                _ => e,
            })?;
        // Removed since its name was read: as if it never was.
        let attr = self.attr_of(&id).map_err(|e| match e.errno() {
            Errno::ESTALE => enoent("lookup"),
            _ => e,
        })?;
        Ok(Found {
            id: (0, id_number(&id)),
            attr,
            obj: Obj::Remote {
                fh: bytes::Bytes::from(id.into_bytes()),
                is_dir: false,
            },
        })
    }

    fn getattr(&self, obj: &Obj) -> Result<Attr> {
        self.attr_of(self.id(obj)?)
    }

    fn setattr(
        &self,
        obj: Option<&Obj>,
        sa: &SetAttr,
        _open: Option<&dyn OpenVolume>,
    ) -> Result<()> {
        let Some(obj) = obj else {
            return Err(Error::NotPermitted(
                "the directory of an rbd pool cannot be changed".into(),
            ));
        };
        if sa.size.is_none() && sa.mode.is_none() && sa.uid.is_none() && sa.gid.is_none() {
            // Times: RBD keeps its own (see docs/backends.md).
            return Ok(());
        }
        let vol = self.vol_rw(obj)?;
        vol.behind.settle(self.timeout)?;
        if let Some(size) = sa.size {
            if size > MAX_SIZE {
                return Err(Error::Os {
                    op: "truncate",
                    errno: Errno::EFBIG,
                });
            }
            let _g = vol.grow.lock();
            vol.set_size(size)?;
            vol.changed();
        }
        let mut o = *vol.owner.lock();
        let before = o;
        if let Some(m) = sa.mode {
            o.mode = (m & 0o7777) as u16;
        }
        if let Some(u) = sa.uid {
            o.uid = u;
        }
        if let Some(g) = sa.gid {
            o.gid = g;
        }
        // A change of size or owner by an unprivileged caller drops the
        // set-id bits, as on a local filesystem.
        let drops = (sa.size.is_some() || sa.uid.is_some() || sa.gid.is_some())
            && sa.mode.is_none()
            && !sa.caller.privileged();
        if drops {
            o.mode &= !0o6000;
        }
        if o != before {
            vol.set_owner(o)?;
        }
        self.changed(&vol.id);
        Ok(())
    }

    fn list(&self, dir: Option<&Obj>) -> Result<Vec<Listed>> {
        if dir.is_some() {
            return Err(not_dir());
        }
        let (hidden, shown): (Vec<_>, Vec<_>) = self
            .cluster
            .list()?
            .into_iter()
            .partition(|(_, name)| crate::store::is_removed_name(name));
        if !hidden.is_empty() {
            self.sweep(hidden);
        }
        Ok(shown
            .into_iter()
            .map(|(id, name)| Listed {
                id: (0, id_number(&id)),
                kind: Kind::File,
                name: name.into(),
                attr: None,
            })
            .collect())
    }

    /// RBD removes no image a client has open.
    fn hides_removed_open(&self) -> bool {
        true
    }

    fn refuse_removal(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        if dir.is_some() {
            return Err(not_dir());
        }
        self.removal_refused(name_of(name)?)
    }

    /// A lookup opens the image (several round trips to the cluster).
    fn cheap_lookups(&self) -> bool {
        false
    }

    fn create(
        &self,
        ctx: &Ctx,
        dir: Option<&Obj>,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(Found, StoreOpen)> {
        if dir.is_some() {
            return Err(not_dir());
        }
        let name = name_of(name)?;
        match self.cluster.create(name, 0) {
            Ok(()) => {}
            Err(e) if e.errno() == Errno::EEXIST => {
                if flags & libc::O_EXCL != 0 {
                    return Err(Error::Os {
                        op: "create",
                        errno: Errno::EEXIST,
                    });
                }
                let vol = self.by_name(name)?;
                let found = self.found(&vol)?;
                let open = self.open(ctx, &found.obj, flags)?;
                return Ok((found, open));
            }
            Err(e) => return Err(e),
        }
        let vol = self.share(Vol::open(self.cluster.open(name, true)?)?)?;
        vol.set_owner(Owner {
            mode: (mode & 0o7777) as u16,
            uid: ctx.uid,
            gid: ctx.gid,
        })?;
        let found = self.found(&vol)?;
        Ok((found, open_vol(vol, flags, self.sink())?))
    }

    fn unlink(&self, dir: Option<&Obj>, name: &OsStr) -> Result<()> {
        if dir.is_some() {
            return Err(not_dir());
        }
        self.remove(name_of(name)?)
    }

    fn rename(
        &self,
        from: Option<&Obj>,
        name: &OsStr,
        to: Option<&Obj>,
        newname: &OsStr,
        flags: u32,
    ) -> Result<()> {
        if from.is_some() || to.is_some() {
            return Err(not_dir());
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return Err(Error::Unsupported(
                "exchanging two RBD images is not supported".into(),
            ));
        }
        let (name, newname) = (name_of(name)?, name_of(newname)?);
        if name == newname {
            return Ok(());
        }
        let id = self.by_name(name)?.id.clone();
        // RBD renames only onto a free name: the image in the way goes
        // first (not atomic, unlike rename(2) on a local filesystem).
        let in_the_way = match self.by_name(newname) {
            Ok(_) => true,
            Err(e) if e.errno() == Errno::ENOENT => false,
            Err(e) => return Err(e),
        };
        if in_the_way {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Error::Os {
                    op: "rename",
                    errno: Errno::EEXIST,
                });
            }
            self.remove(newname)?;
        }
        self.cluster.rename(name, newname)?;
        self.changed(&id);
        Ok(())
    }

    fn open(&self, _ctx: &Ctx, obj: &Obj, flags: i32) -> Result<StoreOpen> {
        open_vol(self.vol_rw(obj)?, flags, self.sink())
    }

    /// The note for a successor server: who this server is to Ceph (the
    /// holder of its images' locks, broken by the successor's opens).
    fn set_notes(&self, sink: crate::store::NoteSink) {
        if let Some(spill) = sink.spill {
            let _ = self.spill.set(spill);
        }
        match self.cluster.address() {
            Ok(a) => (sink.note)(a.as_bytes()),
            Err(e) => tracing::warn!(
                "a successor will wait for this server's image locks to time out: {e}"
            ),
        }
    }

    /// The previous server's Ceph client (its note) is fenced: its watches
    /// go at once, and with them its locks, also of images no handle of
    /// it was open on any more (one closing when it died).
    fn succeed(&self, note: &[u8]) {
        let dead = String::from_utf8_lossy(note);
        match self.cluster.blocklist(&dead) {
            Ok(()) => tracing::info!(client = %dead, "fenced the previous server's Ceph client"),
            Err(e) => {
                tracing::warn!(client = %dead, "cannot fence the previous server's Ceph client: {e}")
            }
        }
    }

    /// A write a crashed predecessor answered and parked: written before
    /// any request of the image is served.
    fn adopt(&self, w: ParkedWrite) -> Result<()> {
        let id = String::from_utf8(w.key.clone()).map_err(|_| stale())?;
        resend(&*self.rw(&id)?, w)
    }

    fn cache_time(&self) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn info_lines(&self) -> Vec<InfoLine> {
        vec![("source", "ceph_pool", self.place.clone())]
    }

    /// The cluster's space; inodes are not counted (listing the pool would
    /// cost as much as the pool is large).
    fn statfs(&self) -> Result<StatFs> {
        let s = self.cluster.space()?;
        Ok(StatFs::in_4k_blocks(s.total, s.avail, s.avail, 0, 0))
    }

    /// As libvirt's rbd backend: the cluster's size, the bytes the Ceph
    /// pool stores, the cluster's free space.
    fn space(&self) -> Result<Space> {
        let s = self.cluster.space()?;
        Ok(Space {
            capacity: s.total,
            allocation: self.cluster.pool_bytes()?,
            available: s.avail,
        })
    }

    fn census(&self, hidden: &dyn Fn(&str) -> bool) -> Result<(u64, Vec<String>)> {
        let (shadowed, shown): (Vec<_>, Vec<_>) = self
            .cluster
            .list()?
            .into_iter()
            .map(|(_, n)| n)
            .filter(|n| !crate::store::is_removed_name(n))
            .partition(|n| hidden(n));
        Ok((shown.len() as u64, shadowed))
    }

    /// The image's id: it stays when the image is renamed.
    fn key(&self, obj: &Obj) -> Option<NodeKey> {
        let Obj::Remote { fh, .. } = obj else {
            return None;
        };
        Some(NodeKey(fh.to_vec()))
    }

    fn reconnect(&self, key: &NodeKey, _path: &str) -> Result<Found> {
        let obj = Obj::Remote {
            fh: bytes::Bytes::from(key.0.clone()),
            is_dir: false,
        };
        let vol = self.vol(&obj)?;
        self.found(&vol)
    }

    fn facts(&self, obj: &Obj) -> Result<VolumeFacts> {
        let vol = self.vol(obj)?;
        vol.behind.settle(self.timeout)?;
        let size = vol.size()?;
        let head = vol
            .image
            .read(0, crate::volume::format::PROBE_LEN.min(size as usize))?;
        Ok(VolumeFacts {
            probe: crate::volume::format::probe(&head),
            size,
            allocated: vol.allocated(size)?,
        })
    }

    fn resize(&self, obj: &Obj, _vol: &VolumeRef, req: &ResizeRequest) -> Result<()> {
        let vol = self.vol_rw(obj)?;
        vol.behind.settle(self.timeout)?;
        let (current, target) = {
            let _g = vol.grow.lock();
            let current = vol.image.size()?;
            let target = req.plan(current, MAX_SIZE)?;
            vol.set_size(target)?;
            (current, target)
        };
        // Without the size lock: a write past the end meanwhile grows the
        // image through it, and the filling waits for writes in flight.
        if req.allocate
            && target > current
            && let Err(e) = vol.allocate(current, target, self.timeout)
        {
            let _g = vol.grow.lock();
            if vol.image.size()? == target {
                let _ = vol.set_size(current);
            }
            return Err(e);
        }
        vol.changed();
        self.changed(&vol.id);
        Ok(())
    }

    /// Fenced (another host broke a lock of this client's), the pool is
    /// `inaccessible` until it is stopped and started (a new client); a
    /// cluster that stopped answering makes it `inaccessible` until an OSD
    /// answers the probe again.
    fn health(&self) -> Option<std::result::Result<(), String>> {
        Some(if self.cluster.fenced() {
            Err("this host was fenced (another host broke its lock on an image): stop and start the pool to reconnect".into())
        } else if let Some(why) = self.cluster.down() {
            Err(format!("the Ceph cluster is not answering ({why})"))
        } else {
            Ok(())
        })
    }

    fn can_clone(&self) -> bool {
        true
    }

    /// An RBD clone: a protected snapshot of the volume now, and a new
    /// image reading through to it; nothing is copied. The snapshot goes
    /// with the last clone of it.
    fn clone_volume(&self, obj: &Obj, vol: &VolumeRef, newname: &str) -> Result<()> {
        crate::store::refuse_removed_name(OsStr::new(newname))?;
        let parent = self.vol_rw(obj)?;
        // The clone has every write answered before it.
        parent.behind.settle(self.timeout)?;
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let snap = format!("{CLONE_SNAP}{}", since.as_nanos());
        parent.image.snapshot(&snap)?;
        if let Err(e) = self.cluster.clone_image(vol.name, &snap, newname) {
            self.drop_clone_snapshot(&parent.image, &snap);
            return Err(match e.errno() {
                Errno::EEXIST => {
                    Error::Exists(format!("storage volume '{newname}' exists already"))
                }
                Errno::ENOSYS => Error::Unsupported(format!(
                    "'{}' lacks RBD's layering feature: copy it instead (vol-clone --flatten)",
                    vol.name
                )),
                _ => e,
            });
        }
        // The clone exists from here: a failure to give it its parent's
        // mode and owner leaves it root's 0600, and is logged.
        let owner = *parent.owner.lock();
        let r = self
            .cluster
            .open(newname, true)
            .and_then(Vol::open)
            .and_then(|clone| clone.set_owner(owner));
        if let Err(e) = r {
            tracing::warn!(clone = newname, "the clone keeps root's 0600: {e}");
        }
        Ok(())
    }

    fn clones(&self, obj: &Obj) -> Result<Vec<String>> {
        Ok(self.names(&self.vol(obj)?.image.children()?))
    }

    /// `parent`: the image and snapshot a clone reads through to.
    fn volume_lines(&self, obj: &Obj) -> Result<Vec<(&'static str, String)>> {
        let parent = match self.vol(obj)?.image.parent()? {
            Some((p, snap)) => format!("{}@{snap}", self.names(&[p]).join("")),
            None => "-".into(),
        };
        Ok(vec![("parent", parent)])
    }

    fn wipe(
        &self,
        obj: &Obj,
        _vol: &VolumeRef,
        alg: WipeAlgorithm,
        size: u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let vol = self.vol_rw(obj)?;
        vol.behind.settle(self.timeout)?;
        match alg {
            WipeAlgorithm::Zero | WipeAlgorithm::Trim => {
                vol.image.write_zeroes(0, size)?;
                progress(size);
            }
            _ => crate::store::overwrite(alg, size, progress, |off, buf| {
                vol.image.write(off, buf).map(drop)
            })?,
        }
        vol.changed();
        vol.image.flush()
    }
}
