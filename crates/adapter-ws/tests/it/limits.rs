//! Per-connection bounds: sockets per user and per client address, and each socket's event
//! budget. Each test shows the offender cut off and a bystander unaffected.

use adapter_ws::gateway::GatewayConfig;
use serde_json::{json, Value};

use crate::client::Client;
use crate::harness::{wait_until, Harness};

fn too_many() -> Value {
    json!({ "message": "Too many connections" })
}

async fn try_connect(harness: &Harness, token: &str) -> (Client, Result<Value, Value>) {
    let mut client = Client::open(&harness.ws_url("")).await;
    let outcome = client.connect(Some(&json!({ "token": token }))).await;
    (client, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_past_the_socket_cap_is_refused_and_others_connect() {
    let config = GatewayConfig { max_sockets_per_user: 2, ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let first = harness.connect(&alice).await;
    let _second = harness.connect(&alice).await;
    let (_, third) = try_connect(&harness, &alice.token).await;
    assert_eq!(third, Err(too_many()));

    // A bystander is not affected, and works.
    let chat = harness.chat(&bob, &[&alice]).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    assert_eq!(bob_1.send(chat, "still here").await["success"], true);

    // A freed place can be taken again.
    let before = harness.gateway.tracked_sockets();
    first.close().await;
    wait_until("alice's first socket is gone", || harness.gateway.tracked_sockets() < before).await;
    let (_, again) = try_connect(&harness, &alice.token).await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_past_the_socket_cap_is_refused() {
    // Every client of the test comes from 127.0.0.1, which production leaves out of the cap
    // (a same-host reverse proxy); here it counts.
    let config = GatewayConfig {
        max_sockets_per_address: 3,
        exempt_loopback_from_address_cap: false,
        ..GatewayConfig::default()
    };
    let harness = Harness::with_config(config);
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let _a1 = harness.connect(&alice).await;
    let _a2 = harness.connect(&alice).await;
    let b1 = harness.connect(&bob).await;
    let (_, refused) = try_connect(&harness, &carol.token).await;
    assert_eq!(refused, Err(too_many()));
    let before = harness.gateway.tracked_sockets();
    b1.close().await;
    wait_until("bob's socket is gone", || harness.gateway.tracked_sockets() < before).await;
    let (_, admitted) = try_connect(&harness, &carol.token).await;
    assert!(admitted.is_ok(), "{admitted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_flooding_events_is_refused_then_cut_off_and_its_neighbour_goes_on() {
    // A budget of 5 events, refilled at 1 per second: far slower than this test.
    let config = GatewayConfig { events_per_second: 1, event_burst: 5, ..GatewayConfig::default() };
    let harness = Harness::with_config(config);
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut bob_1 = harness.joined(&bob, chat).await; // one of bob's 5
    let mut flooder = harness.connect(&alice).await;

    let leave = || json!({ "chatId": chat.to_string() });
    for n in 0..5 {
        assert_eq!(flooder.call("chat:leave", leave()).await, json!({ "success": true }), "event {n}");
    }
    let refused = flooder.call("chat:leave", leave()).await;
    assert_eq!((refused["success"].clone(), refused["error"].clone()), (json!(false), json!("rate_limited")));
    let retry_after = refused["retryAfterMs"].as_u64().unwrap();
    assert!((1..=1_000).contains(&retry_after), "{refused}");
    // Four more refusals in a row make five: the socket is cut off.
    for _ in 0..4 {
        flooder.emit("chat:leave", leave()).await;
    }
    flooder.expect_server_disconnect().await;

    // Bob's socket has its own budget and never noticed.
    let sent = bob_1.send(chat, "unaffected").await;
    assert_eq!(sent["success"], true, "{sent}");
    assert_eq!(bob_1.expect_event("message:new").await["text"], "unaffected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_message_or_any_binary_attachment_closes_only_its_session() {
    use tokio_tungstenite::tungstenite::Message;
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    // One message of 128 KiB and a byte: the chat engine's payload limit.
    let mut offender = harness.connect(&alice).await;
    let text = "x".repeat(128 * 1024);
    offender
        .send_raw(vec![Message::text(format!(r#"42["message:send",{{"chatId":"{chat}","text":"{text}"}}]"#))])
        .await;
    offender.expect_closed().await;

    // A binary attachment, which no event of the contract carries.
    let mut offender = harness.connect(&alice).await;
    let announce = format!(r#"451-["message:send",{{"chatId":"{chat}","text":{{"_placeholder":true,"num":0}}}}]"#);
    offender.send_raw(vec![Message::text(announce), Message::binary(vec![1_u8, 2, 3])]).await;
    offender.expect_closed().await;

    // The longest text a message may hold, in three-byte characters, still fits.
    let mut alice_1 = harness.joined(&alice, chat).await;
    let longest = "€".repeat(10_000);
    assert_eq!(alice_1.send(chat, &longest).await["success"], true);
    assert_eq!(bob_1.expect_event("message:new").await["text"], longest);
    let sent = bob_1.send(chat, "bob is fine").await;
    assert_eq!(sent["success"], true, "{sent}");
}
