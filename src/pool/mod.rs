//! The pool registry: definitions, the state machine, open-volume accounting
//! and persistence. Policy lives here, mechanism in `kinds`.
//!
//! Lock order: `Registry::pools` before any `Pool::inner`; `Registry::persist`
//! is taken with no pool lock held. No lock is held while a backend starts,
//! stops or builds: the pool is marked (`Starting`, `Stopping`, `busy`), the
//! lock dropped, the work done, and the result recorded under the lock again.

pub mod persist;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};

use crate::config::{PoolDef, check_name};
use crate::control::is_reserved;
use crate::error::{Error, Result};
use crate::kinds;
use crate::store::Store;
use persist::{StateDir, StoredPool};

/// The word `status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolState {
    Inactive,
    Starting,
    Running,
    Stopping,
    /// Running, but the backend does not answer.
    Inaccessible,
}

impl PoolState {
    pub fn word(self) -> &'static str {
        match self {
            PoolState::Inactive => "inactive",
            PoolState::Starting => "starting",
            PoolState::Running => "running",
            PoolState::Stopping => "stopping",
            PoolState::Inaccessible => "inaccessible",
        }
    }
}

/// A running pool's data root. Nodes and handles keep the `Arc`; `run` tells
/// whether they belong to the current run of the pool.
#[derive(Debug)]
pub struct Active {
    pub run: u64,
    pub target: PathBuf,
    /// What the pool's volumes are while it runs.
    pub store: Arc<dyn Store>,
}

#[derive(Debug)]
struct Inner {
    /// Stable for the life of the definition (changed only by `set_uuid`).
    uuid: String,
    name: String,
    def: PoolDef,
    autostart: bool,
    state: PoolState,
    /// A build or another slow request is under way (the state stays as it is).
    busy: bool,
    active: Option<Arc<Active>>,
    last_error: Option<String>,
    /// Open volume handles of the current run: handle id -> volume path.
    open: BTreeMap<u64, String>,
}

impl Inner {
    /// Policy: definition changes, builds and undefines need an inactive,
    /// idle pool; `what` says what the caller should do instead.
    fn require_inactive(&self, what: &str) -> Result<()> {
        if self.busy || self.state != PoolState::Inactive {
            let now = if self.busy { "busy" } else { self.state.word() };
            return Err(Error::Busy(format!(
                "pool '{}' is {now}: {what}",
                self.name
            )));
        }
        Ok(())
    }
}

/// How long `stop` waits for releases still on their way before it
/// refuses because volumes are open.
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Waits, up to `RELEASE_GRACE`, until `active` is the last holder of its
/// run, then drops it: a request still being served or the watcher reading
/// an event holds the run's store (its descriptors in the target) for a
/// moment after the run was released, and an unmount would find it busy.
/// A holder that outlasts the grace (a request waiting on a server) is left
/// to the backend's stop, which refuses then if it must.
fn until_unshared(active: Arc<Active>) {
    let deadline = std::time::Instant::now() + RELEASE_GRACE;
    while Arc::strong_count(&active) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    if Arc::strong_count(&active) > 1 {
        tracing::warn!(
            holders = Arc::strong_count(&active) - 1,
            "the pool's run is still in use after {RELEASE_GRACE:?}: stopping its backend anyway"
        );
    }
}

/// One defined pool.
#[derive(Debug)]
pub struct Pool {
    /// Never reused while the daemon runs; synthetic inode numbers derive from it.
    pub id: u32,
    inner: Mutex<Inner>,
}

/// What `info`, `status` and the namespace read of a pool, taken at once.
#[derive(Debug, Clone)]
pub struct PoolSnapshot {
    pub name: String,
    pub uuid: String,
    pub def: PoolDef,
    pub autostart: bool,
    pub state: PoolState,
    pub active: Option<Arc<Active>>,
    pub last_error: Option<String>,
}

impl Pool {
    pub fn snapshot(&self) -> PoolSnapshot {
        let g = self.inner.lock();
        PoolSnapshot {
            name: g.name.clone(),
            uuid: g.uuid.clone(),
            def: g.def.clone(),
            autostart: g.autostart,
            state: g.state,
            active: g.active.clone(),
            last_error: g.last_error.clone(),
        }
    }

    pub fn state(&self) -> PoolState {
        self.inner.lock().state
    }

    pub fn name(&self) -> String {
        self.inner.lock().name.clone()
    }

    pub fn uuid(&self) -> String {
        self.inner.lock().uuid.clone()
    }

