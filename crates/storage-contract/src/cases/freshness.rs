//! Contract cases of reads repeated around writes. A store may keep reads in memory (the
//! SQLite store does); none of them may outlive a write that changes it, and a write to one
//! chat or user must not change what another's reads give.

use chat_domain::model::{Edited, PageCursor};
use chat_domain::receipts::Markers;
use chat_domain::{ChangeKind, ChatId, Message, Seq, UserId};

use super::groups::{changed, group, text, update};
use super::history::page;
use crate::fixtures::{append_many, append_new, at, draft_at, new_chat, new_user, seqs};
use crate::Stores;

/// The seqs of the page, read twice (the second read may come from memory).
async fn twice(stores: &Stores, chat: ChatId, cursor: PageCursor, limit: u32) -> (Vec<Seq>, bool) {
    let first = page(stores, chat, cursor, limit).await;
    assert_eq!(page(stores, chat, cursor, limit).await, first, "a page read again is the same page");
    (seqs(&first.messages), first.has_more)
}

fn listed(from: Seq, to: Seq, leaving_out: &[Seq]) -> Vec<Seq> {
    (from..=to).filter(|s| !leaving_out.contains(s)).collect()
}

pub async fn history_pages_follow_every_write(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let other = new_chat(&stores, &[&a, &b, &new_user(&stores, "cy").await]).await;
    let sent = append_many(&stores, &chat, &a, 40).await;
    let before = |seq: Seq| PageCursor::Before(sent[usize::try_from(seq - 1).expect("small")].id);

    assert_eq!(twice(&stores, chat.id, PageCursor::Skip(0), 10).await, (listed(31, 40, &[]), true));
    assert_eq!(twice(&stores, chat.id, before(31), 10).await, (listed(21, 30, &[]), true));
    assert_eq!(twice(&stores, chat.id, before(11), 10).await, (listed(1, 10, &[]), false));

    // A delete in the middle of pages already read.
    stores.messages.soft_delete_message(sent[24].id, at(100_000)).await.expect("soft_delete_message");
    assert_eq!(twice(&stores, chat.id, before(31), 10).await, (listed(20, 30, &[25]), true));
    assert_eq!(twice(&stores, chat.id, PageCursor::Skip(0), 20).await, (listed(20, 40, &[25]), true));

    // An edit shows at once.
    match stores.messages.edit_message(sent[35].id, text("edited"), at(101_000)).await.expect("edit") {
        Edited::Edited { .. } => {}
        other => panic!("expected Edited, got {other:?}"),
    }
    let newest = page(&stores, chat.id, PageCursor::Skip(0), 10).await;
    let edited: Vec<&Message> = newest.messages.iter().filter(|m| m.id == sent[35].id).collect();
    assert_eq!(edited.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), vec!["edited"]);

    // A new message tops the newest page; a write to another chat changes nothing here.
    let top = page(&stores, chat.id, PageCursor::Skip(0), 5).await;
    append_many(&stores, &other, &b, 3).await;
    assert_eq!(page(&stores, chat.id, PageCursor::Skip(0), 5).await, top);
    let new = append_new(&stores, draft_at(&chat, &b, "newest", at(102_000))).await;
    let after = page(&stores, chat.id, PageCursor::Skip(0), 5).await;
    assert_eq!(after.messages.last(), Some(&new));
    assert_eq!(seqs(&after.messages), vec![37, 38, 39, 40, new.seq]);
}

async fn markers(stores: &Stores, chat: ChatId, user: UserId) -> Markers {
    let stored = stores.receipts.stored_receipts(&[chat]).await.expect("stored_receipts");
    stored.iter().find(|(_, r)| r.user == user).map(|(_, r)| r.markers).unwrap_or_default()
}

async fn version(stores: &Stores, user: UserId) -> Option<u64> {
    stores.users.token_version(user).await.expect("token_version")
}

pub async fn chats_markers_and_token_versions_follow_every_write(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<_> = u.iter().map(|user| user.id).collect();
    let alone = |stores: &Stores| {
        let chats = stores.chats.clone();
        async move { chats.chat_alone(chat.id).await.expect("chat_alone").expect("chat") }
    };
    assert_eq!(alone(&stores).await.participants, ids);
    let removed: Vec<_> = ids[..2].to_vec();
    changed(&stores, update(&chat, &ids, removed.clone(), ChangeKind::Removed, vec![ids[2]], 2000)).await;
    assert_eq!(alone(&stores).await.participants, removed, "a removal shows at once");
    let message = append_new(&stores, draft_at(&chat, &u[0], "hi", at(3000))).await;
    assert_eq!(alone(&stores).await.last_seq, message.seq, "an append moves last_seq at once");

    assert_eq!(markers(&stores, chat.id, ids[1]).await, Markers::default());
    let to = Markers { delivered_seq: message.seq, read_seq: 0 };
    stores.receipts.advance_markers(chat.id, ids[1], to).await.expect("advance_markers");
    assert_eq!(markers(&stores, chat.id, ids[1]).await, to, "a marker that moved shows at once");
    stores.receipts.advance_delivered_many(chat.id, &[ids[1]], message.seq).await.expect("advance_delivered_many");
    assert_eq!(markers(&stores, chat.id, ids[1]).await, to);
    let read = Markers { delivered_seq: message.seq, read_seq: message.seq };
    stores.receipts.advance_markers(chat.id, ids[1], read).await.expect("advance_markers");
    assert_eq!(markers(&stores, chat.id, ids[1]).await, read);

    assert_eq!(version(&stores, ids[0]).await, Some(0));
    assert_eq!(version(&stores, ids[0]).await, Some(0));
    stores.users.revoke_tokens(ids[0]).await.expect("revoke_tokens");
    assert_eq!(version(&stores, ids[0]).await, Some(1), "a revoke shows at once");
    stores.users.revoke_tokens(ids[1]).await.expect("revoke_tokens");
    assert_eq!(version(&stores, ids[0]).await, Some(1), "another user's revoke changes nothing");
}
