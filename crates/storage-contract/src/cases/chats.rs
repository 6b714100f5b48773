//! Contract cases of `ChatRepository`: exact round trips, 1:1 chats that exist once even under
//! races and are found by their key, and the listing of a user's chats by activity, in pages,
//! with the newest message filled in.

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

    let listed = all_chats(&stores, a.id).await;
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
        let listed = all_chats(&stores, user).await;
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

    let mut listed: Vec<ChatId> = ids(&all_chats(&stores, a.id).await);
    listed.sort();
    let mut expected = vec![group1.id, group2.id, group3.id, ab.id, ac.id];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(all_chats(&stores, b.id).await.len(), 5);
    assert_eq!(stored_chat(&stores, bc.id).await, bc);
}

fn ids(views: &[ChatView]) -> Vec<ChatId> {
    views.iter().map(|v| v.chat.id).collect()
}

async fn listed(stores: &Stores, user: UserId) -> Vec<ChatId> {
    ids(&all_chats(stores, user).await)
}

/// Every chat of `user`, in one page as large as any case here needs.
async fn all_chats(stores: &Stores, user: UserId) -> Vec<ChatView> {
    page(stores, user, 100, None).await.expect("a first page always exists")
}

async fn page(stores: &Stores, user: UserId, limit: u32, before: Option<ChatId>) -> Option<Vec<ChatView>> {
    stores.chats.chats_of_user(user, limit, before).await.expect("chats_of_user")
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

    let views = all_chats(&stores, a.id).await;
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
    let listed = all_chats(&stores, a.id).await;
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

pub async fn direct_chat_is_found_by_its_key(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let direct = new_chat(&stores, &[&b, &a]).await;
    let group = new_chat(&stores, &[&a, &b, &c]).await;
    let message = append_new(&stores, draft_at(&direct, &a, "hi", at(4000))).await;

    let key = chat_domain::model::direct_key(&[a.id, b.id]).expect("a pair has a key");
    let found = stores.chats.direct_chat(&key).await.expect("direct_chat").expect("the pair's chat");
    assert_eq!(found.chat, stored_chat(&stores, direct.id).await, "as stored now");
    assert_eq!(found.last_message, Some(message));
    let other = chat_domain::model::direct_key(&[a.id, c.id]).expect("a pair has a key");
    assert_eq!(stores.chats.direct_chat(&other).await.expect("direct_chat"), None, "no chat of that pair");
    assert_ne!(found.chat.id, group.id);
}

pub async fn chats_of_user_pages_cover_every_chat_once_in_order(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    // Seven chats of `a`, four of them active at one instant so that only ids order them, and
    // one chat `a` is not in, which no page may show.
    let mut chats = Vec::new();
    for (n, t) in [0, 1000, 1000, 1000, 1000, 3000, 500].into_iter().enumerate() {
        let name = format!("g{n}");
        let chat = chat_at(&[&a, &b, &c], Some(&name), at(t));
        insert_new_chat(&stores, &chat).await;
        chats.push(chat);
    }
    insert_new_chat(&stores, &chat_at(&[&b, &c], None, at(9000))).await;
    chats.sort_by(|x, y| y.updated_at.cmp(&x.updated_at).then(y.id.cmp(&x.id)));
    let expected: Vec<ChatId> = chats.iter().map(|c| c.id).collect();
    assert_eq!(listed(&stores, a.id).await, expected, "by activity, ties by the higher id");

    for limit in [1_u32, 2, 3, 7, 8] {
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let got = ids(&page(&stores, a.id, limit, before).await.expect("the cursor is a chat of the user"));
            assert!(got.len() <= limit as usize, "limit {limit} honoured: {got:?}");
            let Some(last) = got.last().copied() else { break };
            seen.extend(got);
            before = Some(last);
            assert!(seen.len() <= expected.len(), "limit {limit}: a chat listed twice: {seen:?}");
        }
        assert_eq!(seen, expected, "pages of {limit} cover every chat once, in order");
    }
    let last = expected[expected.len() - 1];
    assert_eq!(page(&stores, a.id, 5, Some(last)).await, Some(Vec::new()), "nothing after the last chat");
    let first_two = page(&stores, a.id, 2, None).await.expect("first page");
    assert_eq!(ids(&first_two), expected[..2]);
}

pub async fn chats_of_user_before_must_be_a_chat_of_the_user(stores: Stores) {
    let a = new_user(&stores, "ann").await;
    let b = new_user(&stores, "bo").await;
    let c = new_user(&stores, "cy").await;
    let ab = new_chat(&stores, &[&a, &b]).await;
    let bc = new_chat(&stores, &[&b, &c]).await;
    let unknown = ChatId::generate(id_seconds(at(0)));

    assert_eq!(page(&stores, a.id, 10, Some(unknown)).await, None, "a chat that does not exist");
    assert_eq!(page(&stores, a.id, 10, Some(bc.id)).await, None, "a chat of others");
    assert_eq!(page(&stores, a.id, 10, Some(ab.id)).await, Some(Vec::new()));
    assert_eq!(page(&stores, b.id, 10, Some(bc.id)).await.map(|v| ids(&v)).unwrap_or_default().len(), 1);
}
