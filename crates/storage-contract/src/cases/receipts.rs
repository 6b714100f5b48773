//! Contract cases of receipt markers: kept per chat and participant, only ever moving forward
//! (a maximum, never an overwrite, whatever order concurrent updates land in), and unread
//! counts computed from the messages.

use chat_domain::receipts::{receipts_for, Markers, Receipt};
use chat_domain::Chat;

use crate::fixtures::{append_many, append_new, at, draft_at, new_chat, new_user};
use crate::Stores;

/// The receipts of `chat`'s participants, as the services assemble them.
async fn receipts_of(stores: &Stores, chat: &Chat) -> Vec<Receipt> {
    let stored = stores.receipts.stored_receipts(&[chat.id]).await.expect("stored_receipts");
    assert!(stored.iter().all(|(c, _)| *c == chat.id), "only the chat asked for");
    receipts_for(chat, &stored)
}

fn markers(delivered_seq: u64, read_seq: u64) -> Markers {
    Markers { delivered_seq, read_seq }
}

pub async fn markers_start_at_zero_for_every_participant(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let chat = new_chat(&stores, &[&a, &b, &c]).await;

    assert!(stores.receipts.stored_receipts(&[chat.id]).await.expect("stored_receipts").is_empty());
    let expected: Vec<Receipt> =
        [&a, &b, &c].iter().map(|u| Receipt { user: u.id, markers: Markers::default() }).collect();
    assert_eq!(receipts_of(&stores, &chat).await, expected, "every participant, in the chat's order, at 0");

    let unknown = chat_domain::ChatId::generate(1);
    assert!(stores.receipts.stored_receipts(&[unknown]).await.expect("stored_receipts").is_empty());
    assert!(stores.receipts.stored_receipts(&[]).await.expect("stored_receipts").is_empty());
}

pub async fn markers_only_move_forward(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    append_many(&stores, &chat, &a, 6).await;

    let moved = stores.receipts.advance_markers(chat.id, b.id, markers(5, 2)).await.expect("advance_markers");
    assert_eq!((moved.before, moved.after), (markers(0, 0), markers(5, 2)));
    assert!(moved.moved());

    // Lower values move nothing; each marker keeps its own maximum.
    let moved = stores.receipts.advance_markers(chat.id, b.id, markers(3, 1)).await.expect("advance_markers");
    assert_eq!((moved.before, moved.after), (markers(5, 2), markers(5, 2)));
    assert!(!moved.moved());
    let moved = stores.receipts.advance_markers(chat.id, b.id, markers(4, 4)).await.expect("advance_markers");
    assert_eq!(moved.after, markers(5, 4), "read moves, delivered stays at its maximum");

    let receipts = receipts_of(&stores, &chat).await;
    assert_eq!(receipts[1], Receipt { user: b.id, markers: markers(5, 4) });
    // Ann's own markers are where her last message put them (an append moves its sender's),
    // and bo's receipts did not touch them.
    assert_eq!(receipts[0], Receipt { user: a.id, markers: markers(6, 6) }, "the other participant is untouched");
}

pub async fn concurrent_marker_updates_keep_the_maximum(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    append_many(&stores, &chat, &a, 3).await;

    // Two devices of one user report at once, in no particular order: read up to every value
    // from 1 to 40, and delivered up to each value too.
    let mut tasks = Vec::new();
    for n in 1..=40u64 {
        let receipts = stores.receipts.clone();
        let (chat, user) = (chat.id, b.id);
        let to = if n % 2 == 0 { markers(n, n) } else { markers(n, 0) };
        tasks.push(tokio::spawn(async move { receipts.advance_markers(chat, user, to).await }));
    }
    for task in tasks {
        let moved = task.await.expect("task").expect("advance_markers");
        assert!(moved.after.delivered_seq >= moved.before.delivered_seq);
        assert!(moved.after.read_seq >= moved.before.read_seq);
    }
    let receipts = receipts_of(&stores, &chat).await;
    assert_eq!(receipts[1].markers, markers(40, 40), "the highest of every update, whatever the order");
}

