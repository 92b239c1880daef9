//! Shared helpers for poolfs integration tests.
pub mod exerciser;
