//! A file-I/O exerciser that checks every read against an in-memory model.
//!
//! It mixes, on one file opened through two descriptors:
//!
//! - buffered `pread`/`pwrite` at arbitrary offsets and lengths;
//! - `O_DIRECT` `pread`/`pwrite` on a second descriptor, with 4096-aligned
//!   buffers, offsets and lengths (skipped when [`Config::direct`] is false);
//! - `fallocate` with `FALLOC_FL_ZERO_RANGE` (with and without
//!   `FALLOC_FL_KEEP_SIZE`), `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`, and
//!   mode 0 (allocates, may extend the size);
//! - `ftruncate` (grow and shrink), `fsync`, `fdatasync`;
//! - `SEEK_DATA`/`SEEK_HOLE` probes and full data/hole map walks: every byte in
//!   a reported hole must be zero in the model;
//! - `fstat` size checks and occasional whole-file verification.
//!
//! Everything is deterministic from [`Config::seed`]. Written bytes are never
//! zero and depend on the file offset and the op number, so lost, misplaced,
//! stale and wrongly zeroed data are all told apart.
//!
//! The checks are strict: on Linux a read issued after a write completed sees
//! that write whether either side used `O_DIRECT` or the page cache (ext4 and
//! xfs flush and invalidate the page cache around direct I/O), and reads on a
//! regular file are only short at end of file.
// Raw syscalls the standard library does not wrap.
#![allow(unsafe_code)]
// Not every test uses every item (e.g. `Report::counts`).
#![allow(dead_code)]

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::fcntl::{FallocateFlags, fallocate};
use nix::unistd::{Whence, lseek};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Alignment, offset and length granularity of `O_DIRECT` I/O.
const BLOCK: u64 = 4096;
/// Largest buffered read or write, in bytes.
const MAX_IO: u64 = 256 * 1024;
/// Largest `O_DIRECT` read or write, in blocks.
const MAX_DIRECT_BLOCKS: u64 = 64;
/// How many past ops an error message lists.
const HISTORY: usize = 20;
/// Chunk size of whole-file verification reads.
const VERIFY_CHUNK: u64 = 1024 * 1024;

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Number of random operations.
    pub ops: u64,
    /// Seed of the deterministic operation stream.
    pub seed: u64,
    /// The file never grows beyond this many bytes (at least 2 * 4096).
    pub max_size: u64,
    /// Issue `O_DIRECT` reads and writes; false on a file system without
    /// `O_DIRECT`.
    pub direct: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            ops: 10_000,
            seed: 0,
            max_size: 16 * 1024 * 1024,
            direct: true,
        }
    }
}

/// What ran.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Number of random operations performed.
    pub ops: u64,
    /// How many times each kind of operation ran.
    pub counts: BTreeMap<&'static str, u64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ops:", self.ops)?;
        for (name, n) in &self.counts {
            write!(f, " {name}={n}")?;
        }
        Ok(())
    }
}

/// Creates (or truncates) the file at `path` and runs `cfg.ops` random
/// operations on it, checking every read, size and hole against a model.
///
/// Ends with a full check of size, data/hole map and contents. On the first
/// discrepancy or unexpected error, returns a message naming the op, its
/// offset and length, the first differing byte and the last ops before it.
pub fn run(path: &Path, cfg: &Config) -> Result<Report, String> {
    let mut ex = Exerciser::new(path, cfg)?;
    for _ in 0..cfg.ops {
        let op = ex.choose();
        ex.step(op)?;
    }
    ex.final_check()?;
    Ok(Report {
        ops: cfg.ops,
        counts: ex.counts,
    })
}

