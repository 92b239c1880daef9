//! Format probing from a volume's first bytes (pure): raw, qcow2 (with its
//! virtual size and backing file), and the other common image signatures.

use std::fmt;

/// How many leading bytes `probe` wants (an ISO 9660 signature sits at 32 KiB).
pub const PROBE_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Raw,
    Qcow2,
    Qed,
    Vmdk,
    Vdi,
    Vhdx,
    Luks,
    Iso,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Qed => "qed",
            Format::Vmdk => "vmdk",
            Format::Vdi => "vdi",
            Format::Vhdx => "vhdx",
            Format::Luks => "luks",
            Format::Iso => "iso",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    /// The guest-visible size where the header says it (qcow2).
    pub virtual_size: Option<u64>,
    /// The backing file named in the header (qcow2).
    pub backing: Option<String>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Identifies the format from the first bytes of a volume.
pub fn probe(head: &[u8]) -> Probe {
    let plain = |format| Probe {
        format,
        virtual_size: None,
        backing: None,
    };
    if head.starts_with(b"QFI\xfb")
        && let Some(p) = probe_qcow2(head)
    {
        return p;
    }
    if head.starts_with(b"QED\0") {
        return plain(Format::Qed);
    }
    if head.starts_with(b"KDMV") || head.starts_with(b"# Disk DescriptorFile") {
        return plain(Format::Vmdk);
    }
    if be32(head, 0x40) == Some(0x7f10_dabe) {
        return plain(Format::Vdi);
    }
    if head.starts_with(b"vhdxfile") {
        return plain(Format::Vhdx);
    }
    if head.starts_with(b"LUKS\xba\xbe") {
        return plain(Format::Luks);
    }
    if head.get(0x8001..0x8006) == Some(b"CD001") {
        return plain(Format::Iso);
    }
    plain(Format::Raw)
}

/// Bytes `backing_name` reads first: a qcow2 header and, as qemu-img
/// writes it, the backing name that follows it.
pub const HEADER_LEN: usize = 4096;

/// The backing file a qcow2 volume's header names, reading only what that
/// takes (`read(offset, len)`: at most `len` bytes at `offset`): the first
/// `HEADER_LEN` bytes, and the name where it lies beyond them. `None` for
/// any other format. For questions about many volumes at once (which
/// volume backs which), where `probe`'s 64 KiB per volume would fill the
/// page cache.
pub fn backing_name<E>(
    mut read: impl FnMut(u64, usize) -> Result<Vec<u8>, E>,
) -> Result<Option<String>, E> {
    let head = read(0, HEADER_LEN)?;
    if !head.starts_with(b"QFI\xfb") {
        return Ok(None);
    }
    let Some(p) = probe_qcow2(&head) else {
        return Ok(None);
    };
    if p.backing.is_some() {
        return Ok(p.backing);
    }
    let (Some(off), Some(len)) = (be64(&head, 8), be32(&head, 16)) else {
        return Ok(None);
    };
    // qcow2 names are at most 1023 bytes, within the first cluster (2 MiB at most).
    if off == 0 || len == 0 || len > 1023 || off > 2 << 20 {
        return Ok(None);
    }
    let name = read(off, len as usize)?;
    Ok((name.len() == len as usize).then(|| String::from_utf8_lossy(&name).into_owned()))
}

fn probe_qcow2(head: &[u8]) -> Option<Probe> {
    let version = be32(head, 4)?;
    if !(2..=3).contains(&version) {
        return None;
    }
    let off = usize::try_from(be64(head, 8)?).unwrap_or(usize::MAX);
    let len = usize::try_from(be32(head, 16)?).unwrap_or(usize::MAX);
    let size = be64(head, 24)?;
    // A backing name outside the bytes read (or a lying offset) is left out.
    let backing = off
        .checked_add(len)
        .filter(|_| off != 0 && len != 0)
        .and_then(|end| head.get(off..end))
        .map(|b| String::from_utf8_lossy(b).into_owned());
    Some(Probe {
        format: Format::Qcow2,
        virtual_size: Some(size),
        backing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qcow2_header(size: u64, backing: Option<&str>) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[0..4].copy_from_slice(b"QFI\xfb");
        h[4..8].copy_from_slice(&3u32.to_be_bytes());
        if let Some(b) = backing {
            h[8..16].copy_from_slice(&512u64.to_be_bytes());
            h[16..20].copy_from_slice(&(b.len() as u32).to_be_bytes());
            h[512..512 + b.len()].copy_from_slice(b.as_bytes());
        }
        h[24..32].copy_from_slice(&size.to_be_bytes());
        h
    }

    #[test]
    fn probe_reads_qcow2_size_and_backing() {
        let p = probe(&qcow2_header(20 << 30, Some("base.qcow2")));
        assert_eq!(p.format, Format::Qcow2);
        assert_eq!(p.virtual_size, Some(20 << 30));
        assert_eq!(p.backing.as_deref(), Some("base.qcow2"));
        assert_eq!(probe(&qcow2_header(1 << 20, None)).backing, None);
    }

    #[test]
    fn backing_name_reads_the_header_and_a_far_name() {
        let mut far = vec![0u8; 8192];
        far[..4096].copy_from_slice(&qcow2_header(1 << 20, None));
        far[8..16].copy_from_slice(&5000u64.to_be_bytes());
        far[16..20].copy_from_slice(&7u32.to_be_bytes());
        far[5000..5007].copy_from_slice(b"far.img");
        for (image, want) in [
            (
                qcow2_header(1 << 20, Some("base.qcow2")),
                Some("base.qcow2"),
            ),
            (qcow2_header(1 << 20, None), None),
            (far, Some("far.img")),
            (vec![0u8; 100], None),
        ] {
            let read = |off: u64, len: usize| -> Result<Vec<u8>, ()> {
                let off = off as usize;
                Ok(image
                    .get(off..(off + len).min(image.len()))
                    .unwrap_or_default()
                    .to_vec())
            };
            assert_eq!(backing_name(read).unwrap().as_deref(), want);
        }
    }

    #[test]
    fn probe_defaults_to_raw_and_survives_truncated_headers() {
        assert_eq!(probe(b"").format, Format::Raw);
        assert_eq!(probe(b"QFI\xfb\0\0").format, Format::Raw);
        assert_eq!(probe(&[0u8; 100]).format, Format::Raw);
        let mut iso = vec![0u8; PROBE_LEN];
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(probe(&iso).format, Format::Iso);
    }

    #[test]
    fn probe_ignores_a_lying_backing_offset() {
        let mut h = qcow2_header(1 << 20, None);
        h[8..16].copy_from_slice(&u64::MAX.to_be_bytes());
        h[16..20].copy_from_slice(&10u32.to_be_bytes());
        let p = probe(&h);
        assert_eq!(p.format, Format::Qcow2);
        assert_eq!(p.backing, None);
    }
}
