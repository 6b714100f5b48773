//! Scale-out over Redis: many app nodes behind a load balancer share one Redis, through which
//! every node's domain events reach every node's sockets, and through which the message rate
//! limit holds for the cluster as a whole.
//!
//! * [`RedisNode`] is one node's handle on Redis: a random node id, one multiplexed command
//!   connection (reconnecting by itself) and the counters and state behind `/health`.
//! * [`RedisNotifier`] implements the domain's `Notifier` port: it delivers each event to this
//!   node's sockets directly and PUBLISHes it once (never once per recipient) on the events
//!   channel, tagged with the node id; its subscriber task delivers what other nodes publish
//!   and skips its own messages, so every socket gets each event once.
//! * [`RedisRateLimiter`] implements the `RateLimiter` port with one atomic GCRA script per
//!   send, so all nodes draw from one budget per user; [`RedisAttemptLimiter`] implements the
//!   `AttemptLimiter` port with the same script, one budget per email and per client address
//!   for registration and login.
//!
//! Redis is never on the critical path of a send: publishing goes through a bounded queue and
//! never waits, the limiter falls back to the in-process one when Redis does not answer in
//! time, and the subscriber reconnects and resubscribes by itself with backoff. Errors are
//! logged at most once per [`RedisSettings::log_every`] per kind. What a client misses while
//! pub/sub is down it recovers with `chat:join {chatId, sinceSeq}` (see `docs/deployment.md`).

mod envelope;
mod limiter;
mod notifier;
mod presence;
mod status;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use limiter::{RedisAttemptLimiter, RedisRateLimiter};
pub use notifier::{LocalDelivery, RedisNotifier};
pub use presence::{PresenceSettings, RedisPresence};
pub use status::RedisStats;

use status::Status;

/// Tunables, with production defaults.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// The pub/sub channel every node publishes to and subscribes to.
    pub channel: String,
    /// Prefix of the rate limiter's per-user keys.
    pub key_prefix: String,
    /// Prefix of the attempt limiter's keys (`email:<email>`, `addr:<address>` follow it).
    pub attempt_key_prefix: String,
    /// Longest a rate-limit check or a PUBLISH waits for Redis before it counts as failed.
    pub command_timeout: Duration,
    /// Events waiting to be published; when full, further events are not published (they are
    /// still delivered locally) until the queue drains.
    pub publish_queue: usize,
    /// Most events sent to Redis in one pipeline (each is still its own PUBLISH).
    pub publish_batch: usize,
    /// First delay before the subscriber reconnects; doubled per failure up to `reconnect_max`.
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    /// How long connecting and subscribing may take before the attempt counts as failed.
    pub connect_timeout: Duration,
    /// The subscriber pings its connection this often, to notice a connection that died
    /// without being closed.
    pub keepalive: Duration,
    /// After Redis failed to answer the limiter, the in-process fallback decides alone for
    /// this long before Redis is asked again, so sends do not each wait for a timeout.
    pub limiter_retry: Duration,
    /// At most one error line per kind (publish, subscribe, limiter, full queue) per this.
    pub log_every: Duration,
    /// The secret every node of the cluster shares (app passes `JWT_SECRET`): envelopes on the
    /// events channel are signed with a key derived from it, and unsigned ones are dropped.
    /// Required: an empty secret is refused by [`RedisNode::new`].
    pub secret: Vec<u8>,
    /// How old (or how far ahead, by the receiving node's clock) a signed envelope may be
    /// before it counts as a replay and is dropped.
    pub envelope_max_age: Duration,
    /// For a `rediss://` URL: the certificate authorities (PEM) to trust instead of the
    /// system's roots, for a Redis whose certificate a private CA signed
    /// (`REDIS_TLS_CA_FILE`). `None`: the system's roots. Ignored for `redis://`.
    pub tls_root_ca: Option<Vec<u8>>,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            channel: "chat:events".to_owned(),
            key_prefix: "chat:ratelimit:".to_owned(),
            attempt_key_prefix: "chat:auth-attempts:".to_owned(),
            command_timeout: Duration::from_millis(250),
            publish_queue: 4_096,
            publish_batch: 256,
            reconnect_min: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            keepalive: Duration::from_secs(5),
            limiter_retry: Duration::from_secs(1),
            log_every: Duration::from_secs(10),
            secret: Vec::new(),
            envelope_max_age: Duration::from_secs(60),
            tls_root_ca: None,
        }
    }
}

/// `REDIS_URL` could not be used. The URL itself is never part of the message: it may hold a
/// password.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct InvalidRedisUrl(String);

