//! Deliveries of a group's events reach only the sockets of the chat's members as of the event
//! (the delivery's `members`), whatever else is still in the chat's room: a removal whose own
//! delivery has not reached this node yet (it is on its way from another node) does not let
//! the removed user hear what was sent after it. And a user taken out of a chat while typing
//! there is announced as stopped.

use adapter_ws::gateway::{chat_room, SocketNotifier};
use chat_domain::{ChatId, DomainEvent, UserId};
use serde_json::{json, Value};
use wire::delivery::route;

use crate::harness::{Harness, TestUser};

async fn group(harness: &Harness) -> (TestUser, TestUser, TestUser, ChatId) {
    let (alice, bob, carol) = (harness.user("alice").await, harness.user("bob").await, harness.user("carol").await);
    let chat = harness.chat(&alice, &[&bob, &carol]).await;
    (alice, bob, carol, chat)
}

fn typing(chat: ChatId, user: &TestUser, is_typing: bool) -> Value {
    json!({ "chatId": chat.to_string(), "userId": user.id.to_string(), "isTyping": is_typing })
}

fn room_size(harness: &Harness, chat: ChatId) -> usize {
    harness.io.of("/").unwrap().room_size(&chat_room(chat))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_reaches_only_its_members_sockets_and_evicts_nobody() {
    let harness = Harness::start();
    let (alice, bob, carol, chat) = group(&harness).await;
    let mut a = harness.joined(&alice, chat).await;
    let mut b = harness.joined(&bob, chat).await;
    let mut c = harness.joined(&carol, chat).await;
    let notifier = SocketNotifier::new(harness.io.clone());
    let without_carol = Some(vec![alice.id, bob.id]);

    let event = DomainEvent::Typing { chat, user: alice.id, is_typing: true, members: without_carol.clone() };
    assert_eq!(notifier.deliver(&route(&event).unwrap()), 1, "bob's socket only: alice types, carol is no member");
    assert_eq!(b.expect_event("message:typing").await, typing(chat, &alice, true));
    let deleted = chat_domain::MessageId::generate(1);
    let event = DomainEvent::MessageDeleted { chat, message: deleted, seq: 9, members: without_carol };
    assert_eq!(notifier.deliver(&route(&event).unwrap()), 2);
    for socket in [&mut a, &mut b] {
        assert_eq!(socket.expect_event("message:deleted").await["messageId"], deleted.to_string());
    }
    c.assert_quiet().await;
    a.assert_quiet().await;
    // A socket left out is not evicted: a later delivery that names carol reaches her.
    assert_eq!(room_size(&harness, chat), 3);
    let everyone = Some(vec![alice.id, bob.id, carol.id]);
    let event = DomainEvent::MessageDeleted { chat, message: deleted, seq: 10, members: everyone };
    assert_eq!(notifier.deliver(&route(&event).unwrap()), 3);
    assert_eq!(c.expect_event("message:deleted").await["seq"], 10);
    // Nobody named: nobody gets it, not even through the room.
    let event = DomainEvent::MessageDeleted { chat, message: deleted, seq: 11, members: Some(Vec::<UserId>::new()) };
    assert_eq!(notifier.deliver(&route(&event).unwrap()), 0);
    c.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_delivered_before_the_removal_reaches_the_node_skips_the_removed_user() {
    let harness = Harness::start();
    let (alice, bob, carol, chat) = group(&harness).await;
    let mut a = harness.joined(&alice, chat).await;
    let mut b = harness.joined(&bob, chat).await;
    let mut c = harness.joined(&carol, chat).await;
    let mut c_other_tab = harness.joined(&carol, chat).await;

    // The removal commits, but its delivery (with its eviction) is still on its way here, as
    // a removal made through another node is until its Redis message arrives.
    harness.relay.hold_changes();
    harness.services.chats.remove_participant(alice.id, chat, carol.id).await.unwrap();
    assert_eq!(b.send(chat, "after the removal").await["success"], true);
    assert_eq!(harness.services.messages.edit(bob.id, first_id(&mut b).await, "edited").await.unwrap().seq, 2);
    assert_eq!(room_size(&harness, chat), 4, "carol's sockets are still in the room");
    assert_eq!(a.expect_event("message:new").await["seq"], 2);
    assert_eq!(a.expect_event("message:updated").await["seq"], 3);
    c.assert_quiet().await;
    c_other_tab.assert_quiet().await;

    // The removal arrives: carol hears it once, on her personal room, and nothing after it.
    harness.relay.release();
    assert_eq!(a.expect_event("chat:updated").await["seq"], 1);
    for socket in [&mut c, &mut c_other_tab] {
        assert_eq!(socket.expect_event("chat:updated").await["change"]["type"], "removed");
        socket.assert_quiet().await;
    }
    assert_eq!(room_size(&harness, chat), 2);
}

/// The id of the message `socket` just sent (its own `message:new`).
async fn first_id(socket: &mut crate::client::Client) -> chat_domain::MessageId {
    let new = socket.expect_event("message:new").await;
    chat_domain::MessageId::parse(new["_id"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typist_removed_or_leaving_is_announced_as_stopped_to_the_others() {
    let harness = Harness::start();
    let (alice, bob, carol, chat) = group(&harness).await;
    let dave = harness.user("dave").await;
    harness.services.chats.add_participants(alice.id, chat, &[dave.id]).await.unwrap();
    let mut a = harness.joined(&alice, chat).await;
    let mut b = harness.joined(&bob, chat).await;
    let mut c = harness.joined(&carol, chat).await;
    let mut d = harness.joined(&dave, chat).await;

    c.typing(chat, true).await;
    d.typing(chat, true).await;
    for socket in [&mut a, &mut b] {
        let mut heard = vec![socket.expect_event("message:typing").await, socket.expect_event("message:typing").await];
        heard.sort_by_key(|t| t["userId"].as_str().map(str::to_owned));
        let mut expected = vec![typing(chat, &carol, true), typing(chat, &dave, true)];
        expected.sort_by_key(|t| t["userId"].as_str().map(str::to_owned));
        assert_eq!(heard, expected);
    }
    assert_eq!(c.expect_event("message:typing").await, typing(chat, &dave, true));
    assert_eq!(d.expect_event("message:typing").await, typing(chat, &carol, true));

    // Removed while typing: the others hear the change, then the stop.
    harness.services.chats.remove_participant(alice.id, chat, carol.id).await.unwrap();
    for socket in [&mut a, &mut b] {
        assert_eq!(socket.expect_event("chat:updated").await["change"]["type"], "removed");
        assert_eq!(socket.expect_event("message:typing").await, typing(chat, &carol, false));
    }
    assert_eq!(d.expect_event("chat:updated").await["change"]["type"], "removed");
    assert_eq!(d.expect_event("message:typing").await, typing(chat, &carol, false));
    assert_eq!(c.expect_event("chat:updated").await["change"]["type"], "removed");

    // Leaving while typing: the same.
    harness.services.chats.remove_participant(dave.id, chat, dave.id).await.unwrap();
    for socket in [&mut a, &mut b] {
        assert_eq!(socket.expect_event("chat:updated").await["change"]["type"], "left");
        assert_eq!(socket.expect_event("message:typing").await, typing(chat, &dave, false));
    }
    assert_eq!(d.expect_event("chat:updated").await["change"]["type"], "left");
    for socket in [&mut a, &mut b, &mut c, &mut d] {
        socket.assert_quiet().await;
    }
}
