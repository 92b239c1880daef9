//! The only code that touches fuser: decode a request, call the core, reply.
//!
//! Every failed request passes through [`fail`], the one place that logs a
//! failure, records a refusal as its pool's `last_error`, and turns the
//! error into an errno. Volume I/O of userspace NFS pools runs on the
//! `offload` threads, so a silent server never holds the FUSE workers.

mod offload;
pub mod session;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use fuser::{
    BackingId, CopyFileRangeFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyLock, ReplyLseek,
    ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::core::handles::{Kind, WriteClass};
use crate::core::{Attr, Cache, Ctx, Entry, Inval, Opened, PoolFs, SetAttr, Time, XattrReply};
use crate::error::Error;
use crate::metrics::Timer;
use crate::store::LockRange as Range;

/// How long the kernel may cache entries and attributes of backing objects.
const BACKING_TTL: Duration = Duration::from_secs(1);
/// The same for objects of watched local trees (`core::watch`): a change
/// behind poolfs's back is invalidated when inotify reports it; this bounds
/// what it does not report.
const WATCHED_TTL: Duration = Duration::from_secs(10);

use crate::config::IoMode;

/// Backing ids registered with the kernel for passthrough: one per open
/// volume inode, shared by all its opens, closed at its last release.
#[derive(Debug, Default)]
struct Passthrough {
    by_ino: HashMap<u64, (Registered, usize)>,
    /// Handle -> (inode, opened for writing).
    by_fh: HashMap<u64, (u64, bool)>,
    /// Writable passthrough opens per inode: their writes, and above all
    /// their mmap writes, change the backing file behind the daemon.
    writers: HashMap<u64, usize>,
}

/// A backing id this server owns, or one a predecessor registered (reused
/// at the inode's next open, closed with an ioctl at its last release).
#[derive(Debug, Clone)]
enum Registered {
    Id(Arc<BackingId>),
    Raw(u32),
}

/// One lock request (see `FuseAdapter::lock`): answered at once, or, when
/// it may wait for another owner's lock, by a thread of its own that tries
/// again until the lock is free, the process that asked is gone (`EINTR`),
/// or the request fails otherwise.
#[allow(clippy::too_many_arguments)]
fn lock_attempt(
    core: &Arc<PoolFs>,
    ino: u64,
    fh: u64,
    owner: (u64, u32),
    bsd: bool,
    r: Range,
    sleep: bool,
    pid: u32,
    reply: ReplyEmpty,
) {
    let first = core.setlk(ino, fh, owner, bsd, r);
    if !sleep || !is_errno(&first, libc::EAGAIN) {
        // A lock in the way is an answer, not a failure worth a log line.
        return match first {
            Ok(()) => reply.ok(),
            Err(_) if is_errno(&first, libc::EAGAIN) => reply.error(Errno::EAGAIN),
            Err(e) => reply.error(fail(core, "setlk", ino, &e)),
        };
    }
    let core = core.clone();
    let reply = Arc::new(Mutex::new(Some(reply)));
    let answer = reply.clone();
    let waiter = move || {
        let mut pause = Duration::from_millis(1);
        let result = loop {
            std::thread::sleep(pause);
            pause = (pause * 2).min(LOCK_RETRY);
            let r = core.setlk(ino, fh, owner, bsd, r);
            if !is_errno(&r, libc::EAGAIN) {
                break r.map_err(|e| fail(&core, "setlk", ino, &e));
            }
            let asker = nix::unistd::Pid::from_raw(pid as i32);
            if pid != 0 && nix::sys::signal::kill(asker, None) == Err(nix::errno::Errno::ESRCH) {
                break Err(Errno::EINTR);
            }
        };
        if let Some(reply) = answer.lock().take() {
            match result {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("lock-wait".into())
        .spawn(waiter)
    {
        tracing::error!("cannot start a thread to wait for a lock: {e}");
        if let Some(reply) = reply.lock().take() {
            reply.error(Errno::ENOLCK);
        }
    }
}

/// Longest pause between two tries of a lock request that waits.
const LOCK_RETRY: Duration = Duration::from_millis(50);

/// Bit 63 of a request's unique id: the kernel sends it again because the
/// server that read it died (`FUSE_NOTIFY_RESEND`).
const RESENT: u64 = 1 << 63;

/// The largest `WRITE` the kernel sends (negotiated at INIT). Each worker's
/// request buffer is this plus a page, faulted in up front
/// (`session::session_config`).
pub(crate) const MAX_WRITE: usize = 1 << 20;

#[derive(Debug)]
pub struct FuseAdapter {
    core: Arc<PoolFs>,
    io: IoMode,
    /// Negotiated at INIT: the kernel does passthrough for this session.
    passthrough: bool,
    pt: Mutex<Passthrough>,
    offload: offload::Offload,
    /// Requests a predecessor server started changing the tree (journaled
    /// intents): resent, their effect may already be there.
    started: std::collections::BTreeSet<u64>,
    /// Control writes a predecessor had begun applying and not finished,
    /// in the form it applied (journaled): resent, that form is applied.
    begun: std::collections::BTreeMap<u64, Vec<u8>>,
    /// The connection, for closing backing ids no `BackingId` owns.
    dev: Option<std::os::fd::OwnedFd>,
}

impl FuseAdapter {
    pub fn new(core: Arc<PoolFs>, io: IoMode) -> Self {
        FuseAdapter {
            core,
            io,
            passthrough: false,
            pt: Mutex::new(Passthrough::default()),
            offload: offload::Offload::default(),
            started: Default::default(),
            begun: Default::default(),
            dev: None,
        }
    }

    /// The adapter of a successor server: what INIT negotiated and the
    /// passthrough registrations of the handles the kernel holds, from the
    /// predecessor's journal (INIT is not sent again).
    pub fn resume(
        core: Arc<PoolFs>,
        io: IoMode,
        state: &crate::journal::State,
        dev: std::os::fd::OwnedFd,
    ) -> Self {
        let mut a = Self::new(core, io);
        a.passthrough = state.passthrough;
        a.core.set_io_passthrough(state.passthrough);
        a.started = state.intents.clone();
        a.begun = state.begun.clone();
        a.dev = Some(dev);
        let mut pt = a.pt.lock();
        for k in state.backing.values() {
            let e = pt.by_ino.entry(k.ino).or_insert((Registered::Raw(k.id), 0));
            e.1 += 1;
            pt.by_fh.insert(k.fh, (k.ino, k.writable));
            if k.writable {
                *pt.writers.entry(k.ino).or_insert(0) += 1;
            }
        }
        drop(pt);
        a
    }

    /// True for a request a predecessor server had started when it died:
    /// an `EEXIST` or `ENOENT` may be its own effect.
    fn started_before(&self, req: &Request) -> bool {
        let u = req.unique().0;
        u & RESENT != 0 && self.started.contains(&(u & !RESENT))
    }

    /// Runs `job`, the serving of a request on handle `fh`: off the worker
    /// threads when the handle's requests may wait on a server (a userspace
    /// NFS volume), else right here.
    /// `t` times the request until `job` has replied.
    fn serve(&self, fh: u64, t: Timer, job: impl FnOnce() + Send + 'static) {
        let job = move || {
            job();
            drop(t);
        };
        if self.core.handle_may_block(fh) {
            self.offload.run(job);
        } else {
            job();
        }
    }

    /// Times a request of `op` (for the metrics) until the timer is dropped.
    fn timed(&self, op: &'static str) -> Timer {
        self.core.requests().start(op)
    }

    /// Journals that `req` is about to change the tree.
    fn intent(&self, req: &Request) {
        if let Some(j) = self.core.journal() {
            j.intent(req.unique().0 & !RESENT);
        }
    }

    /// A lock request (`setlk`, `flock`). One kept by an NFS server is
    /// served off the workers (it may wait on the server); one that may wait
    /// for another owner (`F_SETLKW`, `flock` without `LOCK_NB`) never holds
    /// a worker either (`lock_attempt`).
    #[allow(clippy::too_many_arguments)]
    fn lock(
        &self,
        req: &Request,
        ino: u64,
        fh: u64,
        owner: (u64, u32),
        bsd: bool,
        r: Range,
        sleep: bool,
        reply: ReplyEmpty,
        t: Timer,
    ) {
        let (core, pid) = (self.core.clone(), req.pid());
        let attempt = move || lock_attempt(&core, ino, fh, owner, bsd, r, sleep, pid, reply);
        self.serve(fh, t, attempt);
    }

    /// A write to a control file: a request, applied once. It is journaled
    /// before it is applied, in a form that may be applied twice (`+5G` as
    /// the capacity it aims at), and marked done after: a resent request
    /// that its predecessor finished is answered, one it began is applied
    /// again in the journaled form, and one whose effect is already there
    /// (a pool it started) succeeds.
    #[allow(clippy::too_many_arguments)]
    fn control_write(
        &self,
        req: &Request,
        ino: u64,
        fh: u64,
        offset: u64,
        data: &[u8],
        kill: Option<Ctx>,
        reply: ReplyWrite,
    ) {
        let unique = req.unique().0 & !RESENT;
        if self.started_before(req) {
            reply.written(data.len() as u32);
            return;
        }
        let again = (req.unique().0 & RESENT != 0)
            .then(|| self.begun.get(&unique))
            .flatten();
        let text = match again {
            Some(t) => std::borrow::Cow::Borrowed(t.as_slice()),
            None => {
                let t = self.core.repeatable_request(ino, fh, data);
                let t = t.map_or(std::borrow::Cow::Borrowed(data), std::borrow::Cow::Owned);
                if let Some(j) = self.core.journal() {
                    j.begun(unique, &t);
                }
                t
            }
        };
        match self.core.write(ino, fh, offset, &text, kill, false) {
            Ok(_) => crash_point("control-applied"),
            Err(e) if again.is_some() && self.core.request_in_effect(ino, fh, &text) => {
                tracing::info!("a resent control write had taken effect before the crash ({e})");
            }
            Err(e) => {
                reply.error(self.fail("write", ino, &e));
                return;
            }
        }
        self.intent(req);
        crash_point("control");
        reply.written(data.len() as u32)
    }

    /// The backing id for a new open of volume `ino` (registering one at the
    /// inode's first open); `None` means: serve this open from the daemon.
    ///
    /// Writes through a backing file (and mmap writes above all) change its
    /// times and size without the daemon seeing them: while an inode has a
    /// writable passthrough open its attributes are never cached
    /// (`attr_ttl`), and what the kernel cached before the first such open
    /// is dropped here. Read-only opens change nothing and keep the cache.
    fn backing_for(
        &self,
        ino: u64,
        fh: u64,
        flags: i32,
        created: bool,
        register: impl FnOnce(&std::fs::File) -> std::io::Result<BackingId>,
        adopt: Option<&dyn Fn(u32) -> BackingId>,
    ) -> Option<Arc<BackingId>> {
        let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
        let (id, first_writer) = self.register_backing(ino, fh, writable, register, adopt)?;
        if let Some(j) = self.core.journal() {
            j.backing(&crate::journal::Backing {
                fh,
                ino,
                id: id.id(),
                writable,
            });
        }
        // A file created by this request has nothing cached yet.
        if first_writer && !created {
            self.core.invalidate_now(Inval::Attr { ino });
        }
        Some(id)
    }

    /// `backing_for` under the passthrough lock; `true` for an inode's
    /// first writable open.
    fn register_backing(
        &self,
        ino: u64,
        fh: u64,
        writable: bool,
        register: impl FnOnce(&std::fs::File) -> std::io::Result<BackingId>,
        adopt: Option<&dyn Fn(u32) -> BackingId>,
    ) -> Option<(Arc<BackingId>, bool)> {
        let mut pt = self.pt.lock();
        let id = match pt.by_ino.get_mut(&ino) {
            Some((Registered::Id(id), n)) => {
                *n += 1;
                id.clone()
            }
            Some((reg @ Registered::Raw(_), n)) => {
                // A predecessor's id: the inode must keep it.
                let (Registered::Raw(raw), Some(adopt)) = (reg.clone(), adopt) else {
                    return None;
                };
                let id = Arc::new(adopt(raw));
                *reg = Registered::Id(id.clone());
                *n += 1;
                id
            }
            None => {
                let id = match self.core.passthrough_file(ino) {
                    Ok(f) => register(&f).map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match id {
                    Ok(id) => {
                        let id = Arc::new(id);
                        pt.by_ino.insert(ino, (Registered::Id(id.clone()), 1));
                        id
                    }
                    Err(e) => {
                        tracing::warn!(
                            ino,
                            "kernel passthrough unavailable for this volume, the daemon serves it: {e}"
                        );
                        return None;
                    }
                }
            }
        };
        pt.by_fh.insert(fh, (ino, writable));
        let mut first_writer = false;
        if writable {
            let n = pt.writers.entry(ino).or_insert(0);
            first_writer = *n == 0;
            *n += 1;
        }
        Some((id, first_writer))
    }

    /// How long the kernel may cache attributes of `ino`: never while it is
    /// open for writing through a backing file (see `backing_for`).
    fn attr_ttl(&self, ino: u64, c: Cache) -> Duration {
        if matches!(c, Cache::Backing | Cache::Watched)
            && self.passthrough
            && self.pt.lock().writers.contains_key(&ino)
        {
            return Duration::ZERO;
        }
        ttl(c)
    }

    fn release_backing(&self, fh: u64) {
        let mut pt = self.pt.lock();
        let Some((ino, writable)) = pt.by_fh.remove(&fh) else {
            return;
        };
        if writable && let Some(n) = pt.writers.get_mut(&ino) {
            *n -= 1;
            if *n == 0 {
                pt.writers.remove(&ino);
            }
        }
        if let Some((_, n)) = pt.by_ino.get_mut(&ino) {
            *n -= 1;
            if *n == 0
                && let Some((Registered::Raw(id), _)) = pt.by_ino.remove(&ino)
                && let Some(dev) = &self.dev
                && let Err(e) = crate::sys::backing_close(dev.as_fd(), id)
            {
                tracing::warn!(ino, "cannot close a predecessor's backing id {id}: {e}");
            }
        }
    }

    fn reply_entry(&self, reply: ReplyEntry, e: &Entry) {
        let t = self.attr_ttl(e.attr.ino, e.cache);
        reply.entry(
            &t,
            &file_attr(&e.attr),
            Generation(self.core.generation_of(e.attr.ino)),
        );
    }

    fn fail(&self, op: &'static str, ino: u64, err: &Error) -> Errno {
        fail(&self.core, op, ino, err)
    }
}

/// Logs a failed request once, records refusals, and returns its errno.
fn fail(core: &PoolFs, op: &'static str, ino: u64, err: &Error) -> Errno {
    let errno = err.errno();
    core.requests().failed(op, errno as i32);
    if err.is_refusal() {
        let pool = core.pool_of(ino);
        if let Some(p) = &pool {
            p.record_error(&err.to_string());
        }
        tracing::warn!(
            op,
            pool = pool.map(|p| p.name()).unwrap_or_default(),
            errno = %errno,
            "{err}"
        );
    } else {
        tracing::debug!(op, ino, errno = %errno, "{err}");
    }
    Errno::from_i32(errno as i32)
}

/// Fault injection for the crash tests: with `POOLFS_CRASH_AFTER=<op>:<file>`
/// in the environment and `<file>` present, the server removes `<file>` and
/// aborts right after `op` took effect, before it replies: what a crash at
/// the worst moment leaves. Off unless both are set; one crash per file.
fn crash_point(op: &str) {
    static AT: std::sync::OnceLock<Option<(String, std::path::PathBuf)>> =
        std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        let v = std::env::var("POOLFS_CRASH_AFTER").ok()?;
        let (op, file) = v.split_once(':')?;
        Some((op.to_string(), file.into()))
    });
    if let Some((o, file)) = at
        && o == op
        && std::fs::remove_file(file).is_ok()
    {
        tracing::warn!("POOLFS_CRASH_AFTER: crashing after {op}, before its reply");
        std::process::abort();
    }
}

/// True when `r` failed with `errno`.
fn is_errno<T>(r: &crate::error::Result<T>, errno: i32) -> bool {
    matches!(r, Err(e) if e.errno() as i32 == errno)
}

fn ttl(c: Cache) -> Duration {
    match c {
        Cache::Backing => BACKING_TTL,
        Cache::Watched => WATCHED_TTL,
        Cache::Never => Duration::ZERO,
        Cache::For(d) => d,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.blocks,
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.ctime,
        kind: kind(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: a.blksize,
        flags: 0,
    }
}

fn kind(k: Kind) -> FileType {
    match k {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
    }
}

fn fopen(o: &Opened) -> FopenFlags {
    let mut f = FopenFlags::empty();
    if o.direct_io {
        f |= FopenFlags::FOPEN_DIRECT_IO;
    }
    if o.keep_cache {
        f |= FopenFlags::FOPEN_KEEP_CACHE;
    }
    f
}

fn ctx(req: &Request) -> Ctx {
    Ctx {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

fn time(t: Option<TimeOrNow>) -> Option<Time> {
    t.map(|t| match t {
        TimeOrNow::Now => Time::Now,
        TimeOrNow::SpecificTime(s) => Time::At(s),
    })
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Larger requests mean fewer round trips for sequential I/O.
        let _ = config.set_max_write(MAX_WRITE as u32);
        let _ = config.set_max_readahead(1 << 20);
        let _ = config.set_max_background(64);
        // File handles (open_by_handle_at, an NFS re-export) keep working
        // after the kernel forgot a node: it asks for "." and ".." by number.
        if config
            .add_capabilities(InitFlags::FUSE_EXPORT_SUPPORT)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_EXPORT_SUPPORT: file handles last only while cached"
            );
        }
        // The daemon clears set-id bits itself (on writes flagged by the
        // kernel, and on truncation by unprivileged callers); in exchange the
        // kernel marks the superblock SB_NOSEC and stops asking for
        // security.capability before every write.
        if config
            .add_capabilities(InitFlags::FUSE_HANDLE_KILLPRIV_V2)
            .is_err()
        {
            tracing::info!("kernel without FUSE_HANDLE_KILLPRIV_V2: writes cost a getxattr each");
        }
        // Asynchronous direct I/O (libaio, io_uring, qemu's aio=native) is
        // sent as it is submitted instead of one request at a time: without
        // it a QD16 O_DIRECT reader is served at QD1.
        if config.add_capabilities(InitFlags::FUSE_ASYNC_DIO).is_err() {
            tracing::info!(
                "kernel without FUSE_ASYNC_DIO: asynchronous direct I/O is served one request at a time"
            );
        }
        // Lookups and listings of one directory may run at once (the
        // kernel still serialises changes to it). The core holds no lock
        // per directory; a lookup that waits on an NFS server no longer
        // holds up every other lookup in its directory.
        if config
            .add_capabilities(InitFlags::FUSE_PARALLEL_DIROPS)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_PARALLEL_DIROPS: lookups in one directory run one at a time"
            );
        }
        // A listing followed by lookups of its entries (`ls -l`, `find
        // -size`) gets their attributes with the listing: one round trip per
        // page of entries instead of one per entry. Auto: the kernel asks for
        // them only when it sees the entries looked up after a listing.
        if config
            .add_capabilities(InitFlags::FUSE_DO_READDIRPLUS | InitFlags::FUSE_READDIRPLUS_AUTO)
            .is_err()
        {
            tracing::info!(
                "kernel without FUSE_DO_READDIRPLUS: every entry listed is looked up on its own"
            );
        }
        // Locks are served here, on the backing files (`core::locks`): they
        // then hold against processes using the backing files directly.
        for cap in [InitFlags::FUSE_POSIX_LOCKS, InitFlags::FUSE_FLOCK_LOCKS] {
            if config.add_capabilities(cap).is_err() {
                tracing::info!("kernel without {cap:?}: such locks hold on this mount only");
            }
        }
        if self.io != IoMode::Daemon {
            let root = nix::unistd::geteuid().is_root();
            match config.add_capabilities(InitFlags::FUSE_PASSTHROUGH) {
                Ok(()) if root => {
                    // Backing files on a plain filesystem; poolfs itself may be
                    // stacked under one more layer.
                    let _ = config.set_max_stack_depth(1);
                    self.passthrough = true;
                }
                _ if self.io == IoMode::Passthrough => {
                    return Err(std::io::Error::other(
                        "kernel FUSE passthrough is not available (needs Linux 6.9+ and root)",
                    ));
                }
                _ => tracing::info!(
                    "kernel FUSE passthrough not available: the daemon serves volume I/O"
                ),
            }
        }
        self.core.set_io_passthrough(self.passthrough);
        tracing::info!(passthrough = self.passthrough, "FUSE session initialised");
        Ok(())
    }

    fn getlk(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        reply: ReplyLock,
    ) {
        let t = self.timed("getlk");
        let r = Range { start, end, typ };
        let core = self.core.clone();
        let test = move || match core.getlk(ino.0, fh.0, lock_owner.0, r) {
            Ok(Some(c)) => reply.locked(c.range.start, c.range.end, c.range.typ, c.pid),
            Ok(None) => reply.locked(start, end, libc::F_UNLCK, 0),
            Err(e) => reply.error(fail(&core, "getlk", ino.0, &e)),
        };
        // An NFS server's LOCKT may wait on the server: not on a worker.
        self.serve(fh.0, t, test);
    }

    fn setlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        pid: u32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("setlk");
        let r = Range { start, end, typ };
        self.lock(
            req,
            ino.0,
            fh.0,
            (lock_owner.0, pid),
            false,
            r,
            sleep,
            reply,
            t,
        );
    }

