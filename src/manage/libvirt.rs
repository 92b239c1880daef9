//! The verbs that speak libvirt's XML (`pool-define`, `pool-create`,
//! `pool-dumpxml`, `vol-create`, `vol-create-from`, `vol-dumpxml`), the
//! import of a host's libvirt pools (`import-libvirt`), libvirt pools over
//! poolfs's (`libvirt-pools`), and virsh's small lookups (`vol-path`,
//! `vol-key`, `vol-name`, `vol-pool`). Like every verb, they act only
//! through the mounted tree.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::pools::define;
use super::volumes::{
    backing_format, first_link, vol_clone, vol_create_as, vol_create_overlay, vol_facts, vol_resize,
};
use super::xml::{self, PoolFacts, VolFacts};
use super::{ctl, mounted_root, pool_dir, read_kv, volume_path};
use crate::cli::Tree;
use crate::config::PoolDef;
use crate::control::{PoolFile, VOL_DIR};
use crate::error::{Error, Result};

/// The text of FILE (`-`: standard input).
fn read_input(file: &Path) -> Result<String> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(Error::io("cannot read the XML from standard input"))?;
        return Ok(text);
    }
    fs::read_to_string(file).map_err(Error::io(format!("cannot read '{}'", file.display())))
}

/// Lines saying what the XML asked that poolfs does not apply.
fn with_notes(msg: String, notes: &[String]) -> String {
    notes.iter().fold(msg, |m, n| format!("{m}\nnote: {n}"))
}

/// A pool's `config` document: the uuid (when given) and the definition.
fn config_of(uuid: Option<&str>, def: &PoolDef) -> String {
    let uuid = uuid
        .map(|u| format!("uuid = \"{u}\"\n"))
        .unwrap_or_default();
    format!("{uuid}{}", def.render())
}

pub(super) fn pool_define(tree: &Tree, file: &Path) -> Result<String> {
    let x = xml::parse_pool(&read_input(file)?)?;
    define(tree, &x.name, Some(&config_of(x.uuid.as_deref(), &x.def)))?;
    Ok(with_notes(
        format!("Pool {} defined from {}", x.name, file.display()),
        &x.notes,
    ))
}

/// libvirt's `pool-create` makes a transient pool; poolfs's pools are all
/// persistent, so this defines and starts one, and removes the definition
/// again when it does not start (nothing is left, as with libvirt).
pub(super) fn pool_create(tree: &Tree, file: &Path) -> Result<String> {
    let x = xml::parse_pool(&read_input(file)?)?;
    define(tree, &x.name, Some(&config_of(x.uuid.as_deref(), &x.def)))?;
    super::pools::start_or_remove(tree, &x.name)?;
    Ok(with_notes(
        format!("Pool {} created from {}", x.name, file.display()),
        &x.notes,
    ))
}

fn number(m: &std::collections::BTreeMap<String, String>, k: &str) -> u64 {
    m.get(k).and_then(|v| v.parse().ok()).unwrap_or(0)
}

pub(super) fn pool_dumpxml(tree: &Tree, pool: &str) -> Result<String> {
    let dir = pool_dir(tree, pool)?;
    let info = read_kv(&dir.join("info"))?;
    let text = fs::read_to_string(dir.join("config")).map_err(Error::io(format!(
        "cannot read the config of pool '{pool}'"
    )))?;
    let def = PoolDef::parse(&text)?;
    let facts = PoolFacts {
        name: pool.to_string(),
        uuid: info.get("uuid").cloned().unwrap_or_default(),
        sizes: (
            number(&info, "capacity"),
            number(&info, "allocation"),
            number(&info, "available"),
        ),
        tree_path: dir.display().to_string(),
    };
    xml::render_pool(&facts, &def)
}

/// The volume of `pool` a backing store's path names: a path on the tree or
/// in the pool's target, or one relative to the pool.
fn backing_volume(tree: &Tree, pool: &str, path: &str) -> Result<String> {
    let dir = pool_dir(tree, pool)?;
    let target = read_kv(&dir.join("info"))?
        .get("target")
        .filter(|t| *t != "-")
        .map(PathBuf::from);
    let p = Path::new(path);
    let rel = if p.is_absolute() {
        [Some(dir), target]
            .into_iter()
            .flatten()
            .find_map(|root| p.strip_prefix(root).ok().map(Path::to_path_buf))
    } else {
        Some(p.to_path_buf())
    };
    let rel = rel.ok_or_else(|| {
        Error::Unsupported(format!(
            "the backing store '{path}' is not a volume of pool '{pool}': poolfs makes overlays of volumes of the same pool"
        ))
    })?;
    let rel = rel.display().to_string();
    volume_path(tree, pool, &rel)?;
    Ok(rel)
}

