//! Contract cases of chats that change and messages that are edited: each change and each edit
//! takes the chat's next `seq` (one sequence with messages and deletes, gap-free under
//! concurrency), a change applies only to the participants it was judged on, and catch-up
//! returns everything interleaved in `seq` order.

use chat_domain::model::{Appended, Edited, SoftDeleted};
use chat_domain::{
    ChangeKind, Chat, ChatChange, ChatChanged, ChatEvent, ChatId, ChatName, ChatUpdate, MessageText, Seq, User, UserId,
};
use tokio::task::JoinSet;

use crate::fixtures::{
    append_new, at, chat_at, draft_at, id_seconds, insert_new_chat, new_user, stored_chat, stored_message,
};
use crate::Stores;

pub(crate) async fn group(stores: &Stores, n: usize) -> (Chat, Vec<User>) {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        users.push(new_user(stores, &format!("member{i}")).await);
    }
    let refs: Vec<&User> = users.iter().collect();
    let chat = chat_at(&refs, Some("team"), at(0));
    insert_new_chat(stores, &chat).await;
    (chat, users)
}

pub(crate) fn update(
    chat: &Chat,
    expected: &[UserId],
    participants: Vec<UserId>,
    kind: ChangeKind,
    users: Vec<UserId>,
    t: i64,
) -> ChatUpdate {
    ChatUpdate {
        chat: chat.id,
        expected: expected.to_vec(),
        name: chat.name.clone(),
        participants,
        change: ChatChange { kind, users, by: chat.created_by, at: at(t) },
    }
}

pub(crate) async fn changed(stores: &Stores, update: ChatUpdate) -> (Chat, Seq) {
    match stores.chats.change_chat(update).await.expect("change_chat") {
        ChatChanged::Changed { chat, seq } => (chat, seq),
        other => panic!("expected Changed, got {other:?}"),
    }
}

pub(crate) fn text(raw: &str) -> MessageText {
    MessageText::parse(raw).expect("valid text")
}

pub async fn change_chat_renames_adds_and_removes_taking_seqs(stores: Stores) {
    let (chat, u) = group(&stores, 4).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    append_new(&stores, draft_at(&chat, &u[0], "hello", at(1000))).await;

    let mut rename = update(&chat, &ids[..4], ids.clone(), ChangeKind::Renamed, vec![], 2000);
    rename.name = ChatName::parse("renamed").expect("valid name");
    let (after, seq) = changed(&stores, rename).await;
    assert_eq!(seq, 2, "a change takes the seq after the message");
    assert_eq!(after.last_seq, 2);
    assert_eq!(after.name.as_ref().map(ChatName::as_str), Some("renamed"));
    assert_eq!(after.updated_at, at(2000));

    let newcomer = new_user(&stores, "newcomer").await;
    let mut grown = ids.clone();
    grown.push(newcomer.id);
    let mut add = update(&after, &ids, grown.clone(), ChangeKind::Added, vec![newcomer.id], 3000);
    add.name = after.name.clone();
    let (after, seq) = changed(&stores, add).await;
    assert_eq!(seq, 3);
    assert_eq!(after.participants, grown, "participants keep the given order");

    let shrunk: Vec<UserId> = grown.iter().copied().filter(|p| *p != ids[2]).collect();
    let mut remove = update(&after, &grown, shrunk.clone(), ChangeKind::Removed, vec![ids[2]], 4000);
    remove.name = after.name.clone();
    let (_, seq) = changed(&stores, remove).await;
    assert_eq!(seq, 4);

    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!(stored.participants, shrunk);
    assert_eq!(stored.last_seq, 4);
    assert_eq!(stored.name.as_ref().map(ChatName::as_str), Some("renamed"));
    assert!(stored.last_message_id.is_some(), "a change does not move the last message");
    let alone = stores.chats.chat_alone(chat.id).await.expect("chat_alone").expect("chat");
    assert_eq!(alone.participants, shrunk);
    // The chat lists follow membership.
    let listed = |user: UserId| {
        let chats = stores.chats.clone();
        async move { chats.chats_of_user(user, 100, None).await.expect("chats_of_user").expect("page").len() }
    };
    assert_eq!(listed(ids[2]).await, 0, "a removed user no longer lists the chat");
    assert_eq!(listed(newcomer.id).await, 1, "an added user lists the chat");
    // The next message takes the next seq.
    assert_eq!(append_new(&stores, draft_at(&chat, &u[0], "after", at(5000))).await.seq, 5);
}

