//! What a successor server needs to take over a live FUSE connection: the
//! numbers the kernel may still use, the handles it holds open, the backing
//! ids it was given for passthrough, and the requests under way.
//!
//! The journal lives in a memfd the keeper holds (`keeper`), so it outlives
//! the server that writes it, whatever kills that server. It is an append-only
//! log of small records written with one `pwrite` each: a server killed in the
//! middle of a record never leaves half of it (the syscall completes or does
//! not start), and the log ends at the first zero length.
//!
//! Layout: a header page (magic, format version, the session's generation
//! and negotiated passthrough, which of two regions is live), then two
//! regions of `REGION` bytes. When the live region fills past three
//! quarters, the state it describes is written compacted into the other
//! region, the header flips to it, and the old one is punched out (a memfd
//! only uses memory for what is written).
//!
//! Lock order: the journal lock is a leaf (taken with no other lock held, or
//! after all of them); it is held only across one `pwrite`, or a compaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use crate::error::{Error, Result};

pub mod spill;
use spill::{ParkedWrite, Spill};

const MAGIC: u64 = 0x706f_6f6c_6673_4a31; // "poolfsJ1"
/// Bumped when a record's layout changes or records are added. A server
/// reads journals of its version and older ones (version 2 only added
/// records to version 1) and marks what it takes over with its own version,
/// so an older binary refuses it (the upgrade is refused and the old server serves on).
/// Version 3 added `Unnumber`; version 4 the spill of parked writes
/// (`spill`), which an older server would not send; version 5 the spill's
/// small slots, after the big ones, which a version-4 server would not see.
pub const VERSION: u32 = 5;
/// The oldest version this server takes over.
const OLDEST: u32 = 1;
const HEADER: u64 = 4096;
const REGION: u64 = 256 << 20;
/// Where the spill of parked writes starts, after the two regions.
const SPILL_AT: u64 = HEADER + 2 * REGION;
/// Intents kept through a compaction: more than can be in flight at once.
const KEEP_INTENTS: usize = 4096;

/// A node number the kernel was given, and how to find its object again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub ino: u64,
    pub pool: u32,
    pub id: (u64, u64),
    pub key: Vec<u8>,
    pub path: String,
}

/// An open handle the kernel holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle {
    pub fh: u64,
    pub ino: u64,
    pub kind: HandleKind,
    pub flags: i32,
    pub uid: u32,
    pub gid: u32,
}

/// What an open handle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandleKind {
    Volume,
    Dir,
    Control,
}

impl HandleKind {
    fn code(self) -> u8 {
        match self {
            HandleKind::Volume => 0,
            HandleKind::Dir => 1,
            HandleKind::Control => 2,
        }
    }

    fn from_code(c: u8) -> Option<HandleKind> {
        Some(match c {
            0 => HandleKind::Volume,
            1 => HandleKind::Dir,
            2 => HandleKind::Control,
            _ => return None,
        })
    }
}

/// A passthrough open: its handle, inode, kernel backing id and access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backing {
    pub fh: u64,
    pub ino: u64,
    pub id: u32,
    pub writable: bool,
}

/// What INIT negotiated, in the journal's header: a successor gets no INIT.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Kernel passthrough of volume I/O.
    pub passthrough: bool,
    /// Requests travel through FUSE-over-io_uring.
    pub uring: bool,
}

/// Where `Negotiated` sits in the header: after the magic (8), the version
/// (4), the live region (4) and the generation (8).
const NEGOTIATED_AT: usize = 24;

impl Negotiated {
    fn to_byte(self) -> u8 {
        u8::from(self.passthrough) | (u8::from(self.uring) << 1)
    }

    fn from_byte(b: u8) -> Negotiated {
        Negotiated {
            passthrough: b & 1 != 0,
            uring: b & 2 != 0,
        }
    }
}

