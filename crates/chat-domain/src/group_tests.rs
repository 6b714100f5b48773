//! The rules of changing a group and of who sees which replayed event.

use super::*;
use crate::id::{ChatId, MessageId};
use crate::model::{MessageDraft, MessageKind};
use crate::text::MessageText;

fn at() -> Timestamp {
    chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap()
}

fn users(n: usize) -> Vec<UserId> {
    (0..n).map(|_| UserId::generate(1)).collect()
}

fn group(members: &[UserId]) -> Chat {
    Chat {
        id: ChatId::generate(1),
        name: ChatName::parse("team").unwrap(),
        is_group: members.len() > 2,
        participants: members.to_vec(),
        created_by: members[0],
        last_message_id: None,
        last_seq: 0,
        created_at: at(),
        updated_at: at(),
    }
}

#[test]
fn any_participant_renames_a_group_and_the_name_is_sanitized() {
    let u = users(3);
    let update = group(&u).plan_rename(u[2], " <b>New</b> ", at()).unwrap();
    assert_eq!(update.name.unwrap().as_str(), "New");
    assert_eq!(update.participants, u);
    assert_eq!(update.expected, u);
    assert_eq!((update.change.kind, update.change.by, update.change.users.len()), (ChangeKind::Renamed, u[2], 0));
}

#[test]
fn a_blank_name_a_direct_chat_and_an_outsider_are_refused() {
    let u = users(4);
    assert!(matches!(group(&u[..3]).plan_rename(u[0], "  ", at()), Err(Error::Invalid(_))));
    assert!(matches!(group(&u[..2]).plan_rename(u[0], "x", at()), Err(Error::Invalid(_))));
    assert!(matches!(group(&u[..3]).plan_rename(u[3], "x", at()), Err(Error::Forbidden(_))));
    assert!(matches!(group(&u[..2]).plan_add(u[0], &[u[3]], 100, at()), Err(Error::Invalid(_))));
    assert!(matches!(group(&u[..2]).plan_remove(u[0], u[0], at()), Err(Error::Invalid(_))));
    assert!(matches!(group(&u[..3]).plan_add(u[3], &[u[3]], 100, at()), Err(Error::Forbidden(_))));
    assert!(matches!(group(&u[..3]).plan_remove(u[3], u[3], at()), Err(Error::Forbidden(_))));
}

#[test]
fn adding_appends_new_users_once_and_skips_members() {
    let u = users(5);
    let update = group(&u[..3]).plan_add(u[1], &[u[3], u[0], u[3], u[4]], 100, at()).unwrap().unwrap();
    assert_eq!(update.participants, vec![u[0], u[1], u[2], u[3], u[4]]);
    assert_eq!(update.change.users, vec![u[3], u[4]]);
    assert_eq!(update.change.joined(), &[u[3], u[4]]);
    assert!(update.change.departed().is_empty());
    assert_eq!(group(&u[..3]).plan_add(u[1], &[u[0], u[2]], 100, at()).unwrap(), None);
    assert!(matches!(group(&u[..3]).plan_add(u[1], &[], 100, at()), Err(Error::Invalid(_))));
}

#[test]
fn adding_past_the_group_size_is_refused() {
    let u = users(5);
    assert!(group(&u[..3]).plan_add(u[0], &[u[3]], 4, at()).unwrap().is_some());
    let err = group(&u[..3]).plan_add(u[0], &[u[3], u[4]], 4, at()).unwrap_err();
    assert_eq!(err, Error::invalid("a chat has at most 4 participants"));
}

#[test]
fn anyone_leaves_only_the_creator_removes_others() {
    let u = users(4);
    let chat = group(&u);
    let left = chat.plan_remove(u[2], u[2], at()).unwrap();
    assert_eq!((left.change.kind, left.participants.clone()), (ChangeKind::Left, vec![u[0], u[1], u[3]]));
    assert_eq!(left.change.departed(), &[u[2]]);
    let removed = chat.plan_remove(u[0], u[3], at()).unwrap();
    assert_eq!((removed.change.kind, removed.change.users.clone()), (ChangeKind::Removed, vec![u[3]]));
    assert!(matches!(chat.plan_remove(u[1], u[3], at()), Err(Error::Forbidden(_))));
    let creator_leaves = chat.plan_remove(u[0], u[0], at()).unwrap();
    assert_eq!(creator_leaves.change.kind, ChangeKind::Left);
    let outsider = UserId::generate(1);
    assert!(matches!(chat.plan_remove(u[0], outsider, at()), Err(Error::NotFound(_))));
}

#[test]
fn change_kinds_round_trip_through_their_names() {
    for kind in [ChangeKind::Renamed, ChangeKind::Added, ChangeKind::Removed, ChangeKind::Left] {
        assert_eq!(ChangeKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(ChangeKind::parse("kicked"), None);
}

fn message(chat: ChatId, seq: Seq) -> ChatEvent {
    let draft = MessageDraft {
        id: MessageId::generate(1),
        chat,
        sender: UserId::generate(1),
        text: MessageText::parse("hi").unwrap(),
        kind: MessageKind::Text,
        client_id: None,
        created_at: at(),
    };
    ChatEvent::MessageCreated(draft.into_message(seq))
}

fn change(kind: ChangeKind, user: UserId, seq: Seq) -> ChatEvent {
    ChatEvent::ChatUpdated { chat: None, change: ChatChange { kind, users: vec![user], by: user, at: at() }, seq }
}

#[test]
fn a_user_sees_the_events_of_its_membership_and_its_own_changes() {
    let (chat, me, other) = (ChatId::generate(1), UserId::generate(1), UserId::generate(1));
    let events = vec![
        message(chat, 1),
        change(ChangeKind::Removed, me, 2),
        message(chat, 3),
        change(ChangeKind::Added, other, 4),
        change(ChangeKind::Added, me, 5),
        message(chat, 6),
        change(ChangeKind::Left, other, 7),
    ];
    let seqs: Vec<Seq> = visible_to(me, events.clone()).iter().map(ChatEvent::seq).collect();
    assert_eq!(seqs, vec![1, 2, 5, 6, 7]);
    // Someone who never left sees everything.
    let everything: Vec<Seq> = visible_to(UserId::generate(1), events).iter().map(ChatEvent::seq).collect();
    assert_eq!(everything, vec![1, 2, 3, 4, 5, 6, 7]);
}
