//! The state directory belongs to root: the daemon creates it and its files
//! 0700/0600 whatever its umask, narrows what it finds wider, and never loads
//! a definition or run-state file that another user owns or can write (a
//! root daemon mounts what a definition says).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use common::{Fixture, run, sh};

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .mode()
        & 0o7777
}

fn chmod(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

const DEF: &str =
    "uuid = \"11111111-2222-3333-4444-555555555555\"\nautostart = true\n\n[pool]\ntype = \"dir\"\n";

fn write_def(fx: &Fixture, name: &str, target: &Path) -> std::path::PathBuf {
    fs::create_dir_all(fx.state.join("defs")).unwrap();
    let p = fx.state.join(format!("defs/{name}.toml"));
    fs::write(&p, format!("{DEF}target = \"{}\"\n", target.display())).unwrap();
    p
}

#[test]
fn state_files_are_private_whatever_the_umask() {
    require_mount!();
    let fx = Fixture::new();
    // A pool defined and started through the mount writes defs/ and running.toml.
    fs::create_dir(fx.pool("p2")).unwrap();
    fx.ctl("p2/status", "build").unwrap();
    fx.ctl("p2/status", "start").unwrap();
    assert_eq!(mode(&fx.state), 0o700, "state directory");
    assert_eq!(mode(&fx.state.join("defs")), 0o700, "defs/");
    for f in ["defs/default.toml", "defs/p2.toml", "running.toml"] {
        assert_eq!(mode(&fx.state.join(f)), 0o600, "{f}");
    }
    // The pools' targets: traversable, not writable by others (libvirt's 0711).
    assert_eq!(mode(&fx.state.join("pools/p2")), 0o711);
    assert_eq!(mode(&fx.state.join("pools/default")), 0o711);
}

#[test]
fn log_and_mountpoint_made_by_the_daemon_are_not_open_to_others() {
    require_mount!();
    let dir = common::scratch();
    let (mnt, state) = (dir.path().join("new/mnt"), dir.path().join("state"));
    // Without --foreground: the daemon creates its log file and the mountpoint.
    run(&format!(
        "umask 0; {} mount {} --state-dir {}",
        common::BIN,
        mnt.display(),
        state.display()
    ));
    let log_mode = mode(&state.join("poolfs.log"));
    let mnt_mode = {
        let _ = sh(&format!("umount {}", mnt.display()));
        mode(&mnt)
    };
    // The daemon exits once its mount is gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sh(&format!("pgrep -f '[s]tate-dir {}'", state.display())).0 {
        assert!(std::time::Instant::now() < deadline, "daemon still running");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(log_mode, 0o600, "poolfs.log");
    assert_eq!(mnt_mode, 0o755, "mountpoint created by poolfs mount");
    assert_eq!(mode(&dir.path().join("new")), 0o755, "its parent");
}

#[test]
fn wider_state_directory_and_readable_files_are_narrowed_at_start() {
    require_mount!();
    let mut fx = Fixture::unstarted(&[]);
    let target = fx.dir.path().join("t");
    fs::create_dir(&target).unwrap();
    let def = write_def(&fx, "mine", &target);
    chmod(&fx.state, 0o755);
    chmod(&fx.state.join("defs"), 0o755);
    chmod(&def, 0o644);
    fs::write(fx.state.join("running.toml"), "running = []\n").unwrap();
    chmod(&fx.state.join("running.toml"), 0o644);
    fx.start();
    assert_eq!(
        fx.read("mine/status"),
        "running\n",
        "loaded after narrowing"
    );
    assert_eq!(mode(&fx.state), 0o700);
    assert_eq!(mode(&fx.state.join("defs")), 0o700);
    assert_eq!(mode(&def), 0o600);
    assert_eq!(mode(&fx.state.join("running.toml")), 0o600);
    assert!(
        fx.log()
            .contains("was mode 0644, open to other users; it is now 0600"),
        "log:\n{}",
        fx.log()
    );
}

#[test]
fn definition_writable_or_owned_by_another_user_is_refused() {
    require_mount!();
    let mut fx = Fixture::unstarted(&[]);
    let target = fx.dir.path().join("t");
    fs::create_dir(&target).unwrap();
    // What an older poolfs left (0666), and what a local user could plant.
    let open = write_def(&fx, "open", &target);
    chmod(&open, 0o666);
    let planted = write_def(&fx, "planted", &target);
    chmod(&planted, 0o600);
    run(&format!("chown nobody {}", planted.display()));
    let good = write_def(&fx, "good", &target);
    chmod(&good, 0o600);
    fx.start();
    let root: Vec<String> = fs::read_dir(&fx.mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        root,
        vec!["good".to_string()],
        "only the trusted definition"
    );
    let log = fx.log();
    assert!(
        log.contains("open.toml' was not loaded: its mode 0666 lets other users write it"),
        "log:\n{log}"
    );
    assert!(
        log.contains("planted.toml' was not loaded: it belongs to uid 65534"),
        "log:\n{log}"
    );
    // Left as they were, for the administrator to check.
    assert_eq!(mode(&open), 0o666);
    assert!(planted.exists());
    // No `default` pool was made up over the refused files.
    assert!(!fx.state.join("defs/default.toml").exists());
}

#[test]
fn run_state_writable_by_others_is_refused() {
    require_mount!();
    let mut fx = Fixture::unstarted(&[]);
    let target = fx.dir.path().join("t");
    fs::create_dir(&target).unwrap();
    let def = write_def(&fx, "manual", &target);
    // Not autostart: only running.toml would start it.
    fs::write(
        &def,
        format!(
            "uuid = \"u\"\nautostart = false\n\n[pool]\ntype = \"dir\"\ntarget = \"{}\"\n",
            target.display()
        ),
    )
    .unwrap();
    chmod(&def, 0o600);
    let rs = fx.state.join("running.toml");
    fs::write(&rs, "running = [\"manual\"]\n").unwrap();
    chmod(&rs, 0o666);
    fx.start();
    assert_eq!(fx.read("manual/status"), "inactive\n");
    assert!(
        fx.log()
            .contains("running.toml' was not loaded: its mode 0666 lets other users write it"),
        "log:\n{}",
        fx.log()
    );
}