/// Everything a journal says, replayed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    pub generation: u64,
    pub passthrough: bool,
    /// INIT switched the connection to FUSE-over-io_uring.
    pub uring: bool,
    /// Pool uuid -> id (the numbers of pool directories derive from it).
    pub pools: BTreeMap<String, u32>,
    pub numbers: BTreeMap<u64, Number>,
    pub handles: BTreeMap<u64, Handle>,
    pub backing: BTreeMap<u64, Backing>,
    /// Unique ids of non-idempotent requests: tree changes about to be
    /// made, control writes applied (see `fuse`).
    pub intents: BTreeSet<u64>,
    /// Order of `intents`, oldest first (for compaction).
    intent_order: Vec<u64>,
    /// Volumes (node numbers) whose wipe was running.
    pub wipes: BTreeSet<u64>,
    /// Control writes begun and not known to be done, in the form that was
    /// applied (`PoolFs::repeatable_request`), by unique id.
    pub begun: BTreeMap<u64, Vec<u8>>,
    /// Notes of stores for their successors, by pool id (`Store::inherit`).
    pub notes: BTreeMap<u32, Vec<u8>>,
    /// The lock requests that made each lock owner's locks, in order (see
    /// `State::lock`): a successor makes them again.
    pub locks: BTreeMap<(u64, u64, bool), Vec<LockOp>>,
}

/// One lock request of an owner: the handle it came through, its range
/// (inclusive) and type (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockOp {
    pub fh: u64,
    pub start: u64,
    pub end: u64,
    pub typ: i32,
}

impl State {
    /// Adds a lock request of `owner`. An unlock drops the requests it
    /// undoes entirely, and is kept only where it still changes something,
    /// so an owner that locks and unlocks over and over does not grow it.
    fn lock(&mut self, owner: (u64, u64, bool), op: LockOp) {
        let ops = self.locks.entry(owner).or_default();
        if op.typ == libc::F_UNLCK {
            ops.retain(|o| !(o.start >= op.start && o.end <= op.end));
            if ops.iter().any(|o| o.start <= op.end && op.start <= o.end) {
                ops.push(op);
            }
            if ops.is_empty() {
                self.locks.remove(&owner);
            }
        } else {
            ops.push(op);
        }
    }
}

