//! The in-process attempt limiter: registration and login attempts budgeted per email and per
//! client address, user searches per user and chat creations per creator (the domain decides
//! which keys an attempt names), for a single node.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, NoAttemptLimit, RateLimited};
use chat_domain::{Email, UserId};

use crate::keyed::KeyedBudget;

/// Attempts allowed per key and minute, by kind of key; `0` turns that kind off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptBudgets {
    pub per_email_per_minute: u32,
    pub per_address_per_minute: u32,
    pub searches_per_user_per_minute: u32,
}

impl AttemptBudgets {
    /// True when every kind is off.
    pub fn is_off(&self) -> bool {
        self.per_email_per_minute == 0 && self.per_address_per_minute == 0 && self.searches_per_user_per_minute == 0
    }
}

/// One GCRA budget per email, one per address and one per searching user, each bounded in
/// memory like the message limiter: keys whose budget is full again are forgotten every few
/// thousand attempts.
pub struct InProcessAttemptLimiter {
    emails: Option<KeyedBudget<Email>>,
    addresses: Option<KeyedBudget<IpAddr>>,
    searches: Option<KeyedBudget<UserId>>,
    /// Chat creations per creating user; set by [`Self::with_chat_creations`].
    creations: Option<KeyedBudget<UserId>>,
}

impl std::fmt::Debug for InProcessAttemptLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessAttemptLimiter").finish_non_exhaustive()
    }
}

impl InProcessAttemptLimiter {
    /// The limiter `budgets` ask for, or one that never limits when every kind is off.
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
            searches: NonZeroU32::new(budgets.searches_per_user_per_minute).map(KeyedBudget::per_minute),
            creations: None,
        }
    }

    /// Also budgets chat creations ([`AttemptKey::ChatCreate`]): `per_minute` new chats per
    /// user and minute; `0` leaves them unbudgeted.
    pub fn with_chat_creations(mut self, per_minute: u32) -> Self {
        self.creations = NonZeroU32::new(per_minute).map(KeyedBudget::per_minute);
        self
    }

    /// Emails, addresses and searching users remembered right now.
    pub fn keys(&self) -> usize {
        self.emails.as_ref().map_or(0, KeyedBudget::len)
            + self.addresses.as_ref().map_or(0, KeyedBudget::len)
            + self.searches.as_ref().map_or(0, KeyedBudget::len)
            + self.creations.as_ref().map_or(0, KeyedBudget::len)
    }
}

#[async_trait]
impl AttemptLimiter for InProcessAttemptLimiter {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        match key {
            AttemptKey::Email(email) => self.emails.as_ref().map_or(Ok(()), |budget| budget.acquire(email)),
            AttemptKey::Address(ip) => self.addresses.as_ref().map_or(Ok(()), |budget| budget.acquire(ip)),
            AttemptKey::Search(user) => self.searches.as_ref().map_or(Ok(()), |budget| budget.acquire(user)),
            AttemptKey::ChatCreate(user) => self.creations.as_ref().map_or(Ok(()), |budget| budget.acquire(user)),
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

    fn search(user: UserId) -> AttemptKey {
        AttemptKey::Search(user)
    }

    fn budgets(per_email: u32, per_address: u32, searches: u32) -> AttemptBudgets {
        AttemptBudgets {
            per_email_per_minute: per_email,
            per_address_per_minute: per_address,
            searches_per_user_per_minute: searches,
        }
    }

    #[tokio::test]
    async fn each_kind_has_its_own_budget_per_key() {
        let limiter = InProcessAttemptLimiter::new(budgets(2, 3, 4));
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
        let (alice, bob) = (UserId::generate(1), UserId::generate(1));
        for _ in 0..4 {
            limiter.acquire(&search(alice)).await.unwrap();
        }
        let refused = limiter.acquire(&search(alice)).await.unwrap_err();
        // Four per minute refill one every 15 s.
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(15));
        limiter.acquire(&search(bob)).await.expect("search budgets are per user");
        limiter.acquire(&email("carol")).await.expect("searches do not spend the other kinds");
    }

    #[tokio::test]
    async fn zero_turns_a_kind_off() {
        let limiter = InProcessAttemptLimiter::new(budgets(0, 1, 0));
        let user = UserId::generate(1);
        for _ in 0..100 {
            limiter.acquire(&email("alice")).await.unwrap();
            limiter.acquire(&search(user)).await.unwrap();
        }
        limiter.acquire(&address(1)).await.unwrap();
        assert!(limiter.acquire(&address(1)).await.is_err());
        assert!(!budgets(0, 0, 1).is_off(), "a search budget alone still limits");
        let off = InProcessAttemptLimiter::shared(budgets(0, 0, 0));
        for _ in 0..100 {
            off.acquire(&address(1)).await.unwrap();
            off.acquire(&search(user)).await.unwrap();
        }
    }

    #[tokio::test]
    async fn keys_with_a_full_budget_again_are_forgotten() {
        let limiter = InProcessAttemptLimiter {
            emails: Some(KeyedBudget::with_quota(governor::Quota::per_second(NonZeroU32::new(1000).unwrap()))),
            addresses: None,
            searches: None,
            creations: None,
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

    #[tokio::test]
    async fn chat_creations_have_their_own_budget_per_user() {
        let creator = UserId::generate(0);
        let limiter = InProcessAttemptLimiter::new(AttemptBudgets::default()).with_chat_creations(2);
        for _ in 0..2 {
            limiter.acquire(&AttemptKey::ChatCreate(creator)).await.unwrap();
        }
        let refused = limiter.acquire(&AttemptKey::ChatCreate(creator)).await.unwrap_err();
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(30));
        limiter.acquire(&AttemptKey::ChatCreate(UserId::generate(0))).await.expect("budgets are per user");
        limiter.acquire(&AttemptKey::Search(creator)).await.expect("other kinds are not touched");
        let off = InProcessAttemptLimiter::new(AttemptBudgets::default()).with_chat_creations(0);
        for _ in 0..100 {
            off.acquire(&AttemptKey::ChatCreate(creator)).await.unwrap();
        }
    }
}
