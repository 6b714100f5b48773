//! [`HttpServer`]: an actix-web app and a Socket.IO server on one listener, with every
//! WebSocket connection taken off actix's HTTP dispatcher once its handshake is read.

use std::{fmt, io, marker::PhantomData, net, sync::Arc, time::Duration};

use actix_http::{body::MessageBody, HttpService, KeepAlive, Request, Response};
use actix_server::{GracefulShutdownSignal, Server, ServerBuilder};
use actix_service::{map_config, IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _};
use actix_web::dev::AppConfig;

use crate::{
    engineio::{
        engine::Engine,
        transport::takeover::{takeover, Mount, Observer, Takeover, UpgradeRequest},
    },
    server::SocketIo,
};

/// The app factory's types, named only by the bounds (and `Send` whatever they are).
type AppTypes<I, S, B> = PhantomData<fn() -> (I, S, B)>;

/// Serves an actix-web app and a [`SocketIo`] on the same listener, like
/// [`actix_web::HttpServer`] with the same defaults, but every WebSocket connection to the
/// Socket.IO endpoint is taken off actix's HTTP dispatcher once its handshake is read: the
/// dispatcher's read and write buffers (8 KiB each) are freed and the connection is served with
/// no buffer of its own while idle. Mount the Socket.IO endpoint in the app as usual with
/// [`configure`](crate::configure): long-polling goes through the app, WebSocket handshakes do
/// not (so the app's middleware does not see them, and an upgrade request for any other path
/// is answered 404).
///
/// ```no_run
/// # use socketio::{configure, HttpServer, SocketIo};
/// # async fn run(io: SocketIo, listener: std::net::TcpListener) -> std::io::Result<()> {
/// let app_io = io.clone();
/// HttpServer::new(io, move || actix_web::App::new().configure(configure(app_io.clone())))
///     .listen(listener)?
///     .run()
///     .await
/// # }
/// ```
#[must_use]
pub struct HttpServer<F, I, S, B> {
    factory: F,
    mounts: Vec<Mount>,
    observer: Option<Observer>,
    builder: ServerBuilder,
    graceful_shutdown: GracefulShutdownSignal,
    tcp_nodelay: Option<bool>,
    _types: AppTypes<I, S, B>,
}

impl<F, I, S, B> fmt::Debug for HttpServer<F, I, S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let paths: Vec<&str> = self.mounts.iter().map(|m| m.path).collect();
        f.debug_struct("HttpServer").field("websocket_paths", &paths).finish_non_exhaustive()
    }
}

impl<F, I, S, B> HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    /// A server for `io` and the app `factory` builds (once per worker thread).
    pub fn new(io: SocketIo, factory: F) -> Self {
        let builder = ServerBuilder::default();
        let graceful_shutdown = builder.graceful_shutdown_signal();
        let mounts = vec![Mount { path: "/socket.io", route: "/socket.io/", engine: io.engine() }];
        Self { factory, mounts, observer: None, builder, graceful_shutdown, tcp_nodelay: None, _types: PhantomData }
    }

    /// Also takes over WebSocket connections to `path` for `engine` (the conformance server's
    /// plain Engine.IO endpoint).
    pub(crate) fn mount(mut self, path: &'static str, route: &'static str, engine: Arc<Engine>) -> Self {
        self.mounts.push(Mount { path, route, engine });
        self
    }

    /// Calls `observer` for every upgrade request the server answers itself (the app's
    /// middleware does not see them), to log it or count it with the app's requests.
    pub fn on_upgrade(mut self, observer: impl Fn(&UpgradeRequest<'_>) + Send + Sync + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Worker threads (default: one per core), as [`actix_web::HttpServer::workers`].
    pub fn workers(mut self, workers: usize) -> Self {
        self.builder = self.builder.workers(workers);
        self
    }

    /// Sets `TCP_NODELAY` on every accepted connection.
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.tcp_nodelay = Some(enabled);
        self
    }

    /// Does not stop on SIGINT / SIGTERM (the caller stops the server).
    pub fn disable_signals(mut self) -> Self {
        self.builder = self.builder.disable_signals();
        self
    }

    /// Stops gracefully when `signal` resolves, as [`actix_web::HttpServer::shutdown_signal`].
    pub fn shutdown_signal<Fut>(mut self, signal: Fut) -> Self
    where
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.builder = self.builder.shutdown_signal(signal);
        self
    }

    /// Seconds connections get to finish after a stop before they are dropped (default 30).
    pub fn shutdown_timeout(mut self, seconds: u64) -> Self {
        self.builder = self.builder.shutdown_timeout(seconds);
        self
    }

    /// Serves on an already bound listener.
    pub fn listen(mut self, listener: net::TcpListener) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let factory = self.factory.clone();
        let takeover_of = Arc::new(Takeover { mounts: self.mounts.clone(), observer: self.observer.clone() });
        let graceful_shutdown = self.graceful_shutdown.clone();
        let tcp_nodelay = self.tcp_nodelay;
        self.builder = self.builder.listen(format!("socketio-http-{addr}"), listener, move || {
            let signal = graceful_shutdown.clone();
            // The same settings as actix-web's `HttpServer` gives its HTTP service.
            let mut service = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let signal = signal.clone();
                    async move { signal.notified().await }
                })
                .keep_alive(KeepAlive::default())
                .client_request_timeout(Duration::from_secs(5))
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(addr);
            if let Some(enabled) = tcp_nodelay {
                service = service.tcp_nodelay(enabled);
            }
            // Boxed: the connection's task holds the app's request future inline, sized for the
            // largest request state, for as long as the connection lives (WebSockets too). Boxed
            // it is one allocation per request, freed with the request.
            let app =
                actix_service::boxed::factory(factory().into_factory().map_err(|err| err.into().error_response()));
            service.upgrade(takeover(Arc::clone(&takeover_of))).finish(map_config(app, |()| AppConfig::default())).tcp()
        })?;
        Ok(self)
    }

    /// Starts the workers; the returned [`Server`] resolves when the server stops.
    pub fn run(self) -> Server {
        self.builder.run()
    }
}
