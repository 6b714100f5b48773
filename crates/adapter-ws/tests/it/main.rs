//! In-process integration tests of the chat gateway: the real services over the in-memory
//! store, the gateway served by actix-web on a free port, and a raw Socket.IO client over
//! WebSocket. Each module covers one behaviour of `docs/realtime.md`'s "Chat gateway".

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod harness;

mod auth;
mod catch_up;
mod groups;
mod join;
mod limits;
mod logout;
mod members;
mod receipts;
mod send;
mod server_receipts;
mod typing;
