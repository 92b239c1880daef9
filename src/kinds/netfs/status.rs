//! What an NFS error means: the server's own status (an answer, never a
//! sign that the server is down), its errno, a lock denied, a write
//! verifier changed.

use std::sync::Arc;

use nfs_rs::NfsError;
use nix::errno::Errno;

/// The server's own NFS status, also where the library wraps it (NFSv4.1
/// reports a write whose outcome it calls uncertain, with the server's
/// `NFS4ERR_NOSPC` inside): a status is the server's answer, never a sign
/// that the server is down.
pub(super) fn server_status(e: &NfsError) -> Option<String> {
    match e {
        NfsError::Nfs3(c) => Some(format!("{c:?}")),
        NfsError::Nfs4(c) => Some(format!("{c:?}")),
        NfsError::OperationOutcome(d) => server_status(&d.source),
        NfsError::Io(io) => {
            // The library's transport wrapper: walk its chain of sources.
            let mut cur: Option<&(dyn std::error::Error + 'static)> = io
                .get_ref()
                .map(|i| i as &(dyn std::error::Error + 'static));
            while let Some(inner) = cur {
                // A write's failure, kept and reported again later, is shared.
                let nfs = inner
                    .downcast_ref::<NfsError>()
                    .or_else(|| inner.downcast_ref::<Arc<NfsError>>().map(|a| a.as_ref()));
                if let Some(status) = nfs.and_then(server_status) {
                    return Some(status);
                }
                cur = inner.source();
            }
            None
        }
        _ => None,
    }
}
/// The errno for an NFS status, by its name (`NFS3ERR_NOENT`,
/// `NFS4ERR_NOSPC`): NFSv3 and NFSv4 name them alike, and not every status
/// number equals the Linux errno.
pub(super) fn status_errno(name: &str) -> Errno {
    let short = name.split_once("ERR_").map_or(name, |(_, s)| s);
    match short {
        "PERM" => Errno::EPERM,
        "NOENT" => Errno::ENOENT,
        "NXIO" => Errno::ENXIO,
        "ACCES" | "ACCESS" => Errno::EACCES,
        "EXIST" => Errno::EEXIST,
        "XDEV" => Errno::EXDEV,
        "NODEV" => Errno::ENODEV,
        "NOTDIR" => Errno::ENOTDIR,
        "ISDIR" => Errno::EISDIR,
        "INVAL" => Errno::EINVAL,
        "FBIG" => Errno::EFBIG,
        "NOSPC" => Errno::ENOSPC,
        "ROFS" => Errno::EROFS,
        "MLINK" => Errno::EMLINK,
        "NAMETOOLONG" => Errno::ENAMETOOLONG,
        "NOTEMPTY" => Errno::ENOTEMPTY,
        "DQUOT" => Errno::EDQUOT,
        "STALE" | "BADHANDLE" | "FHEXPIRED" => Errno::ESTALE,
        "NOTSUPP" => Errno::EOPNOTSUPP,
        "JUKEBOX" | "DELAY" => Errno::EAGAIN,
        _ => Errno::EIO,
    }
}
/// Another lock owner holds a conflicting lock (NFS4ERR_DENIED).
pub(super) fn is_denied(e: &NfsError) -> bool {
    match e {
        NfsError::Nfs4(c) => *c == nfs_rs::Nfs4ErrorCode::NFS4ERR_DENIED,
        NfsError::LockDenied { .. } => true,
        NfsError::OperationOutcome(o) => is_denied(&o.source),
        _ => false,
    }
}
/// The COMMIT's verifier differs from the WRITEs': the server restarted.
pub(super) fn is_verifier_change(e: &NfsError) -> bool {
    matches!(e, NfsError::OperationOutcome(o) if o.context().operation == "write_verifier")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_differ_from_linux_errnos() {
        let name = |e: nfs_rs::NfsError| match e {
            NfsError::Nfs3(c) => format!("{c:?}"),
            NfsError::Nfs4(c) => format!("{c:?}"),
            _ => String::new(),
        };
        let v3 = |c| status_errno(&name(NfsError::Nfs3(c)));
        let v4 = |c| status_errno(&name(NfsError::Nfs4(c)));
        use nfs_rs::{Nfs3ErrorCode as E3, Nfs4ErrorCode as E4};
        assert_eq!(v3(E3::NFS3ERR_NAMETOOLONG), Errno::ENAMETOOLONG);
        assert_eq!(v3(E3::NFS3ERR_NOTEMPTY), Errno::ENOTEMPTY);
        assert_eq!(v3(E3::NFS3ERR_STALE), Errno::ESTALE);
        assert_eq!(v3(E3::NFS3ERR_NOSPC), Errno::ENOSPC);
        assert_eq!(v3(E3::NFS3ERR_NOENT), Errno::ENOENT);
        assert_eq!(v3(E3::NFS3ERR_NOTSUPP), Errno::EOPNOTSUPP);
        assert_eq!(v4(E4::NFS4ERR_NOSPC), Errno::ENOSPC);
        assert_eq!(v4(E4::NFS4ERR_ACCESS), Errno::EACCES);
        assert_eq!(v4(E4::NFS4ERR_NOTEMPTY), Errno::ENOTEMPTY);
        assert_eq!(status_errno("NFS3ERR_SERVERFAULT"), Errno::EIO);
    }

    #[test]
    fn a_status_wrapped_as_an_uncertain_outcome_is_still_the_servers_answer() {
        use nfs_rs::{
            NFSVersion, Nfs4ErrorCode as E4, OperationClass, OperationOutcome,
            OperationOutcomeError, RecoveryAction, RequestContext,
        };
        // As NFSv4.1 reports an earlier write's failure at the next COMMIT.
        let kept = Arc::new(NfsError::Nfs4(E4::NFS4ERR_NOSPC));
        let wrapped = NfsError::OperationOutcome(Box::new(OperationOutcomeError::new(
            OperationOutcome::Uncertain,
            OperationClass::ReplaySensitive,
            RecoveryAction::VerifyThenResume,
            RequestContext {
                operation: "abandoned_write".into(),
                protocol: NFSVersion::NFSv4p1,
                request_id: None,
            },
            NfsError::Io(std::io::Error::other(kept)),
        )));
        assert_eq!(server_status(&wrapped).as_deref(), Some("NFS4ERR_NOSPC"));
        let transport = NfsError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(server_status(&transport), None);
    }
}
