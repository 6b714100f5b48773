//! Redis going away: sends go on locally without waiting, nodes resubscribe by themselves after
//! a restart, and a Redis that never answers costs a send at most the command timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_redis::{RedisNode, RedisSettings};
use chat_domain::ports::Notifier;
use chat_domain::{ChatId, DomainEvent, UserId};
use test_services::redis::Redis;

use crate::helpers::{cluster_limiter, eventually, node, settings, subscribed, typing, Recorder, PATIENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_sends_go_on_locally_and_nothing_waits() {
    let redis = Redis::start();
    let local = Arc::new(Recorder::default());
    let redis_node = node(&redis);
    let notifier = redis_node.notifier(local.clone());
    let limiter = cluster_limiter(&redis_node, 30);
    subscribed(&notifier).await;
    assert!(redis_node.is_healthy().await);
    let alice = UserId::generate(1);
    limiter.acquire(alice).await.unwrap();

    redis.kill();
    eventually("the subscriber noticed", || !redis_node.is_subscribed()).await;
    assert!(!redis_node.is_healthy().await);
    let chat = ChatId::generate(1);
    let mut slowest_publish = Duration::ZERO;
    let mut slowest_acquire = Duration::ZERO;
    for n in 0..200 {
        let started = Instant::now();
        notifier.publish(typing(chat, n)).await;
        slowest_publish = slowest_publish.max(started.elapsed());
        if n < 29 {
            let started = Instant::now();
            limiter.acquire(alice).await.unwrap_or_else(|e| panic!("send {n} refused without Redis: {e:?}"));
            slowest_acquire = slowest_acquire.max(started.elapsed());
        }
    }
    println!("without Redis: slowest publish {slowest_publish:?}, slowest rate-limit check {slowest_acquire:?}");
    assert!(slowest_publish < Duration::from_millis(100), "publishing waited {slowest_publish:?}");
    assert!(slowest_acquire < Duration::from_secs(1), "the limiter waited {slowest_acquire:?}");
    assert_eq!(local.count(), 200, "local delivery went on");
    let stats = redis_node.stats();
    assert!(stats.limiter_fallbacks >= 29, "{stats:?}");
    // The fallback limits too: it has its own budget of 30 for this node.
    let more = limiter.acquire(alice).await;
    assert!(more.is_ok(), "the fallback's budget starts full: {more:?}");
    assert!(limiter.acquire(alice).await.is_err(), "and is enforced");
    eventually("failed publishes are counted", || {
        let s = redis_node.stats();
        s.published + s.publish_failures + s.dropped == 200
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_nodes_resubscribe_by_themselves_and_events_flow_again() {
    let redis = Redis::start();
    let (seen_a, seen_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = node(&redis).notifier(seen_a.clone());
    let b = node(&redis).notifier(seen_b.clone());
    subscribed(&a).await;
    subscribed(&b).await;
    let limiter = cluster_limiter(a.node(), 30);
    let chat = ChatId::generate(1);

    for round in 0..2 {
        redis.kill();
        eventually("both subscribers noticed", || !a.node().is_subscribed() && !b.node().is_subscribed()).await;
        // Stay down long enough for the backoff to grow to its maximum.
        for n in 0..5 {
            a.publish(typing(chat, n)).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        assert!(limiter.acquire(UserId::generate(1)).await.is_ok());
        redis.restart();
        let restarted = Instant::now();
        let waited_a = subscribed(&a).await;
        let waited_b = subscribed(&b).await;
        println!(
            "round {round}: resubscribed {:?} (a) and {:?} (b) after the restart",
            waited_a,
            restarted.elapsed().max(waited_b)
        );
        assert!(restarted.elapsed() < Duration::from_secs(5), "resubscribing took {:?}", restarted.elapsed());
        assert!(a.node().is_healthy().await);

        let before = seen_b.count();
        let marker = DomainEvent::Typing { chat, user: UserId::generate(round), is_typing: true, members: None };
        a.publish(marker).await;
        eventually("b hears a again", || seen_b.count() == before + 1).await;
        let before = seen_a.count();
        b.publish(typing(chat, 99)).await;
        eventually("a hears b again", || seen_a.count() == before + 1).await;
    }
    let stats = a.node().stats();
    assert_eq!(stats.subscriptions, 3, "subscribed once and resubscribed after each restart: {stats:?}");

    // The limiters are back on Redis (the fresh server got the script again): after the
    // fallback window, one budget holds across both nodes again.
    let limiter_b = cluster_limiter(b.node(), 30);
    let carol = UserId::generate(1);
    let started = Instant::now();
    loop {
        let fallbacks = a.node().stats().limiter_fallbacks;
        limiter.acquire(carol).await.unwrap();
        if a.node().stats().limiter_fallbacks == fallbacks {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "the limiter never went back to Redis");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut allowed = 1;
    for n in 0..40_u32 {
        let l = if n.is_multiple_of(2) { &limiter } else { &limiter_b };
        if l.acquire(carol).await.is_ok() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 30, "one budget of 30 across both nodes after the restarts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_never_answers_costs_a_send_at_most_the_command_timeout() {
    // Accepts connections and reads them, but never says a word: a hung server or a network
    // that drops packets.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let settings = RedisSettings { command_timeout: Duration::from_millis(250), ..settings() };
    let node = RedisNode::new(&url, settings).unwrap();
    let local = Arc::new(Recorder::default());
    let notifier = node.notifier(local.clone());
    let limiter = cluster_limiter(&node, 30);
    let alice = UserId::generate(1);
    let chat = ChatId::generate(1);
    let started = Instant::now();
    let mut slowest_acquire = Duration::ZERO;
    for n in 0..40_u32 {
        notifier.publish(typing(chat, n)).await;
        if n < 30 {
            let t = Instant::now();
            limiter.acquire(alice).await.unwrap_or_else(|e| panic!("send {n} refused: {e:?}"));
            slowest_acquire = slowest_acquire.max(t.elapsed());
        }
    }
    println!("silent Redis: 40 sends took {:?}, slowest rate-limit check {slowest_acquire:?}", started.elapsed());
    assert!(slowest_acquire < Duration::from_secs(1), "{slowest_acquire:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(local.count(), 40);
    let t = Instant::now();
    assert!(!node.is_healthy().await);
    assert!(t.elapsed() < Duration::from_secs(1), "the health check waited {:?}", t.elapsed());
    assert!(!node.is_subscribed());
}