    /// The data root while the pool runs.
    pub fn active(&self) -> Option<Arc<Active>> {
        let g = self.inner.lock();
        match g.state {
            PoolState::Running | PoolState::Inaccessible => g.active.clone(),
            _ => None,
        }
    }

    /// True while `run` is the pool's current run.
    pub fn is_current(&self, run: u64) -> bool {
        self.inner
            .lock()
            .active
            .as_ref()
            .is_some_and(|a| a.run == run)
    }

    /// Counts an open volume handle, so `stop` can refuse while it exists.
    pub fn register_open(&self, fh: u64, path: &str, run: u64) -> Result<()> {
        let mut g = self.inner.lock();
        if g.active.as_ref().is_none_or(|a| a.run != run) || g.state != PoolState::Running {
            return Err(Error::NotFound(format!(
                "pool '{}' is not running, its volumes cannot be opened",
                g.name
            )));
        }
        g.open.insert(fh, path.to_string());
        Ok(())
    }

    /// Paths of the volumes open now (sorted, each once).
    pub fn open_volumes(&self) -> Vec<String> {
        let g = self.inner.lock();
        let mut names: Vec<String> = g.open.values().cloned().collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn release_open(&self, fh: u64) {
        self.inner.lock().open.remove(&fh);
    }

    /// Records a refusal as the pool's `last_error`.
    pub fn record_error(&self, msg: &str) {
        self.inner.lock().last_error = Some(msg.to_string());
    }
}

/// All defined pools, their persistence, and the transitions between states.
#[derive(Debug)]
pub struct Registry {
    state_dir: StateDir,
    pools: RwLock<BTreeMap<String, Arc<Pool>>>,
    next_id: AtomicU32,
    next_run: AtomicU64,
    /// Serialises writes of the run state so they land in order.
    persist: Mutex<()>,
    /// Where the stores of running pools send notes for a successor
    /// server (`Store::set_notes`); set once the journal exists.
    notes: RwLock<Option<PoolNotes>>,
    /// This daemon's persistent identity (`StateDir::host_id`).
    host_id: String,
}

/// Takes stores' notes, with the id of their pool, and where they park
/// writes (`store::Spill`).
#[derive(Clone)]
pub struct PoolNotes {
    pub note: Arc<PoolNoteFn>,
    pub spill: Option<Arc<crate::store::Spill>>,
}

type PoolNoteFn = dyn Fn(u32, &[u8]) + Send + Sync;

impl std::fmt::Debug for PoolNotes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PoolNotes")
    }
}

impl Registry {
    /// This daemon's persistent identity (`StateDir::host_id`).
    pub fn host_id(&self) -> &str {
        &self.host_id
    }

    /// Loads every stored definition. With none stored at all, defines the
    /// autostart `dir` pool `default` under the state directory.
    pub fn load(state_dir: StateDir) -> Result<Registry> {
        Self::load_with_ids(state_dir, &BTreeMap::new())
    }

    /// `load`, giving each pool whose uuid is in `ids` that id (what a
    /// predecessor server gave it: the kernel knows its directory by a
    /// number derived from it); other pools get ids above all of those.
    pub fn load_with_ids(state_dir: StateDir, ids: &BTreeMap<String, u32>) -> Result<Registry> {
        state_dir.ensure()?;
        let (stored, bad) = state_dir.load_pools()?;
        for msg in &bad {
            tracing::error!("{msg}");
        }
        let host_id = state_dir.host_id()?;
        let reg = Registry {
            state_dir,
            pools: RwLock::new(BTreeMap::new()),
            next_id: AtomicU32::new(ids.values().max().map_or(0, |m| m + 1)),
            next_run: AtomicU64::new(1),
            persist: Mutex::new(()),
            notes: RwLock::new(None),
            host_id,
        };
        for (name, sp) in stored {
            let id = ids.get(&sp.uuid).copied();
            reg.insert_with(name, sp.uuid, sp.pool, sp.autostart, id);
        }
        if reg.pools.read().is_empty() && bad.is_empty() {
            let target = reg.state_dir.default_target("default");
            reg.define("default", PoolDef::dir(target.clone()))?;
            if let Some(p) = reg.get("default") {
                reg.set_autostart(&p, true)?;
            }
            kinds::for_def(&PoolDef::dir(target))?.build(false)?;
            tracing::info!("defined the default pool");
        }
        Ok(reg)
    }

