//! Translation of driver errors into the domain's `StoreError`, so no driver type crosses the
//! port: unreachable server → `Unavailable`, anything else → `Other`. Duplicate keys are
//! recognised separately, because each caller turns them into its own business outcome.

use chat_domain::error::StoreError;
use mongodb::error::{Error, ErrorKind, WriteFailure, RETRYABLE_WRITE_ERROR};

/// The server code of a unique index violation.
const DUPLICATE_KEY: i32 = 11000;

/// Server codes that mean "this node cannot serve right now": host unreachable or not found,
/// network timeout, not primary, shutting down or recovering, exceeded time limit, write
/// concern not satisfied in time, and the primary stepping down.
const UNAVAILABLE_CODES: &[i32] = &[6, 7, 50, 64, 89, 91, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436];

/// True when `err` says the database could not be reached or could not serve in time.
pub(crate) fn is_unavailable(err: &Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Shutdown => true,
        ErrorKind::Command(e) => UNAVAILABLE_CODES.contains(&e.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(e)) => UNAVAILABLE_CODES.contains(&e.code),
        _ => err.contains_label(RETRYABLE_WRITE_ERROR),
    }
}

/// True when `err` is about the connection rather than the command: no server could be
/// selected, or the connection broke.
pub(crate) fn is_transport(err: &Error) -> bool {
    matches!(
        err.kind.as_ref(),
        ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::ServerSelection { .. }
    )
}

/// True when the server could not be selected at all (as opposed to a connection that broke
/// mid-operation); retrying then only waits out the selection timeout once more.
pub(crate) fn is_server_selection(err: &Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::ServerSelection { .. })
}

/// True when `err` is a unique index violation, whichever command reported it.
pub(crate) fn is_duplicate_key(err: &Error) -> bool {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == DUPLICATE_KEY,
        ErrorKind::Command(e) => e.code == DUPLICATE_KEY,
        ErrorKind::InsertMany(e) => e.write_errors.iter().flatten().any(|w| w.code == DUPLICATE_KEY),
        _ => false,
    }
}

/// Classifies a driver error; the driver's detail is kept as the source, for the log only.
pub(crate) fn store_error(err: Error) -> StoreError {
    if is_unavailable(&err) {
        StoreError::unavailable(err)
    } else {
        StoreError::other(err)
    }
}

/// `.store()?` on a driver result: the one way driver errors leave this crate.
pub(crate) trait DriverResultExt<T> {
    fn store(self) -> Result<T, StoreError>;
}

impl<T> DriverResultExt<T> for Result<T, Error> {
    fn store(self) -> Result<T, StoreError> {
        self.map_err(store_error)
    }
}
