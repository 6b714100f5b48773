//! One GCRA budget per key (governor's keyed limiter) whose memory follows the recently active
//! keys: every [`PRUNE_EVERY`] acquisitions, keys whose budget is full again are forgotten.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chat_domain::ports::RateLimited;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

/// Every this many acquisitions, keys whose budget is full again are forgotten, so memory
/// follows the recently active keys rather than every key ever seen.
pub(crate) const PRUNE_EVERY: u64 = 4096;

pub(crate) struct KeyedBudget<K: Hash + Eq + Clone> {
    limiter: Governor<K, DefaultKeyedStateStore<K>, DefaultClock>,
    clock: DefaultClock,
    acquisitions: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedBudget<K> {
    /// `per_minute` per key: a burst of that many, then one more every 60/`per_minute` seconds.
    pub(crate) fn per_minute(per_minute: NonZeroU32) -> Self {
        Self::with_quota(Quota::per_minute(per_minute))
    }

    pub(crate) fn with_quota(quota: Quota) -> Self {
        Self { limiter: Governor::keyed(quota), clock: DefaultClock::default(), acquisitions: AtomicU64::new(0) }
    }

    /// Takes one unit of `key`'s budget, or says how long until one is free (at least 1 ms).
    pub(crate) fn acquire(&self, key: &K) -> Result<(), RateLimited> {
        if self.acquisitions.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            RateLimited { retry_after: wait.max(Duration::from_millis(1)) }
        })
    }

    /// Forgets keys whose budget is full again.
    pub(crate) fn prune(&self) {
        self.limiter.retain_recent();
    }

    /// Keys remembered right now.
    pub(crate) fn len(&self) -> usize {
        self.limiter.len()
    }
}