    fn insert_with(
        &self,
        name: String,
        uuid: String,
        def: PoolDef,
        autostart: bool,
        id: Option<u32>,
    ) -> Arc<Pool> {
        let pool = self.new_pool(&name, uuid, def, autostart, id);
        self.pools.write().insert(name, pool.clone());
        pool
    }

    fn new_pool(
        &self,
        name: &str,
        uuid: String,
        def: PoolDef,
        autostart: bool,
        id: Option<u32>,
    ) -> Arc<Pool> {
        Arc::new(Pool {
            id: id.unwrap_or_else(|| self.next_id.fetch_add(1, Ordering::Relaxed)),
            inner: Mutex::new(Inner {
                uuid,
                name: name.to_string(),
                def,
                autostart,
                state: PoolState::Inactive,
                busy: false,
                active: None,
                last_error: None,
                open: BTreeMap::new(),
            }),
        })
    }

    pub fn state_dir(&self) -> &StateDir {
        &self.state_dir
    }

    pub fn get(&self, name: &str) -> Option<Arc<Pool>> {
        self.pools.read().get(name).cloned()
    }

    pub fn by_id(&self, id: u32) -> Option<Arc<Pool>> {
        self.pools.read().values().find(|p| p.id == id).cloned()
    }

    /// All pools, by name.
    pub fn list(&self) -> Vec<Arc<Pool>> {
        self.pools.read().values().cloned().collect()
    }

    /// Defines a new, inactive pool.
    pub fn define(&self, name: &str, def: PoolDef) -> Result<Arc<Pool>> {
        check_name(name)?;
        if is_reserved(name) {
            return Err(Error::Invalid(format!("'{name}' is a reserved name")));
        }
        def.validate()?;
        let uuid = uuid::Uuid::new_v4().to_string();
        let mut pools = self.pools.write();
        if pools.contains_key(name) {
            return Err(Error::Exists(format!("pool '{name}' already exists")));
        }
        self.state_dir.save_pool(
            name,
            &StoredPool {
                uuid: uuid.clone(),
                autostart: false,
                pool: def.clone(),
            },
        )?;
        let pool = self.new_pool(name, uuid, def, false, None);
        pools.insert(name.to_string(), pool.clone());
        Ok(pool)
    }

    fn store(&self, pool: &Pool) -> Result<()> {
        let s = pool.snapshot();
        self.state_dir.save_pool(
            &s.name,
            &StoredPool {
                uuid: s.uuid,
                autostart: s.autostart,
                pool: s.def,
            },
        )
    }

    pub fn set_autostart(&self, pool: &Pool, on: bool) -> Result<()> {
        let old = std::mem::replace(&mut pool.inner.lock().autostart, on);
        if let Err(e) = self.store(pool) {
            pool.inner.lock().autostart = old;
            return Err(e);
        }
        Ok(())
    }

    /// Replaces the definition of an inactive pool (already validated).
    /// Gives an inactive pool another uuid (an import keeping libvirt's),
    /// unless another pool has it.
    pub fn set_uuid(&self, pool: &Pool, uuid: &str) -> Result<()> {
        let pools = self.pools.read();
        if let Some(other) = pools.values().find(|p| p.id != pool.id && p.uuid() == uuid) {
            return Err(Error::Exists(format!(
                "pool '{}' already has uuid {uuid}",
                other.name()
            )));
        }
        let old = {
            let mut g = pool.inner.lock();
            g.require_inactive("its uuid can only change while it is inactive")?;
            std::mem::replace(&mut g.uuid, uuid.to_string())
        };
        drop(pools);
        if let Err(e) = self.store(pool) {
            pool.inner.lock().uuid = old;
            return Err(e);
        }
        Ok(())
    }

    pub fn set_def(&self, pool: &Pool, mut def: PoolDef) -> Result<()> {
        let old = {
            let mut g = pool.inner.lock();
            g.require_inactive("its definition can only change while it is inactive")?;
            def.keep_secret(&g.def);
            std::mem::replace(&mut g.def, def)
        };
        if let Err(e) = self.store(pool) {
            pool.inner.lock().def = old;
            return Err(e);
        }
        Ok(())
    }

    /// The check `set_def` makes, on its own: a `config` document is refused
    /// at its first `write(2)` when it could not be applied at close anyway.
    pub fn check_def_changeable(&self, pool: &Pool) -> Result<()> {
        pool.inner
            .lock()
            .require_inactive("its definition can only change while it is inactive")
    }

