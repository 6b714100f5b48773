//! Contract cases of `MessageRepository::append_message`: per-chat sequence numbers without
//! gaps or repeats under races, the chat moving with its newest message, and idempotent
//! retries by `(sender, clientId)`.

use chat_domain::model::{Appended, MessageKind, MessagePage, PageCursor, SoftDeleted};
use chat_domain::{ChatId, Message};
use tokio::task::JoinSet;

use crate::fixtures::{
    append_new, at, draft_at, id_seconds, new_chat, new_user, seqs, stored_chat, stored_message, with_client_id,
};
use crate::Stores;

pub async fn append_assigns_seq_per_chat(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let one = new_chat(&stores, &[&a, &b]).await;
    let two = new_chat(&stores, &[&b, &a, &new_user(&stores, "cy").await]).await;

    // Interleaved appends with every kind and some awkward text: each chat counts on its own.
    let long = "x".repeat(10_000);
    let plan = [
        (&one, &a, MessageKind::Text, "hello <b>world</b> & more", 1),
        (&two, &b, MessageKind::Image, "ünïcødé 🎉 'quotes' \"double\"", 1),
        (&one, &b, MessageKind::File, "line one\nline two\ttabbed", 2),
        (&one, &a, MessageKind::Voice, long.as_str(), 3),
        (&two, &a, MessageKind::Text, "  padded  ", 2),
    ];
    let mut appended = Vec::new();
    for (i, (chat, sender, kind, text, expected_seq)) in plan.into_iter().enumerate() {
        let mut draft = draft_at(chat, sender, text, at(1000 * (i as i64 + 1)));
        draft.kind = kind;
        if i % 2 == 0 {
            draft = with_client_id(draft, &format!("client-{i}"));
        }
        let message = append_new(&stores, draft).await;
        assert_eq!(message.seq, expected_seq, "seq of append #{i}");
        assert_eq!(stored_message(&stores, message.id).await, message, "message_by_id must return every field");
        appended.push(message);
    }
    assert_eq!(appended[0].text.as_str(), "hello world &amp; more");

    let chat_one = stored_chat(&stores, one.id).await;
    assert_eq!(chat_one.last_seq, 3);
    assert_eq!(chat_one.last_message_id, Some(appended[3].id));
    assert_eq!(chat_one.updated_at, appended[3].created_at);
    assert_eq!(chat_one.created_at, one.created_at, "created_at never changes");
    let chat_two = stored_chat(&stores, two.id).await;
    assert_eq!(chat_two.last_seq, 2);
    assert_eq!(chat_two.last_message_id, Some(appended[4].id));
    assert_eq!(chat_two.updated_at, appended[4].created_at);
}

pub async fn append_with_repeated_client_id_returns_original(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let one = new_chat(&stores, &[&a, &b]).await;
    let two = new_chat(&stores, &[&a, &b, &new_user(&stores, "cy").await]).await;

    let original = append_new(&stores, with_client_id(draft_at(&one, &a, "first try", at(1000)), "retry-me")).await;
    assert_eq!(original.seq, 1);

    // A retry in the same chat, with another message id, text and time.
    let retry = with_client_id(draft_at(&one, &a, "second try", at(2000)), "retry-me");
    let outcome = stores.messages.append_message(retry.clone()).await.expect("append_message");
    assert_eq!(outcome, Appended::Duplicate(original.clone()));
    assert_eq!(
        stores.messages.message_by_id(retry.id).await.expect("message_by_id"),
        None,
        "a duplicate writes nothing"
    );
    let chat = stored_chat(&stores, one.id).await;
    assert_eq!((chat.last_seq, chat.last_message_id, chat.updated_at), (1, Some(original.id), at(1000)));

    // The same clientId from the same sender in another chat is the same message too.
    let elsewhere = with_client_id(draft_at(&two, &a, "other chat", at(3000)), "retry-me");
    let outcome = stores.messages.append_message(elsewhere.clone()).await.expect("append_message");
    assert_eq!(outcome, Appended::Duplicate(original.clone()));
    assert_eq!(stores.messages.message_by_id(elsewhere.id).await.expect("message_by_id"), None);
    let chat = stored_chat(&stores, two.id).await;
    assert_eq!(
        (chat.last_seq, chat.last_message_id, chat.updated_at),
        (0, None, two.updated_at),
        "a duplicate touches no chat"
    );

    // No seq was consumed by the duplicates.
    assert_eq!(append_new(&stores, draft_at(&one, &b, "next", at(4000))).await.seq, 2);
    assert_eq!(append_new(&stores, draft_at(&two, &b, "first here", at(5000))).await.seq, 1);

    // The duplicate is the message as stored now, deleted since.
    let deleted = match stores.messages.soft_delete_message(original.id, at(6000)).await.expect("soft_delete_message") {
        SoftDeleted::Deleted { message, .. } => message,
        other => panic!("expected a delete, got {other:?}"),
    };
    assert_eq!(deleted.text.as_str(), "", "a soft delete erases the text");
    let again = with_client_id(draft_at(&one, &a, "third try", at(7000)), "retry-me");
    assert_eq!(stores.messages.append_message(again).await.expect("append_message"), Appended::Duplicate(deleted));
}

