//! What is mounted where: a pure parser of /proc/self/mountinfo lines and
//! the look-ups the backends, the daemon and the CLI need.

use std::path::{Path, PathBuf};

/// The source name of every poolfs mount (`mount` shows it).
pub const FSNAME: &str = "poolfs";

/// True when a poolfs mount sits on `mountpoint`.
pub fn is_poolfs_mount(mountpoint: &Path) -> bool {
    at(mountpoint).is_some_and(|m| m.fstype.starts_with("fuse") && m.source == FSNAME)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    pub mountpoint: PathBuf,
    pub fstype: String,
    pub source: String,
}

/// Parses one line of /proc/self/mountinfo (octal escapes decoded).
pub fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mountpoint = PathBuf::from(unescape(left.split(' ').nth(4)?));
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let source = unescape(r.next()?);
    Some(MountInfo {
        mountpoint,
        fstype,
        source,
    })
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount of this process's namespace.
pub fn all() -> Vec<MountInfo> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|t| t.lines().filter_map(parse_line).collect())
        .unwrap_or_default()
}

/// The topmost mount on `path`, if `path` is a mountpoint.
pub fn at(path: &Path) -> Option<MountInfo> {
    let canon = path.canonicalize().ok()?;
    all().into_iter().rev().find(|m| m.mountpoint == canon)
}

/// The image file a loop device reads, from sysfs (`/dev/loop3` -> its backing file).
pub fn loop_backing_file(dev: &str) -> Option<PathBuf> {
    let name = Path::new(dev).file_name()?.to_str()?;
    let text = std::fs::read_to_string(format!("/sys/block/{name}/loop/backing_file")).ok()?;
    Some(PathBuf::from(text.trim_end()))
}

/// The processes that hold something under `mountpoint` open (a file, a
/// working or root directory), as `pid (command)`: what an unmount that
/// found it busy names. Processes this one may not inspect are skipped.
pub fn holders(mountpoint: &Path) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let under = |p: PathBuf| p.starts_with(mountpoint);
    let mut found = Vec::new();
    for pid in procs.flatten() {
        let dir = pid.path();
        if !pid
            .file_name()
            .as_encoded_bytes()
            .iter()
            .all(u8::is_ascii_digit)
        {
            continue;
        }
        let fds = std::fs::read_dir(dir.join("fd"))
            .into_iter()
            .flatten()
            .flatten();
        let holds = ["cwd", "root"]
            .iter()
            .filter_map(|l| std::fs::read_link(dir.join(l)).ok())
            .chain(fds.filter_map(|fd| std::fs::read_link(fd.path()).ok()))
            .any(under);
        if holds {
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            found.push(format!(
                "{} ({})",
                pid.file_name().to_string_lossy(),
                comm.trim_end()
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_line_parses_fuse_mount() {
        let l = "120 29 0:52 / /srv/my\\040pools rw,nosuid,nodev - fuse.poolfs poolfs rw,user_id=0";
        assert_eq!(
            parse_line(l),
            Some(MountInfo {
                mountpoint: "/srv/my pools".into(),
                fstype: "fuse.poolfs".into(),
                source: "poolfs".into(),
            })
        );
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(unescape("a\\"), "a\\");
    }

    #[test]
    fn a_process_holding_a_file_is_named() {
        let dir = std::env::temp_dir().join(format!("poolfs-holders-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = std::fs::File::create(dir.join("f")).unwrap();
        let me = format!("{} (", std::process::id());
        assert!(holders(&dir).iter().any(|h| h.starts_with(&me)));
        drop(file);
        assert!(!holders(&dir).iter().any(|h| h.starts_with(&me)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
