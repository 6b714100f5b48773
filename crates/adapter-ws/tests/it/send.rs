//! `message:send`: the ack carries the stored message, `message:new` reaches every socket in
//! the room (sender included) exactly once, a `clientId` retry is answered from the store and
//! emits nothing, and bad input or a non-participant is refused without side effects.

use serde_json::{json, Value};

use crate::client::Client;
use crate::harness::Harness;

/// The message of a successful `message:send` ack.
#[track_caller]
fn sent(ack: &Value) -> &Value {
    assert_eq!(ack["success"], true, "send failed: {ack}");
    &ack["message"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_message_is_acked_and_reaches_every_socket_in_the_room_once() {
    let harness = Harness::start();
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut alice_2 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    // In bob's personal room but not in the chat's: gets nothing of the chat.
    let mut bob_2 = harness.connect(&bob).await;
    let mut carol_1 = harness.connect(&carol).await;

    let ack = alice_1.send(chat, "<b>hi</b> bob & co").await;
    let message = sent(&ack).clone();
    assert_eq!(ack.as_object().unwrap().len(), 2, "{ack}");
    assert_eq!(message["text"], "hi bob &amp; co", "sanitized and escaped");
    assert_eq!(message["sender"], alice.id.to_string());
    assert_eq!(message["chat"], chat.to_string());
    assert_eq!(message["type"], "text");
    assert_eq!(message["status"], "sent");
    assert_eq!(message["isDeleted"], false);
    assert_eq!(message["seq"], 1);
    assert!(message["_id"].as_str().is_some_and(|id| id.len() == 24), "{message}");
    assert!(message.get("clientId").is_none(), "no clientId was sent: {message}");

    for socket in [&mut alice_1, &mut alice_2, &mut bob_1] {
        assert_eq!(socket.expect_event("message:new").await, message);
        socket.assert_quiet().await;
    }
    bob_2.assert_quiet().await;
    carol_1.assert_quiet().await;

    // The next one takes the next seq, with its type and clientId.
    let ack = bob_1
        .call("message:send", json!({ "chatId": chat.to_string(), "text": "pic", "type": "image", "clientId": "b-1" }))
        .await;
    let second = sent(&ack).clone();
    assert_eq!((second["seq"].clone(), second["type"].clone()), (json!(2), json!("image")));
    assert_eq!(second["clientId"], "b-1");
    for socket in [&mut alice_1, &mut alice_2, &mut bob_1] {
        assert_eq!(socket.expect_event("message:new").await, second);
        socket.assert_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_retry_returns_the_same_message_and_emits_nothing() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    let payload = json!({ "chatId": chat.to_string(), "text": "once", "clientId": "c-1" });

    let first = sent(&alice_1.call("message:send", payload.clone()).await).clone();
    assert_eq!(first["clientId"], "c-1");
    assert_eq!(alice_1.expect_event("message:new").await, first);
    assert_eq!(bob_1.expect_event("message:new").await, first);

    // The same send again, and one with other text but the same clientId: both answered with
    // the stored message, neither announced.
    let retry = sent(&alice_1.call("message:send", payload).await).clone();
    assert_eq!(retry, first);
    let other_text = json!({ "chatId": chat.to_string(), "text": "twice?", "clientId": "c-1" });
    assert_eq!(sent(&alice_1.call("message:send", other_text).await), &first);
    alice_1.assert_quiet().await;
    bob_1.assert_quiet().await;

    // The same clientId from another sender is another message.
    let bobs = json!({ "chatId": chat.to_string(), "text": "mine", "clientId": "c-1" });
    let bobs = sent(&bob_1.call("message:send", bobs).await).clone();
    assert_ne!(bobs["_id"], first["_id"]);
    assert_eq!(bobs["seq"], 2);
    assert_eq!(alice_1.expect_event("message:new").await, bobs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_payloads_are_acked_invalid_payload_and_change_nothing() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await.to_string();
    let mut alice_1 = harness.joined(&alice, chat.parse().unwrap()).await;
    let mut bob_1 = harness.joined(&bob, chat.parse().unwrap()).await;
    let too_long = "x".repeat(10_001);
    let cases = [
        r#"["message:send"]"#.to_owned(),
        r#"["message:send","hello"]"#.to_owned(),
        r#"["message:send",{"text":"no chat"}]"#.to_owned(),
        r#"["message:send",{"chatId":"nope","text":"bad id"}]"#.to_owned(),
        format!(r#"["message:send",{{"chatId":"{chat}"}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":5}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"   "}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"<script>x</script>"}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"{too_long}"}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"hi","type":"video"}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"hi","type":1}}]"#),
        format!(r#"["message:send",{{"chatId":"{chat}","text":"hi","clientId":7}}]"#),
        format!(r#"["message:typing",{{"chatId":"{chat}","isTyping":"yes"}}]"#),
        format!(r#"["message:typing",{{"chatId":"{chat}"}}]"#),
        r#"["no:such:event",{}]"#.to_owned(),
    ];
    for args in &cases {
        let ack = alice_1.call_raw(args).await;
        assert_eq!(ack["success"], false, "{args}: {ack}");
        assert_eq!(ack["error"], "invalid_payload", "{args}: {ack}");
    }
    alice_1.assert_quiet().await;
    bob_1.assert_quiet().await;

    // The session is intact and nothing took a seq.
    let message = sent(&alice_1.send(chat.parse().unwrap(), "valid").await).clone();
    assert_eq!(message["seq"], 1);
    assert_eq!(bob_1.expect_event("message:new").await, message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_participant_cannot_send_or_type() {
    let harness = Harness::start();
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    let mut carol_1: Client = harness.connect(&carol).await;

    let ack = carol_1.send(chat, "let me in").await;
    assert_eq!((ack["success"].clone(), ack["error"].clone()), (json!(false), json!("forbidden")), "{ack}");
    let ack = carol_1.call("message:typing", json!({ "chatId": chat.to_string(), "isTyping": true })).await;
    assert_eq!((ack["success"].clone(), ack["error"].clone()), (json!(false), json!("forbidden")), "{ack}");
    bob_1.assert_quiet().await;

    // Nothing was stored: the next message is the chat's first.
    assert_eq!(sent(&bob_1.send(chat, "first").await)["seq"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_sends_without_waiting_is_stored_once_each_in_the_order_sent() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    // All 30 are sent before the first ack is read, and the leave after them is answered
    // only once they are done. (That they overlap is tested in socketio's `pipelined.rs`: the
    // in-memory store answers each send in its first poll.)
    let mut calls = Vec::new();
    for i in 0..30 {
        let data = json!({ "chatId": chat.to_string(), "text": format!("m{i}"), "clientId": format!("c{i}") });
        calls.push(alice_1.start_call("message:send", data).await);
    }
    let leave = alice_1.start_call("chat:leave", json!({ "chatId": chat.to_string() })).await;
    let mut seqs = Vec::new();
    for (i, id) in calls.into_iter().enumerate() {
        let ack = alice_1.finish_call(id).await;
        assert_eq!(sent(&ack)["text"], format!("m{i}"));
        seqs.push(sent(&ack)["seq"].as_u64().unwrap());
    }
    assert_eq!(alice_1.finish_call(leave).await, json!({ "success": true }));
    assert_eq!(seqs, (1..=30).collect::<Vec<u64>>(), "stored in the order sent, each once");
    for i in 0..30 {
        assert_eq!(bob_1.expect_event("message:new").await["text"], format!("m{i}"));
    }
    bob_1.assert_quiet().await;
}
