//! Receipts over HTTP: the read and delivered routes, the original's `updateStatus`, and what
//! chats and messages show of the markers.

use chat_domain::DomainEvent;
use serde_json::json;

use crate::helpers::{spawn_app, NO_SUCH_ID};

#[actix_web::test]
async fn reading_moves_the_ticks_and_the_badge() {
    let app = spawn_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let chat = app.chat(&alice, &[&bob]).await;
    for text in ["one", "two", "three"] {
        app.send(&alice, &chat, text).await;
    }

    let bobs = app.get(&format!("/api/chats/{chat}"), Some(&bob.token)).await;
    let body = bobs.assert_status(200);
    assert_eq!((body["lastSeq"].as_u64(), body["unreadCount"].as_u64()), (Some(3), Some(3)));
    assert_eq!(
        body["receipts"],
        json!([
            {"userId": alice.id, "deliveredSeq": 3, "readSeq": 3},
            {"userId": bob.id, "deliveredSeq": 0, "readSeq": 0},
        ])
    );
    assert_eq!(body["lastMessage"]["status"], "sent");

    let reply = app.post(&format!("/api/chats/{chat}/delivered"), Some(&bob.token), json!({"seq": 3})).await;
    assert_eq!(reply.assert_status(200), &json!({"chatId": chat, "deliveredSeq": 3}));
    let list = app.get("/api/chats", Some(&alice.token)).await;
    assert_eq!(list.assert_status(200)[0]["lastMessage"]["status"], "delivered");

    let reply = app.post(&format!("/api/chats/{chat}/read"), Some(&bob.token), json!({"seq": 2})).await;
    assert_eq!(reply.assert_status(200), &json!({"chatId": chat, "readSeq": 2, "unreadCount": 1}));
    let page = app.get(&format!("/api/chats/{chat}/messages"), Some(&alice.token)).await;
    let statuses: Vec<_> =
        page.assert_status(200)["messages"].as_array().unwrap().iter().map(|m| m["status"].clone()).collect();
    assert_eq!(statuses, [json!("read"), json!("read"), json!("delivered")]);

    // Never back: a lower seq leaves the marker where it is.
    let reply = app.post(&format!("/api/chats/{chat}/read"), Some(&bob.token), json!({"seq": 1})).await;
    assert_eq!(reply.assert_status(200), &json!({"chatId": chat, "readSeq": 2, "unreadCount": 1}));

    let events = app.notifier.events();
    assert!(events.iter().any(|e| matches!(e, DomainEvent::UnreadChanged { unread_count: 1, .. })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, DomainEvent::ReceiptUpdated { .. })), "{events:?}");
}

#[actix_web::test]
async fn receipt_routes_refuse_bad_input_and_strangers() {
    let app = spawn_app().await;
    let (alice, bob, eve) = (app.register("alice").await, app.register("bob").await, app.register("eve").await);
    let chat = app.chat(&alice, &[&bob]).await;
    app.send(&alice, &chat, "one").await;
    let read = format!("/api/chats/{chat}/read");

    for body in [json!({}), json!({"seq": -1}), json!({"seq": "2"}), json!({"seq": 1.5}), json!({"seq": 1, "x": 1})] {
        let reply = app.post(&read, Some(&bob.token), body.clone()).await;
        let message = reply.assert_error(400);
        assert!(message.contains("seq") || message.contains('x'), "{body}: {message}");
    }
    assert_eq!(app.post(&read, None, json!({"seq": 1})).await.assert_error(401), "unauthorized");
    app.post(&read, Some(&eve.token), json!({"seq": 1})).await.assert_error(403);
    app.post(&format!("/api/chats/{NO_SUCH_ID}/read"), Some(&bob.token), json!({"seq": 1})).await.assert_error(404);
    app.post("/api/chats/nope/delivered", Some(&bob.token), json!({"seq": 1})).await.assert_error(400);

    // Nothing moved for anyone.
    let body = app.get(&format!("/api/chats/{chat}"), Some(&bob.token)).await;
    assert_eq!(body.assert_status(200)["unreadCount"], 1);
}

#[actix_web::test]
async fn update_status_is_the_original_backends_receipt() {
    let app = spawn_app().await;
    let (alice, bob, eve) = (app.register("alice").await, app.register("bob").await, app.register("eve").await);
    let chat = app.chat(&alice, &[&bob]).await;
    let first = app.send(&alice, &chat, "one").await;
    let second = app.send(&alice, &chat, "two").await;
    let path = |m: &serde_json::Value| format!("/api/messages/{}/status", m["_id"].as_str().unwrap());

    let reply = app.patch(&path(&first), Some(&bob.token), json!({"status": "read"})).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));
    let reply = app.patch(&path(&second), Some(&bob.token), json!({"status": "delivered"})).await;
    reply.assert_status(200);
    let page = app.get(&format!("/api/chats/{chat}/messages"), Some(&alice.token)).await;
    let statuses: Vec<_> =
        page.assert_status(200)["messages"].as_array().unwrap().iter().map(|m| m["status"].clone()).collect();
    assert_eq!(statuses, [json!("read"), json!("delivered")]);

    app.patch(&path(&first), Some(&alice.token), json!({"status": "read"})).await.assert_error(400);
    app.patch(&path(&first), Some(&bob.token), json!({"status": "sent"})).await.assert_error(400);
    app.patch(&path(&first), Some(&bob.token), json!({"status": "seen"})).await.assert_error(400);
    app.patch(&path(&first), Some(&eve.token), json!({"status": "read"})).await.assert_error(403);
    let missing = format!("/api/messages/{NO_SUCH_ID}/status");
    app.patch(&missing, Some(&bob.token), json!({"status": "read"})).await.assert_error(404);
}

#[actix_web::test]
async fn a_seq_written_as_a_whole_float_is_a_whole_number() {
    let app = spawn_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let chat = app.chat(&alice, &[&bob]).await;
    for text in ["one", "two"] {
        app.send(&alice, &chat, text).await;
    }
    // JSON Schema's `integer` (the OpenAPI document's) admits 1.0, and so did the original's
    // `@IsInt()`; schemathesis found it refused.
    let reply = app.post(&format!("/api/chats/{chat}/delivered"), Some(&bob.token), json!({"seq": 2.0})).await;
    assert_eq!(reply.assert_status(200), &json!({"chatId": chat, "deliveredSeq": 2}));
    let reply = app.post(&format!("/api/chats/{chat}/read"), Some(&bob.token), json!({"seq": 1.0})).await;
    assert_eq!(reply.assert_status(200), &json!({"chatId": chat, "readSeq": 1, "unreadCount": 1}));
}
