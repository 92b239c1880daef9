//! The architecture holds itself: every `crate::` import of `src/` is one
//! the table in `docs/ARCHITECTURE.md` ("Allowed imports") allows,
//! and no two files of one folder import each other, directly or through
//! others (a folder's `mod.rs`, its interface, may use every file in it).
//! Reads the source; needs no mount.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` and the modules it may import: the
/// layers, lowest first. The same table is in docs/ARCHITECTURE.md.
const ALLOWED: &[(&str, &[&str])] = &[
    ("error", &[]),
    ("sys", &["error"]),
    ("cmd", &["error"]),
    ("config", &["error"]),
    ("control", &["error"]),
    ("durable", &["error"]),
    ("journal", &["error"]),
    ("metrics", &["error"]),
    ("mounts", &["error"]),
    ("volume", &["cmd", "control", "error", "sys"]),
    (
        "store",
        &[
            "config", "control", "error", "journal", "metrics", "sys", "volume",
        ],
    ),
    (
        "kinds",
        &[
            "cmd", "config", "control", "error", "journal", "metrics", "mounts", "store", "sys",
            "volume",
        ],
    ),
    (
        "pool",
        &["config", "control", "durable", "error", "kinds", "store"],
    ),
    (
        "core",
        &[
            "config", "control", "error", "journal", "metrics", "pool", "store", "sys", "volume",
        ],
    ),
    (
        "fuse",
        &[
            "config", "core", "error", "metrics", "mounts", "store", "sys",
        ],
    ),
    ("prometheus", &["core", "error", "metrics", "pool"]),
    (
        "keeper",
        &["durable", "error", "fuse", "journal", "mounts", "sys"],
    ),
    ("cli", &["config", "control", "error", "keeper", "store"]),
    (
        "daemon",
        &[
            "cli",
            "core",
            "durable",
            "error",
            "fuse",
            "journal",
            "keeper",
            "pool",
            "prometheus",
            "store",
            "sys",
        ],
    ),
    (
        "manage",
        &[
            "cli", "cmd", "config", "control", "error", "kinds", "mounts", "volume",
        ],
    ),
    ("remote", &["cli", "error", "manage", "volume"]),
];

