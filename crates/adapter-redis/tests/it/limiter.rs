//! The cluster rate limiter: one budget for every node, refilling at the configured pace.

use std::time::{Duration, Instant};

use chat_domain::UserId;
use test_services::redis::Redis;

use crate::helpers::{cluster_limiter, node};

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
