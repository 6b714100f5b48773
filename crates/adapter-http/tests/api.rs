//! Every route of the HTTP adapter against the real services over the in-memory store: happy
//! paths, each error status and the NestJS error shape, and what the notifier hears.

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

use std::sync::Arc;
use std::time::Duration;

use actix_web::test::TestRequest;
use adapter_http::{Component, ComponentStatus, HealthCheck};
use chat_domain::error::StoreError;
use chat_domain::ports::MockUserRepository;
use chat_domain::DomainEvent;
use helpers::{spawn_app, spawn_app_with, BudgetLimiter, Options};
use serde_json::{json, Value};

const NO_SUCH_ID: &str = "0123456789abcdef01234567";

fn ids(messages: &Value) -> Vec<String> {
    messages.as_array().unwrap().iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect()
}

// ---- health, unknown routes, wrong methods -------------------------------------------------

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

// ---- register and login --------------------------------------------------------------------

#[actix_web::test]
async fn register_answers_201_with_token_and_user_without_secrets() {
    let app = spawn_app().await;
    let body = json!({"email": " Alice@Example.com ", "username": "alice", "password": "password-1"});
    let reply = app.post("/api/auth/register", None, body).await;
    let body = reply.assert_status(201);
    assert_eq!(reply.keys(""), ["accessToken", "user"]);
    assert_eq!(reply.keys("/user"), ["_id", "email", "username", "createdAt", "updatedAt"]);
    let user = body["user"].as_object().unwrap();
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["username"], "alice");
    let id = user["_id"].as_str().unwrap();
    assert!(id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    let created = user["createdAt"].as_str().unwrap();
    assert_eq!(created.len(), "2026-11-25T19:13:00.123Z".len(), "{created}");
    assert!(created.ends_with('Z') && created.as_bytes()[19] == b'.');
    assert!(!body.to_string().contains("password"));

    // The token it issued works.
    let me = app.get("/api/users/me", body["accessToken"].as_str()).await;
    assert_eq!(me.assert_status(200)["_id"], id);
}

#[actix_web::test]
async fn register_refuses_a_taken_email_with_409() {
    let app = spawn_app().await;
    app.register("alice").await;
    let body = json!({"email": "ALICE@example.com", "username": "other", "password": "password-2"});
    let reply = app.post("/api/auth/register", None, body).await;
    assert_eq!(reply.assert_error(409), "email already registered");
}

#[actix_web::test]
async fn register_validation_errors_are_400_with_the_domain_message() {
    let app = spawn_app().await;
    let cases = [
        (json!({"email": "nope", "username": "a", "password": "password-1"}), "email must be an email"),
        (
            json!({"email": "a@b.co", "username": "   ", "password": "password-1"}),
            "username must be 1 to 64 characters",
        ),
        (json!({"email": "a@b.co", "username": "a", "password": "12345"}), "password must be at least 6 characters"),
    ];
    for (body, message) in cases {
        let reply = app.post("/api/auth/register", None, body).await;
        assert_eq!(reply.assert_error(400), message);
    }
}

#[actix_web::test]
async fn bodies_with_unknown_or_mistyped_or_missing_fields_are_400() {
    let app = spawn_app().await;
    let cases = [
        json!({"email": "a@b.co", "username": "a", "password": "password-1", "role": "admin"}),
        json!({"email": 5, "username": "a", "password": "password-1"}),
        json!({"email": "a@b.co", "password": "password-1"}),
        json!(["a@b.co"]),
        json!(null),
    ];
    for body in cases {
        let reply = app.post("/api/auth/register", None, body.clone()).await;
        let message = reply.assert_error(400);
        assert!(!message.contains("line"), "{message}");
    }
    let reply = app
        .post("/api/auth/register", None, json!({"email": "a@b.co", "username": "a", "password": "password-1", "x": 1}))
        .await;
    assert!(reply.assert_error(400).starts_with("unknown field `x`"));
}

