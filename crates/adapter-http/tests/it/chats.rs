//! Users and chats: who the caller is, creating direct and group chats, listing them and
//! reading one. Searching for others is in `search.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, RateLimited};
use chat_domain::DomainEvent;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options, NO_SUCH_ID};

// ---- users ---------------------------------------------------------------------------------

#[actix_web::test]
async fn me_returns_the_caller_and_401_when_the_account_is_gone() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let reply = app.get("/api/users/me", Some(&alice.token)).await;
    let body = reply.assert_status(200);
    assert_eq!(body["_id"], alice.id.as_str());
    assert_eq!(body["email"], "alice@example.com");

    // A well-formed token for an account the store does not have.
    let reply = app.get("/api/users/me", Some(&format!("token-{NO_SUCH_ID}"))).await;
    assert_eq!(reply.assert_error(401), "unauthorized");
}

// ---- chats ---------------------------------------------------------------------------------

#[actix_web::test]
async fn creating_a_direct_chat_answers_201_then_200_with_the_same_chat() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;

    let reply = app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id]})).await;
    let chat = reply.assert_status(201).clone();
    assert_eq!(
        reply.keys(""),
        [
            "_id",
            "name",
            "isGroup",
            "participants",
            "createdBy",
            "lastMessage",
            "createdAt",
            "updatedAt",
            "lastSeq",
            "unreadCount",
            "receipts"
        ]
    );
    assert_eq!(chat["participants"], json!([alice.id, bob.id]));
    assert_eq!(chat["createdBy"], alice.id.as_str());
    assert_eq!(chat["isGroup"], false);
    assert_eq!(chat["name"], Value::Null);
    assert_eq!(chat["lastMessage"], Value::Null);

    // The same pair, from either side and even naming the caller too, gets the same chat.
    let again = app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id]})).await;
    assert_eq!(again.assert_status(200)["_id"], chat["_id"]);
    let from_bob = app.post("/api/chats", Some(&bob.token), json!({"participants": [alice.id, bob.id]})).await;
    assert_eq!(from_bob.assert_status(200)["_id"], chat["_id"]);

    // Announced once, for the creation only.
    let created: Vec<DomainEvent> =
        app.notifier.events().into_iter().filter(|e| matches!(e, DomainEvent::ChatCreated(_))).collect();
    assert_eq!(created.len(), 1);
    let DomainEvent::ChatCreated(announced) = &created[0] else { unreachable!() };
    assert_eq!(announced.id.to_string(), chat["_id"].as_str().unwrap());
}

#[actix_web::test]
async fn group_chats_are_created_each_time_with_their_name() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let body = json!({"participants": [bob.id, carol.id], "name": " <b>Team</b> "});
    let first = app.post("/api/chats", Some(&alice.token), body.clone()).await;
    let first = first.assert_status(201).clone();
    assert_eq!(first["isGroup"], true);
    assert_eq!(first["name"], "Team");
    assert_eq!(first["participants"], json!([alice.id, bob.id, carol.id]));
    let second = app.post("/api/chats", Some(&alice.token), body).await;
    assert_ne!(second.assert_status(201)["_id"], first["_id"]);

    let unnamed =
        app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id, carol.id], "name": null})).await;
    assert_eq!(unnamed.assert_status(201)["name"], Value::Null);
    assert_eq!(app.notifier.events().len(), 3);
}

