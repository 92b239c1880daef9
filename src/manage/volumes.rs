//! The volume verbs.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::output::{json_object, json_text, size_field, table};
use super::{pool_dir, read_kv, refused, volume_path, write_request};
use crate::cli::Tree;
use crate::control::{VOL_DIR, is_reserved};
use crate::error::{Error, Result};
use crate::volume::copy::sparse_copy;

/// Every volume of a pool (paths relative to the pool), sub-directories included.
pub(super) fn volumes(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let rd = fs::read_dir(&d).map_err(Error::io(format!("cannot list '{}'", d.display())))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if prefix.is_empty() && (is_reserved(&name) || name == VOL_DIR) {
                continue;
            }
            let rel = format!("{prefix}{name}");
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push((e.path(), format!("{rel}/"))),
                Ok(t) if t.is_file() => out.push(rel),
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

pub(super) fn vol_list(tree: &Tree, pool: &str, details: bool) -> Result<String> {
    let dir = pool_dir(tree, pool)?;
    if !dir.join(VOL_DIR).is_dir() {
        return Err(Error::PoolInactive(format!(
            "storage pool '{pool}' is not active"
        )));
    }
    let vols = volumes(&dir)?;
    if !details && !tree.json {
        // Names and paths need no volume's info (no header read each): the
        // listing costs what `ls` does.
        let rows: Vec<Vec<String>> = vols
            .iter()
            .map(|v| vec![v.clone(), dir.join(v).display().to_string()])
            .collect();
        return Ok(table(&["Name", "Path"], &rows));
    }
    let infos: Vec<BTreeMap<String, String>> = vols
        .iter()
        .map(|v| read_kv(&dir.join(VOL_DIR).join(v).join("info")))
        .collect::<Result<_>>()?;
    if tree.json {
        let list = infos.iter().map(json_object).collect();
        return Ok(json_text(&serde_json::Value::Array(list)));
    }
    let get =
        |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = infos
        .iter()
        .map(|m| {
            vec![
                get(m, "name"),
                get(m, "path"),
                "file".into(),
                size_field(m, "capacity", false),
                size_field(m, "allocation", false),
            ]
        })
        .collect();
    Ok(table(
        &["Name", "Path", "Type", "Capacity", "Allocation"],
        &rows,
    ))
}

pub(super) fn vol_info(tree: &Tree, pool: &str, vol: &str, bytes: bool) -> Result<String> {
    volume_path(tree, pool, vol)?;
    let m = read_kv(&pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("info"))?;
    if tree.json {
        return Ok(json_text(&json_object(&m)));
    }
    let get = |k: &str| m.get(k).cloned().unwrap_or_else(|| "-".into());
    let sz = |k: &str| {
        let v = size_field(&m, k, bytes);
        if bytes { format!("{v} bytes") } else { v }
    };
    Ok(format!(
        "{:<16}{}\n{:<16}file\n{:<16}{}\n{:<16}{}\n{:<16}{}\n{:<16}{}\n{:<16}{}\n{:<16}{}\n",
        "Name:",
        get("name"),
        "Type:",
        "Format:",
        get("format"),
        "Capacity:",
        sz("capacity"),
        "Allocation:",
        sz("allocation"),
        "Physical:",
        sz("physical"),
        "Backing:",
        get("backing"),
        "Backing chain:",
        get("backing-chain"),
    ))
}

/// Where a new volume `name` of `pool` goes: refused if the name is bad or taken.
pub(super) fn new_volume_path(tree: &Tree, pool: &str, name: &str) -> Result<PathBuf> {
    let dir = pool_dir(tree, pool)?;
    crate::config::check_name(name.rsplit('/').next().unwrap_or(name))?;
    let path = dir.join(name);
    if path.exists() {
        return Err(Error::Exists(format!(
            "storage volume '{name}' exists already"
        )));
    }
    Ok(path)
}

pub(super) fn vol_create_as(
    tree: &Tree,
    pool: &str,
    name: &str,
    capacity: u64,
    allocation: Option<u64>,
    format: &str,
) -> Result<String> {
    let path = new_volume_path(tree, pool, name)?;
    match format {
        "raw" => {
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| refused(tree, pool, &format!("create volume '{name}' in"), e))?;
            // As libvirt: an allocation above the capacity raises the capacity.
            let alloc = allocation.unwrap_or(0);
            let result = f.set_len(capacity.max(alloc)).and_then(|()| {
                if alloc > 0 {
                    nix::fcntl::fallocate(
                        &f,
                        nix::fcntl::FallocateFlags::empty(),
                        0,
                        alloc as i64,
                    )?;
                }
                f.sync_all()
            });
            if let Err(e) = result {
                drop(f);
                let _ = fs::remove_file(&path);
                return Err(Error::io(format!(
                    "cannot allocate {alloc} bytes for volume '{name}'"
                ))(e));
            }
        }
        "qcow2" => {
            crate::cmd::Cmd::new("qemu-img")
                .arg("create")
                .arg("-q")
                .arg("-f")
                .arg("qcow2")
                .arg(&path)
                .arg(capacity.to_string())
                .run()?;
        }
        other => {
            return Err(Error::Invalid(format!(
                "unknown volume format '{other}': poolfs creates raw and qcow2 volumes"
            )));
        }
    }
    Ok(format!("Vol {name} created"))
}

