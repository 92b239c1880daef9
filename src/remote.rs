//! `poolfs --connect ssh://[USER@]HOST[:PORT][/MOUNT] VERB ...`: the same
//! verb run by the `poolfs` binary on another host, through `ssh` (its own
//! authentication, keys and config). Standard output, standard error and
//! the exit status come back as they are, so a remote verb reads like a
//! local one. `vol-upload` and `vol-download` stream FILE, which is on this
//! host, through ssh's standard input or output.

use std::ffi::OsString;
use std::fs::File;
use std::process::{Command, Stdio};

use crate::cli::{Command as Verb, Tree};
use crate::error::{Error, Result};

/// Where a remote verb runs (parsed from `--connect`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// `[USER@]HOST` as ssh takes it.
    pub dest: String,
    pub port: Option<u16>,
    /// The tree on the remote host (`--mount` there), if the URI names one.
    pub mount: Option<String>,
    /// The remote `poolfs` binary (`?binary=PATH`; default `poolfs` on the
    /// remote PATH).
    pub binary: String,
}

impl std::str::FromStr for Remote {
    type Err = Error;

    fn from_str(uri: &str) -> Result<Remote> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "bad --connect '{uri}': {why} (ssh://[USER@]HOST[:PORT][/MOUNT][?binary=PATH])"
            ))
        };
        let rest = uri
            .strip_prefix("ssh://")
            .ok_or_else(|| bad("only ssh:// is supported"))?;
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, mount) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
                (h, Some(p.parse::<u16>().map_err(|_| bad("bad port"))?))
            }
            _ => (hostport, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.starts_with('-') {
            return Err(bad("no host"));
        }
        if user.is_some_and(|u| u.is_empty() || u.starts_with('-')) {
            return Err(bad("bad user"));
        }
        let mut binary = "poolfs".to_string();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("binary", v)) if !v.is_empty() => binary = v.to_string(),
                _ => return Err(bad(&format!("unknown parameter '{kv}'"))),
            }
        }
        Ok(Remote {
            dest: match user {
                Some(u) => format!("{u}@{host}"),
                None => host.to_string(),
            },
            port,
            mount: mount.filter(|m| *m != "/").map(str::to_string),
            binary,
        })
    }
}

/// The remote command line: the binary and `args`, each quoted for the
/// remote shell (ssh joins its arguments into one shell command).
fn remote_line(r: &Remote, args: &[OsString]) -> Result<String> {
    std::iter::once(r.binary.as_str().into())
        .chain(args.iter().map(|a| a.to_string_lossy()))
        .map(|a| {
            shlex::try_quote(&a)
                .map(|q| q.into_owned())
                .map_err(|_| Error::Invalid(format!("argument '{a}' cannot be sent over ssh")))
        })
        .collect::<Result<Vec<_>>>()
        .map(|v| v.join(" "))
}

/// The ssh command: `$POOLFS_SSH` (split as a shell would; default `ssh`),
/// the port, the destination and the remote line.
fn ssh(r: &Remote, line: &str) -> Result<Command> {
    let spec = std::env::var("POOLFS_SSH")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "ssh".into());
    let words = shlex::split(&spec)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| Error::Invalid(format!("cannot split $POOLFS_SSH '{spec}' into words")))?;
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..]);
    if let Some(p) = r.port {
        cmd.arg("-p").arg(p.to_string());
    }
    cmd.arg("--").arg(&r.dest).arg(line);
    Ok(cmd)
}

/// The arguments the remote poolfs gets: this command line without
/// `--connect`, with `--mount` from the URI unless one was given.
fn forwarded(r: &Remote, argv: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1);
    let mut has_mount = false;
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--connect" {
            it.next();
            continue;
        }
        if s.starts_with("--connect=") {
            continue;
        }
        has_mount |= s == "--mount" || s.starts_with("--mount=");
        out.push(a.clone());
    }
    if let (false, Some(m)) = (has_mount, &r.mount) {
        out.push("--mount".into());
        out.push(m.into());
    }
    out
}