    fn flock(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        typ: i32,
        _pid: u32,
        sleep: bool,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("flock");
        let r = Range {
            start: 0,
            end: u64::MAX,
            typ,
        };
        self.lock(
            req,
            ino.0,
            fh.0,
            (lock_owner.0, 0),
            true,
            r,
            sleep,
            reply,
            t,
        );
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let _t = self.timed("lookup");
        match self.core.lookup(parent.0, name) {
            Ok(e) => self.reply_entry(reply, &e),
            Err(e) => reply.error(self.fail("lookup", parent.0, &e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        let _t = self.timed("forget");
        self.core.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let _t = self.timed("getattr");
        match self.core.getattr(ino.0) {
            Ok(e) => reply.attr(&self.attr_ttl(ino.0, e.cache), &file_attr(&e.attr)),
            Err(e) => reply.error(self.fail("getattr", ino.0, &e)),
        }
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let _t = self.timed("setattr");
        let sa = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: time(atime),
            mtime: time(mtime),
            fh: fh.map(|f| f.0),
            caller: ctx(req),
        };
        match self.core.setattr(ino.0, sa) {
            Ok(e) => reply.attr(&self.attr_ttl(ino.0, e.cache), &file_attr(&e.attr)),
            Err(e) => reply.error(self.fail("setattr", ino.0, &e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        let _t = self.timed("mknod");
        self.intent(req);
        let mut r = self.core.mknod(ctx(req), parent.0, name, mode);
        if is_errno(&r, libc::EEXIST) && self.started_before(req) {
            r = self.core.lookup(parent.0, name);
        }
        match r {
            Ok(e) => self.reply_entry(reply, &e),
            Err(e) => reply.error(self.fail("mknod", parent.0, &e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let _t = self.timed("mkdir");
        self.intent(req);
        let mut r = self.core.mkdir(ctx(req), parent.0, name, mode);
        if is_errno(&r, libc::EEXIST) && self.started_before(req) {
            r = self.core.lookup(parent.0, name);
        }
        if r.is_ok() {
            crash_point("mkdir");
        }
        match r {
            Ok(e) => self.reply_entry(reply, &e),
            Err(e) => reply.error(self.fail("mkdir", parent.0, &e)),
        }
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _t = self.timed("unlink");
        self.intent(req);
        let r = self.core.unlink(parent.0, name);
        if r.is_ok() {
            crash_point("unlink");
        }
        match r {
            Ok(()) => reply.ok(),
            Err(_) if is_errno(&r, libc::ENOENT) && self.started_before(req) => reply.ok(),
            Err(e) => reply.error(self.fail("unlink", parent.0, &e)),
        }
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _t = self.timed("rmdir");
        self.intent(req);
        let r = self.core.rmdir(parent.0, name);
        if r.is_ok() {
            crash_point("rmdir");
        }
        match r {
            Ok(()) => reply.ok(),
            Err(_) if is_errno(&r, libc::ENOENT) && self.started_before(req) => reply.ok(),
            Err(e) => reply.error(self.fail("rmdir", parent.0, &e)),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        _name: &OsStr,
        _target: &Path,
        reply: ReplyEntry,
    ) {
        let _t = self.timed("symlink");
        let e = Error::NotPermitted("poolfs does not create symlinks".into());
        reply.error(self.fail("symlink", parent.0, &e));
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        _newparent: INodeNo,
        _newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let _t = self.timed("link");
        let e = Error::NotPermitted("poolfs does not create hard links".into());
        reply.error(self.fail("link", ino.0, &e));
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let _t = self.timed("rename");
        self.intent(req);
        let r = self
            .core
            .rename(parent.0, name, newparent.0, newname, flags.bits());
        if r.is_ok() {
            crash_point("rename");
        }
        match r {
            Ok(()) => reply.ok(),
            Err(_) if is_errno(&r, libc::ENOENT) && self.started_before(req) => reply.ok(),
            Err(e) => reply.error(self.fail("rename", parent.0, &e)),
        }
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let _t = self.timed("open");
        match self.core.open(ctx(req), ino.0, flags.0) {
            Ok(o) if o.volume && self.passthrough => {
                let adopt = |id| crate::sys::adopt_backing(&reply, id);
                let registered = self.backing_for(
                    ino.0,
                    o.fh,
                    flags.0,
                    false,
                    |f| reply.open_backing(f),
                    Some(&adopt),
                );
                match registered {
                    Some(id) => reply.opened_passthrough(FileHandle(o.fh), fopen(&o), &id),
                    None => reply.opened(FileHandle(o.fh), fopen(&o)),
                }
            }
            Ok(o) => reply.opened(FileHandle(o.fh), fopen(&o)),
            Err(e) => reply.error(self.fail("open", ino.0, &e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let t = self.timed("read");
        let core = self.core.clone();
        let job = move || match core.read(ino.0, fh.0, offset, size) {
            Ok(d) => reply.data(&d),
            Err(e) => reply.error(fail(&core, "read", ino.0, &e)),
        };
        self.serve(fh.0, t, job);
    }

    fn write(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let t = self.timed("write");
        let kill = write_flags
            .contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID)
            .then(|| ctx(req));
        let from_cache = write_flags.contains(WriteFlags::FUSE_WRITE_CACHE);
        let class = self.core.write_class(fh.0);
        if class == WriteClass::Control {
            self.control_write(req, ino.0, fh.0, offset, data, kill, reply);
            return;
        }
        if class == WriteClass::Blocking {
            let (core, data) = (self.core.clone(), data.to_vec());
            self.offload.run(move || {
                match core.write(ino.0, fh.0, offset, &data, kill, from_cache) {
                    Ok(n) => reply.written(n),
                    Err(e) => reply.error(fail(&core, "write", ino.0, &e)),
                }
                drop(t);
            });
            return;
        }
        match self.core.write(ino.0, fh.0, offset, data, kill, from_cache) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(self.fail("write", ino.0, &e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("flush");
        let core = self.core.clone();
        let close = move || {
            // The owner's POSIX locks go before close(2) returns.
            core.flush_locks(ino.0, lock_owner.0);
            match core.flush(ino.0, fh.0) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(fail(&core, "flush", ino.0, &e)),
            }
        };
        // Unlocking on an NFS server may wait on it: not on a worker.
        self.serve(fh.0, t, close);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("release");
        if self.core.handle_may_block(fh.0) {
            // The release commits what the open wrote: it may wait on the server.
            let core = self.core.clone();
            self.offload.run(move || {
                core.release(fh.0);
                reply.ok();
                drop(t);
            });
            return;
        }
        self.core.release(fh.0);
        self.release_backing(fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("fsync");
        let core = self.core.clone();
        let job = move || match core.fsync(ino.0, fh.0, datasync) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail(&core, "fsync", ino.0, &e)),
        };
        self.serve(fh.0, t, job);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let _t = self.timed("opendir");
        match self.core.opendir(ino.0) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(self.fail("opendir", ino.0, &e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let _t = self.timed("readdir");
        let listed = self.core.readdir(ino.0, fh.0, offset, |off, e| {
            reply.add(INodeNo(e.ino), off, kind(e.kind), &e.name)
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("readdir", ino.0, &e)),
        }
    }

    /// Listing and attributes in one round trip: every entry but `.` and
    /// `..` is looked up (the kernel counts it as a lookup); an entry that
    /// no longer fits in the reply is forgotten again.
    fn readdirplus(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: fuser::ReplyDirectoryPlus,
    ) {
        let _t = self.timed("readdirplus");
        let listed = self.core.readdir(ino.0, fh.0, offset, |off, e| {
            if e.name == "." || e.name == ".." {
                let Ok(a) = self.core.getattr(if e.name == "." { ino.0 } else { e.ino }) else {
                    return false;
                };
                return reply.add(
                    INodeNo(e.ino),
                    off,
                    &e.name,
                    &Duration::ZERO,
                    &file_attr(&a.attr),
                    Generation(self.core.generation_of(a.attr.ino)),
                );
            }
            // Gone since the listing was taken: leave it out.
            let Ok(entry) = self.core.lookup(ino.0, &e.name) else {
                return false;
            };
            let full = reply.add(
                INodeNo(entry.attr.ino),
                off,
                &e.name,
                &self.attr_ttl(entry.attr.ino, entry.cache),
                &file_attr(&entry.attr),
                Generation(self.core.generation_of(entry.attr.ino)),
            );
            if full {
                self.core.forget(entry.attr.ino, 1);
            }
            full
        });
        match listed {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("readdirplus", ino.0, &e)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        let _t = self.timed("releasedir");
        self.core.releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let _t = self.timed("fsyncdir");
        match self.core.fsyncdir(ino.0) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("fsyncdir", ino.0, &e)),
        }
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let _t = self.timed("statfs");
        match self.core.statfs(ino.0) {
            Ok(s) => reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
            ),
            Err(e) => reply.error(self.fail("statfs", ino.0, &e)),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let _t = self.timed("setxattr");
        match self.core.setxattr(ino.0, name, value, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("setxattr", ino.0, &e)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        let _t = self.timed("getxattr");
        match self.core.getxattr(ino.0, name, size) {
            Ok(XattrReply::Size(n)) => reply.size(n),
            Ok(XattrReply::Data(d)) => reply.data(&d),
            Err(e) => reply.error(self.fail("getxattr", ino.0, &e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _t = self.timed("listxattr");
        match self.core.listxattr(ino.0, size) {
            Ok(XattrReply::Size(n)) => reply.size(n),
            Ok(XattrReply::Data(d)) => reply.data(&d),
            Err(e) => reply.error(self.fail("listxattr", ino.0, &e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _t = self.timed("removexattr");
        match self.core.removexattr(ino.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("removexattr", ino.0, &e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let _t = self.timed("create");
        self.intent(req);
        let mut r = self.core.create(ctx(req), parent.0, name, mode, flags);
        if is_errno(&r, libc::EEXIST) && self.started_before(req) {
            // The predecessor created it: open what it made.
            r = self
                .core
                .create(ctx(req), parent.0, name, mode, flags & !libc::O_EXCL);
        }
        if r.is_ok() {
            crash_point("create");
        }
        match r {
            Ok((e, o)) => {
                let id = if o.volume && self.passthrough {
                    self.backing_for(
                        e.attr.ino,
                        o.fh,
                        flags,
                        true,
                        |f| reply.open_backing(f),
                        None,
                    )
                } else {
                    None
                };
                let (t, a, g, fh) = (
                    self.attr_ttl(e.attr.ino, e.cache),
                    file_attr(&e.attr),
                    Generation(self.core.generation()),
                    FileHandle(o.fh),
                );
                match id {
                    Some(id) => reply.created_passthrough(&t, &a, g, fh, fopen(&o), &id),
                    None => reply.created(&t, &a, g, fh, fopen(&o)),
                }
            }
            Err(e) => reply.error(self.fail("create", parent.0, &e)),
        }
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        let _t = self.timed("ioctl");
        // No ioctl is served: a plain ENOTTY and no payload (libvirt's BLKBSZGET probe).
        reply.error(Errno::ENOTTY);
    }

    /// Regular files are always ready, as on a local filesystem (the
    /// kernel's DEFAULT_POLLMASK); io_uring polls volumes before reads.
    fn poll(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _ph: fuser::PollNotifier,
        _events: fuser::PollEvents,
        _flags: fuser::PollFlags,
        reply: fuser::ReplyPoll,
    ) {
        let _t = self.timed("poll");
        use fuser::PollEvents as E;
        reply.poll(E::POLLIN | E::POLLOUT | E::POLLRDNORM | E::POLLWRNORM);
    }

    fn fallocate(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let _t = self.timed("fallocate");
        match self.core.fallocate(ino.0, fh.0, offset, length, mode) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("fallocate", ino.0, &e)),
        }
    }

    fn lseek(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: i64,
        whence: i32,
        reply: ReplyLseek,
    ) {
        let _t = self.timed("lseek");
        match self.core.lseek(ino.0, fh.0, offset, whence) {
            Ok(o) => reply.offset(o),
            Err(e) => reply.error(self.fail("lseek", ino.0, &e)),
        }
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        ino_in: INodeNo,
        fh_in: FileHandle,
        offset_in: u64,
        ino_out: INodeNo,
        fh_out: FileHandle,
        offset_out: u64,
        len: u64,
        _flags: CopyFileRangeFlags,
        reply: ReplyWrite,
    ) {
        let _t = self.timed("copy_file_range");
        match self.core.copy_file_range(
            ino_in.0, fh_in.0, offset_in, ino_out.0, fh_out.0, offset_out, len,
        ) {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => reply.error(self.fail("copy_file_range", ino_in.0, &e)),
        }
    }
}