#[actix_web::test]
async fn malformed_json_and_wrong_content_types_are_400() {
    let app = spawn_app().await;
    let malformed = TestRequest::post()
        .uri("/api/auth/login")
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"email\": ");
    assert_eq!(app.call(malformed).await.assert_error(400), "body must be valid JSON");

    let empty = TestRequest::post().uri("/api/auth/login").insert_header(("content-type", "application/json"));
    assert_eq!(app.call(empty).await.assert_error(400), "body must be valid JSON");

    let text = TestRequest::post()
        .uri("/api/auth/login")
        .insert_header(("content-type", "text/plain"))
        .set_payload(r#"{"email":"a@b.co","password":"password-1"}"#);
    assert_eq!(app.call(text).await.assert_error(400), "content type must be application/json");

    let none = TestRequest::post().uri("/api/auth/login").set_payload(r#"{"email":"a@b.co","password":"password-1"}"#);
    app.call(none).await.assert_error(400);
}

#[actix_web::test]
async fn oversize_bodies_are_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(adapter_http::DEFAULT_JSON_LIMIT + 1);
    let reply = app.post("/api/auth/login", None, json!({"email": huge, "password": "password-1"})).await;
    assert_eq!(reply.assert_error(413), "request entity too large");

    // Also when the length is not announced up front.
    let app = spawn_app_with(Options { json_limit: Some(64), ..Options::default() }).await;
    let mut unannounced = TestRequest::post()
        .uri("/api/auth/login")
        .insert_header(("content-type", "application/json"))
        .set_payload(format!(r#"{{"email":"{}","password":"password-1"}}"#, "y".repeat(100)))
        .to_request();
    unannounced.headers_mut().remove("content-length");
    assert_eq!(app.call_raw(unannounced).await.assert_error(413), "request entity too large");
}

#[actix_web::test]
async fn a_longest_message_fits_the_body_limit_however_it_is_escaped() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let chat = app.chat(&alice, &[&bob]).await;
    // 10,000 emoji written as \uD83D\uDE00 escapes: 120,000 bytes of JSON.
    let escaped = "\\ud83d\\ude00".repeat(10_000);
    let body = format!(r#"{{"chat":"{chat}","text":"{escaped}"}}"#);
    let request = TestRequest::post()
        .uri("/api/messages")
        .insert_header(("content-type", "application/json"))
        .insert_header(("authorization", format!("Bearer {}", alice.token)))
        .set_payload(body);
    let reply = app.call(request).await;
    assert_eq!(reply.assert_status(201)["text"].as_str().unwrap().chars().count(), 10_000);
}

#[actix_web::test]
async fn login_answers_200_and_refuses_bad_credentials_with_401() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let reply =
        app.post("/api/auth/login", None, json!({"email": "ALICE@example.com", "password": "password-1"})).await;
    let body = reply.assert_status(200);
    assert_eq!(body["user"]["_id"], alice.id.as_str());
    assert!(body["accessToken"].is_string());

    for body in [
        json!({"email": "alice@example.com", "password": "wrong-password"}),
        json!({"email": "nobody@example.com", "password": "password-1"}),
        json!({"email": "not-an-email", "password": "password-1"}),
    ] {
        let reply = app.post("/api/auth/login", None, body).await;
        assert_eq!(reply.assert_error(401), "invalid credentials");
    }
}

// ---- authentication ------------------------------------------------------------------------

#[actix_web::test]
async fn authenticated_routes_refuse_missing_or_bad_tokens_with_401() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let routes = [
        TestRequest::get().uri("/api/users/me"),
        TestRequest::get().uri("/api/users?search=a"),
        TestRequest::get().uri("/api/chats"),
        TestRequest::post().uri("/api/chats").set_json(json!({"participants": []})),
        TestRequest::get().uri(&format!("/api/chats/{NO_SUCH_ID}")),
        TestRequest::get().uri(&format!("/api/chats/{NO_SUCH_ID}/messages")),
        TestRequest::get().uri(&format!("/api/messages/chats/{NO_SUCH_ID}")),
        TestRequest::post().uri("/api/messages").set_json(json!({"chat": NO_SUCH_ID, "text": "hi"})),
        TestRequest::delete().uri(&format!("/api/messages/{NO_SUCH_ID}")),
    ];
    let bad_headers = [
        None,
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some("Bearer forged".to_owned()),
        Some(format!("Basic {}", alice.token)),
        Some(alice.token.clone()),
    ];
    for route in routes {
        let request = route.to_request();
        for header in &bad_headers {
            let mut again = TestRequest::default().method(request.method().clone()).uri(&request.uri().to_string());
            if let Some(header) = header {
                again = again.insert_header(("authorization", header.as_str()));
            }
            let reply = app.call(again).await;
            assert_eq!(reply.assert_error(401), "unauthorized", "{} {header:?}", request.uri());
        }
    }
}

