//! One contract for every `Store`: the same operations, driven through the
//! trait without a mount, give the same results on a local tree (a
//! temporary directory, with a descriptor cache far smaller than the
//! objects it holds), a userspace NFS export (NFS-Ganesha on loopback) and,
//! for what a fixed set of devices can do, a block pool on loop devices.
//! A new storage kind is proven by adding one `#[test]` here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/ganesha.rs"]
mod ganesha;

use std::ffi::OsStr;
use std::sync::Arc;

use nix::errno::Errno;
use poolfs::config::PoolDef;
use poolfs::error::Error;
use poolfs::store::{Ctx, Kind, Obj, SetAttr, Store};

const ROOT: Ctx = Ctx {
    uid: 0,
    gid: 0,
    pid: 0,
};

/// A started pool's store, from its definition (no registry, no mount).
fn start(def: &str) -> (Box<dyn poolfs::kinds::PoolBackend>, Arc<dyn Store>) {
    let def = PoolDef::parse(def).unwrap_or_else(|e| panic!("{def}: {e}"));
    let backend = poolfs::kinds::for_def(&def).unwrap();
    let store = backend.start().unwrap_or_else(|e| panic!("start: {e}"));
    (backend, store)
}

fn errno<T>(r: Result<T, Error>) -> Option<Errno> {
    r.err().map(|e| e.errno())
}

