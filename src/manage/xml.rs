//! libvirt's storage XML, in and out (pure: no file is touched here).
//!
//! Pools: libvirt's `dir`, `fs` and `netfs` types map onto poolfs's pools of
//! the same names. Volumes: `file` volumes with a `raw` or `qcow2` format
//! and an optional backing store. What libvirt's XML can say and poolfs
//! cannot do is refused with a sentence naming it, never dropped; what is
//! only output in libvirt too (sizes of a pool, a volume's key, timestamps)
//! is ignored on input. libvirt's schemas (`virt-xml-validate`) are the
//! judge of what is rendered here (tests/libvirt_xml.rs).

use std::path::PathBuf;

use roxmltree::{Document, Node};

use crate::config::{PoolDef, check_name};
use crate::error::{Error, Result};

/// A pool as libvirt's XML describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolXml {
    pub name: String,
    pub uuid: Option<String>,
    pub def: PoolDef,
    /// What the XML says that poolfs does not apply, for a note to the user.
    pub notes: Vec<String>,
}

/// A volume as libvirt's XML describes it (what `vol-create` reads).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolXml {
    pub name: String,
    pub capacity: Option<u64>,
    pub allocation: Option<u64>,
    pub format: Option<String>,
    /// The backing store's path (absolute, or relative to the pool) and format.
    pub backing: Option<(String, Option<String>)>,
    pub notes: Vec<String>,
}

/// What a pool's `pool-dumpxml` shows besides its definition.
#[derive(Debug, Clone, Default)]
pub struct PoolFacts {
    pub name: String,
    pub uuid: String,
    /// (capacity, allocation, available) in bytes; zeros while inactive.
    pub sizes: (u64, u64, u64),
    /// The pool's directory on the tree: the target path of a pool that
    /// has none of its own (a userspace NFS pool), which libvirt requires.
    pub tree_path: String,
}

/// What `vol-dumpxml` shows of a volume.
#[derive(Debug, Clone, Default)]
pub struct VolFacts {
    pub name: String,
    /// Its path on the mounted tree (libvirt's key and target path).
    pub path: String,
    pub format: String,
    pub capacity: u64,
    pub allocation: u64,
    pub physical: u64,
    /// The backing volume's path on the mounted tree and its format.
    pub backing: Option<(String, String)>,
}

fn invalid(what: impl Into<String>) -> Error {
    Error::Invalid(what.into())
}

/// XML text escaped for an element's content or an attribute.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(Node::is_element)
}

fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    elements(n).find(|c| c.has_tag_name(name))
}

fn text_of(n: Node<'_, '_>) -> String {
    n.text().unwrap_or_default().trim().to_string()
}

/// Refuses the child elements of `n` that are not in `known`, and the
/// attributes not in `attrs`: `where_` names the place in a sentence.
fn only(n: Node<'_, '_>, known: &[&str], attrs: &[&str], where_: &str) -> Result<()> {
    if let Some(c) = elements(n).find(|c| !known.contains(&c.tag_name().name())) {
        return Err(invalid(format!(
            "poolfs cannot do <{}> {where_}",
            c.tag_name().name()
        )));
    }
    if let Some(a) = n.attributes().find(|a| !attrs.contains(&a.name())) {
        return Err(invalid(format!(
            "poolfs cannot do the attribute {}='{}' {where_}",
            a.name(),
            a.value()
        )));
    }
    Ok(())
}

fn attr(n: Node<'_, '_>, name: &str, what: &str) -> Result<String> {
    n.attribute(name)
        .map(str::to_string)
        .ok_or_else(|| invalid(format!("{what} needs the attribute '{name}'")))
}