    /// Forgets an inactive pool's definition; its data is never touched.
    pub fn undefine(&self, pool: &Pool) -> Result<()> {
        let mut pools = self.pools.write();
        let g = pool.inner.lock();
        g.require_inactive("stop it before undefining it")?;
        self.state_dir.remove_pool(&g.name)?;
        pools.remove(&g.name);
        tracing::info!(pool = %g.name, "pool undefined");
        Ok(())
    }

    /// Renames an inactive pool.
    pub fn rename(&self, pool: &Pool, new: &str) -> Result<()> {
        check_name(new)?;
        let mut pools = self.pools.write();
        let mut g = pool.inner.lock();
        if g.name == new {
            return Ok(());
        }
        g.require_inactive("stop it before renaming it")?;
        if pools.contains_key(new) {
            return Err(Error::Exists(format!("pool '{new}' already exists")));
        }
        let stored = StoredPool {
            uuid: g.uuid.clone(),
            autostart: g.autostart,
            pool: g.def.clone(),
        };
        self.state_dir.save_pool(new, &stored)?;
        self.state_dir.remove_pool(&g.name)?;
        if let Some(p) = pools.remove(&g.name) {
            pools.insert(new.to_string(), p);
        }
        g.name = new.to_string();
        Ok(())
    }

    /// Starts a pool. Starting a running pool succeeds and changes nothing.
    pub fn start(&self, pool: &Pool) -> Result<()> {
        let def = {
            let mut g = pool.inner.lock();
            if g.busy {
                return Err(Error::Busy(format!(
                    "pool '{}' is busy with another request",
                    g.name
                )));
            }
            match g.state {
                PoolState::Running | PoolState::Inaccessible => return Ok(()),
                PoolState::Starting | PoolState::Stopping => {
                    return Err(Error::Busy(format!(
                        "pool '{}' is {}, try again when it is done",
                        g.name,
                        g.state.word()
                    )));
                }
                PoolState::Inactive => {}
            }
            g.state = PoolState::Starting;
            g.def.clone()
        };
        // No lock held from here until the result is recorded.
        let result = self.open_target(&def, &pool.uuid());
        if let (Ok(active), Some(sink)) = (&result, self.notes.read().clone()) {
            // A new run: notes of an earlier one no longer apply.
            (sink.note)(pool.id, &[]);
            attach_notes(&sink, pool.id, &active.store);
        }
        let mut g = pool.inner.lock();
        match result {
            Ok(active) => {
                g.state = PoolState::Running;
                g.active = Some(active);
                g.open.clear();
                tracing::info!(pool = %g.name, "pool started");
                drop(g);
                self.save_running();
                Ok(())
            }
            Err(e) => {
                g.state = PoolState::Inactive;
                g.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Stops a pool; refused while any of its volumes is open. `release`
    /// runs once the pool is marked `stopping` and before the backend stops:
    /// the namespace drops every descriptor it holds in the pool (an unmount
    /// would find them busy).
    pub fn stop(&self, pool: &Pool, release: impl FnOnce(&Active)) -> Result<()> {
        // The kernel sends a file's RELEASE after close(2) has returned, and
        // a userspace NFS volume commits there: a stop right after the last
        // close (qemu exits, then the pool stops) waits for those first.
        let deadline = std::time::Instant::now() + RELEASE_GRACE;
        while !pool.inner.lock().open.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let (def, active) = {
            let mut g = pool.inner.lock();
            if g.busy {
                return Err(Error::Busy(format!(
                    "pool '{}' is busy with another request",
                    g.name
                )));
            }
            match g.state {
                PoolState::Inactive => return Ok(()),
                PoolState::Starting | PoolState::Stopping => {
                    return Err(Error::Busy(format!(
                        "pool '{}' is {}, try again when it is done",
                        g.name,
                        g.state.word()
                    )));
                }
                PoolState::Running | PoolState::Inaccessible => {}
            }
            if !g.open.is_empty() {
                let mut names: Vec<&str> = g.open.values().map(String::as_str).collect();
                names.sort_unstable();
                names.dedup();
                return Err(Error::Busy(format!(
                    "pool '{}' cannot stop while volumes are open: {}",
                    g.name,
                    names.join(", ")
                )));
            }
            g.state = PoolState::Stopping;
            (g.def.clone(), g.active.take())
        };
        if let Some(a) = active {
            release(&a);
            until_unshared(a);
        }
        let result = kinds::for_def(&def).and_then(|b| b.stop());
        match result {
            Ok(()) => {
                let mut g = pool.inner.lock();
                g.state = PoolState::Inactive;
                tracing::info!(pool = %g.name, "pool stopped");
                drop(g);
                self.save_running();
                Ok(())
            }
            Err(e) => {
                // The backend still holds the storage (e.g. an unmount found
                // the target busy): the pool runs on, in a new run (starting
                // a started backend changes nothing and opens its store).
                let reopened = self.open_target(&def, &pool.uuid());
                let mut g = pool.inner.lock();
                g.last_error = Some(e.to_string());
                match reopened {
                    Ok(a) => {
                        g.state = PoolState::Running;
                        g.active = Some(a);
                    }
                    Err(_) => g.state = PoolState::Inactive,
                }
                Err(e)
            }
        }
    }

    /// Starts a pool's backend (idempotent) and keeps its store as the data
    /// root of a new run.
    fn open_target(&self, def: &PoolDef, uuid: &str) -> Result<Arc<Active>> {
        let mut b = kinds::for_def(def)?;
        b.set_identity(format!("poolfs-{}-{uuid}", self.host_id));
        let store = b.start()?;
        Ok(Arc::new(Active {
            run: self.next_run.fetch_add(1, Ordering::Relaxed),
            target: b.target().to_path_buf(),
            store,
        }))
    }

    /// Marks a running pool `inaccessible` (its backend stopped answering).
    pub fn mark_inaccessible(&self, pool: &Pool, why: &str) {
        let mut g = pool.inner.lock();
        if g.state == PoolState::Running {
            g.state = PoolState::Inaccessible;
            g.last_error = Some(why.to_string());
            tracing::error!(pool = %g.name, "pool inaccessible: {why}");
        }
    }

    /// Back to `running` once the backend answers again.
    pub fn mark_accessible(&self, pool: &Pool) {
        let mut g = pool.inner.lock();
        if g.state == PoolState::Inaccessible {
            g.state = PoolState::Running;
            tracing::info!(pool = %g.name, "pool accessible again");
        }
    }

    /// Prepares the backend; refused while the pool runs or is busy.
    pub fn build(&self, pool: &Pool, overwrite: bool) -> Result<()> {
        let def = {
            let mut g = pool.inner.lock();
            g.require_inactive("it can only be built while inactive")?;
            g.busy = true;
            g.def.clone()
        };
        let result = kinds::for_def(&def).and_then(|b| b.build(overwrite));
        let mut g = pool.inner.lock();
        g.busy = false;
        if let Err(e) = &result {
            g.last_error = Some(e.to_string());
        }
        result
    }

    /// Writes the set of running pools (restored at the next start).
    fn save_running(&self) {
        let _order = self.persist.lock();
        let running: Vec<String> = self
            .list()
            .iter()
            .filter_map(|p| {
                let g = p.inner.lock();
                matches!(g.state, PoolState::Running | PoolState::Inaccessible)
                    .then(|| g.name.clone())
            })
            .collect();
        if let Err(e) = self.state_dir.save_running(running) {
            tracing::error!("cannot record the running pools: {e}");
        }
    }

    /// Starts the pools that ran before and the autostart pools.
    pub fn restore(&self) {
        self.restore_runs(true);
    }

    /// After a server's crash or upgrade: exactly the pools that ran start
    /// again (autostart is for a daemon's start, not for a takeover: a pool
    /// stopped on purpose stays stopped).
    /// Sends the notes of running pools' stores, and of pools started
    /// later, to `sink`.
    pub fn set_notes(&self, sink: PoolNotes) {
        *self.notes.write() = Some(sink.clone());
        for p in self.list() {
            if let Some(a) = p.active() {
                attach_notes(&sink, p.id, &a.store);
            }
        }
    }

    pub fn resume(&self) {
        self.restore_runs(false);
    }

    fn restore_runs(&self, autostart: bool) {
        let running = match self.state_dir.load_running() {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}; only autostart pools start");
                Vec::new()
            }
        };
        for pool in self.list() {
            let s = pool.snapshot();
            if ((autostart && s.autostart) || running.contains(&s.name))
                && let Err(e) = self.start(&pool)
            {
                tracing::error!(pool = %s.name, "cannot start pool: {e}");
            }
        }
    }
}

fn attach_notes(sink: &PoolNotes, id: u32, store: &Arc<dyn Store>) {
    let sink = sink.clone();
    let spill = sink
        .spill
        .clone()
        .map(|spill| crate::store::SpillSink { spill, pool: id });
    store.set_notes(crate::store::NoteSink {
        note: Arc::new(move |note: &[u8]| (sink.note)(id, note)),
        spill,
    });
}
