//! Contract cases of reading a chat back: history pages (skip and before cursors, `has_more`,
//! deleted messages left out) and the persisted events a reconnecting client catches up on.

use chat_domain::model::{MessagePage, PageCursor, SoftDeleted};
use chat_domain::{ChatEvent, ChatId, Message, MessageId, Seq};

use crate::fixtures::{append_many, at, id_seconds, new_chat, new_user, seqs, stored_message};
use crate::Stores;

pub(crate) async fn page(stores: &Stores, chat: ChatId, cursor: PageCursor, limit: u32) -> MessagePage {
    let page = stores.messages.page_messages(chat, cursor, limit).await.expect("page_messages");
    page.unwrap_or_else(|| panic!("{cursor:?} in its own chat must give a page"))
}

/// The seqs of a page and its `has_more`.
async fn shape(stores: &Stores, chat: ChatId, cursor: PageCursor, limit: u32) -> (Vec<Seq>, bool) {
    let page = page(stores, chat, cursor, limit).await;
    (seqs(&page.messages), page.has_more)
}

async fn delete(stores: &Stores, id: MessageId, offset_ms: i64) -> Seq {
    match stores.messages.soft_delete_message(id, at(offset_ms)).await.expect("soft_delete_message") {
        SoftDeleted::Deleted { seq, .. } => seq,
        other => panic!("expected Deleted, got {other:?}"),
    }
}

pub async fn page_with_skip_and_limit(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    assert_eq!(
        page(&stores, chat.id, PageCursor::Skip(0), 50).await,
        MessagePage::default(),
        "an empty chat has an empty page"
    );

    let sent = append_many(&stores, &chat, &a, 7).await;

    // Every field of every message, oldest first.
    let newest = page(&stores, chat.id, PageCursor::Skip(0), 3).await;
    assert_eq!(newest, MessagePage { messages: sent[4..7].to_vec(), has_more: true });

    let skip = PageCursor::Skip;
    assert_eq!(shape(&stores, chat.id, skip(3), 3).await, (vec![2, 3, 4], true));
    assert_eq!(
        shape(&stores, chat.id, skip(4), 3).await,
        (vec![1, 2, 3], false),
        "nothing older than a full last page"
    );
    assert_eq!(shape(&stores, chat.id, skip(6), 3).await, (vec![1], false));
    assert_eq!(shape(&stores, chat.id, skip(7), 3).await, (vec![], false));
    assert_eq!(shape(&stores, chat.id, skip(1000), 3).await, (vec![], false));
    assert_eq!(shape(&stores, chat.id, skip(u64::MAX), 3).await, (vec![], false));
    assert_eq!(shape(&stores, chat.id, skip(0), 1).await, (vec![7], true));
    assert_eq!(shape(&stores, chat.id, skip(0), 6).await, (vec![2, 3, 4, 5, 6, 7], true));
    assert_eq!(shape(&stores, chat.id, skip(0), 7).await, ((1..=7).collect(), false));
    assert_eq!(shape(&stores, chat.id, skip(0), 100).await, ((1..=7).collect(), false));
}

pub async fn page_before_a_message(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let sent = append_many(&stores, &chat, &b, 7).await;
    let before = |seq: usize| PageCursor::Before(sent[seq - 1].id);

    let older = page(&stores, chat.id, before(5), 2).await;
    assert_eq!(older, MessagePage { messages: sent[2..4].to_vec(), has_more: true });
    assert_eq!(shape(&stores, chat.id, before(3), 2).await, (vec![1, 2], false));
    assert_eq!(shape(&stores, chat.id, before(1), 2).await, (vec![], false));
    assert_eq!(shape(&stores, chat.id, before(7), 100).await, ((1..=6).collect(), false));
    assert_eq!(shape(&stores, chat.id, before(6), 5).await, ((1..=5).collect(), false));
    assert_eq!(shape(&stores, chat.id, before(6), 4).await, ((2..=5).collect(), true));
    assert_eq!(shape(&stores, chat.id, before(2), 1).await, (vec![1], false));
}

