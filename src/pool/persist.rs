//! Durable state in the state directory, always written atomically
//! (temporary file, fsync, rename, fsync of the directory), so a crash leaves
//! either the old or the new file, never a mix.
//!
//! Layout:
//! - `defs/<pool>.toml`: one pool's definition, uuid and autostart flag;
//! - `running.toml`: the pools that run (restored after a restart or crash);
//! - `host-id`: this daemon's identity to shared servers (`StateDir::host_id`);
//! - `pools/<pool>/`: default targets of `dir` pools.
//!
//! Trust: a root daemon mounts what a definition says, so a definition is
//! code. The state directory and `defs/` are mode 0700 and every state file
//! 0600, whatever the umask (the daemon runs with umask 0 so that volumes
//! get the modes their creators asked for). At start a directory or file
//! found readable by others is narrowed, with a log line; a definition or
//! run-state file that another user owns or can write is refused with a
//! sentence and never loaded.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
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
    /// This daemon's identity to shared servers, kept in `host-id` (made
    /// at the first start): two daemons, on one machine or two, differ; a
    /// restarted one is the same.
    pub fn host_id(&self) -> Result<String> {
        let path = self.root.join("host-id");
        if let Ok(s) = std::fs::read_to_string(&path) {
            let id = s.trim();
            if !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(id.to_string());
            }
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        write_atomic(&path, format!("{id}\n").as_bytes())?;
        Ok(id)
    }

    pub fn default_target(&self, name: &str) -> PathBuf {
        self.root.join("pools").join(name)
    }

    /// Creates the state directory and `defs/` (0700), or narrows them to
    /// 0700 when found open to others; refuses directories another user owns.
    pub fn ensure(&self) -> Result<()> {
        private_dir(&self.root)?;
        private_dir(&self.defs())
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
            if let Err(why) = trusted_file(&path) {
                bad.push(format!(
                    "pool definition '{}' was not loaded: {why}",
                    path.display()
                ));
                continue;
            }
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
        crate::durable::fsync_dir(&self.defs())
    }

    /// The pools recorded as running; a corrupt file is reported, not replaced.
    pub fn load_running(&self) -> Result<Vec<String>> {
        let path = self.root.join("running.toml");
        match trusted_file(&path) {
            Ok(()) => {}
            Err(Untrusted::Missing) => return Ok(Vec::new()),
            Err(why) => {
                return Err(Error::State(format!(
                    "run state '{}' was not loaded: {why}",
                    path.display()
                )));
            }
        }
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

pub use crate::durable::{FILE_MODE, write_atomic};
/// Mode of the state directory and `defs/`.
const DIR_MODE: u32 = 0o700;

/// Why a state file is not loaded.
#[derive(Debug)]
enum Untrusted {
    Missing,
    NotRegular,
    Owner(u32),
    Writable(u32),
    Io(std::io::Error),
}

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Untrusted::Missing => write!(f, "it does not exist"),
            Untrusted::NotRegular => write!(f, "it is not a regular file"),
            Untrusted::Owner(uid) => write!(
                f,
                "it belongs to uid {uid}, not to root; only root's state files are trusted"
            ),
            Untrusted::Writable(mode) => write!(
                f,
                "its mode {mode:04o} lets other users write it; check its content, then `chmod 600` it"
            ),
            Untrusted::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The owners a state file may have: root, or the user the daemon runs as.
fn trusted_owner(uid: u32) -> bool {
    uid == 0 || uid == nix::unistd::geteuid().as_raw()
}

/// Checks that a state file can only have been written by root (or the
/// daemon's own user); narrows one that others may read to 0600.
fn trusted_file(path: &Path) -> std::result::Result<(), Untrusted> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Untrusted::Missing),
        Err(e) => return Err(Untrusted::Io(e)),
    };
    if !meta.file_type().is_file() {
        return Err(Untrusted::NotRegular);
    }
    if !trusted_owner(meta.uid()) {
        return Err(Untrusted::Owner(meta.uid()));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Untrusted::Writable(mode));
    }
    if mode & 0o077 != 0 {
        narrow(path, mode, FILE_MODE);
    }
    Ok(())
}

/// Creates `dir` (and missing parents) mode 0700, or narrows an existing one
/// that others may enter or read.
fn private_dir(dir: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(Error::io(format!(
            "cannot create state directory '{}'",
            dir.display()
        )))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(Error::io(format!("cannot read '{}'", dir.display())))?;
    if !meta.is_dir() {
        return Err(Error::State(format!(
            "state directory '{}' is not a directory",
            dir.display()
        )));
    }
    if !trusted_owner(meta.uid()) {
        return Err(Error::State(format!(
            "state directory '{}' belongs to uid {}; poolfs keeps its state only in a directory root owns",
            dir.display(),
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        narrow(dir, mode, DIR_MODE);
    }
    Ok(())
}

/// Sets `path` to `to`, with the log line that says it was wider.
fn narrow(path: &Path, from: u32, to: u32) {
    match std::fs::set_permissions(path, std::fs::Permissions::from_mode(to)) {
        Ok(()) => tracing::warn!(
            "'{}' was mode {from:04o}, open to other users; it is now {to:04o}",
            path.display()
        ),
        Err(e) => tracing::error!(
            "'{}' is mode {from:04o}, open to other users, and cannot be narrowed: {e}",
            path.display()
        ),
    }
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
