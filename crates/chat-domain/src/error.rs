//! The error every use case returns: business outcomes plus one catch-all for the store.

use std::borrow::Cow;
use std::time::Duration;

/// What went wrong in a use case. Adapters translate each variant at their edge (an HTTP
/// status, an ack error code); the text of `Invalid`, `Forbidden`, `NotFound` and `Conflict`
/// is safe to show to the client. `Unavailable` and `Internal` carry nothing a client may see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input broke a rule; the message says which, lowercase, no trailing period.
    #[error("{0}")]
    Invalid(Cow<'static, str>),
    /// No valid credentials (missing or bad token, unknown user behind a token).
    #[error("unauthorized")]
    Unauthorized,
    /// Login with a wrong email or password; deliberately does not say which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Authenticated, but the rules do not allow it (not a participant, not the sender).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The sender used up its budget; it may try again after `retry_after`.
    #[error("too many messages")]
    RateLimited { retry_after: Duration },
    /// The store cannot be reached right now; the same call may succeed later.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else that failed below the domain; details were logged by the adapter.
    #[error("internal error")]
    Internal,
}

impl Error {
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid(message.into())
    }
    pub fn forbidden(message: impl Into<Cow<'static, str>>) -> Self {
        Self::Forbidden(message.into())
    }
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::NotFound(message.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A storage adapter's failure, with the driver's detail boxed so no driver type leaks in.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached (connection refused, timeout, no primary).
    #[error("store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Any other failure (corrupt data, unexpected driver error).
    #[error("store failure: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn other(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Other(err.into())
    }
    pub fn unavailable(err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        // The detail goes to the log, never to the client.
        tracing::error!(error = %err, "store operation failed");
        match err {
            StoreError::Unavailable(_) => Error::Unavailable,
            StoreError::Other(_) => Error::Internal,
        }
    }
}
