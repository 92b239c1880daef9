//! Backing chains (pure): where the backing file a qcow2 header names lives
//! in the overlay's pool, and the name an overlay should record for a
//! backing volume of its pool.

use std::path::{Component, Path};

/// The pool-relative path of the backing file `backing` named in the header
/// of the volume at pool-relative path `overlay`. A relative name is taken
/// from the overlay's directory (as qemu does); an absolute one is found
/// under any of `roots`, the absolute paths of the pool's top (its path
/// through the mount, its target directory). `None`: the name leads out of
/// the pool, or is not a file name (`nbd:...`, `json:{...}`).
pub fn resolve(backing: &str, overlay: &str, roots: &[&Path]) -> Option<String> {
    // qemu reads "proto:..." as a protocol unless a '/' comes first.
    if let Some(colon) = backing.find(':')
        && backing.find('/').is_none_or(|slash| colon < slash)
    {
        return None;
    }
    let rel = if backing.starts_with('/') {
        roots
            .iter()
            .find_map(|r| Path::new(backing).strip_prefix(r).ok())?
            .to_path_buf()
    } else {
        Path::new(overlay).parent()?.join(backing)
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// The name an overlay at pool-relative path `overlay` records for the
/// backing volume at pool-relative path `backing`: relative to the
/// overlay's directory, so the pair stays valid wherever the pool is
/// reached (the mount, the target, another host) and when both move.
pub fn relative(overlay: &str, backing: &str) -> String {
    let from: Vec<&str> = overlay.split('/').filter(|p| !p.is_empty()).collect();
    let to: Vec<&str> = backing.split('/').filter(|p| !p.is_empty()).collect();
    let from_dir = &from[..from.len().saturating_sub(1)];
    let common = from_dir.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec![".."; from_dir.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_names_are_taken_from_the_overlays_directory() {
        let none: &[&Path] = &[];
        assert_eq!(
            resolve("base.img", "vm.qcow2", none).as_deref(),
            Some("base.img")
        );
        assert_eq!(
            resolve("base.img", "vms/vm.qcow2", none).as_deref(),
            Some("vms/base.img")
        );
        assert_eq!(
            resolve("../t/./base.img", "vms/vm.qcow2", none).as_deref(),
            Some("t/base.img")
        );
        assert_eq!(resolve("../base.img", "vm.qcow2", none), None);
    }

    #[test]
    fn absolute_names_are_found_under_the_pools_roots() {
        let roots = [Path::new("/srv/pools/p"), Path::new("/var/lib/poolfs/p")];
        assert_eq!(
            resolve("/srv/pools/p/t/base.img", "vm.qcow2", &roots).as_deref(),
            Some("t/base.img")
        );
        assert_eq!(
            resolve("/var/lib/poolfs/p/base.img", "a/vm.qcow2", &roots).as_deref(),
            Some("base.img")
        );
        assert_eq!(resolve("/srv/pools/q/base.img", "vm.qcow2", &roots), None);
        assert_eq!(resolve("/srv/pools/p/../q/b", "vm.qcow2", &roots), None);
    }

    #[test]
    fn protocols_are_not_files() {
        assert_eq!(resolve("nbd://host/x", "vm.qcow2", &[]), None);
        assert_eq!(resolve("json:{\"file\":1}", "vm.qcow2", &[]), None);
        assert_eq!(
            resolve("./a:b.img", "vm.qcow2", &[]).as_deref(),
            Some("a:b.img")
        );
    }

    #[test]
    fn relative_walks_up_to_the_common_directory() {
        assert_eq!(relative("vm.qcow2", "base.img"), "base.img");
        assert_eq!(relative("vms/vm.qcow2", "base.img"), "../base.img");
        assert_eq!(relative("vms/vm.qcow2", "t/base.img"), "../t/base.img");
        assert_eq!(relative("t/vm.qcow2", "t/base.img"), "base.img");
        assert_eq!(relative("a/b/vm.qcow2", "a/c/base.img"), "../c/base.img");
    }
}
