//! Contract cases of `ChatRepository`: exact round trips, 1:1 chats that exist once even under
//! races, and the listing of a user's chats by activity with the newest message filled in.

use chat_domain::model::{ChatInserted, ChatView};
use chat_domain::{Chat, ChatId, UserId};
use tokio::task::JoinSet;

use crate::fixtures::{
    append_new, at, chat_at, chat_with_id, draft_at, id_seconds, insert_new_chat, new_chat, new_user, ordered_chat_ids,
    stored_chat,
};
use crate::Stores;

pub async fn chat_insert_round_trips(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let d = new_user(&stores, "di").await;

    // Participants deliberately not in id order: the store must keep the given order.
    let group = chat_at(&[&c, &a, &d, &b], Some(" Team <b>Rocket</b> "), at(-1));
    let mut direct = chat_at(&[&d, &a], None, at(0));
    direct.updated_at = at(7);
    insert_new_chat(&stores, &group).await;
    insert_new_chat(&stores, &direct).await;
    assert_eq!(group.name.as_ref().map(|n| n.as_str()), Some("Team Rocket"));
    assert!(group.is_group && !direct.is_group);

    for chat in [&group, &direct] {
        let view = stores.chats.chat_by_id(chat.id).await.expect("chat_by_id");
        let expected = ChatView { chat: chat.clone(), last_message: None };
        assert_eq!(view, Some(expected), "chat_by_id must return every field as inserted");
        let alone = stores.chats.chat_alone(chat.id).await.expect("chat_alone");
        assert_eq!(alone.as_ref(), Some(chat), "chat_alone must return every field as inserted");
    }

    let unknown = ChatId::generate(id_seconds(at(0)));
    assert_eq!(stores.chats.chat_by_id(unknown).await.expect("chat_by_id"), None);
    assert_eq!(stores.chats.chat_alone(unknown).await.expect("chat_alone"), None);
}

pub async fn direct_chat_is_deduplicated_in_either_order(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let original = new_chat(&stores, &[&a, &b]).await;

    for attempt in [chat_at(&[&b, &a], None, at(60_000)), chat_at(&[&a, &b], Some("named"), at(70_000))] {
        let outcome = stores.chats.insert_chat(&attempt).await.expect("insert_chat");
        assert_eq!(outcome, ChatInserted::ExistingDirect(original.clone()), "the first 1:1 chat is returned unchanged");
        assert_eq!(stores.chats.chat_by_id(attempt.id).await.expect("chat_by_id"), None, "nothing may be inserted");
    }

    // The existing chat is returned as it is stored now, not as it was created.
    let message = append_new(&stores, draft_at(&original, &b, "hi", at(5000))).await;
    let attempt = chat_at(&[&b, &a], None, at(80_000));
    let outcome = stores.chats.insert_chat(&attempt).await.expect("insert_chat");
    let ChatInserted::ExistingDirect(existing) = outcome else {
        panic!("expected ExistingDirect, got {outcome:?}");
    };
    assert_eq!(existing.id, original.id);
    assert_eq!(existing.last_seq, 1);
    assert_eq!(existing.last_message_id, Some(message.id));
    assert_eq!(existing.updated_at, message.created_at);
    assert_eq!(existing, stored_chat(&stores, original.id).await);

    let listed = stores.chats.chats_of_user(a.id).await.expect("chats_of_user");
    assert_eq!(listed.len(), 1, "one 1:1 chat per pair");
}

pub async fn concurrent_direct_chat_inserts_create_one(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;

    let mut tasks = JoinSet::new();
    for i in 0..10 {
        let chats = stores.chats.clone();
        let pair = if i % 2 == 0 { [&a, &b] } else { [&b, &a] };
        let chat = chat_at(&pair, None, at(i));
        tasks.spawn(async move { chats.insert_chat(&chat).await });
    }
    let mut created = Vec::new();
    let mut existing = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("insert task").expect("insert_chat") {
            ChatInserted::Created(chat) => created.push(chat),
            ChatInserted::ExistingDirect(chat) => existing.push(chat),
        }
    }
    assert_eq!(created.len(), 1, "exactly one racing insert creates the 1:1 chat");
    assert_eq!(existing.len(), 9);
    let winner = &created[0];
    assert!(existing.iter().all(|c| c.id == winner.id), "every loser gets the winner's chat");
    assert_eq!(&stored_chat(&stores, winner.id).await, winner);
    for user in [a.id, b.id] {
        let listed = stores.chats.chats_of_user(user).await.expect("chats_of_user");
        let ids: Vec<ChatId> = listed.iter().map(|v| v.chat.id).collect();
        assert_eq!(ids, [winner.id]);
    }
}

