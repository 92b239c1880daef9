//! Per-volume control files: `.vol/<volume>/info`, `resize`, `wipe`, for a
//! volume of any store. Policy (grammar, shrink and size rules) is pure in
//! `control::volume`; the store applies; this file checks what is the same
//! for every store (open handles, wipe state) and renders.

use std::sync::Arc;

use super::PoolFs;
use super::inodes::Object;
use crate::control::volume::{WipeAlgorithm, WipeStatus};
use crate::control::{self, VolFile};
use crate::error::{Error, Result};
use crate::store::{VolumeFacts, VolumeRef};
use crate::volume::format::Format;
use crate::volume::qcow2;

/// How long a wipe waits for opens that are being closed before it refuses.
const RELEASE_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

impl PoolFs {
    /// The volume's path through the mount, if the tree is mounted.
    fn mounted_path(&self, o: &Object) -> Option<String> {
        self.mountpoint.read().as_ref().map(|m| {
            m.join(o.pool.name())
                .join(&*o.path.read())
                .display()
                .to_string()
        })
    }

    pub(super) fn facts(o: &Object) -> Result<VolumeFacts> {
        if o.is_dir {
            return Err(Error::Invalid(format!(
                "'{}' is a directory, not a volume",
                o.path.read()
            )));
        }
        o.store().facts(&o.obj)
    }

    /// The text of a volume control file.
    pub(super) fn render_volume_control(&self, o: &Arc<Object>, f: VolFile) -> Result<String> {
        let name = o.path.read().clone();
        match f {
            VolFile::Wipe => Ok(self.wipes.status(o.ino).to_string()),
            VolFile::Resize => Ok(format!("{}\n", Self::facts(o)?.capacity())),
            VolFile::Clone => Ok(o
                .store()
                .clones(&o.obj)?
                .iter()
                .map(|c| format!("{c}\n"))
                .collect()),
            VolFile::Info => {
                let v = Self::facts(o)?;
                let path = self.mounted_path(o).unwrap_or_else(|| "-".into());
                let chain = self.backing_chain(&o.pool, &o.active, &name, &v);
                let more = o.store().volume_lines(&o.obj)?;
                let mut lines = vec![
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
                    (
                        "backing-chain",
                        if chain.is_empty() {
                            "-".into()
                        } else {
                            chain.join(" -> ")
                        },
                    ),
                ];
                lines.extend(more);
                Ok(control::render_kv(&lines))
            }
        }
    }

    pub(super) fn volume_control_write(
        &self,
        o: &Arc<Object>,
        f: VolFile,
        text: &str,
    ) -> Result<()> {
        // The path is copied: no lock on it is held while the store works
        // (qemu-img may come back through the mount and look the volume up).
        let name = o.path.read().clone();
        let vol = VolumeRef {
            name: &name,
            mounted: self.mounted_path(o),
        };
        match f {
            VolFile::Info => Err(Error::ReadOnly("'info' is read-only".into())),
            VolFile::Resize => {
                let req = text.parse()?;
                if o.is_dir {
                    return Err(Error::Invalid(format!(
                        "'{name}' is a directory, not a volume"
                    )));
                }
                o.store().resize(&o.obj, &vol, &req)
            }
            VolFile::Wipe => self.wipe(o, &vol, text.parse()?),
            VolFile::Clone => {
                let newname = control::volume::clone_name(text)?;
                o.store().clone_volume(&o.obj, &vol, newname)?;
                // The kernel may remember that the name was free.
                self.inval.send_now(super::Inval::Entry {
                    parent: super::inodes::pool_dir_ino(o.pool.id),
                    name: newname.into(),
                });
                Ok(())
            }
        }
        .inspect(|()| self.inval.send_now(super::Inval::Inode { ino: o.ino }))
    }

    /// SPEC 3.6: no old byte can be read back afterwards; size and format
    /// kept (a qcow2 volume is an empty qcow2 of the same virtual size).
    fn wipe(&self, o: &Arc<Object>, vol: &VolumeRef, alg: WipeAlgorithm) -> Result<()> {
        let v = Self::facts(o)?;
        let qcow2 = v.probe.format == Format::Qcow2;
        // Where qemu-img reaches the volume without the mount, the qcow2 is
        // made again while opens are still refused; otherwise through the
        // mount, once they are let in again.
        let outside = o.store().external_path(&o.obj);
        self.run_wipe(o, vol.name, alg, || {
            let mut progress = |done: u64| {
                self.set_wipe(
                    o.ino,
                    WipeStatus::Running {
                        algorithm: alg,
                        percent: (done * 100 / v.size.max(1)) as u8,
                    },
                );
            };
            o.store().wipe(&o.obj, vol, alg, v.size, &mut progress)?;
            match &outside {
                Some(path) if qcow2 => qcow2::recreate(path.as_str(), v.capacity()),
                _ => Ok(()),
            }
        })?;
        if qcow2 && outside.is_none() {
            let path = vol.mounted.as_deref().ok_or_else(|| {
                Error::Unsupported(
                    "this qcow2 volume is made again through the mount, and there is none".into(),
                )
            });
            path.and_then(|p| qcow2::recreate(p, v.capacity()))
                .inspect_err(|e| self.set_wipe(o.ino, WipeStatus::Failed(e.to_string())))?;
        }
        Ok(())
    }

    /// Runs `work`, a wipe of volume `o`: refused while the volume is open
    /// or already being wiped; opens are refused and the pool cannot stop
    /// meanwhile; `wipe` shows progress and the outcome.
    fn run_wipe(
        &self,
        o: &Object,
        path: &str,
        alg: WipeAlgorithm,
        work: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        // The kernel sends a file's RELEASE in the background after its
        // last close(2) returned: a volume just closed (`truncate -s 1G v;
        // echo zero > .vol/v/wipe`) may still count as open for a moment.
        let deadline = std::time::Instant::now() + RELEASE_GRACE;
        while self.handles.volume_opens(o.ino) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        self.wipes
            .begin(o.ino, path, || self.handles.volume_opens(o.ino))?;
        if let Some(j) = self.journal() {
            j.wipe(o.ino, true);
        }
        // Counted as an open volume, so the pool cannot stop meanwhile.
        let token = self.handles.reserve();
        let registered = o.pool.register_open(token, path, o.active.run);
        self.set_wipe(
            o.ino,
            WipeStatus::Running {
                algorithm: alg,
                percent: 0,
            },
        );
        let result = registered.and_then(|()| work());
        if let Some(j) = self.journal() {
            j.wipe(o.ino, false);
        }
        o.pool.release_open(token);
        self.wipes.end(o.ino);
        self.set_wipe(
            o.ino,
            match &result {
                Ok(()) => WipeStatus::Done(alg),
                Err(e) => WipeStatus::Failed(e.to_string()),
            },
        );
        result
    }

    /// Wipes a predecessor server was running when it died: their `wipe`
    /// file says so (the volume is wiped as far as it got).
    pub(super) fn mark_wipes_interrupted(&self, inos: impl IntoIterator<Item = u64>) {
        for ino in inos {
            self.set_wipe(
                ino,
                WipeStatus::Failed(
                    "interrupted: the poolfs server was restarted during the wipe; write the request again"
                        .into(),
                ),
            );
        }
    }

    fn set_wipe(&self, ino: u64, st: WipeStatus) {
        self.wipes.set_status(ino, st);
    }
}
