//! Groups that change and message edits over HTTP: rename, add, remove, leave and edit, their
//! answers and error statuses, and what the notifier hears.

use chat_domain::{ChangeKind, DomainEvent};
use serde_json::json;

use crate::helpers::{spawn_app, NO_SUCH_ID};

#[actix_web::test]
async fn a_participant_renames_a_group_and_the_room_hears_it() {
    let app = spawn_app().await;
    let (a, b, c) = (app.register("alice").await, app.register("bob").await, app.register("carol").await);
    let chat = app.chat(&a, &[&b, &c]).await;
    let reply = app.patch(&format!("/api/chats/{chat}"), Some(&b.token), json!({"name": " <i>Team</i> "})).await;
    let body = reply.assert_status(200);
    assert_eq!(body["name"], "Team");
    assert_eq!(body["_id"], chat.as_str());
    let renamed = app.notifier.events().into_iter().find_map(|e| match e {
        DomainEvent::ChatUpdated { change, seq, .. } => Some((change.kind, seq)),
        _ => None,
    });
    assert_eq!(renamed, Some((ChangeKind::Renamed, 1)));

    let blank = app.patch(&format!("/api/chats/{chat}"), Some(&b.token), json!({"name": "  "})).await;
    assert_eq!(blank.assert_error(400), "name must not be empty");
    let outsider = app.register("dave").await;
    let reply = app.patch(&format!("/api/chats/{chat}"), Some(&outsider.token), json!({"name": "x"})).await;
    reply.assert_error(403);
    let reply = app.patch(&format!("/api/chats/{chat}"), None, json!({"name": "x"})).await;
    reply.assert_error(401);
    let reply = app.patch(&format!("/api/chats/{NO_SUCH_ID}"), Some(&a.token), json!({"name": "x"})).await;
    reply.assert_error(404);
    let reply = app.patch(&format!("/api/chats/{chat}"), Some(&a.token), json!({"name": "x", "extra": 1})).await;
    reply.assert_error(400);
}

#[actix_web::test]
async fn direct_chats_answer_400_to_every_change() {
    let app = spawn_app().await;
    let (a, b, c) = (app.register("alice").await, app.register("bob").await, app.register("carol").await);
    let chat = app.chat(&a, &[&b]).await;
    let reply = app.patch(&format!("/api/chats/{chat}"), Some(&a.token), json!({"name": "pair"})).await;
    assert_eq!(reply.assert_error(400), "only group chats can be changed");
    let reply = app.post(&format!("/api/chats/{chat}/participants"), Some(&a.token), json!({"userIds": [c.id]})).await;
    reply.assert_error(400);
    app.delete(&format!("/api/chats/{chat}/participants/me"), Some(&a.token)).await.assert_error(400);
}

#[actix_web::test]
async fn adding_returns_the_chat_and_announces_it_to_the_added() {
    let app = spawn_app().await;
    let (a, b, c) = (app.register("alice").await, app.register("bob").await, app.register("carol").await);
    let d = app.register("dave").await;
    let chat = app.chat(&a, &[&b, &c]).await;
    let path = format!("/api/chats/{chat}/participants");
    let reply = app.post(&path, Some(&c.token), json!({"userIds": [d.id, a.id]})).await;
    assert_eq!(reply.assert_status(200)["participants"], json!([a.id, b.id, c.id, d.id]));
    let announced = app
        .notifier
        .events()
        .into_iter()
        .filter(|e| matches!(e, DomainEvent::AddedToChat { .. } | DomainEvent::ChatUpdated { .. }))
        .count();
    assert_eq!(announced, 2, "chat:updated to the room and chat:created to the added");

    let bad = app.post(&path, Some(&c.token), json!({"userIds": ["nope"]})).await;
    assert_eq!(bad.assert_error(400), "each value in userIds must be a mongodb id");
    app.post(&path, Some(&c.token), json!({"userIds": [NO_SUCH_ID]})).await.assert_error(404);
    app.post(&path, Some(&c.token), json!({"userIds": []})).await.assert_error(400);
    app.post(&path, Some(&c.token), json!({})).await.assert_error(400);
}

