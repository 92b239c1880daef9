//! Control files and pool directories: what reading shows and what writing does.
//! Parsing and rendering are pure (`control`); this file applies requests.

use std::ffi::OsStr;

use super::handles::{Ctl, Document, OpenFile, OpenKind};
use super::{Entry, Opened, PoolFs, Unique, inodes};
use crate::config::PoolDef;
use crate::control::volume::{ResizeRequest, Sign};
use crate::control::{self, Autostart, PoolFile, StatusRequest, VolFile};
use crate::error::{Error, Result};
use crate::pool::{Pool, PoolState};

/// A pool's numbers, as the metrics show them.
#[derive(Debug)]
pub struct PoolFacts {
    pub name: String,
    pub pool_type: String,
    pub state: PoolState,
    /// `None` unless running (or the store could not tell).
    pub space: Option<crate::store::Space>,
    pub volumes: Option<u64>,
    pub open_volumes: usize,
    /// The metric families its store reports (a running pool).
    pub families: Vec<crate::metrics::Family>,
}

/// The refusal of a `config` document after one of its writes was refused
/// (`why`).
fn refused_document(why: &str) -> Error {
    Error::Invalid(format!(
        "{why}; nothing of this definition is applied: write the whole of it again"
    ))
}

/// Largest `config` document one open may write.
const MAX_DOCUMENT: usize = 1 << 20;

impl PoolFs {
    pub(super) fn open_control(&self, ino: u64, ctl: Ctl, flags: i32) -> Result<Opened> {
        self.open_control_at(ino, ctl, flags, None)
    }

    /// A control file opened again for a successor server at its old handle
    /// (its text rendered anew). A `config` open that was collecting a
    /// document is not: what it wrote died with the server, and applying
    /// half a document is worse than refusing the rest (`EBADF`).
    pub(super) fn restore_control(&self, h: &crate::journal::Handle) -> Result<()> {
        let ctl = match self.node(h.ino)? {
            super::Node::PoolCtl(pool, f) => Ctl::Pool(pool, f),
            super::Node::VolCtl(o, f) => Ctl::Volume(o, f),
            _ => return Err(Error::BadHandle),
        };
        let writes = h.flags & libc::O_ACCMODE != libc::O_RDONLY;
        if writes && matches!(ctl, Ctl::Pool(_, PoolFile::Config)) {
            return Err(Error::Unsupported(
                "a config document being written when the server died is dropped".into(),
            ));
        }
        self.open_control_at(h.ino, ctl, h.flags, Some(h.fh))
            .map(drop)
    }

    fn open_control_at(&self, ino: u64, ctl: Ctl, flags: i32, at: Option<u64>) -> Result<Opened> {
        let wants_write = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let (name, writable) = match &ctl {
            Ctl::Pool(_, f) => (f.name(), f.writable()),
            Ctl::Volume(_, f) => (f.name(), f.writable()),
        };
        if wants_write && !writable {
            return Err(Error::ReadOnly(format!("'{name}' is read-only")));
        }
        let snapshot = match &ctl {
            Ctl::Pool(pool, f) => self.render_control(pool, *f),
            Ctl::Volume(o, f) => self.render_volume_control(o, *f)?,
        }
        .into_bytes();
        let document = (wants_write && matches!(ctl, Ctl::Pool(_, PoolFile::Config)))
            .then(|| parking_lot::Mutex::new(Document::default()));
        let of = OpenFile {
            ino,
            kind: OpenKind::Control {
                ctl,
                snapshot,
                document,
            },
        };
        let fh = match at {
            // Already in the journal: restored handles are not recorded again.
            Some(fh) => {
                self.handles.insert_at(fh, of);
                fh
            }
            None => {
                let fh = self.handles.insert(of);
                self.journal_open(
                    fh,
                    ino,
                    crate::journal::HandleKind::Control,
                    flags,
                    super::Ctx::default(),
                );
                fh
            }
        };
        Ok(Opened {
            fh,
            direct_io: true,
            volume: false,
            keep_cache: false,
            parallel_writes: false,
        })
    }

    fn render_control(&self, pool: &Pool, file: PoolFile) -> String {
        self.check_health(pool);
        let s = pool.snapshot();
        match file {
            PoolFile::Status => format!("{}\n", s.state.word()),
            PoolFile::Autostart => format!("{}\n", Autostart(s.autostart)),
            PoolFile::Config => s.def.shown(),
            PoolFile::Info => self.render_info(pool),
        }
    }

