//! The `/metrics` endpoint: the Prometheus text format, written by
//! `prometheus-client` from a collector that reads the server's counters and
//! its pools when scraped, served by `tiny_http` on a thread of its own. A
//! scrape takes no lock the FUSE workers wait on for longer than a pool
//! snapshot; a slow backend slows the scrape, never the mount.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::core::PoolFs;
use crate::error::{Error, Result};
use crate::metrics::{HistogramSnapshot, Sample};
use crate::pool::PoolState;

/// Reads one number of a pool's facts.
type PoolNumber = dyn Fn(&crate::core::PoolFacts) -> Option<u64>;

const STATES: [PoolState; 5] = [
    PoolState::Inactive,
    PoolState::Starting,
    PoolState::Running,
    PoolState::Stopping,
    PoolState::Inaccessible,
];

/// Reads the server's numbers at each scrape.
#[derive(Debug)]
struct Server {
    core: Arc<PoolFs>,
    /// This server took over a live mount from a predecessor (after a
    /// crash or an upgrade) rather than mounting it.
    took_over: bool,
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One metric family: its descriptor, then `each` adds its samples.
fn family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    each: impl FnOnce(&mut MetricEncoder) -> std::fmt::Result,
) -> std::fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, kind)?;
    each(&mut m)
}

fn histogram(
    m: &mut MetricEncoder,
    labels: &[(&str, &str)],
    h: &HistogramSnapshot,
) -> std::fmt::Result {
    m.encode_family(&labels)?
        .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            h.sum_seconds,
            h.count,
            &h.buckets,
            None,
        )
}

impl Collector for Server {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let enc = &mut enc;
        family(
            enc,
            "poolfs_build_info",
            "The poolfs version serving (always 1).",
            MetricType::Gauge,
            |m| {
                m.encode_family(&[("version", env!("CARGO_PKG_VERSION"))])?
                    .encode_gauge(&1u64)
            },
        )?;
        family(
            enc,
            "poolfs_server_start_time_seconds",
            "When this server started (Unix time): a change is a restart, after a crash or an upgrade.",
            MetricType::Gauge,
            |m| m.encode_gauge(&secs(self.core.started())),
        )?;
        family(
            enc,
            "poolfs_server_took_over",
            "1 when this server took over a live mount from a predecessor (a restart after a crash or an upgrade), 0 when it mounted the tree.",
            MetricType::Gauge,
            |m| m.encode_gauge(&u64::from(self.took_over)),
        )?;

