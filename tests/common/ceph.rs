//! A throw-away single-node Ceph cluster on loopback for the rbd pool tests
//! (`scripts/ceph-cluster.sh`), stopped on drop, also when a test fails.

use std::path::{Path, PathBuf};

use super::{have_tool, run, scratch, sh};

pub struct Ceph {
    _dir: tempfile::TempDir,
    /// The cluster's directory: ceph.conf, keyring, logs.
    pub path: PathBuf,
    pub pool: String,
}

impl Ceph {
    /// Starts a cluster with one RBD pool, `pool`; `None` (the test is
    /// skipped) where Ceph is not installed and CI does not require it.
    pub fn start(pool: &str) -> Option<Ceph> {
        if !have_tool("ceph-mon") || !have_tool("rbd") {
            return None;
        }
        let dir = scratch();
        let path = dir.path().join("ceph");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ceph-cluster.sh");
        let ceph = Ceph {
            _dir: dir,
            path: path.clone(),
            pool: pool.into(),
        };
        run(&format!(
            "{} start {} {pool}",
            script.display(),
            path.display()
        ));
        Some(ceph)
    }

    /// The monitor's address as the pool's `source` names it.
    pub fn mon_host(&self) -> String {
        let conf = std::fs::read_to_string(self.path.join("ceph.conf")).unwrap();
        conf.lines()
            .find_map(|l| l.strip_prefix("mon_host = "))
            .unwrap()
            .to_string()
    }

    pub fn keyring(&self) -> PathBuf {
        self.path.join("keyring")
    }

    /// The `config` of an rbd pool on this cluster's pool.
    pub fn pool_config(&self) -> String {
        format!(
            "type = \"rbd\"\nsource = \"{}\"\npool = \"{}\"\nkeyring = \"{}\"\ntimeout = 20",
            self.mon_host(),
            self.pool,
            self.keyring().display()
        )
    }

    /// Runs Ceph's `rbd` tool on the cluster; its stdout.
    pub fn rbd(&self, args: &str) -> String {
        run(&format!(
            "rbd -c {}/ceph.conf -p {} {args}",
            self.path.display(),
            self.pool
        ))
    }

    /// The operations the OSD has served so far (its `op` counter).
    pub fn osd_ops(&self) -> u64 {
        self.osd_counter("op")
    }

    /// The bytes the OSD has sent back for reads so far.
    pub fn osd_read_bytes(&self) -> u64 {
        self.osd_counter("op_r_out_bytes")
    }

    /// One of the OSD's `osd` counters.
    fn osd_counter(&self, name: &str) -> u64 {
        let dump = run(&format!(
            "ceph -c {}/ceph.conf tell osd.0 perf dump",
            self.path.display()
        ));
        let v: serde_json::Value =
            serde_json::from_str(&dump).unwrap_or_else(|e| panic!("{e}: {dump}"));
        v["osd"][name]
            .as_u64()
            .unwrap_or_else(|| panic!("no osd.{name} in {dump}"))
    }

    /// `rbd` that may fail: (success, stdout, stderr).
    pub fn try_rbd(&self, args: &str) -> (bool, String, String) {
        sh(&format!(
            "rbd -c {}/ceph.conf -p {} {args}",
            self.path.display(),
            self.pool
        ))
    }
}

impl Drop for Ceph {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ceph-cluster.sh");
        let _ = sh(&format!(
            "{} stop {}",
            script.display(),
            self.path.display()
        ));
    }
}
