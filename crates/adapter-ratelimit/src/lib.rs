//! The in-process rate limiter: a per-user GCRA budget (governor), for a single node.
//!
//! A budget of N per minute lets a user send a burst of N, then one more every 60/N seconds.
//! A cluster replaces this with a limiter whose state is shared by every node.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chat_domain::ports::{RateLimited, RateLimiter, Unlimited};
use chat_domain::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

/// Every this many acquisitions, users whose budget is full again are forgotten, so memory
/// follows the recently active senders rather than everyone who ever sent.
const PRUNE_EVERY: u64 = 4096;

pub struct InProcessRateLimiter {
    limiter: Governor<UserId, DefaultKeyedStateStore<UserId>, DefaultClock>,
    clock: DefaultClock,
    acquisitions: AtomicU64,
}

impl std::fmt::Debug for InProcessRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessRateLimiter").finish_non_exhaustive()
    }
}

impl InProcessRateLimiter {
    /// A limiter allowing `per_minute` sends per user per minute, or none at all for 0.
    pub fn per_minute(per_minute: u32) -> Arc<dyn RateLimiter> {
        match NonZeroU32::new(per_minute) {
            Some(n) => Arc::new(Self::with_quota(Quota::per_minute(n))),
            None => Arc::new(Unlimited),
        }
    }

    /// A limiter allowing `per_minute` sends per user per minute (for adapters that fall back
    /// to this one and need the concrete type).
    pub fn new_per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_quota(Quota::per_minute(per_minute))
    }

    fn with_quota(quota: Quota) -> Self {
        Self { limiter: Governor::keyed(quota), clock: DefaultClock::default(), acquisitions: AtomicU64::new(0) }
    }

    /// Forgets users whose budget is full again, bounding memory to the recently active.
    pub fn prune(&self) {
        self.limiter.retain_recent();
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        if self.acquisitions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        self.limiter.check_key(&user).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            RateLimited { retry_after: wait.max(Duration::from_millis(1)) }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_the_budget_then_refuses_with_a_wait() {
        let limiter = InProcessRateLimiter::with_quota(Quota::per_minute(NonZeroU32::new(3).unwrap()));
        let alice = UserId::generate(1);
        for _ in 0..3 {
            assert!(limiter.acquire(alice).await.is_ok());
        }
        let refused = limiter.acquire(alice).await.unwrap_err();
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(20));
        let bob = UserId::generate(1);
        assert!(limiter.acquire(bob).await.is_ok(), "budgets are per user");
    }

    #[tokio::test]
    async fn users_with_a_full_budget_again_are_forgotten() {
        let limiter = InProcessRateLimiter::with_quota(Quota::per_second(NonZeroU32::new(1000).unwrap()));
        for _ in 0..PRUNE_EVERY - 1 {
            limiter.acquire(UserId::generate(1)).await.unwrap();
        }
        assert!(limiter.limiter.len() > 1000, "one entry per sender before pruning");
        // 1000 per second refills a single unit in 1 ms: every budget is full again.
        tokio::time::sleep(Duration::from_millis(5)).await;
        limiter.acquire(UserId::generate(1)).await.unwrap();
        assert!(limiter.limiter.len() <= 1, "pruned to the recently limited: {}", limiter.limiter.len());
    }

    #[tokio::test]
    async fn zero_means_unlimited() {
        let limiter = InProcessRateLimiter::per_minute(0);
        let alice = UserId::generate(1);
        for _ in 0..1000 {
            assert!(limiter.acquire(alice).await.is_ok());
        }
    }
}
