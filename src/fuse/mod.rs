//! The only code that touches fuser: decode a request, call the core, reply.
//!
//! Every failed request passes through `convert::fail`, the one place that logs a
//! failure, records a refusal as its pool's `last_error`, and turns the
//! error into an errno. Volume I/O of userspace NFS and rbd pools that
//! waits on a server runs on the `offload` threads of its pool, so a silent
//! server never holds the FUSE workers, nor the threads of other pools.

mod convert;
mod init;
mod locks;
mod offload;
mod passthrough;
pub mod session;

use convert::{ctx, fail, file_attr, fopen, kind, time, unique};
use passthrough::Passthrough;

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use fuser::{
    CopyFileRangeFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyLock, ReplyLseek, ReplyOpen, ReplyStatfs,
    ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::core::{Entry, Handle, PoolFs, SetAttr, Writer, XattrReply};
use crate::error::Error;
use crate::metrics::Timer;
use crate::store::LockRange as Range;
use crate::store::{ReadDone, WriteDone};

use crate::config::{IoMode, Transport};

/// The largest `WRITE` the kernel sends (negotiated at INIT). Each worker's
/// request buffer is this plus a page, faulted in up front
/// (`session::session_config`).
pub(crate) const MAX_WRITE: usize = 1 << 20;

/// The largest read-ahead the kernel may ask for (INIT's `max_readahead`).
pub(crate) const MAX_READAHEAD: u32 = 1 << 20;

#[derive(Debug)]
pub struct FuseAdapter {
    core: Arc<PoolFs>,
    io: IoMode,
    transport: Transport,
    /// Negotiated at INIT: the kernel does passthrough for this session.
    passthrough: bool,
    pt: Mutex<Passthrough>,
    offload: offload::Offload,
    /// The connection, for closing backing ids no `BackingId` owns.
    dev: Option<std::os::fd::OwnedFd>,
}

impl FuseAdapter {
    pub fn new(core: Arc<PoolFs>, io: IoMode, transport: Transport) -> Self {
        FuseAdapter {
            core,
            io,
            transport,
            passthrough: false,
            pt: Mutex::new(Passthrough::default()),
            offload: offload::Offload::default(),
            dev: None,
        }
    }

    /// The adapter of a successor server: what INIT negotiated and the
    /// passthrough registrations of the handles the kernel holds, as the
    /// predecessor left them (INIT is not sent again).
    pub fn resume(
        core: Arc<PoolFs>,
        io: IoMode,
        transport: Transport,
        dev: std::os::fd::OwnedFd,
    ) -> Self {
        let mut a = Self::new(core, io, transport);
        let inherited = a.core.inherited().unwrap_or_default();
        a.passthrough = inherited.passthrough;
        a.core.set_io_passthrough(inherited.passthrough);
        a.core.set_io_uring(inherited.uring);
        a.dev = Some(dev);
        a.pt.lock().inherit(&inherited.backing);
        a
    }

    /// Runs `job`, the serving of a request on handle `fh`: off the worker
    /// threads, on those of its pool, when the handle's requests may wait
    /// on a server (`remote`: that pool), else right here.
    /// `t` times the request until `job` has replied.
    fn serve(&self, remote: Option<u32>, t: Timer, job: impl FnOnce() + Send + 'static) {
        let job = move || {
            job();
            drop(t);
        };
        match remote {
            Some(pool) => self.offload.run(pool, job),
            None => job(),
        }
    }

    /// Times a request of `op` (for the metrics) until the timer is dropped.
    fn timed(&self, op: &'static str) -> Timer {
        self.core.requests().start(op)
    }

    fn reply_entry(&self, reply: ReplyEntry, e: &Entry) {
        let t = self.attr_ttl(e.attr.ino, e.cache);
        reply.entry(
            &t,
            &file_attr(&e.attr),
            Generation(self.core.generation_of(e.attr.ino)),
        );
    }

    /// The handle a request names, looked up once (see `PoolFs::handle`).
    fn handle(&self, op: &'static str, ino: INodeNo, fh: FileHandle) -> Result<Handle, Errno> {
        self.core
            .handle(ino.0, fh.0)
            .map_err(|e| self.fail(op, ino.0, &e))
    }

    /// The pool of a handle whose requests may wait on a server: the lock
    /// and release requests, which look it up again themselves, are served
    /// off the workers, on threads of that pool.
    fn remote(&self, ino: INodeNo, fh: FileHandle) -> Option<u32> {
        self.core
            .handle(ino.0, fh.0)
            .ok()
            .and_then(|h| h.remote_pool())
    }

    fn fail(&self, op: &'static str, ino: u64, err: &Error) -> Errno {
        fail(&self.core, op, ino, err)
    }
}

impl Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        self.negotiate(config)
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
        self.serve(self.remote(ino, fh), t, test);
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
        match self.core.mknod(unique(req), ctx(req), parent.0, name, mode) {
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
        match self.core.mkdir(unique(req), ctx(req), parent.0, name, mode) {
            Ok(e) => self.reply_entry(reply, &e),
            Err(e) => reply.error(self.fail("mkdir", parent.0, &e)),
        }
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _t = self.timed("unlink");
        match self.core.unlink(unique(req), parent.0, name) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("unlink", parent.0, &e)),
        }
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let _t = self.timed("rmdir");
        match self.core.rmdir(unique(req), parent.0, name) {
            Ok(()) => reply.ok(),
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
        let u = unique(req);
        match self
            .core
            .rename(u, parent.0, name, newparent.0, newname, flags.bits())
        {
            Ok(()) => reply.ok(),
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
        let h = match self.handle("read", ino, fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let core = self.core.clone();
        let remote = h.remote_pool();
        let answer: ReadDone = Box::new(move |r| {
            match r {
                Ok(d) => reply.data(&d),
                Err(e) => reply.error(fail(&core, "read", ino.0, &e)),
            }
            drop(t);
        });
        // A volume whose store reads asynchronously (a local disk, librbd,
        // an NFS server) is answered at completion, with this thread back
        // for the next request meanwhile; otherwise the read is done here,
        // or off the workers where it may wait on a server.
        let Some(answer) = self.core.read_async(&h, offset, size, answer) else {
            return;
        };
        if let Some(pool) = remote {
            let core = self.core.clone();
            return self
                .offload
                .run(pool, move || answer(core.read(&h, offset, size)));
        }
        answer(self.core.read(&h, offset, size));
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
        lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let t = self.timed("write");
        let w = Writer {
            kill_privs_for: write_flags
                .contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID)
                .then(|| ctx(req)),
            from_cache: write_flags.contains(WriteFlags::FUSE_WRITE_CACHE),
            lock_owner: lock_owner.map(|o| o.0),
        };
        let h = match self.handle("write", ino, fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let u = unique(req);
        let core = self.core.clone();
        let answer: WriteDone = Box::new(move |r| {
            match r {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(fail(&core, "write", ino.0, &e)),
            }
            drop(t);
        });
        let Some(answer) = self.core.write_async(&h, offset, data, w, answer) else {
            return;
        };
        if let Some(pool) = h.remote_pool() {
            let (core, data) = (self.core.clone(), data.to_vec());
            return self
                .offload
                .run(pool, move || answer(core.write(u, &h, offset, &data, w)));
        }
        answer(self.core.write(u, &h, offset, data, w));
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
        let h = match self.handle("flush", ino, fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let core = self.core.clone();
        let remote = h.remote_pool();
        let close = move || {
            // The owner's POSIX locks go before close(2) returns.
            core.flush_locks(ino.0, lock_owner.0);
            match core.flush(&h, lock_owner.0) {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(fail(&core, "flush", ino.0, &e)),
            }
        };
        // Unlocking on an NFS server may wait on it: not on a worker.
        self.serve(remote, t, close);
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let t = self.timed("release");
        if let Some(pool) = self.remote(ino, fh) {
            // The release commits what the open wrote: it may wait on the server.
            let core = self.core.clone();
            self.offload.run(pool, move || {
                core.release(fh.0);
                reply.ok();
                drop(t);
            });
            return;
        }
        // The kernel holds the backing file while its id is registered: the
        // id goes first, so a stop that sees the volume closed can unmount.
        self.release_backing(fh.0);
        self.core.release(fh.0);
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
        let h = match self.handle("fsync", ino, fh) {
            Ok(h) => h,
            Err(e) => return reply.error(e),
        };
        let core = self.core.clone();
        let remote = h.remote_pool();
        let job = move || match core.fsync(&h, datasync) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail(&core, "fsync", ino.0, &e)),
        };
        self.serve(remote, t, job);
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
    /// no longer fits in the reply is forgotten again. An entry of a store
    /// whose lookups are round trips to a cluster goes as a name only
    /// (node id 0: the kernel links nothing and looks it up when asked).
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
            if !e.plus {
                return reply.add_name_only(INodeNo(e.ino), off, kind(e.kind), &e.name);
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

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        let _t = self.timed("listxattr");
        match self.core.listxattr(ino.0, size, req.uid() == 0) {
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
        match self
            .core
            .create(unique(req), ctx(req), parent.0, name, mode, flags)
        {
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
        let r = (self.core.handle(ino.0, fh.0))
            .and_then(|h| self.core.fallocate(&h, offset, length, mode));
        match r {
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
        let r = (self.core.handle(ino.0, fh.0)).and_then(|h| self.core.lseek(&h, offset, whence));
        match r {
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
        let r = (self.core.handle(ino_in.0, fh_in.0)).and_then(|from| {
            let to = self.core.handle(ino_out.0, fh_out.0)?;
            self.core
                .copy_file_range(&from, offset_in, &to, offset_out, len)
        });
        match r {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(e) => reply.error(self.fail("copy_file_range", ino_in.0, &e)),
        }
    }
}
