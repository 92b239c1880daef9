//! Pool definitions: the TOML a pool's `config` file shows and accepts
//! (SPEC 2.1), parsed with serde and validated before anything is applied.
//!
//! Parsing is pure: `PoolDef::parse` never touches the filesystem, so a bad
//! definition is refused before the old one is replaced.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest pool or volume name (one path component).
pub const NAME_MAX: usize = 255;

/// A pool definition. The pool's name is its directory name and is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum PoolDef {
    /// Volumes are files in a local directory.
    Dir { target: PathBuf },
    /// A block device or disk image holding a filesystem, mounted on `target`.
    Fs {
        source: PathBuf,
        #[serde(default = "default_format")]
        format: String,
        target: PathBuf,
    },
    /// An NFS export: mounted on `target` by the kernel client, reached by
    /// poolfs's own client with `client = "userspace"` (no target needed).
    Netfs {
        source: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
        /// The MOUNT protocol's port (NFSv3, userspace client).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mount_port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u64>,
        /// Seconds names and attributes may be cached before the server is
        /// asked again (what other hosts changed shows within it); default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<u64>,
        /// TCP connections to the server (as Linux's `nconnect`): the
        /// kernel client's mount option; the userspace client spreads
        /// READs and WRITEs over them (NFSv3 only); default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nconnect: Option<u8>,
    },
    /// Raw block devices, each one a fixed-size volume.
    Block { source: Vec<PathBuf> },
    /// The images of a Ceph pool, reached through librbd.
    Rbd {
        /// Monitor addresses (`mon_host`), e.g. `127.0.0.1:3300`.
        source: String,
        /// The Ceph pool.
        pool: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// The cephx user, without `client.` (default `admin`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keyring: Option<PathBuf>,
        /// The user's secret itself (never shown: `PoolDef::shown`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conf: Option<PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<u64>,
    },
}

/// The longest `cache` of a netfs pool, in seconds.
pub const MAX_CACHE: u64 = 60;

/// The most connections (`nconnect`) of a netfs pool (Linux allows 16).
pub const MAX_NCONNECT: u8 = 16;

fn default_format() -> String {
    "auto".into()
}

/// The pool types, as `info` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolType {
    Dir,
    Fs,
    Netfs,
    Block,
    Rbd,
}

impl fmt::Display for PoolType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PoolType::Dir => "dir",
            PoolType::Fs => "fs",
            PoolType::Netfs => "netfs",
            PoolType::Block => "block",
            PoolType::Rbd => "rbd",
        })
    }
}

/// True when the running kernel has an NFS client (`/proc/filesystems`).
pub fn kernel_has_nfs() -> bool {
    std::fs::read_to_string("/proc/filesystems")
        .map(|t| {
            t.lines()
                .any(|l| matches!(l.split_whitespace().last(), Some("nfs" | "nfs4")))
        })
        .unwrap_or(false)
}

/// The NFS client of a netfs pool whose definition names none: the
/// kernel's where this kernel has one, else poolfs's own.
pub fn default_nfs_client() -> &'static str {
    if kernel_has_nfs() {
        "kernel"
    } else {
        "userspace"
    }
}

impl PoolDef {
    /// A `dir` pool on `target`.
    pub fn dir(target: PathBuf) -> Self {
        PoolDef::Dir { target }
    }

    /// Parses and validates the text of a `config` file.
    pub fn parse(text: &str) -> Result<PoolDef> {
        let def: PoolDef = toml::from_str(text).map_err(|e| invalid(e, text))?;
        def.validate()?;
        Ok(def)
    }

