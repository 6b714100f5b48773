//! Contract cases of `UserRepository`: exact round trips, unique emails under races, lookups
//! by several ids, and the search used to pick chat partners.

use chat_domain::model::PasswordHash;
use chat_domain::ports::InsertUserError;
use chat_domain::{Email, User, UserId};
use chrono::{SubsecRound, Utc};
use tokio::task::JoinSet;

use crate::fixtures::{at, id_seconds, insert_user, later, new_user, sorted_by_id, user_at};
use crate::Stores;

pub async fn user_insert_round_trips(stores: Stores) {
    // One user at a fixed instant, one at the current time, with created and updated apart,
    // so that a store dropping milliseconds or mixing up the two columns is caught.
    let now = Utc::now().trunc_subsecs(3);
    let mut first = user_at("Zoë O'Brien", "Zoe.OBrien+chat@Example.COM", at(0));
    first.updated_at = later(first.created_at, 876);
    let mut second = user_at("bob", "bob@example.com", now);
    second.updated_at = later(now, 1);
    insert_user(&stores, &first).await;
    insert_user(&stores, &second).await;

    for user in [&first, &second] {
        let by_id = stores.users.user_by_id(user.id).await.expect("user_by_id");
        assert_eq!(by_id.as_ref(), Some(user), "user_by_id must return every field as inserted");
        let by_email = stores.users.user_by_email(&user.email).await.expect("user_by_email");
        assert_eq!(by_email.as_ref(), Some(user), "user_by_email must return every field as inserted");
    }
    assert_eq!(first.email.as_str(), "zoe.obrien+chat@example.com");

    let unknown = UserId::generate(id_seconds(now));
    assert_eq!(stores.users.user_by_id(unknown).await.expect("user_by_id"), None);
    let nobody = Email::parse("nobody@example.com").expect("valid email");
    assert_eq!(stores.users.user_by_email(&nobody).await.expect("user_by_email"), None);
}

pub async fn user_duplicate_email_is_taken(stores: Stores) {
    let original = user_at("alice", "alice@example.com", at(0));
    insert_user(&stores, &original).await;

    // Emails arrive normalized, so a differently typed address is the same address.
    let copycat = user_at("alice2", " ALICE@example.com", at(5000));
    let result = stores.users.insert_user(&copycat).await;
    assert!(matches!(result, Err(InsertUserError::EmailTaken)), "expected EmailTaken, got {result:?}");

    assert_eq!(
        stores.users.user_by_id(copycat.id).await.expect("user_by_id"),
        None,
        "a refused user must not be stored"
    );
    let stored = stores.users.user_by_email(&original.email).await.expect("user_by_email");
    assert_eq!(stored, Some(original), "the first user keeps the email");

    // Another email is still welcome.
    insert_user(&stores, &user_at("alice3", "alice3@example.com", at(6000))).await;
}

