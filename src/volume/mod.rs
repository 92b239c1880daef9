//! Volume I/O shared by every file-backed pool: data transfer with the
//! alignment `O_DIRECT` needs, format probing, resize and wipe.

pub mod aio;
pub mod chain;
pub mod copy;
pub mod format;
pub mod qcow2;

use std::fs::File;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;

use crate::error::{Error, Result};
use crate::sys::AlignedBuf;

fn io_errno(e: &std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

/// Bytes read from a volume, replied to the kernel as they are: an
/// `O_DIRECT` read stays in its aligned buffer and an NFS read in the
/// reply's buffer (no copy into a `Vec`).
pub enum Data {
    Heap(Vec<u8>),
    /// A buffer shared with its producer (an NFS reply), not copied.
    Shared(bytes::Bytes),
    /// The first `len` bytes of `buf`.
    Aligned {
        buf: AlignedBuf,
        len: usize,
    },
}

impl std::ops::Deref for Data {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Heap(v) => v,
            Data::Shared(b) => b,
            Data::Aligned { buf, len } => &buf.as_slice()[..*len],
        }
    }
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Data({} bytes)", self.len())
    }
}

impl From<Vec<u8>> for Data {
    fn from(v: Vec<u8>) -> Self {
        Data::Heap(v)
    }
}

impl From<bytes::Bytes> for Data {
    fn from(b: bytes::Bytes) -> Self {
        Data::Shared(b)
    }
}

/// Reads up to `size` bytes at `offset`; short only at end of file.
pub fn read_at(file: &File, direct: bool, offset: u64, size: usize) -> Result<Data> {
    if direct {
        let mut buf = AlignedBuf::new(size).ok_or(Error::Os {
            op: "read",
            errno: Errno::ENOMEM,
        })?;
        let len = read_full(file, buf.as_mut_slice(), offset)?;
        return Ok(Data::Aligned { buf, len });
    }
    let mut buf = vec![0u8; size];
    let n = read_full(file, &mut buf, offset)?;
    buf.truncate(n);
    Ok(Data::Heap(buf))
}

fn read_full(file: &File, buf: &mut [u8], offset: u64) -> Result<usize> {
    read_rest(file, buf, offset, 0)
}

/// `read_full` of a buffer whose first `done` bytes are read already.
fn read_rest(file: &File, buf: &mut [u8], offset: u64, mut done: usize) -> Result<usize> {
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                if done > 0 {
                    break;
                }
                return Err(Error::Os {
                    op: "read",
                    errno: io_errno(&e),
                });
            }
        }
    }
    Ok(done)
}

/// Writes all of `data` at `offset` (through an aligned copy for `O_DIRECT`).
pub fn write_at(file: &File, direct: bool, offset: u64, data: &[u8]) -> Result<usize> {
    let res = if direct {
        let mut buf = AlignedBuf::new(data.len()).ok_or(Error::Os {
            op: "write",
            errno: Errno::ENOMEM,
        })?;
        buf.as_mut_slice().copy_from_slice(data);
        file.write_all_at(buf.as_slice(), offset)
    } else {
        file.write_all_at(data, offset)
    };
    res.map(|()| data.len()).map_err(|e| Error::Os {
        op: "write",
        errno: io_errno(&e),
    })
}
