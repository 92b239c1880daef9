//! The pool verbs that read or write more than one control file.

use std::collections::BTreeMap;
use std::fs::{self};

use serde_json::Value;

use super::output::{json_object, json_text, size_field, table};
use super::{mounted_root, pool_dir, pools, read_kv, refused, write_request};
use crate::cli::Tree;
use crate::error::{Error, Result};

pub(super) fn pool_list(tree: &Tree, all: bool, details: bool) -> Result<String> {
    let pools: Vec<_> = pools(tree)?
        .into_iter()
        .filter(|m| all || m.get("state").is_some_and(|s| s != "inactive"))
        .collect();
    if tree.json {
        let list: Vec<_> = pools.iter().map(json_object).collect();
        return Ok(json_text(&Value::Array(list)));
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

pub(super) fn pool_info(tree: &Tree, pool: &str, bytes: bool) -> Result<String> {
    let m = read_kv(&pool_dir(tree, pool)?.join("info"))?;
    if tree.json {
        return Ok(json_text(&json_object(&m)));
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

pub(super) fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(super) fn pool_define_as(d: &crate::cli::DefineAs) -> Result<String> {
    let (tree, name, pool_type, nfs) = (&d.tree, d.name.as_str(), d.pool_type.as_str(), &d.nfs);
    let (target, source, format) = (d.target.as_deref(), &d.source, d.source_format.as_deref());
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
    let keep_default_target = pool_type == "dir"
        && target.is_none()
        && source.is_empty()
        && format.is_none()
        && cfg.lines().count() == 1;
    define(tree, name, (!keep_default_target).then_some(cfg.as_str()))?;
    Ok(format!("Pool {name} defined"))
}

/// Defines pool `name`: `mkdir`, then `config` written with `cfg` (`None`:
/// the default `dir` pool `mkdir` makes). A refused config removes the
/// pool again; the error carries the refusal and `last_error`.
pub(super) fn define(tree: &Tree, name: &str, cfg: Option<&str>) -> Result<()> {
    let dir = mounted_root(tree)?.join(name);
    fs::create_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Exists(format!("pool '{name}' already exists")),
        _ => Error::io(format!("cannot define pool '{name}'"))(e),
    })?;
    if let Some(cfg) = cfg
        && let Err(e) = write_request(&dir.join("config"), cfg)
    {
        let err = refused(tree, name, "define", e);
        let _ = fs::remove_dir(&dir);
        return Err(err);
    }
    Ok(())
}

/// `pool-name UUID`: the pool with that uuid.
pub(super) fn pool_name(tree: &Tree, uuid: &str) -> Result<String> {
    pools(tree)?
        .into_iter()
        .find(|m| m.get("uuid").is_some_and(|u| u.eq_ignore_ascii_case(uuid)))
        .and_then(|m| m.get("name").cloned())
        .ok_or_else(|| Error::NotFound(format!("failed to get pool '{uuid}'")))
}

/// Starts the pool just defined as `name`; one that does not start is
/// removed again, so nothing is left (as a transient libvirt pool).
pub(super) fn start_or_remove(tree: &Tree, name: &str) -> Result<()> {
    if let Err(e) = super::ctl(
        tree,
        name,
        crate::control::PoolFile::Status,
        "start",
        "start",
    ) {
        let _ = fs::remove_dir(mounted_root(tree)?.join(name));
        return Err(e);
    }
    Ok(())
}