/// Which descriptor an op uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fd {
    /// The buffered descriptor.
    Buffered,
    /// The second descriptor (opened with `O_DIRECT` when `Config::direct`).
    Other,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Read {
        off: u64,
        len: u64,
    },
    Write {
        off: u64,
        len: u64,
    },
    DirectRead {
        off: u64,
        len: u64,
    },
    DirectWrite {
        off: u64,
        len: u64,
    },
    ZeroRange {
        off: u64,
        len: u64,
        keep_size: bool,
        fd: Fd,
    },
    PunchHole {
        off: u64,
        len: u64,
        fd: Fd,
    },
    Allocate {
        off: u64,
        len: u64,
        fd: Fd,
    },
    Truncate {
        size: u64,
        fd: Fd,
    },
    Fsync {
        fd: Fd,
    },
    Fdatasync {
        fd: Fd,
    },
    SeekData {
        off: u64,
    },
    SeekHole {
        off: u64,
    },
    SeekMap,
    Stat,
    VerifyAll,
}

impl Op {
    /// The op's name in [`Report::counts`]; `size` is the file size before it.
    fn name(&self, size: u64) -> &'static str {
        match *self {
            Op::Read { .. } => "read",
            Op::Write { .. } => "write",
            Op::DirectRead { .. } => "direct_read",
            Op::DirectWrite { .. } => "direct_write",
            Op::ZeroRange {
                keep_size: false, ..
            } => "zero_range",
            Op::ZeroRange {
                keep_size: true, ..
            } => "zero_range_keep_size",
            Op::PunchHole { .. } => "punch_hole",
            Op::Allocate { .. } => "fallocate",
            Op::Truncate { size: new, .. } if new > size => "truncate_grow",
            Op::Truncate { size: new, .. } if new < size => "truncate_shrink",
            Op::Truncate { .. } => "truncate_same",
            Op::Fsync { .. } => "fsync",
            Op::Fdatasync { .. } => "fdatasync",
            Op::SeekData { .. } => "seek_data",
            Op::SeekHole { .. } => "seek_hole",
            Op::SeekMap => "seek_map",
            Op::Stat => "stat",
            Op::VerifyAll => "verify_all",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fdname = |fd: Fd| match fd {
            Fd::Buffered => "buffered fd",
            Fd::Other => "second fd",
        };
        let range = |f: &mut fmt::Formatter<'_>, off: u64, len: u64| {
            write!(f, "off={off:#x} len={len:#x} (end {:#x})", off + len)
        };
        match *self {
            Op::Read { off, len } => {
                f.write_str("pread ")?;
                range(f, off, len)
            }
            Op::Write { off, len } => {
                f.write_str("pwrite ")?;
                range(f, off, len)
            }
            Op::DirectRead { off, len } => {
                f.write_str("O_DIRECT pread ")?;
                range(f, off, len)
            }
            Op::DirectWrite { off, len } => {
                f.write_str("O_DIRECT pwrite ")?;
                range(f, off, len)
            }
            Op::ZeroRange {
                off,
                len,
                keep_size,
                fd,
            } => {
                let keep = if keep_size { "|KEEP_SIZE" } else { "" };
                write!(f, "fallocate ZERO_RANGE{keep} ({}) ", fdname(fd))?;
                range(f, off, len)
            }
            Op::PunchHole { off, len, fd } => {
                write!(f, "fallocate PUNCH_HOLE|KEEP_SIZE ({}) ", fdname(fd))?;
                range(f, off, len)
            }
            Op::Allocate { off, len, fd } => {
                write!(f, "fallocate mode 0 ({}) ", fdname(fd))?;
                range(f, off, len)
            }
            Op::Truncate { size, fd } => write!(f, "ftruncate ({}) to {size:#x}", fdname(fd)),
            Op::Fsync { fd } => write!(f, "fsync ({})", fdname(fd)),
            Op::Fdatasync { fd } => write!(f, "fdatasync ({})", fdname(fd)),
            Op::SeekData { off } => write!(f, "lseek SEEK_DATA off={off:#x}"),
            Op::SeekHole { off } => write!(f, "lseek SEEK_HOLE off={off:#x}"),
            Op::SeekMap => f.write_str("SEEK_DATA/SEEK_HOLE map of the whole file"),
            Op::Stat => f.write_str("fstat size"),
            Op::VerifyAll => f.write_str("read and verify the whole file"),
        }
    }
}

