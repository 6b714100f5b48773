//! Health, unknown routes and wrong methods: `/health` and its components, 404 and 405 in the
//! NestJS error shape.

use std::sync::Arc;

use adapter_http::{Component, ComponentStatus, HealthCheck};
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Options};

#[actix_web::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let reply = app.get("/health", None).await;
    assert_eq!(reply.assert_status(200), &json!({"status": "ok"}));
}

/// A health check that reports whatever the test set.
struct FixedHealth(Vec<Component>);

#[async_trait::async_trait]
impl HealthCheck for FixedHealth {
    async fn check(&self) -> Vec<Component> {
        self.0.clone()
    }
}

fn component(name: &'static str, up: bool, essential: bool) -> Component {
    Component { name, status: ComponentStatus::up_if(up), essential }
}

#[actix_web::test]
async fn health_names_every_component_and_degrades_without_an_optional_one() {
    let health = |components| Options { health: Some(Arc::new(FixedHealth(components))), ..Options::default() };
    let app = spawn_app_with(health(vec![component("storage", true, true), component("redis", true, false)])).await;
    let reply = app.get("/health", None).await;
    assert_eq!(reply.assert_status(200), &json!({"status": "ok", "storage": "ok", "redis": "ok"}));
    assert_eq!(reply.headers.get("cache-control").unwrap(), "no-store");

    let app = spawn_app_with(health(vec![component("storage", true, true), component("redis", false, false)])).await;
    let reply = app.get("/health", None).await;
    assert_eq!(reply.assert_status(200), &json!({"status": "degraded", "storage": "ok", "redis": "down"}));

    let app = spawn_app_with(health(vec![component("storage", false, true), component("redis", true, false)])).await;
    let reply = app.get("/health", None).await;
    assert_eq!(reply.assert_status(503), &json!({"status": "down", "storage": "down", "redis": "ok"}));
}

#[actix_web::test]
async fn unknown_routes_answer_404_in_the_nestjs_shape() {
    let app = spawn_app().await;
    let reply = app.get("/api/nope?x=1", None).await;
    assert_eq!(reply.assert_error(404), "Cannot GET /api/nope");
    let reply = app.post("/nowhere", None, json!({})).await;
    assert_eq!(reply.assert_error(404), "Cannot POST /nowhere");
    // Trailing slashes are not normalised (docs/http.md).
    app.get("/api/chats/", None).await.assert_error(404);
}

#[actix_web::test]
async fn wrong_methods_answer_405_with_allow() {
    let app = spawn_app().await;
    let reply = app.delete("/api/chats", None).await;
    assert_eq!(reply.assert_error(405), "Cannot DELETE /api/chats");
    assert_eq!(reply.headers.get("allow").unwrap(), "GET, POST");
    let reply = app.get("/api/auth/login", None).await;
    reply.assert_error(405);
    assert_eq!(reply.headers.get("allow").unwrap(), "POST");
}

/// Words of ours (Rust types and serde's names for them) that must never reach a client.
const INTERNAL_WORDS: [&str; 12] =
    ["struct", "enum ", "Body", "Dto", "u64", "u32", "usize", "i64", "unit value", " map", "sequence", "line "];

#[actix_web::test]
async fn malformed_bodies_are_answered_in_the_wire_s_terms() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    let shapes = [
        json!(null),
        json!(42),
        json!("text"),
        json!([1, 2]),
        json!({}),
        json!({"email": null, "password": 5}),
        json!({"email": [], "username": {}, "password": true}),
        json!({"chat": chat, "text": 7}),
        json!({"chat": chat, "text": "hi", "type": 3}),
        json!({"chat": chat, "text": "hi", "clientId": []}),
        json!({"participants": "bob"}),
        json!({"participants": [1, 2]}),
        json!({"participants": [bob.id], "name": 5}),
    ];
    let routes = ["/api/auth/register", "/api/auth/login", "/api/messages", "/api/chats"];
    let mut checked = 0;
    for route in routes {
        for body in &shapes {
            let reply = app.post(route, Some(&alice.token), body.clone()).await;
            if reply.status == 400 {
                let message = reply.assert_error(400);
                for word in INTERNAL_WORDS {
                    assert!(!message.contains(word), "{route} {body}: {message:?} names {word:?}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} bodies were refused");
    // Query strings too.
    let reply = app.get(&format!("/api/chats/{chat}/messages?limit=lots"), Some(&alice.token)).await;
    let message = reply.assert_error(400);
    assert!(!INTERNAL_WORDS.iter().any(|w| message.contains(w)), "{message:?}");
}