    /// A store that watches its storage (block devices, an NFS server)
    /// turns the pool `inaccessible` when it stops answering and back to
    /// `running` when it answers again.
    pub(super) fn check_health(&self, pool: &Pool) {
        let Some(a) = pool.active() else { return };
        match a.store.health() {
            None => {}
            Some(Ok(())) => self.reg.mark_accessible(pool),
            Some(Err(why)) => self.reg.mark_inaccessible(pool, &why),
        }
    }

    /// Every pool's numbers for the metrics, from the sources its `info`
    /// file reads (its state checked first, as a read of `info` does).
    pub fn pool_facts(&self) -> Vec<PoolFacts> {
        self.reg
            .list()
            .into_iter()
            .map(|pool| {
                self.check_health(&pool);
                let s = pool.snapshot();
                let live = matches!(s.state, PoolState::Running | PoolState::Inaccessible);
                let active = s.active.as_ref().filter(|_| live);
                PoolFacts {
                    pool_type: s.def.pool_type().to_string(),
                    state: s.state,
                    space: active.and_then(|a| a.store.space().ok()),
                    volumes: active
                        .and_then(|a| a.store.census(&control::is_reserved).ok())
                        .map(|(n, _)| n),
                    open_volumes: pool.open_volumes().len(),
                    families: active.map(|a| a.store.metrics()).unwrap_or_default(),
                    name: s.name,
                }
            })
            .collect()
    }

    /// The `info` text (SPEC 3.3): numbers as libvirt computes them.
    fn render_info(&self, pool: &Pool) -> String {
        let s = pool.snapshot();
        let dash = || "-".to_string();
        let (mut capacity, mut allocation, mut available, mut volumes, mut shadowed) =
            (dash(), dash(), dash(), dash(), dash());
        if let (Some(a), PoolState::Running | PoolState::Inaccessible) = (&s.active, s.state) {
            if let Ok(sp) = a.store.space() {
                capacity = sp.capacity.to_string();
                allocation = sp.allocation.to_string();
                available = sp.available.to_string();
            }
            if let Ok((n, hidden)) = a.store.census(&control::is_reserved) {
                volumes = n.to_string();
                if !hidden.is_empty() {
                    shadowed = hidden.join(" ");
                }
            }
        }
        let mut lines = vec![
            ("name", s.name),
            ("uuid", s.uuid),
            ("type", s.def.pool_type().to_string()),
            ("state", s.state.word().to_string()),
            ("autostart", Autostart(s.autostart).to_string()),
            ("source", s.def.source_text()),
            (
                "target",
                s.def
                    .target()
                    .map(|t| t.display().to_string())
                    .unwrap_or_else(dash),
            ),
            ("capacity", capacity),
            ("allocation", allocation),
            ("available", available),
            ("volumes", volumes),
            (
                "last_error",
                s.last_error.unwrap_or_else(dash).replace('\n', " "),
            ),
            ("shadowed", shadowed),
        ];
        // Facts of the pool's kind: what its store says while it runs,
        // else what its definition says (the NFS version it asks for).
        let mut extra = s
            .active
            .as_ref()
            .map(|a| a.store.info_lines())
            .unwrap_or_default();
        for line in s.def.info_lines() {
            if !extra.iter().any(|(_, k, _)| *k == line.1) {
                extra.push(line);
            }
        }
        // In reverse: lines that follow the same key keep their order.
        for (after, key, value) in extra.into_iter().rev() {
            let at = lines
                .iter()
                .position(|(k, _)| *k == after)
                .map_or(lines.len(), |i| i + 1);
            lines.insert(at, (key, value));
        }
        control::render_kv(&lines)
    }

