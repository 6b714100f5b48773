//! Catch-up with `chat:join {chatId, sinceSeq}`: the ack replays the missed events in `seq`
//! order, then live events continue with nothing missed and nothing twice, even while messages
//! are being sent during the join.

use chat_domain::ChatId;
use serde_json::{json, Value};

use crate::client::Event;
use crate::harness::{Harness, TestUser};

/// The `(event, seq)` pairs of a replay, in the order the ack lists them.
fn replayed(ack: &Value) -> Vec<(String, u64)> {
    assert_eq!((ack["success"].clone(), ack["recovered"].clone()), (json!(true), json!(true)), "{ack}");
    ack["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {ack}"))
        .iter()
        .map(|e| (e["event"].as_str().unwrap().to_owned(), e["data"]["seq"].as_u64().unwrap()))
        .collect()
}

async fn send_as(harness: &Harness, user: &TestUser, chat: ChatId, text: &str) -> Value {
    let mut socket = harness.connect(user).await;
    let ack = socket.send(chat, text).await;
    assert_eq!(ack["success"], true, "{ack}");
    socket.close().await;
    ack["message"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_since_a_seq_replays_what_was_missed_in_order_then_goes_live() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    assert_eq!(alice_1.send(chat, "one").await["message"]["seq"], 1);
    assert_eq!(bob_1.expect_event("message:new").await["seq"], 1);
    bob_1.close().await;

    // While bob is away: two messages, and the first of them deleted (seq 4).
    let two = send_as(&harness, &alice, chat, "two").await;
    send_as(&harness, &alice, chat, "three").await;
    let two_id = two["_id"].as_str().unwrap().parse().unwrap();
    harness.services.messages.soft_delete(alice.id, two_id).await.unwrap();

    let mut bob_2 = harness.connect(&bob).await;
    let ack = bob_2.join_since(chat, 1).await;
    assert_eq!(bob_2.buffered(), 0, "a live event came before the replay");
    let expected = [("message:new", 2), ("message:new", 3), ("message:deleted", 4)];
    let expected: Vec<(String, u64)> = expected.iter().map(|(e, s)| ((*e).to_owned(), *s)).collect();
    assert_eq!(replayed(&ack), expected, "{ack}");
    let events = ack["events"].as_array().unwrap();
    assert_eq!(events[0]["data"]["_id"], two["_id"]);
    // The deleted message keeps its place in the replay but not its text.
    assert_eq!(events[0]["data"]["isDeleted"], true, "{ack}");
    assert_eq!(events[0]["data"]["text"], "", "a deleted message is replayed with its text blanked");
    assert_eq!(events[1]["data"]["text"], "three");
    assert_eq!(events[2]["data"], json!({ "messageId": two["_id"], "chatId": chat.to_string(), "seq": 4 }));

    // Then live, once.
    assert_eq!(alice_1.send(chat, "five").await["message"]["seq"], 5);
    assert_eq!(bob_2.expect_event("message:new").await["seq"], 5);
    bob_2.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoin_that_missed_nothing_replays_nothing_and_an_unknown_seq_is_not_recovered() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    alice_1.send(chat, "one").await;
    alice_1.send(chat, "two").await;

    let mut bob_1 = harness.connect(&bob).await;
    assert_eq!(replayed(&bob_1.join_since(chat, 2).await), vec![]);
    let mut bob_2 = harness.connect(&bob).await;
    let ack = bob_2.join_since(chat, 0).await;
    assert_eq!(replayed(&ack), vec![("message:new".to_owned(), 1), ("message:new".to_owned(), 2)]);

    // A seq the chat never had: the client must reload over HTTP, but it is in the room.
    let mut bob_3 = harness.connect(&bob).await;
    let ack = bob_3.join_since(chat, 99).await;
    assert_eq!(ack, json!({ "success": true, "recovered": false, "reason": "unknown_seq" }));

    assert_eq!(alice_1.send(chat, "three").await["message"]["seq"], 3);
    for socket in [&mut bob_1, &mut bob_2, &mut bob_3] {
        assert_eq!(socket.expect_event("message:new").await["seq"], 3);
        socket.assert_quiet().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_during_a_catch_up_arrive_once_after_the_replay() {
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.connect(&alice).await;
    alice_1.send(chat, "one").await;
    alice_1.send(chat, "two").await;
    let mut bob_1 = harness.connect(&bob).await;

    // The catch-up reads the chat twice: to authorize the join, then (with the socket in the
    // room, its frames held) for the last seq and the missed events. The second read waits.
    let mut gate = harness.gate_chat_read(1);
    let join = bob_1.start_call("chat:join", json!({ "chatId": chat.to_string(), "sinceSeq": 1 })).await;
    gate.entered().await;
    // Committed while bob's socket is in the room but before the replay is read: each is both
    // in the replay and queued live for him.
    assert_eq!(alice_1.send(chat, "three").await["message"]["seq"], 3);
    assert_eq!(alice_1.send(chat, "four").await["message"]["seq"], 4);
    gate.release();

    let ack = bob_1.finish_call(join).await;
    assert_eq!(bob_1.buffered(), 0, "live events overtook the replay");
    let expected: Vec<(String, u64)> = (2..=4).map(|seq| ("message:new".to_owned(), seq)).collect();
    assert_eq!(replayed(&ack), expected, "{ack}");
    // The live copies of 3 and 4 were dropped, not delivered a second time.
    bob_1.assert_quiet().await;
    assert_eq!(alice_1.send(chat, "five").await["message"]["seq"], 5);
    assert_eq!(bob_1.expect_event("message:new").await["seq"], 5);
    bob_1.assert_quiet().await;
}

/// Takes `event` into what the client has seen: it must be the next `message:new` in seq order.
#[track_caller]
fn take(seen: &mut u64, name: &str, seq: u64) {
    assert_eq!(name, "message:new");
    assert_eq!(seq, *seen + 1, "after seq {seen} came seq {seq}: a gap or a second copy");
    *seen = seq;
}

/// A soak of the same guarantee under real concurrency (the gated test above pins the
/// interleaving; this one lets the scheduler pick many).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_while_messages_are_sent_sees_each_one_once_in_order() {
    const SENT: u64 = 200;
    const ROUNDS: usize = 20;
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut bob_1 = harness.joined(&bob, chat).await;
    let mut alice_1 = harness.connect(&alice).await;
    assert_eq!(alice_1.send(chat, "first").await["message"]["seq"], 1);
    let mut seen = 0;
    let first = bob_1.next_event().await;
    take(&mut seen, &first.name, first.data["seq"].as_u64().unwrap());

    let sender = tokio::spawn(async move {
        for i in 2..=SENT {
            let ack = alice_1.send(chat, &format!("message {i}")).await;
            assert_eq!(ack["message"]["seq"], i, "{ack}");
        }
    });
    // Leave and catch up again and again while alice sends.
    let leave = json!({ "chatId": chat.to_string() });
    for _ in 0..ROUNDS {
        assert_eq!(bob_1.call("chat:leave", leave.clone()).await, json!({ "success": true }));
        // Whatever came before the leave's ack was sent while bob was in the room.
        for Event { name, data } in bob_1.round_trip().await {
            take(&mut seen, &name, data["seq"].as_u64().unwrap());
        }
        let ack = bob_1.join_since(chat, seen).await;
        assert_eq!(bob_1.buffered(), 0, "a live event came before the replay");
        for (name, seq) in replayed(&ack) {
            take(&mut seen, &name, seq);
        }
    }
    sender.await.unwrap();
    // Every send was acked, so its event is queued for bob or in a replay he took already.
    for Event { name, data } in bob_1.round_trip().await {
        take(&mut seen, &name, data["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, SENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_larger_than_the_byte_bound_is_refused_and_the_socket_stays() {
    // 100 messages of 10,000 three-byte characters: about 3 MB of replay, more than the
    // outbound queue holds. Before the byte bound, the replay overflowed the queue and the
    // client was disconnected as a slow consumer on every rejoin.
    let harness = Harness::start();
    let (alice, bob) = (harness.user("alice").await, harness.user("bob").await);
    let chat = harness.chat(&alice, &[&bob]).await;
    let mut alice_1 = harness.joined(&alice, chat).await;
    let big = "€".repeat(10_000);
    for _ in 0..100 {
        assert_eq!(alice_1.send(chat, &big).await["success"], true);
    }

    let mut bob_1 = harness.connect(&bob).await;
    let ack = bob_1.join_since(chat, 0).await;
    assert_eq!(ack, json!({ "success": true, "recovered": false, "reason": "too_far_behind" }));
    // Still connected, in the room, and live from here.
    assert_eq!(alice_1.send(chat, "after").await["message"]["seq"], 101);
    assert_eq!(bob_1.expect_event("message:new").await["text"], "after");

    // A replay under the bound is still recovered: the last three messages.
    let mut bob_2 = harness.connect(&bob).await;
    let ack = bob_2.join_since(chat, 98).await;
    assert_eq!(replayed(&ack).len(), 3, "seq 99, 100 and 101");
}
