//! Prometheus metrics: the exporter, `GET /metrics`, and what is measured at scrape time.
//!
//! Adapters record through the `metrics` facade (static names and labels, so recording costs
//! an atomic add, or a lock-free histogram push, and no allocation); this module installs the
//! Prometheus recorder that collects it all, serves its text exposition through actix-web, and
//! right before rendering reads what is cheaper to sample than to count: sockets, sessions by
//! transport and rooms from the Socket.IO server, and its shed frames and slow consumers, and
//! Redis's counters from the cluster node. The storage and limiter decorators are in
//! `storage` and `limiters`. Every metric is listed in `docs/operations.md`.

mod limiters;
mod storage;

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::{http::header, web, HttpResponse};
use adapter_redis::RedisNode;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use socketio::SocketIo;

pub(crate) use limiters::{CountedAttemptLimiter, CountedRateLimiter};
pub(crate) use storage::{TimedChats, TimedMessages, TimedReceipts, TimedUsers};

/// Latency buckets, in seconds: from a cached SQLite read to a slow MongoDB transaction or a
/// long poll.
const SECONDS_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Writes per SQLite group commit: 1 when idle, up to the writer's batch bound under load.
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// How often recorded histogram samples are folded into their buckets when nobody scrapes, so
/// that an unscraped node does not keep every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide recorder. The `metrics` facade has one global recorder, so it is installed
/// once per process; a second server in the same process (tests) shares it.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and starts its upkeep; returns the
/// handle that renders the exposition. Call from inside the Tokio runtime, before building
/// the adapters (the decorators register their handles with the installed recorder).
pub(crate) fn install() -> io::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("chat_sqlite_write_batch_size".to_owned()), &BATCH_BUCKETS)
        })
        .map_err(|e| io::Error::other(format!("cannot configure the metrics exporter: {e}")))?
        .build_recorder();
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Another recorder was installed by this process: recordings go there, not here.
        return Err(io::Error::other("a metrics recorder is already installed in this process"));
    }
    describe();
    let handle = HANDLE.get_or_init(|| handle).clone();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The `# HELP` line of every metric.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!("chat_sockets_connected", "Socket.IO sockets connected to this node");
    describe_gauge!("chat_engineio_sessions", "Engine.IO sessions open on this node, by transport");
    describe_gauge!("chat_rooms", "Non-empty Socket.IO rooms on this node");
    describe_counter!("chat_messages_accepted_total", "Messages stored and sent, by transport (http, socketio)");
    describe_counter!("chat_deliveries_total", "Frames queued for sockets of this node by event deliveries");
    describe_counter!(
        "chat_droppable_frames_dropped_total",
        "Typing and receipt frames discarded for a full outbound queue"
    );
    describe_counter!("chat_slow_consumers_disconnected_total", "Connections closed for not reading fast enough");
    describe_counter!("chat_catchup_replays_total", "chat:join with sinceSeq, by outcome (recovered, not_recovered)");
    describe_counter!("chat_rate_limited_total", "Requests and events refused by a rate limit, by kind");
    describe_histogram!(
        adapter_http::REQUEST_DURATION,
        Unit::Seconds,
        "HTTP requests by method, route template and status, and their latency"
    );
    describe_histogram!(storage::OPERATION_DURATION, Unit::Seconds, "Storage calls by store and operation");
    describe_histogram!("chat_sqlite_write_batch_size", "Writes committed together by one SQLite transaction");
    describe_counter!("chat_redis_publish_failures_total", "Events whose PUBLISH to Redis failed or timed out");
    describe_counter!("chat_redis_publish_dropped_total", "Events not published: the publish queue was full");
    describe_counter!("chat_redis_reconnects_total", "Resubscriptions to the Redis events channel after a loss");
    describe_counter!("chat_redis_limiter_fallbacks_total", "Rate-limit checks the local fallback answered");
}

/// What `GET /metrics` reads besides the recorder.
#[derive(Clone)]
pub(crate) struct Scrape {
    pub(crate) handle: PrometheusHandle,
    pub(crate) io: SocketIo,
    pub(crate) redis: Option<RedisNode>,
}

impl Scrape {
    /// Samples the Socket.IO server and Redis, then renders every metric.
    fn render(&self) -> String {
        let stats = self.io.stats();
        metrics::gauge!("chat_sockets_connected").set(self.io.socket_count() as f64);
        metrics::gauge!("chat_rooms").set(self.io.room_count() as f64);
        metrics::gauge!("chat_engineio_sessions", "transport" => "polling").set(stats.polling_sessions as f64);
        metrics::gauge!("chat_engineio_sessions", "transport" => "websocket").set(stats.websocket_sessions as f64);
        // The droppable frames: typing indicators, receipt:updated and chat:unread.
        metrics::counter!("chat_droppable_frames_dropped_total").absolute(stats.dropped_frames);
        metrics::counter!("chat_slow_consumers_disconnected_total").absolute(stats.slow_consumers);
        if let Some(node) = &self.redis {
            let redis = node.stats();
            metrics::counter!("chat_redis_publish_failures_total").absolute(redis.publish_failures);
            metrics::counter!("chat_redis_publish_dropped_total").absolute(redis.dropped);
            // The first subscription is the start, every later one a reconnect.
            metrics::counter!("chat_redis_reconnects_total").absolute(redis.subscriptions.saturating_sub(1));
            metrics::counter!("chat_redis_limiter_fallbacks_total").absolute(redis.limiter_fallbacks);
        }
        self.handle.render()
    }
}

/// `GET /metrics`: the Prometheus text exposition format.
async fn metrics_endpoint(scrape: web::Data<Scrape>) -> HttpResponse {
    let body = scrape.render();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Mounts `GET /metrics`.
pub(crate) fn configure(scrape: Scrape) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(scrape)).service(web::resource("/metrics").route(web::get().to(metrics_endpoint)));
    }
}
