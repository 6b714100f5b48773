//! Wiring: builds the adapters the configuration asks for, plugs them into the services, and
//! serves HTTP until a shutdown signal, then flushes storage.
//!
//! With `REDIS_URL` the process is one node of a cluster: domain events go to this node's
//! sockets and, through Redis, to every other node's ([`adapter_redis::RedisNotifier`]); the
//! rate limit is one budget for the cluster ([`adapter_redis::RedisRateLimiter`]); presence
//! is summed over the nodes ([`adapter_redis::RedisPresence`]); and `GET /health` reports
//! Redis besides storage.
//!
//! `main.rs` only reads the configuration, binds the listener and calls [`run`]; tests bind
//! port 0 themselves and call [`serve`] with their own shutdown future.

pub mod config;
mod guards;
mod logging;
mod metrics;
pub mod migrate;
mod presence;

use std::future::Future;
use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{from_fn, Condition, Next};
use actix_web::{App, HttpServer};
use adapter_auth::JwtTokens;
use adapter_http::{Component, ComponentStatus, HealthCheck, HttpState};
use adapter_mongo::MongoStore;
use adapter_ratelimit::InProcessRateLimiter;
use adapter_redis::{LocalDelivery, RedisNode, RedisSettings};
use adapter_sqlite::SqliteStore;
use adapter_ws::gateway::{ChatGateway, DeliveryLedger, GatewayConfig, PacedReceipts, SocketNotifier};
use async_trait::async_trait;
use chat_domain::ports::{ChatRepository, MessageRepository, Notifier, RateLimiter, ReceiptRepository, UserRepository};
use chat_domain::{ServicePorts, Services, ServicesConfig, SystemClock};
use socketio::SocketIo;
use wire::delivery::Delivery;

pub use config::{Config, ConfigError, CorsOrigins, LogFormat, MetricsConfig, RedisUrl};
pub use logging::{init_buffered_tracing, init_tracing, LogGuard, QUEUED_LOG_LINES};

/// Seconds in-flight requests get to finish after a shutdown signal.
pub const SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// Serves until SIGINT or SIGTERM, then finishes in-flight requests and flushes storage.
pub async fn run(config: Config, listener: TcpListener) -> io::Result<()> {
    serve(config, listener, shutdown_signal()).await
}

/// The gateway's delivery to this node's sockets, as the cluster notifier's local half.
struct LocalSockets(SocketNotifier);

impl LocalDelivery for LocalSockets {
    fn deliver(&self, delivery: &Delivery) -> usize {
        self.0.deliver(delivery)
    }
}

