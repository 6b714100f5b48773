//! Socket ids: how the application names one client in one namespace.

use std::fmt;

use socketioxide_core::Sid;

/// Identifier of a socket (one client in one namespace); sent to the client in the CONNECT
/// acknowledgement. Distinct from the Engine.IO session id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Sid);

impl SocketId {
    pub(crate) fn new() -> Self {
        Self(Sid::new())
    }

    /// A fresh id, for unit tests of application handlers that key state by socket.
    pub fn new_for_tests() -> Self {
        Self::new()
    }

    /// The id as sent on the wire (16 URL-safe base64 characters).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::str::FromStr for SocketId {
    type Err = InvalidSocketId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self).map_err(|_| InvalidSocketId)
    }
}

/// A string that is not a socket id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid socket id")]
pub struct InvalidSocketId;

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({})", self.as_str())
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
