//! Wiring of the guards of registration and login: the hashing pool, the attempt limiter (in
//! process, or shared through Redis in a cluster) and where client addresses come from.

use std::io;
use std::sync::Arc;

use adapter_auth::{Argon2Hasher, PoolConfig};
use adapter_http::ClientAddress;
use adapter_ratelimit::{AttemptBudgets, InProcessAttemptLimiter};
use adapter_redis::RedisNode;
use chat_domain::ports::AttemptLimiter;

use crate::config::AuthConfig;

/// Callers waiting for a hashing thread, per thread, before more are refused at once. Waiting
/// costs a task and a password in memory, not a hash; the wait itself is `HASH_QUEUE_WAIT_MS`.
const WAITING_PER_HASH_THREAD: usize = 64;

/// Starts the hashing threads `HASH_THREADS` and `HASH_QUEUE_WAIT_MS` ask for.
pub(crate) fn hasher(auth: &AuthConfig) -> io::Result<Argon2Hasher> {
    let config = PoolConfig {
        threads: auth.hash_threads,
        queue_wait: auth.hash_queue_wait,
        max_waiting: auth.hash_threads.saturating_mul(WAITING_PER_HASH_THREAD),
    };
    let hasher = Argon2Hasher::start(config)
        .map_err(|e| io::Error::other(format!("cannot start {} password hashing threads: {e}", auth.hash_threads)))?;
    tracing::info!(threads = config.threads, queue_wait_ms = config.queue_wait.as_millis(), "password hashing pool");
    Ok(hasher)
}

/// The attempt limiter: this node's budgets alone, or, in a cluster, the budgets in Redis with
/// this node's as the fallback while Redis does not answer.
pub(crate) fn attempt_limiter(auth: &AuthConfig, redis: Option<&RedisNode>) -> Arc<dyn AttemptLimiter> {
    let budgets = AttemptBudgets {
        per_email_per_minute: auth.per_email_per_minute,
        per_address_per_minute: auth.per_address_per_minute,
    };
    let local = InProcessAttemptLimiter::shared(budgets);
    match redis {
        None => local,
        Some(node) => node.attempt_limiter(budgets.per_email_per_minute, budgets.per_address_per_minute, local),
    }
}

/// Where the client address of an attempt comes from: the peer, unless `TRUST_PROXY` is set.
pub(crate) fn client_address(auth: &AuthConfig) -> ClientAddress {
    if auth.trust_proxy {
        ClientAddress::LastForwardedFor
    } else {
        ClientAddress::Peer
    }
}
