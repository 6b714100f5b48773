//! The Redis adapter against a real `redis-server` (from `test_services`): one PUBLISH per
//! event, no echo, two nodes delivering each other's events, one rate-limit budget for two
//! nodes, and what happens when Redis is killed and started again.

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapter_redis::{LocalDelivery, RedisNode, RedisNotifier, RedisSettings};
use async_trait::async_trait;
use chat_domain::ports::{Notifier, RateLimited, RateLimiter};
use chat_domain::{Chat, ChatId, Clock, DomainEvent, SystemClock, UserId};
use futures_util::StreamExt;
use test_services::redis::Redis;
use wire::delivery::{route, Delivery};

/// Longest any condition below may take to come true.
const PATIENCE: Duration = Duration::from_secs(15);

/// Remembers every delivery it is asked to make: `(event, rooms, data)`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<(String, Vec<String>, String)>>,
}

impl Recorder {
    fn data(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(_, _, data)| data.clone()).collect()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl LocalDelivery for Recorder {
    fn deliver(&self, delivery: &Delivery) -> usize {
        let entry = (delivery.event.clone(), delivery.rooms.clone(), delivery.data.get().to_owned());
        self.seen.lock().unwrap().push(entry);
        1
    }
}

/// Production settings, but patient with a loaded test machine: a check that times out would
/// fall back to the in-process limiter and blur what these tests look at. The tests about
/// timeouts use the production timeout.
fn settings() -> RedisSettings {
    RedisSettings {
        command_timeout: Duration::from_secs(2),
        log_every: Duration::from_millis(200),
        ..RedisSettings::default()
    }
}

/// The in-process fallback a node limits with while Redis is away: a plain budget per node
/// (not per user, which these tests do not need), refusing once it is spent.
struct Budget(std::sync::atomic::AtomicU32);

#[async_trait]
impl RateLimiter for Budget {
    async fn acquire(&self, _user: UserId) -> Result<(), RateLimited> {
        use std::sync::atomic::Ordering;
        match self.0.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)) {
            Ok(_) => Ok(()),
            Err(_) => Err(RateLimited { retry_after: Duration::from_secs(2) }),
        }
    }
}

/// A cluster limiter of `per_minute` on `node`, falling back to a budget of as many sends.
fn cluster_limiter(node: &RedisNode, per_minute: u32) -> Arc<dyn RateLimiter> {
    node.rate_limiter(per_minute, Arc::new(Budget(per_minute.into())))
}

fn node(redis: &Redis) -> RedisNode {
    RedisNode::new(&redis.url(), settings()).unwrap()
}

fn typing(chat: ChatId, n: u32) -> DomainEvent {
    DomainEvent::Typing { chat, user: UserId::generate(n), is_typing: n.is_multiple_of(2) }
}

fn chat_of(participants: usize) -> DomainEvent {
    let now = SystemClock.now();
    let participants: Vec<UserId> = (0..participants).map(|_| UserId::generate(1)).collect();
    DomainEvent::ChatCreated(Chat {
        id: ChatId::generate(1),
        name: None,
        is_group: participants.len() > 2,
        created_by: participants[0],
        participants,
        last_message_id: None,
        last_seq: 0,
        created_at: now,
        updated_at: now,
    })
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`]; returns the wait.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn subscribed(notifier: &RedisNotifier) -> Duration {
    eventually("the notifier is subscribed", || notifier.node().is_subscribed()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_published_once_whatever_the_number_of_recipients() {
    let redis = Redis::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut monitor = client.get_async_monitor().await.unwrap().into_on_message::<String>();
    let local = Arc::new(Recorder::default());
    let notifier = node(&redis).notifier(local.clone());
    subscribed(&notifier).await;

    let chat = ChatId::generate(1);
    let mut events: Vec<DomainEvent> = (0..10).map(|n| typing(chat, n)).collect();
    events.push(chat_of(5));
    events.push(chat_of(2));
    for event in &events {
        notifier.publish(event.clone()).await;
    }
    let published = notifier.node().clone();
    eventually("every event is published", || published.stats().published == events.len() as u64).await;

    // MONITOR reports commands in the order Redis ran them: once the marker shows up, every
    // PUBLISH before it has been reported.
    let mut marker = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("ECHO").arg("end-of-test-marker").query_async::<String>(&mut marker).await.unwrap();
    let mut publishes = 0;
    loop {
        let line = tokio::time::timeout(PATIENCE, monitor.next()).await.unwrap().unwrap();
        if line.contains("end-of-test-marker") {
            break;
        }
        if line.contains("\"PUBLISH\"") {
            assert!(line.contains("\"chat:events\""), "{line}");
            publishes += 1;
        }
    }
    assert_eq!(publishes, events.len(), "one PUBLISH per event");
    assert_eq!(local.count(), events.len(), "every event was delivered locally once");
    let chat_created = local.seen.lock().unwrap().iter().find(|(e, _, _)| e == "chat:created").cloned().unwrap();
    assert_eq!(chat_created.1.len(), 5, "one delivery names all five personal rooms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_does_not_deliver_its_own_events_twice() {
    let redis = Redis::start();
    let local = Arc::new(Recorder::default());
    let notifier = node(&redis).notifier(local.clone());
    subscribed(&notifier).await;
    let chat = ChatId::generate(1);
    for n in 0..5 {
        notifier.publish(typing(chat, n)).await;
    }
    let node = notifier.node().clone();
    eventually("the node has seen its own five events come back", || node.stats().own_skipped == 5).await;
    let stats = node.stats();
    assert_eq!((stats.received, stats.published, stats.malformed), (0, 5, 0), "{stats:?}");
    assert_eq!(local.count(), 5, "delivered locally once each, never again from Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_each_others_events_once() {
    let redis = Redis::start();
    let (seen_a, seen_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = node(&redis).notifier(seen_a.clone());
    let b = node(&redis).notifier(seen_b.clone());
    assert_ne!(a.node().node_id(), b.node().node_id());
    subscribed(&a).await;
    subscribed(&b).await;

    let chat = ChatId::generate(1);
    let events: Vec<DomainEvent> = (0..20).map(|n| typing(chat, n)).collect();
    for (n, event) in events.iter().enumerate() {
        let sender = if n.is_multiple_of(2) { &a } else { &b };
        sender.publish(event.clone()).await;
    }
    eventually("both nodes saw all twenty events", || seen_a.count() == 20 && seen_b.count() == 20).await;
    // Nothing more arrives: wait until each node also skipped its own ten.
    let (na, nb) = (a.node().clone(), b.node().clone());
    eventually("both nodes skipped their own", || na.stats().own_skipped == 10 && nb.stats().own_skipped == 10).await;
    assert_eq!((seen_a.count(), seen_b.count()), (20, 20));
    assert_eq!((na.stats().received, nb.stats().received), (10, 10));
    // Each event once on each node, and one node's events arrive in the order it sent them.
    let data: Vec<String> = events.iter().map(|e| route(e).unwrap().data.get().to_owned()).collect();
    for (seen, from_other) in [(&seen_a, 1), (&seen_b, 0)] {
        let mut got = seen.data();
        let expected: Vec<String> = data.iter().skip(from_other).step_by(2).cloned().collect();
        let arrived: Vec<String> = got.iter().filter(|d| expected.contains(d)).cloned().collect();
        assert_eq!(arrived, expected, "the other node's events, once each, in order");
        got.sort();
        let mut all = data.clone();
        all.sort();
        assert_eq!(got, all);
    }
}

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
        let marker = DomainEvent::Typing { chat, user: UserId::generate(round), is_typing: true };
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
