//! A qemu for live-migration tests: no guest (a paused machine), one raw
//! disk, its human monitor on a unix socket.

use std::fs;
use std::time::Duration;

/// A live migration of a disk between two mounts: a qemu on `from` (the
/// disk's path through one host) writes 0x11 over its first 4 KiB, then
/// `before` runs, the qemu migrates to one on `to` (the same disk through
/// another host), which writes 0x22 over the next 4 KiB and flushes, then
/// `after` runs and both quit. `dir` holds the sockets; `log` is read for
/// a failure's message. The caller checks the disk (`migrated_bytes`).
pub fn migrate_writing(
    dir: &std::path::Path,
    from: &std::path::Path,
    to: &std::path::Path,
    log: &dyn Fn() -> String,
    before: &dyn Fn(),
    after: &dyn Fn(),
) {
    let stream = dir.join("mig.sock");
    let src = Qemu::start(&dir.join("src.mon"), from, None);
    let dst = Qemu::start(&dir.join("dst.mon"), to, Some(&stream));
    let (mut src_mon, mut dst_mon) = (src.monitor(), dst.monitor());
    hmp(&mut src_mon, "qemu-io d0 \"write -P 0x11 0 4k\"");
    assert!(
        src.printed().contains("wrote 4096/4096"),
        "{}",
        src.printed()
    );
    before();
    let took = migrate(&mut src_mon, &stream);
    eprintln!("migrated in {took:?}");
    hmp(&mut dst_mon, "qemu-io d0 \"write -P 0x22 4k 4k\"");
    hmp(&mut dst_mon, "qemu-io d0 flush");
    let out = dst.printed();
    assert!(
        out.contains("wrote 4096/4096") && !out.contains("rror"),
        "{out}\n{}",
        log()
    );
    after();
    hmp(&mut src_mon, "quit");
    drop(src);
    hmp(&mut dst_mon, "quit");
    drop(dst);
}

/// The disk `migrate_writing` left: both sides' writes, and `base` (what
/// it held before) after them.
pub fn migrated_bytes(got: &[u8], base: &[u8]) {
    assert!(got[..4096].iter().all(|&x| x == 0x11), "the source's write");
    assert!(
        got[4096..8192].iter().all(|&x| x == 0x22),
        "the destination's write"
    );
    assert!(got[8192..] == base[8192..], "the rest of the disk");
}

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
