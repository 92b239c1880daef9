//! Hosts for multi-host tests: network namespaces on one machine. A server
//! namespace holds a bridge (169.254.77.1/24); each host namespace is joined
//! to it by a veth pair and has 169.254.77.<n>/24. A host's link taken down
//! is a network partition. Link-local addresses only; nothing leaves the
//! machine. `Drop` deletes the namespaces (and with them the links) even
//! when the test fails.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The server's address in its namespace.
pub const SERVER_ADDR: &str = "169.254.77.1";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Net {
    pub server: String,
    pub hosts: Vec<String>,
}

impl Net {
    /// A server namespace and `hosts` host namespaces, all linked.
    pub fn new(hosts: usize) -> Net {
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = format!("pfs{tag}s");
        let mut net = Net {
            server: server.clone(),
            hosts: Vec::new(),
        };
        ip(&["netns", "add", &server]);
        ip(&["-n", &server, "link", "set", "lo", "up"]);
        ip(&["-n", &server, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &server,
            "addr",
            "add",
            &format!("{SERVER_ADDR}/24"),
            "dev",
            "br0",
        ]);
        ip(&["-n", &server, "link", "set", "br0", "up"]);
        for i in 0..hosts {
            let host = format!("pfs{tag}h{i}");
            ip(&["netns", "add", &host]);
            net.hosts.push(host.clone());
            ip(&["-n", &host, "link", "set", "lo", "up"]);
            // The pair is made in the host namespace, one end moved out.
            ip(&[
                "-n",
                &host,
                "link",
                "add",
                "eth0",
                "type",
                "veth",
                "peer",
                "name",
                &format!("p{i}"),
            ]);
            ip(&[
                "-n",
                &host,
                "link",
                "set",
                &format!("p{i}"),
                "netns",
                &server,
            ]);
            ip(&[
                "-n",
                &server,
                "link",
                "set",
                &format!("p{i}"),
                "master",
                "br0",
                "up",
            ]);
            let addr = format!("169.254.77.{}/24", i + 2);
            ip(&["-n", &host, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &host, "link", "set", "eth0", "up"]);
        }
        net
    }

    /// The command prefix that runs a program in namespace `ns`'s network
    /// (and nothing else of it: mounts stay shared with the test).
    pub fn enter(ns: &str) -> Vec<String> {
        vec![
            "nsenter".into(),
            format!("--net=/run/netns/{ns}"),
            "--".into(),
        ]
    }

    /// Takes host `i`'s link down: it can no longer reach the server.
    pub fn partition(&self, i: usize) {
        ip(&["-n", &self.hosts[i], "link", "set", "eth0", "down"]);
    }

    /// Brings host `i`'s link back.
    pub fn heal(&self, i: usize) {
        ip(&["-n", &self.hosts[i], "link", "set", "eth0", "up"]);
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in self.hosts.iter().chain(std::iter::once(&self.server)) {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
