//! A Socket.IO v5 / Engine.IO v4 server on actix-web that knows nothing about the application
//! it serves. The official clients (JavaScript, Python, ...) connect to it unchanged, over HTTP
//! long-polling, WebSocket, or polling upgraded to WebSocket.
//!
//! # The API in five steps
//!
//! 1. **Build a server.** [`SocketIo::new`] takes an [`EngineConfig`] (see *Bounds* below).
//!    A [`SocketIo`] is cheap to clone; every clone is the same server.
//! 2. **Register a handler per namespace.** Implement [`NamespaceHandler`] and pass it to
//!    [`SocketIo::namespace`] (`"/"` is the main namespace). Its methods run for one client at a
//!    time, in the order the client's packets arrived:
//!    * [`on_connect`](NamespaceHandler::on_connect) gets the new [`Socket`], the client's auth
//!      payload and the [`Handshake`] (headers, query, peer address); return `Err(data)` to
//!      refuse the connection with a `connect_error` carrying `data`;
//!    * [`on_event`](NamespaceHandler::on_event) gets an event name, its [`Payload`] (JSON
//!      arguments plus binary attachments) and an [`AckSender`] when the client asked for an
//!      acknowledgement: [`send`](AckSender::send) answers it, at most once;
//!    * [`on_disconnect`](NamespaceHandler::on_disconnect) gets the [`DisconnectReason`].
//! 3. **Mount it on actix-web** with [`configure`]: it serves `/socket.io/`. Serve the app with
//!    [`HttpServer`] rather than actix-web's own to keep WebSocket connections small (see
//!    *Memory* below).
//! 4. **Talk to one client** through its [`Socket`] (cheap to clone, keep it as long as you
//!    like): [`emit`](Socket::emit) an event ([`emit_payload`](Socket::emit_payload) for several
//!    arguments or binary attachments), [`join`](Socket::join) or [`leave`](Socket::leave)
//!    rooms, [`broadcast_to`](Socket::broadcast_to) a room except itself,
//!    [`disconnect`](Socket::disconnect) it from the namespace. Sending only queues and never
//!    waits for the client; what cannot be queued is refused with an [`EmitError`].
//! 5. **Broadcast from anywhere** (an HTTP route, a timer) through the [`Namespace`] returned by
//!    [`SocketIo::namespace`] or [`SocketIo::of`]: [`event_frame`](Namespace::event_frame)
//!    serializes an event once into a [`Frame`], and
//!    [`broadcast_frame_to`](Namespace::broadcast_frame_to) queues the same buffers for every
//!    member of a room (or [`broadcast_frame_to_except_room`](Namespace::broadcast_frame_to_except_room),
//!    [`broadcast_frame`](Namespace::broadcast_frame) to the whole namespace, or
//!    [`broadcast_frame_to_sockets`](Namespace::broadcast_frame_to_sockets) to those of a room
//!    in a set, such as the one [`sockets_in`](Namespace::sockets_in) collects from other
//!    rooms). A slow client
//!    never makes a broadcast wait; a frame marked [`droppable`](Frame::droppable) (a typing
//!    indicator) is the first thing shed for it.
//!
//! A client catching up on what it missed can join a room *held*: [`Socket::join_held`] keeps
//! the room's broadcasts back while the application reads the history, and
//! [`Socket::release_room`] sends the catch-up first (typically
//! [`AckSender::into_frame`]), then the held frames the application keeps (by
//! [`seq`](Frame::with_seq), so nothing arrives twice). [`Namespace::room_members`] lists the
//! sockets in a room (the application knows who is behind each). [`SocketIo::session_count`],
//! [`socket_count`](SocketIo::socket_count) and [`room_count`](SocketIo::room_count) are for
//! health checks and tests, [`SocketIo::stats`] for metrics (sessions by transport, frames
//! shed, slow consumers); [`SocketIo::shutdown`] closes every connection.
//!
//! ```no_run
//! use async_trait::async_trait;
//! use serde_json::{json, Value};
//! use socketio::{
//!     configure, AckSender, DisconnectReason, EngineConfig, Handshake, NamespaceHandler, Payload,
//!     Socket, SocketIo,
//! };
//!
//! struct Lobby;
//!
//! #[async_trait]
//! impl NamespaceHandler for Lobby {
//!     async fn on_connect(&self, socket: Socket, auth: Value, _handshake: &Handshake) -> Result<(), Value> {
//!         if auth.get("name").and_then(Value::as_str).is_none() {
//!             return Err(json!({ "message": "a name is required" }));
//!         }
//!         socket.join("lobby");
//!         Ok(())
//!     }
//!
//!     async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
//!         match event.as_str() {
//!             "say" => {
//!                 let delivered = socket.broadcast_to("lobby", "said", &payload.first()).unwrap_or(0);
//!                 if let Some(ack) = ack {
//!                     let _ = ack.send(&json!({ "delivered": delivered }));
//!                 }
//!             }
//!             "ping" => {
//!                 let _ = socket.emit("pong", &json!({}));
//!             }
//!             "quit" => socket.disconnect(),
//!             _ => {}
//!         }
//!     }
//!
//!     async fn on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
//!         println!("{} left: {reason}", socket.id());
//!     }
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let io = SocketIo::new(EngineConfig { max_payload: 100_000, ..EngineConfig::default() });
//!     let lobby = io.namespace("/", Lobby);
//!     // Serialized once, queued for every member of the room.
//!     if let Ok(frame) = lobby.event_frame("announcement", &json!({ "text": "welcome" })) {
//!         lobby.broadcast_frame_to("lobby", &frame, None);
//!     }
//!     actix_web::HttpServer::new(move || actix_web::App::new().configure(configure(io.clone())))
//!         .bind(("127.0.0.1", 3000))?
//!         .run()
//!         .await
//! }
//! ```
//!
//! # Bounds
//!
//! Everything a client can make the server hold is bounded by [`EngineConfig`]:
//! [`max_payload`](EngineConfig::max_payload) bytes per polling POST or WebSocket message,
//! [`max_attachments`](EngineConfig::max_attachments) binary attachments per packet,
//! [`outbound_queue_frames`](EngineConfig::outbound_queue_frames) and
//! [`outbound_queue_bytes`](EngineConfig::outbound_queue_bytes) waiting to be written to one
//! client (past them droppable frames go first, then the client is disconnected as a
//! [slow consumer](DisconnectReason::SlowConsumer)), a heartbeat
//! ([`ping_interval`](EngineConfig::ping_interval), [`ping_timeout`](EngineConfig::ping_timeout)),
//! and [`connect_timeout`](EngineConfig::connect_timeout) for a connection that joins no
//! namespace. Pipelined events of one connection in flight are bounded by
//! [`max_pipelined_events`](EngineConfig::max_pipelined_events): at the bound the connection is
//! not read. Breaking a bound closes that one connection, never the server.
//!
//! # Inside
//!
//! Two layers, arrows pointing down only (the `xtask` tidy test `cycles` enforces it):
//!
//! * the **Socket.IO layer** (this crate's top-level modules): `server` (the [`SocketIo`] handle
//!   and [`configure`]) → `dispatch` (one task per connection, decoding packets in order and
//!   calling handlers; `pipeline` holds the calls of [pipelined](NamespaceHandler::pipelined)
//!   events in flight) → `namespace` → `handler` → `ack` → `socket` → `registry` (rooms) and
//!   `packet` (the Socket.IO codec) → `payload`, `socket_id`;
//! * the **Engine.IO layer** (`engineio`): transports (polling, WebSocket), sessions with
//!   heartbeat and bounded outbound queues, the Engine.IO codec and the WebSocket wire format.
//!   It carries opaque messages and hands each new session to the layer above.
//!
//! A direct WebSocket connection costs one task besides its connection's own: the dispatcher
//! reads the connection's frames itself (refusing a frame whose header declares more than
//! `max_payload` before buffering any of it) and runs the heartbeat timer in the same poll. Its
//! outbound side is no task at all: a stream over the session's queue (the `101` response's
//! body) yields everything queued, each [`Frame`] as WebSocket bytes built once per broadcast,
//! to the connection's writer (actix's HTTP dispatcher, or the connection itself under
//! [`HttpServer`]), which writes a whole batch with one system call. A push wakes the writer
//! only when it waits on an empty queue, so a burst costs one wake-up.
//!
//! # Memory
//!
//! On actix-web's `HttpServer`, an upgraded connection stays in actix's HTTP dispatcher, which
//! keeps an 8 KiB read and an 8 KiB write buffer for the connection's whole life. [`HttpServer`]
//! serves the same app, but hands every upgrade request to the engine together with its TCP
//! stream (actix-http's upgrade service): the engine answers the handshake itself, with the
//! same checks and errors as the route, the dispatcher and its buffers are dropped, and the
//! connection is read through a buffer on the stack and written with vectored writes straight
//! from the frames' shared buffers. An idle connection then holds no I/O buffer; what is left
//! is the session, its socket and rooms, and the dispatcher task. The app's middleware does not
//! see WebSocket handshakes there: [`HttpServer::on_upgrade`] reports each one
//! ([`UpgradeRequest`]) for the request log and metrics.
//!
//! [`conformance`] is the test server the Socket.IO conformance suites expect (plus a plain
//! Engine.IO echo at `/engine.io/` for the Engine.IO suite), built on the
//! public API only. Protocol notes and the cleanup rules are in `docs/realtime.md`.

mod ack;
mod dispatch;
mod engineio;
mod handler;
mod http_server;
mod namespace;
mod packet;
mod payload;
mod pipeline;
mod registry;
mod server;
mod socket;
mod socket_id;

pub mod conformance;

#[cfg(test)]
mod random_input;

pub use ack::AckSender;
pub use engineio::{
    config::EngineConfig, frame::Frame, handshake::Handshake, reason::DisconnectReason, stats::EngineStats,
    transport::takeover::UpgradeRequest,
};
pub use handler::NamespaceHandler;
pub use http_server::HttpServer;
pub use namespace::Namespace;
pub use payload::{EmitError, Payload};
pub use registry::SocketSet;
pub use server::{configure, SocketIo};
pub use socket::Socket;
pub use socket_id::{InvalidSocketId, SocketId};