pub async fn page_leaves_out_deleted_messages(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let sent = append_many(&stores, &chat, &a, 7).await;
    delete(&stores, sent[5].id, 10_000).await;
    delete(&stores, sent[1].id, 11_000).await;
    // Listed now: 1, 3, 4, 5, 7.

    let skip = PageCursor::Skip;
    let newest = page(&stores, chat.id, skip(0), 3).await;
    assert_eq!(
        newest,
        MessagePage { messages: vec![sent[3].clone(), sent[4].clone(), sent[6].clone()], has_more: true }
    );
    assert_eq!(shape(&stores, chat.id, skip(3), 3).await, (vec![1, 3], false), "skip counts listed messages only");
    assert_eq!(shape(&stores, chat.id, skip(2), 2).await, (vec![3, 4], true));
    assert_eq!(shape(&stores, chat.id, skip(0), 100).await, (vec![1, 3, 4, 5, 7], false));

    // A deleted message still marks a place in the history.
    let before_deleted = PageCursor::Before(sent[5].id);
    assert_eq!(shape(&stores, chat.id, before_deleted, 3).await, (vec![3, 4, 5], true));

    // Only deleted messages left beyond the page: nothing more to load.
    delete(&stores, sent[0].id, 12_000).await;
    assert_eq!(shape(&stores, chat.id, PageCursor::Before(sent[2].id), 1).await, (vec![], false));
    assert_eq!(shape(&stores, chat.id, PageCursor::Before(sent[3].id), 1).await, (vec![3], false));
    assert_eq!(shape(&stores, chat.id, skip(3), 1).await, (vec![3], false));
}

pub async fn page_before_a_message_of_another_chat_is_none(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let one = new_chat(&stores, &[&a, &b]).await;
    let two = new_chat(&stores, &[&a, &b, &new_user(&stores, "cy").await]).await;
    let in_one = append_many(&stores, &one, &a, 3).await;
    let in_two = append_many(&stores, &two, &a, 3).await;

    let foreign = PageCursor::Before(in_two[2].id);
    assert_eq!(stores.messages.page_messages(one.id, foreign, 10).await.expect("page_messages"), None);
    let unknown = PageCursor::Before(MessageId::generate(id_seconds(at(0))));
    assert_eq!(stores.messages.page_messages(one.id, unknown, 10).await.expect("page_messages"), None);

    // The same message is a fine cursor in its own chat, and pages never mix chats.
    assert_eq!(page(&stores, two.id, foreign, 10).await.messages, in_two[..2].to_vec());
    assert_eq!(page(&stores, one.id, PageCursor::Skip(0), 10).await.messages, in_one);
}

fn created(message: &Message) -> ChatEvent {
    ChatEvent::MessageCreated(message.clone())
}

fn deleted(message: &Message, seq: Seq) -> ChatEvent {
    ChatEvent::MessageDeleted { chat: message.chat, message: message.id, seq }
}

async fn events(stores: &Stores, chat: ChatId, since: Seq, max: usize) -> Vec<ChatEvent> {
    stores.messages.chat_events_since(chat, since, max).await.expect("chat_events_since")
}

