//! The client's reads: sent now and awaited on the runtime, by a thread
//! that waits (`wait`) or by nobody (`complete` answers from the runtime);
//! sent ahead (`read_soon`) for the read-ahead.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures::FutureExt;
use nfs_rs::Mount;

use super::{Client, Fetch, READ_PIECE};
use crate::error::Result;

impl Client {
    /// Runs `fut` (one of the `async` reads) to its end on the runtime, then
    /// `done` with its outcome there: no thread waits for it meanwhile.
    /// `done` must not wait on the runtime (it runs on one of its threads).
    pub(in crate::kinds::netfs) fn complete<T: Send + 'static>(
        &self,
        fut: impl Future<Output = T> + Send + 'static,
        done: impl FnOnce(T) + Send + 'static,
    ) {
        self.rt.spawn(async move { done(fut.await) });
    }

    /// Waits here for `fut`, one of the `async` reads.
    pub(in crate::kinds::netfs) fn wait<T>(&self, fut: impl Future<Output = T>) -> T {
        self.rt.block_on(fut)
    }

    /// Sends one READ now, on the runtime, whoever waits for it later (read
    /// ahead): every waiter gets the same answer, `None` for none within
    /// the timeout. Bookkept as any call.
    pub(in crate::kinds::netfs) fn read_soon(
        self: &Arc<Self>,
        fh: &Bytes,
        off: u64,
        len: u32,
    ) -> Fetch {
        let (c, fh) = (self.clone(), fh.clone());
        let task = self.rt.spawn(async move {
            let sent = Instant::now();
            let m = c.data_mount();
            let r = tokio::time::timeout(c.timeout, m.read(fh, off, len))
                .await
                .ok();
            c.settled(sent, r.as_ref());
            r.map(|r| r.map_err(Arc::new))
        });
        async move { task.await.ok().flatten() }.boxed().shared()
    }

    /// Awaits fetches sent with `read_soon`, in order.
    pub(in crate::kinds::netfs) async fn fetched(&self, fetches: Vec<Fetch>) -> Result<Vec<Bytes>> {
        futures::future::join_all(fetches)
            .await
            .into_iter()
            .map(|r| match r {
                Some(Ok(b)) => Ok(b),
                Some(Err(e)) => Err(self.error("read", &e)),
                None => Err(self.no_answer("read")),
            })
            .collect()
    }

    /// Reads up to `len` bytes at `off` (short only at the end of the file).
    /// The range goes out as pieces all at once (the server reads them in
    /// parallel); a short piece that is not the end of the file is completed
    /// one READ at a time. A range read whole in one piece is the reply's
    /// own buffer, not a copy.
    pub fn read(&self, fh: &Bytes, off: u64, len: usize) -> Result<Bytes> {
        self.wait(self.read_async(fh, off, len))
    }

    /// `read`, awaited.
    pub(in crate::kinds::netfs) async fn read_async(
        &self,
        fh: &Bytes,
        off: u64,
        len: usize,
    ) -> Result<Bytes> {
        let piece = (self.max_read as usize).clamp(4096, READ_PIECE);
        let starts: Vec<usize> = (0..len).step_by(piece).collect();
        let mounts: Vec<Arc<dyn Mount>> = starts.iter().map(|_| self.data_mount()).collect();
        let mut chunks = self
            .call_async(
                "read",
                futures::future::try_join_all(starts.iter().zip(&mounts).map(|(&s, m)| {
                    let want = piece.min(len - s) as u32;
                    m.read(fh.clone(), off + s as u64, want)
                })),
            )
            .await?;
        if chunks.len() == 1 && chunks[0].len() == len {
            return Ok(chunks.swap_remove(0));
        }
        let mut out = Vec::with_capacity(len);
        for (s, c) in starts.iter().zip(&chunks) {
            out.extend_from_slice(c);
            if c.len() < piece.min(len - s) {
                break;
            }
        }
        while out.len() < len {
            let want = (len - out.len()).min(self.max_read as usize) as u32;
            let m = self.data_mount();
            let chunk = self
                .call_async("read", m.read(fh.clone(), off + out.len() as u64, want))
                .await?;
            if chunk.is_empty() {
                break;
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out.into())
    }
}