/// A size element (`<capacity unit='G'>10</capacity>`) in bytes, with
/// libvirt's units (bytes by default; K, M, G, T, P, E and KiB... are
/// powers of 1024, KB, MB... of 1000).
fn size_of(n: Node<'_, '_>) -> Result<u64> {
    let text = text_of(n);
    let value: u64 = text.parse().map_err(|_| {
        invalid(format!(
            "<{}> must be a number, not '{text}'",
            n.tag_name().name()
        ))
    })?;
    let unit = n.attribute("unit").unwrap_or("bytes");
    let (base, exp): (u64, u32) = match unit {
        "b" | "bytes" => (1, 0),
        "KB" => (1000, 1),
        "k" | "K" | "KiB" => (1024, 1),
        "MB" => (1000, 2),
        "M" | "MiB" => (1024, 2),
        "GB" => (1000, 3),
        "G" | "GiB" => (1024, 3),
        "TB" => (1000, 4),
        "T" | "TiB" => (1024, 4),
        "PB" => (1000, 5),
        "P" | "PiB" => (1024, 5),
        "EB" => (1000, 6),
        "E" | "EiB" => (1024, 6),
        u => return Err(invalid(format!("unknown size unit '{u}'"))),
    };
    base.checked_pow(exp)
        .and_then(|m| value.checked_mul(m))
        .ok_or_else(|| invalid(format!("{value} {unit} is too large")))
}

fn parse_doc(text: &str) -> Result<Document<'_>> {
    Document::parse(text).map_err(|e| invalid(format!("not well-formed XML: {e}")))
}

/// The root element of `doc`, which must be `<tag>` (`what` names the
/// document in the refusal).
fn root_named<'a, 'i>(doc: &'a Document<'i>, tag: &str, what: &str) -> Result<Node<'a, 'i>> {
    let root = doc.root_element();
    if !root.has_tag_name(tag) {
        return Err(invalid(format!(
            "{what} starts with <{tag}>, not <{}>",
            root.tag_name().name()
        )));
    }
    Ok(root)
}

/// Reads a pool's XML (`pool-define`, `import-libvirt`).
pub fn parse_pool(text: &str) -> Result<PoolXml> {
    let doc = parse_doc(text)?;
    let root = root_named(&doc, "pool", "a pool's XML")?;
    let kind = attr(root, "type", "<pool>")?;
    if !["dir", "fs", "netfs"].contains(&kind.as_str()) {
        return Err(Error::Unsupported(format!(
            "pool type '{kind}' is not supported by poolfs (it has dir, fs and netfs pools in libvirt's XML)"
        )));
    }
    only(
        root,
        &[
            "name",
            "uuid",
            "capacity",
            "allocation",
            "available",
            "source",
            "target",
        ],
        &["type"],
        "in a pool",
    )?;
    let name = child(root, "name")
        .map(text_of)
        .ok_or_else(|| invalid("a pool's XML needs a <name>"))?;
    check_name(&name)?;
    let uuid = match child(root, "uuid").map(text_of) {
        Some(u) => Some(
            uuid::Uuid::parse_str(&u)
                .map_err(|_| invalid(format!("'{u}' is not a UUID")))?
                .hyphenated()
                .to_string(),
        ),
        None => None,
    };
    let mut notes = Vec::new();
    let target =
        child(root, "target").ok_or_else(|| invalid("missing storage pool target path"))?;
    only(
        target,
        &["path", "permissions"],
        &[],
        "in a pool's <target>",
    )?;
    let path = child(target, "path")
        .map(text_of)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("missing storage pool target path"))?;
    if child(target, "permissions").is_some() {
        notes.push(
            "the target's <permissions> are not applied: poolfs keeps the target's own".into(),
        );
    }
    let source = child(root, "source");
    let def = match kind.as_str() {
        "dir" => {
            if let Some(s) = source {
                only(s, &[], &[], "in a dir pool's <source>")?;
            }
            PoolDef::Dir {
                target: PathBuf::from(path),
            }
        }
        "fs" => {
            let s = source.ok_or_else(|| invalid("an fs pool needs a <source> device"))?;
            only(s, &["device", "format"], &[], "in an fs pool's <source>")?;
            let dev = child(s, "device").ok_or_else(|| invalid("an fs pool needs a <device>"))?;
            only(dev, &[], &["path"], "in an fs pool's <device>")?;
            let format = match child(s, "format") {
                Some(f) => attr(f, "type", "<format>")?,
                None => "auto".into(),
            };
            PoolDef::Fs {
                source: PathBuf::from(attr(dev, "path", "<device>")?),
                format,
                target: PathBuf::from(path),
            }
        }
        _ => {
            let s = source.ok_or_else(|| invalid("a netfs pool needs a <source>"))?;
            only(
                s,
                &["host", "dir", "format", "protocol"],
                &[],
                "in a netfs pool's <source>",
            )?;
            let hosts: Vec<Node> = elements(s).filter(|c| c.has_tag_name("host")).collect();
            let [host] = hosts.as_slice() else {
                return Err(invalid("a netfs pool names exactly one <host>"));
            };
            only(*host, &[], &["name", "port"], "in a netfs pool's <host>")?;
            let port = match host.attribute("port") {
                Some(p) => Some(
                    p.parse::<u16>()
                        .map_err(|_| invalid(format!("'{p}' is not a port")))?,
                ),
                None => None,
            };
            let dir = child(s, "dir").ok_or_else(|| invalid("a netfs pool needs a <dir>"))?;
            if let Some(f) = child(s, "format") {
                let t = attr(f, "type", "<format>")?;
                if t != "auto" && t != "nfs" {
                    return Err(Error::Unsupported(format!(
                        "netfs format '{t}' is not supported by poolfs (it speaks NFS)"
                    )));
                }
            }
            let version = match child(s, "protocol") {
                Some(p) => Some(attr(p, "ver", "<protocol>")?),
                None => None,
            };
            PoolDef::Netfs {
                source: format!(
                    "{}:{}",
                    attr(*host, "name", "<host>")?,
                    attr(dir, "path", "<dir>")?
                ),
                target: Some(PathBuf::from(path)),
                client: None,
                version,
                port,
                mount_port: None,
                timeout: None,
                cache: None,
                nconnect: None,
            }
        }
    };
    def.validate_for("userspace")?;
    Ok(PoolXml {
        name,
        uuid,
        def,
        notes,
    })
}

