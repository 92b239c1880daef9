//! The userspace NFS client behind `netfs` pools with `client = "userspace"`:
//! poolfs speaks NFS itself (the pure-Rust `nfs-rs` crate, no kernel mount,
//! no mount privileges). Why this library: docs/backends.md.
//!
//! Every call is synchronous for the namespace: a FUSE worker thread blocks
//! on the shared Tokio runtime, never holding a poolfs lock. Volume reads
//! are not waited for (`read_async`: answered from the runtime when the
//! server replies), and parked writes are sent from it. Every call is
//! bounded by the pool's `timeout`. An unanswered call or a broken connection
//! marks the client *down*; while down, calls fail at once with `EIO` (so a
//! dead server cannot pile up requests and hold every FUSE worker), and a
//! probe (an RPC NULL every second) marks it up again when the server
//! answers. The library reconnects by itself, and NFSv3 file handles stay
//! valid across a server restart, so open volumes carry on.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{BoxFuture, Shared};
use nfs_rs::{Mount, NfsError, SeekContent};
use nix::errno::Errno;
use parking_lot::Mutex;
use tokio::runtime::Runtime;

pub use super::pending::Pending;
use super::pending::Piece;
use super::status::{is_denied, server_status, status_errno};

mod reads;
mod writes;
pub use super::url::Options;
use crate::error::{Error, Result};
pub(super) use writes::WriteTo;

/// The largest piece a read is sent in (the pieces of one request go out
/// all at once), at most the server's own maximum. A FUSE request is at most
/// 1 MiB, so it is one READ where the server takes 1 MiB: several reads are
/// in flight anyway (read-ahead), and with 1 MiB read-ahead NFS-Ganesha
/// spent half the CPU on 1 GiB of reads as with 256 KiB pieces
/// (docs/performance.md, "Userspace NFS pools").
const READ_PIECE: usize = 1 << 20;

/// The largest piece a write is sent in. Buffered writes reach the daemon
/// one at a time (the kernel holds the file's lock), so a 1 MiB write sent
/// as four pieces the server works on in parallel returns sooner: 1 GiB
/// written in 4.6-5.3 s against 6.3-7.7 s as single 1 MiB WRITEs.
const WRITE_PIECE: usize = 256 << 10;

/// A READ sent ahead (`Client::read_soon`): its answer, `None` for none
/// within the timeout.
pub(super) type Fetch =
    Shared<BoxFuture<'static, Option<std::result::Result<Bytes, Arc<NfsError>>>>>;

/// How long a parked write waits before it is sent again (doubling up to
/// 2 s), and for how long at least it is sent again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
const PARKED_FOR: Duration = Duration::from_secs(60);

/// How often the probe asks the server whether it is there.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Attributes of a file on the export, as poolfs uses them.
#[derive(Debug, Clone)]
pub struct Stat {
    pub fileid: u64,
    pub fsid: u64,
    pub is_dir: bool,
    pub is_file: bool,
    pub mode: u32,
    pub nlink: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub used: u64,
    pub atime: (u32, u32),
    pub mtime: (u32, u32),
    pub ctime: (u32, u32),
}

/// A directory entry.
#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: String,
    pub stat: Stat,
}

/// Space on the export (FSSTAT).
#[derive(Debug, Clone, Copy)]
pub struct Space {
    pub total: u64,
    /// Free bytes, reserved ones included (libvirt's `available`).
    pub free: u64,
    /// Free bytes this client may allocate (`df`'s "Avail").
    pub avail: u64,
    pub files: u64,
    pub ffree: u64,
}

/// What a SETATTR changes; times are (seconds, nanoseconds).
#[derive(Debug, Default, Clone, Copy)]
pub struct SetStat {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<(u32, u32)>,
    pub mtime: Option<(u32, u32)>,
}

