//! Wiring of the guards of registration and login: the hashing pool, the attempt limiter (in
//! process, or shared through Redis in a cluster) and where client addresses come from; and of
//! chat creation's budget, limited the same way.

use std::io;
use std::sync::Arc;

use adapter_auth::{Argon2Hasher, PoolConfig};
use adapter_http::ClientAddress;
use adapter_ratelimit::{AttemptBudgets, InProcessAttemptLimiter};
use adapter_redis::{RedisAttemptLimiter, RedisNode};
use chat_domain::ports::{AttemptLimiter, NoAttemptLimit};

use crate::config::{AuthConfig, ChatConfig};

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

/// The attempt limiter (registration, login and user search budgets): this node's budgets
/// alone, or, in a cluster, the budgets in Redis with this node's as the fallback while Redis
/// does not answer.
pub(crate) fn attempt_limiter(auth: &AuthConfig, redis: Option<&RedisNode>) -> Arc<dyn AttemptLimiter> {
    let budgets = AttemptBudgets {
        per_email_per_minute: auth.per_email_per_minute,
        per_address_per_minute: auth.per_address_per_minute,
        searches_per_user_per_minute: auth.searches_per_user_per_minute,
    };
    let local = InProcessAttemptLimiter::shared(budgets);
    match redis {
        None => local,
        Some(node) => node.attempt_limiter(
            budgets.per_email_per_minute,
            budgets.per_address_per_minute,
            budgets.searches_per_user_per_minute,
            local,
        ),
    }
}

/// The budget of chat creations per user (`CHAT_CREATE_LIMIT_PER_MINUTE`): a limiter of its own
/// (its keys never meet the attempt limiter's), this node's alone or, in a cluster, in Redis
/// with this node's as the fallback while Redis does not answer.
pub(crate) fn chat_limiter(chats: &ChatConfig, redis: Option<&RedisNode>) -> Arc<dyn AttemptLimiter> {
    if chats.create_per_minute == 0 {
        return Arc::new(NoAttemptLimit);
    }
    let local: Arc<dyn AttemptLimiter> =
        Arc::new(InProcessAttemptLimiter::new(AttemptBudgets::default()).with_chat_creations(chats.create_per_minute));
    match redis {
        None => local,
        Some(node) => RedisAttemptLimiter::chat_creations_per_minute(node.clone(), chats.create_per_minute, local),
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