/// One line of the op history.
#[derive(Clone, Copy)]
struct Done {
    n: u64,
    op: Op,
    size_before: u64,
    size_after: u64,
}

/// A zeroed heap buffer aligned to [`BLOCK`], for `O_DIRECT`.
struct AlignedBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl AlignedBuf {
    fn new(len: usize) -> Result<Self, String> {
        let layout = Layout::from_size_align(len.max(1), BLOCK as usize)
            .map_err(|e| format!("aligned buffer layout: {e}"))?;
        // SAFETY: `layout` has a non-zero size (at least 1 byte).
        let raw = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).ok_or("cannot allocate an aligned buffer")?;
        Ok(AlignedBuf { ptr, layout })
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` initialised (zeroed at
        // allocation) bytes owned by `self`; the shared borrow of `self` keeps
        // them alive and unaliased by any `&mut` for the slice's lifetime.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; the exclusive borrow of `self` makes this
        // the only reference to the bytes for the slice's lifetime.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` was returned by `alloc_zeroed(self.layout)` and is
        // freed only here, once.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// Length of the data pattern, a prime so that a misplaced block or page
/// never lines up with the pattern.
const PATTERN_LEN: usize = 1_048_573;

/// Twice [`PATTERN_LEN`] non-zero pseudo-random bytes (the pattern, repeated),
/// so any window of up to `PATTERN_LEN` bytes is one contiguous slice.
fn make_pattern() -> Vec<u8> {
    let mut pattern: Vec<u8> = (0..PATTERN_LEN as u64)
        .map(|i| {
            // splitmix64's finaliser: neighbouring bytes look unrelated.
            let mut x = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let v = (x ^ (x >> 31)) as u8;
            if v == 0 { 0x5a } else { v }
        })
        .collect();
    pattern.extend_from_within(..);
    pattern
}

/// Fills `buf`, destined for file offset `off`, with the pattern shifted by
/// `salt`: non-zero bytes that depend on the offset and on the op.
fn fill(pattern: &[u8], buf: &mut [u8], off: u64, salt: u64) {
    let mut pos = off.wrapping_add(salt);
    for chunk in buf.chunks_mut(PATTERN_LEN) {
        let start = (pos % PATTERN_LEN as u64) as usize;
        chunk.copy_from_slice(&pattern[start..start + chunk.len()]);
        pos = pos.wrapping_add(chunk.len() as u64);
    }
}

/// A block of zeros, for zero checks and model growth that are fast even in
/// debug builds (`memcmp`/`memcpy` instead of byte loops).
static ZEROS: [u8; 4096] = [0; 4096];

/// Resizes `model` to `len` bytes, appending zeros.
fn resize_zeroed(model: &mut Vec<u8>, len: usize) {
    if len <= model.len() {
        model.truncate(len);
        return;
    }
    model.reserve(len - model.len());
    while model.len() < len {
        let n = (len - model.len()).min(ZEROS.len());
        model.extend_from_slice(&ZEROS[..n]);
    }
}

/// The index of the first non-zero byte.
fn first_nonzero(bytes: &[u8]) -> Option<usize> {
    let mut base = 0;
    for chunk in bytes.chunks(ZEROS.len()) {
        if chunk != &ZEROS[..chunk.len()] {
            return chunk.iter().position(|&b| b != 0).map(|i| base + i);
        }
        base += chunk.len();
    }
    None
}

/// Formats up to 32 bytes as hex.
fn hex(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(32)];
    let mut s: Vec<String> = shown.iter().map(|b| format!("{b:02x}")).collect();
    if bytes.len() > shown.len() {
        s.push("..".to_string());
    }
    s.join(" ")
}

