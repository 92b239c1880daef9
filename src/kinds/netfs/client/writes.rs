//! The client's writes: written through (`write`), parked and sent behind
//! the writer's back (`write_behind`, `resend`), and committed (`commit`,
//! with the replay of what a restarted server may have lost).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nfs_rs::{Mount, NfsError, WriteOutcome};
use nix::errno::Errno;

use super::super::pending::{Piece, newest};
use super::super::shared::FileShared;
use super::super::status::{is_verifier_change, server_status};
use super::{Client, PARKED_FOR, Pending, REPLAY_LIMIT, REPLAY_MOST, RETRY_AFTER, WRITE_PIECE};
use crate::error::{Error, Result};
use crate::store::ParkedWrite;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where one open's writes go: the file's handle, the file's state on this
/// host (its writes in flight and what it keeps for a replay), and the
/// write-behind failures the open has seen (`Behind`).
pub(in crate::kinds::netfs) struct WriteTo<'a> {
    pub fh: &'a Bytes,
    pub file: &'a Arc<FileShared>,
    pub seen: &'a AtomicU64,
}

impl Client {
    /// Writes all of `data` at `off` (UNSTABLE): pieces all at once, a short
    /// piece completed one WRITE at a time; `pending` keeps them for the
    /// next `commit`. The caller has [off, off + len) admitted in the file's
    /// `behind` and commits past `REPLAY_MOST` once it is done there (a
    /// commit may wait for every write of the file).
    fn write(&self, fh: &Bytes, off: u64, data: &[u8], pending: &Pending) -> Result<()> {
        let acks = self.write_pieces(fh, self.pieces(off, data))?;
        self.saw_verifiers(&acks);
        pending.add(acks, false);
        Ok(())
    }

    /// Writes `data` at `off` and waits for the server's answer, in turn
    /// with the file's other writes (`Behind`); commits past `REPLAY_MOST`.
    pub(in crate::kinds::netfs) fn write_through(
        &self,
        to: &WriteTo<'_>,
        off: u64,
        data: &[u8],
    ) -> Result<()> {
        let end = off + data.len() as u64;
        to.file.behind.admit(off, end, self.timeout, to.seen)?;
        let r = self.write(to.fh, off, data, &to.file.pending);
        to.file.behind.done(off, end, None);
        r?;
        if to.file.pending.bytes() > REPLAY_MOST {
            self.commit(to.fh, to.file)?;
        }
        Ok(())
    }

    /// Sends `pieces` at once and completes short ones in order; returns
    /// every piece written with its acknowledgement.
    fn write_pieces(&self, fh: &Bytes, pieces: Vec<(u64, Bytes)>) -> Result<Vec<Piece>> {
        let m = self.data_mount();
        self.once_more("write", &m, || {
            send_pieces(m.clone(), fh.clone(), pieces.clone())
        })?
        .map_err(|e| self.error("write", &e))
    }

    /// `call_raw` of what `send` makes, made and sent once more on a new
    /// connection when the first one's failed (no answer with an NFS
    /// status: the server restarted). The library reconnects only for calls
    /// it may send twice, so a NULL on `m` brings the connection back
    /// first. Only for calls that are harmless twice: a COMMIT, and the
    /// same data written at the same place while no write overlapping it is
    /// in flight from here (`Behind`).
    fn once_more<T, F: Future<Output = nfs_rs::Result<T>>>(
        &self,
        op: &'static str,
        m: &Arc<dyn Mount>,
        send: impl Fn() -> F,
    ) -> Result<nfs_rs::Result<T>> {
        match self.call_raw(op, send())? {
            Err(e) if server_status(&e).is_none() => {
                tracing::info!(server = %self.server, "an NFS {op}'s connection failed ({e}): sending it again");
                // Its own failure shows in the call after it.
                let _ = self.call_raw(op, m.null());
                self.call_raw(op, send())
            }
            r => Ok(r),
        }
    }

