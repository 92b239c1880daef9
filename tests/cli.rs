//! The command line against a real mount: output shaped like virsh's,
//! one-sentence errors and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use common::{BIN, Fixture};

fn poolfs(fx: &Fixture, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("POOLFS_MOUNT", &fx.mnt)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(fx: &Fixture, args: &[&str]) -> String {
    let (code, out, err) = poolfs(fx, args);
    assert_eq!(code, 0, "poolfs {args:?} failed:\n{out}{err}");
    out
}

#[test]
fn cli_defines_a_userspace_nfs_pool() {
    require_mount!();
    let fx = Fixture::new();
    assert_eq!(
        ok(
            &fx,
            &[
                "pool-define-as",
                "nfs1",
                "netfs",
                "--source",
                "nas:/exports/vm",
                "--client",
                "userspace",
                "--nfs-version",
                "4.1",
                "--port",
                "20490",
                "--timeout",
                "3",
            ]
        ),
        "Pool nfs1 defined\n"
    );
    assert_eq!(
        fx.read("nfs1/config"),
        "type = \"netfs\"\nsource = \"nas:/exports/vm\"\nclient = \"userspace\"\nversion = \"4.1\"\nport = 20490\ntimeout = 3\n"
    );
    // The kernel client needs a target: refused, and nothing stays defined.
    let (code, _, err) = poolfs(
        &fx,
        &[
            "pool-define-as",
            "nfs2",
            "netfs",
            "--source",
            "nas:/e",
            "--client",
            "kernel",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("target is required"), "{err}");
    assert!(!fx.mnt.join("nfs2").exists());
}

#[test]
fn cli_pool_lifecycle() {
    require_mount!();
    let fx = Fixture::new();
    let list = ok(&fx, &["pool-list"]);
    assert!(
        list.starts_with(" Name      State    Autostart\n---"),
        "{list}"
    );
    assert!(list.contains(" default   active   yes"), "{list}");
    assert_eq!(
        ok(&fx, &["pool-define-as", "p2", "dir"]),
        "Pool p2 defined\n"
    );
    assert!(
        !ok(&fx, &["pool-list"]).contains("p2"),
        "inactive pools only with --all"
    );
    assert!(ok(&fx, &["pool-list", "--all"]).contains(" p2        inactive   no"));
    assert_eq!(ok(&fx, &["pool-build", "p2"]), "Pool p2 built\n");
    assert_eq!(ok(&fx, &["pool-start", "p2"]), "Pool p2 started\n");
    assert_eq!(
        ok(&fx, &["pool-autostart", "p2"]),
        "Pool p2 marked as autostarted\n"
    );
    let info = ok(&fx, &["pool-info", "p2", "--bytes"]);
    assert!(
        info.contains("State:          running\n") && info.contains("Autostart:      yes\n"),
        "{info}"
    );
    let cap: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Capacity:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(cap > 0);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&fx, &["pool-info", "p2", "--json"])).unwrap();
    assert_eq!(json["state"], "running");
    assert_eq!(ok(&fx, &["pool-refresh", "p2"]), "Pool p2 refreshed\n");
    let (code, _, err) = poolfs(&fx, &["pool-undefine", "p2"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("poolfs: error: cannot undefine pool 'p2'") && err.lines().count() == 1,
        "{err}"
    );
    assert_eq!(ok(&fx, &["pool-stop", "p2"]), "Pool p2 destroyed\n");
    assert_eq!(
        ok(&fx, &["pool-undefine", "p2"]),
        "Pool p2 has been undefined\n"
    );
    let (code, _, err) = poolfs(&fx, &["pool-info", "p2"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "poolfs: error: storage pool 'p2' not found\n")
    );
    let (code, _, err) = Command::new(BIN)
        .args(["pool-list", "--mount", "/nonexistent"])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap(),
                String::new(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        })
        .unwrap();
    assert_eq!(code, 1);
    assert!(
        err.contains("no poolfs tree is mounted at '/nonexistent'"),
        "{err}"
    );
    // An empty $POOLFS_MOUNT counts as unset: the default tree, not a usage error.
    let out = Command::new(BIN)
        .args(["pool-info", "default"])
        .env("POOLFS_MOUNT", "")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'/srv/pools'") || out.status.success(),
        "{err}"
    );
    assert_ne!(out.status.code(), Some(2), "{err}");
}