/// Runs `verb` (parsed from `argv`) on the remote host; returns the exit
/// status to leave with.
pub fn run(r: &Remote, verb: &Verb, argv: &[OsString]) -> Result<u8> {
    let status = match verb {
        Verb::Mount(_) | Verb::Completions { .. } | Verb::Man => {
            return Err(Error::Invalid(
                "--connect runs management verbs and upgrade; mount, completions and man run on the host itself".into(),
            ));
        }
        // FILE `-` is this process's own standard input or output: the
        // plain forwarding below passes it through.
        Verb::VolUpload {
            vol,
            file,
            pool,
            sparse,
            tree,
        } if file.as_os_str() != "-" => {
            let src =
                File::open(file).map_err(Error::io(format!("cannot open '{}'", file.display())))?;
            let args = stream_args("vol-upload", vol, pool, *sparse, tree);
            let mut cmd = ssh(r, &remote_line(r, &forwarded(r, &args))?)?;
            cmd.stdin(Stdio::from(src));
            cmd.status().map_err(no_ssh)?
        }
        Verb::VolDownload {
            vol,
            file,
            pool,
            sparse,
            tree,
        } if file.as_os_str() != "-" => {
            // Opened before ssh starts: a file that cannot be made stops
            // here, and the remote output is always read (never left to
            // fill a pipe nobody drains).
            let existed = file.exists();
            let dst = crate::manage::create_local(file)?;
            let args = stream_args("vol-download", vol, pool, false, tree);
            let mut cmd = ssh(r, &remote_line(r, &forwarded(r, &args))?)?;
            let mut child = cmd.stdout(Stdio::piped()).spawn().map_err(no_ssh)?;
            let copied = match child.stdout.take() {
                Some(mut out) => crate::volume::copy::stream_copy(&mut out, &dst, *sparse),
                None => Ok(0),
            };
            let status = child.wait().map_err(no_ssh)?;
            if status.success() {
                copied.map_err(Error::io(format!("cannot write '{}'", file.display())))?;
                dst.sync_all()
                    .map_err(Error::io(format!("cannot sync '{}'", file.display())))?;
            } else if !existed {
                // As a local download that fails: no file left behind.
                let _ = std::fs::remove_file(file);
            }
            status
        }
        // An XML file is this host's: it goes as the remote standard input.
        Verb::PoolDefine { file, .. }
        | Verb::PoolCreate { file, .. }
        | Verb::VolCreate { file, .. }
        | Verb::VolCreateFrom { file, .. }
            if file.as_os_str() != "-" =>
        {
            let src =
                File::open(file).map_err(Error::io(format!("cannot open '{}'", file.display())))?;
            let args: Vec<OsString> = argv
                .iter()
                .map(|a| {
                    if a == file.as_os_str() {
                        "-".into()
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let mut cmd = ssh(r, &remote_line(r, &forwarded(r, &args))?)?;
            cmd.stdin(Stdio::from(src));
            cmd.status().map_err(no_ssh)?
        }
        _ => ssh(r, &remote_line(r, &forwarded(r, argv))?)?
            .status()
            .map_err(no_ssh)?,
    };
    match status.code() {
        // ssh's own failure (poolfs never exits 255): it said why on stderr.
        Some(255) => Err(ssh_failed(r, "exit 255")),
        Some(code) => Ok(u8::try_from(code).unwrap_or(1)),
        None => Err(ssh_failed(r, "ended by a signal")),
    }
}

/// The command line of an upload or download whose FILE is the stream.
fn stream_args(verb: &str, vol: &str, pool: &str, sparse: bool, tree: &Tree) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec![
        "poolfs".into(),
        verb.into(),
        vol.into(),
        "-".into(),
        "--pool".into(),
        pool.into(),
    ];
    if sparse {
        a.push("--sparse".into());
    }
    if let Some(m) = &tree.mount {
        a.push("--mount".into());
        a.push(m.into());
    }
    a
}

fn ssh_failed(r: &Remote, status: &str) -> Error {
    Error::Command {
        cmd: format!("ssh to '{}'", r.dest),
        status: status.into(),
        stderr: "ssh said why above".into(),
    }
}

fn no_ssh(e: std::io::Error) -> Error {
    Error::Sys {
        what: "cannot run ssh".into(),
        errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ssh_uris() {
        let r: Remote = "ssh://root@host1:2222/srv/pools?binary=/opt/poolfs"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r,
            Remote {
                dest: "root@host1".into(),
                port: Some(2222),
                mount: Some("/srv/pools".into()),
                binary: "/opt/poolfs".into(),
            }
        );
        let r: Remote = "ssh://h".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.dest.as_str(), r.port, r.mount), ("h", None, None));
        let r: Remote = "ssh://[fe80::1]:22/"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.dest.as_str(), r.port), ("fe80::1", Some(22)));
        for bad in [
            "host",
            "qemu+ssh://h",
            "ssh://",
            "ssh://-oProxyCommand=x",
            "ssh://h:x",
            "ssh://h?x=1",
        ] {
            assert!(bad.parse::<Remote>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwards_the_verb_without_connect() {
        let r: Remote = "ssh://h/m".parse().unwrap_or_else(|e| panic!("{e}"));
        let argv: Vec<OsString> = [
            "poolfs",
            "--connect",
            "ssh://h/m",
            "vol-list",
            "p; rm -rf /",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let line = remote_line(&r, &forwarded(&r, &argv)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(line, "poolfs vol-list 'p; rm -rf /' --mount /m");
        let argv: Vec<OsString> = [
            "poolfs",
            "pool-list",
            "--connect=ssh://h/m",
            "--mount",
            "/x",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        assert_eq!(
            remote_line(&r, &forwarded(&r, &argv)).unwrap_or_else(|e| panic!("{e}")),
            "poolfs pool-list --mount /x"
        );
    }
}