/// A volume's facts from its `info` file.
pub(super) fn vol_facts(tree: &Tree, pool: &str, vol: &str) -> Result<BTreeMap<String, String>> {
    volume_path(tree, pool, vol)?;
    read_kv(&pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("info"))
}

/// `vol-create-as --backing-vol`: a qcow2 overlay of another volume of the
/// pool, naming it relative to itself (libvirt records an absolute path;
/// a relative one stays valid wherever the pool is reached).
pub(super) fn vol_create_overlay(
    tree: &Tree,
    pool: &str,
    name: &str,
    capacity: Option<u64>,
    format: Option<&str>,
    backing: &str,
    backing_format: Option<&str>,
) -> Result<String> {
    if let Some(f) = format.filter(|f| *f != "qcow2") {
        return Err(Error::Invalid(format!(
            "an overlay is a qcow2 volume, not {f}: leave out --format or say qcow2"
        )));
    }
    let backing_format = match backing_format {
        Some(f) => f.to_string(),
        None => vol_facts(tree, pool, backing)?
            .get("format")
            .cloned()
            .unwrap_or_else(|| "raw".into()),
    };
    volume_path(tree, pool, backing)?;
    let path = new_volume_path(tree, pool, name)?;
    let mut cmd = crate::cmd::Cmd::new("qemu-img")
        .arg("create")
        .arg("-q")
        .arg("-f")
        .arg("qcow2")
        .arg("-b")
        .arg(crate::volume::chain::relative(name, backing))
        .arg("-F")
        .arg(&backing_format)
        .arg(&path);
    if let Some(c) = capacity {
        cmd = cmd.arg(c.to_string());
    }
    cmd.run()?;
    Ok(format!("Vol {name} created"))
}

pub(super) fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {eta}")
    {
        pb.set_style(style);
    }
    pb.set_message(what.to_string());
    Some(pb)
}

pub(super) fn copy(src: &File, dst: &File, sparse: bool, what: &str) -> Result<u64> {
    let size = src
        .metadata()
        .map_err(Error::io("cannot stat the source"))?
        .len();
    let pb = progress_bar(size, what);
    let r = if sparse {
        sparse_copy(src, dst, |done, total| {
            if let Some(pb) = &pb {
                pb.set_length(total);
                pb.set_position(done);
            }
        })
    } else {
        dst.set_len(0).and_then(|()| {
            let mut r = std::io::BufReader::with_capacity(1 << 20, src);
            let mut w = std::io::BufWriter::with_capacity(1 << 20, dst);
            let n = std::io::copy(&mut r, &mut w)?;
            w.flush()?;
            Ok(n)
        })
    };
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let n = r.map_err(Error::io(format!("{what} failed")))?;
    dst.sync_all()
        .map_err(Error::io(format!("{what}: cannot sync")))?;
    Ok(n)
}

