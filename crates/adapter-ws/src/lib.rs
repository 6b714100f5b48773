//! The chat gateway: maps the contract's Socket.IO events onto the domain services and delivers
//! domain events to rooms, on the [`socketio`] engine (which knows nothing about chat).

pub mod gateway;
