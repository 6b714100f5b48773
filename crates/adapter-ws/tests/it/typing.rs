//! `message:typing`: forwarded to the room except the typist's own sockets, starts throttled,
//! a stop only after a forwarded start, quiet typists expired by the sweeper, and a typist who
//! disconnects announced as stopped at once.

use std::time::{Duration, Instant};

use adapter_ws::gateway::GatewayConfig;
use chat_domain::ChatId;
use serde_json::{json, Value};

use crate::harness::{wait_until, Harness, TestUser};

fn typing(chat: ChatId, user: &TestUser, is_typing: bool) -> Value {
    json!({ "chatId": chat.to_string(), "userId": user.id.to_string(), "isTyping": is_typing })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_reaches_the_others_but_not_the_typists_own_sockets() {
    let harness = Harness::start();
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob, &carol]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut alice_2 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    let mut carol_1 = harness.joined(&carol, chat).await;

    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    assert_eq!(carol_1.expect_event("message:typing").await, typing(chat, &alice, true));
    alice_1.assert_quiet().await;
    alice_2.assert_quiet().await;

    // Without an ack id it is forwarded all the same.
    bob_1.emit("message:typing", json!({ "chatId": chat.to_string(), "isTyping": true })).await;
    assert_eq!(alice_1.expect_event("message:typing").await, typing(chat, &bob, true));
    assert_eq!(alice_2.expect_event("message:typing").await, typing(chat, &bob, true));
    assert_eq!(carol_1.expect_event("message:typing").await, typing(chat, &bob, true));
    bob_1.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_are_throttled_and_a_stop_follows_only_a_forwarded_start() {
    // The default throttle (1 s) is far longer than this test.
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut alice_2 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    // A stop with no start before it is not news.
    alice_1.typing(chat, false).await;
    bob_1.assert_quiet().await;

    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    for _ in 0..3 {
        alice_1.typing(chat, true).await;
    }
    bob_1.assert_quiet().await;

    // The throttle is per socket: alice's other tab may announce its own start.
    alice_2.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));

    alice_1.typing(chat, false).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    alice_1.typing(chat, false).await;
    bob_1.assert_quiet().await;

    // After a stop, a start within the throttle interval is not forwarded: alternating
    // starts and stops cannot get around the throttle.
    alice_1.typing(chat, true).await;
    alice_1.typing(chat, false).await;
    bob_1.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_throttle_interval_a_start_that_follows_a_stop_is_forwarded() {
    let config = GatewayConfig { typing_throttle: Duration::from_millis(50), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    let started = Instant::now();
    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    alice_1.typing(chat, false).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    // Starts keep coming; none is forwarded until the interval since the last forwarded
    // start is over, and then one is.
    let forwarded = loop {
        alice_1.typing(chat, true).await;
        let events = bob_1.round_trip().await;
        if let Some(event) = events.into_iter().next() {
            break event;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "no start was forwarded again");
    };
    assert!(started.elapsed() >= Duration::from_millis(50), "forwarded within the interval");
    assert_eq!(forwarded.data, typing(chat, &alice, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_typist_is_announced_stopped_after_the_expiry() {
    let expiry = Duration::from_millis(50);
    let config =
        GatewayConfig { typing_expiry: expiry, typing_sweep: Duration::from_millis(10), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    let started = Instant::now();
    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    let waited = started.elapsed();
    assert!(waited >= expiry, "announced stopped after {waited:?}, before the expiry");
    // Announced once, and not to the typist.
    bob_1.assert_quiet().await;
    alice_1.assert_quiet().await;

    // The expired typist is forgotten: her next start is forwarded despite the 1 s throttle,
    // and the stop after it as usual.
    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    alice_1.typing(chat, false).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    bob_1.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typist_who_disconnects_is_announced_stopped_at_once() {
    // An expiry far beyond the test's patience: only the disconnect can announce the stop.
    let config = GatewayConfig { typing_expiry: Duration::from_secs(600), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut alice_2 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    alice_1.close().await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    bob_1.assert_quiet().await;
    alice_2.assert_quiet().await;

    // A socket that disconnects without typing announces nothing.
    let before = harness.gateway.tracked_sockets();
    bob_1.close().await;
    wait_until("bob's socket to be gone", || harness.gateway.tracked_sockets() < before).await;
    alice_2.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typist_who_leaves_the_chat_is_announced_stopped_at_once() {
    let config = GatewayConfig { typing_expiry: Duration::from_secs(600), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    let left = alice_1.call("chat:leave", json!({ "chatId": chat.to_string() })).await;
    assert_eq!(left, json!({ "success": true }));
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    bob_1.assert_quiet().await;

    // Leaving without typing announces nothing.
    let left = bob_1.call("chat:leave", json!({ "chatId": chat.to_string() })).await;
    assert_eq!(left, json!({ "success": true }));
    let mut alice_2 = harness.joined(&alice, chat).await;
    alice_2.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sending_a_message_stops_typing_right_after_the_message() {
    let config = GatewayConfig { typing_expiry: Duration::from_secs(600), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut alice_2 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    // Typing on one socket, sending from another: the user stops typing all the same.
    alice_1.typing(chat, true).await;
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, true));
    let ack = alice_2.send(chat, "done").await;
    assert_eq!(ack["success"], true, "{ack}");
    let first = bob_1.next_event().await;
    assert_eq!(first.name, "message:new", "the message comes first: {first:?}");
    assert_eq!(bob_1.expect_event("message:typing").await, typing(chat, &alice, false));
    bob_1.assert_quiet().await;

    // A send with nobody typing announces no stop.
    let ack = alice_2.send(chat, "again").await;
    assert_eq!(ack["success"], true, "{ack}");
    assert_eq!(bob_1.expect_event("message:new").await["text"], "again");
    bob_1.assert_quiet().await;
}
