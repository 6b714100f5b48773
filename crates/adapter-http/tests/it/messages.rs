//! Messages: sending (validation, sanitizing, clientId retries, the rate limit), history pages
//! on both routes, deleting, and store failures answered without detail.

use std::sync::Arc;
use std::time::Duration;

use chat_domain::error::StoreError;
use chat_domain::ports::MockUserRepository;
use chat_domain::DomainEvent;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, BudgetLimiter, Options, NO_SUCH_ID};

fn ids(messages: &Value) -> Vec<String> {
    messages.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

// ---- messages ------------------------------------------------------------------------------

#[actix_web::test]
async fn sending_answers_201_with_the_sanitized_message_and_announces_it() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;

    let body = json!({"chat": chat, "text": "<b>hi</b> & <script>x()</script>bye", "type": "image"});
    let reply = app.post("/api/messages", Some(&alice.token), body).await;
    let message = reply.assert_status(201).clone();
    assert_eq!(
        reply.keys(""),
        ["_id", "sender", "chat", "text", "type", "status", "isDeleted", "createdAt", "updatedAt", "seq", "editedAt"]
    );
    assert_eq!(message["text"], "hi &amp; bye");
    assert_eq!(message["type"], "image");
    assert_eq!(message["status"], "sent");
    assert_eq!(message["isDeleted"], false);
    assert_eq!(message["sender"], alice.id.as_str());
    assert_eq!(message["chat"], chat.as_str());
    assert_eq!(message["seq"], 1);

    let second = app.send(&bob, &chat, "yo").await;
    assert_eq!(second["seq"], 2);
    assert_eq!(second["type"], "text");

    let created: Vec<String> = app
        .notifier
        .events()
        .into_iter()
        .filter_map(|e| match e {
            DomainEvent::MessageCreated { message: m, .. } => Some(m.id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(created, [message["_id"].as_str().unwrap(), second["_id"].as_str().unwrap()]);
}

#[actix_web::test]
async fn a_repeated_client_id_returns_the_stored_message_with_201_and_announces_nothing() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;

    let body = json!({"chat": chat, "text": "once", "clientId": "c-1"});
    let first = app.post("/api/messages", Some(&alice.token), body.clone()).await;
    let first = first.assert_status(201).clone();
    assert_eq!(first["clientId"], "c-1");
    let retry =
        app.post("/api/messages", Some(&alice.token), json!({"chat": chat, "text": "twice?", "clientId": "c-1"})).await;
    assert_eq!(retry.assert_status(201), &first);

    let created = app.notifier.events().into_iter().filter(|e| matches!(e, DomainEvent::MessageCreated { .. })).count();
    assert_eq!(created, 1);
    let page = app.get(&format!("/api/chats/{chat}/messages"), Some(&bob.token)).await;
    assert_eq!(page.assert_status(200)["messages"].as_array().unwrap().len(), 1);

    // The same clientId from another sender is another message.
    let other = app.post("/api/messages", Some(&bob.token), body).await;
    assert_ne!(other.assert_status(201)["_id"], first["_id"]);
}

#[actix_web::test]
async fn sending_validates_its_input() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let cases = [
        (json!({"chat": chat, "text": "   "}), 400, Some("text must not be empty")),
        (json!({"chat": chat, "text": "<b></b>"}), 400, Some("text must not be empty")),
        (json!({"chat": chat, "text": "x".repeat(10_001)}), 400, Some("text must be at most 10000 characters")),
        (
            json!({"chat": chat, "text": "hi", "type": "video"}),
            400,
            Some("type must be one of text, image, file, voice"),
        ),
        (json!({"chat": chat, "text": "hi", "clientId": ""}), 400, Some("clientId must be 1 to 128 characters")),
        (json!({"chat": "nope", "text": "hi"}), 400, Some("chat must be a mongodb id")),
        (json!({"chat": chat, "text": 5}), 400, None),
        (json!({"chat": chat}), 400, Some("missing field `text`")),
        (json!({"chat": chat, "text": "hi", "sender": bob.id}), 400, None),
        (json!({"chat": NO_SUCH_ID, "text": "hi"}), 404, Some("chat not found")),
    ];
    for (body, status, message) in cases {
        let reply = app.post("/api/messages", Some(&alice.token), body.clone()).await;
        let got = reply.assert_error(status);
        if let Some(message) = message {
            assert_eq!(got, message, "{body}");
        }
    }
    // Exactly 10,000 characters is fine.
    let reply = app.post("/api/messages", Some(&alice.token), json!({"chat": chat, "text": "é".repeat(10_000)})).await;
    reply.assert_status(201);
}

#[actix_web::test]
async fn only_participants_may_send() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let reply = app.post("/api/messages", Some(&eve.token), json!({"chat": chat, "text": "let me in"})).await;
    assert_eq!(reply.assert_error(403), "you are not a participant of this chat");
    assert!(!app.notifier.events().iter().any(|e| matches!(e, DomainEvent::MessageCreated { .. })));
}