pub async fn group_chats_and_other_pairs_are_not_deduplicated(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;

    let group1 = new_chat(&stores, &[&a, &b, &c]).await;
    let group2 = new_chat(&stores, &[&a, &b, &c]).await;
    let group3 = new_chat(&stores, &[&c, &b, &a]).await;
    let ab = new_chat(&stores, &[&a, &b]).await;
    let ac = new_chat(&stores, &[&a, &c]).await;
    let bc = new_chat(&stores, &[&c, &b]).await;

    let mut listed: Vec<ChatId> = ids(&stores.chats.chats_of_user(a.id).await.expect("chats_of_user"));
    listed.sort();
    let mut expected = vec![group1.id, group2.id, group3.id, ab.id, ac.id];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(stores.chats.chats_of_user(b.id).await.expect("chats_of_user").len(), 5);
    assert_eq!(stored_chat(&stores, bc.id).await, bc);
}

fn ids(views: &[ChatView]) -> Vec<ChatId> {
    views.iter().map(|v| v.chat.id).collect()
}

async fn listed(stores: &Stores, user: UserId) -> Vec<ChatId> {
    ids(&stores.chats.chats_of_user(user).await.expect("chats_of_user"))
}

pub async fn chats_of_user_orders_by_activity_then_id(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let outsider = new_user(&stores, "ode").await;

    // Two chats active at the same instant: the higher id comes first. The lower id is
    // inserted last so that insertion order cannot pass for the tie-break.
    let (low, high) = ordered_chat_ids();
    let ab = chat_at(&[&a, &b], None, at(0));
    let tie_high = chat_with_id(high, &[&a, &c], None, at(1000));
    let tie_low = chat_with_id(low, &[&a, &b, &c], Some("group"), at(1000));
    let bc = chat_at(&[&b, &c], None, at(5000));
    for chat in [&ab, &tie_high, &bc, &tie_low] {
        insert_new_chat(&stores, chat).await;
    }

    assert_eq!(listed(&stores, a.id).await, [tie_high.id, tie_low.id, ab.id]);
    assert_eq!(listed(&stores, b.id).await, [bc.id, tie_low.id, ab.id]);
    assert_eq!(listed(&stores, outsider.id).await, Vec::<ChatId>::new());
    assert_eq!(listed(&stores, UserId::generate(id_seconds(at(0)))).await, Vec::<ChatId>::new());

    // A message makes its chat the most recently active one.
    let message = append_new(&stores, draft_at(&ab, &b, "bump", at(2000))).await;
    assert_eq!(listed(&stores, a.id).await, [ab.id, tie_high.id, tie_low.id]);
    assert_eq!(listed(&stores, b.id).await, [bc.id, ab.id, tie_low.id]);

    let views = stores.chats.chats_of_user(a.id).await.expect("chats_of_user");
    let first = &views[0];
    assert_eq!(first.chat.updated_at, at(2000));
    assert_eq!(first.chat.last_seq, 1);
    assert_eq!(first.chat.last_message_id, Some(message.id));
    assert_eq!(first.last_message.as_ref(), Some(&message));
    assert!(views[1..].iter().all(|v| v.last_message.is_none()));

    // Moving the tie's lower id ahead by one millisecond reorders the pair.
    append_new(&stores, draft_at(&tie_low, &c, "later", at(3000))).await;
    append_new(&stores, draft_at(&tie_high, &c, "sooner", at(2999))).await;
    assert_eq!(listed(&stores, a.id).await, [tie_low.id, tie_high.id, ab.id]);
}

pub async fn chat_views_carry_the_newest_message(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let chat = new_chat(&stores, &[&a, &b]).await;

    let first = append_new(&stores, draft_at(&chat, &a, "first", at(1000))).await;
    let second = append_new(&stores, draft_at(&chat, &b, "second", at(2000))).await;

    let expected_chat = Chat { last_message_id: Some(second.id), last_seq: 2, updated_at: at(2000), ..chat.clone() };
    let expected = ChatView { chat: expected_chat, last_message: Some(second.clone()) };
    let by_id = stores.chats.chat_by_id(chat.id).await.expect("chat_by_id");
    assert_eq!(by_id.as_ref(), Some(&expected));
    let alone = stores.chats.chat_alone(chat.id).await.expect("chat_alone");
    assert_eq!(alone.as_ref(), Some(&expected.chat), "chat_alone moves with the newest message too");
    let listed = stores.chats.chats_of_user(a.id).await.expect("chats_of_user");
    assert_eq!(listed, std::slice::from_ref(&expected));
    assert_ne!(first.id, second.id);

    // The last message is shown as stored now, including a delete (which does not move it).
    let deleted = match stores.messages.soft_delete_message(second.id, at(2500)).await.expect("soft_delete_message") {
        chat_domain::model::SoftDeleted::Deleted { message, .. } => message,
        other => panic!("expected a delete, got {other:?}"),
    };
    let by_id = stores.chats.chat_by_id(chat.id).await.expect("chat_by_id").expect("chat exists");
    assert_eq!(by_id.last_message, Some(deleted));
}
