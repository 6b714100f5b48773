//! Contract cases of writes that take a seq on behalf of a participant: an append or an edit
//! re-checks, in the write, that its sender is still in the chat; every such write names the
//! chat's members as of its seq; and an append moves its sender's own receipt markers.

use chat_domain::model::{Appended, Edited, SoftDeleted};
use chat_domain::receipts::Markers;
use chat_domain::{ChangeKind, ChatId, Seq, UserId};
use tokio::task::JoinSet;

use super::groups::{changed, group, text, update};
use crate::fixtures::{append_new, at, draft_at, new_chat, new_user, stored_chat, stored_message, with_client_id};
use crate::Stores;

/// `user`'s stored markers in `chat` (`0, 0` when none are stored).
async fn markers_of(stores: &Stores, chat: ChatId, user: UserId) -> Markers {
    let stored = stores.receipts.stored_receipts(&[chat]).await.expect("stored_receipts");
    stored.iter().find(|(c, r)| *c == chat && r.user == user).map(|(_, r)| r.markers).unwrap_or_default()
}

pub async fn append_and_edit_by_a_removed_sender_are_refused_and_write_nothing(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    let before_removal = append_new(&stores, draft_at(&chat, &u[2], "still here", at(1000))).await;
    let removal = update(&chat, &ids, ids[..2].to_vec(), ChangeKind::Removed, vec![ids[2]], 2000);
    let (_, removed_at) = changed(&stores, removal).await;
    let markers = markers_of(&stores, chat.id, ids[2]).await;

    let late = with_client_id(draft_at(&chat, &u[2], "too late", at(3000)), "late-1");
    let outcome = stores.messages.append_message(late).await.expect("append_message");
    assert_eq!(outcome, Appended::NotParticipant);
    let client_id = chat_domain::ClientId::parse("late-1").expect("client id");
    assert_eq!(stores.messages.message_by_client_id(ids[2], &client_id).await.expect("by client id"), None);
    let edited = stores.messages.edit_message(before_removal.id, text("changed"), at(4000)).await.expect("edit");
    assert_eq!(edited, Edited::NotParticipant);
    assert_eq!(stored_message(&stores, before_removal.id).await, before_removal, "the edit wrote nothing");
    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!(stored.last_seq, removed_at, "no seq was taken");
    assert_eq!(stored.last_message_id, Some(before_removal.id));
    assert_eq!(markers_of(&stores, chat.id, ids[2]).await, markers, "no marker moved");
    // Someone still in the chat appends as before, right after the removal's seq.
    let next = append_new(&stores, draft_at(&chat, &u[1], "go on", at(5000))).await;
    assert_eq!(next.seq, removed_at + 1);
    // An outsider of a 1:1 chat is refused the same way.
    let outsider = new_user(&stores, "outsider").await;
    let direct = new_chat(&stores, &[&u[0], &u[1]]).await;
    let outcome = stores.messages.append_message(draft_at(&direct, &outsider, "hi", at(6000))).await;
    assert_eq!(outcome.expect("append_message"), Appended::NotParticipant);
    assert_eq!(stored_chat(&stores, direct.id).await.last_seq, 0);
}

pub async fn appends_racing_a_removal_land_before_it_or_are_refused(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    let mut appends: JoinSet<Option<(Seq, Option<Vec<UserId>>)>> = JoinSet::new();
    for i in 0..6_i64 {
        let messages = stores.messages.clone();
        let draft = draft_at(&chat, &u[2], &format!("racer {i}"), at(1000 + i));
        appends.spawn(async move {
            match messages.append_message(draft).await.expect("append") {
                Appended::Created { message, members } => Some((message.seq, members)),
                Appended::NotParticipant => None,
                Appended::Duplicate(m) => panic!("no client id, no duplicate: {m:?}"),
            }
        });
    }
    let removal = update(&chat, &ids, ids[..2].to_vec(), ChangeKind::Removed, vec![ids[2]], 2000);
    let (_, removed_at) = changed(&stores, removal).await;
    let mut landed = 0;
    while let Some(joined) = appends.join_next().await {
        if let Some((seq, members)) = joined.expect("task") {
            assert!(seq < removed_at, "a message of the removed sender at {seq}, after the removal at {removed_at}");
            assert_eq!(members, Some(ids.clone()), "the sender was a member at its seq");
            landed += 1;
        }
    }
    let stored = stored_chat(&stores, chat.id).await;
    assert_eq!(stored.last_seq, removed_at, "refused appends took no seq");
    let events = stores.messages.chat_events_since(chat.id, 0, 100).await.expect("chat_events_since");
    assert_eq!(events.len(), landed + 1, "the appends that landed and the removal");
}

