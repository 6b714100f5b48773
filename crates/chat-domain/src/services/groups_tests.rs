//! The group and edit use cases through the in-memory store: what is stored, what is
//! announced, what is refused, and what a catch-up replays.

use super::*;
use crate::group::ChangeKind;

async fn team(w: &World, n: usize) -> (ChatId, Vec<UserId>) {
    let mut u = Vec::new();
    for i in 0..n {
        u.push(w.user(&format!("member{i}")).await);
    }
    let chat = w.services.chats.create(u[0], &u[1..], Some("team")).await.unwrap().0.chat.id;
    w.events.take();
    (chat, u)
}

#[tokio::test]
async fn a_rename_takes_the_next_seq_and_is_announced_to_the_room() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    w.send(u[0], chat, "one").await.unwrap();
    w.events.take();
    let view = w.services.chats.rename(u[1], chat, "renamed").await.unwrap();
    assert_eq!(view.chat.name.as_ref().unwrap().as_str(), "renamed");
    assert_eq!(view.chat.last_seq, 2);
    match w.events.take().as_slice() {
        [DomainEvent::ChatUpdated { chat: c, change, seq: 2 }] => {
            assert_eq!(c.chat.id, chat);
            assert_eq!((change.kind, change.by), (ChangeKind::Renamed, u[1]));
        }
        other => panic!("unexpected events {other:?}"),
    }
    // A message after it takes the seq after it.
    assert_eq!(w.send(u[2], chat, "two").await.unwrap().seq, 3);
}

#[tokio::test]
async fn adding_announces_the_change_and_the_chat_to_the_added() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    let newcomer = w.user("newcomer").await;
    let view = w.services.chats.add_participants(u[2], chat, &[newcomer, u[0]]).await.unwrap();
    assert_eq!(view.chat.participants, vec![u[0], u[1], u[2], newcomer]);
    match w.events.take().as_slice() {
        [DomainEvent::ChatUpdated { change, seq: 1, .. }, DomainEvent::AddedToChat { users, .. }] => {
            assert_eq!((change.kind, change.users.clone()), (ChangeKind::Added, vec![newcomer]));
            assert_eq!(users, &vec![newcomer]);
        }
        other => panic!("unexpected events {other:?}"),
    }
    // Adding members again changes nothing and announces nothing.
    let again = w.services.chats.add_participants(u[2], chat, &[newcomer]).await.unwrap();
    assert_eq!(again.chat.last_seq, 1);
    assert!(w.events.take().is_empty());
    // An unknown user is not found, and nothing changes.
    let ghost = UserId::generate(1);
    assert!(matches!(w.services.chats.add_participants(u[0], chat, &[ghost]).await, Err(Error::NotFound(_))));
    assert!(w.events.take().is_empty());
}

#[tokio::test]
async fn a_removed_user_is_refused_history_sends_typing_joins_and_edits() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    let mine = w.send(u[2], chat, "mine").await.unwrap();
    w.services.chats.remove_participant(u[0], chat, u[2]).await.unwrap();
    let forbidden = |r: Result<(), Error>| assert!(matches!(r, Err(Error::Forbidden(_))), "{r:?}");
    forbidden(w.send(u[2], chat, "still here?").await.map(|_| ()));
    forbidden(w.services.messages.history(u[2], chat, PageCursor::Skip(0), PageLimit::default()).await.map(|_| ()));
    forbidden(w.services.messages.typing(u[2], chat, true).await);
    forbidden(w.services.messages.join(u[2], chat, None).await.map(|_| ()));
    forbidden(w.services.messages.edit(u[2], mine.id, "changed").await.map(|_| ()));
    forbidden(w.services.chats.get(u[2], chat).await.map(|_| ()));
    // Only the creator removes others; anyone leaves.
    forbidden(w.services.chats.remove_participant(u[1], chat, u[0]).await);
    w.services.chats.remove_participant(u[1], chat, u[1]).await.unwrap();
    let view = w.services.chats.get(u[0], chat).await.unwrap();
    assert_eq!(view.chat.participants, vec![u[0]]);
}

