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
        [DomainEvent::MessageUpdated { message, seq: 2 }] => assert_eq!(message.id, m.id),
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