#[actix_web::test]
async fn sending_too_fast_is_429_with_retry_after_in_whole_seconds() {
    let limiter = Arc::new(BudgetLimiter::new(2, Duration::from_millis(1_500)));
    let app = spawn_app_with(Options { limiter, ..Options::default() }).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    app.send(&alice, &chat, "one").await;
    app.send(&alice, &chat, "two").await;
    let reply = app.post("/api/messages", Some(&alice.token), json!({"chat": chat, "text": "three"})).await;
    assert_eq!(reply.assert_error(429), "too many messages");
    assert_eq!(reply.headers.get("retry-after").unwrap(), "2");
    // The budget is per user.
    app.send(&bob, &chat, "bob is fine").await;
    // A rejected input costs no budget and is reported as such.
    let reply = app.post("/api/messages", Some(&bob.token), json!({"chat": chat, "text": ""})).await;
    reply.assert_error(400);
}

#[actix_web::test]
async fn history_pages_with_skip_before_and_has_more_on_both_routes() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let mut sent = Vec::new();
    for i in 1..=5 {
        sent.push(app.send(&alice, &chat, &format!("m{i}")).await);
    }

    for base in [format!("/api/chats/{chat}/messages"), format!("/api/messages/chats/{chat}")] {
        let all = app.get(&base, Some(&bob.token)).await;
        let body = all.assert_status(200);
        assert_eq!(all.keys(""), ["messages", "hasMore"]);
        assert_eq!(ids(&body["messages"]), ["m1", "m2", "m3", "m4", "m5"]);
        assert_eq!(body["hasMore"], false);
        assert_eq!(body["messages"][4], sent[4]);

        let newest = app.get(&format!("{base}?limit=2"), Some(&bob.token)).await;
        let body = newest.assert_status(200);
        assert_eq!(ids(&body["messages"]), ["m4", "m5"]);
        assert_eq!(body["hasMore"], true);

        let skipped = app.get(&format!("{base}?limit=2&skip=2"), Some(&bob.token)).await;
        let body = skipped.assert_status(200);
        assert_eq!(ids(&body["messages"]), ["m2", "m3"]);
        assert_eq!(body["hasMore"], true);

        let before = sent[1]["_id"].as_str().unwrap();
        let older = app.get(&format!("{base}?limit=2&before={before}"), Some(&bob.token)).await;
        let body = older.assert_status(200);
        assert_eq!(ids(&body["messages"]), ["m1"]);
        assert_eq!(body["hasMore"], false);

        let past_the_end = app.get(&format!("{base}?skip=10"), Some(&bob.token)).await;
        assert_eq!(past_the_end.assert_status(200), &json!({"messages": [], "hasMore": false}));
    }
}

