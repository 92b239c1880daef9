//! A qemu for live-migration tests: no guest (a paused machine), one raw
//! disk, its human monitor on a unix socket.

use std::fs;
use std::time::Duration;

/// Migrates the qemu whose monitor is `src` to the one waiting on `stream`
/// (`-incoming`), until done; how long it took.
pub fn migrate(src: &mut std::os::unix::net::UnixStream, stream: &std::path::Path) -> Duration {
    hmp(src, &format!("migrate -d unix:{}", stream.display()));
    let t = std::time::Instant::now();
    loop {
        let info = hmp(src, "info migrate");
        if info.contains("Migration status: completed") {
            return t.elapsed();
        }
        assert!(
            !info.contains("failed") && t.elapsed() < Duration::from_secs(60),
            "{info}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A qemu with one raw disk `d0` (`cache=none`), paused, its human monitor
/// on a unix socket; killed when dropped.
pub struct Qemu(std::process::Child, std::path::PathBuf);

impl Qemu {
    pub fn start(
        mon: &std::path::Path,
        disk: &std::path::Path,
        incoming: Option<&std::path::Path>,
    ) -> Qemu {
        let mut cmd = std::process::Command::new("qemu-system-x86_64");
        cmd.args([
            "-nodefaults",
            "-display",
            "none",
            "-machine",
            "q35,accel=tcg",
            "-m",
            "64",
            "-S",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=none,id=d0,cache=none,aio=threads",
            disk.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=d0", "-monitor"])
        .arg(format!("unix:{},server=on,wait=off", mon.display()))
        // Where `qemu-io` from the monitor prints.
        .stdout(fs::File::create(mon.with_extension("out")).unwrap());
        if let Some(s) = incoming {
            cmd.arg("-incoming").arg(format!("unix:{}", s.display()));
        }
        Qemu(cmd.spawn().unwrap(), mon.to_path_buf())
    }

    /// What its monitor's `qemu-io` commands printed so far.
    pub fn printed(&self) -> String {
        fs::read_to_string(self.1.with_extension("out")).unwrap_or_default()
    }

    /// The monitor, once qemu listens on it (its greeting read).
    pub fn monitor(&self) -> std::os::unix::net::UnixStream {
        let t = std::time::Instant::now();
        let mut s = loop {
            match std::os::unix::net::UnixStream::connect(&self.1) {
                Ok(s) => break s,
                Err(e) => assert!(t.elapsed() < Duration::from_secs(20), "qemu's monitor: {e}"),
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        read_prompt(&mut s);
        s
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let t = std::time::Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one human-monitor command; its output.
pub fn hmp(s: &mut std::os::unix::net::UnixStream, cmd: &str) -> String {
    use std::io::Write;
    s.write_all(format!("{cmd}\n").as_bytes()).unwrap();
    if cmd == "quit" {
        return String::new();
    }
    read_prompt(s)
}

/// What the monitor writes up to its next prompt.
fn read_prompt(s: &mut std::os::unix::net::UnixStream) -> String {
    use std::io::Read;
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(b"(qemu) ") {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "qemu's monitor closed: {}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}
