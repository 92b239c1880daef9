//! Control files: pure parsers and renderers of every request and every text
//! a control file shows (SPEC section 3). No I/O and no locks here, so every
//! grammar is table-tested and reused by the command line.
//!
//! Rules shared by all control files (the sysfs conventions): one request per
//! `write(2)`, surrounding white space ignored, text is ASCII and every line
//! ends in `\n`.

pub mod volume;

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The control files at the top of a pool directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolFile {
    Status,
    Autostart,
    Info,
    Config,
}

impl PoolFile {
    pub const ALL: [PoolFile; 4] = [
        PoolFile::Status,
        PoolFile::Autostart,
        PoolFile::Info,
        PoolFile::Config,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PoolFile::Status => "status",
            PoolFile::Autostart => "autostart",
            PoolFile::Info => "info",
            PoolFile::Config => "config",
        }
    }

    pub fn from_name(name: &str) -> Option<PoolFile> {
        PoolFile::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Mode bits: 0644 for files that accept requests, 0444 for read-only ones.
    pub fn writable(self) -> bool {
        !matches!(self, PoolFile::Info)
    }
}

/// The control files of one volume, under `<pool>/.vol/<volume>/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolFile {
    Info,
    Resize,
    Wipe,
    /// Only where the store clones instantly (`Store::can_clone`).
    Clone,
}

impl VolFile {
    pub const ALL: [VolFile; 4] = [
        VolFile::Info,
        VolFile::Resize,
        VolFile::Wipe,
        VolFile::Clone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VolFile::Info => "info",
            VolFile::Resize => "resize",
            VolFile::Wipe => "wipe",
            VolFile::Clone => "clone",
        }
    }

    pub fn from_name(name: &str) -> Option<VolFile> {
        VolFile::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn writable(self) -> bool {
        !matches!(self, VolFile::Info)
    }
}

/// Directory of per-volume control directories (SPEC 3.5-3.7).
pub const VOL_DIR: &str = ".vol";

/// Names at the top of a pool that are never volumes.
pub fn is_reserved(name: &str) -> bool {
    name == VOL_DIR || PoolFile::from_name(name).is_some()
}

/// A request written to `<pool>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRequest {
    Start,
    Stop,
    Refresh,
    Build { overwrite: bool },
}

impl FromStr for StatusRequest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            ["start"] => Ok(StatusRequest::Start),
            ["stop"] => Ok(StatusRequest::Stop),
            ["refresh"] => Ok(StatusRequest::Refresh),
            ["build"] => Ok(StatusRequest::Build { overwrite: false }),
            ["build", "overwrite"] => Ok(StatusRequest::Build { overwrite: true }),
            _ => Err(Error::Invalid(format!(
                "unknown status request '{}': expected start, stop, refresh, build or build overwrite",
                printable(s.trim())
            ))),
        }
    }
}

impl fmt::Display for StatusRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StatusRequest::Start => "start",
            StatusRequest::Stop => "stop",
            StatusRequest::Refresh => "refresh",
            StatusRequest::Build { overwrite: false } => "build",
            StatusRequest::Build { overwrite: true } => "build overwrite",
        })
    }
}

/// The value of `<pool>/autostart`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autostart(pub bool);

impl FromStr for Autostart {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "yes" | "on" | "true" | "1" => Ok(Autostart(true)),
            "no" | "off" | "false" | "0" => Ok(Autostart(false)),
            other => Err(Error::Invalid(format!(
                "autostart takes yes or no (or on/off, true/false, 1/0), not '{}'",
                printable(other)
            ))),
        }
    }
}

impl fmt::Display for Autostart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0 { "yes" } else { "no" })
    }
}

/// Decodes one control-file write: ASCII text, surrounding white space ignored.
pub fn request_text(data: &[u8]) -> Result<&str, Error> {
    let text = std::str::from_utf8(data)
        .map_err(|_| Error::Invalid("a control request must be ASCII text".into()))?;
    if !text.is_ascii() {
        return Err(Error::Invalid(
            "a control request must be ASCII text".into(),
        ));
    }
    Ok(text.trim())
}

/// Shortens and sanitises user text quoted back in an error sentence.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

/// Renders `key: value` lines (every line ends in `\n`).
pub fn render_kv(pairs: &[(&str, String)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}: {v}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn status_request_parses_every_word() {
        for (text, want) in [
            ("start", StatusRequest::Start),
            ("stop\n", StatusRequest::Stop),
            ("  refresh ", StatusRequest::Refresh),
            ("build", StatusRequest::Build { overwrite: false }),
            (
                "build   overwrite\n",
                StatusRequest::Build { overwrite: true },
            ),
        ] {
            assert_eq!(text.parse::<StatusRequest>().unwrap(), want, "{text:?}");
        }
    }

    #[test]
    fn status_request_rejects_unknown_words() {
        for bad in ["", "starts", "build now", "stop stop", "START"] {
            assert!(bad.parse::<StatusRequest>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn autostart_accepts_synonyms() {
        for t in ["yes", "on", "true", "1", " yes\n"] {
            assert_eq!(t.parse::<Autostart>().unwrap(), Autostart(true));
        }
        for t in ["no", "off", "false", "0"] {
            assert_eq!(t.parse::<Autostart>().unwrap(), Autostart(false));
        }
        assert!("maybe".parse::<Autostart>().is_err());
    }

    #[test]
    fn reserved_names() {
        for n in ["status", "autostart", "info", "config", ".vol"] {
            assert!(is_reserved(n));
        }
        assert!(!is_reserved("vm1.img"));
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(t) = request_text(&data) {
                let _ = t.parse::<StatusRequest>();
                let _ = t.parse::<Autostart>();
            }
        }

        #[test]
        fn status_round_trips(i in 0usize..5) {
            let all = [StatusRequest::Start, StatusRequest::Stop, StatusRequest::Refresh,
                StatusRequest::Build { overwrite: false }, StatusRequest::Build { overwrite: true }];
            let r = all[i];
            prop_assert_eq!(r.to_string().parse::<StatusRequest>().unwrap(), r);
        }

        #[test]
        fn autostart_round_trips(b in any::<bool>()) {
            prop_assert_eq!(Autostart(b).to_string().parse::<Autostart>().unwrap(), Autostart(b));
        }
    }
}
