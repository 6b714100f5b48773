//! The in-process rate limiters, GCRA budgets (governor) for a single node: messages per user
//! ([`InProcessRateLimiter`]) and registration and login attempts per email and per client
//! address ([`InProcessAttemptLimiter`]).
//!
//! A budget of N per minute allows a burst of N, then one more every 60/N seconds. Memory
//! follows the recently active keys: keys whose budget is full again are forgotten every few
//! thousand acquisitions. A cluster replaces these with limiters whose state every node shares.

mod attempts;
mod keyed;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::ports::{RateLimited, RateLimiter, Unlimited};
use chat_domain::UserId;
use governor::Quota;

pub use attempts::{AttemptBudgets, InProcessAttemptLimiter};
use keyed::KeyedBudget;
#[cfg(test)]
use keyed::PRUNE_EVERY;

pub struct InProcessRateLimiter {
    budget: KeyedBudget<UserId>,
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
        Self { budget: KeyedBudget::with_quota(quota) }
    }

    /// Forgets users whose budget is full again, bounding memory to the recently active.
    pub fn prune(&self) {
        self.budget.prune();
    }
}

#[async_trait]
impl RateLimiter for InProcessRateLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        self.budget.acquire(&user)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert!(limiter.budget.len() > 1000, "one entry per sender before pruning");
        // 1000 per second refills a single unit in 1 ms: every budget is full again.
        tokio::time::sleep(Duration::from_millis(5)).await;
        limiter.acquire(UserId::generate(1)).await.unwrap();
        assert!(limiter.budget.len() <= 1, "pruned to the recently limited: {}", limiter.budget.len());
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