#[test]
fn cli_volume_lifecycle() {
    require_mount!();
    let fx = Fixture::new();
    assert_eq!(
        ok(&fx, &["vol-create-as", "default", "a.raw", "1G"]),
        "Vol a.raw created\n"
    );
    assert_eq!(
        fs::metadata(fx.backing().join("a.raw")).unwrap().blocks(),
        0,
        "sparse by default"
    );
    ok(
        &fx,
        &[
            "vol-create-as",
            "default",
            "full.raw",
            "64M",
            "--allocation",
            "64M",
        ],
    );
    assert!(
        fs::metadata(fx.backing().join("full.raw"))
            .unwrap()
            .blocks()
            * 512
            >= 64 << 20
    );
    let (code, _, err) = poolfs(&fx, &["vol-create-as", "default", "a.raw", "1G"]);
    assert_eq!(
        (code, err.as_str()),
        (1, "poolfs: error: storage volume 'a.raw' exists already\n")
    );
    let (code, _, _) = poolfs(&fx, &["vol-create-as", "default", "x.raw", "10Q"]);
    assert_eq!(code, 2, "clap rejects a malformed size");
    let list = ok(&fx, &["vol-list", "default", "--details"]);
    assert!(
        list.contains(" a.raw ") && list.contains("1.00 GiB") && list.contains("0.00 B"),
        "{list}"
    );
    // The short listing (no volume's info read) names the same paths.
    let short = ok(&fx, &["vol-list", "default"]);
    let path = fx.pool("default").join("a.raw").display().to_string();
    assert!(
        short
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["a.raw", path.as_str()]),
        "{short}"
    );
    assert!(list.contains(&path), "{list}");
    let info = ok(&fx, &["vol-info", "a.raw", "--pool", "default"]);
    assert!(
        info.starts_with("Name:           a.raw\nType:           file\n"),
        "{info}"
    );
    let out = ok(&fx, &["vol-resize", "a.raw", "2G", "--pool", "default"]);
    assert_eq!(
        out,
        "Size of volume 'a.raw' successfully changed to 2147483648\n"
    );
    let (code, _, err) = poolfs(
        &fx,
        &["vol-resize", "a.raw", "-1G", "--pool", "default", "--delta"],
    );
    assert_eq!(code, 1);
    assert!(err.contains("shrink"), "{err}");
    ok(
        &fx,
        &[
            "vol-resize",
            "a.raw",
            "-1G",
            "--pool",
            "default",
            "--delta",
            "--shrink",
        ],
    );
    assert_eq!(
        fs::metadata(fx.pool("default").join("a.raw"))
            .unwrap()
            .len(),
        1 << 30
    );
    // clone keeps holes
    fs::write(fx.dir.path().join("up.bin"), b"uploaded bytes").unwrap();
    ok(
        &fx,
        &[
            "vol-upload",
            "a.raw",
            fx.dir.path().join("up.bin").to_str().unwrap(),
            "--pool",
            "default",
        ],
    );
    assert_eq!(
        fs::read(fx.pool("default").join("a.raw")).unwrap(),
        b"uploaded bytes"
    );
    ok(&fx, &["vol-resize", "a.raw", "64M", "--pool", "default"]);
    assert_eq!(
        ok(&fx, &["vol-clone", "a.raw", "b.raw", "--pool", "default"]),
        "Vol b.raw cloned from a.raw\n"
    );
    let b = fs::metadata(fx.backing().join("b.raw")).unwrap();
    assert_eq!(b.len(), 64 << 20);
    assert!(
        b.blocks() * 512 <= 64 << 10,
        "clone is sparse: {}",
        b.blocks() * 512
    );
    let dl = fx.dir.path().join("down.raw");
    ok(
        &fx,
        &[
            "vol-download",
            "b.raw",
            dl.to_str().unwrap(),
            "--pool",
            "default",
            "--sparse",
        ],
    );
    let d = fs::metadata(&dl).unwrap();
    assert_eq!(d.len(), 64 << 20);
    assert!(d.blocks() * 512 <= 64 << 10, "sparse download keeps holes");
    assert_eq!(
        ok(&fx, &["vol-wipe", "b.raw", "--pool", "default"]),
        "Vol b.raw wiped\n"
    );
    assert_eq!(fx.read("default/.vol/b.raw/wipe"), "done zero\n");
    assert_eq!(
        ok(&fx, &["vol-delete", "b.raw", "--pool", "default"]),
        "Vol b.raw deleted\n"
    );
    let (code, _, err) = poolfs(&fx, &["vol-delete", "b.raw", "--pool", "default"]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "poolfs: error: storage volume 'b.raw' not found in pool 'default'\n"
        )
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&fx, &["vol-list", "default", "--json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
}