pub(super) fn vol_create(tree: &Tree, pool: &str, file: &Path) -> Result<String> {
    let x = xml::parse_volume(&read_input(file)?)?;
    match &x.backing {
        Some((path, fmt)) => {
            let backing = backing_volume(tree, pool, path)?;
            vol_create_overlay(
                tree,
                pool,
                &x.name,
                x.capacity,
                x.format.as_deref(),
                &backing,
                fmt.as_deref(),
            )?;
        }
        None => {
            vol_create_as(
                tree,
                pool,
                &x.name,
                x.capacity.unwrap_or_default(),
                x.allocation,
                x.format.as_deref().unwrap_or("raw"),
            )?;
        }
    }
    Ok(with_notes(
        format!("Vol {} created from {}", x.name, file.display()),
        &x.notes,
    ))
}

/// A new volume of `pool` as FILE describes it, holding the data of volume
/// `vol` of `input` (default: the same pool). A copy in the same format of a
/// volume with no backing is a sparse clone; any other is `qemu-img
/// convert` (an overlay comes out standalone, as from libvirt).
pub(super) fn vol_create_from(
    tree: &Tree,
    pool: &str,
    file: &Path,
    vol: &str,
    input: Option<&str>,
) -> Result<String> {
    let x = xml::parse_volume(&read_input(file)?)?;
    if x.backing.is_some() {
        return Err(Error::Unsupported(
            "vol-create-from makes a standalone copy: leave <backingStore> out (vol-create makes overlays)".into(),
        ));
    }
    let input = input.unwrap_or(pool);
    let src = volume_path(tree, input, vol)?;
    let facts = vol_facts(tree, input, vol)?;
    let src_format = facts.get("format").cloned().unwrap_or_else(|| "raw".into());
    let format = x.format.clone().unwrap_or_else(|| src_format.clone());
    let has_backing = facts.get("backing").is_some_and(|b| b != "-");
    if input == pool && format == src_format && !has_backing {
        vol_clone(tree, pool, vol, &x.name, false)?;
    } else {
        let dst = super::volumes::new_volume_path(tree, pool, &x.name)?;
        let made = crate::cmd::Cmd::new("qemu-img")
            .arg("convert")
            .arg("-O")
            .arg(&format)
            .arg(&src)
            .arg(&dst)
            .run();
        if let Err(e) = made {
            let _ = fs::remove_file(&dst);
            return Err(e);
        }
    }
    let src_capacity: u64 = facts
        .get("capacity")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if let Some(cap) = x.capacity.filter(|c| *c > src_capacity) {
        vol_resize(tree, pool, &x.name, &cap.to_string(), false, false, false)?;
    }
    Ok(with_notes(
        format!("Vol {} created from input vol {vol}", x.name),
        &x.notes,
    ))
}

pub(super) fn vol_dumpxml(tree: &Tree, pool: &str, vol: &str) -> Result<String> {
    let path = volume_path(tree, pool, vol)?;
    let m = vol_facts(tree, pool, vol)?;
    let chain = m.get("backing-chain").cloned().unwrap_or_default();
    let backing = first_link(&chain).map(|b| {
        let p = pool_dir(tree, pool).map(|d| d.join(b).display().to_string());
        (p.unwrap_or_default(), backing_format(tree, pool, b))
    });
    Ok(xml::render_volume(&VolFacts {
        name: vol.to_string(),
        path: path.display().to_string(),
        format: m.get("format").cloned().unwrap_or_else(|| "raw".into()),
        capacity: number(&m, "capacity"),
        allocation: number(&m, "allocation"),
        physical: number(&m, "physical"),
        backing,
    }))
}

/// `vol-path` and `vol-key`: the volume's path on the tree (libvirt's key of
/// a file volume is its path too).
pub(super) fn vol_path(tree: &Tree, pool: &str, vol: &str) -> Result<String> {
    Ok(volume_path(tree, pool, vol)?.display().to_string())
}

/// The pool and volume a path on the tree (or a key) names.
fn locate(tree: &Tree, path: &Path) -> Result<(String, String)> {
    let root = mounted_root(tree)?;
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(Error::io("cannot read the current directory"))?
            .join(path)
    };
    let not_ours = || {
        Error::NotFound(format!(
            "no storage vol with matching path '{}'",
            path.display()
        ))
    };
    let rel = abs.strip_prefix(&root).map_err(|_| not_ours())?;
    let mut parts = rel.components();
    let pool = parts
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .ok_or_else(not_ours)?;
    let vol = parts.as_path().display().to_string();
    if vol.is_empty() || vol.starts_with(VOL_DIR) || !abs.is_file() {
        return Err(not_ours());
    }
    Ok((pool, vol))
}

pub(super) fn vol_name(tree: &Tree, path: &Path) -> Result<String> {
    Ok(locate(tree, path)?.1)
}

pub(super) fn vol_pool(tree: &Tree, path: &Path) -> Result<String> {
    Ok(locate(tree, path)?.0)
}

