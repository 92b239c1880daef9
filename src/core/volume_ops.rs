//! Per-volume control files: `.vol/<volume>/info`, `resize`, `wipe`.
//! Policy (grammar, shrink and size rules) is pure in `control::volume`;
//! this file checks what needs I/O (space, open handles) and applies.

use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use nix::errno::Errno;
use nix::fcntl::{FallocateFlags, OFlag};

use super::inodes::Backing;
use super::{PoolFs, fstat};
use crate::cmd::Cmd;
use crate::control::volume::{ResizeRequest, WipeAlgorithm, WipeStatus};
use crate::control::{self, VolFile};
use crate::error::{Error, Result};
use crate::sys;
use crate::volume::format::{self, Format, Probe};

/// The largest capacity poolfs asks of a file-backed volume (the kernel's
/// `loff_t` limit); the backing filesystem may refuse less with `EFBIG`.
pub(super) const MAX_FILE: u64 = i64::MAX as u64;
/// Chunk of a written wipe (random, or zeros where holes cannot be punched).
const WIPE_CHUNK: usize = 1 << 20;

/// What a volume is, read from its backing file.
pub(super) struct VolumeFacts {
    pub probe: Probe,
    pub size: u64,
    pub allocated: u64,
}

impl VolumeFacts {
    pub fn capacity(&self) -> u64 {
        self.probe.virtual_size.unwrap_or(self.size)
    }
}

fn facts(file: &File) -> Result<VolumeFacts> {
    let st = fstat(file.as_fd())?;
    let mut head = vec![0u8; format::PROBE_LEN];
    let n = crate::volume::read_at(file, false, 0, head.len())?.len();
    let n = n.min(head.len());
    let data = crate::volume::read_at(file, false, 0, n)?;
    head.truncate(data.len());
    head.copy_from_slice(&data);
    let is_block = st.st_mode & libc::S_IFMT == libc::S_IFBLK;
    let size = if is_block {
        crate::backend::block::device_size(file.as_fd()).map_err(Error::os("stat"))?
    } else {
        st.st_size as u64
    };
    Ok(VolumeFacts {
        probe: format::probe(&head),
        size,
        allocated: if is_block {
            size
        } else {
            st.st_blocks as u64 * 512
        },
    })
}

/// `qemu-img resize` of a qcow2 volume reached at `path` (`name` for messages).
pub(super) fn qcow2_resize(
    path: &str,
    name: &str,
    v: &VolumeFacts,
    req: &ResizeRequest,
) -> Result<()> {
    let target = req.plan(v.capacity(), MAX_FILE)?;
    let mut cmd = Cmd::new("qemu-img")
        .arg("resize")
        .arg("-q")
        .arg("-f")
        .arg("qcow2");
    if target < v.capacity() {
        cmd = cmd.arg("--shrink");
    }
    if req.allocate {
        cmd = cmd.arg("--preallocation=falloc");
    }
    cmd.arg(path)
        .arg(target.to_string())
        .run()
        .map(drop)
        .map_err(|e| match e {
            Error::Command { ref stderr, .. } if stderr.contains("lock") => {
                Error::Busy(format!("volume '{name}' is in use: {e}"))
            }
            e => e,
        })
}

/// An empty qcow2 of `capacity` bytes at `path` (what a wipe leaves of a qcow2 volume).
pub(super) fn qcow2_recreate(path: &str, capacity: u64) -> Result<()> {
    Cmd::new("qemu-img")
        .arg("create")
        .arg("-q")
        .arg("-f")
        .arg("qcow2")
        .arg(path)
        .arg(capacity.to_string())
        .run()
        .map(drop)
}

/// The path external tools use to reach a node's inode from outside this
/// process (no path is resolved again).
fn external_path(b: &Backing) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/{}/fd/{}", std::process::id(), b.fd.as_raw_fd())
}

impl PoolFs {
    fn backing_file(b: &Backing, flags: OFlag) -> Result<File> {
        if b.is_dir {
            return Err(Error::Invalid(format!(
                "'{}' is a directory, not a volume",
                b.path.read()
            )));
        }
        sys::reopen(b.fd.as_fd(), flags)
            .map(File::from)
            .map_err(Error::os("open"))
    }

