//! `message:delivered` / `message:read`: a client moves its markers; the room hears
//! `receipt:updated`, the reader's own devices hear `chat:unread`, and strangers and bad
//! payloads change nothing.

use serde_json::json;

use crate::harness::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_over_the_socket_moves_the_ticks_and_clears_other_devices_badges() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_phone = harness.joined(&bob, chat).await;
    // Bob's laptop is connected but has not joined the chat's room: it hears his own badge.
    let mut bob_laptop = harness.connect(&bob).await;
    for text in ["one", "two"] {
        alice_1.send(chat, text).await;
        alice_1.expect_event("message:new").await;
        bob_phone.expect_event("message:new").await;
    }

    let ack = bob_phone.call("message:delivered", json!({ "chatId": chat.to_string(), "seq": 2 })).await;
    assert_eq!(ack, json!({ "success": true }));
    let expected = json!({ "chatId": chat.to_string(), "userId": bob.id.to_string(), "deliveredSeq": 2, "readSeq": 0 });
    assert_eq!(alice_1.expect_event("receipt:updated").await, expected);
    assert_eq!(bob_phone.expect_event("receipt:updated").await, expected);
    bob_laptop.assert_quiet().await;

    let ack = bob_phone.call("message:read", json!({ "chatId": chat.to_string(), "seq": 1 })).await;
    assert_eq!(ack, json!({ "success": true }));
    let expected = json!({ "chatId": chat.to_string(), "userId": bob.id.to_string(), "deliveredSeq": 2, "readSeq": 1 });
    assert_eq!(alice_1.expect_event("receipt:updated").await, expected);
    assert_eq!(bob_phone.expect_event("receipt:updated").await, expected);
    let unread = json!({ "chatId": chat.to_string(), "unreadCount": 1 });
    assert_eq!(bob_phone.expect_event("chat:unread").await, unread);
    assert_eq!(bob_laptop.expect_event("chat:unread").await, unread);
    alice_1.assert_quiet().await;

    // A whole number written as a float is the same seq, as over HTTP: nothing moves.
    let ack = bob_phone.call("message:read", json!({ "chatId": chat.to_string(), "seq": 1.0 })).await;
    assert_eq!(ack, json!({ "success": true }));

    // A lower seq moves nothing and announces nothing.
    let ack = bob_phone.call("message:read", json!({ "chatId": chat.to_string(), "seq": 1 })).await;
    assert_eq!(ack, json!({ "success": true }));
    alice_1.assert_quiet().await;
    bob_laptop.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_from_strangers_or_malformed_are_refused() {
    let harness = Harness::start();
    let (alice, bob, eve) = (harness.user("alice").await, harness.user("bob").await, harness.user("eve").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    alice_1.send(chat, "one").await;
    alice_1.expect_event("message:new").await;
    let mut eve_1 = harness.connect(&eve).await;

    let ack = eve_1.call("message:read", json!({ "chatId": chat.to_string(), "seq": 1 })).await;
    assert_eq!((ack["success"].clone(), ack["error"].clone()), (json!(false), json!("forbidden")), "{ack}");
    for bad in [
        json!({ "chatId": chat.to_string() }),
        json!({ "chatId": "x", "seq": 1 }),
        json!({ "chatId": chat.to_string(), "seq": -1 }),
    ] {
        let ack = eve_1.call("message:delivered", bad.clone()).await;
        assert_eq!(ack["error"], "invalid_payload", "{bad}: {ack}");
    }
    alice_1.assert_quiet().await;
}