    /// Writes `data` at `off` (UNSTABLE) without waiting for the server
    /// where the write can be parked for a successor (`journal::spill`):
    /// the file's `behind` counts it in flight until the server answered; the answer
    /// goes to `pending`, a failure to `behind` (the next write, fsync or
    /// close of the file reports it). Otherwise it is written through.
    pub(in crate::kinds::netfs) fn write_behind(
        self: &Arc<Self>,
        to: &WriteTo<'_>,
        off: u64,
        data: &[u8],
    ) -> Result<()> {
        if let Some(why) = self.down() {
            return Err(Error::Sys {
                what: format!("NFS server of {} is not answering ({why})", self.server),
                errno: Errno::EIO,
            });
        }
        let end = off + data.len() as u64;
        to.file.behind.admit(off, end, self.timeout, to.seen)?;
        if self.park_and_send(to, off, data) {
            return Ok(());
        }
        let r = self.write(to.fh, off, data, &to.file.pending);
        to.file.behind.done(off, end, None);
        r
    }

    /// `write_behind` where it need not wait: true when the write is
    /// parked and on its way; false, with nothing done, when the server is
    /// down, the file's window has no room, a write in flight overlaps it,
    /// the open has a failure to be told, or no slot is free to park it
    /// (the caller then goes through `write_behind`, off the FUSE workers).
    pub(in crate::kinds::netfs) fn try_write_behind(
        self: &Arc<Self>,
        to: &WriteTo<'_>,
        off: u64,
        data: &[u8],
    ) -> bool {
        let end = off + data.len() as u64;
        if self.down().is_some() || !to.file.behind.try_admit(off, end, to.seen) {
            return false;
        }
        if self.park_and_send(to, off, data) {
            return true;
        }
        to.file.behind.done(off, end, None);
        false
    }

    /// Parks `data` (at `off`, admitted in `file.behind` by the caller) and
    /// sends it from the runtime, which marks it done in `file.behind` when
    /// the server answered: false, with nothing sent, when it cannot be
    /// parked (no journal, no free slot, too large).
    fn park_and_send(self: &Arc<Self>, to: &WriteTo<'_>, off: u64, data: &[u8]) -> bool {
        let end = off + data.len() as u64;
        let parked = self
            .notes
            .get()
            .and_then(|s| s.spill.as_ref())
            .and_then(|s| s.park(to.fh, off, data));
        let Some(parked) = parked else {
            return false;
        };
        let pieces = self.pieces(off, data);
        let (c, fh, file) = (self.clone(), to.fh.clone(), to.file.clone());
        self.rt.spawn(async move {
            if crate::journal::crash_armed("write-parked") {
                // For the crash tests: the writer has its answer by now.
                tokio::time::sleep(Duration::from_millis(100)).await;
                crate::journal::crash_point("write-parked");
            }
            let r = c.send_parked(fh.clone(), pieces).await;
            let failed = match r {
                Some(Ok(acks)) => {
                    c.saw_verifiers(&acks);
                    file.pending.add(acks, false);
                    c.commit_behind(&fh, &file.pending);
                    None
                }
                Some(Err(e)) => Some(c.error("write", &e)),
                None => Some(c.no_answer("write")),
            };
            // The server has it (or it failed, and the writer is told).
            drop(parked);
            // Counted again now the server has it: a READ sent ahead while
            // it was in flight may have been answered before it.
            file.changed();
            file.behind.done(off, end, failed);
        });
        true
    }

    /// Sends a write a crashed predecessor answered and parked, and commits
    /// it, before anything else of the file (it counts in `file`'s writes
    /// in flight); a failure is logged and reported by the file's next
    /// write, fsync or close.
    pub(in crate::kinds::netfs) fn resend(
        self: &Arc<Self>,
        file: Arc<FileShared>,
        w: ParkedWrite,
    ) -> Result<()> {
        let (off, end) = (w.offset, w.offset + w.data.len() as u64);
        // No open to report an earlier failure to: the successor's own.
        let none_reported = std::sync::atomic::AtomicU64::new(u64::MAX);
        file.behind.admit(off, end, self.timeout, &none_reported)?;
        let fh = Bytes::from(w.key.clone());
        let pieces = self.pieces(off, &w.data);
        let c = self.clone();
        self.rt.spawn(async move {
            let r = match c.send_parked(fh.clone(), pieces).await {
                Some(Ok(acks)) => {
                    let acks: Vec<WriteOutcome> = acks.into_iter().map(|(_, _, w)| w).collect();
                    let sent = Instant::now();
                    let r = tokio::time::timeout(
                        c.timeout,
                        c.mount.commit_write_batch(fh, 0, 0, &acks),
                    )
                    .await
                    .ok();
                    c.settled(sent, r.as_ref());
                    r
                }
                Some(Err(e)) => Some(Err(e)),
                None => None,
            };
            let failed = match r {
                Some(Ok(())) => None,
                Some(Err(e)) => Some(c.error("write", &e)),
                None => Some(c.no_answer("write")),
            };
            if let Some(e) = &failed {
                tracing::error!(
                    server = %c.server,
                    "{} bytes the previous poolfs server had written at offset {off} are lost: {e}",
                    end - off
                );
            }
            drop(w);
            file.behind.done(off, end, failed);
        });
        Ok(())
    }

