//! What `stat` shows of an image, read straight from its RADOS objects
//! (RBD's object class on its header, then its object map) without opening
//! it. Opening an image costs librbd milliseconds of CPU (it builds an
//! image context), which `ls -l` pays for every image of a pool; this is
//! one compound read of the header and one read of the object map. An
//! image it cannot describe exactly as an open image does (a clone, whose
//! allocation counts its parent's data; no valid object map; an encoding
//! not as expected) gives `None`, and the caller opens it.
//!
//! Ceph's encodings (little-endian): a string is a `u32` length and its
//! bytes; `get_size` answers a `u8` order and a `u64` size; `get_features`
//! a `u64` (then the incompatible ones); `get_flags` a `u64`; `get_parent`
//! an `i64` pool first (-1: no parent); a timestamp a `u32` of seconds and a
//! `u32` of nanoseconds. The object map `rbd_object_map.<id>` starts with
//! 18 bytes (a `u32` length 14; version 1, compat 1, a `u32` length 8; a
//! `u64` count of objects), then 2 bits per object, the first object in
//! the high bits of a byte (0: the object does not exist).

use std::ffi::{CStr, c_char, c_int};

use nix::errno::Errno;

use super::{Cluster, cstr};
use crate::error::{Error, Result};

/// `CEPH_NOSNAP`: the image itself, not one of its snapshots.
const NOSNAP: u64 = u64::MAX - 1;
const FEATURE_OBJECT_MAP: u64 = 1 << 3;
const FEATURE_FAST_DIFF: u64 = 1 << 4;
/// `RBD_FLAG_OBJECT_MAP_INVALID | RBD_FLAG_FAST_DIFF_INVALID`.
const MAP_INVALID: u64 = 0b11;
/// `LIBRADOS_OP_FLAG_FAILOK`: the compound read goes on past this call's
/// failure (its own return value says it).
const OP_FLAG_FAILOK: c_int = 0x2;
/// Object maps of more objects are not read here (16 TiB of 4 MiB
/// objects): such an image is opened instead.
const MAX_OBJECTS: u64 = 4 << 20;
const MAP_HEADER: usize = 18;

/// What `stat` shows of an image that is not open here.
#[derive(Debug, Clone)]
pub struct Stat {
    pub size: u64,
    /// Bytes of the objects the image holds (each clipped to its size).
    pub allocated: u64,
    pub modified: libc::timespec,
    pub created: libc::timespec,
    /// The value of the metadata key asked for, where the image has it.
    pub meta: Option<String>,
}

/// One class call of a compound read: its method, its input, and whether
/// the read goes on when it fails.
struct Call<'a> {
    method: &'a CStr,
    input: Vec<u8>,
    may_fail: bool,
}

/// What one call answered: its output, or its `-errno`.
type Answer = std::result::Result<Vec<u8>, c_int>;

impl Cluster {
    /// The id of image `name`: one read (`ENOENT`: no such image).
    pub fn image_id(&self, name: &str) -> Result<String> {
        let oid = cstr(&format!("rbd_id.{name}"))?;
        let call = Call {
            method: c"get_id",
            input: Vec::new(),
            may_fail: false,
        };
        let answers = self.class_calls(&oid, &[call])?;
        answers
            .into_iter()
            .next()
            .and_then(|a| a.ok())
            .and_then(|b| string_at(&b, 0).map(|(s, _)| s))
            .ok_or_else(|| Error::Sys {
                what: format!("cannot read the id of image '{name}'"),
                errno: Errno::EIO,
            })
    }