/// Uncommitted bytes of one open past which a COMMIT is sent behind its
/// writer's back (`Client::commit_behind`).
pub(super) const REPLAY_LIMIT: usize = 16 << 20;
/// Most uncommitted bytes one open keeps for a replay: past it, a write
/// waits for a COMMIT (one behind the writer's back fell behind or failed).
pub(super) const REPLAY_MOST: usize = 2 * REPLAY_LIMIT;

/// One connection to one export.
#[derive(Debug)]
pub struct Client {
    /// `host:/path`, for messages.
    server: String,
    /// The NFS version in use (`3`, `4`, `4.1`, `4.2`).
    version: String,
    mount: Arc<dyn Mount>,
    /// More connections for READs and WRITEs (`nconnect` beyond the first;
    /// NFSv3 only: they share no state with `mount`). Empty: `mount` alone.
    more: Vec<Arc<dyn Mount>>,
    /// The next connection a READ or WRITE goes to.
    turn: std::sync::atomic::AtomicUsize,
    rt: &'static Runtime,
    root: Bytes,
    timeout: Duration,
    /// Why the server is not answering; `None` while it answers.
    down: Mutex<Option<String>>,
    max_read: u32,
    max_write: u32,
    /// The newest write verifier seen, and where it is reported (for a
    /// successor server: see `Pending::inherited`).
    verifier: Mutex<Option<[u8; 8]>>,
    notes: std::sync::OnceLock<crate::journal::NoteSink>,
    /// When the server last answered (the send time of that request),
    /// and how many times it had been out of reach for longer than it
    /// keeps our lease: NFSv4.1 locks are only ours while it holds it.
    contact: Mutex<Contact>,
    /// The server's lease (NFSv4.1), as it said at mount time.
    lease: Option<Duration>,
    /// How long names and attributes may be cached (the pool's `cache`).
    cache: Duration,
    /// Round trips and reconnections, for the metrics.
    counters: Arc<crate::metrics::NfsCounters>,
}

#[derive(Debug, Clone, Copy)]
struct Contact {
    at: Instant,
    lapses: u64,
}

/// What a lock request got from the server.
pub enum Locked {
    /// The lock (its stateid, for LOCKU).
    Granted(Bytes),
    /// Another lock owner holds a lock in the way.
    Denied,
}

/// The runtime every NFS client shares (two worker threads: NFS replies,
/// and the answers to the kernel of reads, are small work; the waiting for
/// the namespace's calls happens in the FUSE threads).
pub(super) fn runtime() -> Result<&'static Runtime> {
    static RT: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("poolfs-nfs")
        .enable_all()
        .build()
        .map_err(Error::io("cannot start the NFS client's runtime"))?;
    Ok(RT.get_or_init(|| rt))
}

fn stat_of(a: &nfs_rs::Attr) -> Stat {
    // ftype: 1 regular file, 2 directory (NFSv3 and NFSv4 agree).
    Stat {
        fileid: a.fileid,
        fsid: a.fsid,
        is_dir: a.type_ == 2,
        is_file: a.type_ == 1,
        mode: a.file_mode & 0o7777,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        size: a.filesize,
        used: a.used,
        atime: (a.atime.seconds, a.atime.nseconds),
        mtime: (a.mtime.seconds, a.mtime.nseconds),
        ctime: (a.ctime.seconds, a.ctime.nseconds),
    }
}

fn time(t: (u32, u32)) -> nfs_rs::Time {
    nfs_rs::Time {
        seconds: t.0,
        nseconds: t.1,
    }
}

