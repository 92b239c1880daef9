//! The management verbs (`pool-*`, `vol-*`): virsh's commands done with
//! plain file operations on the mounted tree, so everything they do can be
//! done with `echo`, `cat`, `cp` and `rm` too. Nothing here talks to the
//! daemon any other way.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::cli::{Command, Tree};
use crate::control::{PoolFile, VOL_DIR, is_reserved};
use crate::error::{Error, Result};
use crate::volume::copy::sparse_copy;

/// Runs one management verb; `Ok` carries what to print.
pub fn run(cmd: &Command) -> Result<()> {
    let out = dispatch(cmd)?;
    if !out.is_empty() {
        print!("{out}");
        if !out.ends_with('\n') {
            println!();
        }
    }
    Ok(())
}

fn dispatch(cmd: &Command) -> Result<String> {
    use Command::*;
    match cmd {
        Mount(_) | Upgrade { .. } | Completions { .. } | Man => Ok(String::new()),
        PoolList { all, details, tree } => pool_list(tree, *all, *details),
        PoolInfo { pool, bytes, tree } => pool_info(tree, pool, *bytes),
        PoolDefineAs {
            name,
            pool_type,
            target,
            source,
            source_format,
            nfs,
            tree,
        } => pool_define_as(
            tree,
            name,
            pool_type,
            target.as_deref(),
            source,
            source_format.as_deref(),
            nfs,
        ),
        PoolBuild {
            pool,
            overwrite,
            tree,
        } => {
            let req = if *overwrite {
                "build overwrite"
            } else {
                "build"
            };
            ctl(tree, pool, PoolFile::Status, req, "build")?;
            Ok(format!("Pool {pool} built"))
        }
        PoolStart { pool, tree } => {
            ctl(tree, pool, PoolFile::Status, "start", "start")?;
            Ok(format!("Pool {pool} started"))
        }
        PoolStop { pool, tree } => {
            ctl(tree, pool, PoolFile::Status, "stop", "stop")?;
            Ok(format!("Pool {pool} destroyed"))
        }
        PoolAutostart {
            pool,
            disable,
            tree,
        } => {
            ctl(
                tree,
                pool,
                PoolFile::Autostart,
                if *disable { "no" } else { "yes" },
                "change autostart of",
            )?;
            Ok(if *disable {
                format!("Pool {pool} unmarked as autostarted")
            } else {
                format!("Pool {pool} marked as autostarted")
            })
        }
        PoolRefresh { pool, tree } => {
            ctl(tree, pool, PoolFile::Status, "refresh", "refresh")?;
            Ok(format!("Pool {pool} refreshed"))
        }
        PoolUndefine { pool, tree } => {
            let dir = pool_dir(tree, pool)?;
            fs::remove_dir(&dir).map_err(|e| refused(tree, pool, "undefine", e))?;
            Ok(format!("Pool {pool} has been undefined"))
        }
        VolList {
            pool,
            details,
            tree,
        } => vol_list(tree, pool, *details),
        VolInfo {
            vol,
            pool,
            bytes,
            tree,
        } => vol_info(tree, pool, vol, *bytes),
        VolCreateAs {
            pool,
            name,
            capacity,
            allocation,
            format,
            backing_vol,
            backing_vol_format,
            tree,
        } => match backing_vol {
            Some(backing) => vol_create_overlay(
                tree,
                pool,
                name,
                *capacity,
                format.as_deref(),
                backing,
                backing_vol_format.as_deref(),
            ),
            None => vol_create_as(
                tree,
                pool,
                name,
                capacity.unwrap_or_default(),
                *allocation,
                format.as_deref().unwrap_or("raw"),
            ),
        },
        VolClone {
            vol,
            newname,
            pool,
            flatten,
            tree,
        } => vol_clone(tree, pool, vol, newname, *flatten),
        VolResize {
            vol,
            capacity,
            pool,
            delta,
            shrink,
            allocate,
            tree,
        } => vol_resize(tree, pool, vol, capacity, *delta, *shrink, *allocate),
        VolWipe {
            vol,
            pool,
            algorithm,
            tree,
        } => vol_wipe(tree, pool, vol, &algorithm.to_string()),
        VolUpload {
            vol,
            file,
            pool,
            sparse,
            tree,
        } => {
            let dst = volume_path(tree, pool, vol)?;
            let dst = OpenOptions::new()
                .write(true)
                .read(true)
                .open(&dst)
                .map_err(|e| refused(tree, pool, &format!("upload to volume '{vol}' in"), e))?;
            if file.as_os_str() == "-" {
                crate::volume::copy::stream_copy(&mut std::io::stdin().lock(), &dst, *sparse)
                    .and_then(|_| dst.sync_all())
                    .map_err(Error::io("upload from standard input failed"))?;
                return Ok(String::new());
            }
            let src =
                File::open(file).map_err(Error::io(format!("cannot open '{}'", file.display())))?;
            copy(&src, &dst, *sparse, "upload")?;
            Ok(String::new())
        }
        VolDownload {
            vol,
            file,
            pool,
            sparse,
            tree,
        } => {
            let src = volume_path(tree, pool, vol)?;
            let src = File::open(&src)
                .map_err(|e| refused(tree, pool, &format!("download volume '{vol}' of"), e))?;
            if file.as_os_str() == "-" {
                let mut out = std::io::stdout().lock();
                std::io::copy(
                    &mut std::io::BufReader::with_capacity(1 << 20, src),
                    &mut out,
                )
                .and_then(|_| out.flush())
                .map_err(Error::io("download to standard output failed"))?;
                return Ok(String::new());
            }
            let dst = create_local(file)?;
            copy(&src, &dst, *sparse, "download")?;
            Ok(String::new())
        }
        VolDelete { vol, pool, tree } => {
            let p = volume_path(tree, pool, vol)?;
            fs::remove_file(&p)
                .map_err(|e| refused(tree, pool, &format!("delete volume '{vol}' of"), e))?;
            Ok(format!("Vol {vol} deleted"))
        }
    }
}