#[actix_web::test]
async fn the_token_is_checked_before_the_body() {
    let app = spawn_app().await;
    let request = TestRequest::post()
        .uri("/api/messages")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    app.call(request).await.assert_error(401);
}

#[actix_web::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let request =
        TestRequest::get().uri("/api/users/me").insert_header(("authorization", format!("bearer {}", alice.token)));
    app.call(request).await.assert_status(200);
}

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

#[actix_web::test]
async fn search_finds_others_by_username_or_email_ignoring_case() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    app.register("albert").await;
    app.register("bob").await;

    let names = |body: &Value| -> Vec<String> {
        body.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    let reply = app.get("/api/users?search=AL", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["albert"]);
    let reply = app.get("/api/users?search=example.com", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["albert", "bob"]);
    let reply = app.get("/api/users", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["albert", "bob"]);
    let reply = app.get("/api/users?search=zzz", Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]));
    let reply = app.get("/api/users?search=bob", Some(&alice.token)).await;
    assert_eq!(reply.keys("/0"), ["_id", "email", "username", "createdAt", "updatedAt"]);
}

#[actix_web::test]
async fn search_refuses_unknown_parameters_and_long_needles() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let reply = app.get("/api/users?q=al", Some(&alice.token)).await;
    assert!(reply.assert_error(400).starts_with("unknown field `q`"));
    let long = "a".repeat(101);
    let reply = app.get(&format!("/api/users?search={long}"), Some(&alice.token)).await;
    assert_eq!(reply.assert_error(400), "search must be at most 100 characters");
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
        ["_id", "name", "isGroup", "participants", "createdBy", "lastMessage", "createdAt", "updatedAt"]
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
        ["_id", "sender", "chat", "text", "type", "status", "isDeleted", "createdAt", "updatedAt", "seq"]
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
            DomainEvent::MessageCreated(m) => Some(m.id.to_string()),
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

    let created = app.notifier.events().into_iter().filter(|e| matches!(e, DomainEvent::MessageCreated(_))).count();
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
    assert!(!app.notifier.events().iter().any(|e| matches!(e, DomainEvent::MessageCreated(_))));
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
    let DomainEvent::MessageDeleted { chat: in_chat, message, seq } = &deleted[0] else { unreachable!() };
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

// ---- store failures ------------------------------------------------------------------------

#[actix_web::test]
async fn store_failures_answer_503_and_500_without_detail() {
    let mut users = MockUserRepository::new();
    users.expect_user_by_id().returning(|_| Err(StoreError::unavailable("connection refused: db.internal:27017")));
    users.expect_search_users().returning(|_, _, _| Err(StoreError::other("SQL error near SELECT * FROM users")));
    let app = spawn_app_with(Options { users: Some(Arc::new(users)), ..Options::default() }).await;
    let token = format!("token-{NO_SUCH_ID}");

    let reply = app.get("/api/users/me", Some(&token)).await;
    assert_eq!(reply.assert_error(503), "service unavailable");
    assert!(!reply.body.to_string().contains("db.internal"));

    let reply = app.get("/api/users?search=a", Some(&token)).await;
    assert_eq!(reply.assert_error(500), "internal server error");
    assert!(!reply.body.to_string().contains("SQL"));
}