pub async fn markers_are_kept_per_chat_and_user(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let ab = new_chat(&stores, &[&a, &b]).await;
    let group = new_chat(&stores, &[&a, &b, &c]).await;

    stores.receipts.advance_markers(ab.id, b.id, markers(7, 7)).await.expect("advance_markers");
    stores.receipts.advance_markers(group.id, c.id, markers(2, 1)).await.expect("advance_markers");

    let in_ab = receipts_of(&stores, &ab).await;
    assert_eq!(in_ab.iter().map(|r| r.markers).collect::<Vec<_>>(), vec![markers(0, 0), markers(7, 7)]);
    let in_group = receipts_of(&stores, &group).await;
    assert_eq!(
        in_group.iter().map(|r| r.markers).collect::<Vec<_>>(),
        vec![markers(0, 0), markers(0, 0), markers(2, 1)]
    );

    // Both chats in one call: every stored receipt, each with its own chat.
    let mut both = stores.receipts.stored_receipts(&[group.id, ab.id]).await.expect("stored_receipts");
    both.sort_by_key(|(chat, _)| *chat);
    let mut expected = vec![
        (ab.id, Receipt { user: b.id, markers: markers(7, 7) }),
        (group.id, Receipt { user: c.id, markers: markers(2, 1) }),
    ];
    expected.sort_by_key(|(chat, _)| *chat);
    assert_eq!(both, expected);
}

pub async fn unread_counts_skip_own_and_deleted_messages(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    append_new(&stores, draft_at(&chat, &b, "mine", at(500))).await; // seq 1
    let from_a = append_many(&stores, &chat, &a, 4).await; // seq 2..=5
    stores.messages.soft_delete_message(from_a[1].id, at(11_000)).await.expect("soft_delete_message"); // seq 6
                                                                                                       // Each sender's read marker is at their last message: bo's at 1, ann's at 5.
    stores.receipts.advance_markers(chat.id, b.id, markers(1, 0)).await.expect("advance_markers");

    let c = new_user(&stores, "cy").await;
    let quiet = new_chat(&stores, &[&a, &b, &c]).await;
    let counts = stores.receipts.unread_counts(b.id, &[chat.id, quiet.id]).await.expect("unread_counts");
    assert_eq!(counts, vec![3, 0], "ann's four, less the deleted one; bo's own never count");
    let counts = stores.receipts.unread_counts(a.id, &[chat.id]).await.expect("unread_counts");
    assert_eq!(counts, vec![0], "for ann, bo's one message is below her own last one");
    let d = new_user(&stores, "di").await;
    let trio = new_chat(&stores, &[&a, &b, &d]).await;
    append_new(&stores, draft_at(&trio, &d, "hello", at(12_000))).await;
    append_new(&stores, draft_at(&trio, &a, "hi", at(13_000))).await;
    append_new(&stores, draft_at(&trio, &d, "how are you", at(14_000))).await;
    let counts = stores.receipts.unread_counts(a.id, &[trio.id]).await.expect("unread_counts");
    assert_eq!(counts, vec![1], "for ann, what di said after her own message");
    let counts = stores.receipts.unread_counts(b.id, &[trio.id]).await.expect("unread_counts");
    assert_eq!(counts, vec![3], "for bo, who said nothing, every message");
    assert!(stores.receipts.unread_counts(a.id, &[]).await.expect("unread_counts").is_empty());
}

