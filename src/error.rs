//! The one error type of poolfs and its one errno table.
//!
//! Every core operation returns `Result<T, Error>`. The FUSE adapter turns an
//! error into a reply with [`Error::errno`] and nothing else decides an errno.
//! Variants name the situation, not the errno. `Os` carries an errno from a
//! syscall on a backing object verbatim; every other variant is a *refusal*:
//! poolfs decided to say no, and its `Display` text is the one sentence that
//! goes to the log and to the pool's `last_error`.

use nix::errno::Errno;

/// Result of every core operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name that does not exist (a pool, a volume, a control file).
    #[error("{0}")]
    NotFound(String),
    /// A name that is taken (a pool, a volume, a reserved name).
    #[error("{0}")]
    Exists(String),
    /// A malformed request: a control-file write, a definition, a size.
    #[error("{0}")]
    Invalid(String),
    /// A request that conflicts with work in progress or with open volumes.
    #[error("{0}")]
    Busy(String),
    /// An operation that needs a running pool.
    #[error("{0}")]
    PoolInactive(String),
    /// An operation poolfs refuses by design (symlink, link, mknod).
    #[error("{0}")]
    NotPermitted(String),
    /// A rename between two pools.
    #[error("{0}")]
    CrossPool(String),
    /// A write to a read-only control file.
    #[error("{0}")]
    ReadOnly(String),
    /// An operation this backend or file kind does not have.
    #[error("{0}")]
    Unsupported(String),
    /// Not enough space for the request.
    #[error("{0}")]
    NoSpace(String),
    /// A size beyond what the backend allows.
    #[error("{0}")]
    TooBig(String),
    /// A file handle that is unknown or belongs to another inode.
    #[error("bad file handle")]
    BadHandle,
    /// A state file that cannot be read back (corrupt, half-written).
    #[error("{0}")]
    State(String),
    /// An external command that failed; `stderr` is its own words.
    #[error("{cmd} failed ({status}): {stderr}")]
    Command {
        cmd: String,
        status: String,
        stderr: String,
    },
    /// A syscall on a backing object failed; the errno is passed through.
    #[error("{op}: {errno}")]
    Os { op: &'static str, errno: Errno },
    /// A syscall failed during management work; `what` says what poolfs tried.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
}

impl Error {
    /// The errno the kernel (and so the caller of the syscall) sees. The one table.
    pub fn errno(&self) -> Errno {
        match self {
            Error::NotFound(_) => Errno::ENOENT,
            Error::Exists(_) => Errno::EEXIST,
            Error::Invalid(_) => Errno::EINVAL,
            Error::Busy(_) => Errno::EBUSY,
            Error::PoolInactive(_) => Errno::ENXIO,
            Error::NotPermitted(_) => Errno::EPERM,
            Error::CrossPool(_) => Errno::EXDEV,
            Error::ReadOnly(_) => Errno::EACCES,
            Error::Unsupported(_) => Errno::EOPNOTSUPP,
            Error::NoSpace(_) => Errno::ENOSPC,
            Error::TooBig(_) => Errno::EFBIG,
            Error::BadHandle => Errno::EBADF,
            Error::State(_) | Error::Command { .. } => Errno::EIO,
            Error::Os { errno, .. } | Error::Sys { errno, .. } => *errno,
        }
    }

    /// True for a decision of poolfs's own (logged, shown in `last_error`);
    /// false for an errno passed through from a backing syscall.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Error::Os { .. } | Error::BadHandle)
    }

    /// Wraps a syscall error from the data plane.
    pub fn os(op: &'static str) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Os { op, errno }
    }

    /// Wraps a syscall error from management work with a sentence of context.
    pub fn sys(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
        let what = what.into();
        move |errno| Error::Sys { what, errno }
    }

    /// Wraps an `io::Error` from management work, keeping its OS code (EIO without one).
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |e| Error::Sys {
            what,
            errno: e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_passes_os_errors_through() {
        let e = Error::Os {
            op: "read",
            errno: Errno::ENOSPC,
        };
        assert_eq!(e.errno(), Errno::ENOSPC);
        assert!(!e.is_refusal());
    }

    #[test]
    fn errno_of_refusals() {
        assert_eq!(Error::Busy("x".into()).errno(), Errno::EBUSY);
        assert_eq!(Error::CrossPool("x".into()).errno(), Errno::EXDEV);
        assert_eq!(Error::NotPermitted("x".into()).errno(), Errno::EPERM);
        assert!(Error::Invalid("x".into()).is_refusal());
    }

    #[test]
    fn io_without_os_code_is_eio() {
        let e = Error::io("x")(std::io::Error::other("no code"));
        assert_eq!(e.errno(), Errno::EIO);
    }
}
