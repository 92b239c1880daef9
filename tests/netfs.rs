//! `netfs` pools with the kernel client on a machine without a kernel NFS
//! client: definitions are validated, `build` makes the mountpoint, `start`
//! refuses with a sentence and changes nothing. (The mount command itself is
//! golden-tested; the userspace client is tested in nfs_userspace.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::fs;

use common::{Fixture, errno_of};

#[test]
fn netfs_pool_without_a_usable_client_refuses_to_start() {
    require_mount!();
    if poolfs::kinds::netfs::kernel_has_nfs() {
        eprintln!("SKIP: this kernel has an NFS client; the refusal under test does not happen");
        return;
    }
    let fx = Fixture::new();
    fs::create_dir(fx.mnt.join("nfs1")).unwrap();
    let target = fx.dir.path().join("nfsmnt");
    {
        let (client, why) = ("kernel", "this kernel has no NFS client");
        fx.ctl(
            "nfs1/config",
            &format!("type = \"netfs\"\nsource = \"127.0.0.1:/export\"\ntarget = \"{}\"\nclient = \"{client}\"\nversion = \"4.1\"\nport = 20490\ntimeout = 5", target.display()),
        )
        .unwrap();
        fx.ctl("nfs1/status", "build").unwrap();
        assert!(target.is_dir());
        assert_eq!(
            errno_of(fx.ctl("nfs1/status", "start")),
            Some(libc::EOPNOTSUPP),
            "{client}"
        );
        assert!(
            fx.info("nfs1", "last_error").contains(why),
            "{}",
            fx.read("nfs1/info")
        );
        assert_eq!(fx.read("nfs1/status"), "inactive\n");
    }
    for bad in [
        "type = \"netfs\"\nsource = \"no-colon\"\ntarget = \"/x\"",
        "type = \"netfs\"\nsource = \"h:/e\"\ntarget = \"/x\"\nclient = \"fuse\"",
        "type = \"netfs\"\nsource = \"h:/e\"\ntarget = \"/x\"\nversion = \"5\"",
        "type = \"netfs\"\nsource = \"h:/e\"\ntarget = \"/x\"\nport = 70000",
        "type = \"netfs\"\nsource = \"h:/e\"\ntarget = \"/x\"\ntimeout = 0",
        // Only the userspace client may go without a target.
        "type = \"netfs\"\nsource = \"h:/e\"\nclient = \"kernel\"",
    ] {
        assert_eq!(
            errno_of(fx.ctl("nfs1/config", bad)),
            Some(libc::EINVAL),
            "{bad}"
        );
    }
    // No client named: this host's default (userspace here) needs no target.
    fx.ctl("nfs1/config", "type = \"netfs\"\nsource = \"h:/e\"")
        .unwrap();
}
