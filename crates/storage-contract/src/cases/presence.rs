//! Contract cases of what presence keeps in the store: who shares a chat with whom (the users
//! who hear of a user's presence and whose presence the user may ask for), and each user's
//! `lastSeenAt`, which only moves forward.

use chat_domain::{ChangeKind, ChatChange, ChatChanged, ChatUpdate, User, UserId};

use crate::fixtures::{at, chat_at, id_seconds, insert_new_chat, new_user};
use crate::Stores;

async fn contacts(stores: &Stores, user: &User) -> Vec<UserId> {
    let mut found = stores.chats.contacts_of(user.id).await.expect("contacts_of");
    found.sort_unstable();
    found
}

fn ids(users: &[&User]) -> Vec<UserId> {
    let mut ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    ids.sort_unstable();
    ids
}

pub async fn contacts_are_everyone_sharing_a_chat_each_once(stores: Stores) {
    let [ann, bo, cy, dee, eve, loner] = [
        new_user(&stores, "ann").await,
        new_user(&stores, "bo").await,
        new_user(&stores, "cy").await,
        new_user(&stores, "dee").await,
        new_user(&stores, "eve").await,
        new_user(&stores, "loner").await,
    ];
    insert_new_chat(&stores, &chat_at(&[&ann, &bo], None, at(0))).await;
    let group = chat_at(&[&ann, &bo, &cy], Some("team"), at(1));
    insert_new_chat(&stores, &group).await;
    insert_new_chat(&stores, &chat_at(&[&dee, &eve], None, at(2))).await;

    assert_eq!(contacts(&stores, &ann).await, ids(&[&bo, &cy]), "bo twice (two chats), listed once; never ann");
    assert_eq!(contacts(&stores, &cy).await, ids(&[&ann, &bo]));
    assert_eq!(contacts(&stores, &dee).await, ids(&[&eve]));
    assert!(contacts(&stores, &loner).await.is_empty());
    let nobody = UserId::generate(id_seconds(at(0)));
    assert!(stores.chats.contacts_of(nobody).await.expect("contacts_of").is_empty());

    // Membership as it is now: someone removed from the group is no longer a contact there.
    let update = ChatUpdate {
        chat: group.id,
        expected: group.participants.clone(),
        name: group.name.clone(),
        participants: vec![ann.id, bo.id],
        change: ChatChange { kind: ChangeKind::Removed, users: vec![cy.id], by: ann.id, at: at(3) },
    };
    let changed = stores.chats.change_chat(update).await.expect("change_chat");
    assert!(matches!(changed, ChatChanged::Changed { .. }), "got {changed:?}");
    assert!(contacts(&stores, &cy).await.is_empty());
    assert_eq!(contacts(&stores, &ann).await, ids(&[&bo]));
}

pub async fn last_seen_round_trips_and_only_moves_forward(stores: Stores) {
    let (ann, bo) = (new_user(&stores, "ann").await, new_user(&stores, "bo").await);
    let last_seen = |users: Vec<UserId>| {
        let stores = stores.clone();
        async move {
            let mut found = stores.users.last_seen(&users).await.expect("last_seen");
            found.sort_unstable();
            found
        }
    };
    assert!(last_seen(vec![ann.id, bo.id]).await.is_empty(), "nobody has been seen yet");

    stores.users.record_last_seen(ann.id, at(1_234)).await.expect("record_last_seen");
    assert_eq!(last_seen(vec![ann.id, bo.id, ann.id]).await, [(ann.id, at(1_234))], "to the millisecond, once");

    stores.users.record_last_seen(ann.id, at(1_000)).await.expect("record_last_seen");
    assert_eq!(last_seen(vec![ann.id]).await, [(ann.id, at(1_234))], "an older report changes nothing");
    stores.users.record_last_seen(ann.id, at(9_876)).await.expect("record_last_seen");
    assert_eq!(last_seen(vec![ann.id]).await, [(ann.id, at(9_876))]);

    let nobody = UserId::generate(id_seconds(at(0)));
    stores.users.record_last_seen(nobody, at(5_000)).await.expect("record_last_seen of nobody is no error");
    assert!(last_seen(vec![nobody, bo.id]).await.is_empty(), "no user written for an unknown id");
    assert!(last_seen(Vec::new()).await.is_empty());

    // The rest of the user is untouched.
    assert_eq!(stores.users.user_by_id(ann.id).await.expect("user_by_id"), Some(ann));
}