enum Record<'a> {
    Pool(&'a str, u32),
    Number(&'a Number),
    Open(&'a Handle),
    Release(u64),
    Backing(&'a Backing),
    Intent(u64),
    /// A wipe of volume `ino` started (`true`) or ended.
    Wipe(u64, bool),
    /// A control write about to be applied, as it is applied.
    Begun(u64, &'a [u8]),
    /// What the store of pool `id` wants its successor to know.
    Note(u32, &'a [u8]),
    /// A lock request of owner (node, owner id, BSD) that succeeded.
    Lock((u64, u64, bool), LockOp),
    /// An owner whose locks are all gone.
    Unlocked((u64, u64, bool)),
    /// A number whose object is gone.
    Unnumber(u64),
}

impl Record<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; 4];
        let put_str = |b: &mut Vec<u8>, s: &[u8]| {
            b.extend((s.len() as u32).to_le_bytes());
            b.extend(s);
        };
        match self {
            Record::Pool(uuid, id) => {
                b.push(1);
                put_str(&mut b, uuid.as_bytes());
                b.extend(id.to_le_bytes());
            }
            Record::Number(n) => {
                b.push(2);
                b.extend(n.ino.to_le_bytes());
                b.extend(n.pool.to_le_bytes());
                b.extend(n.id.0.to_le_bytes());
                b.extend(n.id.1.to_le_bytes());
                put_str(&mut b, &n.key);
                put_str(&mut b, n.path.as_bytes());
            }
            Record::Open(h) => {
                b.push(3);
                b.extend(h.fh.to_le_bytes());
                b.extend(h.ino.to_le_bytes());
                b.push(h.kind.code());
                b.extend(h.flags.to_le_bytes());
                b.extend(h.uid.to_le_bytes());
                b.extend(h.gid.to_le_bytes());
            }
            Record::Release(fh) => {
                b.push(4);
                b.extend(fh.to_le_bytes());
            }
            Record::Backing(k) => {
                b.push(5);
                b.extend(k.fh.to_le_bytes());
                b.extend(k.ino.to_le_bytes());
                b.extend(k.id.to_le_bytes());
                b.push(u8::from(k.writable));
            }
            Record::Intent(unique) => {
                b.push(6);
                b.extend(unique.to_le_bytes());
            }
            Record::Wipe(ino, running) => {
                b.push(7);
                b.extend(ino.to_le_bytes());
                b.push(u8::from(*running));
            }
            Record::Begun(unique, text) => {
                b.push(8);
                b.extend(unique.to_le_bytes());
                put_str(&mut b, text);
            }
            Record::Note(pool, note) => {
                b.push(9);
                b.extend(pool.to_le_bytes());
                put_str(&mut b, note);
            }
            Record::Lock(owner, op) => {
                b.push(10);
                b.extend(owner.0.to_le_bytes());
                b.extend(owner.1.to_le_bytes());
                b.push(u8::from(owner.2));
                b.extend(op.fh.to_le_bytes());
                b.extend(op.start.to_le_bytes());
                b.extend(op.end.to_le_bytes());
                b.extend(op.typ.to_le_bytes());
            }
            Record::Unlocked(owner) => {
                b.push(11);
                b.extend(owner.0.to_le_bytes());
                b.extend(owner.1.to_le_bytes());
                b.push(u8::from(owner.2));
            }
            Record::Unnumber(ino) => {
                b.push(12);
                b.extend(ino.to_le_bytes());
            }
        }
        let len = b.len() as u32;
        b[..4].copy_from_slice(&len.to_le_bytes());
        b
    }
}

/// Reads little-endian fields off a record's body.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

impl State {
    /// Applies one record; `None` when it does not parse (the log ends there).
    fn apply(&mut self, rec: &[u8]) -> Option<()> {
        let mut r = Reader(rec);
        match r.u8()? {
            1 => {
                let uuid = r.string()?;
                let id = r.u32()?;
                self.pools.insert(uuid, id);
            }
            2 => {
                let n = Number {
                    ino: r.u64()?,
                    pool: r.u32()?,
                    id: (r.u64()?, r.u64()?),
                    key: r.bytes()?.to_vec(),
                    path: r.string()?,
                };
                self.numbers.insert(n.ino, n);
            }
            3 => {
                let h = Handle {
                    fh: r.u64()?,
                    ino: r.u64()?,
                    kind: HandleKind::from_code(r.u8()?)?,
                    flags: r.u32()? as i32,
                    uid: r.u32()?,
                    gid: r.u32()?,
                };
                self.handles.insert(h.fh, h);
            }
            4 => {
                let fh = r.u64()?;
                self.handles.remove(&fh);
                self.backing.remove(&fh);
            }
            5 => {
                let k = Backing {
                    fh: r.u64()?,
                    ino: r.u64()?,
                    id: r.u32()?,
                    writable: r.u8()? != 0,
                };
                self.backing.insert(k.fh, k);
            }
            6 => {
                let u = r.u64()?;
                self.begun.remove(&u);
                if self.intents.insert(u) {
                    self.intent_order.push(u);
                }
            }
            7 => {
                let ino = r.u64()?;
                if r.u8()? == 1 {
                    self.wipes.insert(ino);
                } else {
                    self.wipes.remove(&ino);
                }
            }
            8 => {
                let u = r.u64()?;
                let text = r.bytes()?.to_vec();
                self.begun.insert(u, text);
            }
            9 => {
                let pool = r.u32()?;
                let note = r.bytes()?.to_vec();
                self.notes.insert(pool, note);
            }
            10 => {
                let owner = (r.u64()?, r.u64()?, r.u8()? != 0);
                let op = LockOp {
                    fh: r.u64()?,
                    start: r.u64()?,
                    end: r.u64()?,
                    typ: r.u32()? as i32,
                };
                self.lock(owner, op);
            }
            11 => {
                let owner = (r.u64()?, r.u64()?, r.u8()? != 0);
                self.locks.remove(&owner);
            }
            12 => {
                let ino = r.u64()?;
                self.numbers.remove(&ino);
            }
            _ => return None,
        }
        Some(())
    }

    /// The records that rebuild this state (pools first, then numbers,
    /// handles and backing ids; the newest intents).
    fn records(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        out.extend(
            self.pools
                .iter()
                .map(|(u, id)| Record::Pool(u, *id).encode()),
        );
        out.extend(self.numbers.values().map(|n| Record::Number(n).encode()));
        out.extend(self.handles.values().map(|h| Record::Open(h).encode()));
        out.extend(self.backing.values().map(|k| Record::Backing(k).encode()));
        out.extend(self.wipes.iter().map(|i| Record::Wipe(*i, true).encode()));
        out.extend(self.notes.iter().map(|(p, n)| Record::Note(*p, n).encode()));
        for (owner, ops) in &self.locks {
            out.extend(ops.iter().map(|op| Record::Lock(*owner, *op).encode()));
        }
        // Unique ids grow: the newest begun writes are the last ones (one
        // that failed is never marked done, so they are bounded here).
        let skip = self.begun.len().saturating_sub(KEEP_INTENTS);
        out.extend(
            self.begun
                .iter()
                .skip(skip)
                .map(|(u, t)| Record::Begun(*u, t).encode()),
        );
        let skip = self.intent_order.len().saturating_sub(KEEP_INTENTS);
        out.extend(
            self.intent_order[skip..]
                .iter()
                .map(|u| Record::Intent(*u).encode()),
        );
        out
    }
}

#[derive(Debug)]
struct Inner {
    file: File,
    /// Which region is live (0 or 1) and where the next record goes in it.
    region: u64,
    end: u64,
    /// Records could not be written (the journal is full or the memfd
    /// failed): a successor could not take over, so none should try.
    broken: bool,
}

/// The server's handle on the journal.
#[derive(Debug)]
pub struct Journal {
    inner: Mutex<Inner>,
    spill: Arc<Spill>,
    /// What a predecessor parked, until taken (`take_parked`).
    parked: Mutex<Vec<ParkedWrite>>,
}

fn io(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("journal: {what}"))(e)
}

fn region_start(region: u64) -> u64 {
    HEADER + region * REGION
}

impl Journal {
    /// A new, empty journal in `file` (the keeper's memfd) for a session of
    /// `generation`.
    pub fn create(file: File, generation: u64, init: Negotiated) -> Result<Journal> {
        file.set_len(SPILL_AT + spill::BYTES)
            .map_err(io("cannot size"))?;
        let (spill, _) = Spill::open(file.try_clone().map_err(io("cannot share"))?, SPILL_AT);
        let j = Journal {
            inner: Mutex::new(Inner {
                file,
                region: 0,
                end: 0,
                broken: false,
            }),
            spill,
            parked: Mutex::new(Vec::new()),
        };
        j.write_header(0, generation, init)?;
        Ok(j)
    }

    fn write_header(&self, region: u64, generation: u64, init: Negotiated) -> Result<()> {
        let mut h = Vec::with_capacity(32);
        h.extend(MAGIC.to_le_bytes());
        h.extend(VERSION.to_le_bytes());
        h.extend((region as u32).to_le_bytes());
        h.extend(generation.to_le_bytes());
        debug_assert_eq!(h.len(), NEGOTIATED_AT);
        h.push(init.to_byte());
        self.inner
            .lock()
            .file
            .write_all_at(&h, 0)
            .map_err(io("cannot write the header"))
    }

    /// Opens the journal a predecessor left in `file`: its state, and the
    /// journal to go on with. `Ok(None)`: the file holds no journal (the
    /// first server of a connection).
    pub fn open(file: File) -> Result<Option<(Journal, State)>> {
        let mut h = [0u8; 29];
        match file.read_exact_at(&mut h, 0) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(io("cannot read the header")(e)),
        }
        let mut r = Reader(&h);
        let (magic, version, region) = (r.u64(), r.u32(), r.u32());
        if magic != Some(MAGIC) {
            return Ok(None);
        }
        let version = version.unwrap_or_default();
        if !(OLDEST..=VERSION).contains(&version) {
            return Err(Error::Unsupported(format!(
                "the running server's state is format {version}, this poolfs reads formats {OLDEST} to {VERSION}"
            )));
        }
        let region = u64::from(region.unwrap_or_default()).min(1);
        let generation = r.u64().unwrap_or_default();
        let init = Negotiated::from_byte(r.u8().unwrap_or_default());
        let mut state = State {
            generation,
            passthrough: init.passthrough,
            uring: init.uring,
            ..State::default()
        };
        let start = region_start(region);
        let mut end = 0u64;
        let mut len = [0u8; 4];
        while end + 4 <= REGION {
            if file.read_exact_at(&mut len, start + end).is_err() {
                break;
            }
            let n = u64::from(u32::from_le_bytes(len));
            if n < 5 || end + n > REGION {
                break;
            }
            let mut rec = vec![0u8; n as usize - 4];
            if file.read_exact_at(&mut rec, start + end + 4).is_err() || state.apply(&rec).is_none()
            {
                break;
            }
            end += n;
        }
        let (spill, parked) = Spill::open(file.try_clone().map_err(io("cannot share"))?, SPILL_AT);
        let j = Journal {
            inner: Mutex::new(Inner {
                file,
                region,
                end,
                broken: false,
            }),
            spill,
            parked: Mutex::new(parked),
        };
        if version != VERSION {
            j.write_header(
                region,
                state.generation,
                Negotiated {
                    passthrough: state.passthrough,
                    uring: state.uring,
                },
            )?;
        }
        Ok(Some((j, state)))
    }

    fn append(&self, rec: Record<'_>) {
        let bytes = rec.encode();
        let mut g = self.inner.lock();
        if g.broken {
            return;
        }
        if g.end + bytes.len() as u64 > REGION * 3 / 4
            && let Err(e) = Self::compact(&mut g)
        {
            tracing::error!("{e}; a crash of this server would not be survived");
            g.broken = true;
            return;
        }
        let at = region_start(g.region) + g.end;
        match g.file.write_all_at(&bytes, at) {
            Ok(()) => g.end += bytes.len() as u64,
            Err(e) => {
                tracing::error!(
                    "journal: cannot append ({e}); a crash of this server would not be survived"
                );
                g.broken = true;
            }
        }
    }

    /// Rewrites the live state into the other region and makes it live.
    fn compact(g: &mut Inner) -> Result<()> {
        let mut state = State::default();
        let start = region_start(g.region);
        let mut buf = vec![0u8; g.end as usize];
        g.file
            .read_exact_at(&mut buf, start)
            .map_err(io("cannot read for compaction"))?;
        let mut at = 0usize;
        while at + 4 <= buf.len() {
            let n = u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            if n < 5 || at + n > buf.len() {
                break;
            }
            state.apply(&buf[at + 4..at + n]);
            at += n;
        }
        let next = 1 - g.region;
        let mut out = Vec::new();
        for r in state.records() {
            out.extend(r);
        }
        if out.len() as u64 > REGION * 3 / 4 {
            return Err(Error::NoSpace(
                "journal: the state of the open volumes outgrew the journal".into(),
            ));
        }
        punch(&g.file, region_start(next))?;
        g.file
            .write_all_at(&out, region_start(next))
            .map_err(io("cannot write the compacted state"))?;
        g.file
            .write_all_at(&(next as u32).to_le_bytes(), 12)
            .map_err(io("cannot switch regions"))?;
        punch(&g.file, region_start(g.region))?;
        g.region = next;
        g.end = out.len() as u64;
        Ok(())
    }

    pub fn pool(&self, uuid: &str, id: u32) {
        self.append(Record::Pool(uuid, id));
    }

    pub fn number(&self, n: &Number) {
        self.append(Record::Number(n));
    }

    /// Number `ino`'s object is gone: a successor need not find it again.
    pub fn unnumber(&self, ino: u64) {
        self.append(Record::Unnumber(ino));
    }

    pub fn open_handle(&self, h: &Handle) {
        self.append(Record::Open(h));
    }

    pub fn release(&self, fh: u64) {
        self.append(Record::Release(fh));
    }

    pub fn backing(&self, k: &Backing) {
        self.append(Record::Backing(k));
    }

    /// Records that a wipe of volume `ino` started or ended.
    pub fn wipe(&self, ino: u64, running: bool) {
        self.append(Record::Wipe(ino, running));
    }

    /// Records request `unique`: a tree change about to be made (create,
    /// mkdir, unlink, rmdir, rename), or a control write just applied.
    pub fn intent(&self, unique: u64) {
        self.append(Record::Intent(unique));
    }

    /// Records control write `unique` about to be applied as `text`.
    pub fn begun(&self, unique: u64, text: &[u8]) {
        self.append(Record::Begun(unique, text));
    }

    /// Records a lock request of `owner` that succeeded.
    pub fn lock(&self, owner: (u64, u64, bool), op: LockOp) {
        self.append(Record::Lock(owner, op));
    }

    /// Records that all locks of `owner` are gone.
    pub fn unlocked(&self, owner: (u64, u64, bool)) {
        self.append(Record::Unlocked(owner));
    }

    /// Where stores park writes (see `spill`).
    pub fn spill(&self) -> Arc<Spill> {
        self.spill.clone()
    }

    /// The writes a predecessor parked and did not finish (taken once).
    pub fn take_parked(&self) -> Vec<ParkedWrite> {
        std::mem::take(&mut *self.parked.lock())
    }

    /// Records the newest note of the store of pool `pool`.
    pub fn note(&self, pool: u32, note: &[u8]) {
        self.append(Record::Note(pool, note));
    }
}

