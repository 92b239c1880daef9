//! Lock requests: answered at once, or, when one may wait for another
//! owner, by a thread of its own, so no worker waits for a lock.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use fuser::{Errno, FileHandle, INodeNo, ReplyEmpty, Request};

use super::FuseAdapter;
use super::convert::{fail, is_errno};
use crate::core::PoolFs;
use crate::metrics::Timer;
use crate::store::LockRange as Range;

/// One lock request (see `FuseAdapter::lock`): answered at once, or, when
/// it may wait for another owner's lock, by a thread of its own that tries
/// again until the lock is free, the process that asked is gone (`EINTR`),
/// or the request fails otherwise.
#[allow(clippy::too_many_arguments)]
pub(super) fn lock_attempt(
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
pub(super) const LOCK_RETRY: Duration = Duration::from_millis(50);

impl FuseAdapter {
    /// A lock request (`setlk`, `flock`). One kept by an NFS server is
    /// served off the workers (it may wait on the server); one that may wait
    /// for another owner (`F_SETLKW`, `flock` without `LOCK_NB`) never holds
    /// a worker either (`lock_attempt`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn lock(
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
        self.serve(self.remote(INodeNo(ino), FileHandle(fh)), t, attempt);
    }
}