/// Defines in poolfs each pool of libvirt's persistent pool XML in `from`
/// (default `/etc/libvirt/storage`): same name, uuid, source and target, so
/// no data moves; autostart as libvirt has it (`from/autostart/NAME.xml`).
/// One line per pool: done, or skipped and why. libvirt's files are only
/// read.
pub(super) fn import_libvirt(tree: &Tree, from: &Path, dry_run: bool) -> Result<String> {
    let rd = fs::read_dir(from).map_err(Error::io(format!(
        "cannot read libvirt's pool definitions in '{}'",
        from.display()
    )))?;
    let mut files: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    let root = mounted_root(tree)?;
    let mut out = Vec::new();
    let (mut done, mut skipped) = (0, 0);
    for f in &files {
        let shown = f.file_name().unwrap_or_default().to_string_lossy();
        let parsed = fs::read_to_string(f)
            .map_err(Error::io(format!("cannot read '{}'", f.display())))
            .and_then(|t| xml::parse_pool(&t));
        let x = match parsed {
            Ok(x) => x,
            Err(e) => {
                skipped += 1;
                out.push(format!("skipped {shown}: {e}"));
                continue;
            }
        };
        if root.join(&x.name).exists() {
            skipped += 1;
            out.push(format!(
                "skipped pool {}: poolfs has a pool of that name",
                x.name
            ));
            continue;
        }
        let autostart = from
            .join("autostart")
            .join(format!("{}.xml", x.name))
            .exists();
        let what = if autostart {
            "autostart"
        } else {
            "no autostart"
        };
        if dry_run {
            done += 1;
            out.push(with_notes(
                format!("would define pool {} ({what})", x.name),
                &x.notes,
            ));
            continue;
        }
        let result =
            define(tree, &x.name, Some(&config_of(x.uuid.as_deref(), &x.def))).and_then(|()| {
                if autostart {
                    ctl(
                        tree,
                        &x.name,
                        PoolFile::Autostart,
                        "yes",
                        "mark autostart of",
                    )?;
                }
                Ok(())
            });
        match result {
            Ok(()) => {
                done += 1;
                out.push(with_notes(
                    format!("defined pool {} ({what})", x.name),
                    &x.notes,
                ));
            }
            Err(e) => {
                skipped += 1;
                out.push(format!("skipped pool {}: {e}", x.name));
            }
        }
    }
    out.push(format!(
        "{} {done} pool(s), skipped {skipped}",
        if dry_run { "would define" } else { "defined" }
    ));
    Ok(out.join("\n"))
}

/// One libvirt `dir` pool per poolfs pool, whose target is the pool's
/// directory on the tree (with the poolfs pool's name and uuid): printed,
/// or with `define` defined through `virsh pool-define` (and started
/// there when the poolfs pool runs); `only` names the pools (empty: all).
pub(super) fn libvirt_pools(tree: &Tree, only: &[String], define_them: bool) -> Result<String> {
    let all = super::pools(tree)?;
    if let Some(missing) = only
        .iter()
        .find(|p| !all.iter().any(|m| m.get("name") == Some(p)))
    {
        return Err(Error::NotFound(format!(
            "storage pool '{missing}' not found"
        )));
    }
    let mut out = Vec::new();
    for m in &all {
        let (Some(name), Some(uuid)) = (m.get("name"), m.get("uuid")) else {
            continue;
        };
        if !only.is_empty() && !only.contains(name) {
            continue;
        }
        let dir = pool_dir(tree, name)?;
        let text = xml::render_dir_pool(name, uuid, &dir.display().to_string());
        if !define_them {
            out.push(text);
            continue;
        }
        let tmp = tempfile::NamedTempFile::new()
            .map_err(Error::io("cannot write a temporary XML file"))?;
        fs::write(tmp.path(), &text).map_err(Error::io("cannot write a temporary XML file"))?;
        crate::cmd::Cmd::new("virsh")
            .arg("pool-define")
            .arg(tmp.path())
            .run()?;
        if m.get("state").is_some_and(|s| s == "running") {
            // Already active in libvirt is fine: the same pool.
            let _ = crate::cmd::Cmd::new("virsh")
                .arg("pool-start")
                .arg(name)
                .run();
        }
        out.push(format!("libvirt pool {name} defined on {}", dir.display()));
    }
    Ok(out.join("\n"))
}

/// How long a server has to list its exports.
const FIND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `find-storage-pool-sources-as netfs HOST`: the server's exports as
/// libvirt's `<sources>` XML.
pub(super) fn find_sources(kind: &str, host: &str, mount_port: Option<u16>) -> Result<String> {
    if kind != "netfs" {
        return Err(Error::Unsupported(format!(
            "poolfs finds the sources of netfs pools only, not of '{kind}' pools"
        )));
    }
    let exports = crate::kinds::netfs::exports::list_exports(host, mount_port, FIND_TIMEOUT)?;
    Ok(xml::render_sources(host, &exports))
}

/// `find-storage-pool-sources netfs SRCSPEC`: the host of a `<source>` XML.
pub(super) fn find_sources_from(kind: &str, spec: &Path) -> Result<String> {
    let host = xml::source_host(&read_input(spec)?)?;
    find_sources(kind, &host, None)
}
