//! The cluster rate limiter: the same GCRA budget as the in-process limiter (a burst of N, then
//! one more every 60/N seconds), kept in Redis so that every node draws from one budget per
//! user. When Redis does not answer in time, the in-process limiter decides instead.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_domain::ports::{RateLimited, RateLimiter, Unlimited};
use chat_domain::UserId;
use parking_lot::Mutex;

use crate::status::Counters;
use crate::RedisNode;

const SCRIPT: &str = include_str!("gcra.lua");

/// Budgets sends per user across the cluster with one atomic script call per send (EVALSHA,
/// loading the script again after a Redis restart).
///
/// Never fails a send because of Redis: when a call errs or takes longer than the command
/// timeout, this node's in-process limiter answers, and keeps answering alone for
/// [`limiter_retry`](crate::RedisSettings::limiter_retry) before Redis is asked again. While it
/// does, each node enforces the budget on its own, so a user spreading sends over N nodes
/// could get up to N budgets.
pub struct RedisRateLimiter {
    node: RedisNode,
    script: redis::Script,
    interval_micros: u64,
    burst: u32,
    fallback: Arc<dyn RateLimiter>,
    skip_redis_until: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").field("burst", &self.burst).finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter allowing `per_minute` sends per user per minute over the whole cluster, or
    /// none at all for 0. `fallback` decides while Redis does not answer; it should hold the
    /// same budget for this node alone.
    pub fn per_minute(node: RedisNode, per_minute: u32, fallback: Arc<dyn RateLimiter>) -> Arc<dyn RateLimiter> {
        match NonZeroU32::new(per_minute) {
            Some(n) => Arc::new(Self::new(node, n, fallback)),
            None => Arc::new(Unlimited),
        }
    }

    fn new(node: RedisNode, per_minute: NonZeroU32, fallback: Arc<dyn RateLimiter>) -> Self {
        Self {
            node,
            script: redis::Script::new(SCRIPT),
            interval_micros: 60_000_000 / u64::from(per_minute.get()),
            burst: per_minute.get(),
            fallback,
            skip_redis_until: Mutex::new(None),
        }
    }

    /// One GCRA step in Redis: `Ok(None)` allowed, `Ok(Some(wait))` refused.
    async fn ask_redis(&self, user: UserId) -> Result<Option<Duration>, String> {
        let shared = &self.node.shared;
        let mut commands = shared.commands.clone();
        let key = format!("{}{user}", shared.settings.key_prefix);
        let mut invocation = self.script.key(key);
        invocation.arg(self.interval_micros).arg(self.burst);
        let call = invocation.invoke_async::<u64>(&mut commands);
        match tokio::time::timeout(shared.settings.command_timeout, call).await {
            Ok(Ok(0)) => Ok(None),
            Ok(Ok(micros)) => Ok(Some(Duration::from_micros(micros).max(Duration::from_millis(1)))),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", shared.settings.command_timeout)),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        let status = &self.node.shared.status;
        let skip = self.skip_redis_until.lock().is_some_and(|until| Instant::now() < until);
        if !skip {
            match self.ask_redis(user).await {
                Ok(refused) => {
                    if self.skip_redis_until.lock().take().is_some() {
                        status.limiter_log.reset();
                        tracing::info!("the cluster rate limiter reaches Redis again");
                    }
                    return match refused {
                        None => Ok(()),
                        Some(retry_after) => Err(RateLimited { retry_after }),
                    };
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
        self.fallback.acquire(user).await
    }
}