/// Fault injection for the crash tests: with `POOLFS_CRASH_AFTER=<op>:<file>`
/// in the environment and `<file>` present, the server removes `<file>` and
/// aborts right after `op` took effect, before it replies: what a crash at
/// the worst moment leaves. Off unless both are set; one crash per file.
/// `write-parked`: a parked write is answered and never sent (`spill`).
pub fn crash_point(op: &str) {
    if let Some((_, file)) = crash_at().filter(|(o, _)| o == op)
        && std::fs::remove_file(file).is_ok()
    {
        tracing::warn!("POOLFS_CRASH_AFTER: crashing after {op}, before its reply");
        std::process::abort();
    }
}

fn crash_at() -> Option<&'static (String, std::path::PathBuf)> {
    static AT: OnceLock<Option<(String, std::path::PathBuf)>> = OnceLock::new();
    AT.get_or_init(|| {
        let v = std::env::var("POOLFS_CRASH_AFTER").ok()?;
        let (op, file) = v.split_once(':')?;
        Some((op.to_string(), file.into()))
    })
    .as_ref()
}

/// `crash_point(op)` may crash (a crash test set it up).
pub fn crash_armed(op: &str) -> bool {
    crash_at().is_some_and(|(o, _)| o == op)
}

/// Zeroes (and frees) one region of the memfd.
fn punch(file: &File, start: u64) -> Result<()> {
    nix::fcntl::fallocate(
        file,
        nix::fcntl::FallocateFlags::FALLOC_FL_PUNCH_HOLE
            | nix::fcntl::FallocateFlags::FALLOC_FL_KEEP_SIZE,
        start as i64,
        REGION as i64,
    )
    .map_err(Error::sys("journal: cannot clear a region"))
}