    pub(super) fn render_volume_control(&self, b: &Arc<Backing>, f: VolFile) -> Result<String> {
        let name = b.path.read().clone();
        self.render_volume_facts(b.ino, &b.pool.name(), name, f, || {
            facts(&Self::backing_file(b, OFlag::O_RDONLY)?)
        })
    }

    /// The text of a volume control file (any pool type); `facts` is only
    /// called when the file shows them.
    pub(super) fn render_volume_facts(
        &self,
        ino: u64,
        pool: &str,
        name: String,
        f: VolFile,
        facts: impl FnOnce() -> Result<VolumeFacts>,
    ) -> Result<String> {
        match f {
            VolFile::Wipe => Ok(self
                .wipes
                .lock()
                .get(&ino)
                .cloned()
                .unwrap_or(WipeStatus::None)
                .to_string()),
            VolFile::Resize => Ok(format!("{}\n", facts()?.capacity())),
            VolFile::Info => {
                let v = facts()?;
                let path = match &*self.mountpoint.read() {
                    Some(m) => m.join(pool).join(&name).display().to_string(),
                    None => "-".into(),
                };
                Ok(control::render_kv(&[
                    ("name", name),
                    ("path", path),
                    ("format", v.probe.format.to_string()),
                    ("capacity", v.capacity().to_string()),
                    ("allocation", v.allocated.to_string()),
                    ("physical", v.size.to_string()),
                    (
                        "backing",
                        v.probe.backing.clone().unwrap_or_else(|| "-".into()),
                    ),
                ]))
            }
        }
    }

    pub(super) fn volume_control_write(
        &self,
        b: &Arc<Backing>,
        f: VolFile,
        text: &str,
    ) -> Result<()> {
        match f {
            VolFile::Info => Err(Error::ReadOnly("'info' is read-only".into())),
            VolFile::Resize => self.resize(b, &text.parse()?),
            VolFile::Wipe => self.wipe(b, text.parse()?),
        }
        .inspect(|()| self.invalidate_now(super::Inval::Inode { ino: b.ino }))
    }

    /// SPEC 3.5: a raw volume's file changes size; a qcow2 volume's virtual
    /// disk changes size through `qemu-img resize`.
    fn resize(&self, b: &Backing, req: &ResizeRequest) -> Result<()> {
        if b.block.is_some() {
            return Err(Error::Unsupported(format!(
                "'{}' is a block device: its size is fixed",
                b.path.read()
            )));
        }
        let file = Self::backing_file(b, OFlag::O_RDWR)?;
        let v = facts(&file)?;
        if v.probe.format == Format::Qcow2 {
            drop(file);
            let name = b.path.read().clone();
            return qcow2_resize(&external_path(b), &name, &v, req);
        }
        let current = v.size;
        let target = req.plan(current, MAX_FILE)?;
        if req.allocate && target > current {
            let st = nix::sys::statvfs::fstatvfs(&file).map_err(Error::os("statfs"))?;
            let available = st.blocks_free() * st.fragment_size();
            if target - current > available {
                return Err(Error::NoSpace(format!(
                    "allocating {} bytes needs more than the {available} bytes available in the pool",
                    target - current
                )));
            }
        }
        nix::unistd::ftruncate(&file, target as i64).map_err(Error::os("truncate"))?;
        if req.allocate && target > current {
            let r = nix::fcntl::fallocate(
                &file,
                FallocateFlags::empty(),
                current as i64,
                (target - current) as i64,
            );
            if let Err(e) = r {
                // Nothing half done: back to the old size, blocks released.
                let _ = nix::unistd::ftruncate(&file, current as i64);
                return Err(match e {
                    Errno::ENOSPC => Error::NoSpace(format!(
                        "not enough space to allocate {} bytes for '{}'",
                        target - current,
                        b.path.read()
                    )),
                    e => Error::Os {
                        op: "fallocate",
                        errno: e,
                    },
                });
            }
        }
        file.sync_all()
            .map_err(|e| Error::io("cannot sync the resized volume")(e))
    }

