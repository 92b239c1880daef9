//! External commands of the backends, built as data (golden-tested in
//! `tests/golden/*.argv` without running them) and run by `Cmd::run`, which
//! captures stderr into the error.

use std::path::Path;

use crate::cmd::Cmd;

/// Mount options of every filesystem poolfs mounts for a pool.
pub const FS_MOUNT_OPTIONS: &str = "nodev,nosuid";

/// `mkfs.<format>` forcing over whatever is there (the policy check for an
/// existing signature runs before this is built).
pub fn mkfs(format: &str, device: &Path) -> Cmd {
    let force = match format {
        "xfs" | "btrfs" => "-f",
        _ => "-F",
    };
    Cmd::new(&format!("mkfs.{format}"))
        .arg(force)
        .arg("-q")
        .arg(device)
}

/// Mounts a filesystem pool. A disk image goes through a loop device that
/// mount(8) attaches with autoclear, so the unmount detaches it.
pub fn mount_fs(format: &str, source: &Path, target: &Path, image: bool) -> Cmd {
    let mut cmd = Cmd::new("mount");
    if format != "auto" {
        cmd = cmd.arg("-t").arg(format);
    }
    let opts = if image {
        format!("loop,{FS_MOUNT_OPTIONS}")
    } else {
        FS_MOUNT_OPTIONS.to_string()
    };
    cmd.arg("-o").arg(opts).arg(source).arg(target)
}

/// NFS mount options of a `netfs` pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NfsOptions {
    /// `3`, `4`, `4.1`, `4.2`; `None`: the best both sides speak.
    pub version: Option<String>,
    pub port: Option<u16>,
    /// Seconds before an unanswered request fails (soft mount).
    pub timeout: Option<u64>,
    /// Seconds attributes are cached (`actimeo`); `None`: the kernel's.
    pub cache: Option<u64>,
    /// TCP connections to the server (`nconnect`); `None`: one.
    pub nconnect: Option<u8>,
}

/// Mounts an NFS export with the kernel client. A timeout makes the mount
/// `soft`, so an unanswered request fails with EIO instead of hanging.
pub fn mount_nfs(source: &str, target: &Path, o: &NfsOptions) -> Cmd {
    let fstype = match o.version.as_deref() {
        Some("3") => "nfs",
        _ => "nfs4",
    };
    let mut opts = vec![FS_MOUNT_OPTIONS.to_string()];
    if let Some(v) = o.version.as_deref().filter(|v| *v != "4") {
        opts.push(format!("vers={v}"));
    }
    if let Some(p) = o.port {
        opts.push(format!("port={p}"));
    }
    if let Some(t) = o.timeout {
        // timeo counts tenths of a second.
        opts.push(format!("soft,timeo={},retrans=1", t.saturating_mul(10)));
    }
    if let Some(c) = o.cache {
        opts.push(format!("actimeo={c}"));
    }
    if let Some(n) = o.nconnect {
        opts.push(format!("nconnect={n}"));
    }
    Cmd::new("mount")
        .arg("-t")
        .arg(fstype)
        .arg("-o")
        .arg(opts.join(","))
        .arg(source)
        .arg(target)
}

pub fn umount(target: &Path) -> Cmd {
    Cmd::new("umount").arg(target)
}

/// Low-level probe of a filesystem or partition-table signature.
pub fn probe(device: &Path) -> Cmd {
    Cmd::new("blkid")
        .arg("-p")
        .arg("-o")
        .arg("export")
        .arg(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str, cmd: &Cmd) {
        let path = format!("{}/tests/golden/{name}.argv", env!("CARGO_MANIFEST_DIR"));
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(format!("{cmd}\n"), want, "{name}");
    }

    #[test]
    fn fs_commands_match_golden_files() {
        let dev = Path::new("/dev/vdb");
        let img = Path::new("/var/lib/poolfs/images/data.img");
        let t = Path::new("/var/lib/poolfs/mnt/data");
        golden("mkfs-ext4", &mkfs("ext4", dev));
        golden("mkfs-xfs", &mkfs("xfs", dev));
        golden("mkfs-btrfs", &mkfs("btrfs", dev));
        golden("mount-fs-ext4-device", &mount_fs("ext4", dev, t, false));
        golden("mount-fs-xfs-image", &mount_fs("xfs", img, t, true));
        golden("mount-fs-auto-device", &mount_fs("auto", dev, t, false));
        golden("umount", &umount(t));
        golden("blkid-probe", &probe(dev));
        let nfs = Path::new("/var/lib/poolfs/mnt/nfs1");
        golden(
            "mount-nfs-default",
            &mount_nfs("nfs.example.com:/share", nfs, &NfsOptions::default()),
        );
        golden(
            "mount-nfs-v41-port-timeout",
            &mount_nfs(
                "10.0.0.5:/vms",
                nfs,
                &NfsOptions {
                    version: Some("4.1".into()),
                    port: Some(20490),
                    timeout: Some(5),
                    cache: None,
                    nconnect: None,
                },
            ),
        );
        golden(
            "mount-nfs-v3",
            &mount_nfs(
                "h:/e",
                nfs,
                &NfsOptions {
                    version: Some("3".into()),
                    ..Default::default()
                },
            ),
        );
        golden(
            "mount-nfs-v3-nconnect",
            &mount_nfs(
                "h:/e",
                nfs,
                &NfsOptions {
                    version: Some("3".into()),
                    nconnect: Some(4),
                    ..Default::default()
                },
            ),
        );
    }
}
