//! The Engine.IO v4 layer: sessions over HTTP long-polling and WebSocket, with heartbeat,
//! upgrade, bounded outbound queues and the request errors of the reference server.
//!
//! It carries opaque messages: text and binary in ([`session::Inbound`]), pre-encoded
//! [`frame::Frame`]s out. It knows nothing of the Socket.IO layer above it (no namespace,
//! socket or event); that layer receives every new session through
//! [`engine::SessionHandler`]. The `xtask` tidy test `cycles` enforces the direction.
//!
//! Dependencies inside the layer, bottom to top: `config`, `reason`, `handshake`, `stats`, `wsframe`
//! (the WebSocket wire format) → `frame` → `queue` → `packet` → `session` → `inbound` →
//! `engine` → `transport`, and `echo` (a plain Engine.IO echo server for the conformance
//! suites) on `engine`.

pub(crate) mod config;
pub(crate) mod echo;
pub(crate) mod engine;
pub(crate) mod frame;
pub(crate) mod handshake;
pub(crate) mod inbound;
pub(crate) mod packet;
pub(crate) mod queue;
pub(crate) mod reason;
pub(crate) mod session;
pub(crate) mod stats;
pub(crate) mod transport;
pub(crate) mod wsframe;