pub async fn change_chat_on_stale_participants_conflicts_and_writes_nothing(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    let stale = vec![ids[0], ids[1]];
    let outcome = stores
        .chats
        .change_chat(update(&chat, &stale, vec![ids[0]], ChangeKind::Removed, vec![ids[1]], 1000))
        .await
        .expect("change_chat");
    assert_eq!(outcome, ChatChanged::Conflict);
    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!((stored.participants, stored.last_seq), (ids.clone(), 0), "a conflict writes nothing");
    let events = stores.messages.chat_events_since(chat.id, 0, 100).await.expect("chat_events_since");
    assert!(events.is_empty(), "a conflict logs nothing: {events:?}");

    let mut ghost = chat.clone();
    ghost.id = ChatId::generate(id_seconds(at(0)));
    let outcome = stores
        .chats
        .change_chat(update(&ghost, &ids, ids.clone(), ChangeKind::Renamed, vec![], 1000))
        .await
        .expect("change_chat");
    assert_eq!(outcome, ChatChanged::NotFound);
}

pub async fn edit_message_takes_the_next_seq_and_shows_in_last_message(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let first = append_new(&stores, draft_at(&chat, &u[0], "first", at(1000))).await;
    let newest = append_new(&stores, draft_at(&chat, &u[1], "helo", at(2000))).await;
    let (message, seq) = match stores.messages.edit_message(newest.id, text("hello"), at(3000)).await.expect("edit") {
        Edited::Edited { message, seq, .. } => (message, seq),
        other => panic!("expected Edited, got {other:?}"),
    };
    assert_eq!(seq, 3);
    let mut expected = newest.clone();
    expected.mark_edited(text("hello"), at(3000));
    assert_eq!(message, expected, "the edit is Message::mark_edited");
    assert_eq!(stored_message(&stores, newest.id).await, expected);
    let view = stores.chats.chat_by_id(chat.id).await.expect("chat_by_id").expect("chat");
    assert_eq!(view.last_message, Some(expected), "lastMessage shows the new text");
    assert_eq!((view.chat.last_seq, view.chat.updated_at), (3, at(2000)), "an edit is not activity");
    // Editing an older message leaves the last message alone.
    match stores.messages.edit_message(first.id, text("1st"), at(4000)).await.expect("edit") {
        Edited::Edited { seq, .. } => assert_eq!(seq, 4),
        other => panic!("expected Edited, got {other:?}"),
    }
    assert_eq!(stored_chat(&stores, chat.id).await.last_message_id, Some(newest.id));
}

pub async fn edit_of_a_deleted_or_unknown_message_writes_nothing(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let m = append_new(&stores, draft_at(&chat, &u[0], "secret", at(1000))).await;
    assert!(matches!(stores.messages.soft_delete_message(m.id, at(2000)).await, Ok(SoftDeleted::Deleted { .. })));
    match stores.messages.edit_message(m.id, text("back"), at(3000)).await.expect("edit") {
        Edited::Deleted(message) => assert_eq!(message.text.as_str(), ""),
        other => panic!("expected Deleted, got {other:?}"),
    }
    let stored = stored_message(&stores, m.id).await;
    assert_eq!((stored.text.as_str(), stored.edited_at), ("", None));
    assert_eq!(stored_chat(&stores, chat.id).await.last_seq, 2, "a refused edit takes no seq");
    let ghost = chat_domain::MessageId::generate(id_seconds(at(0)));
    assert_eq!(stores.messages.edit_message(ghost, text("x"), at(3000)).await.expect("edit"), Edited::NotFound);
}