fn n(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn names(store: &dyn Store, dir: Option<&Obj>) -> Vec<String> {
    let mut v: Vec<String> = store
        .list(dir)
        .unwrap()
        .into_iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What every store that makes and removes volumes does.
fn contract_files(store: &dyn Store) {
    assert_eq!(
        errno(store.lookup(None, n("missing.img"))),
        Some(Errno::ENOENT)
    );
    let (made, opened) = store
        .create(&ROOT, None, n("a.img"), 0o644, libc::O_RDWR)
        .unwrap();
    assert_eq!(made.attr.kind, Kind::File);
    assert_eq!(made.attr.size, 0);
    assert_eq!(opened.file.write(4096, b"hello", None).unwrap(), 5);
    opened.file.fsync(false).unwrap();
    assert_eq!(&opened.file.read(4096, 100).unwrap()[..], b"hello");
    assert_eq!(&opened.file.read(0, 5).unwrap()[..], &[0u8; 5]);
    drop(opened);
    assert_eq!(
        errno(store.create(&ROOT, None, n("a.img"), 0o644, libc::O_RDWR)),
        Some(Errno::EEXIST)
    );
    let found = store.lookup(None, n("a.img")).unwrap();
    assert_eq!(found.id, made.id, "one object, one id");
    assert_eq!(store.getattr(&found.obj).unwrap().size, 4101);
    let listed = store.list(None).unwrap();
    let e = listed.iter().find(|e| e.name == "a.img").unwrap();
    assert_eq!((e.kind, e.id), (Kind::File, made.id));

    store
        .setattr(
            Some(&found.obj),
            &SetAttr {
                size: Some(1 << 20),
                caller: ROOT,
                ..Default::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(store.getattr(&found.obj).unwrap().size, 1 << 20);
    let reopened = store.open(&ROOT, &found.obj, libc::O_RDONLY).unwrap();
    assert_eq!(&reopened.file.read(4096, 5).unwrap()[..], b"hello");
    drop(reopened);

    if let Some(key) = store.key(&found.obj) {
        assert_eq!(store.reconnect(&key, "a.img").unwrap().id, made.id);
    }
    store.rename(None, n("a.img"), None, n("b.img"), 0).unwrap();
    assert_eq!(errno(store.lookup(None, n("a.img"))), Some(Errno::ENOENT));
    assert_eq!(store.lookup(None, n("b.img")).unwrap().id, made.id);
    assert_eq!(
        store.getattr(&found.obj).unwrap().size,
        1 << 20,
        "renamed, same object"
    );
    store.unlink(None, n("b.img")).unwrap();
    assert_eq!(errno(store.lookup(None, n("b.img"))), Some(Errno::ENOENT));
    assert_eq!(errno(store.unlink(None, n("b.img"))), Some(Errno::ENOENT));
}

/// Sub-directories: made, filled, refused while not empty, removed.
fn contract_dirs(store: &dyn Store) {
    let d = store.mkdir(&ROOT, None, n("d"), 0o755).unwrap();
    assert_eq!(d.attr.kind, Kind::Dir);
    let (c, _) = store
        .create(&ROOT, Some(&d.obj), n("c.img"), 0o644, libc::O_RDWR)
        .unwrap();
    assert_eq!(names(store, Some(&d.obj)), ["c.img"]);
    assert_eq!(errno(store.rmdir(None, n("d"))), Some(Errno::ENOTEMPTY));
    store
        .rename(Some(&d.obj), n("c.img"), None, n("top.img"), 0)
        .unwrap();
    assert_eq!(store.lookup(None, n("top.img")).unwrap().id, c.id);
    assert!(names(store, Some(&d.obj)).is_empty());
    store.rmdir(None, n("d")).unwrap();
    store.unlink(None, n("top.img")).unwrap();
    assert_eq!(errno(store.lookup(None, n("d"))), Some(Errno::ENOENT));
}

/// Many objects held at once, each still answering (a local tree keeps far
/// fewer descriptors than this: the others are opened again by handle).
fn contract_many(store: &dyn Store, count: usize) {
    let objs: Vec<_> = (0..count)
        .map(|i| {
            let name = format!("m{i:03}.img");
            let (f, o) = store
                .create(&ROOT, None, n(&name), 0o644, libc::O_RDWR)
                .unwrap();
            o.file.write(0, name.as_bytes(), None).unwrap();
            (name, f)
        })
        .collect();
    for (name, f) in &objs {
        assert_eq!(
            store.getattr(&f.obj).unwrap().size,
            name.len() as u64,
            "{name}"
        );
        let o = store.open(&ROOT, &f.obj, libc::O_RDONLY).unwrap();
        assert_eq!(&o.file.read(0, 64).unwrap()[..], name.as_bytes());
    }
    for (name, _) in &objs {
        store.unlink(None, n(name)).unwrap();
    }
}

#[test]
fn store_contract_local_tree() {
    let dir = common::scratch();
    // Far fewer descriptors than the objects the contract holds.
    poolfs::store::fdcache::cache().set_capacity(16);
    let (_b, store) = start(&format!(
        "type = \"dir\"\ntarget = \"{}\"\n",
        dir.path().display()
    ));
    contract_files(&*store);
    contract_dirs(&*store);
    contract_many(&*store, 100);
    assert!(poolfs::store::fdcache::cache().len() <= 16);
}

#[test]
fn store_contract_userspace_nfs() {
    if !(common::have_tool("ganesha.nfsd") && common::have_tool("rpcbind")) {
        return;
    }
    let dir = common::scratch();
    let srv = ganesha::Ganesha::start(&dir.path().join("ganesha"), &dir.path().join("export"));
    for version in ["3", "4.1"] {
        let (b, store) = start(&srv.pool_config(Some(version), 5));
        contract_files(&*store);
        contract_dirs(&*store);
        contract_many(&*store, 20);
        b.stop().unwrap();
    }
}

/// A block pool's volumes are its devices: no create or remove, but
/// lookup, listing, I/O, resize refusal and reconnection as everywhere.
#[test]
fn store_contract_block_devices() {
    if !common::can_mount() {
        return;
    }
    let dir = common::scratch();
    let image = dir.path().join("disk.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    let dev = common::run(&format!("losetup --find --show {}", image.display()))
        .trim()
        .to_string();
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            let _ = common::sh(&format!("losetup -d {}", self.0));
        }
    }
    let _detach = Detach(dev.clone());
    let (b, store) = start(&format!("type = \"block\"\nsource = [\"{dev}\"]\n"));
    let name = std::path::Path::new(&dev)
        .file_name()
        .unwrap()
        .to_os_string();
    let found = store.lookup(None, &name).unwrap();
    assert_eq!(found.attr.size, 8 << 20);
    assert_eq!(names(&*store, None), [name.to_string_lossy().into_owned()]);
    let o = store.open(&ROOT, &found.obj, libc::O_RDWR).unwrap();
    assert_eq!(o.file.write(512, b"block", None).unwrap(), 5);
    o.file.fsync(true).unwrap();
    assert_eq!(&o.file.read(512, 5).unwrap()[..], b"block");
    drop(o);
    assert!(
        store
            .create(&ROOT, None, n("x.img"), 0o644, libc::O_RDWR)
            .is_err()
    );
    assert!(store.unlink(None, &name).is_err());
    let key = store.key(&found.obj).unwrap();
    assert_eq!(store.reconnect(&key, "").unwrap().id, found.id);
    drop((found, store));
    b.stop().unwrap();
}