    /// Sends the pieces of a parked write, again while the server does not
    /// answer or the connection fails (each try has the pool's timeout):
    /// the writer was answered already and the data is parked, so it is
    /// sent when the server answers again, for up to `PARKED_FOR` (or ten
    /// timeouts) in all; a server away longer loses it, and the log and the
    /// file's next fsync say so. Sending it again is harmless (the same
    /// bytes at the same place; no overlapping write is in flight). An
    /// answer with an NFS status (`ENOSPC`, `ESTALE`) ends it at once.
    async fn send_parked(
        &self,
        fh: Bytes,
        pieces: Vec<(u64, Bytes)>,
    ) -> Option<nfs_rs::Result<Vec<Piece>>> {
        let deadline = Instant::now() + (self.timeout * 10).max(PARKED_FOR);
        let mut pause = RETRY_AFTER;
        loop {
            let sent = Instant::now();
            let r = tokio::time::timeout(
                self.timeout,
                send_pieces(self.data_mount(), fh.clone(), pieces.clone()),
            )
            .await
            .ok();
            self.settled(sent, r.as_ref());
            let again = match &r {
                Some(Ok(_)) => false,
                Some(Err(e)) => server_status(e).is_none(),
                None => true,
            };
            if !again || Instant::now() + pause >= deadline {
                return r;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    fn pieces(&self, off: u64, data: &[u8]) -> Vec<(u64, Bytes)> {
        let piece = (self.max_write as usize).clamp(4096, WRITE_PIECE);
        (0..data.len())
            .step_by(piece)
            .map(|s| {
                let end = (s + piece).min(data.len());
                (off + s as u64, Bytes::copy_from_slice(&data[s..end]))
            })
            .collect()
    }

    /// COMMIT: what the file's opens wrote reaches the server's disk. A
    /// server that restarted since the writes (a changed verifier) gets them
    /// again, once, while the file's other writes wait (so none is older
    /// than what it meets there); should that fail too, `EIO`. Lock order:
    /// `Pending::committing`, then the file's writes held (`hold_all`).
    pub(in crate::kinds::netfs) fn commit(&self, fh: &Bytes, file: &FileShared) -> Result<()> {
        let pending = &file.pending;
        let _one = pending.committing.lock();
        self.commit_inherited(fh, pending)?;
        let mut replayed = false;
        loop {
            let snapshot = pending.snapshot();
            if snapshot.is_empty() {
                return Ok(());
            }
            match self.commit_snapshot(fh, &snapshot)? {
                Ok(()) => {
                    // Writes added meanwhile stay for the next commit.
                    pending.settle(snapshot.len());
                    return Ok(());
                }
                Err(e) if is_verifier_change(&e) && !replayed => {
                    replayed = true;
                    // Every write of the file acknowledged is in the list
                    // once none is in flight, and none starts meanwhile: the
                    // newest data of each byte goes again, nothing older
                    // lands over a newer write.
                    let _held = file.behind.hold_all(self.timeout)?;
                    let kept = pending.snapshot();
                    let pieces = newest(&kept);
                    tracing::warn!(
                        server = %self.server,
                        "the NFS server restarted before a COMMIT: writing {} bytes again",
                        pieces.iter().map(|(_, b)| b.len()).sum::<usize>()
                    );
                    let again = self.write_pieces(fh, pieces)?;
                    self.saw_verifiers(&again);
                    pending.settle(kept.len());
                    pending.add(again, true);
                }
                Err(e) => return Err(self.error("fsync", &e)),
            }
        }
    }

    /// One COMMIT of the writes of `snapshot`: the outer error is a server
    /// that did not answer, the inner one the COMMIT's (a changed verifier).
    /// Sent once more on a new connection if its own failed (`once_more`):
    /// a restarted server's answer has the new verifier.
    fn commit_snapshot(&self, fh: &Bytes, snapshot: &[Piece]) -> Result<nfs_rs::Result<()>> {
        let mut acks: Vec<WriteOutcome> = Vec::new();
        for (_, _, w) in snapshot {
            if !acks
                .iter()
                .any(|a| a.verifier == w.verifier && a.committed == w.committed)
            {
                acks.push(w.clone());
            }
        }
        self.once_more("fsync", &self.mount, || {
            self.mount.commit_write_batch(fh.clone(), 0, 0, &acks)
        })
    }

    /// Past `REPLAY_LIMIT` uncommitted bytes of an open, COMMITs what the
    /// server acknowledged so far on a blocking thread of the runtime, at
    /// most one at a time per open, while the writes go on (an `fsync` of
    /// every write in flight at this point would stall the writer for the
    /// server's flush of the file). What it covers is forgotten; on any
    /// failure, a changed verifier included, nothing is: the next `fsync`,
    /// `close(2)` or a write past `REPLAY_MOST` commits, sending the data
    /// again after waiting for the writes in flight, and reports.
    pub(in crate::kinds::netfs) fn commit_behind(
        self: &Arc<Self>,
        fh: &Bytes,
        pending: &Arc<Pending>,
    ) {
        if pending.bytes() <= REPLAY_LIMIT || pending.behind.swap(true, Ordering::AcqRel) {
            return;
        }
        let (c, fh, pending) = (self.clone(), fh.clone(), pending.clone());
        self.rt.spawn_blocking(move || {
            let one = pending.committing.lock();
            let snapshot = pending.snapshot();
            let inherited = pending.inherited.lock().is_some();
            if !inherited && pending.bytes() > REPLAY_LIMIT {
                let failed = match c.commit_snapshot(&fh, &snapshot) {
                    Ok(Ok(())) => {
                        pending.settle(snapshot.len());
                        None
                    }
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(why) = failed {
                    tracing::warn!(
                        server = %c.server,
                        "a COMMIT behind the writer failed ({why}): the next fsync or close commits"
                    );
                }
            }
            drop(one);
            pending.behind.store(false, Ordering::Release);
        });
    }

    /// Commits what a crashed server wrote through the open `pending`
    /// continues (`Pending::inherited`); `EIO` when the NFS server restarted
    /// since, so those writes may be lost and cannot be sent again.
    fn commit_inherited(&self, fh: &Bytes, pending: &Pending) -> Result<()> {
        let Some(v) = *pending.inherited.lock() else {
            return Ok(());
        };
        let ack = WriteOutcome::new(0, nfs_rs::WriteCommitted::Unstable, Some(v));
        let r = self.call_raw(
            "fsync",
            self.mount.commit_write_batch(fh.clone(), 0, 0, &[ack]),
        )?;
        *pending.inherited.lock() = None;
        match r {
            Ok(()) => {
                tracing::info!(server = %self.server, "committed the writes of the previous poolfs server");
                Ok(())
            }
            Err(e) if is_verifier_change(&e) => {
                let why = format!(
                    "writes made before the poolfs server restarted may be lost: the NFS server {} restarted too before they were committed",
                    self.server
                );
                tracing::error!("{why}");
                Err(Error::Sys {
                    what: why,
                    errno: Errno::EIO,
                })
            }
            Err(e) => {
                *pending.inherited.lock() = Some(v);
                Err(self.error("fsync", &e))
            }
        }
    }
}

/// Sends `pieces` at once and completes short ones in order: every piece
/// written, with its acknowledgement.
async fn send_pieces(
    mount: Arc<dyn Mount>,
    fh: Bytes,
    pieces: Vec<(u64, Bytes)>,
) -> nfs_rs::Result<Vec<Piece>> {
    let acks = futures::future::try_join_all(
        pieces
            .iter()
            .map(|(o, b)| mount.write(fh.clone(), *o, b.clone())),
    )
    .await?;
    let mut out = Vec::with_capacity(pieces.len());
    for ((o, b), w) in pieces.iter().zip(acks) {
        let mut done = (w.count as usize).min(b.len());
        out.push((*o, b.slice(..done), w));
        while done < b.len() {
            let rest = b.slice(done..);
            let w = mount
                .write(fh.clone(), o + done as u64, rest.clone())
                .await?;
            let n = (w.count as usize).min(rest.len());
            if n == 0 {
                return Err(NfsError::Rpc(
                    "the server took none of a WRITE's data".into(),
                ));
            }
            out.push((o + done as u64, rest.slice(..n), w));
            done += n;
        }
    }
    Ok(out)
}
