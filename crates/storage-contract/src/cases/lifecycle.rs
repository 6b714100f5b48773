//! Contract cases of what happens to a stored message: the soft delete, which takes its chat's
//! next `seq` exactly once.

use chat_domain::model::SoftDeleted;
use chat_domain::{Message, MessageId};

use crate::fixtures::{
    append_many, append_new, at, draft_at, id_seconds, new_chat, new_user, stored_chat, stored_message,
};
use crate::Stores;

pub async fn soft_delete_takes_the_next_seq(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let sent = append_many(&stores, &chat, &a, 2).await;
    let before = stored_chat(&stores, chat.id).await;

    let outcome = stores.messages.soft_delete_message(sent[0].id, at(60_000)).await.expect("soft_delete_message");
    // The message keeps its place; the delete's seq and time are set and its text is erased.
    let expected = Message {
        deleted_seq: Some(3),
        updated_at: at(60_000),
        text: chat_domain::MessageText::from_stored(String::new()),
        ..sent[0].clone()
    };
    assert_eq!(outcome, SoftDeleted::Deleted { message: expected.clone(), seq: 3, members: None });
    assert!(expected.is_deleted());
    assert_eq!(stored_message(&stores, sent[0].id).await, expected, "the delete is stored");

    let after = stored_chat(&stores, chat.id).await;
    assert_eq!(after.last_seq, 3, "the delete takes the chat's next seq");
    assert_eq!(after.last_message_id, before.last_message_id, "a delete does not move last_message_id");
    assert_eq!(after.updated_at, before.updated_at, "a delete is not activity");
    assert_eq!(stored_message(&stores, sent[1].id).await, sent[1], "other messages are untouched");

    // Deleting the newest message keeps it as the chat's last message too.
    let outcome = stores.messages.soft_delete_message(sent[1].id, at(61_000)).await.expect("soft_delete_message");
    assert!(matches!(outcome, SoftDeleted::Deleted { seq: 4, .. }), "got {outcome:?}");
    let after = stored_chat(&stores, chat.id).await;
    assert_eq!((after.last_seq, after.last_message_id), (4, Some(sent[1].id)));

    // Messages keep counting after deletes.
    let next = append_new(&stores, draft_at(&chat, &b, "still here", at(62_000))).await;
    assert_eq!(next.seq, 5);
}

pub async fn soft_delete_twice_writes_nothing(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let sent = append_many(&stores, &chat, &a, 1).await;

    let first = stores.messages.soft_delete_message(sent[0].id, at(60_000)).await.expect("soft_delete_message");
    let SoftDeleted::Deleted { message: deleted, seq, .. } = first else {
        panic!("expected Deleted, got {first:?}");
    };
    assert_eq!(seq, 2);

    let again = stores.messages.soft_delete_message(sent[0].id, at(70_000)).await.expect("soft_delete_message");
    assert_eq!(again, SoftDeleted::AlreadyDeleted(deleted.clone()), "the message as deleted the first time");
    assert_eq!(stored_message(&stores, sent[0].id).await, deleted, "nothing is written");
    assert_eq!(stored_chat(&stores, chat.id).await.last_seq, 2, "no seq is taken");
    assert_eq!(append_new(&stores, draft_at(&chat, &b, "next", at(80_000))).await.seq, 3);
}

pub async fn soft_delete_unknown_message_is_not_found(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    append_many(&stores, &chat, &a, 1).await;

    let unknown = MessageId::generate(id_seconds(at(0)));
    let outcome = stores.messages.soft_delete_message(unknown, at(60_000)).await.expect("soft_delete_message");
    assert_eq!(outcome, SoftDeleted::NotFound);
    assert_eq!(stored_chat(&stores, chat.id).await.last_seq, 1, "no seq is taken");
}
