//! Durable state files: written atomically (a temporary file, fsync,
//! rename, fsync of the directory), so a crash leaves the old file or the
//! new one, never a mix, and a written file survives a power loss.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Mode of every file the daemon writes in its state directory.
pub const FILE_MODE: u32 = 0o600;

/// Replaces `path` with `data`: temporary file, fsync, rename, fsync of the
/// directory. The new file is mode 0600 whatever the umask; a leftover
/// temporary file (a crash mid-write) is removed first and never reused.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let tmp = path.with_extension("tmp");
    let what = format!("cannot write '{}'", path.display());
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(what)(e));
        }
        _ => {}
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&tmp)
        .map_err(Error::io(what.clone()))?;
    f.write_all(data).map_err(Error::io(what.clone()))?;
    f.sync_all().map_err(Error::io(what.clone()))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(Error::io(what))?;
    fsync_dir(dir)
}

/// Makes the entries of `dir` (a rename, a removal) durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(format!("cannot sync '{}'", dir.display())))
}