/// One node's handle on Redis. Cheap to clone; every clone shares the node id, the command
/// connection and the state.
#[derive(Clone)]
pub struct RedisNode {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) node_id: String,
    pub(crate) client: redis::Client,
    pub(crate) commands: ConnectionManager,
    pub(crate) settings: RedisSettings,
    pub(crate) status: Status,
    pub(crate) sealer: envelope::Sealer,
}

impl std::fmt::Debug for RedisNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisNode").field("node_id", &self.shared.node_id).finish_non_exhaustive()
    }
}

impl RedisNode {
    /// Prepares the connection to the Redis at `url` without connecting: the node starts even
    /// when Redis is down, and connects (and keeps reconnecting) in the background. Call from
    /// inside a Tokio runtime that lives as long as the node.
    pub fn new(url: &str, settings: RedisSettings) -> Result<Self, InvalidRedisUrl> {
        let sealer = envelope::Sealer::new(&settings.secret, settings.envelope_max_age)
            .ok_or_else(|| InvalidRedisUrl("a cluster secret is required to sign events".to_owned()))?;
        // `rediss://` connects over TLS (rustls; the system's roots unless a CA is given), and a
        // password in the URL (`redis://:pw@host`, `rediss://user:pw@host`) is sent with AUTH.
        let client = match &settings.tls_root_ca {
            Some(ca) if url.starts_with("rediss://") => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates { client_tls: None, root_cert: Some(ca.clone()) },
            ),
            _ => redis::Client::open(url),
        }
        .map_err(|e| InvalidRedisUrl(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.connect_timeout))
            .set_number_of_retries(1)
            .set_min_delay(settings.reconnect_min)
            .set_max_delay(settings.reconnect_max);
        let commands = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| InvalidRedisUrl(e.to_string()))?;
        let node_id = format!("{:032x}", rand::random::<u128>());
        let status = Status::new(settings.log_every);
        Ok(Self { shared: Arc::new(Shared { node_id, client, commands, settings, status, sealer }) })
    }

    /// The random id this node tags its publications with; new per process.
    pub fn node_id(&self) -> &str {
        &self.shared.node_id
    }

    /// Counters since start, for tests and measurements.
    pub fn stats(&self) -> RedisStats {
        self.shared.status.snapshot()
    }

    /// Whether a subscriber of this node is subscribed to the events channel right now.
    pub fn is_subscribed(&self) -> bool {
        self.shared.status.is_subscribed()
    }

    /// True when Redis answers a PING within the command timeout and, if a notifier was
    /// started on this node, its subscriber is subscribed: events flow both ways.
    pub async fn is_healthy(&self) -> bool {
        if self.shared.status.subscriber_started() && !self.shared.status.is_subscribed() {
            return false;
        }
        let mut commands = self.shared.commands.clone();
        let command = redis::cmd("PING");
        let ping = command.query_async::<String>(&mut commands);
        matches!(tokio::time::timeout(self.shared.settings.command_timeout, ping).await, Ok(Ok(_)))
    }

    /// A cluster notifier over `local`, with its publisher and subscriber tasks started; see
    /// [`RedisNotifier`].
    pub fn notifier<L: LocalDelivery>(&self, local: L) -> RedisNotifier {
        RedisNotifier::start(self.clone(), Arc::new(local))
    }

    /// A cluster-wide limiter of `per_minute` sends per user (0: unlimited), with `fallback`
    /// deciding while Redis does not answer; see [`RedisRateLimiter`].
    pub fn rate_limiter(
        &self,
        per_minute: u32,
        fallback: Arc<dyn chat_domain::ports::RateLimiter>,
    ) -> Arc<dyn chat_domain::ports::RateLimiter> {
        RedisRateLimiter::per_minute(self.clone(), per_minute, fallback)
    }

    /// A cluster-wide limiter of registration and login attempts per email and per client
    /// address, and of user searches per user (each 0: off), with `fallback` deciding while
    /// Redis does not answer; see [`RedisAttemptLimiter`].
    pub fn attempt_limiter(
        &self,
        per_email_per_minute: u32,
        per_address_per_minute: u32,
        searches_per_user_per_minute: u32,
        fallback: Arc<dyn chat_domain::ports::AttemptLimiter>,
    ) -> Arc<dyn chat_domain::ports::AttemptLimiter> {
        RedisAttemptLimiter::per_minute(
            self.clone(),
            per_email_per_minute,
            per_address_per_minute,
            searches_per_user_per_minute,
            fallback,
        )
    }

    /// The cluster's presence directory, with this node's heartbeat started; see
    /// [`RedisPresence`]. The app sweeps dead nodes through it every `settings.sweep`.
    pub fn presence_directory(&self, settings: PresenceSettings) -> Arc<RedisPresence> {
        RedisPresence::start(self.clone(), settings)
    }
}