impl Client {
    /// Mounts the export (the MOUNT protocol for NFSv3, PUTROOTFH and LOOKUPs
    /// for NFSv4) and starts the health probe.
    pub fn connect(opts: &Options) -> Result<Arc<Client>> {
        let rt = runtime()?;
        let server = opts.source.clone();
        // The named version, or the best both sides speak: a refusal moves
        // down the list; a server that does not answer at all ends it.
        let mut refusals = Vec::new();
        let mut found = None;
        for version in opts.versions() {
            let url = opts.url(version)?;
            match rt.block_on(async {
                tokio::time::timeout(opts.timeout, nfs_rs::parse_url_and_mount(&url)).await
            }) {
                Ok(Ok(m)) => {
                    found = Some((Arc::<dyn Mount>::from(m), version));
                    break;
                }
                Ok(Err(e)) => {
                    tracing::debug!(%server, version, "NFS mount refused: {e}");
                    refusals.push(format!("NFSv{version}: {e}"));
                }
                Err(_) => {
                    return Err(Error::Sys {
                        what: format!(
                            "NFS server of {server} did not answer within {} s",
                            opts.timeout.as_secs()
                        ),
                        errno: Errno::EIO,
                    });
                }
            }
        }
        let Some((mount, version)) = found else {
            return Err(Error::Sys {
                what: format!("cannot mount NFS export {server}: {}", refusals.join("; ")),
                errno: Errno::EIO,
            });
        };
        tracing::info!(%server, version, "NFS export mounted");
        let more = more_connections(rt, opts, version)?;
        let root = rt.block_on(mount.getfh());
        let lease = mount
            .health()
            .lease_seconds
            .filter(|_| version.starts_with("4."))
            .map(|s| Duration::from_secs(s.into()));
        let client = Arc::new(Client {
            server,
            version: version.to_string(),
            max_read: mount.get_max_read_size().max(4096),
            max_write: mount.get_max_write_size().max(4096),
            mount,
            more,
            turn: Default::default(),
            rt,
            root,
            timeout: opts.timeout,
            down: Mutex::new(None),
            verifier: Mutex::new(None),
            notes: std::sync::OnceLock::new(),
            contact: Mutex::new(Contact {
                at: Instant::now(),
                lapses: 0,
            }),
            lease,
            cache: opts.cache,
            counters: Default::default(),
        });
        // The export's root must answer before the pool counts as started.
        client.getattr(&client.root)?;
        rt.spawn(probe(Arc::downgrade(&client)));
        Ok(client)
    }

    pub fn root(&self) -> &Bytes {
        &self.root
    }

    /// The connection for the next READ or WRITE: each in turn.
    pub(super) fn data_mount(&self) -> Arc<dyn Mount> {
        if self.more.is_empty() {
            return self.mount.clone();
        }
        let i = self.turn.fetch_add(1, Ordering::Relaxed) % (self.more.len() + 1);
        match i.checked_sub(1).and_then(|j| self.more.get(j)) {
            Some(m) => m.clone(),
            None => self.mount.clone(),
        }
    }

    /// The server answered a request sent at `sent`. A gap since the last
    /// answer longer than `lock_horizon` is a lapse: the server may have
    /// dropped our lease, and with it our locks.
    fn answered(&self, sent: Instant) {
        let mut c = self.contact.lock();
        if let Some(h) = self.lock_horizon()
            && sent.saturating_duration_since(c.at) > h
        {
            c.lapses += 1;
            tracing::warn!(
                server = %self.server,
                "the NFS server was out of reach for {} s, longer than it keeps our lease: locks held before are lost",
                sent.saturating_duration_since(c.at).as_secs()
            );
        }
        if sent > c.at {
            c.at = sent;
        }
    }

    /// How long the kernel may cache names and attributes of the export.
    pub fn cache_time(&self) -> Duration {
        self.cache
    }

    /// The server's lease (NFSv4.1); `None` without one (NFSv3).
    pub fn lease(&self) -> Option<Duration> {
        self.lease
    }

    /// How long after its last answer our locks are still surely ours:
    /// the lease (counted by the server from when it got the request, so
    /// later than our send time) less a margin.
    pub fn lock_horizon(&self) -> Option<Duration> {
        let lease = self.lease()?;
        Some(lease.saturating_sub((lease / 5).max(Duration::from_secs(2))))
    }