    /// SPEC 3.6: no old byte can be read back afterwards; size and format kept.
    fn wipe(&self, b: &Arc<Backing>, alg: WipeAlgorithm) -> Result<()> {
        let file = Self::backing_file(b, OFlag::O_RDWR)?;
        // The path is copied: no lock on it is held during the wipe.
        let path = b.path.read().clone();
        self.run_wipe(b.ino, &b.pool, &path, b.active.run, alg, || {
            self.do_wipe(b, &file, alg)
        })
    }

    /// Runs `work`, a wipe of volume `ino` (any pool type): refused while the
    /// volume is open or already being wiped; opens are refused and the pool
    /// cannot stop meanwhile; `wipe` shows progress and the outcome.
    pub(super) fn run_wipe(
        &self,
        ino: u64,
        pool: &crate::pool::Pool,
        path: &str,
        run: u64,
        alg: WipeAlgorithm,
        work: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        {
            let mut busy = self.busy.lock();
            if busy.contains(&ino) {
                return Err(Error::Busy(format!(
                    "volume '{path}' is already being wiped"
                )));
            }
            if self.handles.volume_opens(ino) > 0 {
                return Err(Error::Busy(format!(
                    "volume '{path}' is open; close it before wiping it"
                )));
            }
            busy.insert(ino);
        }
        // Counted as an open volume, so the pool cannot stop meanwhile.
        let token = self.handles.reserve();
        let registered = pool.register_open(token, path, run);
        self.set_wipe(
            ino,
            WipeStatus::Running {
                algorithm: alg,
                percent: 0,
            },
        );
        let result = registered.and_then(|()| work());
        pool.release_open(token);
        self.busy.lock().remove(&ino);
        self.set_wipe(
            ino,
            match &result {
                Ok(()) => WipeStatus::Done(alg),
                Err(e) => WipeStatus::Failed(e.to_string()),
            },
        );
        result
    }

    /// Overwrites `size` bytes of volume `ino` with zeros or random data
    /// (`alg`) in `WIPE_CHUNK` pieces through `write`, showing progress.
    pub(super) fn overwrite(
        &self,
        ino: u64,
        alg: WipeAlgorithm,
        size: u64,
        mut write: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut rng = rand::rngs::OsRng;
        let mut buf = vec![0u8; WIPE_CHUNK];
        let mut off = 0u64;
        while off < size {
            let n = (size - off).min(WIPE_CHUNK as u64) as usize;
            if alg == WipeAlgorithm::Random {
                rand::RngCore::fill_bytes(&mut rng, &mut buf[..n]);
            }
            write(off, &buf[..n])?;
            off += n as u64;
            self.set_wipe(
                ino,
                WipeStatus::Running {
                    algorithm: alg,
                    percent: (off * 100 / size.max(1)) as u8,
                },
            );
        }
        Ok(())
    }

    pub(super) fn set_wipe(&self, ino: u64, st: WipeStatus) {
        self.wipes.lock().insert(ino, st);
    }

    fn do_wipe(&self, b: &Backing, file: &File, alg: WipeAlgorithm) -> Result<()> {
        let v = facts(file)?;
        let size = v.size;
        let punched = match alg {
            WipeAlgorithm::Zero | WipeAlgorithm::Trim => nix::fcntl::fallocate(
                file,
                FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE,
                0,
                size as i64,
            )
            .is_ok(),
            WipeAlgorithm::Random => false,
        };
        if !punched {
            self.overwrite(b.ino, alg, size, |off, buf| {
                file.write_all_at(buf, off)
                    .map_err(|e| Error::io(format!("wipe of '{}' failed", b.path.read()))(e))
            })?;
        }
        if v.probe.format == Format::Qcow2 {
            // Keep the format: an empty qcow2 of the same virtual size (no backing file).
            qcow2_recreate(&external_path(b), v.capacity())?;
        }
        file.sync_all()
            .map_err(|e| Error::io(format!("cannot sync '{}'", b.path.read()))(e))
    }
}
