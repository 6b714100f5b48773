//! The cluster rate limiters: the same GCRA budgets as the in-process limiters (a burst of N,
//! then one more every 60/N seconds), kept in Redis so that every node draws from one budget
//! per key: messages per user ([`RedisRateLimiter`]), and registration and login attempts per
//! email and per client address and user searches per user ([`RedisAttemptLimiter`]). When Redis does not answer in time,
//! the in-process limiter the app injects decides instead.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, NoAttemptLimit, RateLimited, RateLimiter, Unlimited};
use chat_domain::UserId;
use parking_lot::Mutex;

use crate::status::Counters;
use crate::RedisNode;

const SCRIPT: &str = include_str!("gcra.lua");

/// A budget as the script takes it.
#[derive(Debug, Clone, Copy)]
struct Budget {
    interval_micros: u64,
    burst: u32,
}

impl Budget {
    fn per_minute(per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(Self { interval_micros: 60_000_000 / u64::from(n.get()), burst: n.get() })
    }
}

/// One GCRA step per call on any key, with the fallback bookkeeping every cluster limiter
/// shares: after Redis fails to answer, it is left alone for
/// [`limiter_retry`](crate::RedisSettings::limiter_retry) and the caller's fallback decides.
struct Gcra {
    node: RedisNode,
    script: redis::Script,
    skip_redis_until: Mutex<Option<Instant>>,
}

impl Gcra {
    fn new(node: RedisNode) -> Self {
        Self { node, script: redis::Script::new(SCRIPT), skip_redis_until: Mutex::new(None) }
    }

    /// Redis's decision for `key`, or `None` when the caller's fallback must decide.
    async fn decide(&self, key: String, budget: Budget) -> Option<Result<(), RateLimited>> {
        let status = &self.node.shared.status;
        let skip = self.skip_redis_until.lock().is_some_and(|until| Instant::now() < until);
        if !skip {
            match self.ask_redis(key, budget).await {
                Ok(refused) => {
                    if self.skip_redis_until.lock().take().is_some() {
                        status.limiter_log.reset();
                        tracing::info!("the cluster rate limiter reaches Redis again");
                    }
                    return Some(match refused {
                        None => Ok(()),
                        Some(retry_after) => Err(RateLimited { retry_after }),
                    });
                }
                Err(error) => {
                    let retry = self.node.shared.settings.limiter_retry;
                    *self.skip_redis_until.lock() = Some(Instant::now() + retry);
                    if let Some(held_back) = status.limiter_log.admit() {
                        tracing::warn!(
                            %error,
                            held_back,
                            "the rate limiter cannot reach Redis; this node limits on its own meanwhile"
                        );
                    }
                }
            }
        }
        Counters::add(&status.counters.limiter_fallbacks, 1);
        None
    }

