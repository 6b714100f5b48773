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