pub async fn writes_name_a_groups_members_as_of_their_seq_and_none_for_a_direct_chat(stores: Stores) {
    let (chat, u) = group(&stores, 3).await;
    let ids: Vec<UserId> = u.iter().map(|x| x.id).collect();
    let first = match stores.messages.append_message(draft_at(&chat, &u[0], "one", at(1000))).await {
        Ok(Appended::Created { message, members }) => {
            assert_eq!(members, Some(ids.clone()));
            message
        }
        other => panic!("expected a new message, got {other:?}"),
    };
    let removal = update(&chat, &ids, ids[..2].to_vec(), ChangeKind::Left, vec![ids[2]], 2000);
    changed(&stores, removal).await;
    let after = Some(ids[..2].to_vec());
    match stores.messages.edit_message(first.id, text("uno"), at(3000)).await.expect("edit") {
        Edited::Edited { members, .. } => assert_eq!(members, after, "the edit's members"),
        other => panic!("expected an edit, got {other:?}"),
    }
    match stores.messages.soft_delete_message(first.id, at(4000)).await.expect("delete") {
        SoftDeleted::Deleted { members, .. } => assert_eq!(members, after, "the delete's members"),
        other => panic!("expected a delete, got {other:?}"),
    }
    match stores.messages.append_message(draft_at(&chat, &u[1], "two", at(5000))).await.expect("append") {
        Appended::Created { members, .. } => assert_eq!(members, after, "the append's members"),
        other => panic!("expected a new message, got {other:?}"),
    }
    let direct = new_chat(&stores, &[&u[0], &u[1]]).await;
    let appended = stores.messages.append_message(draft_at(&direct, &u[0], "hi", at(6000))).await;
    assert!(matches!(appended, Ok(Appended::Created { members: None, .. })), "got {appended:?}");
}

pub async fn an_append_moves_the_senders_markers_and_a_retry_moves_nothing(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;
    let first = append_new(&stores, with_client_id(draft_at(&chat, &a, "one", at(1000)), "c-1")).await;
    assert_eq!(markers_of(&stores, chat.id, a.id).await, Markers::both(first.seq), "one's own message is read");
    let second = append_new(&stores, draft_at(&chat, &a, "two", at(2000))).await;
    assert_eq!(markers_of(&stores, chat.id, a.id).await, Markers::both(second.seq));
    let retry = stores.messages.append_message(with_client_id(draft_at(&chat, &a, "one", at(3000)), "c-1")).await;
    assert_eq!(retry.expect("append_message"), Appended::Duplicate(first));
    assert_eq!(markers_of(&stores, chat.id, a.id).await, Markers::both(second.seq), "a retry moves nothing back");
    assert_eq!(markers_of(&stores, chat.id, b.id).await, Markers::default(), "only the sender's markers move");
    // Markers a receipt moved stay where the maximum is.
    let third = append_new(&stores, draft_at(&chat, &b, "three", at(4000))).await;
    assert_eq!(
        markers_of(&stores, chat.id, a.id).await,
        Markers::both(second.seq),
        "another's message moves nothing of a"
    );
    assert_eq!(markers_of(&stores, chat.id, b.id).await, Markers::both(third.seq));
    assert_eq!(stores.receipts.unread_counts(a.id, &[chat.id]).await.expect("unread"), vec![1]);
    assert_eq!(stores.receipts.unread_counts(b.id, &[chat.id]).await.expect("unread"), vec![0]);
}