    /// The lapses so far (see `answered`), and whether the server is out
    /// of reach for longer than `lock_horizon` now.
    pub fn lease_lapses(&self) -> (u64, bool) {
        let c = *self.contact.lock();
        let now_lapsed = self.lock_horizon().is_some_and(|h| c.at.elapsed() > h);
        (c.lapses, now_lapsed)
    }

    /// Opens `path` (in the export) over NFSv4: locks need an open.
    pub fn open_for_locks(&self, path: &str) -> Result<()> {
        self.call("lock", self.mount.open_path(path, nfs_rs::OPEN_BOTH))
            .map(drop)
    }

    /// Closes what `open_for_locks` opened.
    pub fn close_for_locks(&self, fh: &Bytes) {
        if let Err(e) = self.call("lock", self.mount.close(fh.clone())) {
            tracing::debug!(server = %self.server, "CLOSE after unlocking: {e}");
        }
    }

    /// LOCK of `[offset, offset+length)` for lock owner `owner`; `write`:
    /// exclusive. `length` `u64::MAX`: to the end of the file.
    pub fn lock(
        &self,
        fh: &Bytes,
        owner: &[u8],
        write: bool,
        offset: u64,
        length: u64,
    ) -> Result<Locked> {
        let typ = if write { 2 } else { 1 };
        match self.call_raw(
            "lock",
            self.mount.lock_as(fh.clone(), owner, typ, offset, length),
        )? {
            Ok(stateid) => Ok(Locked::Granted(stateid)),
            Err(e) if is_denied(&e) => Ok(Locked::Denied),
            Err(e) => Err(self.error("lock", &e)),
        }
    }

    /// LOCKT: true when no other owner's lock is in the way.
    pub fn lock_free(
        &self,
        fh: &Bytes,
        owner: &[u8],
        write: bool,
        offset: u64,
        length: u64,
    ) -> Result<bool> {
        let typ = if write { 2 } else { 1 };
        match self.call_raw(
            "lock",
            self.mount
                .lock_test_as(fh.clone(), owner, typ, offset, length),
        )? {
            Ok(()) => Ok(true),
            Err(e) if is_denied(&e) => Ok(false),
            Err(e) => Err(self.error("lock", &e)),
        }
    }

    /// LOCKU of a range locked with `stateid`.
    pub fn unlock(&self, fh: &Bytes, stateid: &Bytes, offset: u64, length: u64) -> Result<()> {
        // A seqid of 0 means "the current one" in NFSv4.1 (RFC 8881
        // 8.2.2): the stateid of any earlier LOCK of the owner will do.
        let mut sid = stateid.to_vec();
        if sid.len() >= 4 {
            sid[..4].fill(0);
        }
        self.call(
            "unlock",
            self.mount
                .locku(fh.clone(), Bytes::from(sid), 2, offset, length),
        )
    }

    /// Where each new write verifier is reported.
    pub fn set_notes(&self, sink: crate::journal::NoteSink) {
        let _ = self.notes.set(sink);
    }