/// Compares `got`, read at file offset `off`, with `expected` from the model.
fn compare(expected: &[u8], got: &[u8], off: u64) -> Result<(), String> {
    if expected == got {
        return Ok(());
    }
    let common = expected.len().min(got.len());
    let first = (0..common).find(|&i| expected[i] != got[i]);
    let mut msg = String::new();
    if got.len() != expected.len() {
        msg.push_str(&format!(
            "read returned {:#x} bytes, expected {:#x}; ",
            got.len(),
            expected.len()
        ));
    }
    if let Some(i) = first {
        let last = (0..common)
            .rev()
            .find(|&j| expected[j] != got[j])
            .unwrap_or(i);
        let differ = (i..=last).filter(|&j| expected[j] != got[j]).count();
        let end = (i + 32).min(common);
        let (e, g) = (&expected[i..end], &got[i..end]);
        let what = if g.iter().all(|&b| b == 0) {
            " (got zeros where data was expected)"
        } else if e.iter().all(|&b| b == 0) {
            " (got data where zeros were expected)"
        } else {
            ""
        };
        msg.push_str(&format!(
            "first differing byte at file offset {:#x} ({:#x} into the read){what}; \
             {differ} bytes differ, last at file offset {:#x}\n  \
             expected: {}\n  got:      {}",
            off + i as u64,
            i,
            off + last as u64,
            hex(e),
            hex(g),
        ));
    } else if got.len() != expected.len() {
        msg.push_str("the bytes both cover agree");
    }
    if msg.is_empty() { Ok(()) } else { Err(msg) }
}