#[actix_web::test]
async fn the_creator_removes_anyone_leaves_and_the_departed_is_refused() {
    let app = spawn_app().await;
    let (a, b, c) = (app.register("alice").await, app.register("bob").await, app.register("carol").await);
    let chat = app.chat(&a, &[&b, &c]).await;
    // Only the creator removes others.
    let reply = app.delete(&format!("/api/chats/{chat}/participants/{}", c.id), Some(&b.token)).await;
    reply.assert_error(403);
    let reply = app.delete(&format!("/api/chats/{chat}/participants/{}", c.id), Some(&a.token)).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));
    // The removed user no longer reads, sends or acts.
    app.get(&format!("/api/chats/{chat}"), Some(&c.token)).await.assert_error(403);
    app.get(&format!("/api/chats/{chat}/messages"), Some(&c.token)).await.assert_error(403);
    let reply = app.post("/api/messages", Some(&c.token), json!({"chat": chat, "text": "hi"})).await;
    reply.assert_error(403);
    // Leaving with `me` or one's own id.
    let reply = app.delete(&format!("/api/chats/{chat}/participants/me"), Some(&b.token)).await;
    reply.assert_status(200);
    let view = app.get(&format!("/api/chats/{chat}"), Some(&a.token)).await;
    assert_eq!(view.assert_status(200)["participants"], json!([a.id]));
    let reply = app.delete(&format!("/api/chats/{chat}/participants/{}", b.id), Some(&a.token)).await;
    reply.assert_error(404);
    app.delete(&format!("/api/chats/{chat}/participants/bad"), Some(&a.token)).await.assert_error(400);
}

#[actix_web::test]
async fn the_sender_edits_a_message_and_last_message_shows_it() {
    let app = spawn_app().await;
    let (a, b, c) = (app.register("alice").await, app.register("bob").await, app.register("carol").await);
    let chat = app.chat(&a, &[&b, &c]).await;
    let sent = app.send(&a, &chat, "helo").await;
    assert_eq!(sent["editedAt"], serde_json::Value::Null);
    let id = sent["_id"].as_str().unwrap();
    let reply = app.patch(&format!("/api/messages/{id}"), Some(&a.token), json!({"text": "<b>hello</b>"})).await;
    let edited = reply.assert_status(200);
    assert_eq!(edited["text"], "hello");
    assert_eq!(edited["seq"], sent["seq"]);
    assert!(edited["editedAt"].is_string());
    let view = app.get(&format!("/api/chats/{chat}"), Some(&b.token)).await;
    assert_eq!(view.assert_status(200)["lastMessage"]["text"], "hello");
    let updated = app.notifier.events().into_iter().find_map(|e| match e {
        DomainEvent::MessageUpdated { seq, .. } => Some(seq),
        _ => None,
    });
    assert_eq!(updated, Some(2), "the edit's own seq");

    app.patch(&format!("/api/messages/{id}"), Some(&b.token), json!({"text": "mine"})).await.assert_error(403);
    app.patch(&format!("/api/messages/{id}"), Some(&a.token), json!({"text": " "})).await.assert_error(400);
    let long = "x".repeat(10_001);
    app.patch(&format!("/api/messages/{id}"), Some(&a.token), json!({"text": long})).await.assert_error(400);
    app.patch(&format!("/api/messages/{NO_SUCH_ID}"), Some(&a.token), json!({"text": "x"})).await.assert_error(404);
    app.delete(&format!("/api/messages/{id}"), Some(&a.token)).await.assert_status(200);
    let reply = app.patch(&format!("/api/messages/{id}"), Some(&a.token), json!({"text": "again"})).await;
    assert_eq!(reply.assert_error(400), "a deleted message cannot be edited");
}