    /// Image `id`'s size, allocation, times and metadata value `key`, or
    /// `None` where only an open tells them exactly (`ENOENT`: no such
    /// image).
    pub fn stat_image(&self, id: &str, key: &str) -> Result<Option<Stat>> {
        let header = cstr(&format!("rbd_header.{id}"))?;
        let nosnap = NOSNAP.to_le_bytes().to_vec();
        let call = |method: &'static CStr, input: &[u8], may_fail: bool| Call {
            method,
            input: input.to_vec(),
            may_fail,
        };
        let mut key_in = (key.len() as u32).to_le_bytes().to_vec();
        key_in.extend_from_slice(key.as_bytes());
        let a = self.class_calls(
            &header,
            &[
                call(c"get_size", &nosnap, false),
                call(c"get_features", &nosnap, false),
                call(c"get_flags", &nosnap, false),
                call(c"get_parent", &nosnap, true),
                call(c"get_modify_timestamp", &[], false),
                call(c"get_create_timestamp", &[], false),
                call(c"metadata_get", &key_in, true),
            ],
        )?;
        let ok = |i: usize| a.get(i).and_then(|r| r.as_ref().ok());
        let (Some(size), Some(features), Some(flags), Some(parent), Some(m), Some(c)) =
            (ok(0), ok(1), ok(2), ok(3), ok(4), ok(5))
        else {
            return Ok(None);
        };
        let (Some(order), Some(size)) = (size.first().copied(), u64_at(size, 1)) else {
            return Ok(None);
        };
        let (Some(features), Some(flags)) = (u64_at(features, 0), u64_at(flags, 0)) else {
            return Ok(None);
        };
        let want = FEATURE_OBJECT_MAP | FEATURE_FAST_DIFF;
        let no_parent = u64_at(parent, 0).map(|p| p as i64) == Some(-1);
        if features & want != want || flags & MAP_INVALID != 0 || !no_parent || order > 32 {
            return Ok(None);
        }
        let meta = match a.get(6) {
            Some(Ok(b)) => string_at(b, 0).map(|(s, _)| s),
            Some(Err(rc)) if *rc == -libc::ENOENT => None,
            _ => return Ok(None),
        };
        let (Some(modified), Some(created)) = (time_at(m), time_at(c)) else {
            return Ok(None);
        };
        let Some(allocated) = self.allocated_by_map(id, size, order)? else {
            return Ok(None);
        };
        Ok(Some(Stat {
            size,
            allocated,
            modified,
            created,
            meta,
        }))
    }

    /// The bytes of the objects the object map says exist.
    fn allocated_by_map(&self, id: &str, size: u64, order: u8) -> Result<Option<u64>> {
        let objects = size.div_ceil(1 << order);
        if objects > MAX_OBJECTS {
            return Ok(None);
        }
        let mut buf = vec![0u8; MAP_HEADER + objects.div_ceil(4) as usize];
        let oid = cstr(&format!("rbd_object_map.{id}"))?;
        // SAFETY: a valid context, a NUL-terminated name and a buffer of
        // the length given.
        let rc = unsafe {
            (self.api.rados_read)(
                self.io,
                oid.as_ptr(),
                buf.as_mut_ptr().cast::<c_char>(),
                buf.len(),
                0,
            )
        };
        if rc == -libc::ENOENT {
            return Ok(None);
        }
        let n = self.check(rc as isize, || "cannot read an image's object map".into())?;
        if n < buf.len() {
            return Ok(None);
        }
        Ok(count_objects(&buf, objects).map(|exist| {
            exist
                .into_iter()
                .map(|i| (size - (i << order)).min(1 << order))
                .sum()
        }))
    }

    /// Runs `calls` of RBD's object class on object `oid` as one read.
    fn class_calls(&self, oid: &CStr, calls: &[Call]) -> Result<Vec<Answer>> {
        self.gate()?;
        struct Out {
            buf: *mut c_char,
            len: usize,
            rc: c_int,
        }
        let api = self.api;
        // SAFETY: no arguments; the operation is released below, once.
        let op = unsafe { (api.rados_create_read_op)() };
        if op.is_null() {
            return Err(Error::Sys {
                what: "cannot make a RADOS read".into(),
                errno: Errno::ENOMEM,
            });
        }
        // Not resized after the pointers into it are handed out.
        let mut outs: Vec<Out> = calls
            .iter()
            .map(|_| Out {
                buf: std::ptr::null_mut(),
                len: 0,
                rc: 0,
            })
            .collect();
        for (c, o) in calls.iter().zip(outs.iter_mut()) {
            // SAFETY: a live operation; NUL-terminated names; the input is
            // copied; the out-pointers live in `outs` until it is read.
            unsafe {
                (api.rados_read_op_exec)(
                    op,
                    c"rbd".as_ptr(),
                    c.method.as_ptr(),
                    c.input.as_ptr().cast(),
                    c.input.len(),
                    &mut o.buf,
                    &mut o.len,
                    &mut o.rc,
                );
                if c.may_fail {
                    (api.rados_read_op_set_flags)(op, OP_FLAG_FAILOK);
                }
            }
        }
        // SAFETY: a live operation, a valid context, a NUL-terminated name.
        let rc = unsafe { (api.rados_read_op_operate)(op, self.io, oid.as_ptr(), 0) };
        // SAFETY: done with; released once.
        unsafe { (api.rados_release_read_op)(op) };
        let answers = outs
            .into_iter()
            .map(|o| {
                let bytes = if o.buf.is_null() {
                    Vec::new()
                } else {
                    // SAFETY: librados allocated `len` bytes at `buf`; they
                    // are copied, then freed once with its own function.
                    let b = unsafe { std::slice::from_raw_parts(o.buf.cast::<u8>(), o.len) };
                    let v = b.to_vec();
                    // SAFETY: as above.
                    unsafe { (api.rados_buffer_free)(o.buf) };
                    v
                };
                if o.rc < 0 { Err(o.rc) } else { Ok(bytes) }
            })
            .collect();
        self.check(rc as isize, || {
            format!("cannot read {}", oid.to_string_lossy())
        })?;
        Ok(answers)
    }
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A Ceph string at `at`, and where it ends.
fn string_at(b: &[u8], at: usize) -> Option<(String, usize)> {
    let len = u32_at(b, at)? as usize;
    let bytes = b.get(at + 4..at + 4 + len)?;
    Some((String::from_utf8_lossy(bytes).into_owned(), at + 4 + len))
}