/// Reads into `buf` at `off` until it is full or end of file. O_DIRECT reads
/// stop at a short, unaligned count (end of file).
fn read_full(file: &File, buf: &mut [u8], off: u64, direct: bool) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                if direct && (done as u64) & (BLOCK - 1) != 0 {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

struct Exerciser {
    seed: u64,
    direct: bool,
    max_size: u64,
    rng: StdRng,
    buffered: File,
    other: File,
    model: Vec<u8>,
    pattern: Vec<u8>,
    dbuf: AlignedBuf,
    buf: Vec<u8>,
    history: VecDeque<Done>,
    counts: BTreeMap<&'static str, u64>,
    n: u64,
}

impl Exerciser {
    fn new(path: &Path, cfg: &Config) -> Result<Self, String> {
        if cfg.max_size < 2 * BLOCK || i64::try_from(cfg.max_size).is_err() {
            return Err(format!(
                "exerciser: max_size {:#x} must be at least {:#x} and fit in off_t",
                cfg.max_size,
                2 * BLOCK
            ));
        }
        let buffered = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| format!("exerciser: create {}: {e}", path.display()))?;
        let mut other = OpenOptions::new();
        other.read(true).write(true);
        if cfg.direct {
            other.custom_flags(libc::O_DIRECT);
        }
        let other = other.open(path).map_err(|e| {
            format!(
                "exerciser: open {} (O_DIRECT: {}): {e}",
                path.display(),
                cfg.direct
            )
        })?;
        Ok(Exerciser {
            seed: cfg.seed,
            direct: cfg.direct,
            max_size: cfg.max_size,
            rng: StdRng::seed_from_u64(cfg.seed),
            buffered,
            other,
            model: Vec::new(),
            pattern: make_pattern(),
            dbuf: AlignedBuf::new((MAX_DIRECT_BLOCKS * BLOCK) as usize)?,
            buf: vec![0; MAX_IO.max(VERIFY_CHUNK) as usize],
            history: VecDeque::with_capacity(HISTORY),
            counts: BTreeMap::new(),
            n: 0,
        })
    }

    fn size(&self) -> u64 {
        self.model.len() as u64
    }

    fn file(&self, fd: Fd) -> &File {
        match fd {
            Fd::Buffered => &self.buffered,
            Fd::Other => &self.other,
        }
    }

    fn pick_fd(&mut self) -> Fd {
        if self.rng.gen_bool(0.5) {
            Fd::Buffered
        } else {
            Fd::Other
        }
    }

    /// An offset below `max_size`: mostly inside the file, sometimes around
    /// end of file, sometimes anywhere.
    fn pick_off(&mut self) -> u64 {
        let size = self.size();
        let off = match self.rng.gen_range(0..10) {
            0..=5 if size > 0 => self.rng.gen_range(0..size),
            6 | 7 => {
                let d = self.rng.gen_range(0..=64 * 1024);
                if self.rng.gen_bool(0.5) {
                    size.saturating_sub(d)
                } else {
                    size + d
                }
            }
            _ => self.rng.gen_range(0..self.max_size),
        };
        off.min(self.max_size - 1)
    }

    /// A length in `1..=max`, log-uniformly distributed in magnitude.
    fn pick_len(&mut self, max: u64) -> u64 {
        let cap = (1u64 << self.rng.gen_range(0..=max.ilog2())).min(max);
        self.rng.gen_range(1..=cap)
    }

    /// A range inside `0..max_size`.
    fn pick_range(&mut self) -> (u64, u64) {
        let off = self.pick_off();
        let len = self.pick_len(MAX_IO).min(self.max_size - off);
        (off, len)
    }

    /// A block-aligned range inside `0..max_size`.
    fn pick_direct_range(&mut self) -> (u64, u64) {
        let limit = self.max_size / BLOCK;
        let start = (self.pick_off() / BLOCK).min(limit - 1);
        let blocks = self.pick_len(MAX_DIRECT_BLOCKS).min(limit - start);
        (start * BLOCK, blocks * BLOCK)
    }

    fn pick_size(&mut self) -> u64 {
        let size = self.size();
        match self.rng.gen_range(0..20) {
            0 => 0,
            1..=10 => {
                let d = self.rng.gen_range(0..=64 * 1024);
                if self.rng.gen_bool(0.5) {
                    size.saturating_sub(d)
                } else {
                    (size + d).min(self.max_size)
                }
            }
            11..=14 => self.rng.gen_range(0..=self.max_size / BLOCK) * BLOCK,
            _ => self.rng.gen_range(0..=self.max_size),
        }
    }

    fn choose(&mut self) -> Op {
        // Weights out of 1000; without O_DIRECT its share goes to buffered I/O.
        match self.rng.gen_range(0..1000) {
            0..=119 if self.direct => {
                let (off, len) = self.pick_direct_range();
                Op::DirectRead { off, len }
            }
            120..=239 if self.direct => {
                let (off, len) = self.pick_direct_range();
                Op::DirectWrite { off, len }
            }
            0..=119 | 240..=419 => {
                let (off, len) = self.pick_range();
                Op::Read { off, len }
            }
            120..=239 | 420..=599 => {
                let (off, len) = self.pick_range();
                Op::Write { off, len }
            }
            600..=649 => {
                let (off, len) = self.pick_range();
                let keep_size = self.rng.gen_bool(0.5);
                let fd = self.pick_fd();
                Op::ZeroRange {
                    off,
                    len,
                    keep_size,
                    fd,
                }
            }
            650..=709 => {
                let (off, len) = self.pick_range();
                let fd = self.pick_fd();
                Op::PunchHole { off, len, fd }
            }
            710..=739 => {
                let (off, len) = self.pick_range();
                let fd = self.pick_fd();
                Op::Allocate { off, len, fd }
            }
            740..=789 => {
                let size = self.pick_size();
                let fd = self.pick_fd();
                Op::Truncate { size, fd }
            }
            790..=799 => Op::Fsync { fd: self.pick_fd() },
            800..=809 => Op::Fdatasync { fd: self.pick_fd() },
            810..=879 => Op::SeekData {
                off: self.pick_off(),
            },
            880..=949 => Op::SeekHole {
                off: self.pick_off(),
            },
            950..=974 => Op::SeekMap,
            975..=997 => Op::Stat,
            _ => Op::VerifyAll,
        }
    }

    /// Runs one op, counts and records it; on failure returns the full report.
    fn step(&mut self, op: Op) -> Result<(), String> {
        self.n += 1;
        let size_before = self.size();
        *self.counts.entry(op.name(size_before)).or_insert(0) += 1;
        self.checked(op, size_before)
    }

    /// Runs one op without counting it; on failure returns the full report.
    fn checked(&mut self, op: Op, size_before: u64) -> Result<(), String> {
        self.exec(op)
            .map_err(|e| self.failure(op, size_before, &e))?;
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(Done {
            n: self.n,
            op,
            size_before,
            size_after: self.size(),
        });
        Ok(())
    }

    fn failure(&self, op: Op, size_before: u64, err: &str) -> String {
        let mut msg = format!(
            "exerciser (seed {}): op #{} failed: {op}\n  model size before the op: {size_before:#x}\n  {err}\n\
             last {} ops before it (oldest first):",
            self.seed,
            self.n,
            self.history.len()
        );
        for d in &self.history {
            msg.push_str(&format!(
                "\n  #{} {}  [size {:#x} -> {:#x}]",
                d.n, d.op, d.size_before, d.size_after
            ));
        }
        msg
    }

    fn exec(&mut self, op: Op) -> Result<(), String> {
        match op {
            Op::Read { off, len } => self.read(off, len),
            Op::Write { off, len } => self.write(off, len),
            Op::DirectRead { off, len } => self.direct_read(off, len),
            Op::DirectWrite { off, len } => self.direct_write(off, len),
            Op::ZeroRange {
                off,
                len,
                keep_size,
                fd,
            } => {
                let mut flags = FallocateFlags::FALLOC_FL_ZERO_RANGE;
                if keep_size {
                    flags |= FallocateFlags::FALLOC_FL_KEEP_SIZE;
                }
                self.fallocate(fd, flags, off, len)?;
                if !keep_size {
                    self.grow_to(off + len);
                }
                self.zero(off, len);
                Ok(())
            }
            Op::PunchHole { off, len, fd } => {
                let flags =
                    FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
                self.fallocate(fd, flags, off, len)?;
                self.zero(off, len);
                Ok(())
            }
            Op::Allocate { off, len, fd } => {
                self.fallocate(fd, FallocateFlags::empty(), off, len)?;
                self.grow_to(off + len);
                Ok(())
            }
            Op::Truncate { size, fd } => {
                self.file(fd)
                    .set_len(size)
                    .map_err(|e| format!("ftruncate: {e}"))?;
                resize_zeroed(&mut self.model, size as usize);
                Ok(())
            }
            Op::Fsync { fd } => self.file(fd).sync_all().map_err(|e| format!("fsync: {e}")),
            Op::Fdatasync { fd } => self
                .file(fd)
                .sync_data()
                .map_err(|e| format!("fdatasync: {e}")),
            Op::SeekData { off } => self.seek_data_check(off),
            Op::SeekHole { off } => self.seek_hole_check(off),
            Op::SeekMap => self.seek_map(),
            Op::Stat => self.stat(),
            Op::VerifyAll => self.verify_all(false),
        }
    }

    /// Extends the model with zeros up to `end`.
    fn grow_to(&mut self, end: u64) {
        if end > self.size() {
            resize_zeroed(&mut self.model, end as usize);
        }
    }

    /// Zeroes the model's bytes in `off..off + len` that lie inside the file.
    fn zero(&mut self, off: u64, len: u64) {
        let end = (off + len).min(self.size());
        if off < end {
            self.model[off as usize..end as usize].fill(0);
        }
    }

    /// The model's bytes a read of `len` at `off` must return.
    fn expected(&self, off: u64, len: u64) -> &[u8] {
        let start = off.min(self.size()) as usize;
        let end = (off + len).min(self.size()) as usize;
        &self.model[start..end]
    }

    /// The pattern shift of the current op's data.
    fn salt(&self) -> u64 {
        (self.seed ^ self.n).wrapping_mul(0xD6E8_FEB8_6659_FD93)
    }

    fn read(&mut self, off: u64, len: u64) -> Result<(), String> {
        let mut buf = std::mem::take(&mut self.buf);
        let res = read_full(&self.buffered, &mut buf[..len as usize], off, false);
        let res = match res {
            Ok(n) => compare(self.expected(off, len), &buf[..n], off),
            Err(e) => Err(format!("pread: {e}")),
        };
        self.buf = buf;
        res
    }

    fn write(&mut self, off: u64, len: u64) -> Result<(), String> {
        let salt = self.salt();
        let data = &mut self.buf[..len as usize];
        fill(&self.pattern, data, off, salt);
        self.buffered
            .write_all_at(data, off)
            .map_err(|e| format!("pwrite: {e}"))?;
        let end = (off + len) as usize;
        if end > self.model.len() {
            resize_zeroed(&mut self.model, end);
        }
        self.model[off as usize..end].copy_from_slice(data);
        Ok(())
    }

    fn direct_read(&mut self, off: u64, len: u64) -> Result<(), String> {
        let buf = &mut self.dbuf.as_mut_slice()[..len as usize];
        let n =
            read_full(&self.other, buf, off, true).map_err(|e| format!("O_DIRECT pread: {e}"))?;
        compare(self.expected(off, len), &self.dbuf.as_slice()[..n], off)
    }

    fn direct_write(&mut self, off: u64, len: u64) -> Result<(), String> {
        let salt = self.salt();
        let data = &mut self.dbuf.as_mut_slice()[..len as usize];
        fill(&self.pattern, data, off, salt);
        self.other
            .write_all_at(data, off)
            .map_err(|e| format!("O_DIRECT pwrite: {e}"))?;
        self.grow_to(off + len);
        self.model[off as usize..(off + len) as usize]
            .copy_from_slice(&self.dbuf.as_slice()[..len as usize]);
        Ok(())
    }

    fn fallocate(&self, fd: Fd, flags: FallocateFlags, off: u64, len: u64) -> Result<(), String> {
        fallocate(self.file(fd), flags, off as i64, len as i64)
            .map_err(|e| format!("fallocate({flags:?}): {e}"))
    }

    fn lseek(&self, off: u64, whence: Whence) -> Result<Option<u64>, String> {
        // Alternate descriptors: a FUSE daemon sees lseek per file handle.
        let file = if self.n.is_multiple_of(2) {
            &self.buffered
        } else {
            &self.other
        };
        match lseek(file, off as i64, whence) {
            Ok(pos) => Ok(Some(pos as u64)),
            Err(Errno::ENXIO) => Ok(None),
            Err(e) => Err(format!("lseek({off:#x}, {whence:?}): {e}")),
        }
    }

    /// Checks that `start..end`, reported as a hole, is zero in the model.
    fn check_hole(&self, start: u64, end: u64, how: &str) -> Result<(), String> {
        let hole = &self.model[start as usize..end as usize];
        match first_nonzero(hole) {
            None => Ok(()),
            Some(i) => Err(format!(
                "{how} reports a hole over {start:#x}..{end:#x}, but the model has data \
                 at {:#x}: {}",
                start + i as u64,
                hex(&hole[i..])
            )),
        }
    }

    /// `SEEK_DATA` from `off`: `off..result` is a hole.
    fn seek_data(&self, off: u64) -> Result<Option<u64>, String> {
        let size = self.size();
        let what = format!("SEEK_DATA from {off:#x}");
        match self.lseek(off, Whence::SeekData)? {
            Some(d) if off >= size => Err(format!(
                "{what} returned {d:#x}, expected ENXIO at or past the model size {size:#x}"
            )),
            Some(d) if d < off || d >= size => Err(format!(
                "{what} returned {d:#x}, outside {off:#x}..{size:#x} (model size)"
            )),
            Some(d) => {
                self.check_hole(off, d, &what)?;
                Ok(Some(d))
            }
            None => {
                if off < size {
                    self.check_hole(off, size, &format!("{what} (ENXIO)"))?;
                }
                Ok(None)
            }
        }
    }

    /// `SEEK_HOLE` from `off`, for `off` inside the file.
    fn seek_hole(&self, off: u64) -> Result<u64, String> {
        let size = self.size();
        match self.lseek(off, Whence::SeekHole)? {
            Some(h) if h >= off && h <= size => Ok(h),
            Some(h) => Err(format!(
                "SEEK_HOLE from {off:#x} returned {h:#x}, outside {off:#x}..={size:#x} \
                 (model size)"
            )),
            None => Err(format!(
                "SEEK_HOLE from {off:#x} failed with ENXIO inside the file (model size {size:#x})"
            )),
        }
    }

    fn seek_data_check(&self, off: u64) -> Result<(), String> {
        self.seek_data(off).map(|_| ())
    }

    fn seek_hole_check(&self, off: u64) -> Result<(), String> {
        let size = self.size();
        if off >= size {
            return match self.lseek(off, Whence::SeekHole)? {
                None => Ok(()),
                Some(h) => Err(format!(
                    "SEEK_HOLE from {off:#x} returned {h:#x}, expected ENXIO at or past the \
                     model size {size:#x}"
                )),
            };
        }
        let h = self.seek_hole(off)?;
        if h < size {
            // The hole at `h` extends to the next data.
            let end = self.seek_data(h)?.unwrap_or(size);
            if end == h {
                return Err(format!(
                    "SEEK_HOLE from {off:#x} returned {h:#x}, but SEEK_DATA from there \
                     returns the same offset"
                ));
            }
        }
        Ok(())
    }

    /// Walks the whole data/hole map, checking every hole, then the size.
    fn seek_map(&self) -> Result<(), String> {
        let size = self.size();
        let mut pos = 0;
        while pos < size {
            let Some(d) = self.seek_data(pos)? else { break };
            let h = self.seek_hole(d)?;
            if h <= d {
                return Err(format!(
                    "SEEK_DATA from {pos:#x} returned {d:#x}, but SEEK_HOLE from there \
                     returns {h:#x}"
                ));
            }
            pos = h;
        }
        self.stat()
    }

    fn stat(&self) -> Result<(), String> {
        for (fd, name) in [(Fd::Buffered, "buffered"), (Fd::Other, "second")] {
            let len = self
                .file(fd)
                .metadata()
                .map_err(|e| format!("fstat: {e}"))?
                .len();
            if len != self.size() {
                return Err(format!(
                    "fstat on the {name} fd: size {len:#x}, model size {:#x}",
                    self.size()
                ));
            }
        }
        Ok(())
    }

    /// Reads the whole file (and one chunk past its end) and compares it.
    fn verify_all(&mut self, direct: bool) -> Result<(), String> {
        let end = self.size() + VERIFY_CHUNK;
        let mut off = 0;
        while off < end {
            let len = VERIFY_CHUNK.min(end - off);
            if direct {
                let len = len.min(MAX_DIRECT_BLOCKS * BLOCK);
                self.direct_read(off, len)
                    .map_err(|e| format!("O_DIRECT whole-file read at {off:#x}: {e}"))?;
                off += len;
            } else {
                self.read(off, len)
                    .map_err(|e| format!("whole-file read at {off:#x}: {e}"))?;
                off += len;
            }
        }
        Ok(())
    }

    /// Final checks (not counted): size, hole map, and contents through the
    /// buffered and the O_DIRECT descriptor.
    fn final_check(&mut self) -> Result<(), String> {
        let size = self.size();
        for op in [Op::Fsync { fd: Fd::Buffered }, Op::SeekMap, Op::VerifyAll] {
            self.n += 1;
            self.checked(op, size)?;
        }
        if self.direct {
            self.n += 1;
            self.verify_all(true).map_err(|e| {
                self.failure(Op::VerifyAll, size, &format!("final O_DIRECT pass: {e}"))
            })?;
        }
        Ok(())
    }
}
