//! Integration tests of the Socket.IO server, one binary: protocol tests driven with raw
//! Engine.IO packets over HTTP long-polling and WebSocket against servers started in-process on
//! 127.0.0.1:0, grouped by topic, and the official `socket.io-client` suite (Node.js).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bounds;
mod engine_io;
mod events;
mod handshake;
mod official_client;
mod oversize;
mod pipelined;
mod polling;
mod rooms;
mod stats;
mod support;
mod takeover;
mod websocket;