pub async fn unread_counts_follow_the_read_marker(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    append_many(&stores, &chat, &a, 5).await;

    stores.receipts.advance_markers(chat.id, b.id, markers(5, 0)).await.expect("advance_markers");
    let counts = stores.receipts.unread_counts(b.id, &[chat.id]).await.expect("unread_counts");
    assert_eq!(counts, vec![5], "delivery alone reads nothing");

    stores.receipts.advance_markers(chat.id, b.id, markers(3, 3)).await.expect("advance_markers");
    assert_eq!(stores.receipts.unread_counts(b.id, &[chat.id]).await.expect("unread_counts"), vec![2]);

    // An older read marker arriving late changes nothing: counts never go back up.
    stores.receipts.advance_markers(chat.id, b.id, markers(1, 1)).await.expect("advance_markers");
    assert_eq!(stores.receipts.unread_counts(b.id, &[chat.id]).await.expect("unread_counts"), vec![2]);

    stores.receipts.advance_markers(chat.id, b.id, markers(5, 5)).await.expect("advance_markers");
    assert_eq!(stores.receipts.unread_counts(b.id, &[chat.id]).await.expect("unread_counts"), vec![0]);
}

pub async fn delivered_many_moves_each_user_behind_and_reports_only_moves(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let d = new_user(&stores, "di").await;
    let chat = new_chat(&stores, &[&a, &b, &c, &d]).await;
    let other = new_chat(&stores, &[&a, &b]).await;
    append_many(&stores, &chat, &a, 6).await;
    // Ann has read everything; bo has a document behind; cy has none yet; di is ahead.
    stores.receipts.advance_markers(chat.id, a.id, markers(6, 6)).await.expect("advance_markers");
    stores.receipts.advance_markers(chat.id, b.id, markers(2, 1)).await.expect("advance_markers");
    stores.receipts.advance_markers(chat.id, d.id, markers(9, 0)).await.expect("advance_markers");

    let users = [a.id, b.id, c.id, d.id, b.id];
    let mut moved = stores.receipts.advance_delivered_many(chat.id, &users, 5).await.expect("advance_delivered_many");
    moved.sort_by_key(|r| r.user != b.id);
    let expected = [Receipt { user: b.id, markers: markers(5, 1) }, Receipt { user: c.id, markers: markers(5, 0) }];
    assert_eq!(moved, expected, "only the users behind, once each, read markers kept");
    let receipts = receipts_of(&stores, &chat).await;
    let now: Vec<Markers> = receipts.iter().map(|r| r.markers).collect();
    assert_eq!(now, [markers(6, 6), markers(5, 1), markers(5, 0), markers(9, 0)], "nothing moved back");
    assert!(stores.receipts.stored_receipts(&[other.id]).await.expect("stored_receipts").is_empty(), "only that chat");

    let again = stores.receipts.advance_delivered_many(chat.id, &users, 5).await.expect("advance_delivered_many");
    assert!(again.is_empty(), "a repeated flush moves nothing: {again:?}");
    let behind = stores.receipts.advance_delivered_many(chat.id, &users, 3).await.expect("advance_delivered_many");
    assert!(behind.is_empty(), "a lower seq moves nothing: {behind:?}");
    assert!(stores.receipts.advance_delivered_many(chat.id, &[], 6).await.expect("advance_delivered_many").is_empty());
}

pub async fn concurrent_delivered_many_and_reads_keep_the_maximum(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let chat = new_chat(&stores, &[&a, &b, &c]).await;
    append_many(&stores, &chat, &a, 2).await;

    // Two nodes flush the room at every seq from 1 to 30 while bo reads, in no set order.
    let mut tasks = Vec::new();
    for n in 1..=30u64 {
        let (chat, users) = (chat.id, [b.id, c.id]);
        let receipts = stores.receipts.clone();
        tasks.push(tokio::spawn(async move { receipts.advance_delivered_many(chat, &users, n).await.map(|_| ()) }));
        let receipts = stores.receipts.clone();
        tasks.push(tokio::spawn(
            async move { receipts.advance_markers(chat, users[0], markers(n, n)).await.map(|_| ()) },
        ));
    }
    for task in tasks {
        task.await.expect("task").expect("a concurrent receipt");
    }
    let receipts = receipts_of(&stores, &chat).await;
    let now: Vec<Markers> = receipts.iter().map(|r| r.markers).collect();
    // Ann's two sends moved her own markers.
    assert_eq!(now, [markers(2, 2), markers(30, 30), markers(30, 0)]);
}