/// A pool's XML as libvirt writes it (`pool-dumpxml`); valid against
/// libvirt's `storagepool.rng`. Block pools have no libvirt type.
pub fn render_pool(facts: &PoolFacts, def: &PoolDef) -> Result<String> {
    let (kind, source, extra) = match def {
        PoolDef::Dir { .. } => ("dir", "  <source>\n  </source>\n".to_string(), None),
        PoolDef::Fs { source, format, .. } => (
            "fs",
            format!(
                "  <source>\n    <device path='{}'/>\n    <format type='{}'/>\n  </source>\n",
                esc(&source.display().to_string()),
                esc(format)
            ),
            None,
        ),
        PoolDef::Netfs {
            source,
            version,
            port,
            client,
            mount_port,
            timeout,
            cache,
            nconnect,
            ..
        } => {
            let (host, dir) = source
                .split_once(":/")
                .map_or((source.as_str(), String::new()), |(h, d)| {
                    (h, format!("/{d}"))
                });
            let port = port.map(|p| format!(" port='{p}'")).unwrap_or_default();
            let protocol = version
                .as_ref()
                .map(|v| format!("    <protocol ver='{}'/>\n", esc(v)))
                .unwrap_or_default();
            let mut own = Vec::new();
            if let Some(c) = client {
                own.push(format!("client = \"{c}\""));
            }
            if let Some(p) = mount_port {
                own.push(format!("mount_port = {p}"));
            }
            if let Some(t) = timeout {
                own.push(format!("timeout = {t}"));
            }
            if let Some(c) = cache {
                own.push(format!("cache = {c}"));
            }
            if let Some(n) = nconnect {
                own.push(format!("nconnect = {n}"));
            }
            let extra = (!own.is_empty()).then(|| {
                format!(
                    "  <!-- poolfs settings libvirt's schema has no place for (set them in config): {} -->\n",
                    own.join(", ")
                )
            });
            (
                "netfs",
                format!(
                    "  <source>\n    <host name='{}'{port}/>\n    <dir path='{}'/>\n    <format type='nfs'/>\n{protocol}  </source>\n",
                    esc(host),
                    esc(&dir)
                ),
                extra,
            )
        }
        PoolDef::Rbd {
            source,
            pool,
            namespace,
            user,
            keyring,
            conf,
            timeout,
            ..
        } => {
            let hosts: String = mon_hosts(source)
                .iter()
                .map(|(h, port)| {
                    let port = port.map(|p| format!(" port='{p}'")).unwrap_or_default();
                    format!("    <host name='{}'{port}/>\n", esc(h))
                })
                .collect();
            // The secret is never written; libvirt's <auth> names a libvirt
            // secret, which poolfs does not have.
            let mut own = Vec::new();
            if let Some(n) = namespace {
                own.push(format!("namespace = \"{n}\""));
            }
            if let Some(u) = user {
                own.push(format!("user = \"{u}\""));
            }
            if let Some(k) = keyring {
                own.push(format!("keyring = \"{}\"", k.display()));
            }
            if let Some(c) = conf {
                own.push(format!("conf = \"{}\"", c.display()));
            }
            if let Some(t) = timeout {
                own.push(format!("timeout = {t}"));
            }
            let extra = (!own.is_empty()).then(|| {
                format!(
                    "  <!-- poolfs settings libvirt's schema has no place for (set them in config): {} -->\n",
                    // An XML comment holds no "--".
                    own.join(", ").replace("--", "- -")
                )
            });
            (
                "rbd",
                format!(
                    "  <source>\n{hosts}    <name>{}</name>\n  </source>\n",
                    esc(pool)
                ),
                extra,
            )
        }
        PoolDef::Block { .. } => {
            return Err(Error::Unsupported(
                "a block pool has no type in libvirt's XML (libvirt's disk pools partition a disk; poolfs's block pools show whole devices as volumes): `poolfs libvirt-pools` gives libvirt a dir pool over its directory".into(),
            ));
        }
    };
    // A netfs pool of the userspace client has no target: libvirt's
    // schema requires one, so the pool's directory on the tree stands in.
    // libvirt's rbd pools have none.
    let target = match def {
        PoolDef::Rbd { .. } => String::new(),
        _ => format!(
            "  <target>\n    <path>{}</path>\n  </target>\n",
            esc(&def
                .target()
                .map_or_else(|| facts.tree_path.clone(), |t| t.display().to_string()))
        ),
    };
    let (cap, alloc, avail) = facts.sizes;
    Ok(format!(
        "<pool type='{kind}'>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  <capacity unit='bytes'>{cap}</capacity>\n  <allocation unit='bytes'>{alloc}</allocation>\n  <available unit='bytes'>{avail}</available>\n{source}{}{target}</pool>\n",
        esc(&facts.name),
        esc(&facts.uuid),
        extra.unwrap_or_default(),
    ))
}