fn time_at(b: &[u8]) -> Option<libc::timespec> {
    Some(libc::timespec {
        tv_sec: libc::time_t::from(u32_at(b, 0)?),
        tv_nsec: libc::c_long::from(u32_at(b, 4)?),
    })
}

/// The indexes of the objects an encoded object map of `objects` says
/// exist; `None` when the encoding is not the one expected.
fn count_objects(map: &[u8], objects: u64) -> Option<Vec<u64>> {
    let header_ok = u32_at(map, 0) == Some(14)
        && map.get(4..6) == Some(&[1, 1][..])
        && u32_at(map, 6) == Some(8)
        && u64_at(map, 10) == Some(objects);
    if !header_ok {
        return None;
    }
    let data = map.get(MAP_HEADER..)?;
    let exists = |i: u64| {
        let byte = data.get((i / 4) as usize).copied().unwrap_or(0);
        (byte >> ((3 - i % 4) * 2)) & 0b11 != 0
    };
    Some((0..objects).filter(|&i| exists(i)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(objects: u64, data: &[u8]) -> Vec<u8> {
        let mut m = 14u32.to_le_bytes().to_vec();
        m.extend_from_slice(&[1, 1]);
        m.extend_from_slice(&8u32.to_le_bytes());
        m.extend_from_slice(&objects.to_le_bytes());
        m.extend_from_slice(data);
        m
    }

    #[test]
    fn an_object_map_names_the_objects_that_exist() {
        // Objects 0 (exists), 1 (none), 2 (pending), 3 (clean); 4 (exists).
        let m = map(5, &[0b01_00_10_11, 0b01_00_00_00]);
        assert_eq!(count_objects(&m, 5), Some(vec![0, 2, 3, 4]));
        assert_eq!(count_objects(&m, 4), None, "a count unlike the image's");
        let mut bad = m.clone();
        bad[4] = 2;
        assert_eq!(count_objects(&bad, 5), None, "another version");
        assert_eq!(count_objects(&map(0, &[]), 0), Some(vec![]));
    }

    #[test]
    fn ceph_strings_and_times_decode() {
        let mut b = 3u32.to_le_bytes().to_vec();
        b.extend_from_slice(b"abcX");
        assert_eq!(string_at(&b, 0), Some(("abc".into(), 7)));
        assert_eq!(string_at(&b[..5], 0), None);
        let mut t = 7u32.to_le_bytes().to_vec();
        t.extend_from_slice(&9u32.to_le_bytes());
        let ts = time_at(&t).map(|t| (t.tv_sec, t.tv_nsec));
        assert_eq!(ts, Some((7, 9)));
    }
}
