//! Durable state in the state directory, always written atomically
//! (temporary file, fsync, rename, fsync of the directory), so a crash leaves
//! either the old or the new file, never a mix.
//!
//! Layout:
//! - `defs/<pool>.toml`: one pool's definition, uuid and autostart flag;
//! - `running.toml`: the pools that run (restored after a restart or crash);
//! - `pools/<pool>/`: default targets of `dir` pools.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::PoolDef;
use crate::error::{Error, Result};

/// The definitions that read back (by name), and one sentence per file that did not.
pub type Loaded = (Vec<(String, StoredPool)>, Vec<String>);

/// What `defs/<pool>.toml` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredPool {
    pub uuid: String,
    #[serde(default)]
    pub autostart: bool,
    pub pool: PoolDef,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunState {
    #[serde(default)]
    running: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    pub fn new(root: PathBuf) -> Self {
        StateDir { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn defs(&self) -> PathBuf {
        self.root.join("defs")
    }

    /// The default target of a `dir` pool named `name`.
    pub fn default_target(&self, name: &str) -> PathBuf {
        self.root.join("pools").join(name)
    }

    pub fn ensure(&self) -> Result<()> {
        std::fs::create_dir_all(self.defs()).map_err(Error::io(format!(
            "cannot create state directory '{}'",
            self.root.display()
        )))
    }

    /// Every stored definition that reads back; unreadable ones are reported
    /// in the second list and left untouched on disk.
    pub fn load_pools(&self) -> Result<Loaded> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let dir = std::fs::read_dir(self.defs()).map_err(Error::io(format!(
            "cannot read '{}'",
            self.defs().display()
        )))?;
        for entry in dir.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".toml"))
            else {
                continue;
            };
            match std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| toml::from_str::<StoredPool>(&t).map_err(|e| e.message().to_string()))
            {
                Ok(sp) => good.push((name.to_string(), sp)),
                Err(e) => bad.push(format!(
                    "pool definition '{}' cannot be read and was left as it is: {}",
                    path.display(),
                    e.split_whitespace().collect::<Vec<_>>().join(" ")
                )),
            }
        }
        good.sort_by(|a, b| a.0.cmp(&b.0));
        Ok((good, bad))
    }

    pub fn save_pool(&self, name: &str, sp: &StoredPool) -> Result<()> {
        let text = toml::to_string(sp)
            .map_err(|e| Error::State(format!("cannot encode pool '{name}': {e}")))?;
        write_atomic(&self.defs().join(format!("{name}.toml")), text.as_bytes())
    }

    pub fn remove_pool(&self, name: &str) -> Result<()> {
        let path = self.defs().join(format!("{name}.toml"));
        std::fs::remove_file(&path)
            .map_err(Error::io(format!("cannot remove '{}'", path.display())))?;
        fsync_dir(&self.defs())
    }

    /// The pools recorded as running; a corrupt file is reported, not replaced.
    pub fn load_running(&self) -> Result<Vec<String>> {
        let path = self.root.join("running.toml");
        match std::fs::read_to_string(&path) {
            Ok(t) => toml::from_str::<RunState>(&t)
                .map(|r| r.running)
                .map_err(|e| {
                    Error::State(format!("'{}' is corrupt: {}", path.display(), e.message()))
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(format!("cannot read '{}'", path.display()))(e)),
        }
    }

    pub fn save_running(&self, running: Vec<String>) -> Result<()> {
        let text = toml::to_string(&RunState { running })
            .map_err(|e| Error::State(format!("cannot encode run state: {e}")))?;
        write_atomic(&self.root.join("running.toml"), text.as_bytes())
    }
}

/// Replaces `path` with `data`: temporary file, fsync, rename, fsync of the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = path.with_extension("tmp");
    let what = format!("cannot write '{}'", path.display());
    let mut f = File::create(&tmp).map_err(Error::io(what.clone()))?;
    f.write_all(data).map_err(Error::io(what.clone()))?;
    f.sync_all().map_err(Error::io(what.clone()))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(Error::io(what))?;
    fsync_dir(dir)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(format!("cannot sync '{}'", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_round_trips_pools_and_run_state() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::new(tmp.path().to_path_buf());
        sd.ensure().unwrap();
        let sp = StoredPool {
            uuid: "u".into(),
            autostart: true,
            pool: PoolDef::dir("/x".into()),
        };
        sd.save_pool("p", &sp).unwrap();
        let (good, bad) = sd.load_pools().unwrap();
        assert_eq!(good.len(), 1);
        assert!(bad.is_empty());
        assert!(good[0].1.autostart);
        sd.save_running(vec!["p".into()]).unwrap();
        assert_eq!(sd.load_running().unwrap(), vec!["p".to_string()]);
    }

    #[test]
    fn corrupt_definition_is_reported_and_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::new(tmp.path().to_path_buf());
        sd.ensure().unwrap();
        let p = tmp.path().join("defs/bad.toml");
        std::fs::write(&p, "uuid = \"u\"\npool = {").unwrap();
        let (good, bad) = sd.load_pools().unwrap();
        assert!(good.is_empty());
        assert_eq!(bad.len(), 1);
        assert!(p.exists());
    }

    #[test]
    fn corrupt_run_state_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::new(tmp.path().to_path_buf());
        std::fs::write(tmp.path().join("running.toml"), "running = [").unwrap();
        assert!(matches!(sd.load_running(), Err(Error::State(_))));
    }
}
