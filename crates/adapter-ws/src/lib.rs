//! Real-time adapter: a Socket.IO server on actix-web ([`engine`]) that knows nothing about chat.

pub mod engine;