    /// Parses and validates a whole `config` document: a definition and,
    /// optionally, the pool's `uuid` (set once, by an import that keeps
    /// libvirt's; absent: the pool keeps its own).
    pub fn parse_document(text: &str) -> Result<(PoolDef, Option<String>)> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e, text))?;
        let uuid = take_uuid(&mut table)?;
        let def: PoolDef = toml::Value::Table(table)
            .try_into()
            .map_err(|e| invalid(e, ""))?;
        def.validate()?;
        Ok((def, uuid))
    }

    /// Checks the complete lines of a document being written to `config`
    /// (applied whole at close): what is wrong in them already, a line that
    /// is not `key = value`, an unknown key or a bad value, is refused at
    /// the write that brings it; only what needs the whole document (a
    /// required key missing) waits for the close.
    pub fn check_partial(text: &str) -> Result<()> {
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        let mut table: toml::Table = toml::from_str(complete).map_err(|e| invalid(e, complete))?;
        take_uuid(&mut table)?;
        let Some(kind) = table.get("type").and_then(toml::Value::as_str) else {
            if table.contains_key("type") {
                return Err(Error::Invalid(
                    "invalid pool definition: type must be a string".into(),
                ));
            }
            return match table.keys().find(|k| !ALL_KEYS.contains(&k.as_str())) {
                Some(k) => Err(Error::Invalid(format!(
                    "invalid pool definition: unknown key `{k}` (known: {})",
                    ALL_KEYS.join(", ")
                ))),
                None => Ok(()),
            };
        };
        // What the type requires and the lines so far lack gets a value
        // that passes, so whatever fails is in the lines written.
        let stand_in: &[(&str, toml::Value)] = match kind {
            "dir" => &[("target", "/".into())],
            "fs" => &[("source", "/".into()), ("target", "/".into())],
            "netfs" => &[("source", "host:/".into()), ("target", "/".into())],
            "block" => &[("source", toml::Value::Array(vec!["/".into()]))],
            "rbd" => &[("source", "127.0.0.1".into()), ("pool", "rbd".into())],
            _ => &[],
        };
        for (k, v) in stand_in {
            table.entry(*k).or_insert_with(|| v.clone());
        }
        let def: PoolDef = toml::Value::Table(table)
            .try_into()
            .map_err(|e| invalid(e, ""))?;
        def.validate_for("userspace")
    }

    /// Checks what serde cannot: absolute paths, known formats and clients.
    /// A netfs pool that names no client gets this host's default first
    /// (`default_nfs_client`), and is validated for that client.
    pub fn validate(&self) -> Result<()> {
        self.validate_for(default_nfs_client())
    }

    /// `validate`, with `default_client` for a netfs pool that names none.
    pub fn validate_for(&self, default_client: &str) -> Result<()> {
        let absolute = |what: &str, p: &PathBuf| {
            if p.is_absolute() {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "{what} must be an absolute path, not '{}'",
                    p.display()
                )))
            }
        };
        match self {
            PoolDef::Dir { target } => absolute("target", target),
            PoolDef::Fs {
                source,
                format,
                target,
            } => {
                absolute("source", source)?;
                absolute("target", target)?;
                if !["auto", "ext4", "xfs", "btrfs"].contains(&format.as_str()) {
                    return Err(Error::Invalid(format!(
                        "format must be one of ext4, xfs, btrfs, auto, not '{format}'"
                    )));
                }
                Ok(())
            }
            PoolDef::Netfs {
                source,
                target,
                client,
                version,
                timeout,
                cache,
                nconnect,
                ..
            } => {
                match target {
                    Some(t) => absolute("target", t)?,
                    None if client.as_deref().unwrap_or(default_client) != "userspace" => {
                        return Err(Error::Invalid(
                            "target is required (where the kernel client mounts the export), unless client = \"userspace\"".into(),
                        ));
                    }
                    None => {}
                }
                if !source.contains(":/") {
                    return Err(Error::Invalid(format!(
                        "source must look like host:/path, not '{source}'"
                    )));
                }
                if let Some(c) = client
                    .as_deref()
                    .filter(|c| !["kernel", "userspace"].contains(c))
                {
                    return Err(Error::Invalid(format!(
                        "client must be kernel or userspace, not '{c}'"
                    )));
                }
                if let Some(v) = version
                    .as_deref()
                    .filter(|v| !["3", "4", "4.1", "4.2"].contains(v))
                {
                    return Err(Error::Invalid(format!(
                        "version must be one of 3, 4, 4.1, 4.2, not '{v}'"
                    )));
                }
                if timeout.is_some_and(|t| !(1..=3600).contains(&t)) {
                    return Err(Error::Invalid(
                        "timeout must be between 1 and 3600 seconds".into(),
                    ));
                }
                if cache.is_some_and(|c| c > MAX_CACHE) {
                    return Err(Error::Invalid(format!(
                        "cache must be between 0 and {MAX_CACHE} seconds"
                    )));
                }
                if nconnect.is_some_and(|n| !(1..=MAX_NCONNECT).contains(&n)) {
                    return Err(Error::Invalid(format!(
                        "nconnect must be between 1 and {MAX_NCONNECT}"
                    )));
                }
                Ok(())
            }
            PoolDef::Block { source } => {
                if source.is_empty() {
                    return Err(Error::Invalid(
                        "source must list at least one device".into(),
                    ));
                }
                source
                    .iter()
                    .try_for_each(|s| absolute("every source device", s))
            }
            PoolDef::Rbd {
                pool,
                keyring,
                conf,
                timeout,
                ..
            } => {
                if pool.is_empty() {
                    return Err(Error::Invalid("pool must name the Ceph pool".into()));
                }
                if let Some(k) = keyring {
                    absolute("keyring", k)?;
                }
                if let Some(c) = conf {
                    absolute("conf", c)?;
                }
                if timeout.is_some_and(|t| !(1..=3600).contains(&t)) {
                    return Err(Error::Invalid(
                        "timeout must be between 1 and 3600 seconds".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// A new definition of the same pool that names no `key` keeps the old
    /// one (reads of `config` never show it); `key = ""` removes it.
    pub fn keep_secret(&mut self, old: &PoolDef) {
        if let (PoolDef::Rbd { key, .. }, PoolDef::Rbd { key: Some(old), .. }) = (&mut *self, old) {
            match key {
                None => *key = Some(old.clone()),
                Some(k) if k.is_empty() => *key = None,
                Some(_) => {}
            }
        }
    }

    /// The definition as `config` and `info` show it: a secret `key` is
    /// replaced by a comment saying one is set.
    pub fn shown(&self) -> String {
        match self {
            PoolDef::Rbd { key: Some(_), .. } => {
                let mut hidden = self.clone();
                if let PoolDef::Rbd { key, .. } = &mut hidden {
                    *key = None;
                }
                format!(
                    "{}# key: set (never shown; a definition without key keeps it, key = \"\" removes it)\n",
                    hidden.render()
                )
            }
            _ => self.render(),
        }
    }

    pub fn pool_type(&self) -> PoolType {
        match self {
            PoolDef::Dir { .. } => PoolType::Dir,
            PoolDef::Fs { .. } => PoolType::Fs,
            PoolDef::Netfs { .. } => PoolType::Netfs,
            PoolDef::Block { .. } => PoolType::Block,
            PoolDef::Rbd { .. } => PoolType::Rbd,
        }
    }

    /// The directory volumes live in (block pools have none).
    pub fn target(&self) -> Option<&PathBuf> {
        match self {
            PoolDef::Dir { target } | PoolDef::Fs { target, .. } => Some(target),
            PoolDef::Netfs { target, .. } => target.as_ref(),
            PoolDef::Block { .. } | PoolDef::Rbd { .. } => None,
        }
    }

    /// The `source:` line of `info`.
    pub fn source_text(&self) -> String {
        match self {
            PoolDef::Dir { .. } => "-".into(),
            PoolDef::Fs { source, .. } => source.display().to_string(),
            PoolDef::Netfs { source, .. } => source.clone(),
            PoolDef::Block { source } => source
                .iter()
                .map(|s| s.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            PoolDef::Rbd {
                source,
                pool,
                namespace,
                ..
            } => match namespace {
                Some(ns) => format!("{source} {pool}/{ns}"),
                None => format!("{source} {pool}"),
            },
        }
    }

    /// `info` lines of this kind that its definition answers while no
    /// store does (the pool is not running, or its store says nothing of
    /// them): (the line it follows, key, value), as `store::InfoLine`.
    pub fn info_lines(&self) -> Vec<(&'static str, &'static str, String)> {
        match self {
            PoolDef::Netfs { version, .. } => vec![(
                "target",
                "nfs_version",
                version.clone().unwrap_or_else(|| "-".into()),
            )],
            _ => Vec::new(),
        }
    }

    /// The TOML text the `config` file shows.
    pub fn render(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

/// Checks a pool or volume name (one path component).
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(Error::Invalid(format!("'{name}' is not a valid name")));
    }
    if name.contains('/') || name.contains('\0') {
        return Err(Error::Invalid(format!(
            "name '{name}' cannot contain '/' or NUL"
        )));
    }
    if name.len() > NAME_MAX {
        return Err(Error::Invalid(format!(
            "name is longer than {NAME_MAX} bytes"
        )));
    }
    Ok(())
}

/// Every key of any pool type (a document without `type` yet is checked
/// against these).
const ALL_KEYS: [&str; 18] = [
    "type",
    "pool",
    "namespace",
    "user",
    "keyring",
    "key",
    "conf",
    "target",
    "source",
    "format",
    "client",
    "version",
    "port",
    "mount_port",
    "timeout",
    "cache",
    "nconnect",
    "uuid",
];

/// A definition serde or the TOML parser refused: its message, and the
/// line of `text` it is about when it names one.
fn invalid(e: toml::de::Error, text: &str) -> Error {
    let line = e
        .span()
        .filter(|s| s.start <= text.len() && !text.is_empty())
        .map(|s| text[..s.start].matches('\n').count() + 1);
    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
    Error::Invalid(format!(
        "invalid pool definition: {}{at}",
        one_line(e.message())
    ))
}

/// Takes the optional `uuid` out of a document's table (it is the pool's,
/// not the definition's), checked.
fn take_uuid(table: &mut toml::Table) -> Result<Option<String>> {
    let Some(v) = table.remove("uuid") else {
        return Ok(None);
    };
    let text = v.as_str().unwrap_or_default();
    let uuid = uuid::Uuid::parse_str(text).map_err(|_| {
        Error::Invalid(format!(
            "invalid pool definition: uuid must be a UUID such as 6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f, not {v}"
        ))
    })?;
    Ok(Some(uuid.hyphenated().to_string()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How requests travel between the kernel and the daemon (`poolfs mount
/// --transport`, docs/io_uring.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Transport {
    /// `/dev/fuse`, the transport a successor server can take over after a
    /// crash or an upgrade (io_uring cannot, yet: docs/io_uring.md).
    Auto,
    /// FUSE-over-io_uring (Linux 6.14+; root turns the kernel's
    /// `enable_uring` on), or no mount at all. A crash of the server loses
    /// the requests it held.
    Uring,
    /// `/dev/fuse` only.
    Devfuse,
}

/// How volume reads and writes reach the backing file (`poolfs mount --io`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IoMode {
    /// Kernel passthrough where the kernel and privileges allow it, else the daemon.
    Auto,
    /// Kernel passthrough or no mount at all.
    Passthrough,
    /// Every read and write goes through the daemon.
    Daemon,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netfs_target_is_required_only_for_the_kernel_client() {
        let no_target: PoolDef = toml::from_str("type = \"netfs\"\nsource = \"h:/e\"\n").unwrap();
        assert!(no_target.validate_for("kernel").is_err());
        assert!(no_target.validate_for("userspace").is_ok());
        let kernel: PoolDef =
            toml::from_str("type = \"netfs\"\nsource = \"h:/e\"\nclient = \"kernel\"\n").unwrap();
        assert!(
            kernel.validate_for("userspace").is_err(),
            "named client wins"
        );
    }

    #[test]
    fn parse_dir_pool() {
        let d = PoolDef::parse("type = \"dir\"\ntarget = \"/srv/x\"\n").unwrap();
        assert_eq!(d, PoolDef::dir("/srv/x".into()));
        assert_eq!(PoolDef::parse(&d.render()).unwrap(), d);
    }

    #[test]
    fn a_partial_definition_is_checked_line_by_line() {
        // Complete lines only; what needs the whole document waits.
        for ok in [
            "",
            "type = \"dir\"\n",
            "type = \"netfs\"\nclient = \"kernel\"\n",
            "source = \"nas:/vm\"\n",
            "type = \"dir\"\ncolour = ",
            "uuid = \"6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f\"\ntype = \"fs\"\n",
        ] {
            PoolDef::check_partial(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for (bad, says) in [
            ("type = \"bogus\"\n", "bogus"),
            ("type = \"dir\"\ncolour = \"red\"\n", "colour"),
            ("colour = \"red\"\n", "colour"),
            ("type = \"dir\"\nthis is not toml\n", "line 2"),
            ("type = \"dir\"\ntarget = \"relative\"\n", "absolute"),
            ("type = \"netfs\"\ntimeout = 0\n", "timeout"),
            ("type = \"fs\"\nformat = \"fat\"\n", "format"),
            ("uuid = \"nope\"\n", "uuid"),
        ] {
            let e = PoolDef::check_partial(bad).expect_err(bad);
            assert!(e.to_string().contains(says), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_document_may_carry_the_pools_uuid() {
        let (d, u) = PoolDef::parse_document(
            "uuid = \"6F1C0A52-8F6E-4A59-9D1E-2B7E0A3C4D5F\"\ntype = \"dir\"\ntarget = \"/x\"\n",
        )
        .unwrap();
        assert_eq!(d, PoolDef::dir("/x".into()));
        assert_eq!(u.as_deref(), Some("6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f"));
        let (_, u) = PoolDef::parse_document("type = \"dir\"\ntarget = \"/x\"\n").unwrap();
        assert_eq!(u, None);
        assert!(PoolDef::parse_document("type = \"dir\"\n").is_err());
    }

    #[test]
    fn parse_rejects_unknown_keys() {
        let e = PoolDef::parse("type = \"dir\"\ntarget = \"/x\"\ncolour = \"red\"\n").unwrap_err();
        assert!(matches!(e, Error::Invalid(_)), "{e}");
    }

    #[test]
    fn parse_rejects_relative_target() {
        assert!(PoolDef::parse("type = \"dir\"\ntarget = \"rel/x\"\n").is_err());
    }

    #[test]
    fn parse_rejects_unknown_type_and_missing_fields() {
        assert!(PoolDef::parse("type = \"zfs\"\ntarget = \"/x\"\n").is_err());
        assert!(PoolDef::parse("type = \"dir\"\n").is_err());
        assert!(PoolDef::parse("target = \"/x\"\n").is_err());
    }

    #[test]
    fn parse_all_types_round_trip() {
        for text in [
            "type = \"fs\"\nsource = \"/dev/vdb\"\nformat = \"xfs\"\ntarget = \"/m\"\n",
            "type = \"netfs\"\nsource = \"h:/e\"\ntarget = \"/m\"\nversion = \"4.1\"\nport = 2049\n",
            "type = \"block\"\nsource = [\"/dev/vdc\"]\n",
        ] {
            let d = PoolDef::parse(text).unwrap();
            assert_eq!(PoolDef::parse(&d.render()).unwrap(), d);
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(text in "\\PC{0,200}") {
            let _ = PoolDef::parse(&text);
        }

        #[test]
        fn dir_definitions_round_trip(path in "/[a-z0-9/_.-]{0,40}") {
            let d = PoolDef::dir(path.into());
            proptest::prop_assert_eq!(PoolDef::parse(&d.render()).unwrap(), d);
        }
    }

    #[test]
    fn check_name_rejects_path_tricks() {
        for bad in ["", ".", "..", "a/b", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(".hidden").is_ok());
    }
}
