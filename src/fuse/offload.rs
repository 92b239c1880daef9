//! Threads for requests that may wait on a remote server: volume I/O of
//! userspace NFS and rbd pools. A server that stops answering holds these
//! threads (each for at most its pool's timeout), never the FUSE workers
//! that serve every other pool and the control files.
//!
//! Each pool has a lane of its own: at most `THREADS` threads, started as
//! its requests need them and gone after `IDLE` without one, so a silent
//! server holds only its own pools' threads and the requests of every other
//! pool still find theirs. Threads in all: at most `THREADS` per pool with
//! requests waiting now; none for a pool that has none.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How many requests of one pool run at once (more wait in its queue).
const THREADS: usize = 16;

/// How long a lane's thread waits for a job before it ends.
const IDLE: Duration = Duration::from_secs(30);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// Lock order: `Offload::lanes`, then a lane's `st` (a worker takes the map
/// only without its lane's lock, to drop an empty lane).
#[derive(Debug, Default)]
pub struct Offload {
    lanes: Arc<Mutex<HashMap<u32, Arc<Lane>>>>,
}

#[derive(Debug, Default)]
struct Lane {
    st: Mutex<LaneState>,
    cv: Condvar,
}

#[derive(Default)]
struct LaneState {
    jobs: VecDeque<Job>,
    /// Threads started and not ended, and how many of them wait for a job.
    threads: usize,
    idle: usize,
}

impl std::fmt::Debug for LaneState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneState")
            .field("jobs", &self.jobs.len())
            .field("threads", &self.threads)
            .field("idle", &self.idle)
            .finish()
    }
}

impl Offload {
    /// Runs `job` on a thread of pool `pool`'s lane; where none runs and
    /// none can be started, here.
    pub fn run(&self, pool: u32, job: impl FnOnce() + Send + 'static) {
        let lane = self.lanes.lock().entry(pool).or_default().clone();
        let mut st = lane.st.lock();
        st.jobs.push_back(Box::new(job));
        if st.idle >= st.jobs.len() {
            lane.cv.notify_one();
            return;
        }
        if st.threads >= THREADS {
            return;
        }
        st.threads += 1;
        drop(st);
        let (lanes, mine) = (self.lanes.clone(), lane.clone());
        let started = std::thread::Builder::new()
            .name(format!("remote-io-{pool}"))
            .spawn(move || work(&lanes, pool, &mine));
        if let Err(e) = started {
            let mut st = lane.st.lock();
            st.threads -= 1;
            if st.threads > 0 {
                return;
            }
            tracing::error!(
                "cannot start a thread for remote volume I/O ({e}); a FUSE worker serves it"
            );
            let jobs: Vec<Job> = st.jobs.drain(..).collect();
            drop(st);
            jobs.into_iter().for_each(|job| job());
        }
    }
}

/// A lane's thread: takes jobs until none came for `IDLE`. The lane's lock
/// is held only while waiting for a job, never while running one.
fn work(lanes: &Mutex<HashMap<u32, Arc<Lane>>>, pool: u32, lane: &Arc<Lane>) {
    loop {
        let mut st = lane.st.lock();
        while st.jobs.is_empty() {
            st.idle += 1;
            let timed_out = lane.cv.wait_for(&mut st, IDLE).timed_out();
            st.idle -= 1;
            if timed_out && st.jobs.is_empty() {
                st.threads -= 1;
                let last = st.threads == 0;
                drop(st);
                if last {
                    forget(lanes, pool, lane);
                }
                return;
            }
        }
        let job = st.jobs.pop_front();
        drop(st);
        if let Some(job) = job {
            job();
        }
    }
}

/// Drops pool `pool`'s lane from the map if it is still `lane` and has no
/// thread and no job (a job queued meanwhile started a thread).
fn forget(lanes: &Mutex<HashMap<u32, Arc<Lane>>>, pool: u32, lane: &Arc<Lane>) {
    let mut map = lanes.lock();
    let st = lane.st.lock();
    if st.threads == 0 && st.jobs.is_empty() && map.get(&pool).is_some_and(|l| Arc::ptr_eq(l, lane))
    {
        drop(st);
        map.remove(&pool);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::channel;
    use std::time::Instant;

    use super::*;

    /// A pool whose every thread waits holds up no other pool's job.
    #[test]
    fn a_pool_with_every_thread_waiting_holds_up_no_other() {
        let off = Offload::default();
        let (release, held) = channel::<()>();
        let held = Arc::new(Mutex::new(held));
        let running = Arc::new(AtomicUsize::new(0));
        for _ in 0..THREADS + 4 {
            let (held, running) = (held.clone(), running.clone());
            off.run(1, move || {
                running.fetch_add(1, Ordering::SeqCst);
                let _ = held.lock().recv();
            });
        }
        let (tx, rx) = channel();
        off.run(2, move || {
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(Duration::from_secs(5)).is_ok(),
            "pool 2's job waited for pool 1"
        );
        let t = Instant::now();
        while running.load(Ordering::SeqCst) < THREADS && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            running.load(Ordering::SeqCst),
            THREADS,
            "pool 1 ran more than its threads"
        );
        for _ in 0..THREADS + 4 {
            let _ = release.send(());
        }
        let t = Instant::now();
        while running.load(Ordering::SeqCst) < THREADS + 4 && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            running.load(Ordering::SeqCst),
            THREADS + 4,
            "queued jobs did not run"
        );
    }
}