/// The monitors of an rbd pool's `source` (Ceph's `mon_host`: addresses
/// separated by commas or spaces, each maybe `v2:`/`v1:` and bracketed) as
/// (host, port).
fn mon_hosts(source: &str) -> Vec<(String, Option<u16>)> {
    source
        .split([',', ' ', ';'])
        .map(|a| a.trim_matches(|c| c == '[' || c == ']'))
        .filter(|a| !a.is_empty())
        .map(|a| {
            let a = a
                .strip_prefix("v2:")
                .or_else(|| a.strip_prefix("v1:"))
                .unwrap_or(a);
            let a = a.split('/').next().unwrap_or(a);
            match a.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => match p.parse() {
                    Ok(port) => (h.to_string(), Some(port)),
                    Err(_) => (a.to_string(), None),
                },
                _ => (a.to_string(), None),
            }
        })
        .collect()
}

/// Reads a volume's XML (`vol-create`, `vol-create-from`).
pub fn parse_volume(text: &str) -> Result<VolXml> {
    let doc = parse_doc(text)?;
    let root = root_named(&doc, "volume", "a volume's XML")?;
    if let Some(t) = root.attribute("type").filter(|t| *t != "file") {
        return Err(Error::Unsupported(format!(
            "volume type '{t}' is not supported by poolfs (its volumes are files)"
        )));
    }
    only(
        root,
        &[
            "name",
            "key",
            "capacity",
            "allocation",
            "physical",
            "target",
            "backingStore",
        ],
        &["type"],
        "in a volume",
    )?;
    let name = child(root, "name")
        .map(text_of)
        .ok_or_else(|| invalid("a volume's XML needs a <name>"))?;
    let mut v = VolXml {
        name,
        ..VolXml::default()
    };
    v.capacity = child(root, "capacity").map(size_of).transpose()?;
    v.allocation = child(root, "allocation").map(size_of).transpose()?;
    if let Some(t) = child(root, "target") {
        only(
            t,
            &["path", "format", "permissions", "timestamps"],
            &[],
            "in a volume's <target>",
        )?;
        if let Some(f) = child(t, "format") {
            v.format = Some(attr(f, "type", "<format>")?);
        }
        if child(t, "permissions").is_some() {
            v.notes.push(
                "the volume's <permissions> are not applied: it is made 0600, owned by the caller"
                    .into(),
            );
        }
    }
    if let Some(f) = v
        .format
        .as_deref()
        .filter(|f| !["raw", "qcow2"].contains(f))
    {
        return Err(Error::Unsupported(format!(
            "volume format '{f}' is not supported by poolfs (raw or qcow2)"
        )));
    }
    if let Some(b) = child(root, "backingStore") {
        only(
            b,
            &["path", "format", "permissions", "timestamps"],
            &[],
            "in a volume's <backingStore>",
        )?;
        let path = child(b, "path")
            .map(text_of)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| invalid("a <backingStore> needs a <path>"))?;
        let format = match child(b, "format") {
            Some(f) => Some(attr(f, "type", "<format>")?),
            None => None,
        };
        v.backing = Some((path, format));
    }
    if v.capacity.is_none() && v.backing.is_none() {
        return Err(invalid("a volume's XML needs a <capacity>"));
    }
    Ok(v)
}

