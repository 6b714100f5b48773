//! Real-time adapter: a Socket.IO server on actix-web ([`engine`]) that knows nothing about chat,
//! and the chat [`gateway`] on top of it, which maps the contract's events to the domain services
//! and delivers domain events to rooms.

pub mod engine;
pub mod gateway;