#[tokio::test]
async fn direct_chats_do_not_change() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let invalid = |r: Result<(), Error>| assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    invalid(w.services.chats.rename(a, chat, "x").await.map(|_| ()));
    invalid(w.services.chats.remove_participant(a, chat, a).await);
    let c = w.user("c").await;
    invalid(w.services.chats.add_participants(a, chat, &[c]).await.map(|_| ()));
}

#[tokio::test]
async fn edits_by_the_sender_take_a_seq_and_show_in_last_message() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    let m = w.send(u[0], chat, "helo").await.unwrap();
    w.events.take();
    let edited = w.services.messages.edit(u[0], m.id, "<b>hello</b> & bye").await.unwrap();
    assert_eq!(edited.text.as_str(), "hello &amp; bye");
    assert!(edited.edited_at.is_some());
    assert_eq!(edited.seq, 1);
    match w.events.take().as_slice() {
        [DomainEvent::MessageUpdated { message, seq: 2, .. }] => assert_eq!(message.id, m.id),
        other => panic!("unexpected events {other:?}"),
    }
    let view = w.services.chats.get(u[1], chat).await.unwrap();
    assert_eq!(view.last_message.as_ref().unwrap().text.as_str(), "hello &amp; bye");
    assert_eq!(view.chat.last_seq, 2);
    // Not the sender, not blank, not too long, not deleted.
    assert!(matches!(w.services.messages.edit(u[1], m.id, "x").await, Err(Error::Forbidden(_))));
    assert!(matches!(w.services.messages.edit(u[0], m.id, "  ").await, Err(Error::Invalid(_))));
    let long = "x".repeat(10_001);
    assert!(matches!(w.services.messages.edit(u[0], m.id, &long).await, Err(Error::Invalid(_))));
    w.services.messages.soft_delete(u[0], m.id).await.unwrap();
    assert!(matches!(w.services.messages.edit(u[0], m.id, "back").await, Err(Error::Invalid(_))));
    assert!(matches!(w.services.messages.edit(u[0], MessageId::generate(1), "x").await, Err(Error::NotFound(_))));
    assert!(w.events.take().iter().all(|e| !matches!(e, DomainEvent::MessageUpdated { .. })));
}

#[tokio::test]
async fn catch_up_replays_edits_and_changes_in_seq_order_within_membership() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    let m = w.send(u[0], chat, "one").await.unwrap(); // 1
    w.services.messages.edit(u[0], m.id, "uno").await.unwrap(); // 2
    w.services.chats.remove_participant(u[0], chat, u[2]).await.unwrap(); // 3
    w.send(u[0], chat, "while away").await.unwrap(); // 4
    w.services.chats.add_participants(u[1], chat, &[u[2]]).await.unwrap(); // 5
    let JoinOutcome::Recovered { events, last_seq } = w.services.messages.join(u[2], chat, Some(0)).await.unwrap()
    else {
        panic!("not recovered");
    };
    assert_eq!(last_seq, 5);
    assert_eq!(events.iter().map(ChatEvent::seq).collect::<Vec<_>>(), vec![1, 2, 3, 5]);
    assert!(matches!(&events[1], ChatEvent::MessageUpdated { message, .. } if message.text.as_str() == "uno"));
    for event in &events[2..] {
        let ChatEvent::ChatUpdated { chat: Some(view), .. } = event else { panic!("{event:?}") };
        // The chat as it is now, with the user back in it.
        assert_eq!(view.chat.participants, vec![u[0], u[1], u[2]]);
    }
    // A member all along sees the message it missed too.
    let JoinOutcome::Recovered { events, .. } = w.services.messages.join(u[1], chat, Some(0)).await.unwrap() else {
        panic!("not recovered");
    };
    assert_eq!(events.len(), 5);
}