/// A volume's XML as libvirt writes it (`vol-dumpxml`); valid against
/// libvirt's `storagevol.rng`.
pub fn render_volume(v: &VolFacts) -> String {
    let backing = v
        .backing
        .as_ref()
        .map(|(path, format)| {
            format!(
                "  <backingStore>\n    <path>{}</path>\n    <format type='{}'/>\n  </backingStore>\n",
                esc(path),
                esc(format)
            )
        })
        .unwrap_or_default();
    format!(
        "<volume type='file'>\n  <name>{}</name>\n  <key>{}</key>\n  <capacity unit='bytes'>{}</capacity>\n  <allocation unit='bytes'>{}</allocation>\n  <physical unit='bytes'>{}</physical>\n  <target>\n    <path>{}</path>\n    <format type='{}'/>\n  </target>\n{backing}</volume>\n",
        esc(&v.name),
        esc(&v.path),
        v.capacity,
        v.allocation,
        v.physical,
        esc(&v.path),
        esc(&v.format),
    )
}

/// A libvirt `dir` pool whose target is a poolfs pool's directory on the
/// tree (`libvirt-pools`): libvirt then resolves `<disk type='volume'>`
/// to poolfs's volumes.
pub fn render_dir_pool(name: &str, uuid: &str, path: &str) -> String {
    format!(
        "<pool type='dir'>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
        esc(name),
        esc(uuid),
        esc(path)
    )
}

/// The exports of NFS server `host` as libvirt's `<sources>` XML
/// (`find-storage-pool-sources`).
pub fn render_sources(host: &str, exports: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("<sources>\n");
    for (path, _) in exports {
        out.push_str(&format!(
            "  <source>\n    <host name='{}'/>\n    <dir path='{}'/>\n    <format type='nfs'/>\n  </source>\n",
            esc(host),
            esc(path)
        ));
    }
    out.push_str("</sources>\n");
    out
}