pub async fn message_by_client_id_finds_only_the_senders_message(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let from_a = append_new(&stores, with_client_id(draft_at(&chat, &a, "from ann", at(1000)), "mine")).await;
    let client_id = from_a.client_id.clone().expect("stored with a clientId");
    let found = stores.messages.message_by_client_id(a.id, &client_id).await.expect("message_by_client_id");
    assert_eq!(found, Some(from_a.clone()));
    let other = stores.messages.message_by_client_id(b.id, &client_id).await.expect("message_by_client_id");
    assert_eq!(other, None, "clientIds belong to their sender");
    let unknown = chat_domain::ClientId::parse("never-used").expect("valid clientId");
    assert_eq!(stores.messages.message_by_client_id(a.id, &unknown).await.expect("message_by_client_id"), None);
    // As stored now: a later delete shows.
    let deleted = match stores.messages.soft_delete_message(from_a.id, at(2000)).await.expect("soft_delete_message") {
        SoftDeleted::Deleted { message, .. } => message,
        other => panic!("expected a delete, got {other:?}"),
    };
    assert!(deleted.is_deleted());
    assert_eq!(deleted.text.as_str(), "", "a soft delete returns the message with its text erased");
    let found = stores.messages.message_by_client_id(a.id, &client_id).await.expect("message_by_client_id");
    assert_eq!(found.as_ref().map(|m| m.text.as_str()), Some(""), "the stored text is erased");
    assert_eq!(found, Some(deleted));
}

pub async fn append_same_client_id_from_different_senders_creates_both(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    let from_a = append_new(&stores, with_client_id(draft_at(&chat, &a, "from ann", at(1000)), "shared")).await;
    let from_b = append_new(&stores, with_client_id(draft_at(&chat, &b, "from bo", at(2000)), "shared")).await;
    assert_eq!((from_a.seq, from_b.seq), (1, 2));
    assert_eq!(stored_message(&stores, from_a.id).await, from_a);
    assert_eq!(stored_message(&stores, from_b.id).await, from_b);

    // A clientId differing only in case is another clientId.
    let upper = append_new(&stores, with_client_id(draft_at(&chat, &a, "upper", at(3000)), "SHARED")).await;
    assert_eq!(upper.seq, 3);
}

pub async fn append_without_client_id_never_collides(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    // Same sender, same text, same instant, no clientId: all distinct messages.
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(append_new(&stores, draft_at(&chat, &a, "same", at(1000))).await);
    }
    assert_eq!(seqs(&got), [1, 2, 3, 4, 5]);
    // A clientId of the same sender alongside them is fine, once.
    let keyed = append_new(&stores, with_client_id(draft_at(&chat, &a, "keyed", at(2000)), "k")).await;
    assert_eq!(keyed.seq, 6);
    assert_eq!(append_new(&stores, draft_at(&chat, &a, "same", at(3000))).await.seq, 7);
}

pub async fn concurrent_appends_get_gapless_seqs(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    let mut tasks = JoinSet::new();
    for i in 0..20_i64 {
        let messages = stores.messages.clone();
        let sender = if i % 2 == 0 { &a } else { &b };
        let mut draft = draft_at(&chat, sender, &format!("racer {i}"), at(1000 + i));
        if i % 3 == 0 {
            draft = with_client_id(draft, &format!("race-{i}"));
        }
        tasks.spawn(async move { messages.append_message(draft).await });
    }
    let mut created: Vec<Message> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("append task").expect("append_message") {
            Appended::Created { message, .. } => created.push(message),
            Appended::NotParticipant => panic!("the sender is a participant"),
            Appended::Duplicate(message) => {
                panic!("distinct clientIds are no duplicates: {message:?}")
            }
        }
    }
    created.sort_by_key(|m| m.seq);
    assert_eq!(seqs(&created), (1..=20).collect::<Vec<u64>>(), "seqs 1..=20, no gaps, no repeats");

    let stored = stored_chat(&stores, chat.id).await;
    let newest = &created[19];
    assert_eq!(stored.last_seq, 20);
    assert_eq!(stored.last_message_id, Some(newest.id), "the chat points at the message with the highest seq");
    assert_eq!(stored.updated_at, newest.created_at);

    let page = stores.messages.page_messages(chat.id, PageCursor::Skip(0), 100).await.expect("page_messages");
    assert_eq!(page, Some(MessagePage { messages: created, has_more: false }));
}

pub async fn concurrent_appends_with_one_client_id_create_one(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    let mut tasks = JoinSet::new();
    for i in 0..10_i64 {
        let messages = stores.messages.clone();
        let draft = with_client_id(draft_at(&chat, &a, &format!("retry {i}"), at(1000 + i)), "flaky-network");
        tasks.spawn(async move { messages.append_message(draft).await });
    }
    let mut created = Vec::new();
    let mut duplicates = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("append task").expect("append_message") {
            Appended::Created { message, .. } => created.push(message),
            Appended::Duplicate(message) => duplicates.push(message),
            Appended::NotParticipant => panic!("the sender is a participant"),
        }
    }
    assert_eq!(created.len(), 1, "exactly one of the racing retries is stored");
    assert_eq!(duplicates.len(), 9);
    assert!(duplicates.iter().all(|m| m == &created[0]), "every retry gets the stored message");
    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!(stored.last_seq, 1, "duplicates consume no seq");
}

pub async fn append_to_missing_chat_fails_and_writes_nothing(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let real = new_chat(&stores, &[&a, &b]).await;

    let mut ghost = real.clone();
    ghost.id = ChatId::generate(id_seconds(at(0)));
    let draft = with_client_id(draft_at(&ghost, &a, "into the void", at(1000)), "lost");
    let result = stores.messages.append_message(draft.clone()).await;
    assert!(result.is_err(), "appending to a missing chat must fail, got {result:?}");
    assert_eq!(stores.messages.message_by_id(draft.id).await.expect("message_by_id"), None);

    // The failed append left nothing behind: its clientId is still free.
    let retry = with_client_id(draft_at(&real, &a, "found it", at(2000)), "lost");
    assert_eq!(append_new(&stores, retry).await.seq, 1);
}
