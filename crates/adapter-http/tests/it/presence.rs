//! `GET /api/presence`: answers for the caller's contacts only, in the contract's shape, and
//! refuses a malformed list.

use std::sync::Arc;

use chat_domain::fakes::InMemoryStore;
use chat_domain::ports::{PresenceDirectory, UserRepository};
use chat_domain::presence::LocalPresenceDirectory;
use chat_domain::UserId;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Options, NO_SUCH_ID};

#[actix_web::test]
async fn answers_online_and_last_seen_for_contacts_only() {
    let users = Arc::new(InMemoryStore::new());
    let directory = Arc::new(LocalPresenceDirectory::default());
    let options = Options { users: Some(users.clone()), presence: Some(directory.clone()), ..Options::default() };
    let app = spawn_app_with(options).await;
    let [ann, bo, cy, stranger] =
        [app.register("ann").await, app.register("bo").await, app.register("cy").await, app.register("st").await];
    app.chat(&ann, &[&bo]).await;
    app.chat(&cy, &[&ann]).await;
    directory.hold(bo.id.parse::<UserId>().unwrap()).await.unwrap();
    let seen = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap();
    users.record_last_seen(cy.id.parse::<UserId>().unwrap(), seen).await.unwrap();

    let ids = [&stranger.id, &bo.id, &cy.id, &ann.id, &bo.id].map(|s| s.as_str()).join(",");
    let reply = app.get(&format!("/api/presence?userIds={ids}"), Some(&ann.token)).await;
    assert_eq!(
        reply.assert_status(200),
        &json!([
            {"userId": bo.id, "online": true, "lastSeenAt": null},
            {"userId": cy.id, "online": false, "lastSeenAt": "2026-11-25T19:13:00.123Z"},
        ]),
        "strangers and the caller are left out; a repeat is answered once"
    );

    let reply = app.get(&format!("/api/presence?userIds={}", bo.id), Some(&stranger.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]), "a stranger learns nothing");
    let reply = app.get(&format!("/api/presence?userIds={NO_SUCH_ID}"), Some(&ann.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]));
}

#[actix_web::test]
async fn a_malformed_list_is_a_bad_request() {
    let app = spawn_app().await;
    let ann = app.register("ann").await;
    let many = vec![NO_SUCH_ID; 101].join(",");
    let hundred = vec![NO_SUCH_ID; 100].join(",");
    for (query, needle) in [
        ("", "at least one"),
        ("?userIds=", "at least one"),
        ("?userIds=%20", "at least one"),
        ("?userIds=nope", "mongodb id"),
        (&format!("?userIds={NO_SUCH_ID},,{NO_SUCH_ID}"), "mongodb id"),
        (&format!("?userIds={many}"), "at most 100"),
        (&format!("?userIds={NO_SUCH_ID}&other=1"), "other"),
    ] {
        let reply = app.get(&format!("/api/presence{query}"), Some(&ann.token)).await;
        let message = reply.assert_error(400);
        assert!(message.contains(needle), "{query}: {message}");
    }
    let reply = app.get(&format!("/api/presence?userIds={hundred}"), Some(&ann.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]), "100 ids are within the bound");
    app.get(&format!("/api/presence?userIds={NO_SUCH_ID}"), None).await.assert_error(401);
}