/// The local file a download writes: made, or emptied if it exists.
pub fn create_local(file: &Path) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .read(true)
        .create(true)
        .truncate(true)
        .open(file)
        .map_err(Error::io(format!("cannot create '{}'", file.display())))
}

// ---- finding things in the tree ----------------------------------------------

/// The root of the tree the verbs act on: a mounted poolfs, not the empty
/// directory a stopped daemon leaves behind.
fn mounted_root(tree: &Tree) -> Result<PathBuf> {
    let root = tree.root();
    let mounted = root
        .canonicalize()
        .is_ok_and(|p| crate::mounts::is_poolfs_mount(&p));
    if !mounted {
        return Err(Error::NotFound(format!(
            "no poolfs tree is mounted at '{}' (start one with `poolfs mount {0}`, or name another with --mount or $POOLFS_MOUNT)",
            root.display()
        )));
    }
    Ok(root)
}

fn pool_dir(tree: &Tree, pool: &str) -> Result<PathBuf> {
    let dir = mounted_root(tree)?.join(pool);
    if pool.contains('/') || !dir.join("status").is_file() {
        return Err(Error::NotFound(format!("storage pool '{pool}' not found")));
    }
    Ok(dir)
}

fn volume_path(tree: &Tree, pool: &str, vol: &str) -> Result<PathBuf> {
    let dir = pool_dir(tree, pool)?;
    let p = dir.join(vol);
    if vol
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
        || !p.is_file()
    {
        return Err(Error::NotFound(format!(
            "storage volume '{vol}' not found in pool '{pool}'"
        )));
    }
    Ok(p)
}

/// `key: value` lines of a control file.
fn read_kv(path: &Path) -> Result<BTreeMap<String, String>> {
    let text =
        fs::read_to_string(path).map_err(Error::io(format!("cannot read '{}'", path.display())))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// An error from a file operation on the tree, with the daemon's reason
/// (`last_error`) where it gave one.
fn refused(tree: &Tree, pool: &str, what: &str, e: std::io::Error) -> Error {
    let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let reason = read_kv(&tree.root().join(pool).join("info"))
        .ok()
        .and_then(|m| m.get("last_error").cloned())
        .filter(|r| r != "-");
    Error::Sys {
        what: match reason {
            Some(r) => format!("cannot {what} pool '{pool}': {r}"),
            None => format!("cannot {what} pool '{pool}'"),
        },
        errno,
    }
}

/// Writes one request to a pool control file, as `echo req > file` does.
fn ctl(tree: &Tree, pool: &str, file: PoolFile, req: &str, what: &str) -> Result<()> {
    let path = pool_dir(tree, pool)?.join(file.name());
    write_request(&path, req).map_err(|e| refused(tree, pool, what, e))
}

/// The refusal comes from `write(2)`, or from `close(2)` for `config`.
fn write_request(path: &Path, req: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(format!("{req}\n").as_bytes())?;
    nix::unistd::close(f).map_err(std::io::Error::from)
}

// ---- pools ---------------------------------------------------------------------

/// virsh's human units: two decimals and a binary unit.
pub fn pretty(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", UNITS[u])
}

fn size_field(m: &BTreeMap<String, String>, key: &str, bytes: bool) -> String {
    match m.get(key).and_then(|v| v.parse::<u64>().ok()) {
        Some(n) if bytes => n.to_string(),
        Some(n) => pretty(n),
        None => "-".into(),
    }
}

fn pools(tree: &Tree) -> Result<Vec<BTreeMap<String, String>>> {
    let root = mounted_root(tree)?;
    let rd = fs::read_dir(&root).map_err(Error::io(format!("cannot list '{}'", root.display())))?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let info = e.path().join("info");
        if info.is_file() {
            out.push(read_kv(&info)?);
        }
    }
    out.sort_by(|a, b| a.get("name").cmp(&b.get("name")));
    Ok(out)
}

fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push(' ');
            s.push_str(&format!("{c:<width$}", width = w[i]));
            s.push_str("  ");
        }
        s.trim_end().to_string() + "\n"
    };
    let hdr: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    let mut out = line(&hdr);
    out.push_str(&"-".repeat(out.trim_end().len() + 2));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn pool_list(tree: &Tree, all: bool, details: bool) -> Result<String> {
    let pools: Vec<_> = pools(tree)?
        .into_iter()
        .filter(|m| all || m.get("state").is_some_and(|s| s != "inactive"))
        .collect();
    if tree.json {
        let list: Vec<_> = pools.iter().map(|m| json!(m)).collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default());
    }
    let word = |m: &BTreeMap<String, String>| match m.get("state").map(String::as_str) {
        Some("inactive") => "inactive".to_string(),
        Some("running") => "active".to_string(),
        Some(s) => s.to_string(),
        None => "-".to_string(),
    };
    let get =
        |m: &BTreeMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_else(|| "-".into());
    if details {
        let rows: Vec<Vec<String>> = pools
            .iter()
            .map(|m| {
                vec![
                    get(m, "name"),
                    m.get("state").cloned().unwrap_or_default(),
                    get(m, "autostart"),
                    "yes".into(),
                    size_field(m, "capacity", false),
                    size_field(m, "allocation", false),
                    size_field(m, "available", false),
                ]
            })
            .collect();
        return Ok(table(
            &[
                "Name",
                "State",
                "Autostart",
                "Persistent",
                "Capacity",
                "Allocation",
                "Available",
            ],
            &rows,
        ));
    }
    let rows: Vec<Vec<String>> = pools
        .iter()
        .map(|m| vec![get(m, "name"), word(m), get(m, "autostart")])
        .collect();
    Ok(table(&["Name", "State", "Autostart"], &rows))
}