/// Serves on `listener` until `shutdown` completes, then stops gracefully (in-flight requests
/// get [`SHUTDOWN_TIMEOUT_SECS`]), leaves the cluster's presence directory and flushes storage.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    if config.jwt_secret_generated {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this process only. Every token dies \
             with the process and nodes cannot share tokens. Set JWT_SECRET (32+ bytes) in production"
        );
    }

    // Before any adapter: the storage and limiter decorators register with the recorder.
    let recorder = match config.metrics {
        MetricsConfig::Off => None,
        MetricsConfig::MainPort | MetricsConfig::Port(_) => Some(metrics::install()?),
    };
    let measured = recorder.is_some();
    let store = Store::open(&config).await?;
    // The Socket.IO server exists before the services so the notifier can deliver to its rooms.
    // A cross-site page's WebSocket handshake gets no CORS check from the browser: with a list
    // of origins, the engine refuses the others itself, on both transports.
    let allowed_origins = match &config.cors {
        CorsOrigins::Any => None,
        CorsOrigins::List(origins) => Some(origins.clone()),
    };
    let max_pipelined_events = config.sockets.pipelined_sends(matches!(store, Store::Sqlite(_)));
    let io = SocketIo::new(socketio::EngineConfig {
        allowed_origins,
        max_pipelined_events,
        ..adapter_ws::gateway::engine_config()
    });
    // The notifier notes the chat rooms a `message:new` reached; the gateway writes the
    // server's own delivery receipts from that note once a second.
    // DELIVERY_RECEIPT_INTERVAL_MS=0 turns them off.
    let receipts_every = Duration::from_millis(u64::from(config.sockets.delivery_receipt_ms));
    let ledger = (!receipts_every.is_zero()).then(DeliveryLedger::new);
    let local = match &ledger {
        Some(ledger) => SocketNotifier::new(io.clone()).with_delivery_ledger(ledger.clone()),
        None => SocketNotifier::new(io.clone()),
    };
    // The gateway, built later, hears of the evictions this notifier applies (typing ends).
    let evictions = local.clone();
    let (notifier, limiter, redis): (Arc<dyn Notifier>, Arc<dyn RateLimiter>, _) = match &config.redis {
        None => (Arc::new(local), InProcessRateLimiter::per_minute(config.rate_limit_per_minute), None),
        Some(url) => {
            // Connects in the background: a node whose Redis is down starts degraded and
            // catches up with the cluster once Redis answers.
            let node = RedisNode::new(
                url.as_str(),
                RedisSettings {
                    secret: config.jwt_secret.as_bytes().to_vec(),
                    tls_root_ca: url.tls_root_ca().map(<[u8]>::to_vec),
                    ..RedisSettings::default()
                },
            )
            .map_err(io::Error::other)?;
            tracing::info!(node = node.node_id(), "cluster mode: events and rate limits go through Redis");
            let notifier = Arc::new(node.notifier(LocalSockets(local)));
            let fallback = InProcessRateLimiter::per_minute(config.rate_limit_per_minute);
            (notifier, node.rate_limiter(config.rate_limit_per_minute, fallback), Some(node))
        }
    };
    // `receipt:updated` at most once per participant and chat per window, whatever moved the
    // marker; everything else passes at once.
    let paced = PacedReceipts::new(notifier);
    paced.spawn();
    let notifier: Arc<dyn Notifier> = paced;
    let hasher = guards::hasher(&config.auth)?;
    let mut attempts = guards::attempt_limiter(&config.auth, redis.as_ref());
    let mut chat_creations = guards::chat_limiter(&config.chats, redis.as_ref());
    let (mut limiter, mut users, mut chats, mut messages, mut receipts) =
        (limiter, store.users(), store.chats(), store.messages(), store.receipts());
    if measured {
        limiter = metrics::CountedRateLimiter::wrap(limiter);
        attempts = metrics::CountedAttemptLimiter::wrap(attempts);
        chat_creations = metrics::CountedAttemptLimiter::wrap(chat_creations);
        users = metrics::TimedUsers::wrap(store.describe(), users);
        chats = metrics::TimedChats::wrap(store.describe(), chats);
        messages = metrics::TimedMessages::wrap(store.describe(), messages);
        receipts = metrics::TimedReceipts::wrap(store.describe(), receipts);
    }
    let ports = ServicePorts {
        users,
        chats,
        messages,
        receipts,
        notifier,
        limiter,
        hasher: Arc::new(hasher),
        tokens: Arc::new(JwtTokens::new(config.jwt_secret.as_bytes(), config.jwt_ttl)),
        clock: Arc::new(SystemClock),
    };
    let services_config = ServicesConfig { max_group_size: config.chats.max_group_size, ..ServicesConfig::default() };
    let mut services =
        Services::new(ports, services_config).with_attempt_limiter(attempts).with_chat_limiter(chat_creations);
    // In a cluster, presence is summed over the nodes in Redis, and dead nodes are swept.
    let mut cluster_presence = None;
    let presence_sweep = redis.as_ref().map(|node| {
        let periods = config.presence;
        let settings = adapter_redis::PresenceSettings {
            heartbeat: periods.heartbeat,
            node_ttl: periods.node_ttl,
            sweep: periods.sweep,
            // A node shutting down keeps its users as a single node keeps a user who
            // disconnected: those who reconnect elsewhere within it never appear offline.
            retire_grace: chat_domain::presence::PRESENCE_GRACE,
            ..adapter_redis::PresenceSettings::default()
        };
        let directory = node.presence_directory(settings);
        cluster_presence = Some(directory.clone());
        services = services.clone().with_presence_directory(directory);
        periods.sweep
    });
    // The dummy hash unknown emails' logins verify against, made once before serving.
    services.auth.prepare().await.map_err(|e| io::Error::other(format!("cannot prepare password hashing: {e}")))?;
    let gateway = GatewayConfig {
        max_sockets_per_user: config.sockets.per_user,
        max_sockets_per_address: config.sockets.per_address,
        events_per_second: config.sockets.events_per_second,
        event_burst: config.sockets.event_burst,
        delivery_receipt_interval: if receipts_every.is_zero() {
            GatewayConfig::default().delivery_receipt_interval
        } else {
            receipts_every
        },
        ..GatewayConfig::default()
    };
    presence::spawn(services.presence.clone(), presence_sweep);
    let mut gateway = ChatGateway::new(services.clone(), gateway);
    if let Some(ledger) = ledger {
        gateway = gateway.with_delivery_receipts(ledger);
    }
    evictions.attach(&gateway);
    gateway.mount(&io);
    let state = HttpState::new(services)
        .with_client_address(guards::client_address(&config.auth))
        .with_health(Arc::new(NodeHealth { store: store.clone(), redis: redis.clone() }));
    let cors = config.cors.clone();
    let scrape = recorder.map(|handle| metrics::Scrape { handle, io: io.clone(), redis });
    let (main_scrape, metrics_server) = match (config.metrics, scrape) {
        (MetricsConfig::Port(port), Some(scrape)) => (None, Some(metrics_server(&config.host, port, scrape)?)),
        (_, scrape) => (scrape, None),
    };

    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let io_app = io.clone();
    // The Socket.IO server's own HTTP server: the app's routes as usual, but WebSocket
    // connections leave actix's HTTP dispatcher (and its buffers) after their handshake.
    let server = socketio::HttpServer::new(io.clone(), move || {
        let main_scrape = main_scrape.clone();
        App::new()
            .wrap(Condition::new(measured, from_fn(adapter_http::record_request)))
            .wrap(cors_layer(&cors))
            .wrap(from_fn(log_request))
            .configure(|cfg| {
                if let Some(scrape) = main_scrape {
                    metrics::configure(scrape)(cfg);
                }
            })
            .configure(socketio::configure(io_app.clone()))
            .configure(adapter_http::configure(state.clone()))
            .configure(web_client::configure)
    })
    .on_upgrade(move |upgrade| log_upgrade(upgrade, measured))
    .shutdown_signal({
        // Close the long-lived Socket.IO sessions first, so graceful shutdown does not wait
        // out its timeout on WebSockets that would never finish by themselves.
        let io = io.clone();
        async move {
            shutdown.await;
            io.shutdown();
        }
    })
    .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
    // Chat traffic is many small frames: without TCP_NODELAY, Nagle's algorithm and delayed
    // ACKs hold small writes back for up to 40 ms, which capped throughput and set p99 latency.
    .tcp_nodelay(true)
    .listen(listener)?
    .run();

    tracing::info!(store = store.describe(), "listening on http://{address}");
    let served = server.await;
    // The sockets are closed: the other nodes may take this node's users over once the grace
    // has passed, rather than after its heartbeat's TTL as for a node that died.
    if let Some(presence) = cluster_presence {
        match presence.retire().await {
            Ok(()) => tracing::info!("left the presence directory"),
            Err(e) => tracing::warn!(error = %e, "could not leave the presence directory; the node's TTL applies"),
        }
    }
    if let Some(metrics) = metrics_server {
        metrics.stop(true).await;
    }
    tracing::info!("server stopped; flushing storage");
    store.flush().await.map_err(|e| io::Error::other(format!("cannot flush the database: {e}")))?;
    tracing::info!("storage flushed; bye");
    served
}

