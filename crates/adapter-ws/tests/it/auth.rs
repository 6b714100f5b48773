//! Connecting: the three places a token may come from, refusals with CONNECT_ERROR
//! `{"message":"Unauthorized"}`, the personal room (`chat:created`), and the sweeper that
//! disconnects a socket once its token has expired (in real time, and on the domain clock).

use std::time::{Duration, Instant};

use adapter_ws::gateway::GatewayConfig;
use chrono::TimeDelta;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::client::Client;
use crate::harness::{Harness, TestUser};

fn unauthorized() -> Value {
    json!({ "message": "Unauthorized" })
}

/// Proves `client` is in `user`'s personal room: a chat `peer` (a new user) creates with
/// `user` reaches it.
async fn assert_in_personal_room(harness: &Harness, client: &mut Client, user: &TestUser, peer: &str) {
    let other = harness.user(peer).await;
    let chat = harness.chat(&other, &[user]).await;
    let created = client.expect_event("chat:created").await;
    assert_eq!(created["_id"], chat.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_without_a_token_is_refused() {
    let harness = Harness::start();
    let mut client = Client::open(&harness.ws_url("")).await;
    assert_eq!(client.connect(None).await, Err(unauthorized()));
    let mut client = Client::open(&harness.ws_url("")).await;
    assert_eq!(client.connect(Some(&json!({}))).await, Err(unauthorized()));
    let mut client = Client::open(&harness.ws_url("")).await;
    assert_eq!(client.connect(Some(&json!({ "token": 42 }))).await, Err(unauthorized()));
    assert_eq!(harness.gateway.tracked_sockets(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_with_a_bad_token_is_refused_and_the_session_may_retry() {
    let harness = Harness::start();
    let alice = harness.user("alice").await;
    // Well-formed but never issued (forged), garbage, empty, and the bare scheme.
    let forged = alice.token.replacen("fake-token-0-", "fake-token-7-", 1);
    assert_ne!(forged, alice.token);
    for (i, token) in [forged.as_str(), "garbage", "", "Bearer ", "Bearer garbage"].into_iter().enumerate() {
        let mut client = Client::open(&harness.ws_url("")).await;
        assert_eq!(client.connect(Some(&json!({ "token": token }))).await, Err(unauthorized()), "token {token:?}");
        // The refusal concerns the namespace only: the same session may connect again.
        client.connect(Some(&json!({ "token": alice.token }))).await.unwrap();
        assert_in_personal_room(&harness, &mut client, &alice, &format!("peer-{i}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_at_connect() {
    let harness = Harness::start();
    let alice = harness.user("alice").await;
    let expired = harness.tokens.mint(alice.id, TimeDelta::seconds(-1));
    let mut client = Client::open(&harness.ws_url("")).await;
    assert_eq!(client.connect(Some(&json!({ "token": expired }))).await, Err(unauthorized()));
    let bearer = format!("Bearer {}", alice.token);
    client.connect(Some(&json!({ "token": bearer }))).await.expect("a `Bearer ` prefix is tolerated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_authorization_header_or_the_query_is_accepted() {
    let harness = Harness::start();
    let alice = harness.user("alice").await;

    let mut request = harness.ws_url("").into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {}", alice.token).parse().unwrap());
    let mut by_header = Client::open_request(request).await;
    by_header.connect(None).await.unwrap();

    let mut by_query = Client::open(&harness.ws_url(&format!("&token={}", alice.token))).await;
    by_query.connect(None).await.unwrap();

    // Both are in alice's personal room.
    let bob = harness.user("bob").await;
    let chat = harness.chat(&bob, &[&alice]).await;
    assert_eq!(by_header.expect_event("chat:created").await["_id"], chat.to_string());
    assert_eq!(by_query.expect_event("chat:created").await["_id"], chat.to_string());

    // A bad token in the header is refused like one in the payload.
    let mut request = harness.ws_url("").into_client_request().unwrap();
    request.headers_mut().insert("authorization", "Bearer garbage".parse().unwrap());
    let mut refused = Client::open_request(request).await;
    assert_eq!(refused.connect(None).await, Err(unauthorized()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_created_reaches_every_socket_of_every_participant_once() {
    let harness = Harness::start();
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let mut alice_1 = harness.connect(&alice).await;
    let mut alice_2 = harness.connect(&alice).await;
    let mut bob_1 = harness.connect(&bob).await;
    let mut carol_1 = harness.connect(&carol).await;

    let chat = harness.chat(&alice, &[&bob]).await;
    for socket in [&mut alice_1, &mut alice_2, &mut bob_1] {
        let created = socket.expect_event("chat:created").await;
        assert_eq!(created["_id"], chat.to_string());
        assert_eq!(created["participants"], json!([alice.id.to_string(), bob.id.to_string()]));
        assert_eq!(created["createdBy"], alice.id.to_string());
        assert_eq!(created["isGroup"], false);
        socket.assert_quiet().await;
    }
    carol_1.assert_quiet().await;

    // The same 1:1 chat again is not news.
    assert_eq!(harness.chat(&bob, &[&alice]).await, chat);
    for socket in [&mut alice_1, &mut alice_2, &mut bob_1] {
        socket.assert_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_is_disconnected_when_its_token_expires() {
    let config = GatewayConfig { typing_sweep: Duration::from_millis(10), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let alice = harness.user("alice").await;
    let lifetime = Duration::from_millis(300);
    let started = Instant::now();
    let short = harness.tokens.mint(alice.id, TimeDelta::from_std(lifetime).unwrap());
    let mut expiring = harness.connect_with_token(&short).await;
    let mut lasting = harness.connect(&alice).await;

    expiring.expect_server_disconnect().await;
    // Not before the token's expiry (timestamps are whole milliseconds, hence the 1 ms).
    let waited = started.elapsed();
    assert!(waited + Duration::from_millis(1) >= lifetime, "disconnected after {waited:?}");

    // Only the socket whose token expired: alice's other socket stays, in her room.
    lasting.assert_quiet().await;
    assert_in_personal_room(&harness, &mut lasting, &alice, "bob").await;

    // The expired token cannot connect again.
    let mut again = Client::open(&harness.ws_url("")).await;
    assert_eq!(again.connect(Some(&json!({ "token": short }))).await, Err(unauthorized()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_is_judged_on_the_domain_clock() {
    let config = GatewayConfig { typing_sweep: Duration::from_millis(10), ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let alice = harness.user("alice").await;
    let mut hour = harness.connect(&alice).await;
    let ten_minutes = harness.tokens.mint(alice.id, TimeDelta::minutes(10));
    let mut short = harness.connect_with_token(&ten_minutes).await;

    // Half an hour later on the domain's clock, with no wall-clock wait.
    harness.clock.advance(TimeDelta::minutes(30));
    short.expect_server_disconnect().await;
    // The sweep that cut it judged the hour-long token alive.
    hour.assert_quiet().await;
    let mut again = Client::open(&harness.ws_url("")).await;
    assert_eq!(again.connect(Some(&json!({ "token": ten_minutes }))).await, Err(unauthorized()));

    harness.clock.advance(TimeDelta::minutes(31));
    hour.expect_server_disconnect().await;
}