#[actix_web::test]
async fn history_refuses_bad_queries_and_outsiders() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let eve = app.register("eve").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let other = app.chat(&alice, &[&eve]).await;
    let elsewhere = app.send(&alice, &other, "elsewhere").await;
    let elsewhere = elsewhere["_id"].as_str().unwrap();
    app.send(&alice, &chat, "here").await;

    let base = format!("/api/chats/{chat}/messages");
    let cases = [
        ("?limit=0", "limit must be between 1 and 100"),
        ("?limit=101", "limit must be between 1 and 100"),
        ("?limit=abc", "limit must be an integer"),
        ("?limit=2.5", "limit must be an integer"),
        ("?skip=-1", "skip must be a non-negative integer"),
        ("?skip=one", "skip must be a non-negative integer"),
        ("?before=xyz", "before must be a mongodb id"),
        ("?skip=0&before=0123456789abcdef01234567", "skip and before must not be combined"),
        ("?limit=1&limit=2", "duplicate field `limit`"),
    ];
    for (query, message) in cases {
        let reply = app.get(&format!("{base}{query}"), Some(&alice.token)).await;
        assert_eq!(reply.assert_error(400), message, "{query}");
    }
    let reply = app.get(&format!("{base}?page=2"), Some(&alice.token)).await;
    assert!(reply.assert_error(400).starts_with("unknown field `page`"));
    let reply = app.get(&format!("{base}?before={elsewhere}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_error(400), "before must name a message of this chat");

    let reply = app.get(&base, Some(&eve.token)).await;
    reply.assert_error(403);
    let reply = app.get(&format!("/api/messages/chats/{chat}"), Some(&eve.token)).await;
    reply.assert_error(403);
    let reply = app.get(&format!("/api/chats/{NO_SUCH_ID}/messages"), Some(&eve.token)).await;
    reply.assert_error(404);
    let reply = app.get("/api/messages/chats/bad", Some(&eve.token)).await;
    assert_eq!(reply.assert_error(400), "chatId must be a mongodb id");
}

#[actix_web::test]
async fn only_the_sender_deletes_and_deleted_messages_are_not_listed() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let keep = app.send(&alice, &chat, "keep").await;
    let gone = app.send(&alice, &chat, "gone").await;
    let gone_id = gone["_id"].as_str().unwrap();

    let reply = app.delete(&format!("/api/messages/{gone_id}"), Some(&bob.token)).await;
    assert_eq!(reply.assert_error(403), "only the sender may delete a message");

    let reply = app.delete(&format!("/api/messages/{gone_id}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));
    // Deleting again succeeds and changes nothing.
    let reply = app.delete(&format!("/api/messages/{gone_id}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));

    let deleted: Vec<DomainEvent> =
        app.notifier.events().into_iter().filter(|e| matches!(e, DomainEvent::MessageDeleted { .. })).collect();
    assert_eq!(deleted.len(), 1);
    let DomainEvent::MessageDeleted { chat: in_chat, message, seq, .. } = &deleted[0] else { unreachable!() };
    assert_eq!(message.to_string(), gone_id);
    assert_eq!(in_chat.to_string(), chat);
    assert_eq!(*seq, 3);

    let page = app.get(&format!("/api/chats/{chat}/messages"), Some(&bob.token)).await;
    assert_eq!(page.assert_status(200)["messages"], json!([keep]));

    let reply = app.delete(&format!("/api/messages/{NO_SUCH_ID}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_error(404), "message not found");
    let reply = app.delete("/api/messages/123", Some(&alice.token)).await;
    assert_eq!(reply.assert_error(400), "id must be a mongodb id");
}

#[actix_web::test]
async fn a_deleted_last_message_is_served_with_blank_text() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let gone = app.send(&alice, &chat, "a secret").await;
    let gone_id = gone["_id"].as_str().unwrap();
    let reply = app.delete(&format!("/api/messages/{gone_id}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));

    // The chat's lastMessage is still the deleted message, in place but without its text.
    let one = app.get(&format!("/api/chats/{chat}"), Some(&bob.token)).await;
    let last = &one.assert_status(200)["lastMessage"];
    assert_eq!((&last["_id"], &last["isDeleted"], &last["text"]), (&gone["_id"], &json!(true), &json!("")), "{last}");
    let list = app.get("/api/chats", Some(&bob.token)).await;
    let last = &list.assert_status(200)[0]["lastMessage"];
    assert_eq!((&last["_id"], &last["isDeleted"], &last["text"]), (&gone["_id"], &json!(true), &json!("")), "{last}");
    assert!(!list.body.to_string().contains("a secret"));
}

// ---- store failures ------------------------------------------------------------------------

#[actix_web::test]
async fn store_failures_answer_503_and_500_without_detail() {
    let mut users = MockUserRepository::new();
    users.expect_user_by_id().returning(|_| Err(StoreError::unavailable("connection refused: db.internal:27017")));
    users.expect_search_users().returning(|_, _, _, _| Err(StoreError::other("SQL error near SELECT * FROM users")));
    users.expect_token_version().returning(|_| Ok(Some(0)));
    let app = spawn_app_with(Options { users: Some(Arc::new(users)), ..Options::default() }).await;
    let token = format!("token-{NO_SUCH_ID}");

    let reply = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(reply.assert_error(503), "service unavailable");
    assert!(!reply.body.to_string().contains("db.internal"));

    let reply = app.get("/api/users?search=a", Some(&token)).await;
    assert_eq!(reply.assert_error(500), "internal server error");
    assert!(!reply.body.to_string().contains("SQL"));

    // The token check itself reads the store: when it cannot, 503, not 401.
    let mut users = MockUserRepository::new();
    users.expect_token_version().returning(|_| Err(StoreError::unavailable("connection refused: db.internal:27017")));
    let app = spawn_app_with(Options { users: Some(Arc::new(users)), ..Options::default() }).await;
    let reply = app.get("/api/chats", Some(&token)).await;
    assert_eq!(reply.assert_error(503), "service unavailable");
    assert!(!reply.body.to_string().contains("db.internal"));
}