/// Serves `GET /metrics` alone on `host:port` (`METRICS_PORT`), on one worker, until stopped
/// through the returned handle.
fn metrics_server(host: &str, port: u16, scrape: metrics::Scrape) -> io::Result<actix_web::dev::ServerHandle> {
    let listener = TcpListener::bind((host, port))
        .map_err(|e| io::Error::other(format!("cannot bind METRICS_PORT {port} on {host}: {e}")))?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || App::new().configure(metrics::configure(scrape.clone())))
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    tracing::info!("metrics on http://{address}/metrics");
    Ok(handle)
}

/// Longest the storage probe of `GET /health` may take.
const STORAGE_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `GET /health` reports: storage (essential: without it the node cannot serve) and, in a
/// cluster, Redis (without it the node serves, degraded).
struct NodeHealth {
    store: Store,
    redis: Option<RedisNode>,
}

#[async_trait]
impl HealthCheck for NodeHealth {
    async fn check(&self) -> Vec<Component> {
        let redis = async {
            match &self.redis {
                Some(node) => Some(node.is_healthy().await),
                None => None,
            }
        };
        let (storage, redis) = tokio::join!(self.store.is_healthy(), redis);
        let mut components =
            vec![Component { name: "storage", status: ComponentStatus::up_if(storage), essential: true }];
        if let Some(up) = redis {
            components.push(Component { name: "redis", status: ComponentStatus::up_if(up), essential: false });
        }
        components
    }
}

/// The storage adapter the configuration picked: MongoDB when `MONGODB_URI` is set, else the
/// embedded SQLite store in `DATA_DIR`.
#[derive(Clone)]
enum Store {
    Sqlite(Arc<SqliteStore>),
    Mongo(Arc<MongoStore>),
}

