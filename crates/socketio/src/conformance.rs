//! The test server the Socket.IO conformance suites expect, built on the public API only, plus
//! the plain Engine.IO echo server at `/engine.io/` that the Engine.IO protocol's test suite
//! expects (Engine.IO has no public API of its own here, so that part uses the layer directly);
//! the `conformance` example serves both and the integration tests run them in-process.

use std::{sync::Arc, time::Duration};

use actix_web::{dev::Server, App};
use async_trait::async_trait;
use serde_json::Value;

use crate::{
    configure,
    engineio::{echo::Echo, engine::Engine, transport},
    AckSender, EngineConfig, Handshake, HttpServer, NamespaceHandler, Payload, Socket, SocketIo,
};

/// On connection emits `auth` with the CONNECT payload; echoes `message` as `message-back`
/// and acknowledges `message-with-ack` with the same arguments (binary included).
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoHandler;

#[async_trait]
impl NamespaceHandler for EchoHandler {
    async fn on_connect(&self, socket: Socket, auth: Value, _handshake: &Handshake) -> Result<(), Value> {
        let _ = socket.emit("auth", &auth);
        Ok(())
    }

    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        match (event.as_str(), ack) {
            ("message", _) => {
                let _ = socket.emit_payload("message-back", &payload);
            }
            ("message-with-ack", Some(ack)) => {
                let _ = ack.send_payload(&payload);
            }
            _ => {}
        }
    }
}

/// The suites' settings: ping every 300 ms, 200 ms pong timeout, 1,000,000-byte payloads,
/// 1 s connect timeout, any origin.
pub fn config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        connect_timeout: Duration::from_millis(1000),
        cors_any_origin: true,
        ..EngineConfig::default()
    }
}

/// A server with [`EchoHandler`] on `/` and `/custom`.
pub fn socket_io(config: EngineConfig) -> SocketIo {
    let io = SocketIo::new(config);
    io.namespace("/", EchoHandler);
    io.namespace("/custom", EchoHandler);
    io
}

/// Serves `io` at `/socket.io/`, and a plain Engine.IO echo server (every message sent back as
/// is) with the same settings at `/engine.io/`, on an already bound listener (bind first, then
/// connect: no readiness wait). The returned server must be awaited or spawned.
pub fn serve(io: SocketIo, listener: std::net::TcpListener, workers: usize) -> std::io::Result<Server> {
    let echo = Arc::new(Engine::new(io.config().clone(), Echo));
    let (app_io, app_echo) = (io.clone(), Arc::clone(&echo));
    Ok(HttpServer::new(io, move || {
        App::new()
            .configure(configure(app_io.clone()))
            .configure(transport::service(Arc::clone(&app_echo), "/engine.io"))
    })
    .mount("/engine.io", "/engine.io/", echo)
    .workers(workers)
    .disable_signals()
    .listen(listener)?
    .run())
}
