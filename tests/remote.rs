//! `poolfs --connect ssh://...`: the verbs run on "another host" through a
//! real OpenSSH server the test starts on loopback (its own host key, a
//! throwaway client key, root login by key only), against a real mount. A
//! remote verb must print, fail and exit exactly as the same verb run
//! locally; uploads and downloads stream the local file through ssh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Fixture, free_port, have_tool, run, scratch};

const SSHD: &str = "/usr/sbin/sshd";

/// An sshd on 127.0.0.1, killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    /// The ssh command for `$POOLFS_SSH`: this server's client key, no
    /// user config, no known-hosts file.
    ssh: String,
    _dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd() -> Option<Sshd> {
    if !have_tool(SSHD) || !have_tool("ssh") || !have_tool("ssh-keygen") {
        return None;
    }
    let dir = scratch();
    let d = dir.path();
    for key in ["host_key", "client_key"] {
        run(&format!(
            "ssh-keygen -q -t ed25519 -N '' -f '{}'",
            d.join(key).display()
        ));
    }
    fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    let port = free_port();
    fs::write(
        d.join("sshd_config"),
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nLogLevel ERROR\n",
            dir = d.display()
        ),
    )
    .unwrap();
    // sshd's privilege separation directory (the package makes it at boot).
    fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "sshd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ssh = format!(
        "ssh -F none -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR",
        d.join("client_key").display()
    );
    Some(Sshd {
        child,
        port,
        ssh,
        _dir: dir,
    })
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `poolfs ARGS` here, on the tree of `fx`, with `env` set.
fn poolfs(fx: &Fixture, args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(BIN)
        .args(args)
        .env("POOLFS_MOUNT", &fx.mnt)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn uri(s: &Sshd, fx: &Fixture) -> String {
    format!(
        "ssh://root@127.0.0.1:{}{}?binary={BIN}",
        s.port,
        fx.mnt.display()
    )
}

/// The same verb through `--connect` and locally: the same output, errors
/// and exit status.
#[test]
fn remote_verbs_answer_as_local_ones() {
    require_mount!();
    let Some(s) = sshd() else { return };
    let fx = Fixture::new();
    let uri = uri(&s, &fx);
    let env = [("POOLFS_SSH", s.ssh.as_str())];
    let remote = |args: &[&str]| poolfs(&fx, &[&["--connect", &uri], args].concat(), &env);
    let out = remote(&["vol-create-as", "default", "r1.img", "16M"]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "Vol r1.img created\n", "")
    );
    assert_eq!(
        fs::metadata(fx.pool("default").join("r1.img"))
            .unwrap()
            .len(),
        16 << 20
    );
    for args in [
        // (no sizes of the host's filesystem: other tests change them)
        &["pool-list", "--all"][..],
        &["pool-info", "nosuch"],
        &["vol-list", "default", "--json"],
        &["vol-info", "r1.img", "--pool", "default"],
        &["vol-info", "nope.img", "--pool", "default"],
        &["pool-start", "nosuch"],
        &["vol-resize", "r1.img", "8M", "--pool", "default"],
    ] {
        let here = poolfs(&fx, args, &[]);
        let there = remote(args);
        assert_eq!(
            (here.code, &here.stdout, &here.stderr),
            (there.code, &there.stdout, &there.stderr),
            "poolfs {args:?} locally and through ssh"
        );
    }
    // An XML file is this host's: it travels as the remote's standard input
    // (a relative path here, which the remote side could not open).
    let local = fx.dir.path().join("xml");
    fs::create_dir(&local).unwrap();
    fs::write(
        local.join("vol.xml"),
        "<volume><name>x1.img</name><capacity unit='M'>8</capacity></volume>",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--connect", &uri, "vol-create", "default", "vol.xml"])
        .env("POOLFS_SSH", &s.ssh)
        .current_dir(&local)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::metadata(fx.pool("default").join("x1.img"))
            .unwrap()
            .len(),
        8 << 20
    );
    // A usage error is found before ssh runs, with clap's exit status.
    assert_eq!(remote(&["vol-info"]).code, 2);
    // $POOLFS_CONNECT does what --connect does.
    let out = poolfs(
        &fx,
        &["vol-delete", "r1.img", "--pool", "default"],
        &[("POOLFS_CONNECT", &uri), env[0]],
    );
    assert_eq!((out.code, out.stdout.as_str()), (0, "Vol r1.img deleted\n"));
    assert!(!fx.pool("default").join("r1.img").exists());
    // The daemon is not run remotely.
    let out = remote(&["mount", "/nowhere"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("run on the host itself"),
        "{}",
        out.stderr
    );
}

/// vol-upload and vol-download through ssh: the local file's bytes (holes
/// kept with --sparse) go to the remote volume and back.
#[test]
fn remote_upload_and_download_stream_the_local_file() {
    require_mount!();
    let Some(s) = sshd() else { return };
    let fx = Fixture::new();
    let uri = uri(&s, &fx);
    let env = [("POOLFS_SSH", s.ssh.as_str())];
    let remote = |args: &[&str]| {
        let out = poolfs(&fx, &[&["--connect", &uri], args].concat(), &env);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        out
    };
    let dir = scratch();
    let src = dir.path().join("src.img");
    let f = fs::File::create(&src).unwrap();
    f.set_len(64 << 20).unwrap();
    f.write_all_at(b"first", 0).unwrap();
    f.write_all_at(&[0x5a; 1 << 20], 40 << 20).unwrap();
    drop(f);
    remote(&["vol-create-as", "default", "up.img", "1M"]);
    remote(&[
        "vol-upload",
        "up.img",
        src.to_str().unwrap(),
        "--pool",
        "default",
        "--sparse",
    ]);
    let vol = fx.backing().join("up.img");
    assert_eq!(fs::read(&vol).unwrap(), fs::read(&src).unwrap());
    assert!(
        fs::metadata(&vol).unwrap().blocks() * 512 <= 4 << 20,
        "holes kept"
    );
    let back = dir.path().join("back.img");
    remote(&[
        "vol-download",
        "up.img",
        back.to_str().unwrap(),
        "--pool",
        "default",
        "--sparse",
    ]);
    assert_eq!(fs::read(&back).unwrap(), fs::read(&src).unwrap());
    assert!(fs::metadata(&back).unwrap().blocks() * 512 <= 4 << 20);
    // A failed remote download says why and exits as a local one does.
    let missing = poolfs(
        &fx,
        &[
            "--connect",
            &uri,
            "vol-download",
            "nope.img",
            back.to_str().unwrap(),
            "--pool",
            "default",
        ],
        &env,
    );
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("'nope.img' not found"),
        "{}",
        missing.stderr
    );
    let never = dir.path().join("never.img");
    let out = poolfs(
        &fx,
        &[
            "--connect",
            &uri,
            "vol-download",
            "nope.img",
            never.to_str().unwrap(),
            "--pool",
            "default",
        ],
        &env,
    );
    assert_eq!(out.code, 1);
    assert!(
        !never.exists(),
        "a failed download leaves no file, as locally"
    );
    // FILE `-` is standard output, here as there.
    let out = Command::new(BIN)
        .args([
            "--connect",
            &uri,
            "vol-download",
            "up.img",
            "-",
            "--pool",
            "default",
        ])
        .env("POOLFS_SSH", &s.ssh)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout == fs::read(&src).unwrap(),
        "the volume on standard output"
    );
}

/// An unreachable host: ssh's own words, then one poolfs sentence, exit 1.
#[test]
fn an_unreachable_host_is_one_clear_error() {
    if !have_tool("ssh") {
        return;
    }
    let port = free_port();
    let out = Command::new(BIN)
        .args([
            "--connect",
            &format!("ssh://root@127.0.0.1:{port}/srv/pools"),
            "pool-list",
        ])
        .env(
            "POOLFS_SSH",
            "ssh -F none -o BatchMode=yes -o ConnectTimeout=5",
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Connection refused"), "{err}");
    assert!(
        err.contains("poolfs: error: ssh to 'root@127.0.0.1' failed (exit 255)"),
        "{err}"
    );
    let bad = Command::new(BIN)
        .args(["--connect", "http://h/", "pool-list"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("only ssh:// is supported"),
        "{bad:?}"
    );
}
