//! poolfs: libvirt-style storage pools as directories, volumes as files.
//!
//! Layers, top to bottom (see `docs/ARCHITECTURE.md`):
//! - `fuse`: the only code that touches fuser; decodes, calls `core`, replies;
//! - `core`: the namespace (inode and handle tables, every FUSE operation as
//!   a typed method returning `Result<T>`), testable without a mount;
//! - `pool`: registry, state machine, policy checks, persistence;
//! - `store`: what a running pool's volumes are (`Store`, one implementation
//!   per storage kind) and the vocabulary shared below `core`;
//! - `backend`: a pool type's lifecycle (`PoolBackend`), which starts a store;
//! - `volume`: volume data helpers shared by the stores;
//! - `keeper` and `journal`: the process that holds the FUSE connection
//!   across server crashes, and what a successor server takes over from;
//! - `control`: pure parsers and renderers of the control files;
//! - `sys`: the only module with `unsafe`.
//!
//! Lock order: a directory handle's listing -> registry -> pool -> inode
//! table -> handle table. No lock is
//! held across a syscall on a volume, a mount, a mkfs or a long copy.

pub mod cli;
pub mod cmd;
pub mod config;
pub mod control;
pub mod core;
pub mod daemon;
pub mod durable;
pub mod error;
pub mod fuse;
pub mod journal;
pub mod keeper;
pub mod kinds;
pub mod manage;
pub mod metrics;
pub mod mounts;
pub mod pool;
pub mod prometheus;
pub mod remote;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;
pub mod volume;
