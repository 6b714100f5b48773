//! What the application plugs into a namespace: the handler trait.

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    ack::AckSender,
    engineio::{handshake::Handshake, reason::DisconnectReason},
    payload::Payload,
    socket::Socket,
};

/// The application side of one namespace.
///
/// Calls for one client connection are made one at a time, in the order its packets arrived:
/// a slow handler delays that client's later events, never another client's. The exception is
/// the events the handler declares [`pipelined`](Self::pipelined). Handlers must not panic; if
/// one does anyway the connection is closed and the process keeps running.
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

    /// Whether calls of [`on_event`](Self::on_event) for `event` may overlap. Consecutive
    /// pipelined events of one connection run concurrently, up to
    /// [`EngineConfig::max_pipelined_events`](crate::EngineConfig::max_pipelined_events) at a
    /// time: each call starts (is first polled) after the calls of the packets before it and
    /// before any packet after it is looked at, and they finish in any order. Any other
    /// packet waits until every pipelined call before it has finished, then runs alone, so a
    /// handler sees the connection's other events in order. Default: none.
    fn pipelined(&self, event: &str) -> bool {
        let _ = event;
        false
    }

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

    fn pipelined(&self, event: &str) -> bool {
        (**self).pipelined(event)
    }

    async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        (**self).on_disconnect(socket, reason).await;
    }
}
