//! A Socket.IO v5 / Engine.IO v4 server on actix-web that knows nothing about chat.
//!
//! * [`SocketIo`] is the server: register a [`NamespaceHandler`] per namespace, mount it with
//!   [`configure`], read [`session_count`](SocketIo::session_count) and
//!   [`room_count`](SocketIo::room_count) for health checks and tests.
//! * A handler gets a [`Socket`] per client and namespace: [`emit`](Socket::emit),
//!   [`join`](Socket::join)/[`leave`](Socket::leave) rooms, [`disconnect`](Socket::disconnect);
//!   events arrive as an event name plus a [`Payload`] and an optional [`AckSender`].
//! * [`Namespace::broadcast_to`] serializes once into a [`Frame`] and queues the same buffers
//!   for every member of a room; a slow client never makes a broadcast wait.
//!
//! Protocol notes, bounds and the cleanup rules are in `docs/realtime.md`.

mod config;
mod dispatch;
mod eio;
mod frame;
mod handler;
mod http;
mod namespace;
mod queue;
mod server;
mod session;
mod sio;
mod socket;
mod ws;

pub mod conformance;

pub use config::EngineConfig;
pub use frame::Frame;
pub use handler::{DisconnectReason, Handshake, NamespaceHandler};
pub use http::configure;
pub use namespace::Namespace;
pub use server::SocketIo;
pub use socket::{AckSender, EmitError, InvalidSocketId, Payload, Socket, SocketId};