impl Store {
    async fn open(config: &Config) -> io::Result<Self> {
        match &config.mongodb {
            None => {
                let store = SqliteStore::open(&config.data_dir).map_err(|e| {
                    io::Error::other(format!("cannot open the database in {}: {e}", config.data_dir.display()))
                })?;
                Ok(Self::Sqlite(Arc::new(store)))
            }
            Some(mongo) => {
                let store = MongoStore::connect(&mongo.uri, &mongo.database)
                    .await
                    .map_err(|e| io::Error::other(format!("cannot use MONGODB_URI: {e}")))?;
                // The first I/O: an unreachable server shows up here, after the selection timeout.
                store.ensure_indexes().await.map_err(|e| match e {
                    chat_domain::error::StoreError::Unavailable(_) => io::Error::other(format!(
                        "cannot reach MongoDB (MONGODB_URI, database {}); is it running and a replica set? {e}",
                        mongo.database
                    )),
                    chat_domain::error::StoreError::Other(_) => {
                        io::Error::other(format!("cannot create indexes in MongoDB database {}: {e}", mongo.database))
                    }
                })?;
                Ok(Self::Mongo(Arc::new(store)))
            }
        }
    }

    fn users(&self) -> Arc<dyn UserRepository> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Mongo(s) => s.clone(),
        }
    }

    fn chats(&self) -> Arc<dyn ChatRepository> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Mongo(s) => s.clone(),
        }
    }

    fn messages(&self) -> Arc<dyn MessageRepository> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Mongo(s) => s.clone(),
        }
    }

    fn receipts(&self) -> Arc<dyn ReceiptRepository> {
        match self {
            Self::Sqlite(s) => s.clone(),
            Self::Mongo(s) => s.clone(),
        }
    }

    /// Whether the database answers: MongoDB must answer a ping within
    /// [`STORAGE_PROBE_TIMEOUT`]; the embedded store is a file this process holds open.
    async fn is_healthy(&self) -> bool {
        match self {
            Self::Sqlite(_) => true,
            Self::Mongo(s) => matches!(tokio::time::timeout(STORAGE_PROBE_TIMEOUT, s.ping()).await, Ok(Ok(()))),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Mongo(_) => "mongodb",
        }
    }

    /// Makes everything written durable in the main files (SQLite checkpoints its WAL; MongoDB
    /// acknowledged every write durably already).
    async fn flush(&self) -> Result<(), chat_domain::error::StoreError> {
        match self {
            Self::Sqlite(s) => s.flush().await,
            Self::Mongo(_) => Ok(()),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received; shutting down"),
        () = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}

/// Browsers on other origins (a frontend dev server on :3000) may call the API, as they could
/// with the NestJS backend's `enableCors()`; `Retry-After` is readable by their scripts.
fn cors_layer(origins: &CorsOrigins) -> Cors {
    let cors =
        Cors::default().allow_any_method().allow_any_header().expose_headers([header::RETRY_AFTER]).max_age(3600);
    match origins {
        CorsOrigins::Any => cors.allow_any_origin(),
        CorsOrigins::List(list) => {
            let list = list.clone();
            cors.allowed_origin_fn(move |origin, _| {
                origin.to_str().is_ok_and(|origin| list.iter().any(|allowed| allowed == origin))
            })
        }
    }
}

/// For a WebSocket handshake, which the Socket.IO server answers without the app's middleware:
/// the same request line as [`log_request`], and the same observation as
/// `adapter_http::record_request` when metrics are on.
fn log_upgrade(upgrade: &socketio::UpgradeRequest<'_>, measured: bool) {
    let elapsed = upgrade.elapsed.as_secs_f64();
    tracing::info!(method = %upgrade.method, path = upgrade.path, status = upgrade.status, elapsed_ms = elapsed * 1000.0, "request");
    if measured {
        let method = if upgrade.method == actix_web::http::Method::GET { "GET" } else { "other" };
        let route = upgrade.route.unwrap_or("unmatched");
        ::metrics::histogram!(adapter_http::REQUEST_DURATION, "method" => method, "route" => route, "status" => upgrade.status.to_string())
            .record(elapsed);
    }
}

/// One line per request: method, path (never the query string, which may carry a token),
/// status and duration.
async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().clone();
    let path = req.path().to_owned();
    let started = Instant::now();
    let response = next.call(req).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &response {
        Ok(response) => {
            tracing::info!(%method, %path, status = response.status().as_u16(), elapsed_ms, "request")
        }
        Err(error) => tracing::warn!(%method, %path, %error, elapsed_ms, "request failed"),
    }
    response
}
