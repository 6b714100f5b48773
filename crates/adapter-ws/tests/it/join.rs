//! `chat:join` and `chat:leave`: participants join the chat's room and get its live events,
//! others are refused and get nothing, leaving stops the events, malformed payloads are
//! `invalid_payload`.

use chat_domain::{ChatId, SendMessage};
use serde_json::json;

use crate::harness::{Harness, TestUser};

/// Sends `text` as `sender` through the domain service, as `POST /api/messages` does; returns
/// the message's seq.
async fn send_elsewhere(harness: &Harness, sender: &TestUser, chat: ChatId, text: &str) -> u64 {
    let request = SendMessage { chat, text, kind: None, client_id: None };
    harness.services.messages.send(sender.id, request).await.unwrap().seq
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_joins_and_gets_the_rooms_events_whoever_causes_them() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut bob_1 = harness.connect(&bob).await;
    let ack = bob_1.join(chat).await;
    assert_eq!(ack, json!({ "success": true, "lastSeq": 0 }), "a plain join says where the chat stands");

    // A message created outside the gateway (HTTP) reaches the room through the notifier.
    let seq = send_elsewhere(&harness, &alice, chat, "hello bob").await;
    let message = bob_1.expect_event("message:new").await;
    assert_eq!(message["text"], "hello bob");
    assert_eq!(message["chat"], chat.to_string());
    assert_eq!(message["sender"], alice.id.to_string());
    assert_eq!(message["seq"], seq);

    // So does a soft delete, with the delete's own seq.
    let id = message["_id"].as_str().unwrap().parse().unwrap();
    harness.services.messages.soft_delete(alice.id, id).await.unwrap();
    let deleted = bob_1.expect_event("message:deleted").await;
    assert_eq!(deleted, json!({ "messageId": message["_id"], "chatId": chat.to_string(), "seq": seq + 1 }));
    bob_1.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_participant_is_refused_and_gets_nothing_of_the_chat() {
    let harness = Harness::start();
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut carol_1 = harness.connect(&carol).await;

    let ack = carol_1.join(chat).await;
    assert_eq!(ack["success"], false, "{ack}");
    assert_eq!(ack["error"], "forbidden", "{ack}");
    // Nor does catching up let her in.
    let ack = carol_1.join_since(chat, 0).await;
    assert_eq!((ack["success"].clone(), ack["error"].clone()), (json!(false), json!("forbidden")), "{ack}");

    send_elsewhere(&harness, &alice, chat, "private").await;
    carol_1.assert_quiet().await;

    // A chat that does not exist.
    let ack = carol_1.join(ChatId::generate(1)).await;
    assert_eq!((ack["success"].clone(), ack["error"].clone()), (json!(false), json!("not_found")), "{ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_stops_live_events_and_joining_again_resumes_them() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;

    assert_eq!(alice_1.send(chat, "one").await["success"], true);
    assert_eq!(bob_1.expect_event("message:new").await["text"], "one");
    assert_eq!(alice_1.expect_event("message:new").await["text"], "one");

    let ack = bob_1.call("chat:leave", json!({ "chatId": chat.to_string() })).await;
    assert_eq!(ack, json!({ "success": true }));
    assert_eq!(alice_1.send(chat, "two").await["success"], true);
    assert_eq!(alice_1.expect_event("message:new").await["text"], "two");
    bob_1.assert_quiet().await;
    // Leaving says nothing about membership: bob is still a participant and may send.
    assert_eq!(bob_1.send(chat, "three").await["success"], true);
    assert_eq!(alice_1.expect_event("message:new").await["text"], "three");
    bob_1.assert_quiet().await;

    assert_eq!(bob_1.join(chat).await["success"], true);
    assert_eq!(alice_1.send(chat, "four").await["success"], true);
    assert_eq!(bob_1.expect_event("message:new").await["text"], "four");
    bob_1.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_join_and_leave_payloads_are_invalid_and_the_socket_stays() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await.to_string();
    let mut alice_1 = harness.connect(&alice).await;
    let cases = [
        r#"["chat:join"]"#.to_owned(),
        r#"["chat:join","text"]"#.to_owned(),
        r#"["chat:join",{}]"#.to_owned(),
        r#"["chat:join",{"chatId":5}]"#.to_owned(),
        r#"["chat:join",{"chatId":"not-an-id"}]"#.to_owned(),
        format!(r#"["chat:join",{{"chatId":"{chat}","sinceSeq":-1}}]"#),
        format!(r#"["chat:join",{{"chatId":"{chat}","sinceSeq":"3"}}]"#),
        r#"["chat:leave"]"#.to_owned(),
        r#"["chat:leave",{"chatId":null}]"#.to_owned(),
        r#"["chat:leave",{"chatId":"xyz"}]"#.to_owned(),
    ];
    for args in &cases {
        let ack = alice_1.call_raw(args).await;
        assert_eq!(ack["success"], false, "{args}: {ack}");
        assert_eq!(ack["error"], "invalid_payload", "{args}: {ack}");
    }
    // None of them joined the room; a valid join still works on the same socket.
    let chat_id: ChatId = chat.parse().unwrap();
    send_elsewhere(&harness, &bob, chat_id, "before").await;
    alice_1.assert_quiet().await;
    assert_eq!(alice_1.join(chat_id).await["success"], true);
    send_elsewhere(&harness, &bob, chat_id, "after").await;
    assert_eq!(alice_1.expect_event("message:new").await["text"], "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_join_acks_the_chats_last_seq() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    for text in ["one", "two", "three"] {
        assert_eq!(alice_1.send(chat, text).await["success"], true);
    }
    let mut bob_1 = harness.connect(&bob).await;
    assert_eq!(bob_1.join(chat).await, json!({ "success": true, "lastSeq": 3 }));
    assert_eq!(alice_1.send(chat, "four").await["message"]["seq"], 4);
    assert_eq!(bob_1.expect_event("message:new").await["seq"], 4, "live from lastSeq + 1");
}