        let pools = self.core.pool_facts();
        family(
            enc,
            "poolfs_pool_info",
            "A defined pool and its type (always 1).",
            MetricType::Gauge,
            |m| {
                for p in &pools {
                    m.encode_family(&[("pool", p.name.as_str()), ("type", p.pool_type.as_str())])?
                        .encode_gauge(&1u64)?;
                }
                Ok(())
            },
        )?;
        family(
            enc,
            "poolfs_pool_state",
            "1 for the state the pool is in (its status file), 0 for the others.",
            MetricType::Gauge,
            |m| {
                for p in &pools {
                    for st in STATES {
                        m.encode_family(&[("pool", p.name.as_str()), ("state", st.word())])?
                            .encode_gauge(&u64::from(p.state == st))?;
                    }
                }
                Ok(())
            },
        )?;
        let gauges: [(&str, &str, &PoolNumber); 5] = [
            (
                "poolfs_pool_capacity_bytes",
                "The pool's capacity (info: capacity); running pools only.",
                &|p| p.space.map(|s| s.capacity),
            ),
            (
                "poolfs_pool_allocation_bytes",
                "Bytes in use on the pool's storage (info: allocation).",
                &|p| p.space.map(|s| s.allocation),
            ),
            (
                "poolfs_pool_available_bytes",
                "Bytes free for the pool's volumes (info: available).",
                &|p| p.space.map(|s| s.available),
            ),
            (
                "poolfs_pool_volumes",
                "Volumes in the pool (info: volumes).",
                &|p| p.volumes,
            ),
            (
                "poolfs_pool_open_volumes",
                "Volumes of the pool open now (they keep it from stopping).",
                &|p| Some(p.open_volumes as u64),
            ),
        ];
        for (name, help, get) in gauges {
            family(enc, name, help, MetricType::Gauge, |m| {
                for p in &pools {
                    if let Some(v) = get(p) {
                        m.encode_family(&[("pool", p.name.as_str())])?
                            .encode_gauge(&v)?;
                    }
                }
                Ok(())
            })?;
        }
        // Families of each pool's kind (an NFS server answering, its round
        // trips): gathered by name, each sample labelled with its pool.
        let mut names: Vec<(&str, &str)> = Vec::new();
        for f in pools.iter().flat_map(|p| &p.families) {
            if !names.iter().any(|(n, _)| *n == f.name) {
                names.push((f.name, f.help));
            }
        }
        for (name, help) in names {
            let samples: Vec<(&str, &Sample)> = pools
                .iter()
                .flat_map(|p| {
                    p.families
                        .iter()
                        .filter(move |f| f.name == name)
                        .map(move |f| (p.name.as_str(), &f.sample))
                })
                .collect();
            let kind = match samples.first().map(|(_, s)| *s) {
                Some(Sample::Counter(_)) => MetricType::Counter,
                Some(Sample::Histogram(_)) => MetricType::Histogram,
                _ => MetricType::Gauge,
            };
            family(enc, name, help, kind, |m| {
                for (pool, sample) in &samples {
                    let labels = [("pool", *pool)];
                    match sample {
                        Sample::Gauge(v) => m.encode_family(&labels)?.encode_gauge(v)?,
                        Sample::Counter(v) => m
                            .encode_family(&labels)?
                            .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                            v, None,
                        )?,
                        Sample::Histogram(h) => histogram(m, &labels, h)?,
                    }
                }
                Ok(())
            })?;
        }

        let req = self.core.requests();
        let lat = req.latencies();
        family(
            enc,
            "poolfs_requests",
            "FUSE requests the server answered, by operation. Reads and writes of volumes in kernel passthrough never reach the server and are not counted.",
            MetricType::Counter,
            |m| {
                for (op, h) in &lat {
                    m.encode_family(&[("op", *op)])?
                        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(
                            &h.count, None,
                        )?;
                }
                Ok(())
            },
        )?;
        family(
            enc,
            "poolfs_request_errors",
            "FUSE requests answered with an error, by operation and errno.",
            MetricType::Counter,
            |m| {
                for (op, errno, n) in req.failures() {
                    m.encode_family(&[("op", op), ("errno", errno.as_str())])?
                        .encode_counter::<prometheus_client::encoding::NoLabelSet, _, u64>(&n, None)?;
                }
                Ok(())
            },
        )?;
        family(
            enc,
            "poolfs_request_duration_seconds",
            "Time from a FUSE request's arrival to its reply, by operation.",
            MetricType::Histogram,
            |m| {
                for (op, h) in &lat {
                    histogram(m, &[("op", op)], h)?;
                }
                Ok(())
            },
        )
    }
}

/// The text of one scrape.
pub fn render(core: &Arc<PoolFs>, took_over: bool) -> String {
    let mut reg = Registry::default();
    reg.register_collector(Box::new(Server {
        core: core.clone(),
        took_over,
    }));
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::prometheus_text::encode(&mut out, &reg) {
        tracing::warn!("cannot render the metrics: {e}");
    }
    out
}

/// Serves `/metrics` on `addr` from a thread of its own, for as long as the
/// process lives. A server that took over a live mount may find the port
/// still held by its predecessor (an upgrade overlaps the two): it keeps
/// trying, once a second, instead of failing.
pub fn serve(addr: SocketAddr, core: Arc<PoolFs>, took_over: bool) -> Result<()> {
    let bound = tiny_http::Server::http(addr);
    let first = match bound {
        Ok(server) => Some(server),
        Err(e) if took_over => {
            tracing::warn!(
                "cannot serve metrics on {addr} yet ({e}): the previous server may still hold it; trying again every second"
            );
            None
        }
        Err(e) => {
            return Err(Error::Invalid(format!(
                "cannot serve metrics on {addr}: {e}"
            )));
        }
    };
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            let server = first.unwrap_or_else(|| {
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    if let Ok(s) = tiny_http::Server::http(addr) {
                        break s;
                    }
                }
            });
            tracing::info!("metrics at http://{addr}/metrics");
            answer(&server, &core, took_over);
        })
        .map_err(Error::io("cannot start the metrics thread"))?;
    Ok(())
}

/// Answers scrapes for as long as the process lives.
fn answer(server: &tiny_http::Server, core: &Arc<PoolFs>, took_over: bool) {
    for req in server.incoming_requests() {
        let found = req.method() == &tiny_http::Method::Get
            && req.url().split('?').next() == Some("/metrics");
        let resp = if found {
            let text = render(core, took_over);
            let ctype = tiny_http::Header::from_bytes(
                &b"Content-Type"[..],
                prometheus_client::encoding::prometheus_text::CONTENT_TYPE.as_bytes(),
            );
            let r = tiny_http::Response::from_string(text);
            match ctype {
                Ok(h) => r.with_header(h),
                Err(()) => r,
            }
        } else {
            tiny_http::Response::from_string("poolfs serves /metrics only\n").with_status_code(404)
        };
        if let Err(e) = req.respond(resp) {
            tracing::debug!("a metrics scrape went away: {e}");
        }
    }
}
