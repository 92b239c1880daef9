//! A pool's NFS settings as the client library's mount URL (pure).

use std::time::Duration;

use crate::error::{Error, Result};

/// The default deadline of one NFS call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a `netfs` pool's definition says about reaching its export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `host:/path`
    pub source: String,
    /// `3`, `4`, `4.1` or `4.2`; `None`: the best both sides speak
    /// (`versions` lists what to try, best first).
    pub version: Option<String>,
    /// The NFS port (default 2049, or the server's portmapper for NFSv3).
    pub port: Option<u16>,
    /// The MOUNT protocol's port (NFSv3; default: the server's portmapper).
    pub mount_port: Option<u16>,
    pub timeout: Duration,
    /// The NFSv4.1 client owner: the same daemon is the same client to the
    /// server across restarts, and two daemons are two clients.
    pub client_owner: Option<String>,
    /// How long names and attributes may be cached (the pool's `cache`).
    pub cache: Duration,
    /// TCP connections for READs and WRITEs (NFSv3; at least 1).
    pub nconnect: u8,
}

/// What a definition without `version` tries, best first.
pub const NEGOTIATED: [&str; 4] = ["4.2", "4.1", "4", "3"];

impl Options {
    /// The versions to try, best first: the one the definition names, or
    /// every version the client speaks.
    pub fn versions(&self) -> Vec<&str> {
        match self.version.as_deref() {
            Some(v) => vec![v],
            None => NEGOTIATED.to_vec(),
        }
    }

    /// `nfs://host/path?version=..[&nfsport=..][&mountport=..]` for NFS
    /// `version` (one of `versions`). A daemon that is not root binds an
    /// unprivileged source port (the export must allow `insecure` clients then).
    pub fn url(&self, version: &str) -> Result<String> {
        let (host, path) = self
            .source
            .split_once(":/")
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "source must look like host:/path, not '{}'",
                    self.source
                ))
            })?;
        let version = match version {
            "3" => "3",
            "4" => "4.0",
            "4.1" => "4.1",
            "4.2" => "4.2",
            v => {
                return Err(Error::Invalid(format!(
                    "version must be one of 3, 4, 4.1, 4.2, not '{v}'"
                )));
            }
        };
        let encoded: String = path
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let mut url = format!("nfs://{host}/{encoded}?version={version}");
        if let Some(p) = self.port {
            url.push_str(&format!("&nfsport={p}"));
        }
        if let Some(p) = self.mount_port {
            url.push_str(&format!("&mountport={p}"));
        }
        if !nix::unistd::Uid::effective().is_root() {
            url.push_str("&noresvport=true");
        }
        if let Some(owner) = &self.client_owner {
            // Made of hex digits, dashes and a uuid: nothing to escape.
            url.push_str(&format!("&client-owner={owner}"));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(source: &str, version: Option<&str>) -> Options {
        Options {
            source: source.into(),
            version: version.map(String::from),
            port: None,
            mount_port: None,
            timeout: DEFAULT_TIMEOUT,
            client_owner: None,
            cache: Duration::from_secs(1),
            nconnect: 1,
        }
    }

    #[test]
    fn urls() {
        let resv = if nix::unistd::Uid::effective().is_root() {
            ""
        } else {
            "&noresvport=true"
        };
        let best = opts("nas:/exports/vm", None);
        assert_eq!(best.versions(), vec!["4.2", "4.1", "4", "3"]);
        assert_eq!(
            best.url("3").ok(),
            Some(format!("nfs://nas/exports/vm?version=3{resv}"))
        );
        let mut o = opts("127.0.0.1:/a b", Some("4"));
        assert_eq!(o.versions(), vec!["4"]);
        o.port = Some(20490);
        o.mount_port = Some(20491);
        assert_eq!(
            o.url("4").ok(),
            Some(format!(
                "nfs://127.0.0.1/a%20b?version=4.0&nfsport=20490&mountport=20491{resv}"
            ))
        );
        assert!(opts("nas", None).url("3").is_err());
        assert!(opts(":/x", None).url("3").is_err());
        assert!(opts("nas:/x", None).url("5").is_err());
    }
}
