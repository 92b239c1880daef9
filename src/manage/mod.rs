//! The management verbs (`pool-*`, `vol-*`): virsh's commands done with
//! plain file operations on the mounted tree, so everything they do can be
//! done with `echo`, `cat`, `cp` and `rm` too. Nothing here talks to the
//! daemon any other way.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{Command, Tree};
use crate::control::PoolFile;
use crate::error::{Error, Result};

mod libvirt;
mod output;
mod pools;
mod volumes;
mod xml;

pub use output::pretty;
use pools::{pool_define_as, pool_info, pool_list};
use volumes::{
    copy, vol_clone, vol_create_as, vol_create_overlay, vol_info, vol_list, vol_resize, vol_wipe,
};

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
        PoolDefineAs(d) => pool_define_as(d),
        PoolCreateAs(d) => {
            pool_define_as(d)?;
            pools::start_or_remove(&d.tree, &d.name)?;
            Ok(format!("Pool {} created", d.name))
        }
        PoolName { uuid, tree } => pools::pool_name(tree, uuid),
        PoolUuid { pool, tree } => {
            let m = read_kv(&pool_dir(tree, pool)?.join("info"))?;
            Ok(m.get("uuid").cloned().unwrap_or_default())
        }
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
        PoolDefine { file, tree } => libvirt::pool_define(tree, file),
        PoolCreate { file, tree } => libvirt::pool_create(tree, file),
        PoolDumpxml { pool, tree } => libvirt::pool_dumpxml(tree, pool),
        VolCreate { pool, file, tree } => libvirt::vol_create(tree, pool, file),
        VolCreateFrom {
            pool,
            file,
            vol,
            inputpool,
            tree,
        } => libvirt::vol_create_from(tree, pool, file, vol, inputpool.as_deref()),
        VolDumpxml { vol, pool, tree } => libvirt::vol_dumpxml(tree, pool, vol),
        VolPath { vol, pool, tree } | VolKey { vol, pool, tree } => {
            libvirt::vol_path(tree, pool, vol)
        }
        VolName { path, tree } => libvirt::vol_name(tree, path),
        VolPool { path, tree } => libvirt::vol_pool(tree, path),
        ImportLibvirt {
            from,
            dry_run,
            tree,
        } => libvirt::import_libvirt(tree, from, *dry_run),
        LibvirtPools {
            pools,
            define,
            tree,
        } => libvirt::libvirt_pools(tree, pools, *define),
        FindStoragePoolSourcesAs {
            pool_type,
            host,
            mount_port,
        } => libvirt::find_sources(pool_type, host, *mount_port),
        FindStoragePoolSources { pool_type, srcspec } => {
            libvirt::find_sources_from(pool_type, srcspec)
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
pub(super) fn mounted_root(tree: &Tree) -> Result<PathBuf> {
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

pub(super) fn pool_dir(tree: &Tree, pool: &str) -> Result<PathBuf> {
    let dir = mounted_root(tree)?.join(pool);
    if pool.contains('/') || !dir.join("status").is_file() {
        return Err(Error::NotFound(format!("storage pool '{pool}' not found")));
    }
    Ok(dir)
}

pub(super) fn volume_path(tree: &Tree, pool: &str, vol: &str) -> Result<PathBuf> {
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
pub(super) fn read_kv(path: &Path) -> Result<BTreeMap<String, String>> {
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
pub(super) fn refused(tree: &Tree, pool: &str, what: &str, e: std::io::Error) -> Error {
    let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
    let reason = read_kv(&tree.root().join(pool).join("info"))
        .ok()
        .and_then(|m| m.get("last_error").cloned())
        .filter(|r| r != "-");
    // The reason often ends with the errno itself, which Sys adds again.
    let errno_text = format!(": {errno}");
    Error::Sys {
        what: match reason {
            Some(r) => format!(
                "cannot {what} pool '{pool}': {}",
                r.strip_suffix(&errno_text).unwrap_or(&r)
            ),
            None => format!("cannot {what} pool '{pool}'"),
        },
        errno,
    }
}

/// Writes one request to a pool control file, as `echo req > file` does.
pub(super) fn ctl(tree: &Tree, pool: &str, file: PoolFile, req: &str, what: &str) -> Result<()> {
    let path = pool_dir(tree, pool)?.join(file.name());
    write_request(&path, req).map_err(|e| refused(tree, pool, what, e))
}

/// The refusal comes from `write(2)`, or from `close(2)` for `config`.
pub(super) fn write_request(path: &Path, req: &str) -> std::io::Result<()> {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(format!("{req}\n").as_bytes())?;
    nix::unistd::close(f).map_err(std::io::Error::from)
}

// ---- pools ---------------------------------------------------------------------

pub(super) fn pools(tree: &Tree) -> Result<Vec<BTreeMap<String, String>>> {
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

// ---- volumes -------------------------------------------------------------------