#[test]
fn cli_completions_and_man_page() {
    let out = Command::new(BIN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("vol-create-as"));
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH poolfs"));
}

/// After the daemon stopped, its mountpoint is an empty directory: the
/// verbs say no tree is mounted there instead of showing an empty one.
#[test]
fn cli_without_a_mounted_tree_says_so() {
    require_mount!();
    let mut fx = Fixture::new();
    assert_eq!(poolfs(&fx, &["pool-list"]).0, 0);
    fx.stop();
    assert!(fx.mnt.is_dir() && !common::is_fuse_mount(&fx.mnt));
    let want = format!("no poolfs tree is mounted at '{}'", fx.mnt.display());
    for verb in [
        &["pool-list"][..],
        &["pool-info", "default"],
        &["vol-list", "default"],
        &["pool-define-as", "x", "dir", "--target", "/tmp/x"],
    ] {
        let (code, out, err) = poolfs(&fx, verb);
        assert_eq!(code, 1, "{verb:?}: {out}{err}");
        assert!(err.contains(&want), "{verb:?}: {err}");
        assert!(out.is_empty(), "{verb:?} printed {out}");
    }
}

/// A netfs pool on a host without a kernel NFS client: the client is
/// chosen first (userspace), which needs no --target.
#[test]
fn cli_define_netfs_without_target_where_the_client_is_userspace() {
    require_mount!();
    if poolfs::config::kernel_has_nfs() {
        eprintln!("SKIP: this kernel has an NFS client; a target is required here");
        return;
    }
    let fx = Fixture::new();
    ok(
        &fx,
        &[
            "pool-define-as",
            "nfs1",
            "netfs",
            "--source",
            "127.0.0.1:/export",
        ],
    );
    let cfg = fs::read_to_string(fx.mnt.join("nfs1/config")).unwrap();
    assert!(cfg.contains("source = \"127.0.0.1:/export\""), "{cfg}");
}

