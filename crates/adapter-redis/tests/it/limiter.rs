//! The cluster rate limiters: one budget for every node, refilling at the configured pace, for
//! messages per user and for attempts per email and per address.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_redis::{RedisNode, RedisSettings};
use chat_domain::ports::{AttemptKey, AttemptLimiter, RateLimited};
use chat_domain::{Email, UserId};
use test_services::redis::Redis;

use crate::helpers::{cluster_limiter, node, settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_limiters_share_one_budget() {
    let redis = Redis::start();
    let a = cluster_limiter(&node(&redis), 30);
    let b = cluster_limiter(&node(&redis), 30);
    let alice = UserId::generate(1);
    for n in 0..30_u32 {
        let limiter = if n.is_multiple_of(2) { &a } else { &b };
        limiter.acquire(alice).await.unwrap_or_else(|e| panic!("send {n} refused: {e:?}"));
    }
    for limiter in [&a, &b] {
        let refused = limiter.acquire(alice).await.unwrap_err();
        // A budget of 30 per minute refills one send every 2 s.
        assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(2), "{refused:?}");
    }
    let bob = UserId::generate(1);
    assert!(a.acquire(bob).await.is_ok(), "budgets are per user");
    assert!(cluster_limiter(&node(&redis), 0).acquire(alice).await.is_ok(), "0 means unlimited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_refills_at_the_configured_pace() {
    let redis = Redis::start();
    // 120 per minute: a burst of 120, then one every 500 ms.
    let limiter = cluster_limiter(&node(&redis), 120);
    let alice = UserId::generate(1);
    let started = Instant::now();
    let mut allowed = 0_u32;
    let refused = loop {
        match limiter.acquire(alice).await {
            Ok(()) => allowed += 1,
            Err(refused) => break refused,
        }
        assert!(allowed < 1_000, "never refused");
    };
    // Whatever refilled while the loop ran (a loaded machine is slow) was spent too.
    let refills = u32::try_from(started.elapsed().as_millis() / 500).unwrap();
    assert!((120..=121 + refills).contains(&allowed), "{allowed} allowed in {:?}", started.elapsed());
    assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_millis(500), "{refused:?}");
    tokio::time::sleep(refused.retry_after + Duration::from_millis(10)).await;
    let again = Instant::now();
    limiter.acquire(alice).await.expect("one more after the retry delay");
    let another = limiter.acquire(alice).await;
    if again.elapsed() < Duration::from_millis(450) {
        assert!(another.is_err(), "and only one");
    }
}

/// The fallback of the attempt tests: refuses everything with a recognisable wait.
struct RefuseAll;

#[async_trait::async_trait]
impl AttemptLimiter for RefuseAll {
    async fn acquire(&self, _key: &AttemptKey) -> Result<(), RateLimited> {
        Err(RateLimited { retry_after: Duration::from_secs(77) })
    }
}

fn email(address: &str) -> AttemptKey {
    AttemptKey::Email(Email::parse(address).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempt_budgets_per_email_and_per_address_are_shared_by_the_cluster() {
    let redis = Redis::start();
    let a = node(&redis).attempt_limiter(4, 6, 3, Arc::new(RefuseAll));
    let b = node(&redis).attempt_limiter(4, 6, 3, Arc::new(RefuseAll));
    let alice = email("alice@example.com");
    for n in 0..4_u32 {
        let limiter = if n.is_multiple_of(2) { &a } else { &b };
        limiter.acquire(&alice).await.unwrap_or_else(|e| panic!("attempt {n} refused: {e:?}"));
    }
    let refused = b.acquire(&alice).await.unwrap_err();
    // Four per minute refill one every 15 s; the fallback's 77 s would mean Redis was not asked.
    assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(15), "{refused:?}");
    a.acquire(&email("bob@example.com")).await.expect("budgets are per email");

    let client = AttemptKey::Address(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    for _ in 0..6 {
        a.acquire(&client).await.unwrap();
    }
    assert!(b.acquire(&client).await.is_err(), "the address budget is the cluster's");
    let other = AttemptKey::Address(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)));
    b.acquire(&other).await.expect("budgets are per address");

    let searcher = AttemptKey::Search(UserId::generate(1));
    for n in 0..3_u32 {
        let limiter = if n.is_multiple_of(2) { &a } else { &b };
        limiter.acquire(&searcher).await.unwrap_or_else(|e| panic!("search {n} refused: {e:?}"));
    }
    let refused = a.acquire(&searcher).await.unwrap_err();
    // Three per minute refill one every 20 s.
    assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(20), "{refused:?}");
    b.acquire(&AttemptKey::Search(UserId::generate(1))).await.expect("search budgets are per user");

    let emails_off = node(&redis).attempt_limiter(0, 6, 0, Arc::new(RefuseAll));
    for _ in 0..10 {
        emails_off.acquire(&alice).await.expect("0 turns the email budget off");
        emails_off.acquire(&searcher).await.expect("0 turns the search budget off");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_fall_back_to_the_local_limiter_when_redis_does_not_answer() {
    let redis = Redis::start();
    let url = redis.url();
    drop(redis);
    let node =
        RedisNode::new(&url, RedisSettings { command_timeout: Duration::from_millis(200), ..settings() }).unwrap();
    let limiter = node.attempt_limiter(10, 60, 60, Arc::new(RefuseAll));
    let refused = limiter.acquire(&email("alice@example.com")).await.unwrap_err();
    assert_eq!(refused.retry_after, Duration::from_secs(77), "the fallback decided");
    assert!(node.stats().limiter_fallbacks >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_creations_have_a_budget_per_user_shared_by_the_cluster() {
    let redis = Redis::start();
    let a = adapter_redis::RedisAttemptLimiter::chat_creations_per_minute(node(&redis), 3, Arc::new(RefuseAll));
    let b = adapter_redis::RedisAttemptLimiter::chat_creations_per_minute(node(&redis), 3, Arc::new(RefuseAll));
    let creator = AttemptKey::ChatCreate(UserId::generate(1));
    for n in 0..3_u32 {
        let limiter = if n.is_multiple_of(2) { &a } else { &b };
        limiter.acquire(&creator).await.unwrap_or_else(|e| panic!("creation {n} refused: {e:?}"));
    }
    let refused = b.acquire(&creator).await.unwrap_err();
    // Three per minute refill one every 20 s; the fallback's 77 s would mean Redis was not asked.
    assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= Duration::from_secs(20), "{refused:?}");
    a.acquire(&AttemptKey::ChatCreate(UserId::generate(1))).await.expect("budgets are per user");
    a.acquire(&email("alice@example.com")).await.expect("other kinds are not this limiter's");
    let off = adapter_redis::RedisAttemptLimiter::chat_creations_per_minute(node(&redis), 0, Arc::new(RefuseAll));
    for _ in 0..10 {
        off.acquire(&creator).await.expect("0 turns the budget off");
    }
}
