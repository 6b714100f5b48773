//! Why a session or a socket goes away: one vocabulary shared by both layers, since a session
//! closes for Engine.IO reasons (ping timeout, transport error) and Socket.IO ones (connect
//! timeout, a handler panic) alike, and its sockets report the reason it closed with.

/// Why a socket left its namespace. [`as_str`](Self::as_str) gives the reference server's
/// wording where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client closed the connection (Engine.IO close packet, WebSocket close, EOF).
    TransportClose,
    /// The transport failed: write error, overlapping polling requests.
    TransportError,
    /// No pong within `ping_timeout` after a ping.
    PingTimeout,
    /// The client sent something that is not valid Engine.IO / Socket.IO, or a packet that is
    /// not allowed in the current state, or too many binary attachments.
    ParseError,
    /// A polling POST or WebSocket message was larger than `max_payload`.
    PayloadTooLarge,
    /// The client could not keep up: its outbound queue overflowed.
    SlowConsumer,
    /// No namespace was connected within `connect_timeout`.
    ConnectTimeout,
    /// The client left the namespace (Socket.IO DISCONNECT) and kept the connection.
    ClientNamespaceDisconnect,
    /// The server called [`Socket::disconnect`](crate::Socket::disconnect).
    ServerNamespaceDisconnect,
    /// The server is shutting down ([`SocketIo::shutdown`](crate::SocketIo::shutdown)).
    ServerShuttingDown,
    /// An application handler panicked while handling this connection.
    HandlerPanic,
}

impl DisconnectReason {
    /// A short, stable description (`"ping timeout"`, `"transport close"`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TransportClose => "transport close",
            Self::TransportError => "transport error",
            Self::PingTimeout => "ping timeout",
            Self::ParseError => "parse error",
            Self::PayloadTooLarge => "payload too large",
            Self::SlowConsumer => "slow consumer",
            Self::ConnectTimeout => "connect timeout",
            Self::ClientNamespaceDisconnect => "client namespace disconnect",
            Self::ServerNamespaceDisconnect => "server namespace disconnect",
            Self::ServerShuttingDown => "server shutting down",
            Self::HandlerPanic => "handler panic",
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
