//! The server's own delivery receipts (a `message:new` queued for a user's socket moves their
//! delivered marker at the next flush) and the pacing of `receipt:updated` (at most one per
//! participant and chat per window, the latest values winning), wired as `app` wires them.

use std::time::Duration;

use chat_domain::{MessageStatus, PageCursor, PageLimit};
use serde_json::json;

use crate::harness::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_queued_for_the_recipients_socket_is_delivered_at_the_next_flush() {
    let harness = Harness::with_receipts();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_phone = harness.joined(&bob, chat).await;
    // Bob's laptop is connected but not in the chat's room: it gets no message:new.
    let mut bob_laptop = harness.connect(&bob).await;
    alice_1.send(chat, "one").await;
    alice_1.expect_event("message:new").await;
    bob_phone.expect_event("message:new").await;
    let statuses = |h: &Harness| {
        let services = h.services.clone();
        let alice = alice.id;
        async move {
            let page = services.messages.history(alice, chat, PageCursor::Skip(0), PageLimit::default()).await;
            page.unwrap().messages.iter().map(|m| m.status).collect::<Vec<_>>()
        }
    };
    assert_eq!(statuses(&harness).await, [MessageStatus::Sent], "nothing moves before the flush");

    harness.flush_deliveries().await;
    let expected = json!({ "chatId": chat.to_string(), "userId": bob.id.to_string(), "deliveredSeq": 1, "readSeq": 0 });
    assert_eq!(alice_1.expect_event("receipt:updated").await, expected);
    assert_eq!(bob_phone.expect_event("receipt:updated").await, expected);
    assert_eq!(statuses(&harness).await, [MessageStatus::Delivered]);
    // Alice's own sockets got the message too; her markers were there already: no receipt of
    // hers, and a second flush has nothing to write.
    harness.flush_deliveries().await;
    alice_1.assert_quiet().await;
    bob_laptop.assert_quiet().await;

    // With the phone gone, nothing of Bob's is in the room: the next message stays sent.
    bob_phone.close().await;
    crate::harness::wait_until("the phone's socket to be gone", || harness.gateway.tracked_sockets() == 2).await;
    alice_1.send(chat, "two").await;
    alice_1.expect_event("message:new").await;
    harness.flush_deliveries().await;
    alice_1.assert_quiet().await;
    assert_eq!(statuses(&harness).await, [MessageStatus::Delivered, MessageStatus::Sent]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_moves_reach_the_room_once_per_window_with_the_latest_values() {
    let harness = Harness::with_receipts();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_phone = harness.joined(&bob, chat).await;
    for text in ["one", "two", "three"] {
        alice_1.send(chat, text).await;
        alice_1.expect_event("message:new").await;
        bob_phone.expect_event("message:new").await;
    }
    let receipt = |delivered: u64, read: u64| json!({ "chatId": chat.to_string(), "userId": bob.id.to_string(), "deliveredSeq": delivered, "readSeq": read });

    // The server's delivery receipt is the first move in a while: announced at once.
    harness.flush_deliveries().await;
    assert_eq!(alice_1.expect_event("receipt:updated").await, receipt(3, 0));
    assert_eq!(bob_phone.expect_event("receipt:updated").await, receipt(3, 0));
    // Two quick reads inside the window: held; Bob's badge is cleared at once all the same.
    for (seq, unread) in [(1, 2), (3, 0)] {
        let ack = bob_phone.call("message:read", json!({ "chatId": chat.to_string(), "seq": seq })).await;
        assert_eq!(ack, json!({ "success": true }));
        let badge = bob_phone.expect_event("chat:unread").await;
        assert_eq!(badge, json!({ "chatId": chat.to_string(), "unreadCount": unread }));
    }
    alice_1.assert_quiet().await;
    bob_phone.assert_quiet().await;

    harness.pass(Duration::from_millis(500)).await;
    alice_1.assert_quiet().await;
    harness.pass(Duration::from_millis(500)).await;
    assert_eq!(alice_1.expect_event("receipt:updated").await, receipt(3, 3), "the latest values, once");
    assert_eq!(bob_phone.expect_event("receipt:updated").await, receipt(3, 3));
    harness.pass(Duration::from_secs(5)).await;
    alice_1.assert_quiet().await;
    assert_eq!(harness.paced.as_ref().unwrap().tracked(), 0, "a quiet participant is forgotten");

    // A move after a quiet window is announced at once again.
    alice_1.send(chat, "four").await;
    alice_1.expect_event("message:new").await;
    bob_phone.expect_event("message:new").await;
    let ack = bob_phone.call("message:read", json!({ "chatId": chat.to_string(), "seq": 4 })).await;
    assert_eq!(ack, json!({ "success": true }));
    assert_eq!(alice_1.expect_event("receipt:updated").await, receipt(4, 4));
}
