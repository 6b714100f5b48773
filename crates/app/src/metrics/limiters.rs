//! Rate-limit refusals by kind, `chat_rate_limited_total{kind}`: the limiter ports wrapped in
//! decorators that count each refusal (never the key: no user, email or address in a label).
//! The gateway counts its per-socket event budget itself (`kind="socket_events"`).

use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, RateLimited, RateLimiter};
use chat_domain::UserId;
use metrics::Counter;

/// The refusal counter.
pub(crate) const RATE_LIMITED: &str = "chat_rate_limited_total";

fn refusals(kind: &'static str) -> Counter {
    metrics::counter!(RATE_LIMITED, "kind" => kind)
}

/// The message budget (`kind="messages"`), HTTP and Socket.IO sends alike.
pub(crate) struct CountedRateLimiter {
    inner: Arc<dyn RateLimiter>,
    refused: Counter,
}

impl CountedRateLimiter {
    pub(crate) fn wrap(inner: Arc<dyn RateLimiter>) -> Arc<dyn RateLimiter> {
        Arc::new(Self { inner, refused: refusals("messages") })
    }
}

#[async_trait]
impl RateLimiter for CountedRateLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        let result = self.inner.acquire(user).await;
        if result.is_err() {
            self.refused.increment(1);
        }
        result
    }
}

/// An attempt limiter, counted by the kind of key refused: `auth_email`, `auth_address`,
/// `search`, `chat_create`.
pub(crate) struct CountedAttemptLimiter {
    inner: Arc<dyn AttemptLimiter>,
    email: Counter,
    address: Counter,
    search: Counter,
    chat_create: Counter,
}

impl CountedAttemptLimiter {
    pub(crate) fn wrap(inner: Arc<dyn AttemptLimiter>) -> Arc<dyn AttemptLimiter> {
        Arc::new(Self {
            inner,
            email: refusals("auth_email"),
            address: refusals("auth_address"),
            search: refusals("search"),
            chat_create: refusals("chat_create"),
        })
    }
}

#[async_trait]
impl AttemptLimiter for CountedAttemptLimiter {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        let result = self.inner.acquire(key).await;
        if result.is_err() {
            match key {
                AttemptKey::Email(_) => &self.email,
                AttemptKey::Address(_) => &self.address,
                AttemptKey::Search(_) => &self.search,
                AttemptKey::ChatCreate(_) => &self.chat_create,
            }
            .increment(1);
        }
        result
    }
}
