//! Write-behind for rbd volumes: a write is parked (`journal::spill`),
//! counted in its image's `Behind`, answered, then sent with librbd's aio
//! and unparked at its completion. A write that ends past the image needs
//! the image grown first (a resize is a round trip to the cluster and a
//! notify of its watchers): those go to the pool's grower thread, which
//! grows each image once for every such write queued meanwhile, so a
//! sequential copy costs one resize per batch, not one per write.
//!
//! Invariant: a write is unparked and leaves `Behind` only once librbd has
//! answered it (or it failed: then the failure is kept for the writers).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::vol::Vol;
use crate::error::{Error, Result};
use crate::store::{Parked, ParkedWrite};

/// One write answered and parked, not sent yet.
pub struct Job {
    pub vol: Arc<Vol>,
    pub offset: u64,
    pub data: Vec<u8>,
    pub parked: Parked,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Job({} @{} +{})",
            self.vol.id,
            self.offset,
            self.data.len()
        )
    }
}

impl Job {
    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    /// Sends the write (the image is long enough); at completion it is
    /// unparked and leaves `Behind`.
    pub fn send(self) {
        if crate::journal::crash_armed("write-parked") {
            // For the crash tests: the writer has its answer by now.
            std::thread::sleep(std::time::Duration::from_millis(100));
            crate::journal::crash_point("write-parked");
        }
        let Job {
            vol,
            offset,
            data,
            parked,
        } = self;
        let end = offset + data.len() as u64;
        let v = vol.clone();
        vol.image.aio_write(
            offset,
            data,
            Box::new(move |r: Result<u32>| {
                drop(parked);
                v.changed();
                v.behind.done(offset, end, r.err());
            }),
        );
    }

    fn fail(self, e: Error) {
        let end = self.end();
        drop(self.parked);
        self.vol.behind.done(self.offset, end, Some(e));
    }
}

/// The pool's grower: a thread that lives as long as the sender (the store).
#[derive(Debug)]
pub struct Grower {
    tx: Sender<Job>,
}

impl Grower {
    pub fn start(pool: &str) -> Result<Grower> {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name(format!("poolfs-rbd-grow-{pool}"))
            .spawn(move || grow(rx))
            .map_err(Error::io("cannot start an rbd pool's grower thread"))?;
        Ok(Grower { tx })
    }

    /// Queues a write that ends past its image.
    pub fn queue(&self, job: Job) {
        if let Err(std::sync::mpsc::SendError(job)) = self.tx.send(job) {
            job.fail(Error::State("the pool's grower thread is gone".into()));
        }
    }
}

/// Grows each image once for all the writes queued for it, then sends them.
fn grow(rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter());
        let mut ends: HashMap<String, (Arc<Vol>, u64)> = HashMap::new();
        for j in &jobs {
            let e = ends
                .entry(j.vol.id.clone())
                .or_insert_with(|| (j.vol.clone(), 0));
            e.1 = e.1.max(j.end());
        }
        let grown: HashMap<String, Option<Error>> = ends
            .into_iter()
            .map(|(id, (vol, end))| (id, vol.grow_to(end).err()))
            .collect();
        for j in jobs {
            match grown.get(&j.vol.id) {
                Some(Some(e)) => {
                    let e = Error::Sys {
                        what: format!("cannot grow the image for a write: {e}"),
                        errno: e.errno(),
                    };
                    j.fail(e)
                }
                _ => j.send(),
            }
        }
    }
}

/// Writes what a crashed predecessor answered and parked, before anything
/// else of its image (the store's `adopt`).
pub fn resend(vol: &Vol, w: ParkedWrite) -> Result<()> {
    vol.grow_to(w.offset + w.data.len() as u64)?;
    vol.image.write(w.offset, &w.data)?;
    vol.changed();
    drop(w.parked);
    Ok(())
}