/// The handles of `state` per inode, for restoring passthrough counts.
pub fn backing_by_ino(state: &State) -> HashMap<u64, Vec<Backing>> {
    let mut m: HashMap<u64, Vec<Backing>> = HashMap::new();
    for k in state.backing.values() {
        m.entry(k.ino).or_default().push(*k);
    }
    m
}

/// True when the journal in `file` says INIT switched the connection to
/// FUSE-over-io_uring (read from the header alone, for the keeper).
pub fn on_ring(file: &File) -> bool {
    let mut h = [0u8; NEGOTIATED_AT + 1];
    file.read_exact_at(&mut h, 0).is_ok()
        && Reader(&h).u64() == Some(MAGIC)
        && Negotiated::from_byte(h[NEGOTIATED_AT]).uring
}

/// A memfd for a journal (the keeper creates it; servers inherit it).
pub fn memfd() -> Result<File> {
    nix::sys::memfd::memfd_create(c"poolfs-journal", nix::sys::memfd::MFdFlags::empty())
        .map(File::from)
        .map_err(Error::sys("cannot create the journal's memfd"))
}

/// Takes a store's notes for a successor server (see
/// `store::Store::set_notes`); they end up in the journal.
#[derive(Clone)]
pub struct NoteSink {
    pub note: Arc<NoteFn>,
    /// Where the store parks writes it answers before its backend has them.
    pub spill: Option<spill::SpillSink>,
}

type NoteFn = dyn Fn(&[u8]) + Send + Sync;

impl std::fmt::Debug for NoteSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteSink")
    }
}

#[cfg(test)]
mod tests;