    /// Reports a write verifier the server gave that differs from the last.
    fn saw_verifiers(&self, acks: &[Piece]) {
        let Some(v) = acks
            .iter()
            .rev()
            .find(|(_, _, w)| w.committed != nfs_rs::WriteCommitted::FileSync)
            .and_then(|(_, _, w)| w.verifier)
        else {
            return;
        };
        let mut last = self.verifier.lock();
        if *last != Some(v) {
            *last = Some(v);
            if let Some(sink) = self.notes.get() {
                (sink.note)(&v);
            }
        }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// The NFS version in use (`3`, `4`, `4.1`, `4.2`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Round trips and reconnections so far.
    pub fn counters(&self) -> Arc<crate::metrics::NfsCounters> {
        self.counters.clone()
    }

    /// Why the server is not answering, if it is not.
    pub fn down(&self) -> Option<String> {
        self.down.lock().clone()
    }

    fn mark_down(&self, why: String) {
        let mut g = self.down.lock();
        if g.is_none() {
            tracing::error!(server = %self.server, "NFS server not answering: {why}");
        }
        *g = Some(why);
    }

    /// Runs one NFS call with the deadline; `op` names it in errors.
    fn call<T>(&self, op: &'static str, fut: impl Future<Output = nfs_rs::Result<T>>) -> Result<T> {
        self.call_raw(op, fut)?.map_err(|e| self.error(op, &e))
    }

    /// Runs one NFS call with the deadline: the outer error is a server that
    /// is down or did not answer in time, the inner one the call's own.
    fn call_raw<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = nfs_rs::Result<T>>,
    ) -> Result<nfs_rs::Result<T>> {
        // The deadline is made inside the runtime (it needs its timer).
        self.rt.block_on(self.timed(op, fut))
    }