/// The host a `<source>` XML names (`find-storage-pool-sources`' srcSpec).
pub fn source_host(text: &str) -> Result<String> {
    let doc = parse_doc(text)?;
    let root = root_named(&doc, "source", "a source spec")?;
    let host = child(root, "host").ok_or_else(|| invalid("a source spec names a <host>"))?;
    attr(host, "name", "<host>")
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "6f1c0a52-8f6e-4a59-9d1e-2b7e0a3c4d5f";

    fn facts() -> PoolFacts {
        PoolFacts {
            name: "p".into(),
            uuid: UUID.into(),
            sizes: (10, 4, 6),
            tree_path: "/srv/pools/p".into(),
        }
    }

    #[test]
    fn pools_go_round_trip() {
        for def in [
            PoolDef::dir("/srv/x".into()),
            PoolDef::Fs {
                source: "/dev/loop0".into(),
                format: "xfs".into(),
                target: "/mnt/p".into(),
            },
            PoolDef::Netfs {
                source: "nas:/export/vm".into(),
                target: Some("/mnt/nas".into()),
                client: None,
                version: Some("4.1".into()),
                port: Some(2049),
                mount_port: None,
                timeout: None,
                cache: None,
                nconnect: None,
            },
        ] {
            let xml = render_pool(&facts(), &def).unwrap();
            let back = parse_pool(&xml).unwrap_or_else(|e| panic!("{xml}\n{e}"));
            assert_eq!(back.def, def, "{xml}");
            assert_eq!(back.name, "p");
            assert_eq!(back.uuid.as_deref(), Some(UUID));
        }
    }

    #[test]
    fn what_poolfs_cannot_do_is_refused() {
        for (xml, says) in [
            ("<pool type='logical'><name>v</name></pool>", "logical"),
            (
                "<pool type='dir'><name>a</name><target><path>/x</path></target><features><cow state='no'/></features></pool>",
                "<features>",
            ),
            (
                "<pool type='dir'><name>a</name><target><path>rel</path></target></pool>",
                "absolute",
            ),
            ("<pool type='dir'><name>a</name></pool>", "target path"),
            (
                "<pool type='netfs'><name>a</name><source><host name='h'/><dir path='/e'/><format type='cifs'/></source><target><path>/x</path></target></pool>",
                "cifs",
            ),
            (
                "<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>",
                "'/'",
            ),
            ("<pool", "well-formed"),
        ] {
            let e = parse_pool(xml).expect_err(xml);
            assert!(e.to_string().contains(says), "{xml}: {e}");
        }
        let block = PoolDef::Block {
            source: vec!["/dev/loop1".into()],
        };
        assert!(render_pool(&facts(), &block).is_err());
    }

    #[test]
    fn an_rbd_pool_is_written_with_its_monitors_and_never_its_key() {
        let rbd = PoolDef::Rbd {
            source: "[v2:10.0.0.1:3300/0,v1:10.0.0.1:6789/0], 10.0.0.2".into(),
            pool: "vms".into(),
            namespace: None,
            user: Some("libvirt".into()),
            keyring: None,
            key: Some("AQDsecret==".into()),
            conf: None,
            timeout: None,
        };
        let xml = render_pool(&facts(), &rbd).unwrap();
        assert!(xml.starts_with("<pool type='rbd'>"), "{xml}");
        assert!(
            xml.contains("<host name='10.0.0.1' port='3300'/>")
                && xml.contains("<host name='10.0.0.1' port='6789'/>")
                && xml.contains("<host name='10.0.0.2'/>")
                && xml.contains("<name>vms</name>")
                && xml.contains("user = \"libvirt\""),
            "{xml}"
        );
        assert!(
            !xml.contains("AQDsecret") && !xml.contains("<target>"),
            "{xml}"
        );
    }

    #[test]
    fn volumes_are_read_with_units() {
        let v = parse_volume(
            "<volume><name>v.qcow2</name><capacity unit='G'>2</capacity><allocation>0</allocation>\
             <target><format type='qcow2'/></target>\
             <backingStore><path>/srv/pools/p/base.img</path><format type='raw'/></backingStore></volume>",
        )
        .unwrap();
        assert_eq!(v.capacity, Some(2 << 30));
        assert_eq!(v.format.as_deref(), Some("qcow2"));
        assert_eq!(
            v.backing,
            Some(("/srv/pools/p/base.img".into(), Some("raw".into())))
        );
        for (xml, says) in [
            ("<volume><name>v</name></volume>", "capacity"),
            (
                "<volume><name>v</name><capacity>1</capacity><target><format type='vmdk'/></target></volume>",
                "vmdk",
            ),
            (
                "<volume><name>v</name><capacity>1</capacity><encryption format='luks'/></volume>",
                "<encryption>",
            ),
            ("<volume type='block'><name>v</name></volume>", "block"),
            (
                "<volume><name>v</name><capacity unit='Q'>1</capacity></volume>",
                "unit",
            ),
        ] {
            let e = parse_volume(xml).expect_err(xml);
            assert!(e.to_string().contains(says), "{xml}: {e}");
        }
    }

    #[test]
    fn text_is_escaped() {
        let v = VolFacts {
            name: "a&b<'c'>".into(),
            path: "/p/a&b".into(),
            format: "raw".into(),
            ..VolFacts::default()
        };
        let xml = render_volume(&v);
        assert!(
            xml.contains("<name>a&amp;b&lt;&apos;c&apos;&gt;</name>"),
            "{xml}"
        );
        assert!(Document::parse(&xml).is_ok());
    }
}