    /// Takes one `write(2)` to a control file, request `u`: `config`
    /// collects it (see `control_close`), every other file applies it as
    /// one request (`apply_once`).
    pub(super) fn control_write(
        &self,
        u: Unique,
        ctl: &Ctl,
        document: Option<&parking_lot::Mutex<Document>>,
        data: &[u8],
        lock_owner: Option<u64>,
    ) -> Result<()> {
        let Some(doc) = document else {
            let done = self.apply_once(u, ctl, data);
            // A request may have made, cloned or changed volumes.
            self.overlays_changed();
            return done;
        };
        if let Ctl::Pool(pool, _) = ctl {
            self.reg.check_def_changeable(pool)?;
        }
        let mut doc = doc.lock();
        if let Some(why) = &doc.refused {
            return Err(refused_document(why));
        }
        if doc.text.len() + data.len() > MAX_DOCUMENT {
            let e = Error::TooBig(format!("a pool definition is at most {MAX_DOCUMENT} bytes"));
            doc.refused = Some(e.to_string());
            return Err(e);
        }
        doc.text.extend_from_slice(data);
        if doc.writer.is_none() {
            doc.writer = lock_owner;
        }
        // What is wrong already is refused now, at the write (the shell
        // shows it), not at the close most programs ignore.
        let checked = std::str::from_utf8(&doc.text)
            .map_err(|_| Error::Invalid("a pool definition must be UTF-8 text".into()))
            .and_then(PoolDef::check_partial);
        if let Err(e) = &checked {
            doc.refused = Some(e.to_string());
        }
        checked
    }

    /// Applies what the writes of one open of `config` collected, at its
    /// `close(2)` (the first one that has something to apply: duplicated
    /// descriptors each flush). Nothing written, nothing done.
    pub(super) fn control_close(
        &self,
        ctl: &Ctl,
        document: &parking_lot::Mutex<Document>,
    ) -> Result<()> {
        let doc = std::mem::take(&mut *document.lock());
        if let Some(why) = &doc.refused {
            return Err(refused_document(why));
        }
        if doc.text.is_empty() {
            return Ok(());
        }
        self.control_request(ctl, &doc.text)
    }

    /// A control request applied exactly once across a crash (see
    /// `recovery`): journaled before it is applied, in a form that may be
    /// applied twice, and marked done after. A resent request its
    /// predecessor finished is answered; one it began is applied again in
    /// the journaled form, and one whose effect is already there (a pool it
    /// started) succeeds.
    fn apply_once(&self, u: Unique, ctl: &Ctl, data: &[u8]) -> Result<()> {
        if self.recovery.started_before(u) {
            return Ok(());
        }
        let again = self.recovery.begun_form(u);
        let text = match &again {
            Some(t) => t.clone(),
            None => {
                let t = Self::repeatable_request(ctl, data).unwrap_or_else(|| data.to_vec());
                self.recovery.begin(u, &t);
                t
            }
        };
        match self.control_request(ctl, &text) {
            Ok(()) => crate::journal::crash_point("control-applied"),
            Err(e) if again.is_some() && Self::request_in_effect(ctl, &text) => {
                tracing::info!("a resent control write had taken effect before the crash ({e})");
            }
            Err(e) => return Err(e),
        }
        self.recovery.done(u);
        crate::journal::crash_point("control");
        Ok(())
    }

    /// A request to `ctl` in a form that gives the same result when it is
    /// applied twice, for a request a crash may cut after it took effect:
    /// a relative resize (`+5G`) becomes the capacity it aims at. `None`:
    /// the request is kept as written (already so, or it will be refused).
    fn repeatable_request(ctl: &Ctl, data: &[u8]) -> Option<Vec<u8>> {
        let Ctl::Volume(o, VolFile::Resize) = ctl else {
            return None;
        };
        let req: ResizeRequest = control::request_text(data).ok()?.parse().ok()?;
        if req.sign == Sign::Set {
            return None;
        }
        let capacity = Self::facts(o).ok()?.capacity();
        let target = match req.sign {
            Sign::Grow => capacity.checked_add(req.bytes)?,
            _ => capacity.checked_sub(req.bytes)?,
        };
        let fixed = ResizeRequest {
            sign: Sign::Set,
            bytes: target,
            ..req
        };
        Some(fixed.to_string().into_bytes())
    }