#[actix_web::test]
async fn creating_a_chat_validates_participants() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let cases = [
        (json!({"participants": ["nope"]}), 400, Some("each value in participants must be a mongodb id")),
        (json!({"participants": bob.id}), 400, None),
        (json!({"participants": [5]}), 400, None),
        (json!({}), 400, Some("missing field `participants`")),
        (json!({"participants": [bob.id], "name": 5}), 400, None),
        (json!({"participants": [bob.id], "admins": []}), 400, None),
        (json!({"participants": []}), 400, Some("participants must name at least one other user")),
        (json!({"participants": [alice.id]}), 400, Some("participants must name at least one other user")),
        (json!({"participants": [NO_SUCH_ID]}), 404, Some("participant not found")),
        (json!({"participants": [bob.id], "name": "x".repeat(101)}), 400, Some("name must be at most 100 characters")),
    ];
    for (body, status, message) in cases {
        let reply = app.post("/api/chats", Some(&alice.token), body.clone()).await;
        let got = reply.assert_error(status);
        if let Some(message) = message {
            assert_eq!(got, message, "{body}");
        }
    }
    assert!(app.notifier.events().is_empty());
}

#[actix_web::test]
async fn chats_are_listed_most_recently_active_first_with_their_last_message() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let with_bob = app.chat(&alice, &[&bob]).await;
    let with_carol = app.chat(&alice, &[&carol]).await;

    let listed = app.get("/api/chats", Some(&alice.token)).await;
    let order: Vec<&str> =
        listed.assert_status(200).as_array().unwrap().iter().map(|c| c["_id"].as_str().unwrap()).collect();
    assert_eq!(order, [with_carol.as_str(), with_bob.as_str()]);

    let sent = app.send(&bob, &with_bob, "hello alice").await;
    let listed = app.get("/api/chats", Some(&alice.token)).await;
    let chats = listed.assert_status(200).as_array().unwrap().clone();
    assert_eq!(chats[0]["_id"], with_bob.as_str());
    assert_eq!(chats[0]["lastMessage"], sent);
    assert_eq!(chats[0]["updatedAt"], sent["createdAt"]);
    assert_eq!(chats[1]["lastMessage"], Value::Null);

    // Bob sees only his chat.
    let listed = app.get("/api/chats", Some(&bob.token)).await;
    assert_eq!(listed.assert_status(200).as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn one_chat_is_for_its_participants_only() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let sent = app.send(&alice, &chat, "hi").await;

    let reply = app.get(&format!("/api/chats/{chat}"), Some(&bob.token)).await;
    let body = reply.assert_status(200);
    assert_eq!(body["_id"], chat.as_str());
    assert_eq!(body["lastMessage"], sent);

    let reply = app.get(&format!("/api/chats/{chat}"), Some(&eve.token)).await;
    assert_eq!(reply.assert_error(403), "you are not a participant of this chat");
    let reply = app.get(&format!("/api/chats/{NO_SUCH_ID}"), Some(&eve.token)).await;
    assert_eq!(reply.assert_error(404), "chat not found");
    let reply = app.get("/api/chats/not-an-id", Some(&eve.token)).await;
    assert_eq!(reply.assert_error(400), "chatId must be a mongodb id");
}

// ---- bounds of chat creation and list pages ------------------------------------------------

/// Ten chat creations per user, then a refusal asking for 6 s; counts every key it is asked.
#[derive(Default)]
struct TenPerUser(Mutex<HashMap<AttemptKey, u32>>);

#[async_trait]
impl AttemptLimiter for TenPerUser {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        let mut used = self.0.lock().unwrap();
        let count = used.entry(key.clone()).or_default();
        if *count >= 10 {
            return Err(RateLimited { retry_after: Duration::from_millis(5_500) });
        }
        *count += 1;
        Ok(())
    }
}

#[actix_web::test]
async fn a_chat_past_the_group_size_is_400_naming_the_limit() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    // The size is checked before anyone is looked up: 100 others and the creator make 101.
    let others: Vec<String> = (0..100).map(|n| format!("{n:024x}")).collect();
    let reply = app.post("/api/chats", Some(&alice.token), json!({ "participants": others })).await;
    assert_eq!(reply.assert_error(400), "a chat has at most 100 participants");
    // 99 others and the creator are 100: past the size check, on to the unknown users.
    let reply = app.post("/api/chats", Some(&alice.token), json!({ "participants": others[..99] })).await;
    assert_eq!(reply.assert_error(404), "participant not found");
}

