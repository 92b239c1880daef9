//! Sparse copies: only data extents are copied (a `SEEK_DATA`/`SEEK_HOLE`
//! walk) and holes stay holes. Each extent goes through `copy_file_range`,
//! which poolfs turns into a copy next to the data (a reflink where the
//! backing filesystem can); `read`/`write` is the fallback across filesystems.

use std::fs::File;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::unistd::Whence;

/// Data extents of `f` below `size`, as (offset, length).
pub fn data_extents(f: &File, size: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut pos = 0u64;
    while pos < size {
        let data = match nix::unistd::lseek(f, pos as i64, Whence::SeekData) {
            Ok(d) => d as u64,
            Err(Errno::ENXIO) => break,
            // No SEEK_DATA: the whole rest is data.
            Err(Errno::EINVAL) | Err(Errno::EOPNOTSUPP) => {
                out.push((pos, size - pos));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if data >= size {
            break;
        }
        let hole = match nix::unistd::lseek(f, data as i64, Whence::SeekHole) {
            Ok(h) => (h as u64).min(size),
            Err(_) => size,
        };
        out.push((data, hole - data));
        pos = hole;
    }
    Ok(out)
}

/// Copies `src` into `dst` (which gets `src`'s size), keeping holes.
/// `progress` is called with the bytes of data copied so far and in all.
pub fn sparse_copy(
    src: &File,
    dst: &File,
    mut progress: impl FnMut(u64, u64),
) -> std::io::Result<u64> {
    let size = src.metadata()?.len();
    dst.set_len(size)?;
    let extents = data_extents(src, size)?;
    let total: u64 = extents.iter().map(|e| e.1).sum();
    let mut done = 0u64;
    let mut buf = Vec::new();
    for (off, len) in extents {
        let mut o = off;
        let end = off + len;
        while o < end {
            let want = ((end - o).min(1 << 30)) as usize;
            let (mut oi, mut oo) = (o as i64, o as i64);
            let n = match nix::fcntl::copy_file_range(src, Some(&mut oi), dst, Some(&mut oo), want)
            {
                Ok(0) => break,
                Ok(n) => n,
                Err(Errno::EXDEV)
                | Err(Errno::EOPNOTSUPP)
                | Err(Errno::EINVAL)
                | Err(Errno::ENOSYS) => {
                    let n = want.min(1 << 20);
                    buf.resize(n, 0);
                    let r = src.read_at(&mut buf[..n], o)?;
                    if r == 0 {
                        break;
                    }
                    dst.write_all_at(&buf[..r], o)?;
                    r
                }
                Err(e) => return Err(e.into()),
            };
            o += n as u64;
            done += n as u64;
            progress(done, total);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_copy_keeps_holes_and_data() {
        let d = tempfile::tempdir().unwrap();
        let src = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(d.path().join("s"))
            .unwrap();
        src.set_len(32 << 20).unwrap();
        src.write_at(&[7u8; 100_000], 5 << 20).unwrap();
        src.write_at(&[9u8; 10], (32 << 20) - 10).unwrap();
        let dst = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(d.path().join("d"))
            .unwrap();
        let n = sparse_copy(&src, &dst, |_, _| {}).unwrap();
        assert!(n < 1 << 20, "copied {n} bytes of data only");
        assert_eq!(
            std::fs::read(d.path().join("s")).unwrap(),
            std::fs::read(d.path().join("d")).unwrap()
        );
        use std::os::unix::fs::MetadataExt;
        assert!(dst.metadata().unwrap().blocks() * 512 < 1 << 20);
    }
}
