//! Independent NFSv4.0 protocol engine (RFC 7530).

mod callback;
mod compound;
mod lease;
mod mount;
mod state;

pub(crate) use mount::mount;
