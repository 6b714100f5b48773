//! Groups that change and message edits through the gateway: `message:edit` and
//! `message:updated`, `chat:updated` to the room and to the personal rooms of those added or
//! removed, eviction from the chat's room before anything later, the race of a join with a
//! removal, and catch-up of edits and changes.

use chat_domain::ChatId;
use serde_json::{json, Value};

use crate::harness::{Harness, TestUser};

async fn group(harness: &Harness) -> (TestUser, TestUser, TestUser, ChatId) {
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob, &carol]).await;
    (alice, bob, carol, chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sender_edits_over_the_socket_and_the_room_hears_message_updated() {
    let harness = Harness::start();
    let (alice, bob, _carol, chat) = group(&harness).await;
    let mut a = harness.joined(&alice, chat).await;
    let mut b = harness.joined(&bob, chat).await;
    let sent = a.send(chat, "helo").await["message"].clone();
    b.expect_event("message:new").await;
    a.expect_event("message:new").await;
    let id = sent["_id"].as_str().unwrap();

    let ack = a.call("message:edit", json!({ "messageId": id, "text": "<b>hello</b>" })).await;
    assert_eq!(ack["success"], true, "{ack}");
    assert_eq!(ack["message"]["text"], "hello");
    assert!(ack["message"]["editedAt"].is_string(), "{ack}");
    for socket in [&mut a, &mut b] {
        let updated = socket.expect_event("message:updated").await;
        assert_eq!(updated["seq"], 2, "the edit's own seq: {updated}");
        assert_eq!(updated["message"]["_id"], id);
        assert_eq!(updated["message"]["seq"], 1);
        assert_eq!(updated["message"]["text"], "hello");
    }

    let ack = b.call("message:edit", json!({ "messageId": id, "text": "mine" })).await;
    assert_eq!(ack["error"], "forbidden", "{ack}");
    let ack = a.call("message:edit", json!({ "messageId": id, "text": "   " })).await;
    assert_eq!(ack["error"], "invalid_payload", "{ack}");
    let ack = a.call("message:edit", json!({ "messageId": "nope", "text": "x" })).await;
    assert_eq!(ack["error"], "invalid_payload", "{ack}");
    let ack = a.call("message:edit", json!({ "messageId": "ffffffffffffffffffffffff", "text": "x" })).await;
    assert_eq!(ack["error"], "not_found", "{ack}");
    a.assert_quiet().await;
    b.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_user_hears_the_removal_once_then_nothing_of_the_chat() {
    let harness = Harness::start();
    let (alice, bob, carol, chat) = group(&harness).await;
    let mut a = harness.joined(&alice, chat).await;
    let mut c = harness.joined(&carol, chat).await;
    let mut c_other_tab = harness.joined(&carol, chat).await;

    harness.services.chats.remove_participant(alice.id, chat, carol.id).await.unwrap();
    // Sent right after the removal: the removed user's sockets never get it.
    let mut b = harness.connect(&bob).await;
    assert_eq!(b.send(chat, "after").await["success"], true);

    let updated = a.expect_event("chat:updated").await;
    assert_eq!(
        updated["change"],
        json!({ "type": "removed", "userIds": [carol.id.to_string()], "by": alice.id.to_string() })
    );
    assert_eq!(updated["seq"], 1);
    assert_eq!(updated["chat"]["participants"], json!([alice.id.to_string(), bob.id.to_string()]));
    assert_eq!(a.expect_event("message:new").await["seq"], 2);
    for socket in [&mut c, &mut c_other_tab] {
        // Once, on the personal room: the chat's room no longer holds the socket.
        let updated = socket.expect_event("chat:updated").await;
        assert_eq!(updated["change"]["type"], "removed");
        socket.assert_quiet().await;
    }
    // And refused from then on.
    assert_eq!(c.join(chat).await["error"], "forbidden");
    assert_eq!(c.send(chat, "hello?").await["error"], "forbidden");
    let ack = c.call("message:typing", json!({ "chatId": chat.to_string(), "isTyping": true })).await;
    assert_eq!(ack["error"], "forbidden");
    assert_eq!(c.join_since(chat, 0).await["error"], "forbidden");
    assert_eq!(a.send(chat, "still private").await["success"], true);
    a.expect_event("message:new").await;
    c.assert_quiet().await;
    c_other_tab.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_and_renaming_reach_the_room_and_adding_reaches_the_added() {
    let harness = Harness::start();
    let (alice, bob, carol, chat) = group(&harness).await;
    let dave = harness.user("dave").await;
    let mut a = harness.joined(&alice, chat).await;
    let mut b = harness.joined(&bob, chat).await;
    let mut d = harness.connect(&dave).await;

    harness.services.chats.add_participants(bob.id, chat, &[dave.id]).await.unwrap();
    let on_room = a.expect_event("chat:updated").await;
    assert_eq!(
        on_room["change"],
        json!({ "type": "added", "userIds": [dave.id.to_string()], "by": bob.id.to_string() })
    );
    b.expect_event("chat:updated").await;
    // The added user hears the change and gets the chat, each once.
    let mut heard: Vec<String> = Vec::new();
    for _ in 0..2 {
        let event = d.next_event().await;
        if event.name == "chat:created" {
            assert_eq!(event.data["_id"], chat.to_string());
            assert_eq!(event.data["participants"].as_array().unwrap().len(), 4);
        }
        heard.push(event.name);
    }
    heard.sort();
    assert_eq!(heard, ["chat:created", "chat:updated"]);
    d.assert_quiet().await;
    // The added user joins and is live.
    assert_eq!(d.join(chat).await["success"], true);

    harness.services.chats.rename(dave.id, chat, "Crew").await.unwrap();
    for socket in [&mut a, &mut b, &mut d] {
        let renamed = socket.expect_event("chat:updated").await;
        assert_eq!(renamed["change"]["type"], "renamed");
        assert_eq!(renamed["chat"]["name"], "Crew");
        assert_eq!(renamed["seq"], 2);
    }
    harness.services.chats.remove_participant(carol.id, chat, carol.id).await.unwrap();
    for socket in [&mut a, &mut b, &mut d] {
        let left = socket.expect_event("chat:updated").await;
        assert_eq!(
            left["change"],
            json!({ "type": "left", "userIds": [carol.id.to_string()], "by": carol.id.to_string() })
        );
        socket.assert_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_racing_a_removal_is_refused_and_nothing_later_arrives() {
    let harness = Harness::start();
    let (alice, _bob, carol, chat) = group(&harness).await;
    let mut a = harness.joined(&alice, chat).await;
    let mut c = harness.connect(&carol).await;
    // A plain join reads the chat to authorize, joins the room, and reads it again; the
    // removal commits while the second read waits.
    let mut gate = harness.gate_chat_read(1);
    let join = c.start_call("chat:join", json!({ "chatId": chat.to_string() })).await;
    gate.entered().await;
    harness.services.chats.remove_participant(alice.id, chat, carol.id).await.unwrap();
    gate.release();
    let ack = c.finish_call(join).await;
    assert_eq!(ack["error"], "forbidden", "{ack}");
    assert_eq!(c.expect_event("chat:updated").await["change"]["type"], "removed");
    a.expect_event("chat:updated").await;
    assert_eq!(a.send(chat, "after").await["success"], true);
    a.expect_event("message:new").await;
    c.assert_quiet().await;

    // The same race during a catch-up join.
    let dave = harness.user("dave").await;
    harness.services.chats.add_participants(alice.id, chat, &[dave.id]).await.unwrap();
    a.expect_event("chat:updated").await;
    let mut d = harness.connect(&dave).await;
    d.round_trip().await;
    let mut gate = harness.gate_chat_read(1);
    let join = d.start_call("chat:join", json!({ "chatId": chat.to_string(), "sinceSeq": 0 })).await;
    gate.entered().await;
    harness.services.chats.remove_participant(alice.id, chat, dave.id).await.unwrap();
    gate.release();
    let ack = d.finish_call(join).await;
    assert_eq!(ack["error"], "forbidden", "{ack}");
    a.expect_event("chat:updated").await;
    assert_eq!(a.send(chat, "after dave").await["success"], true);
    a.expect_event("message:new").await;
    let stray: Vec<String> = d.round_trip().await.into_iter().map(|e| e.name).collect();
    assert!(stray.iter().all(|name| name == "chat:updated"), "only the removal itself: {stray:?}");
}

/// The `(event, seq)` pairs of a replay.
fn replayed(ack: &Value) -> Vec<(String, u64)> {
    assert_eq!(ack["recovered"], true, "{ack}");
    ack["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e["data"]["seq"].as_u64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_replays_edits_deletes_and_changes_in_seq_order_then_goes_live() {
    let harness = Harness::start();
    let (alice, bob, _carol, chat) = group(&harness).await;
    let dave = harness.user("dave").await;
    let mut a = harness.joined(&alice, chat).await;
    let one = a.send(chat, "one").await["message"].clone(); // 1
    let id = one["_id"].as_str().unwrap().parse().unwrap();
    harness.services.messages.edit(alice.id, id, "uno").await.unwrap(); // 2
    harness.services.chats.rename(alice.id, chat, "Crew").await.unwrap(); // 3
    harness.services.chats.add_participants(alice.id, chat, &[dave.id]).await.unwrap(); // 4
    a.send(chat, "two").await; // 5
    harness.services.messages.soft_delete(alice.id, id).await.unwrap(); // 6

    let mut b = harness.connect(&bob).await;
    let ack = b.join_since(chat, 0).await;
    let names = |pairs: &[(&str, u64)]| pairs.iter().map(|(e, s)| ((*e).to_owned(), *s)).collect::<Vec<_>>();
    assert_eq!(
        replayed(&ack),
        names(&[
            ("message:new", 1),
            ("message:updated", 2),
            ("chat:updated", 3),
            ("chat:updated", 4),
            ("message:new", 5),
            ("message:deleted", 6)
        ])
    );
    let events = ack["events"].as_array().unwrap();
    assert_eq!(events[1]["data"]["message"]["_id"], one["_id"]);
    assert_eq!(events[1]["data"]["message"]["text"], "", "the message as it is now: deleted");
    assert_eq!(events[3]["data"]["change"]["type"], "added");
    assert_eq!(events[3]["data"]["chat"]["name"], "Crew");
    // A user added later catches up only from its arrival.
    let mut d = harness.connect(&dave).await;
    let ack = d.join_since(chat, 0).await;
    assert_eq!(replayed(&ack), names(&[("chat:updated", 4), ("message:new", 5), ("message:deleted", 6)]));

    harness.services.chats.rename(alice.id, chat, "Crew 2").await.unwrap();
    assert_eq!(b.expect_event("chat:updated").await["seq"], 7);
    assert_eq!(d.expect_event("chat:updated").await["seq"], 7);
    b.assert_quiet().await;
}
