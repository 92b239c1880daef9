//! What `poolfs mount --metrics ADDR:PORT` reports (docs/operations.md).
//!
//! Counters are plain atomics in fixed arrays (one slot per FUSE operation,
//! per errno, per histogram bucket): recording a request takes no lock and
//! allocates nothing. With metrics off, nothing is recorded at all. The
//! numbers of pools and NFS servers are read when Prometheus scrapes
//! (the Prometheus endpoint), from the same sources as the `info` files.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// Upper bounds (seconds) of the latency histogram buckets, from a cached
/// `getattr` (tens of microseconds) to an NFS call waiting out a timeout.
pub const BOUNDS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
    5.0,
];

/// A latency histogram of atomics: one count per bucket,
/// the sum in nanoseconds, the count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

/// A histogram as Prometheus shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    pub sum_seconds: f64,
    pub count: u64,
    /// (upper bound, count in that bucket alone), the last bound `+Inf`
    /// (the encoder makes them cumulative).
    pub buckets: Vec<(f64, u64)>,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BOUNDS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BOUNDS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ns
            .fetch_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX), Relaxed);
        self.count.fetch_add(1, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Relaxed)
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<(f64, u64)> = BOUNDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&self.buckets)
            .map(|(bound, n)| (bound, n.load(Relaxed)))
            .collect();
        HistogramSnapshot {
            sum_seconds: self.sum_ns.load(Relaxed) as f64 / 1e9,
            // The buckets' total: the counters are not read at one instant,
            // and Prometheus wants count == the +Inf bucket.
            count: buckets.iter().map(|b| b.1).sum(),
            buckets,
        }
    }
}

/// The FUSE operations poolfs serves, as the `op` label names them.
pub const OPS: [&str; 36] = [
    "lookup",
    "forget",
    "getattr",
    "setattr",
    "mknod",
    "mkdir",
    "unlink",
    "rmdir",
    "symlink",
    "link",
    "rename",
    "open",
    "read",
    "write",
    "flush",
    "release",
    "fsync",
    "opendir",
    "readdir",
    "readdirplus",
    "releasedir",
    "fsyncdir",
    "statfs",
    "setxattr",
    "getxattr",
    "listxattr",
    "removexattr",
    "create",
    "getlk",
    "setlk",
    "flock",
    "ioctl",
    "poll",
    "fallocate",
    "lseek",
    "copy_file_range",
];

/// errnos up to this are counted one by one; higher ones share the last slot.
const ERRNOS: usize = 134;

#[derive(Debug, Default)]
struct OpStats {
    latency: Histogram,
    errors: Vec<AtomicU64>,
}

/// Requests per FUSE operation: latency, and failures by errno.
#[derive(Debug)]
pub struct Requests {
    on: bool,
    ops: Vec<OpStats>,
}

impl Requests {
    /// Counting requests (`on`), or not (metrics off: nothing is recorded).
    pub fn new(on: bool) -> Arc<Requests> {
        let ops = if on {
            OPS.iter()
                .map(|_| OpStats {
                    latency: Histogram::default(),
                    errors: (0..=ERRNOS).map(|_| AtomicU64::new(0)).collect(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Arc::new(Requests { on, ops })
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Times a request of operation `op` (an `OPS` name) until the timer
    /// is dropped.
    pub fn start(self: &Arc<Self>, op: &'static str) -> Timer {
        Timer(self.index(op).map(|i| (self.clone(), i, Instant::now())))
    }

    /// Counts a request of `op` that failed with `errno`.
    pub fn failed(&self, op: &str, errno: i32) {
        if let Some(i) = self.index(op) {
            let slot = usize::try_from(errno).unwrap_or(0).min(ERRNOS);
            self.ops[i].errors[slot].fetch_add(1, Relaxed);
        }
    }

    fn index(&self, op: &str) -> Option<usize> {
        if !self.on {
            return None;
        }
        OPS.iter().position(|o| *o == op)
    }

    /// Each operation served at least once: (op, latency).
    pub fn latencies(&self) -> Vec<(&'static str, HistogramSnapshot)> {
        OPS.iter()
            .zip(&self.ops)
            .filter(|(_, s)| s.latency.count() > 0)
            .map(|(op, s)| (*op, s.latency.snapshot()))
            .collect()
    }

    /// Failures: (op, errno name, count), those that happened.
    pub fn failures(&self) -> Vec<(&'static str, String, u64)> {
        let mut out = Vec::new();
        for (op, s) in OPS.iter().zip(&self.ops) {
            for (errno, n) in s.errors.iter().enumerate() {
                let n = n.load(Relaxed);
                if n > 0 {
                    let name = if errno == ERRNOS {
                        "other".to_string()
                    } else {
                        format!("{:?}", nix::errno::Errno::from_raw(errno as i32))
                    };
                    out.push((*op, name, n));
                }
            }
        }
        out
    }
}

/// A request being timed; recorded when dropped (after its reply).
#[must_use]
pub struct Timer(Option<(Arc<Requests>, usize, Instant)>);

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some((r, i, t)) = self.0.take() {
            r.ops[i].latency.observe(t.elapsed());
        }
    }
}

/// A userspace NFS client's traffic, for the pool's metrics.
#[derive(Debug, Default)]
pub struct NfsCounters {
    /// Round trips of the calls the server answered.
    pub rtt: Histogram,
    /// Times the server answered again after it had been marked down.
    pub reconnects: AtomicU64,
}

/// One sample of a metric family a store reports for its pool
/// (`store::Store::metrics`).
#[derive(Debug, Clone)]
pub enum Sample {
    Gauge(u64),
    Counter(u64),
    Histogram(HistogramSnapshot),
}

/// A metric family of one pool: the exporter labels it `pool="<name>"` and
/// gathers the samples of every pool under one name.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub sample: Sample,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_count_each_bucket_and_end_in_inf() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(30));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let s = h.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets.first(), Some(&(0.000_05, 1)));
        assert_eq!(s.buckets.iter().find(|b| b.0 == 0.005), Some(&(0.005, 1)));
        assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert_eq!(s.buckets.iter().map(|b| b.1).sum::<u64>(), 3);
        assert!((s.sum_seconds - 60.003_03).abs() < 1e-6);
    }

    #[test]
    fn requests_count_only_when_on() {
        let off = Requests::new(false);
        drop(off.start("read"));
        off.failed("read", libc::EIO);
        assert!(off.latencies().is_empty() && off.failures().is_empty());
        let on = Requests::new(true);
        drop(on.start("read"));
        drop(on.start("read"));
        on.failed("read", libc::EIO);
        on.failed("nosuch", libc::EIO);
        assert_eq!(on.latencies()[0].0, "read");
        assert_eq!(on.latencies()[0].1.count, 2);
        assert_eq!(on.failures(), vec![("read", "EIO".to_string(), 1)]);
    }
}
