//! `poolfs mount --metrics`: a real mount with a dir pool and a userspace
//! NFS pool (NFS-Ganesha on loopback), scraped with `curl`, checked with
//! `promtool check metrics`; the numbers agree with `info` and with the
//! requests the test made; every metric the Grafana dashboard in
//! `packaging/` queries is in the scrape; a server restart shows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/ganesha.rs"]
mod ganesha;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Fixture, free_port, have_tool, scratch, survives_crash};

/// One scrape: the text, and each sample `name{labels}` -> value.
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn get(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key} in:\n{}", self.text))
    }

    /// Metric family names (`# TYPE` lines) and the names of samples.
    fn has_metric(&self, name: &str) -> bool {
        self.samples
            .keys()
            .any(|k| k.split('{').next() == Some(name))
    }
}

fn scrape(port: u16) -> Scrape {
    let out = Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .unwrap();
    assert!(out.status.success(), "curl: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse::<f64>().unwrap())
        })
        .collect();
    Scrape { text, samples }
}

fn info(fx: &Fixture, pool: &str) -> BTreeMap<String, String> {
    fx.read(format!("{pool}/info"))
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Histograms are whole: buckets never decrease and `+Inf` equals `_count`.
fn check_histograms(s: &Scrape) {
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    for (k, v) in &s.samples {
        let Some((name, rest)) = k.split_once("_bucket{") else {
            continue;
        };
        let labels: Vec<&str> = rest
            .trim_end_matches('}')
            .split(',')
            .filter(|l| !l.starts_with("le="))
            .collect();
        let series = format!("{name}{{{}}}", labels.join(","));
        if rest.contains("le=\"+Inf\"") {
            let count = s.get(&format!("{name}_count{{{}}}", labels.join(",")));
            assert_eq!(*v, count, "{series}: +Inf bucket against _count");
        }
        last.insert(series, *v);
    }
    // Buckets in file order are cumulative.
    let mut prev: BTreeMap<String, f64> = BTreeMap::new();
    for l in s.text.lines().filter(|l| l.contains("_bucket{")) {
        let (k, v) = l.rsplit_once(' ').unwrap();
        let v: f64 = v.parse().unwrap();
        let series: String = k
            .split(',')
            .filter(|p| !p.starts_with("le="))
            .collect::<Vec<_>>()
            .join(",");
        let p = prev.insert(series.clone(), v).unwrap_or(0.0);
        assert!(
            v >= p,
            "{series}: bucket {k} = {v} below the one before ({p})"
        );
    }
    assert!(!last.is_empty(), "no histogram in the scrape");
}

#[test]
fn metrics_are_scraped_checked_and_agree_with_info() {
    require_mount!();
    if !have_tool("curl") {
        return;
    }
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let fx = Fixture::with_args(&["--metrics", &addr]);
    let p = fx.pool("default");

    // A userspace NFS pool, so the NFS metrics have samples too.
    let dir = scratch();
    let srv = have_tool("ganesha.nfsd")
        .then(|| ganesha::Ganesha::start(&dir.path().join("ganesha"), &dir.path().join("export")));
    if let Some(srv) = &srv {
        fs::create_dir(fx.mnt.join("nfs")).unwrap();
        fx.ctl("nfs/config", &srv.pool_config(Some("4.1"), 5))
            .unwrap();
        fx.ctl("nfs/status", "start").unwrap();
        fs::write(fx.mnt.join("nfs/n.img"), vec![1u8; 1 << 20]).unwrap();
    }

    // Known requests: three mkdirs, two volumes (one held open), a lookup
    // that fails, a control write that is refused.
    for d in ["a", "b", "c"] {
        fs::create_dir(p.join(d)).unwrap();
    }
    fs::write(p.join("v1.img"), vec![7u8; 1 << 20]).unwrap();
    fs::write(p.join("a/v2.img"), b"x").unwrap();
    let held = fs::File::open(p.join("v1.img")).unwrap();
    assert!(!p.join("nosuch.img").exists());
    assert!(fx.ctl("default/status", "dance").is_err());

    let s = scrape(port);
    // promtool reads it as Prometheus does.
    if have_tool("promtool") {
        let (ok, said) = Command::new("promtool")
            .args(["check", "metrics"])
            .output_with_stdin(s.text.as_bytes());
        assert!(
            ok && said.is_empty(),
            "promtool check metrics:\n{said}\n{}",
            s.text
        );
    }
    check_histograms(&s);

    // The numbers of `info`.
    let i = info(&fx, "default");
    let pool = |m: &str| s.get(&format!("{m}{{pool=\"default\"}}"));
    assert_eq!(
        pool("poolfs_pool_capacity_bytes"),
        i["capacity"].parse::<f64>().unwrap()
    );
    // Other tests write to the same filesystem meanwhile: close, not equal.
    for (m, k) in [
        ("poolfs_pool_allocation_bytes", "allocation"),
        ("poolfs_pool_available_bytes", "available"),
    ] {
        let (a, b) = (pool(m), i[k].parse::<f64>().unwrap());
        assert!(
            (a - b).abs() < (1u64 << 30) as f64,
            "{m} {a} against info {k} {b}"
        );
    }
    assert_eq!(pool("poolfs_pool_volumes"), 2.0);
    assert_eq!(i["volumes"], "2");
    assert_eq!(pool("poolfs_pool_open_volumes"), 1.0);
    assert_eq!(
        s.get("poolfs_pool_state{pool=\"default\",state=\"running\"}"),
        1.0
    );
    assert_eq!(
        s.get("poolfs_pool_info{pool=\"default\",type=\"dir\"}"),
        1.0
    );
    // (and the pool directory `nfs`)
    let mkdirs = 3.0 + f64::from(u8::from(srv.is_some()));
    assert_eq!(s.get("poolfs_requests_total{op=\"mkdir\"}"), mkdirs);
    assert!(s.get("poolfs_request_errors_total{op=\"lookup\",errno=\"ENOENT\"}") >= 1.0);
    assert_eq!(
        s.get("poolfs_request_errors_total{op=\"write\",errno=\"EINVAL\"}"),
        1.0
    );
    assert_eq!(s.get("poolfs_server_took_over"), 0.0);
    if srv.is_some() {
        assert_eq!(s.get("poolfs_nfs_server_up{pool=\"nfs\"}"), 1.0);
        assert!(s.get("poolfs_nfs_rtt_seconds_count{pool=\"nfs\"}") > 0.0);
        assert_eq!(s.get("poolfs_nfs_reconnects_total{pool=\"nfs\"}"), 0.0);
        assert_eq!(s.get("poolfs_pool_info{pool=\"nfs\",type=\"netfs\"}"), 1.0);
    }
    drop(held);
    let s = scrape(port);
    assert_eq!(pool_of(&s, "poolfs_pool_open_volumes"), 0.0);

    // Every metric the dashboard queries is in the scrape.
    let dash =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/grafana/poolfs-dashboard.json");
    let text = fs::read_to_string(&dash).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut queried = Vec::new();
    collect_exprs(&json, &mut queried);
    assert!(queried.len() >= 10, "{queried:?}");
    for expr in &queried {
        for name in metric_names(expr) {
            let nfs_only = name.starts_with("poolfs_nfs_");
            if nfs_only && srv.is_none() {
                continue;
            }
            assert!(
                s.has_metric(&name),
                "the dashboard queries {name} ({expr}); not in the scrape"
            );
        }
    }
    if have_tool("promtool") {
        let scrape_cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus/poolfs-scrape.yml");
        let out = Command::new("promtool")
            .args(["check", "config", "--syntax-only"])
            .arg(&scrape_cfg)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    // A restarted server serves the metrics again, and says it took over.
    if !survives_crash() {
        return;
    }
    let before = s.get("poolfs_server_start_time_seconds");
    fx.crash_server();
    let t = Instant::now();
    let s = loop {
        let out = Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .unwrap();
        if out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("poolfs_server_took_over 1")
        {
            break scrape(port);
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no metrics after the restart"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(s.get("poolfs_server_start_time_seconds") > before);
    // Anything but /metrics is not found.
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
}

/// A port another process holds: the mount is refused with a clear error.
#[test]
fn a_metrics_port_in_use_refuses_the_mount() {
    require_mount!();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut fx = Fixture::unstarted(&["--metrics", &addr]);
    let out = Command::new(common::BIN)
        .arg("mount")
        .arg(&fx.mnt)
        .arg("--state-dir")
        .arg(&fx.state)
        .args(["--metrics", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot serve metrics on {addr}")),
        "{err}"
    );
    assert!(!common::is_fuse_mount(&fx.mnt));
    fx.stop();
}

fn pool_of(s: &Scrape, m: &str) -> f64 {
    s.get(&format!("{m}{{pool=\"default\"}}"))
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
        _ => {}
    }
}

/// The `poolfs_...` names in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("poolfs_") {
        let name: String = rest[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[i + name.len()..];
        names.push(name);
    }
    names
}

trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> (bool, String);
}

impl OutputWithStdin for Command {
    /// Runs with `input` on standard input: (success, stdout + stderr).
    fn output_with_stdin(&mut self, input: &[u8]) -> (bool, String) {
        use std::io::Write;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}
