//! The server handle: configuration, the namespace registry, the Engine.IO engine underneath,
//! and the actix-web mount point.

use std::sync::Arc;

use actix_web::web;
use socketioxide_core::Str;

use crate::{
    dispatch::Dispatch,
    engineio::{config::EngineConfig, engine::Engine, reason::DisconnectReason, stats::EngineStats, transport},
    handler::NamespaceHandler,
    namespace::{Namespace, Namespaces},
};

struct IoInner {
    engine: Arc<Engine>,
    namespaces: Arc<Namespaces>,
}

/// A Socket.IO server. Cheap to clone; every clone is the same server. Mount it on actix-web
/// with [`configure`].
#[derive(Clone)]
pub struct SocketIo {
    inner: Arc<IoInner>,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo").field("config", self.config()).field("sessions", &self.session_count()).finish()
    }
}

impl SocketIo {
    /// A server with no namespace yet; clients can connect to namespaces registered with
    /// [`namespace`](Self::namespace) (at any time, usually before serving).
    pub fn new(config: EngineConfig) -> Self {
        let namespaces = Arc::new(Namespaces::default());
        let engine = Arc::new(Engine::new(config, Dispatch::new(Arc::clone(&namespaces))));
        Self { inner: Arc::new(IoInner { engine, namespaces }) }
    }

    /// Registers `handler` for the namespace `path` (`"/"` is the main namespace; a missing
    /// leading slash is added). Registering a path again replaces it for new connections.
    pub fn namespace<H: NamespaceHandler>(&self, path: &str, handler: H) -> Namespace {
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        let entry = self.inner.namespaces.insert(Str::from(path), Arc::new(handler));
        Namespace::from_registry(Arc::clone(&entry.registry))
    }

    /// A registered namespace.
    pub fn of(&self, path: &str) -> Option<Namespace> {
        self.inner.namespaces.get(path).map(|entry| Namespace::from_registry(Arc::clone(&entry.registry)))
    }

    /// The Engine.IO engine, for the HTTP server that takes WebSocket connections over.
    pub(crate) fn engine(&self) -> Arc<Engine> {
        Arc::clone(&self.inner.engine)
    }

    /// The configuration the server was built with.
    pub(crate) fn config(&self) -> &EngineConfig {
        &self.inner.engine.config
    }

    /// Live Engine.IO sessions (connections), whether or not they joined a namespace.
    pub fn session_count(&self) -> usize {
        self.inner.engine.session_count()
    }

    /// Non-empty rooms over all namespaces.
    pub fn room_count(&self) -> usize {
        self.namespaces().iter().map(Namespace::room_count).sum()
    }

    /// Connected sockets over all namespaces.
    pub fn socket_count(&self) -> usize {
        self.namespaces().iter().map(Namespace::socket_count).sum()
    }

    /// Open Engine.IO sessions by transport, frames shed for full outbound queues, and slow
    /// consumers disconnected: for metrics. Counting walks the session table (cheap, but not
    /// meant for a hot path).
    pub fn stats(&self) -> EngineStats {
        self.inner.engine.stats()
    }

    /// Closes every session with [`DisconnectReason::ServerShuttingDown`]. Handlers'
    /// `on_disconnect` run shortly after, on the sessions' own tasks.
    pub fn shutdown(&self) {
        self.inner.engine.close_all(DisconnectReason::ServerShuttingDown);
    }

    fn namespaces(&self) -> Vec<Namespace> {
        self.inner.namespaces.all().iter().map(|entry| Namespace::from_registry(Arc::clone(&entry.registry))).collect()
    }
}

/// Mounts the Socket.IO endpoint (`/socket.io/`: polling GET and POST, WebSocket upgrade on
/// GET) on an actix-web app:
///
/// ```no_run
/// # use socketio::{configure, EngineConfig, SocketIo};
/// # async fn run(io: SocketIo) -> std::io::Result<()> {
/// actix_web::HttpServer::new(move || actix_web::App::new().configure(configure(io.clone())))
///     .bind(("0.0.0.0", 3001))?
///     .run()
///     .await
/// # }
/// ```
pub fn configure(io: SocketIo) -> impl FnOnce(&mut web::ServiceConfig) {
    transport::service(Arc::clone(&io.inner.engine), "/socket.io")
}
