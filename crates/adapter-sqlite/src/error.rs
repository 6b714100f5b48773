//! The adapter's internal error and its translation into the port's `StoreError`, so that no
//! rusqlite type crosses the port.

use chat_domain::error::StoreError;
use rusqlite::ErrorCode;

/// What can go wrong inside one database operation.
#[derive(Debug)]
pub(crate) enum DbError {
    Sqlite(rusqlite::Error),
    /// A rule the database cannot express failed (no such chat, an unsupported schema).
    Refused(String),
}

impl DbError {
    pub(crate) fn refused(reason: impl Into<String>) -> Self {
        Self::Refused(reason.into())
    }

    /// The same error again, for every request of a write batch that it ended. A SQLite
    /// failure keeps its code, so "busy" still reads as unavailable.
    pub(crate) fn duplicate(&self) -> Self {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(code, message)) => {
                Self::Sqlite(rusqlite::Error::SqliteFailure(*code, message.clone()))
            }
            other => Self::Refused(other.to_string()),
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(err) => write!(f, "sqlite: {err}"),
            Self::Refused(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sqlite(err) => Some(err),
            Self::Refused(_) => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sqlite(err)
    }
}

impl From<DbError> for StoreError {
    fn from(err: DbError) -> Self {
        // Another process holding the database past the busy timeout may go away: that is the
        // "try again later" case. Everything else is a failure of this store.
        let busy = matches!(&err, DbError::Sqlite(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)));
        if busy {
            StoreError::unavailable(err)
        } else {
            StoreError::other(err)
        }
    }
}

pub(crate) type DbResult<T> = Result<T, DbError>;
