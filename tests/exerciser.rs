//! The project's own model-checking exerciser (O_DIRECT mixed with buffered
//! I/O, zero-range, punch-hole, truncate, SEEK_DATA/SEEK_HOLE) on a volume
//! through the mount; fsx from crates.io has no O_DIRECT and no zero-range.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
#[path = "common/exerciser.rs"]
mod exerciser;

use common::Fixture;
use exerciser::{Config, run};

#[test]
fn exerciser_on_a_mounted_volume() {
    require_mount!();
    let fx = Fixture::new();
    let ops = std::env::var("POOLFS_EXERCISER_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let cfg = Config {
        ops,
        seed: 1,
        max_size: 16 << 20,
        direct: true,
    };
    let report =
        run(&fx.pool("default").join("exerciser.img"), &cfg).unwrap_or_else(|e| panic!("{e}"));
    println!("{report}");
    assert_eq!(report.ops, ops);
}