    /// `call`, awaited on the runtime instead of waited for.
    async fn call_async<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = nfs_rs::Result<T>>,
    ) -> Result<T> {
        self.timed(op, fut).await?.map_err(|e| self.error(op, &e))
    }

    /// One NFS call with the deadline, bookkept (`call_raw`).
    async fn timed<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = nfs_rs::Result<T>>,
    ) -> Result<nfs_rs::Result<T>> {
        if let Some(why) = self.down() {
            return Err(Error::Sys {
                what: format!("NFS server of {} is not answering ({why})", self.server),
                errno: Errno::EIO,
            });
        }
        let sent = Instant::now();
        let r = tokio::time::timeout(self.timeout, fut).await.ok();
        self.settled(sent, r.as_ref());
        r.ok_or_else(|| self.no_answer(op))
    }

    /// Books the outcome of a call sent at `sent` (`None`: no answer within
    /// the timeout, so the server is down).
    fn settled<T>(&self, sent: Instant, r: Option<&nfs_rs::Result<T>>) {
        match r {
            Some(r) => {
                if r.as_ref().err().is_none_or(|e| server_status(e).is_some()) {
                    self.counters.rtt.observe(sent.elapsed());
                    self.answered(sent);
                }
            }
            None => self.mark_down(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }

    fn no_answer(&self, op: &'static str) -> Error {
        Error::Sys {
            what: format!(
                "NFS server of {} gave {op} no answer within {} s",
                self.server,
                self.timeout.as_secs()
            ),
            errno: Errno::EIO,
        }
    }

    /// One error path: NFS statuses pass through as errnos (like a syscall's);
    /// transport failures mark the server down and are `EIO` with a sentence.
    fn error(&self, op: &'static str, e: &NfsError) -> Error {
        if let Some(status) = server_status(e) {
            return Error::Os {
                op,
                errno: status_errno(&status),
            };
        }
        match e {
            NfsError::Unsupported(_) => Error::Unsupported(format!(
                "{op} is not available over this NFS server or protocol version ({e})"
            )),
            _ => {
                if e.transport_error_kind().is_some() {
                    self.mark_down(e.to_string());
                }
                Error::Sys {
                    what: format!("NFS {op} on {} failed: {e}", self.server),
                    errno: Errno::EIO,
                }
            }
        }
    }

    pub fn getattr(&self, fh: &Bytes) -> Result<Stat> {
        self.call("getattr", self.mount.getattr(fh.clone()))
            .map(|a| stat_of(&a))
    }

    pub fn lookup(&self, dir: &Bytes, name: &str) -> Result<(Bytes, Stat)> {
        let o = self.call("lookup", self.mount.lookup(dir.clone(), name))?;
        let st = match &o.attr {
            Some(a) => stat_of(a),
            None => self.getattr(&o.fh)?,
        };
        Ok((o.fh, st))
    }

    pub fn setattr(&self, fh: &Bytes, s: SetStat) -> Result<()> {
        self.call(
            "setattr",
            self.mount.setattr(
                fh.clone(),
                None,
                s.mode,
                s.uid,
                s.gid,
                s.size,
                s.atime.map(time),
                s.mtime.map(time),
            ),
        )
    }

    /// Creates a regular file (an existing name: `EEXIST`).
    pub fn create(&self, dir: &Bytes, name: &str, mode: u32) -> Result<(Bytes, Stat)> {
        match self.lookup(dir, name) {
            Ok(_) => {
                return Err(Error::Os {
                    op: "create",
                    errno: Errno::EEXIST,
                });
            }
            Err(Error::Os {
                errno: Errno::ENOENT,
                ..
            }) => {}
            Err(e) => return Err(e),
        }
        let o = self.call(
            "create",
            self.mount.create(dir.clone(), name, Some(mode & 0o7777)),
        )?;
        let st = self.getattr(&o.fh)?;
        Ok((o.fh, st))
    }

    pub fn mkdir(&self, dir: &Bytes, name: &str, mode: u32) -> Result<(Bytes, Stat)> {
        let o = self.call("mkdir", self.mount.mkdir(dir.clone(), name, mode & 0o7777))?;
        let st = self.getattr(&o.fh)?;
        Ok((o.fh, st))
    }

    pub fn remove(&self, dir: &Bytes, name: &str) -> Result<()> {
        self.call("unlink", self.mount.remove(dir.clone(), name))
    }

    pub fn rmdir(&self, dir: &Bytes, name: &str) -> Result<()> {
        self.call("rmdir", self.mount.rmdir(dir.clone(), name))
    }

    pub fn rename(&self, from: &Bytes, name: &str, to: &Bytes, newname: &str) -> Result<()> {
        self.call(
            "rename",
            self.mount.rename(from.clone(), name, to.clone(), newname),
        )
    }

    /// Every entry of a directory (without `.` and `..`).
    pub fn list(&self, dir: &Bytes) -> Result<Vec<DirEntry>> {
        let mut out = Vec::new();
        let mut pos = nfs_rs::DirectoryCookie::default();
        loop {
            let page = self.call("readdir", self.mount.readdirplus_page(dir.clone(), pos))?;
            for e in page.entries {
                if e.file_name == "." || e.file_name == ".." {
                    continue;
                }
                // A server may leave out an entry's attributes: then one
                // LOOKUP gets them.
                let stat = match &e.attr {
                    Some(a) => stat_of(a),
                    None => match self.lookup(dir, &e.file_name) {
                        Ok((_, st)) => st,
                        // Removed since the listing.
                        Err(Error::Os {
                            errno: Errno::ENOENT,
                            ..
                        }) => continue,
                        Err(e) => return Err(e),
                    },
                };
                out.push(DirEntry {
                    name: e.file_name,
                    stat,
                });
            }
            if page.eof {
                return Ok(out);
            }
            if page.next == pos {
                return Err(Error::Sys {
                    what: format!("NFS readdir on {} made no progress", self.server),
                    errno: Errno::EIO,
                });
            }
            pos = page.next;
        }
    }

    pub fn space(&self) -> Result<Space> {
        let s = self.call("statfs", self.mount.fsstat())?;
        Ok(Space {
            total: s.tbytes,
            free: s.fbytes,
            avail: s.abytes,
            files: s.tfiles,
            ffree: s.afiles,
        })
    }

    /// SEEK (NFSv4.2); `None` when the server or version does not have it.
    pub fn seek(&self, fh: &Bytes, off: u64, data: bool) -> Result<Option<(bool, u64)>> {
        let what = if data {
            SeekContent::Data
        } else {
            SeekContent::Hole
        };
        match self.call("lseek", self.mount.seek_content(fh.clone(), off, what)) {
            Ok(r) => Ok(Some((r.eof, r.offset))),
            Err(Error::Unsupported(_))
            | Err(Error::Os {
                errno: Errno::EOPNOTSUPP,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// ALLOCATE (NFSv4.2).
    pub fn allocate(&self, fh: &Bytes, off: u64, len: u64) -> Result<()> {
        self.call("fallocate", self.mount.allocate(fh.clone(), off, len))
    }

    /// DEALLOCATE (NFSv4.2): punches a hole.
    pub fn deallocate(&self, fh: &Bytes, off: u64, len: u64) -> Result<()> {
        self.call("fallocate", self.mount.deallocate(fh.clone(), off, len))
    }

    /// Each call's deadline (the pool's `timeout`).
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The largest READ the server takes.
    pub(super) fn max_read(&self) -> u32 {
        self.max_read
    }

    pub fn max_io(&self) -> usize {
        self.max_read.min(self.max_write) as usize
    }
}

impl Drop for Client {
    /// Tells the server goodbye without waiting (UMNT for NFSv3), on every
    /// connection.
    fn drop(&mut self) {
        let t = self.timeout;
        for m in std::iter::once(&self.mount).chain(&self.more) {
            let m = m.clone();
            self.rt.spawn(async move {
                let _ = tokio::time::timeout(t, m.umount()).await;
            });
        }
    }
}

/// The connections past the first that `nconnect` asks for: NFSv3 only,
/// where a connection holds no state (NFSv4.1 would need session
/// trunking, which the client lacks: one connection, and the log says so).
fn more_connections(rt: &Runtime, opts: &Options, version: &str) -> Result<Vec<Arc<dyn Mount>>> {
    let extra = usize::from(opts.nconnect.max(1)) - 1;
    if extra == 0 {
        return Ok(Vec::new());
    }
    if version != "3" {
        tracing::info!(
            server = %opts.source,
            version,
            "nconnect applies to NFSv3 only: one connection"
        );
        return Ok(Vec::new());
    }
    let url = opts.url(version)?;
    (0..extra)
        .map(|_| {
            match rt.block_on(async {
                tokio::time::timeout(opts.timeout, nfs_rs::parse_url_and_mount(&url)).await
            }) {
                Ok(Ok(m)) => Ok(Arc::<dyn Mount>::from(m)),
                Ok(Err(e)) => Err(Error::Sys {
                    what: format!(
                        "cannot open another connection to {} (nconnect): {e}",
                        opts.source
                    ),
                    errno: Errno::EIO,
                }),
                Err(_) => Err(Error::Sys {
                    what: format!(
                        "NFS server of {} did not answer within {} s (nconnect)",
                        opts.source,
                        opts.timeout.as_secs()
                    ),
                    errno: Errno::EIO,
                }),
            }
        })
        .collect()
}

/// Marks the client up or down from an RPC NULL every `PROBE_EVERY`; ends
/// with the client.
async fn probe(weak: Weak<Client>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(c) = weak.upgrade() else { return };
        let (m, t, root) = (c.mount.clone(), c.timeout, c.root.clone());
        // The other connections (nconnect) are asked too: each comes back
        // after a restart of the server before the pool says it answers.
        let more = c.more.clone();
        // NFSv4.1: a request that renews the lease (a NULL does not).
        let renews = c.lease().is_some();
        drop(c);
        let sent = Instant::now();
        let r = tokio::time::timeout(t, async {
            if renews {
                m.getattr(root).await.map(drop)
            } else {
                for m in std::iter::once(&m).chain(&more) {
                    m.null().await?;
                }
                Ok(())
            }
        })
        .await;
        let Some(c) = weak.upgrade() else { return };
        match r {
            Ok(Ok(())) => {
                c.answered(sent);
                if c.down.lock().take().is_some() {
                    c.counters.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(server = %c.server, "NFS server answers again");
                }
            }
            Ok(Err(e)) => c.mark_down(e.to_string()),
            Err(_) => c.mark_down(format!("no answer within {} s", t.as_secs())),
        }
    }
}
