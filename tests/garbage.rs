//! Garbage in every control file: thousands of random writes, to a running
//! and an inactive pool and to a volume's control files. The daemon stays up,
//! every write is applied or refused with a documented errno, and `status`
//! and `info` keep telling the truth.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::Fixture;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WORDS: &[&str] = &[
    "start",
    "stop",
    "refresh",
    "build",
    "build overwrite",
    "yes",
    "no",
    "on",
    "off",
    "1",
    "0",
    "true",
    "zero",
    "random",
    "trim",
    "+1K",
    "-1K shrink",
    "1M",
    "4096",
    "+0",
    "2M shrink",
    "shrink",
    "allocate",
    "type = \"dir\"",
    "target = \"/\"",
    "type = \"zfs\"",
    "\n",
    " ",
    "start stop",
];

fn payload(rng: &mut StdRng, target: &str) -> Vec<u8> {
    match rng.gen_range(0..4) {
        0 => (0..rng.gen_range(0..200))
            .map(|_| rng.r#gen::<u8>())
            .collect(),
        1 => WORDS[rng.gen_range(0..WORDS.len())].as_bytes().to_vec(),
        2 => {
            let mut s = String::from(WORDS[rng.gen_range(0..WORDS.len())]);
            let pos = rng.gen_range(0..=s.len());
            s.insert(pos, rng.gen_range(b'!'..=b'~') as char);
            s.into_bytes()
        }
        _ => format!("type = \"dir\"\ntarget = \"{target}\"\n").into_bytes(),
    }
}

fn write(path: &std::path::Path, data: &[u8]) -> Result<(), i32> {
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
    f.write_all(data)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))
}

#[test]
fn garbage_writes_never_hurt_the_daemon() {
    require_mount!();
    let fx = Fixture::new();
    fs::create_dir(fx.mnt.join("idle")).unwrap();
    fx.ctl("idle/status", "build").unwrap();
    fs::File::create(fx.pool("default").join("v.raw"))
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let safe_target = fx.dir.path().join("garbage-target");
    let targets = [
        "default/status",
        "default/autostart",
        "default/config",
        "default/info",
        "idle/status",
        "idle/autostart",
        "idle/config",
        "idle/info",
        "default/.vol/v.raw/resize",
        "default/.vol/v.raw/wipe",
        "default/.vol/v.raw/info",
    ];
    let allowed = [
        libc::EINVAL,
        libc::EBUSY,
        libc::ENXIO,
        libc::EFBIG,
        libc::ENOSPC,
        libc::EACCES,
        libc::ENOENT,
    ];
    let mut rng = StdRng::seed_from_u64(7);
    let iterations: usize = std::env::var("POOLFS_GARBAGE_WRITES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let (mut applied, mut refused) = (0, 0);
    for i in 0..iterations {
        let t = targets[rng.gen_range(0..targets.len())];
        let data = payload(&mut rng, &safe_target.display().to_string());
        match write(&fx.mnt.join(t), &data) {
            Ok(()) => applied += 1,
            Err(e) => {
                assert!(
                    allowed.contains(&e),
                    "write #{i} of {:?} to {t}: unexpected errno {e}",
                    String::from_utf8_lossy(&data)
                );
                refused += 1;
            }
        }
        // The truth after every write.
        for pool in ["default", "idle"] {
            let status = fx.read(format!("{pool}/status"));
            assert!(
                ["inactive\n", "running\n"].contains(&status.as_str()),
                "{pool}: {status:?}"
            );
            let info = fx.read(format!("{pool}/info"));
            assert!(
                info.contains(&format!("state: {}", status.trim())),
                "{info}"
            );
            assert_eq!(fx.pool(pool).join(".vol").is_dir(), status == "running\n");
        }
        // Keep the volume's pool running and the volume small for the next rounds.
        if i % 50 == 0 {
            let _ = fx.ctl("default/status", "start");
            let _ = fs::OpenOptions::new()
                .write(true)
                .open(fx.pool("default").join("v.raw"))
                .map(|f| f.set_len(1 << 20));
        }
    }
    assert!(
        applied > 100 && refused > 100,
        "applied {applied}, refused {refused}"
    );
    // Still serving, and the data plane is intact.
    fs::write(fx.pool("default").join("after.txt"), b"alive").unwrap();
    assert_eq!(
        fs::read(fx.pool("default").join("after.txt")).unwrap(),
        b"alive"
    );
    let log = fx.log();
    assert!(!log.contains("panicked"), "a thread panicked:\n{log}");
}
