//! The in-process attempt limiter: registration and login attempts budgeted per email and per
//! client address (the domain decides which keys an attempt names), for a single node.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, NoAttemptLimit, RateLimited};
use chat_domain::Email;

use crate::keyed::KeyedBudget;

/// Attempts allowed per key and minute, by kind of key; `0` turns that kind off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptBudgets {
    pub per_email_per_minute: u32,
    pub per_address_per_minute: u32,
}

impl AttemptBudgets {
    /// True when both kinds are off.
    pub fn is_off(&self) -> bool {
        self.per_email_per_minute == 0 && self.per_address_per_minute == 0
    }
}

/// One GCRA budget per email and one per address, each bounded in memory like the message
/// limiter: keys whose budget is full again are forgotten every few thousand attempts.
pub struct InProcessAttemptLimiter {
    emails: Option<KeyedBudget<Email>>,
    addresses: Option<KeyedBudget<IpAddr>>,
}

impl std::fmt::Debug for InProcessAttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessAttemptLimiter").finish_non_exhaustive()
    }
}

impl InProcessAttemptLimiter {
    /// The limiter `budgets` ask for, or one that never limits when both are off.
    pub fn shared(budgets: AttemptBudgets) -> Arc<dyn AttemptLimiter> {
        if budgets.is_off() {
            Arc::new(NoAttemptLimit)
        } else {
            Arc::new(Self::new(budgets))
        }
    }

    pub fn new(budgets: AttemptBudgets) -> Self {
        Self {
            emails: NonZeroU32::new(budgets.per_email_per_minute).map(KeyedBudget::per_minute),
            addresses: NonZeroU32::new(budgets.per_address_per_minute).map(KeyedBudget::per_minute),
        }
    }

    /// Emails and addresses remembered right now.
    pub fn keys(&self) -> usize {
        self.emails.as_ref().map_or(0, KeyedBudget::len) + self.addresses.as_ref().map_or(0, KeyedBudget::len)
    }
}

#[async_trait]
impl AttemptLimiter for InProcessAttemptLimiter {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        match key {
            AttemptKey::Email(email) => self.emails.as_ref().map_or(Ok(()), |budget| budget.acquire(email)),
            AttemptKey::Address(ip) => self.addresses.as_ref().map_or(Ok(()), |budget| budget.acquire(ip)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use super::*;
    use crate::keyed::PRUNE_EVERY;

    fn email(name: &str) -> AttemptKey {
        AttemptKey::Email(Email::parse(&format!("{name}@example.com")).unwrap())
    }

    fn address(last: u8) -> AttemptKey {
        AttemptKey::Address(IpAddr::V4(Ipv4Addr::new(203, 0, 113, last)))
    }

    #[tokio::test]
    async fn each_kind_has_its_own_budget_per_key() {
        let limiter =
            InProcessAttemptLimiter::new(AttemptBudgets { per_email_per_minute: 2, per_address_per_minute: 3 });
        for _ in 0..2 {
            limiter.acquire(&email("alice")).await.unwrap();
        }
        let refused = limiter.acquire(&email("alice")).await.unwrap_err();
        // Two per minute refill one every 30 s.
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(30));
        limiter.acquire(&email("bob")).await.expect("budgets are per email");
        for _ in 0..3 {
            limiter.acquire(&address(7)).await.unwrap();
        }
        assert!(limiter.acquire(&address(7)).await.is_err());
        limiter.acquire(&address(8)).await.expect("budgets are per address");
    }

    #[tokio::test]
    async fn zero_turns_a_kind_off() {
        let limiter =
            InProcessAttemptLimiter::new(AttemptBudgets { per_email_per_minute: 0, per_address_per_minute: 1 });
        for _ in 0..100 {
            limiter.acquire(&email("alice")).await.unwrap();
        }
        limiter.acquire(&address(1)).await.unwrap();
        assert!(limiter.acquire(&address(1)).await.is_err());
        let off =
            InProcessAttemptLimiter::shared(AttemptBudgets { per_email_per_minute: 0, per_address_per_minute: 0 });
        for _ in 0..100 {
            off.acquire(&address(1)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn keys_with_a_full_budget_again_are_forgotten() {
        let limiter = InProcessAttemptLimiter {
            emails: Some(KeyedBudget::with_quota(governor::Quota::per_second(NonZeroU32::new(1000).unwrap()))),
            addresses: None,
        };
        for n in 0..PRUNE_EVERY - 1 {
            limiter.acquire(&email(&format!("u{n}"))).await.unwrap();
        }
        assert!(limiter.keys() > 1000, "one entry per email before pruning");
        // 1000 per second refills a single unit in 1 ms: every budget is full again.
        tokio::time::sleep(Duration::from_millis(5)).await;
        limiter.acquire(&email("last")).await.unwrap();
        assert!(limiter.keys() <= 1, "pruned to the recently limited: {}", limiter.keys());
    }
}
