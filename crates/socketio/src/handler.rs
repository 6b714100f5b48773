//! What the application plugs into a namespace: the handler trait, the handshake it sees and
//! the reasons a socket goes away.

use std::net::SocketAddr;

use actix_web::http::header::HeaderMap;
use async_trait::async_trait;
use serde_json::Value;

use super::socket::{AckSender, Payload, Socket};

/// The application side of one namespace.
///
/// Calls for one client connection are made one at a time, in the order its packets arrived:
/// a slow handler delays that client's later events, never another client's. Handlers must not
/// panic; if one does anyway the connection is closed and the process keeps running.
#[async_trait]
pub trait NamespaceHandler: Send + Sync + 'static {
    /// A client asks to join this namespace (Socket.IO CONNECT).
    ///
    /// `auth` is the CONNECT payload (a JSON object, `{}` when the client sent none);
    /// `handshake` is the HTTP request that opened the connection. Return `Ok(())` to accept,
    /// or `Err(data)` to refuse with a CONNECT_ERROR carrying `data` (by convention
    /// `{"message": "..."}`); the socket is then dropped and no other method is called for it.
    ///
    /// Until this returns, whatever is sent to `socket` (its own emits, room broadcasts after a
    /// [`Socket::join`]) is held back and delivered right after the CONNECT acknowledgement.
    async fn on_connect(&self, socket: Socket, auth: Value, handshake: &Handshake) -> Result<(), Value>;

    /// An event from the client. `ack` is set when the client asked for an acknowledgement.
    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>);

    /// The socket left the namespace, for whatever reason. It has already been removed from
    /// every room; emitting to it does nothing.
    async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let _ = (socket, reason);
    }
}

/// Lets one handler value (and its state) be shared, for example with the code that
/// broadcasts from HTTP routes.
#[async_trait]
impl<T: NamespaceHandler + ?Sized> NamespaceHandler for std::sync::Arc<T> {
    async fn on_connect(&self, socket: Socket, auth: Value, handshake: &Handshake) -> Result<(), Value> {
        (**self).on_connect(socket, auth, handshake).await
    }

    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        (**self).on_event(socket, event, payload, ack).await;
    }

    async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        (**self).on_disconnect(socket, reason).await;
    }
}

/// The HTTP request that opened an Engine.IO session (the first polling GET or the direct
/// WebSocket upgrade).
#[derive(Debug, Clone)]
pub struct Handshake {
    pub(crate) headers: HeaderMap,
    pub(crate) query: String,
    pub(crate) remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// Builds a handshake by hand, for tests of application handlers.
    pub fn new(headers: HeaderMap, query: impl Into<String>, remote_addr: Option<SocketAddr>) -> Self {
        Self { headers, query: query.into(), remote_addr }
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The raw query string (without `?`).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        actix_web::web::Query::<Vec<(String, String)>>::from_query(&self.query)
            .ok()?
            .into_inner()
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    /// The peer address of the connection, when known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}

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
    /// The server called [`Socket::disconnect`].
    ServerNamespaceDisconnect,
    /// The server is shutting down ([`SocketIo::shutdown`](super::SocketIo::shutdown)).
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