pub async fn chat_events_since_interleaves_edits_and_changes(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    let m1 = append_new(&stores, draft_at(&chat, &u[0], "one", at(1000))).await; // 1
    let Ok(Edited::Edited { .. }) = stores.messages.edit_message(m1.id, text("uno"), at(2000)).await else {
        panic!("edit failed");
    }; // 2
    let left: Vec<UserId> = ids[..2].to_vec();
    changed(&stores, update(&chat, &ids, left, ChangeKind::Left, vec![ids[2]], 3000)).await; // 3
    let m2 = append_new(&stores, draft_at(&chat, &u[1], "two", at(4000))).await; // 4
    let Ok(SoftDeleted::Deleted { .. }) = stores.messages.soft_delete_message(m1.id, at(5000)).await else {
        panic!("delete failed");
    }; // 5
    let Ok(Edited::Edited { .. }) = stores.messages.edit_message(m2.id, text("dos"), at(6000)).await else {
        panic!("edit failed");
    }; // 6

    let events = stores.messages.chat_events_since(chat.id, 0, 100).await.expect("chat_events_since");
    let seqs: Vec<Seq> = events.iter().map(ChatEvent::seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    match &events[1] {
        ChatEvent::MessageUpdated { message, seq: 2 } => {
            assert_eq!(message.id, m1.id);
            assert_eq!(message.text.as_str(), "", "the message as it is now: deleted since");
        }
        other => panic!("expected the edit at 2, got {other:?}"),
    }
    match &events[2] {
        ChatEvent::ChatUpdated { change, seq: 3, .. } => {
            assert_eq!(change, &ChatChange { kind: ChangeKind::Left, users: vec![ids[2]], by: ids[0], at: at(3000) });
        }
        other => panic!("expected the change at 3, got {other:?}"),
    }
    assert!(matches!(&events[4], ChatEvent::MessageDeleted { seq: 5, .. }));
    assert!(matches!(&events[5], ChatEvent::MessageUpdated { message, seq: 6 } if message.text.as_str() == "dos"));
    let tail: Vec<Seq> =
        stores.messages.chat_events_since(chat.id, 2, 2).await.expect("events").iter().map(ChatEvent::seq).collect();
    assert_eq!(tail, vec![3, 4], "since and max hold across kinds");
}

pub async fn concurrent_messages_edits_deletes_and_changes_share_gapless_seqs(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let mut seeded = Vec::new();
    for i in 0..6_i64 {
        seeded.push(append_new(&stores, draft_at(&chat, &u[0], &format!("seed {i}"), at(100 + i))).await);
    }
    let mut extra = Vec::new();
    for i in 0..4 {
        extra.push(new_user(&stores, &format!("extra{i}")).await.id);
    }
    let mut tasks: JoinSet<Option<Seq>> = JoinSet::new();
    for i in 0..8_i64 {
        let messages = stores.messages.clone();
        let draft = draft_at(&chat, &u[1], &format!("racer {i}"), at(1000 + i));
        tasks.spawn(async move {
            match messages.append_message(draft).await.expect("append") {
                Appended::Created { message, .. } => Some(message.seq),
                Appended::Duplicate(_) | Appended::NotParticipant => None,
            }
        });
    }
    for (i, m) in seeded.iter().enumerate() {
        let messages = stores.messages.clone();
        let id = m.id;
        let offset = 2000 + i as i64;
        if i % 2 == 0 {
            tasks.spawn(async move {
                match messages.edit_message(id, MessageText::parse("edited").expect("text"), at(offset)).await {
                    Ok(Edited::Edited { seq, .. }) => Some(seq),
                    other => panic!("edit: {other:?}"),
                }
            });
        } else {
            tasks.spawn(async move {
                match messages.soft_delete_message(id, at(offset)).await {
                    Ok(SoftDeleted::Deleted { seq, .. }) => Some(seq),
                    other => panic!("delete: {other:?}"),
                }
            });
        }
    }
    // Each adder retries on conflict with what is stored, as the services do.
    for (i, user) in extra.iter().copied().enumerate() {
        let chats = stores.chats.clone();
        let chat_id = chat.id;
        tasks.spawn(async move {
            loop {
                let current = chats.chat_alone(chat_id).await.expect("chat_alone").expect("chat");
                let mut participants = current.participants.clone();
                participants.push(user);
                let change = ChatChange {
                    kind: ChangeKind::Added,
                    users: vec![user],
                    by: current.created_by,
                    at: at(3000 + i as i64),
                };
                let update = ChatUpdate {
                    chat: chat_id,
                    expected: current.participants.clone(),
                    name: current.name.clone(),
                    participants,
                    change,
                };
                match chats.change_chat(update).await.expect("change_chat") {
                    ChatChanged::Changed { seq, .. } => return Some(seq),
                    ChatChanged::Conflict => continue,
                    ChatChanged::NotFound => panic!("chat vanished"),
                }
            }
        });
    }
    let mut taken = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        taken.extend(joined.expect("task"));
    }
    taken.sort_unstable();
    assert_eq!(taken, (7..=24).collect::<Vec<Seq>>(), "every write took one seq, no gaps, no repeats");
    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!(stored.last_seq, 24);
    assert_eq!(stored.participants.len(), 7, "no added user was lost to a race");
    let events = stores.messages.chat_events_since(chat.id, 0, 1000).await.expect("chat_events_since");
    assert_eq!(events.iter().map(ChatEvent::seq).collect::<Vec<_>>(), (1..=24).collect::<Vec<Seq>>());
}