#[actix_web::test]
async fn the_eleventh_new_chat_in_a_minute_is_429_with_retry_after_and_a_direct_chat_again_is_not() {
    let limiter = Arc::new(TenPerUser::default());
    let app = spawn_app_with(Options { chat_limiter: Some(limiter.clone()), ..Options::default() }).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id]})).await.assert_status(201);
    for _ in 0..9 {
        let reply = app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id, carol.id]})).await;
        reply.assert_status(201);
    }
    // Returning the 1:1 chat again is not a creation: it is still answered.
    let again = app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id]})).await;
    again.assert_status(200);
    let reply = app.post("/api/chats", Some(&alice.token), json!({"participants": [bob.id, carol.id]})).await;
    assert_eq!(reply.assert_error(429), "too many attempts, try again later");
    assert_eq!(reply.headers.get("retry-after").unwrap(), "6");
    let reply = app.post("/api/chats", Some(&alice.token), json!({"participants": [carol.id]})).await;
    reply.assert_error(429);
    // Budgets are per creator.
    app.post("/api/chats", Some(&bob.token), json!({"participants": [carol.id]})).await.assert_status(201);
    let asked: Vec<AttemptKey> = limiter.0.lock().unwrap().keys().cloned().collect();
    assert!(asked.iter().all(|k| matches!(k, AttemptKey::ChatCreate(_))), "{asked:?}");
}

#[actix_web::test]
async fn the_chat_list_pages_with_limit_and_before() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let carol = app.register("carol").await;
    let mut created = Vec::new();
    for others in [vec![&bob], vec![&carol], vec![&bob, &carol]] {
        created.push(app.chat(&alice, &others).await);
    }
    let bob_carol = app.chat(&bob, &[&carol]).await;
    let ids = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.assert_status(200).as_array().unwrap().iter().map(|c| c["_id"].as_str().unwrap().to_owned()).collect()
    };
    let all = ids(&app.get("/api/chats", Some(&alice.token)).await);
    assert_eq!(all.len(), 3);
    let mut paged = Vec::new();
    let mut path = "/api/chats?limit=2".to_owned();
    loop {
        let page = ids(&app.get(&path, Some(&alice.token)).await);
        assert!(page.len() <= 2);
        let Some(last) = page.last().cloned() else { break };
        paged.extend(page);
        path = format!("/api/chats?limit=2&before={last}");
    }
    assert_eq!(paged, all, "pages cover the list once, in its order");
    let mut sorted = all.clone();
    sorted.sort();
    created.sort();
    assert_eq!(sorted, created);

    for (query, message) in [
        ("limit=0", "limit must be between 1 and 100"),
        ("limit=101", "limit must be between 1 and 100"),
        ("limit=ten", "limit must be an integer"),
        ("before=nope", "before must be a mongodb id"),
    ] {
        let reply = app.get(&format!("/api/chats?{query}"), Some(&alice.token)).await;
        assert_eq!(reply.assert_error(400), message, "{query}");
    }
    for before in [bob_carol.as_str(), NO_SUCH_ID] {
        let reply = app.get(&format!("/api/chats?before={before}"), Some(&alice.token)).await;
        assert_eq!(reply.assert_error(400), "before must be one of your chats");
    }
}

#[actix_web::test]
async fn the_chat_list_refuses_unknown_query_parameters() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    app.chat(&alice, &[&bob]).await;
    // `skip` pages history, not the chat list: silently ignoring it would serve page one again.
    for query in ["skip=1", "limit=2&offset=1", "page=2"] {
        let reply = app.get(&format!("/api/chats?{query}"), Some(&alice.token)).await;
        assert!(reply.assert_error(400).starts_with("unknown field `"), "{query}");
    }
    let reply = app.get("/api/chats?limit=1", Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200).as_array().unwrap().len(), 1);
}