    /// One GCRA step in Redis: `Ok(None)` allowed, `Ok(Some(wait))` refused.
    async fn ask_redis(&self, key: String, budget: Budget) -> Result<Option<Duration>, String> {
        let shared = &self.node.shared;
        let mut commands = shared.commands.clone();
        let mut invocation = self.script.key(key);
        invocation.arg(budget.interval_micros).arg(budget.burst);
        let call = invocation.invoke_async::<u64>(&mut commands);
        match tokio::time::timeout(shared.settings.command_timeout, call).await {
            Ok(Ok(0)) => Ok(None),
            Ok(Ok(micros)) => Ok(Some(Duration::from_micros(micros).max(Duration::from_millis(1)))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", shared.settings.command_timeout)),
        }
    }
}

/// Budgets sends per user across the cluster with one atomic script call per send (EVALSHA,
/// loading the script again after a Redis restart), on keys `<key_prefix><userId>`.
///
/// Never fails a send because of Redis: when a call errs or takes longer than the command
/// timeout, this node's in-process limiter answers, and keeps answering alone for
/// [`limiter_retry`](crate::RedisSettings::limiter_retry) before Redis is asked again. While it
/// does, each node enforces the budget on its own, so a user spreading sends over N nodes
/// could get up to N budgets.
pub struct RedisRateLimiter {
    gcra: Gcra,
    budget: Budget,
    fallback: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").field("burst", &self.budget.burst).finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter allowing `per_minute` sends per user per minute over the whole cluster, or
    /// none at all for 0. `fallback` decides while Redis does not answer; it should hold the
    /// same budget for this node alone.
    pub fn per_minute(node: RedisNode, per_minute: u32, fallback: Arc<dyn RateLimiter>) -> Arc<dyn RateLimiter> {
        match Budget::per_minute(per_minute) {
            Some(budget) => Arc::new(Self { gcra: Gcra::new(node), budget, fallback }),
            None => Arc::new(Unlimited),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        let key = format!("{}{user}", self.gcra.node.shared.settings.key_prefix);
        match self.gcra.decide(key, self.budget).await {
            Some(decision) => decision,
            None => self.fallback.acquire(user).await,
        }
    }
}

/// Budgets registration and login attempts and user searches across the cluster, one GCRA
/// budget per email (keys `<attempt_key_prefix>email:<email>`), per client address
/// (`<attempt_key_prefix>addr:<address>`) and per searching user
/// (`<attempt_key_prefix>search:<userId>`), with the same fallback as [`RedisRateLimiter`]:
/// while Redis does not answer, `fallback` (this node's own budgets) decides. Chat creations
/// per creating user (`<attempt_key_prefix>chat:<userId>`) are budgeted by a limiter of their
/// own, [`RedisAttemptLimiter::chat_creations_per_minute`].
pub struct RedisAttemptLimiter {
    gcra: Gcra,
    per_email: Option<Budget>,
    per_address: Option<Budget>,
    per_searcher: Option<Budget>,
    per_creator: Option<Budget>,
    fallback: Arc<dyn AttemptLimiter>,
}

impl std::fmt::Debug for RedisAttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAttemptLimiter")
            .field("per_email", &self.per_email.map(|b| b.burst))
            .field("per_address", &self.per_address.map(|b| b.burst))
            .field("per_searcher", &self.per_searcher.map(|b| b.burst))
            .field("per_creator", &self.per_creator.map(|b| b.burst))
            .finish_non_exhaustive()
    }
}

impl RedisAttemptLimiter {
    /// A limiter of `per_email_per_minute` attempts per email, `per_address_per_minute` per
    /// client address and `searches_per_user_per_minute` user searches per user over the whole
    /// cluster (`0` turns that kind off; all off never limits). `fallback` decides while Redis
    /// does not answer; it should hold the same budgets.
    pub fn per_minute(
        node: RedisNode,
        per_email_per_minute: u32,
        per_address_per_minute: u32,
        searches_per_user_per_minute: u32,
        fallback: Arc<dyn AttemptLimiter>,
    ) -> Arc<dyn AttemptLimiter> {
        let per_email = Budget::per_minute(per_email_per_minute);
        let per_address = Budget::per_minute(per_address_per_minute);
        let per_searcher = Budget::per_minute(searches_per_user_per_minute);
        if per_email.is_none() && per_address.is_none() && per_searcher.is_none() {
            return Arc::new(NoAttemptLimit);
        }
        Arc::new(Self { gcra: Gcra::new(node), per_email, per_address, per_searcher, per_creator: None, fallback })
    }

    /// A limiter of `per_minute` new chats per creating user over the whole cluster
    /// ([`AttemptKey::ChatCreate`]; every other kind passes), or none at all for 0. `fallback`
    /// decides while Redis does not answer; it should hold the same budget.
    pub fn chat_creations_per_minute(
        node: RedisNode,
        per_minute: u32,
        fallback: Arc<dyn AttemptLimiter>,
    ) -> Arc<dyn AttemptLimiter> {
        match Budget::per_minute(per_minute) {
            Some(budget) => Arc::new(Self {
                gcra: Gcra::new(node),
                per_email: None,
                per_address: None,
                per_searcher: None,
                per_creator: Some(budget),
                fallback,
            }),
            None => Arc::new(NoAttemptLimit),
        }
    }
}

#[async_trait]
impl AttemptLimiter for RedisAttemptLimiter {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        let prefix = &self.gcra.node.shared.settings.attempt_key_prefix;
        let (budget, redis_key) = match key {
            AttemptKey::Email(email) => (self.per_email, format!("{prefix}email:{email}")),
            AttemptKey::Address(ip) => (self.per_address, format!("{prefix}addr:{ip}")),
            AttemptKey::Search(user) => (self.per_searcher, format!("{prefix}search:{user}")),
            AttemptKey::ChatCreate(user) => (self.per_creator, format!("{prefix}chat:{user}")),
        };
        let Some(budget) = budget else { return Ok(()) };
        match self.gcra.decide(redis_key, budget).await {
            Some(decision) => decision,
            None => self.fallback.acquire(key).await,
        }
    }
}