/// qcow2 overlays (`vol-create-as --backing-vol`): the chain in `info` and
/// `vol-info`, capacity from the backing, clones that stay overlays (their
/// backing name fixed up in another directory) or are flattened, and no
/// deleting or replacing a volume an overlay still needs.
#[test]
fn cli_overlays() {
    require_mount!();
    if !common::have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    let vol = |args: &[&str]| ok(&fx, &[args, &["--pool", "default"]].concat());
    ok(&fx, &["vol-create-as", "default", "base.img", "8M"]);
    fs::write(p.join("base.img"), b"SEED-of-the-base").unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(p.join("base.img"))
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    // Capacity left out: the backing's.
    assert_eq!(
        ok(
            &fx,
            &[
                "vol-create-as",
                "default",
                "ov.qcow2",
                "--backing-vol",
                "base.img"
            ]
        ),
        "Vol ov.qcow2 created\n"
    );
    fs::create_dir(p.join("vms")).unwrap();
    ok(
        &fx,
        &[
            "vol-create-as",
            "default",
            "vms/top.qcow2",
            "16M",
            "--backing-vol",
            "ov.qcow2",
        ],
    );
    let info = fx.read("default/.vol/vms/top.qcow2/info");
    assert!(info.contains("format: qcow2\n"), "{info}");
    assert!(info.contains("capacity: 16777216\n"), "{info}");
    assert!(info.contains("backing: ../ov.qcow2\n"), "{info}");
    assert!(
        info.contains("backing-chain: ov.qcow2 -> base.img\n"),
        "{info}"
    );
    let info = fx.read("default/.vol/ov.qcow2/info");
    assert!(info.contains("capacity: 8388608\n"), "{info}");
    let shown = vol(&["vol-info", "vms/top.qcow2"]);
    assert!(
        shown.contains("Backing chain:  ov.qcow2 -> base.img\n"),
        "{shown}"
    );
    // The guest's view: the base's bytes through the chain.
    let read = |v: &str| {
        common::run(&format!(
            "qemu-io -f qcow2 -c 'read -P 0x53 0 1' '{}'",
            p.join(v).display()
        ))
    };
    read("vms/top.qcow2");

    // Clones stay overlays of the same backing, wherever they go.
    vol(&["vol-clone", "vms/top.qcow2", "c1.qcow2"]);
    let info = fx.read("default/.vol/c1.qcow2/info");
    assert!(info.contains("backing: ov.qcow2\n"), "{info}");
    read("c1.qcow2");
    vol(&["vol-clone", "vms/top.qcow2", "vms/c2.qcow2"]);
    assert!(
        fx.read("default/.vol/vms/c2.qcow2/info")
            .contains("backing-chain: ov.qcow2 -> base.img\n")
    );
    // ... unless flattened.
    vol(&["vol-clone", "vms/top.qcow2", "flat.qcow2", "--flatten"]);
    let info = fx.read("default/.vol/flat.qcow2/info");
    assert!(info.contains("backing: -\n"), "{info}");
    assert!(info.contains("capacity: 16777216\n"), "{info}");
    read("flat.qcow2");

    // A volume an overlay needs is neither deleted nor replaced.
    let (code, _, err) = poolfs(&fx, &["vol-delete", "ov.qcow2", "--pool", "default"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("EBUSY")
            && err.contains("'vms/top.qcow2'")
            && err.contains("'c1.qcow2'")
            && err.contains("'vms/c2.qcow2'"),
        "{err}"
    );
    assert!(fx.info("default", "last_error").contains("backing file"));
    assert_eq!(
        common::errno_of(fs::remove_file(p.join("base.img"))),
        Some(libc::EBUSY)
    );
    assert_eq!(
        common::errno_of(fs::rename(p.join("flat.qcow2"), p.join("base.img"))),
        Some(libc::EBUSY)
    );
    assert!(p.join("base.img").exists() && p.join("flat.qcow2").exists());
    // Once nothing uses it, it goes.
    for v in ["vms/top.qcow2", "c1.qcow2", "vms/c2.qcow2"] {
        vol(&["vol-delete", v]);
    }
    vol(&["vol-delete", "ov.qcow2"]);
    fs::rename(p.join("flat.qcow2"), p.join("base.img")).unwrap();

    // An overlay is qcow2; its backing must be a volume of the pool.
    let (code, _, err) = poolfs(
        &fx,
        &[
            "vol-create-as",
            "default",
            "x.raw",
            "--backing-vol",
            "base.img",
            "--format",
            "raw",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("an overlay is a qcow2 volume"), "{err}");
    let (code, _, err) = poolfs(
        &fx,
        &[
            "vol-create-as",
            "default",
            "y.qcow2",
            "--backing-vol",
            "nope.img",
        ],
    );
    assert_eq!(code, 1);
    assert!(err.contains("'nope.img' not found"), "{err}");
    assert!(!p.join("x.raw").exists() && !p.join("y.qcow2").exists());
}

/// Which volume backs which is read once for many deletes, yet an overlay
/// made right after a delete (through the mount, by `qemu-img`) protects its
/// backing at once, and deleting the overlay frees the backing at once.
#[test]
fn an_overlay_made_right_after_a_delete_protects_its_backing() {
    require_mount!();
    if !common::have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    for v in ["v0.img", "v1.img", "v2.img"] {
        fs::write(p.join(v), vec![7u8; 1 << 20]).unwrap();
    }
    // Reads the pool: no overlays yet.
    fs::remove_file(p.join("v0.img")).unwrap();
    common::run(&format!(
        "qemu-img create -q -f qcow2 -b v1.img -F raw '{}'",
        p.join("ov.qcow2").display()
    ));
    assert_eq!(
        common::errno_of(fs::remove_file(p.join("v1.img"))),
        Some(libc::EBUSY)
    );
    fs::remove_file(p.join("ov.qcow2")).unwrap();
    fs::remove_file(p.join("v1.img")).unwrap();
    fs::remove_file(p.join("v2.img")).unwrap();
    assert!(!p.join("v1.img").exists() && !p.join("v2.img").exists());
}

/// An overlay made behind poolfs's back (qemu-img on the target, in a
/// sub-directory too) protects its backing at the very next delete, with no
/// wait, and a backing whose overlay was removed there is free at once.
#[test]
fn an_overlay_made_behind_poolfs_protects_its_backing_at_once() {
    require_mount!();
    if !common::have_tool("qemu-img") {
        return;
    }
    let fx = Fixture::new();
    let p = fx.pool("default");
    let b = fx.backing();
    fs::create_dir_all(p.join("sub")).unwrap();
    for v in ["v0.img", "base.img", "sub/base2.img"] {
        fs::write(p.join(v), vec![7u8; 1 << 20]).unwrap();
    }
    // Reads the pool: no overlays yet.
    fs::remove_file(p.join("v0.img")).unwrap();
    common::run(&format!(
        "qemu-img create -q -f qcow2 -b base.img -F raw '{}'",
        b.join("ov.qcow2").display()
    ));
    common::run(&format!(
        "qemu-img create -q -f qcow2 -b base2.img -F raw '{}'",
        b.join("sub/ov2.qcow2").display()
    ));
    assert_eq!(
        common::errno_of(fs::remove_file(p.join("base.img"))),
        Some(libc::EBUSY)
    );
    assert_eq!(
        common::errno_of(fs::remove_file(p.join("sub/base2.img"))),
        Some(libc::EBUSY)
    );
    fs::remove_file(b.join("ov.qcow2")).unwrap();
    fs::rename(b.join("sub/ov2.qcow2"), fx.dir.path().join("ov2.qcow2")).unwrap();
    fs::remove_file(p.join("base.img")).unwrap();
    fs::remove_file(p.join("sub/base2.img")).unwrap();
}

/// A delete costs the same in a pool of 5,000 volumes as in one of 50,
/// also after the pool was left alone for longer than any cache time: the
/// pool's headers are not read again for each delete.
#[test]
fn a_delete_costs_the_same_in_a_large_pool() {
    require_mount!();
    let fx = Fixture::new();
    let p = fx.pool("default");
    let mut cost = Vec::new();
    for (dir, n) in [("small", 50), ("large", 5000)] {
        let b = fx.backing().join(dir);
        fs::create_dir_all(&b).unwrap();
        for i in 0..n {
            let f = fs::File::create(b.join(format!("v{i}.img"))).unwrap();
            f.set_len(1 << 20).unwrap();
        }
        // The first delete reads the pool once.
        fs::remove_file(p.join(format!("{dir}/v0.img"))).unwrap();
        let mut spent = std::time::Duration::ZERO;
        for i in 1..4 {
            std::thread::sleep(std::time::Duration::from_millis(1100));
            let t = std::time::Instant::now();
            fs::remove_file(p.join(format!("{dir}/v{i}.img"))).unwrap();
            spent += t.elapsed();
        }
        cost.push(spent);
    }
    assert!(
        cost[1] < cost[0] * 3 + std::time::Duration::from_millis(100),
        "3 deletes took {:?} among 50 volumes and {:?} among 5000",
        cost[0],
        cost[1]
    );
}

/// `--json` as scripts read it (`jq`): counts and bytes are numbers, yes/no
/// are booleans, nothing is null.
#[test]
fn cli_json_has_numbers_and_booleans() {
    require_mount!();
    let fx = Fixture::new();
    ok(&fx, &["vol-create-as", "default", "v.img", "2G"]);
    let jq = |args: &[&str], filter: &str| -> String {
        let json = ok(&fx, args);
        let mut child = Command::new("jq")
            .args(["-e", filter])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("jq is installed (scripts/install-test-deps.sh)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(json.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "jq -e '{filter}' on {args:?}:\n{json}"
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    jq(&["pool-info", "default", "--json"], ".capacity > 1e6");
    jq(
        &["pool-info", "default", "--json"],
        ".autostart == true and .volumes == 1 and .last_error == null",
    );
    jq(
        &["pool-list", "--json"],
        ".[0].available | type == \"number\"",
    );
    jq(
        &["vol-info", "v.img", "--pool", "default", "--json"],
        ".capacity == 2147483648 and .allocation == 0 and .backing == null",
    );
    jq(
        &["vol-list", "default", "--json"],
        ".[0].capacity == 2147483648",
    );
}

/// virsh's small verbs: pool-uuid and pool-name, and pool-create-as
/// (define and start; a pool that does not start is not left behind).
#[test]
fn cli_pool_uuid_name_and_create_as() {
    require_mount!();
    let fx = Fixture::new();
    let uuid = ok(&fx, &["pool-uuid", "default"]);
    assert_eq!(uuid.trim(), fx.info("default", "uuid"));
    assert_eq!(ok(&fx, &["pool-name", uuid.trim()]), "default\n");
    let (code, _, err) = poolfs(&fx, &["pool-name", "00000000-0000-0000-0000-000000000000"]);
    assert_eq!(code, 1, "{err}");
    let t = fx.dir.path().join("made");
    let missing = fx.dir.path().join("missing");
    let (code, _, err) = poolfs(
        &fx,
        &[
            "pool-create-as",
            "nope",
            "dir",
            "--target",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        !fx.pool("nope").exists(),
        "a pool that did not start was left"
    );
    std::fs::create_dir(&t).unwrap();
    assert_eq!(
        ok(
            &fx,
            &[
                "pool-create-as",
                "made",
                "dir",
                "--target",
                t.to_str().unwrap()
            ]
        ),
        "Pool made created\n"
    );
    assert_eq!(fx.info("made", "state"), "running");
}
