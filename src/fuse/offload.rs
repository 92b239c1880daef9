//! Threads for requests that may wait on a remote server: volume I/O of
//! userspace NFS pools. A server that stops answering holds these threads
//! (each for at most its pool's timeout), never the FUSE workers that serve
//! every other pool and the control files.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// How many remote requests run at once (more wait in the queue).
const THREADS: usize = 16;

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Debug, Default)]
pub struct Offload {
    /// Started at the first job: a daemon without NFS pools has no threads.
    tx: OnceLock<Option<Mutex<Sender<Job>>>>,
}

impl Offload {
    /// Runs `job` on an offload thread; where none can be started, here.
    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        let tx = self.tx.get_or_init(start);
        let job: Job = Box::new(job);
        let job = match tx {
            Some(tx) => match tx.lock().send(job) {
                Ok(()) => return,
                Err(e) => e.0,
            },
            None => job,
        };
        job();
    }
}

fn start() -> Option<Mutex<Sender<Job>>> {
    let (tx, rx) = channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..THREADS {
        let rx = rx.clone();
        if std::thread::Builder::new()
            .name(format!("poolfs-remote-{i}"))
            .spawn(move || worker(&rx))
            .is_ok()
        {
            started += 1;
        }
    }
    if started == 0 {
        tracing::error!("cannot start threads for remote volume I/O; FUSE workers serve it");
        return None;
    }
    Some(Mutex::new(tx))
}

/// Takes jobs until the sender is gone. The receiver lock is held only while
/// waiting for a job, never while running one.
fn worker(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = rx.lock().recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}
