//! Fan-out over pub/sub: one PUBLISH per event, no echo to the publishing node, and two nodes
//! delivering each other's events once each, in order.

use std::sync::Arc;

use adapter_redis::{RedisNode, RedisSettings};
use chat_domain::ports::Notifier;
use chat_domain::{ChatId, DomainEvent};
use futures_util::StreamExt;
use test_services::redis::Redis;
use wire::delivery::route;

use crate::helpers::{chat_of, eventually, node, subscribed, typing, Recorder, PATIENCE};

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
async fn a_logout_on_one_node_disconnects_the_users_sockets_on_the_other() {
    let redis = Redis::start();
    let (seen_a, seen_b) = (Arc::new(Recorder::default()), Arc::new(Recorder::default()));
    let a = node(&redis).notifier(seen_a.clone());
    let b = node(&redis).notifier(seen_b.clone());
    subscribed(&a).await;
    subscribed(&b).await;
    let user = chat_domain::UserId::generate(1);
    a.publish(DomainEvent::TokensRevoked { user }).await;
    let room = wire::rooms::user_room(user);
    eventually("node B was told to disconnect the user's room", || seen_b.disconnects.lock().unwrap().len() == 1).await;
    assert_eq!(seen_b.disconnects.lock().unwrap()[0], vec![room.clone()]);
    assert_eq!(seen_a.disconnects.lock().unwrap().clone(), vec![vec![room]], "and node A its own sockets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_envelopes_signed_with_the_cluster_secret_are_delivered() {
    let redis = Redis::start();
    let seen = Arc::new(Recorder::default());
    let honest = node(&redis).notifier(seen.clone());
    subscribed(&honest).await;
    let settings = honest.node().clone();

    // Anyone who reaches Redis can PUBLISH: a well-formed delivery without a signature, one
    // with a made-up signature, and one signed by a node of another cluster.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let delivery = r#"{"node":"intruder","at":0,"delivery":{"rooms":["user-1"],"event":"chat:created","data":{}}}"#;
    let forged = format!("{}.{delivery}", "ab".repeat(32));
    for message in [delivery.to_owned(), forged, "garbage".to_owned()] {
        redis::cmd("PUBLISH").arg("chat:events").arg(message).query_async::<i64>(&mut raw).await.unwrap();
    }
    let foreign = RedisNode::new(
        &redis.url(),
        RedisSettings { secret: b"the secret of some other cluster".to_vec(), ..crate::helpers::settings() },
    )
    .unwrap()
    .notifier(Arc::new(Recorder::default()));
    subscribed(&foreign).await;
    foreign.publish(typing(ChatId::generate(1), 1)).await;

    eventually("the four intruders were dropped", || settings.stats().unsigned == 4).await;
    // An honest event from a node of the same cluster still gets through, after them.
    let peer_seen = Arc::new(Recorder::default());
    let peer = node(&redis).notifier(peer_seen.clone());
    subscribed(&peer).await;
    peer.publish(typing(ChatId::generate(1), 2)).await;
    eventually("the peer's event arrived", || seen.count() == 1).await;
    let stats = settings.stats();
    assert_eq!((stats.received, stats.unsigned, stats.malformed), (1, 4, 0), "{stats:?}");
}