pub async fn chat_events_since_interleaves_creates_and_deletes(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    // seq 1: m1, 2: m2, 3: delete m1, 4: m3, 5: delete m3, 6: m4.
    let first = append_many(&stores, &chat, &a, 2).await;
    assert_eq!(delete(&stores, first[0].id, 10_000).await, 3);
    let third = append_many(&stores, &chat, &b, 1).await;
    assert_eq!(delete(&stores, third[0].id, 11_000).await, 5);
    let fourth = append_many(&stores, &chat, &b, 1).await;
    assert_eq!(fourth[0].seq, 6);

    // Creations carry the message as it is now, deleted or not.
    let m1 = stored_message(&stores, first[0].id).await;
    let m2 = stored_message(&stores, first[1].id).await;
    let m3 = stored_message(&stores, third[0].id).await;
    let m4 = stored_message(&stores, fourth[0].id).await;
    assert_eq!((m1.deleted_seq, m3.deleted_seq), (Some(3), Some(5)));

    let all = events(&stores, chat.id, 0, 100).await;
    assert_eq!(all, [created(&m1), created(&m2), deleted(&m1, 3), created(&m3), deleted(&m3, 5), created(&m4)]);
    assert_eq!(all.iter().map(ChatEvent::seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);

    assert_eq!(events(&stores, chat.id, 2, 100).await, [deleted(&m1, 3), created(&m3), deleted(&m3, 5), created(&m4)]);
    // Created and deleted after `since`: both events.
    assert_eq!(events(&stores, chat.id, 3, 100).await, [created(&m3), deleted(&m3, 5), created(&m4)]);
    // Created before `since`, deleted after: only the delete.
    assert_eq!(events(&stores, chat.id, 4, 100).await, [deleted(&m3, 5), created(&m4)]);
    assert_eq!(events(&stores, chat.id, 5, 100).await, [created(&m4)]);
    assert_eq!(events(&stores, chat.id, 6, 100).await, []);
    assert_eq!(events(&stores, chat.id, 1000, 100).await, []);

    // Deleting the chat's newest message erases its text everywhere the store serves it.
    assert_eq!(delete(&stores, m4.id, 12_000).await, 7);
    assert_text_erased(&stores, chat.id, &[m1.id, m3.id, m4.id]).await;
}

/// The text of each of `deleted` (all soft deleted in `chat`, the last one being the chat's
/// newest message) is `""` wherever the store returns it, while the rest is as stored.
async fn assert_text_erased(stores: &Stores, chat: ChatId, deleted: &[MessageId]) {
    for id in deleted {
        let message = stored_message(stores, *id).await;
        assert!(message.is_deleted(), "{id} is deleted");
        assert_eq!(message.text.as_str(), "", "message_by_id erases the text of {id}");
    }
    let newest = deleted.last().copied();
    let view = stores.chats.chat_by_id(chat).await.expect("chat_by_id").expect("the chat exists");
    let last = view.last_message.expect("the chat has a last message");
    assert_eq!(Some(last.id), newest, "a delete does not move lastMessage");
    assert_eq!(last.text.as_str(), "", "the chat's lastMessage has its text erased");
    let replayed: Vec<Message> = events(stores, chat, 0, 100)
        .await
        .into_iter()
        .filter_map(|e| match e {
            ChatEvent::MessageCreated(m) if deleted.contains(&m.id) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(replayed.len(), deleted.len(), "every deleted message is replayed at its creation");
    for m in replayed {
        assert_eq!(m.text.as_str(), "", "chat_events_since replays {} with its text erased", m.id);
    }
}

pub async fn chat_events_since_honors_max_and_chat(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let one = new_chat(&stores, &[&a, &b]).await;
    let two = new_chat(&stores, &[&b, &a, &new_user(&stores, "cy").await]).await;

    // Both chats busy at once, so that a store mixing chats up would be caught.
    let one_first = append_many(&stores, &one, &a, 2).await;
    let two_first = append_many(&stores, &two, &b, 3).await;
    delete(&stores, two_first[0].id, 20_000).await;
    delete(&stores, one_first[0].id, 21_000).await;
    let one_later = append_many(&stores, &one, &b, 1).await;

    let m1 = stored_message(&stores, one_first[0].id).await;
    let m2 = stored_message(&stores, one_first[1].id).await;
    let m3 = stored_message(&stores, one_later[0].id).await;
    assert_eq!((m1.deleted_seq, m3.seq), (Some(3), 4));
    let full = vec![created(&m1), created(&m2), deleted(&m1, 3), created(&m3)];

    assert_eq!(events(&stores, one.id, 0, usize::MAX).await, full);
    assert_eq!(events(&stores, one.id, 0, 4).await, full);
    assert_eq!(events(&stores, one.id, 0, 3).await, full[..3]);
    assert_eq!(events(&stores, one.id, 0, 2).await, full[..2]);
    assert_eq!(events(&stores, one.id, 0, 1).await, full[..1]);
    assert_eq!(events(&stores, one.id, 0, 0).await, []);
    assert_eq!(events(&stores, one.id, 1, 2).await, full[1..3]);
    assert_eq!(events(&stores, one.id, 2, 1).await, full[2..3]);

    let n1 = stored_message(&stores, two_first[0].id).await;
    let two_events = events(&stores, two.id, 0, 100).await;
    let expected = vec![created(&n1), created(&two_first[1]), created(&two_first[2]), deleted(&n1, 4)];
    assert_eq!(two_events, expected);

    let nowhere = ChatId::generate(id_seconds(at(0)));
    assert_eq!(events(&stores, nowhere, 0, 100).await, []);
}
