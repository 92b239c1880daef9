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
    data_extents_in(f, 0, size)
}

/// `copy_file_range` semantics, done next to the data: the bytes of
/// `src[off_in, off_in + len)` (cut at its end of file) land at `off_out` in
/// `dst`, data extents through `copy_file_range` on the backing files (a
/// reflink where the filesystem can), holes as holes (punched where `dst`
/// had data). Returns the bytes copied.
pub fn copy_range(
    src: &File,
    off_in: u64,
    dst: &File,
    off_out: u64,
    len: u64,
) -> std::io::Result<u64> {
    let src_size = src.metadata()?.len();
    if off_in >= src_size || len == 0 {
        return Ok(0);
    }
    let end = off_in.saturating_add(len).min(src_size);
    let total = end - off_in;
    off_out
        .checked_add(total)
        .filter(|e| *e <= i64::MAX as u64)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::EFBIG))?;
    let dst_size = dst.metadata()?.len();
    let mut pos = off_in;
    for (d, l) in data_extents_in(src, off_in, end)? {
        zero_range(dst, off_out + (pos - off_in), d - pos, dst_size)?;
        copy_extent(src, d, dst, off_out + (d - off_in), l, &mut |_| {})?;
        pos = d + l;
    }
    zero_range(dst, off_out + (pos - off_in), end - pos, dst_size)?;
    if off_out + total > dst.metadata()?.len() {
        dst.set_len(off_out + total)?;
    }
    Ok(total)
}

/// Data extents of `f` within `[from, to)`.
fn data_extents_in(f: &File, from: u64, to: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < to {
        let data = match nix::unistd::lseek(f, pos as i64, Whence::SeekData) {
            Ok(d) => d as u64,
            Err(Errno::ENXIO) => break,
            Err(Errno::EINVAL) | Err(Errno::EOPNOTSUPP) => {
                out.push((pos, to - pos));
                break;
            }
            Err(e) => return Err(e.into()),
        };
        if data >= to {
            break;
        }
        let hole =
            nix::unistd::lseek(f, data as i64, Whence::SeekHole).map_or(to, |h| (h as u64).min(to));
        out.push((data, hole - data));
        pos = hole;
    }
    Ok(out)
}

/// Makes `dst[off, off + len)` read as zeros: nothing to do past the old end
/// of file, a punched hole (or written zeros) below it.
fn zero_range(dst: &File, off: u64, len: u64, dst_size: u64) -> std::io::Result<()> {
    let len = len.min(dst_size.saturating_sub(off));
    if len == 0 {
        return Ok(());
    }
    use nix::fcntl::FallocateFlags as F;
    match nix::fcntl::fallocate(
        dst,
        F::FALLOC_FL_PUNCH_HOLE | F::FALLOC_FL_KEEP_SIZE,
        off as i64,
        len as i64,
    ) {
        Ok(()) => Ok(()),
        Err(Errno::EOPNOTSUPP) => {
            let zeros = vec![0u8; (len.min(1 << 20)) as usize];
            let mut o = off;
            while o < off + len {
                let n = (off + len - o).min(zeros.len() as u64) as usize;
                dst.write_all_at(&zeros[..n], o)?;
                o += n as u64;
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Copies one extent with `copy_file_range`, falling back to read/write
/// where the kernel cannot (different filesystems).
fn copy_extent(
    src: &File,
    off_in: u64,
    dst: &File,
    off_out: u64,
    len: u64,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<()> {
    let mut done = 0u64;
    let mut buf = Vec::new();
    while done < len {
        let want = (len - done).min(1 << 30) as usize;
        let (mut oi, mut oo) = ((off_in + done) as i64, (off_out + done) as i64);
        let n = match nix::fcntl::copy_file_range(src, Some(&mut oi), dst, Some(&mut oo), want) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::EXDEV)
            | Err(Errno::EOPNOTSUPP)
            | Err(Errno::EINVAL)
            | Err(Errno::ENOSYS) => {
                buf.resize(want.min(1 << 20), 0);
                let r = src.read_at(&mut buf, off_in + done)?;
                if r == 0 {
                    break;
                }
                dst.write_all_at(&buf[..r], off_out + done)?;
                r
            }
            Err(e) => return Err(e.into()),
        };
        done += n as u64;
        progress(n as u64);
    }
    Ok(())
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
    for (off, len) in extents {
        copy_extent(src, off, dst, off, len, &mut |n| {
            done += n;
            progress(done, total);
        })?;
    }
    Ok(done)
}

/// Copies a stream (a pipe, ssh) into `dst` from offset 0, which ends with
/// the stream's length. With `sparse`, blocks of zeros are left as holes
/// (`dst` is emptied first so none keeps old data). Returns the bytes read.
pub fn stream_copy(src: &mut dyn std::io::Read, dst: &File, sparse: bool) -> std::io::Result<u64> {
    const BLOCK: usize = 64 << 10;
    dst.set_len(0)?;
    let mut buf = vec![0u8; 16 * BLOCK];
    let mut off = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for (i, block) in buf[..n].chunks(BLOCK).enumerate() {
            if !(sparse && block.iter().all(|&b| b == 0)) {
                dst.write_all_at(block, off + (i * BLOCK) as u64)?;
            }
        }
        off += n as u64;
    }
    dst.set_len(off)?;
    Ok(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_range_keeps_holes_and_overwrites_old_data() {
        let d = tempfile::tempdir().unwrap();
        let open = |n: &str| {
            File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(d.path().join(n))
                .unwrap()
        };
        let src = open("s");
        src.set_len(4 << 20).unwrap();
        src.write_at(&[5u8; 8192], 1 << 20).unwrap();
        let dst = open("d");
        dst.write_all_at(&[9u8; 3 << 20], 0).unwrap();
        let n = copy_range(&src, 0, &dst, 0, 10 << 20).unwrap();
        assert_eq!(n, 4 << 20, "cut at the source's end of file");
        assert_eq!(
            std::fs::read(d.path().join("s")).unwrap(),
            std::fs::read(d.path().join("d")).unwrap()
        );
        use std::os::unix::fs::MetadataExt;
        assert!(
            dst.metadata().unwrap().blocks() * 512 <= 64 << 10,
            "old data punched, holes kept"
        );
        assert_eq!(copy_range(&src, 5 << 20, &dst, 0, 10).unwrap(), 0);
    }

    #[test]
    fn stream_copy_leaves_zeros_as_holes() {
        let d = tempfile::tempdir().unwrap();
        let mut data = vec![0u8; 8 << 20];
        data[3 << 20..(3 << 20) + 5].copy_from_slice(b"hello");
        data[(8 << 20) - 1] = 1;
        let dst = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(d.path().join("d"))
            .unwrap();
        dst.write_all_at(&[9u8; 10 << 20], 0).unwrap();
        let n = stream_copy(&mut &data[..], &dst, true).unwrap();
        assert_eq!(n, 8 << 20);
        assert_eq!(std::fs::read(d.path().join("d")).unwrap(), data);
        use std::os::unix::fs::MetadataExt;
        assert!(dst.metadata().unwrap().blocks() * 512 <= 256 << 10);
    }

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
