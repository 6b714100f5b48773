//! Tunables of the server, both layers in one place: Engine.IO heartbeat, timeouts, payload and
//! queue bounds, and the Socket.IO connect timeout and attachment cap.

use std::time::Duration;

/// Settings of a [`SocketIo`](crate::SocketIo) server.
///
/// The heartbeat, payload and connect-timeout defaults are the ones of the reference
/// `socket.io` v4 server, so the official client behaves exactly as it does against Node.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// How often the server sends an Engine.IO ping (`2`). Default 25 s (`pingInterval`).
    pub ping_interval: Duration,
    /// How long the server waits for the pong (`3`) after a ping before it closes the
    /// session with [`DisconnectReason::PingTimeout`](crate::DisconnectReason). Default 20 s.
    pub ping_timeout: Duration,
    /// Largest body of one polling POST, and largest WebSocket message, in bytes. A larger
    /// POST gets 413 and closes the session; a larger WebSocket message closes the session.
    /// Default 1,000,000 (`maxHttpBufferSize` / `maxPayload`).
    pub max_payload: usize,
    /// A session with no namespace connected is closed after this long: right after the
    /// handshake, and again whenever its last namespace disconnects. Default 45 s.
    pub connect_timeout: Duration,
    /// How long a WebSocket upgrade may stay in the probe phase (`2probe` .. `5`) before the
    /// probe connection is closed and the session stays on polling. Default 10 s.
    pub upgrade_timeout: Duration,
    /// Most binary attachments one Socket.IO packet may announce; more closes the session.
    /// Default 10.
    pub max_attachments: usize,
    /// Most events of one client connection whose handlers run at once, among those the
    /// namespace handler declares [`pipelined`](crate::NamespaceHandler::pipelined); while
    /// that many are in flight the connection is not read. Default 16.
    pub max_pipelined_events: usize,
    /// Most Socket.IO packets waiting to be written to one client. Default 1,024.
    pub outbound_queue_frames: usize,
    /// Most bytes waiting to be written to one client. Default 2 MiB. When either bound is hit,
    /// frames marked droppable are discarded first; if that is not enough the client is
    /// disconnected with [`DisconnectReason::SlowConsumer`](crate::DisconnectReason).
    pub outbound_queue_bytes: usize,
    /// Reflect any `Origin` in `Access-Control-Allow-Origin` and allow credentials (and answer
    /// CORS preflight requests). Default `false`: no CORS headers, same-origin clients only.
    pub cors_any_origin: bool,
    /// When set, a request carrying an `Origin` header that is not in this list (a page of
    /// another site) is refused with 403 `{"code":4,"message":"Forbidden"}`, on polling and
    /// WebSocket alike: browsers send cross-site WebSocket handshakes without CORS checks.
    /// Requests without `Origin` (native and server-side clients) are not affected.
    pub allowed_origins: Option<Vec<String>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            connect_timeout: Duration::from_secs(45),
            upgrade_timeout: Duration::from_secs(10),
            max_attachments: 10,
            max_pipelined_events: 16,
            outbound_queue_frames: 1024,
            outbound_queue_bytes: 2 * 1024 * 1024,
            cors_any_origin: false,
            allowed_origins: None,
        }
    }
}