    /// True when what request `data` to `ctl` asks for already holds: a
    /// pool started or stopped, a volume at the capacity asked (for a
    /// request a crashed server may have applied; see `repeatable_request`).
    fn request_in_effect(ctl: &Ctl, data: &[u8]) -> bool {
        let Ok(text) = control::request_text(data) else {
            return false;
        };
        match ctl {
            Ctl::Pool(pool, PoolFile::Status) => match text.parse() {
                Ok(StatusRequest::Start) => pool.active().is_some(),
                Ok(StatusRequest::Stop) => pool.active().is_none(),
                _ => false,
            },
            Ctl::Volume(o, VolFile::Resize) => match text.parse::<ResizeRequest>() {
                Ok(r) if r.sign == Sign::Set => {
                    Self::facts(o).is_ok_and(|f| f.capacity() == r.bytes)
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Applies one request written to a control file.
    fn control_request(&self, ctl: &Ctl, data: &[u8]) -> Result<()> {
        let text = control::request_text(data)?;
        let (pool, file) = match ctl {
            Ctl::Pool(pool, file) => (pool, *file),
            Ctl::Volume(o, f) => return self.volume_control_write(o, *f, text),
        };
        match file {
            PoolFile::Status => match text.parse::<StatusRequest>()? {
                StatusRequest::Start => {
                    self.reg.start(pool)?;
                    // The pool directory now shows the target's attributes.
                    self.inval.send_now(super::Inval::Inode {
                        ino: inodes::pool_dir_ino(pool.id),
                    });
                    Ok(())
                }
                StatusRequest::Stop => self.reg.stop(pool, |a| {
                    self.inodes.write().drop_run(pool.id, a.run);
                    self.unwatch_run(pool.id, a.run);
                    self.overlays_dropped(pool.id, a.run);
                    self.invalidate_pool_entries(pool, a);
                }),
                StatusRequest::Refresh => {
                    self.check_health(pool);
                    if let Some(a) = pool.active() {
                        self.overlays_reread(pool.id, a.run);
                    }
                    if pool.active().is_none() {
                        return Err(Error::PoolInactive(format!(
                            "pool '{}' is not running, there is nothing to refresh",
                            pool.name()
                        )));
                    }
                    Ok(())
                }
                StatusRequest::Build { overwrite } => self.reg.build(pool, overwrite),
            },
            PoolFile::Autostart => {
                let Autostart(on) = text.parse()?;
                self.reg.set_autostart(pool, on)
            }
            PoolFile::Config => {
                let (def, uuid) = PoolDef::parse_document(text)?;
                if let Some(uuid) = uuid.filter(|u| *u != pool.uuid()) {
                    self.reg.set_uuid(pool, &uuid)?;
                    if let Some(j) = self.journal() {
                        j.pool(&uuid, pool.id);
                    }
                }
                self.reg.set_def(pool, def)
            }
            PoolFile::Info => Err(Error::ReadOnly("'info' is read-only".into())),
        }
    }

    /// `mkdir <mount>/<name>`: defines an inactive `dir` pool with the default target.
    pub(super) fn define_pool(&self, name: &OsStr) -> Result<Entry> {
        let name = name
            .to_str()
            .ok_or_else(|| Error::Invalid("a pool name must be UTF-8".into()))?;
        let target = self.reg.state_dir().default_target(name);
        let pool = self.reg.define(name, PoolDef::dir(target))?;
        if let Some(j) = self.journal() {
            j.pool(&pool.uuid(), pool.id);
        }
        self.lookup(inodes::ROOT, OsStr::new(&pool.name()))
    }

    /// `rmdir <mount>/<name>`: undefines an inactive pool; its data stays.
    pub(super) fn undefine_pool(&self, name: &OsStr) -> Result<()> {
        let pool = self
            .reg
            .get(&name.to_string_lossy())
            .ok_or_else(|| Error::NotFound("no such pool".into()))?;
        self.reg.undefine(&pool)
    }

    /// `mv <mount>/a <mount>/b`: renames an inactive pool.
    pub(super) fn rename_pool(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
    ) -> Result<()> {
        if parent != inodes::ROOT || newparent != inodes::ROOT {
            return Err(Error::CrossPool(
                "pools and volumes cannot trade places: a pool is renamed within the mount's root"
                    .into(),
            ));
        }
        let pool = self
            .reg
            .get(&name.to_string_lossy())
            .ok_or_else(|| Error::NotFound("no such pool".into()))?;
        let newname = newname
            .to_str()
            .ok_or_else(|| Error::Invalid("a pool name must be UTF-8".into()))?;
        self.reg.rename(&pool, newname)
    }
}