#[tokio::test]
async fn events_of_a_group_name_its_members_as_of_the_event() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    let m = w.send(u[1], chat, "one").await.unwrap();
    w.services.chats.remove_participant(u[0], chat, u[2]).await.unwrap();
    w.events.take();
    let after = vec![u[0], u[1]];
    w.services.messages.edit(u[1], m.id, "two").await.unwrap();
    w.services.messages.typing(u[0], chat, true).await.unwrap();
    w.services.messages.soft_delete(u[1], m.id).await.unwrap();
    match w.events.take().as_slice() {
        [DomainEvent::MessageUpdated { members: edited, .. }, DomainEvent::Typing { members: typing, .. }, DomainEvent::MessageDeleted { members: deleted, .. }] => {
            for members in [edited, typing, deleted] {
                assert_eq!(members.as_ref(), Some(&after));
            }
        }
        other => panic!("unexpected events {other:?}"),
    }
    w.send(u[0], chat, "three").await.unwrap();
    assert!(
        matches!(w.events.take().as_slice(), [DomainEvent::MessageCreated { members: Some(m), .. }] if *m == after)
    );
    // A 1:1 chat never changes members: its events name none, and reach its room as they are.
    let direct = w.direct(u[0], u[1]).await;
    w.events.take();
    w.send(u[0], direct, "hi").await.unwrap();
    let events = w.events.take();
    assert!(matches!(events.as_slice(), [DomainEvent::MessageCreated { members: None, .. }]), "{events:?}");
}

#[tokio::test]
async fn a_send_or_edit_that_loses_the_race_to_a_removal_is_forbidden_and_announces_nothing() {
    // The store re-checks membership in the write that takes the seq; a removal committed
    // after the service's own check is seen there.
    let store = Arc::new(InMemoryStore::new());
    let events = Arc::new(Recorder::default());
    let mut ports = ports_with(store.clone(), events.clone(), Arc::new(Unlimited));
    let services = Services::new(ports.clone(), ServicesConfig::default());
    let a = services.auth.register("a@example.com", "a", "password").await.unwrap().user.id;
    let b = services.auth.register("b@example.com", "b", "password").await.unwrap().user.id;
    let chat = services.chats.create(a, &[b], None).await.unwrap().0.chat.id;
    let stored =
        services.messages.send(a, SendMessage { chat, text: "hi", kind: None, client_id: None }).await.unwrap();
    let mut messages = MockMessageRepository::new();
    messages.expect_append_message().returning(|_| Ok(Appended::NotParticipant));
    messages.expect_edit_message().returning(|_, _, _| Ok(Edited::NotParticipant));
    let found = stored.clone();
    messages.expect_message_by_id().returning(move |_| Ok(Some(found.clone())));
    ports.messages = Arc::new(messages);
    let services = Services::new(ports, ServicesConfig::default());
    events.take();
    let err = services.messages.send(a, SendMessage { chat, text: "hi", kind: None, client_id: None }).await;
    assert!(matches!(err, Err(Error::Forbidden(_))), "{err:?}");
    let err = services.messages.edit(a, stored.id, "again").await;
    assert!(matches!(err, Err(Error::Forbidden(_))), "{err:?}");
    assert!(events.take().is_empty());
}

#[tokio::test]
async fn a_departed_typist_is_announced_stopped_to_the_members_only_once_departed() {
    let w = world();
    let (chat, u) = team(&w, 3).await;
    w.services.messages.typing_ended(u[2], chat).await.unwrap();
    assert!(w.events.take().is_empty(), "a participant ends their own typing");
    w.services.chats.remove_participant(u[2], chat, u[2]).await.unwrap();
    w.events.take();
    w.services.messages.typing_ended(u[2], chat).await.unwrap();
    assert_eq!(
        w.events.take(),
        [DomainEvent::Typing { chat, user: u[2], is_typing: false, members: Some(vec![u[0], u[1]]) }]
    );
    w.services.messages.typing_ended(u[2], ChatId::generate(1)).await.unwrap();
    assert!(w.events.take().is_empty(), "no such chat, nothing to say");
}

#[tokio::test]
async fn a_send_moves_the_senders_own_markers_in_the_same_write() {
    let w = world();
    let (chat, u) = team(&w, 2).await;
    w.services.receipts.mark(u[0], chat, crate::receipts::MarkerKind::Read, 0).await.unwrap();
    let m = w.send(u[0], chat, "one").await.unwrap();
    let summary = w.services.chats.get(u[0], chat).await.unwrap();
    let mine = summary.receipts.iter().find(|r| r.user == u[0]).unwrap();
    assert_eq!((mine.markers.delivered_seq, mine.markers.read_seq), (m.seq, m.seq));
    assert_eq!(summary.unread_count, 0);
}