fn pool_info(tree: &Tree, pool: &str, bytes: bool) -> Result<String> {
    let m = read_kv(&pool_dir(tree, pool)?.join("info"))?;
    if tree.json {
        return Ok(serde_json::to_string_pretty(&m).unwrap_or_default());
    }
    let get = |k: &str| m.get(k).cloned().unwrap_or_else(|| "-".into());
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{:<16}{v}\n", format!("{k}:")));
    line("Name", get("name"));
    line("UUID", get("uuid"));
    line("Type", get("type"));
    line("State", get("state"));
    line("Persistent", "yes".into());
    line("Autostart", get("autostart"));
    if get("state") != "inactive" {
        line("Capacity", size_field(&m, "capacity", bytes));
        line("Allocation", size_field(&m, "allocation", bytes));
        line("Available", size_field(&m, "available", bytes));
    }
    line("Target", get("target"));
    line("Last error", get("last_error"));
    Ok(out)
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn pool_define_as(
    tree: &Tree,
    name: &str,
    pool_type: &str,
    target: Option<&Path>,
    source: &[String],
    format: Option<&str>,
    nfs: &crate::cli::NfsArgs,
) -> Result<String> {
    let mut cfg = format!("type = {}\n", toml_str(pool_type));
    match pool_type {
        "block" => {
            let list: Vec<String> = source.iter().map(|s| toml_str(s)).collect();
            cfg.push_str(&format!("source = [{}]\n", list.join(", ")));
        }
        _ => {
            if let Some(s) = source.first() {
                cfg.push_str(&format!("source = {}\n", toml_str(s)));
            }
        }
    }
    if let Some(f) = format {
        cfg.push_str(&format!("format = {}\n", toml_str(f)));
    }
    if let Some(t) = target {
        cfg.push_str(&format!(
            "target = {}\n",
            toml_str(&t.display().to_string())
        ));
    }
    for (key, value) in [("client", &nfs.client), ("version", &nfs.nfs_version)] {
        if let Some(v) = value {
            cfg.push_str(&format!("{key} = {}\n", toml_str(v)));
        }
    }
    for (key, value) in [
        ("port", nfs.port.map(u64::from)),
        ("mount_port", nfs.mount_port.map(u64::from)),
        ("timeout", nfs.timeout),
    ] {
        if let Some(v) = value {
            cfg.push_str(&format!("{key} = {v}\n"));
        }
    }
    let dir = mounted_root(tree)?.join(name);
    fs::create_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Exists(format!("pool '{name}' already exists")),
        _ => Error::io(format!("cannot define pool '{name}'"))(e),
    })?;
    let keep_default_target = pool_type == "dir"
        && target.is_none()
        && source.is_empty()
        && format.is_none()
        && cfg.lines().count() == 1;
    if !keep_default_target && let Err(e) = write_request(&dir.join("config"), &cfg) {
        let err = refused(tree, name, "define", e);
        let _ = fs::remove_dir(&dir);
        return Err(err);
    }
    Ok(format!("Pool {name} defined"))
}

// ---- volumes -------------------------------------------------------------------

/// Every volume of a pool (paths relative to the pool), sub-directories included.
fn volumes(dir: &Path) -> Result<Vec<String>> {
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

fn vol_list(tree: &Tree, pool: &str, details: bool) -> Result<String> {
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
        return Ok(serde_json::to_string_pretty(&infos).unwrap_or_default());
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

fn vol_info(tree: &Tree, pool: &str, vol: &str, bytes: bool) -> Result<String> {
    volume_path(tree, pool, vol)?;
    let m = read_kv(&pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("info"))?;
    if tree.json {
        return Ok(serde_json::to_string_pretty(&m).unwrap_or_default());
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
fn new_volume_path(tree: &Tree, pool: &str, name: &str) -> Result<PathBuf> {
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

fn vol_create_as(
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
fn vol_facts(tree: &Tree, pool: &str, vol: &str) -> Result<BTreeMap<String, String>> {
    volume_path(tree, pool, vol)?;
    read_kv(&pool_dir(tree, pool)?.join(VOL_DIR).join(vol).join("info"))
}

/// `vol-create-as --backing-vol`: a qcow2 overlay of another volume of the
/// pool, naming it relative to itself (libvirt records an absolute path;
/// a relative one stays valid wherever the pool is reached).
fn vol_create_overlay(
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

fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
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

fn copy(src: &File, dst: &File, sparse: bool, what: &str) -> Result<u64> {
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

fn vol_clone(tree: &Tree, pool: &str, vol: &str, newname: &str, flatten: bool) -> Result<String> {
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
fn first_link(chain: &str) -> Option<&str> {
    chain
        .split(" -> ")
        .next()
        .filter(|l| *l != "-" && !l.starts_with('/'))
}

fn parent_of(vol: &str) -> &str {
    vol.rsplit_once('/').map_or("", |(d, _)| d)
}

fn backing_format(tree: &Tree, pool: &str, vol: &str) -> String {
    vol_facts(tree, pool, vol)
        .ok()
        .and_then(|m| m.get("format").cloned())
        .unwrap_or_else(|| "raw".into())
}

#[allow(clippy::too_many_arguments)]
fn vol_resize(
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

fn vol_wipe(tree: &Tree, pool: &str, vol: &str, alg: &str) -> Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_matches_virsh() {
        assert_eq!(pretty(0), "0.00 B");
        assert_eq!(pretty(1 << 30), "1.00 GiB");
        assert_eq!(pretty(268435456), "256.00 MiB");
        assert_eq!(pretty(270553174016), "251.97 GiB");
    }

    #[test]
    fn table_is_aligned() {
        let t = table(
            &["Name", "State"],
            &[vec!["default".into(), "active".into()]],
        );
        assert_eq!(
            t,
            " Name      State\n------------------\n default   active\n"
        );
    }
}
