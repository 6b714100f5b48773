//! Shared by the Redis tests: a recording local delivery, patient settings, a fallback budget,
//! nodes, events, and polling until a condition holds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapter_redis::{LocalDelivery, RedisNode, RedisNotifier, RedisSettings};
use async_trait::async_trait;
use chat_domain::ports::{RateLimited, RateLimiter};
use chat_domain::{Chat, ChatId, Clock, DomainEvent, SystemClock, UserId};
use test_services::redis::Redis;
use wire::delivery::Delivery;

/// Longest any condition below may take to come true.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Remembers every delivery it is asked to make: `(event, rooms, data)`.
#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<(String, Vec<String>, String)>>,
    /// The `disconnect_rooms` of every delivery that named some.
    pub disconnects: Mutex<Vec<Vec<String>>>,
}

impl Recorder {
    pub fn data(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(_, _, data)| data.clone()).collect()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl LocalDelivery for Recorder {
    fn deliver(&self, delivery: &Delivery) -> usize {
        let entry = (delivery.event.clone(), delivery.rooms.clone(), delivery.data.get().to_owned());
        self.seen.lock().unwrap().push(entry);
        if !delivery.disconnect_rooms.is_empty() {
            self.disconnects.lock().unwrap().push(delivery.disconnect_rooms.clone());
        }
        1
    }
}

/// Production settings, but patient with a loaded test machine: a check that times out would
/// fall back to the in-process limiter and blur what these tests look at. The tests about
/// timeouts use the production timeout.
pub fn settings() -> RedisSettings {
    RedisSettings {
        command_timeout: Duration::from_secs(2),
        log_every: Duration::from_millis(200),
        secret: b"cluster-secret-of-the-tests-0123456789".to_vec(),
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
pub fn cluster_limiter(node: &RedisNode, per_minute: u32) -> Arc<dyn RateLimiter> {
    node.rate_limiter(per_minute, Arc::new(Budget(per_minute.into())))
}

pub fn node(redis: &Redis) -> RedisNode {
    RedisNode::new(&redis.url(), settings()).unwrap()
}

pub fn typing(chat: ChatId, n: u32) -> DomainEvent {
    DomainEvent::Typing { chat, user: UserId::generate(n), is_typing: n.is_multiple_of(2), members: None }
}

pub fn chat_of(participants: usize) -> DomainEvent {
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
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

/// [`eventually`] for a condition that must ask Redis: polls `check` until it yields a value,
/// failing the test after [`PATIENCE`].
pub async fn eventually_some<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < PATIENCE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn subscribed(notifier: &RedisNotifier) -> Duration {
    eventually("the notifier is subscribed", || notifier.node().is_subscribed()).await
}