pub(super) fn vol_clone(
    tree: &Tree,
    pool: &str,
    vol: &str,
    newname: &str,
    flatten: bool,
) -> Result<String> {
    let src_path = volume_path(tree, pool, vol)?;
    let facts = vol_facts(tree, pool, vol)?;
    let backing = facts.get("backing").filter(|b| *b != "-");
    if flatten && backing.is_some() {
        let dst_path = new_volume_path(tree, pool, newname)?;
        crate::cmd::Cmd::new("qemu-img")
            .arg("convert")
            .arg("-q")
            .arg("-f")
            .arg("qcow2")
            .arg("-O")
            .arg("qcow2")
            .arg(&src_path)
            .arg(&dst_path)
            .run()
            .inspect_err(|_| {
                let _ = fs::remove_file(&dst_path);
            })?;
        return Ok(format!("Vol {newname} cloned from {vol}"));
    }
    // Where the pool clones instantly (rbd), the volume has a `clone`
    // control file; elsewhere a clone is a copy.
    let instant = pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("clone");
    if !flatten && instant.exists() {
        write_request(&instant, newname)
            .map_err(|e| refused(tree, pool, &format!("clone volume '{vol}' of"), e))?;
        return Ok(format!("Vol {newname} cloned from {vol}"));
    }
    let dst_path = pool_dir(tree, pool)?.join(newname);
    let src = File::open(&src_path)
        .map_err(|e| refused(tree, pool, &format!("clone volume '{vol}' of"), e))?;
    let mode = src
        .metadata()
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
        .unwrap_or(0o600);
    let dst = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&dst_path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                Error::Exists(format!("storage volume '{newname}' exists already"))
            }
            _ => refused(tree, pool, &format!("create volume '{newname}' in"), e),
        })?;
    let mut result = copy(&src, &dst, true, "clone").map(drop);
    drop(dst);
    // The copy names its backing as the source did: a relative name must
    // lead to the same volume from the copy's directory.
    let chain = facts.get("backing-chain").map(String::as_str);
    if let (Ok(()), Some(b), Some(first)) = (&result, backing, chain.and_then(first_link)) {
        let (from, to) = (parent_of(vol), parent_of(newname));
        if !b.starts_with('/') && from != to {
            result = crate::cmd::Cmd::new("qemu-img")
                .arg("rebase")
                .arg("-q")
                .arg("-u")
                .arg("-f")
                .arg("qcow2")
                .arg("-b")
                .arg(crate::volume::chain::relative(newname, first))
                .arg("-F")
                .arg(backing_format(tree, pool, first))
                .arg(&dst_path)
                .run()
                .map(drop);
        }
    }
    if let Err(e) = result {
        let _ = fs::remove_file(&dst_path);
        return Err(e);
    }
    Ok(format!("Vol {newname} cloned from {vol}"))
}

/// The first link of an `info` backing chain, if it is a volume of the pool.
pub(super) fn first_link(chain: &str) -> Option<&str> {
    chain
        .split(" -> ")
        .next()
        .filter(|l| *l != "-" && !l.starts_with('/'))
}

pub(super) fn parent_of(vol: &str) -> &str {
    vol.rsplit_once('/').map_or("", |(d, _)| d)
}

pub(super) fn backing_format(tree: &Tree, pool: &str, vol: &str) -> String {
    vol_facts(tree, pool, vol)
        .ok()
        .and_then(|m| m.get("format").cloned())
        .unwrap_or_else(|| "raw".into())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn vol_resize(
    tree: &Tree,
    pool: &str,
    vol: &str,
    capacity: &str,
    delta: bool,
    shrink: bool,
    allocate: bool,
) -> Result<String> {
    volume_path(tree, pool, vol)?;
    let mut req = match (delta, capacity.strip_prefix('-')) {
        (true, Some(_)) => capacity.to_string(),
        (true, None) => format!("+{}", capacity.trim_start_matches('+')),
        (false, _) => capacity.to_string(),
    };
    if shrink {
        req.push_str(" shrink");
    }
    if allocate {
        req.push_str(" allocate");
    }
    let path = pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("resize");
    write_request(&path, &req)
        .map_err(|e| refused(tree, pool, &format!("resize volume '{vol}' of"), e))?;
    let cap = fs::read_to_string(&path).unwrap_or_default();
    Ok(format!(
        "Size of volume '{vol}' successfully changed to {}",
        cap.trim()
    ))
}

pub(super) fn vol_wipe(tree: &Tree, pool: &str, vol: &str, alg: &str) -> Result<String> {
    volume_path(tree, pool, vol)?;
    let path = pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("wipe");
    let writer = {
        let path = path.clone();
        let alg = alg.to_string();
        std::thread::spawn(move || write_request(&path, &alg))
    };
    let pb = progress_bar(100, "wipe");
    while !writer.is_finished() {
        if let Some(pb) = &pb {
            let status = fs::read_to_string(&path).unwrap_or_default();
            if let Some(pct) = status
                .strip_prefix("running ")
                .and_then(|s| s.split('%').next())
                .and_then(|p| p.parse().ok())
            {
                pb.set_position(pct);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let result = writer
        .join()
        .map_err(|_| Error::State("the wipe thread panicked".into()))?;
    result.map_err(|e| refused(tree, pool, &format!("wipe volume '{vol}' of"), e))?;
    Ok(format!("Vol {vol} wiped"))
}