fn allowed(module: &str) -> Option<&'static [&'static str]> {
    ALLOWED.iter().find(|(m, _)| *m == module).map(|(_, a)| *a)
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file: comments and its unit tests left out.
fn code(p: &Path) -> String {
    let text = fs::read_to_string(p).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The identifiers that follow each `prefix` in `code`.
fn paths_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    code.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &code[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn top_module(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

#[test]
fn architecture_imports_go_down_the_layers() {
    let root = src();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut bad = BTreeSet::new();
    let mut seen = BTreeMap::<String, BTreeSet<String>>::new();
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap();
        let from = top_module(rel);
        if from == "main" || from == "lib" {
            continue;
        }
        let may = allowed(&from)
            .unwrap_or_else(|| panic!("src/{from}: a module missing from ALLOWED and the docs"));
        for to in paths_after(&code(f), "crate::") {
            if to == from {
                continue;
            }
            seen.entry(from.clone()).or_default().insert(to.to_string());
            if !may.contains(&to) {
                bad.insert(format!("{} -> {to}", rel.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layers (docs/ARCHITECTURE.md):\n{}",
        bad.into_iter().collect::<Vec<_>>().join("\n")
    );
    assert!(seen.len() > 10, "the scan found almost nothing: {seen:?}");
    // The table itself only goes down: each module imports only modules
    // listed before it.
    for (i, (m, deps)) in ALLOWED.iter().enumerate() {
        for d in *deps {
            let at = ALLOWED.iter().position(|(x, _)| x == d);
            assert!(
                at.is_some_and(|j| j < i),
                "ALLOWED: {m} -> {d} does not go down"
            );
        }
    }
}

/// Within one folder, the files other than `mod.rs` import each other
/// without a cycle.
#[test]
fn architecture_has_no_cycle_between_files_of_a_folder() {
    let root = src();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut folders = BTreeMap::<PathBuf, BTreeMap<String, BTreeSet<String>>>::new();
    for f in &files {
        let dir = f.parent().unwrap().to_path_buf();
        let name = f.file_stem().unwrap().to_string_lossy().to_string();
        if name == "mod" || dir == root {
            continue;
        }
        let siblings: BTreeSet<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter_map(|p| {
                let stem = p.file_stem()?.to_string_lossy().to_string();
                (stem != "mod" && stem != name).then_some(stem)
            })
            .collect();
        let folder = dir
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('/', "::");
        let text = code(f);
        let mut uses: BTreeSet<String> = paths_after(&text, "super::")
            .into_iter()
            .chain(paths_after(&text, &format!("crate::{folder}::")))
            .filter(|m| siblings.contains(*m))
            .map(str::to_string)
            .collect();
        // `use super::{a, b}`
        for (i, _) in text.match_indices("super::{") {
            let inner = &text[i + 8..];
            let inner = &inner[..inner.find('}').unwrap_or(0)];
            for part in inner.split(',') {
                let m = part.trim().split("::").next().unwrap_or_default();
                if siblings.contains(m) {
                    uses.insert(m.to_string());
                }
            }
        }
        folders.entry(dir).or_default().insert(name, uses);
    }
    for (dir, graph) in &folders {
        // Depth-first search for a cycle.
        fn visit(
            n: &str,
            g: &BTreeMap<String, BTreeSet<String>>,
            path: &mut Vec<String>,
            done: &mut BTreeSet<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| p == n) {
                let mut cycle = path[i..].to_vec();
                cycle.push(n.to_string());
                return Some(cycle);
            }
            if done.contains(n) {
                return None;
            }
            path.push(n.to_string());
            for m in g.get(n).into_iter().flatten() {
                if let Some(c) = visit(m, g, path, done) {
                    return Some(c);
                }
            }
            path.pop();
            done.insert(n.to_string());
            None
        }
        let mut done = BTreeSet::new();
        for n in graph.keys() {
            if let Some(c) = visit(n, graph, &mut Vec::new(), &mut done) {
                panic!(
                    "files of src/{} import each other: {}",
                    dir.strip_prefix(&root).unwrap().display(),
                    c.join(" -> ")
                );
            }
        }
    }
}

/// `unsafe` only in src/sys.rs (system calls), which the crate lets use
/// it, and in src/kinds/rbd/librbd/ (the binding of Ceph's C libraries,
/// loaded at run time), which the rbd kind lets use it.
#[test]
fn architecture_keeps_unsafe_in_sys() {
    let root = src();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let lib = fs::read_to_string(root.join("lib.rs")).unwrap();
    assert!(
        lib.contains("#[allow(unsafe_code)]\npub mod sys;"),
        "sys is allowed unsafe"
    );
    let rbd = fs::read_to_string(root.join("kinds/rbd/mod.rs")).unwrap();
    assert!(
        rbd.contains("#[allow(unsafe_code)]\nmod librbd;")
            && rbd.matches("allow(unsafe_code)").count() == 1,
        "the rbd kind allows unsafe to its binding only"
    );
    for f in &files {
        if f.ends_with("sys.rs")
            || f.ends_with("lib.rs")
            || f.parent().is_some_and(|d| d.ends_with("kinds/rbd/librbd"))
            || f.ends_with("kinds/rbd/mod.rs")
        {
            continue;
        }
        let text = code(f);
        assert!(
            !text.contains("unsafe {")
                && !text.contains("unsafe fn")
                && !text.contains("allow(unsafe_code)"),
            "{} uses unsafe outside src/sys.rs and the librbd binding",
            f.display()
        );
    }
}

/// Files stay small enough to read: none under `src/` over 900 lines, and
/// `core/mod.rs` (what `PoolFs` is made of) at most 600.
#[test]
fn architecture_keeps_files_small() {
    let root = src();
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut big = Vec::new();
    for f in &files {
        let lines = fs::read_to_string(f).unwrap().lines().count();
        let rel = f.strip_prefix(&root).unwrap();
        let limit = if rel == Path::new("core/mod.rs") {
            600
        } else {
            900
        };
        if lines > limit {
            big.push(format!(
                "src/{} has {lines} lines (limit {limit})",
                rel.display()
            ));
        }
    }
    assert!(files.len() > 40, "the scan found almost nothing");
    assert!(big.is_empty(), "{}", big.join("\n"));
}

/// The FUSE adapter decodes, calls core and replies: what a successor
/// server needs is journaled by core alone.
#[test]
fn architecture_fuse_adapter_makes_no_journal_call() {
    let dir = src().join("fuse");
    let mut files = Vec::new();
    sources(&dir, &mut files);
    for f in &files {
        let text = code(f);
        for needle in ["journal()", "Journal", "crate::journal"] {
            assert!(!text.contains(needle), "{} mentions {needle}", f.display());
        }
    }
}