pub async fn user_concurrent_inserts_of_one_email_admit_one(stores: Stores) {
    let mut tasks = JoinSet::new();
    for i in 0..10 {
        let users = stores.users.clone();
        let user = user_at(&format!("racer{i}"), "race@example.com", at(i));
        tasks.spawn(async move { (users.insert_user(&user).await, user) });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("insert task") {
            (Ok(()), user) => winners.push(user),
            (Err(InsertUserError::EmailTaken), _) => refused += 1,
            (Err(other), _) => panic!("expected Ok or EmailTaken, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert of an email may succeed");
    assert_eq!(refused, 9);
    let email = Email::parse("race@example.com").expect("valid email");
    let stored = stores.users.user_by_email(&email).await.expect("user_by_email");
    assert_eq!(stored.as_ref(), winners.first(), "the stored user is the one whose insert succeeded");
}

pub async fn users_by_ids_returns_only_existing(stores: Stores) {
    let a = new_user(&stores, "anna").await;
    let b = new_user(&stores, "ben").await;
    let c = new_user(&stores, "cleo").await;
    let missing = UserId::generate(id_seconds(at(0)));

    let found = stores.users.users_by_ids(&[c.id, missing, a.id]).await.expect("users_by_ids");
    assert_eq!(sorted_by_id(found), sorted_by_id(vec![a.clone(), c.clone()]));

    let all = stores.users.users_by_ids(&[a.id, b.id, c.id]).await.expect("users_by_ids");
    assert_eq!(sorted_by_id(all), sorted_by_id(vec![a, b, c]));

    assert!(stores.users.users_by_ids(&[]).await.expect("users_by_ids").is_empty());
    assert!(stores.users.users_by_ids(&[missing]).await.expect("users_by_ids").is_empty());
}

pub async fn replace_password_hash_only_replaces_the_current_hash(stores: Stores) {
    let ada = new_user(&stores, "ada").await;
    let bob = new_user(&stores, "bob").await;
    let old = ada.password_hash.clone();
    let new = PasswordHash("$argon2id$v=19$m=19456,t=2,p=1$bmV3$upgraded".into());

    // A hash that is no longer the stored one is not replaced (nor is anyone else's).
    let stale = PasswordHash("$2b$04$stale".into());
    assert!(!stores.users.replace_password_hash(ada.id, &stale, &new).await.expect("replace"));
    assert_eq!(stores.users.user_by_id(ada.id).await.expect("user_by_id"), Some(ada.clone()));

    assert!(stores.users.replace_password_hash(ada.id, &old, &new).await.expect("replace"));
    let stored = stores.users.user_by_email(&ada.email).await.expect("user_by_email").expect("ada is stored");
    assert_eq!(stored, User { password_hash: new.clone(), ..ada.clone() }, "only the hash changes");
    assert_eq!(stores.users.user_by_id(bob.id).await.expect("user_by_id"), Some(bob), "others are untouched");

    // Done once: the old hash no longer matches, and an unknown user replaces nothing.
    assert!(!stores.users.replace_password_hash(ada.id, &old, &new).await.expect("replace"));
    let nobody = UserId::generate(id_seconds(at(0)));
    assert!(!stores.users.replace_password_hash(nobody, &new, &old).await.expect("replace"));
}

/// Users for the search cases, each with its own email.
async fn insert_all(stores: &Stores, people: &[(&str, &str)]) -> Vec<User> {
    let mut out = Vec::new();
    for (username, email) in people {
        let user = user_at(username, email, at(0));
        insert_user(stores, &user).await;
        out.push(user);
    }
    out
}

/// Searches as the domain does: the needle, and the email it names when it is one.
async fn search(stores: &Stores, needle: &str, exclude: UserId, limit: usize) -> Vec<User> {
    let exact_email = Email::parse(needle).ok();
    stores.users.search_users(needle, exact_email.as_ref(), exclude, limit).await.expect("search_users")
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

fn sorted_names(users: &[User]) -> Vec<&str> {
    let mut names = names(users);
    names.sort_unstable();
    names
}

pub async fn search_users_matches_usernames_in_any_case_and_emails_only_whole(stores: Stores) {
    let people = insert_all(
        &stores,
        &[
            ("me", "me@example.com"),
            ("alice", "a1@mail.test"),
            ("ALIce", "a2@mail.test"),
            ("bob", "bob.alias@mail.test"),
            ("carol", "carol@other.test"),
        ],
    )
    .await;
    let me = people[0].id;

    // "ALI" is in two usernames, in either case; bob's email contains it too, which must not
    // count: emails are never matched by their parts.
    let found = search(&stores, "ALI", me, 10).await;
    assert_eq!(sorted_names(&found), ["ALIce", "alice"]);
    let found = search(&stores, "ali", me, 10).await;
    assert_eq!(sorted_names(&found), ["ALIce", "alice"]);
    assert!(search(&stores, "OTHER.Test", me, 10).await.is_empty(), "an email's domain finds no one");
    assert!(search(&stores, "carol@", me, 10).await.is_empty(), "an email's prefix finds no one");
    assert!(search(&stores, "mail.test", me, 10).await.is_empty());

    // A whole email finds its user, in any case (the needle is normalized as an email).
    let found = search(&stores, "Bob.Alias@MAIL.test", me, 10).await;
    assert_eq!(names(&found), ["bob"]);
    // Results carry every field.
    let found = search(&stores, "carol@other.test", me, 10).await;
    assert_eq!(found, vec![people[4].clone()]);
    // A username match and an email match together, each user once.
    let exact = Email::parse("a1@mail.test").ok();
    let found = stores.users.search_users("alice", exact.as_ref(), me, 10).await.expect("search_users");
    assert_eq!(sorted_names(&found), ["ALIce", "alice"]);
    let found = stores.users.search_users("zzz", exact.as_ref(), me, 10).await.expect("search_users");
    assert_eq!(names(&found), ["alice"], "the email alone matches");

    // The searching user is left out even when it matches, by username or by email.
    let found = search(&stores, "e", me, 10).await;
    assert_eq!(sorted_names(&found), ["ALIce", "alice"]);
    assert!(search(&stores, "me@example.com", me, 10).await.is_empty());
    assert!(search(&stores, "example", me, 10).await.is_empty());

    assert!(search(&stores, "zzz", me, 10).await.is_empty());
}

pub async fn search_users_treats_the_needle_literally(stores: Stores) {
    // SQL LIKE and regular expressions give these characters a meaning; a search must not.
    let people = insert_all(
        &stores,
        &[
            ("me", "me@example.com"),
            ("under_score", "u@example.com"),
            ("per%cent", "p@example.com"),
            ("dot.ted", "d@example.com"),
            ("plain", "plain@example.com"),
            ("star*", "s@example.com"),
        ],
    )
    .await;
    let me = people[0].id;

    assert_eq!(names(&search(&stores, "_", me, 10).await), ["under_score"]);
    assert_eq!(names(&search(&stores, "%", me, 10).await), ["per%cent"]);
    assert_eq!(names(&search(&stores, "t.t", me, 10).await), ["dot.ted"]);
    assert_eq!(names(&search(&stores, "r*", me, 10).await), ["star*"]);
    assert!(search(&stores, "p.a", me, 10).await.is_empty(), "a dot is not a wildcard");
    assert!(search(&stores, "pl%n", me, 10).await.is_empty(), "a percent sign is not a wildcard");
    assert!(search(&stores, "pl_in", me, 10).await.is_empty(), "an underscore is not a wildcard");
    assert!(search(&stores, "^plain", me, 10).await.is_empty(), "a caret is not an anchor");
    assert!(search(&stores, "(", me, 10).await.is_empty(), "a parenthesis is an ordinary character");
    assert!(search(&stores, ".*", me, 10).await.is_empty(), "a dot and a star match nothing by themselves");
    assert!(search(&stores, "[a-z]", me, 10).await.is_empty(), "brackets are no class");
}

pub async fn search_users_orders_by_username_excludes_and_limits(stores: Stores) {
    // Inserted out of order, all lowercase so that the order does not depend on a collation.
    let people = insert_all(
        &stores,
        &[
            ("me", "me@example.com"),
            ("dora", "dora@example.com"),
            ("bea", "bea@example.com"),
            ("eve", "eve@example.com"),
            ("abe", "abe@example.com"),
            ("carl", "carl@example.com"),
        ],
    )
    .await;
    let me = people[0].id;

    assert_eq!(names(&search(&stores, "", me, 10).await), ["abe", "bea", "carl", "dora", "eve"]);
    assert_eq!(names(&search(&stores, "", me, 3).await), ["abe", "bea", "carl"]);
    assert_eq!(names(&search(&stores, "", me, 1).await), ["abe"]);
    assert!(search(&stores, "", me, 0).await.is_empty(), "a limit of 0 gives nothing");

    // The limit applies after leaving out the searcher, and anyone but the searcher is found.
    let someone = people[4].id;
    assert_eq!(names(&search(&stores, "", someone, 2).await), ["bea", "carl"]);
    assert_eq!(names(&search(&stores, "e", someone, 10).await), ["bea", "eve", "me"]);
    assert_eq!(names(&search(&stores, "e", someone, 2).await), ["bea", "eve"]);
    // An email match counts against the limit like any other.
    assert_eq!(names(&search(&stores, "me@example.com", someone, 1).await), ["me"]);
}

pub async fn token_version_starts_at_zero_and_each_revoke_adds_one(stores: Stores) {
    let alice = new_user(&stores, "alice").await;
    let bob = new_user(&stores, "bob").await;
    assert_eq!(stores.users.token_version(alice.id).await.expect("token_version"), Some(0), "a new user is at 0");
    assert_eq!(stores.users.revoke_tokens(alice.id).await.expect("revoke_tokens"), Some(1));
    assert_eq!(stores.users.revoke_tokens(alice.id).await.expect("revoke_tokens"), Some(2));
    assert_eq!(stores.users.token_version(alice.id).await.expect("token_version"), Some(2));
    assert_eq!(stores.users.token_version(bob.id).await.expect("token_version"), Some(0), "other users keep theirs");
    // The user itself is unchanged by a revocation.
    assert_eq!(stores.users.user_by_id(alice.id).await.expect("user_by_id"), Some(alice));

    let unknown = UserId::generate(id_seconds(at(0)));
    assert_eq!(stores.users.token_version(unknown).await.expect("token_version"), None);
    assert_eq!(stores.users.revoke_tokens(unknown).await.expect("revoke_tokens"), None);
    assert_eq!(stores.users.user_by_id(unknown).await.expect("user_by_id"), None, "a revocation creates no user");
}

pub async fn concurrent_revokes_each_add_one(stores: Stores) {
    let alice = new_user(&stores, "alice").await;
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let users = stores.users.clone();
        tasks.spawn(async move { users.revoke_tokens(alice.id).await });
    }
    let mut versions = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        versions.push(joined.expect("revoke task").expect("revoke_tokens").expect("the user exists"));
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<u64>>(), "each revocation gets its own version");
    assert_eq!(stores.users.token_version(alice.id).await.expect("token_version"), Some(10));
}
