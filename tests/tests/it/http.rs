//! The HTTP API end to end, against the real `chat-server` binary: the README's curl
//! walkthrough, error shapes, the rate limit, CORS and configuration refusals.
//!
//! Each scenario is a function of a started server, run once per store: `embedded::<scenario>`
//! on the embedded store, `mongo::<scenario>` on a fresh database of the test binary's
//! SecantusDB (see `on_every_backend!`).

use e2e::{Backend, Launch, Server};
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;

/// One test per store for each `scenario` (an `async fn(&Server)` of this file), in modules
/// `embedded` and `mongo`. With `scenario with configure`, the server's [`Launch`] first goes
/// through `fn configure(Launch) -> Launch`, for scenarios that need settings.
macro_rules! on_every_backend {
    ($($scenario:ident $(with $configure:ident)?),+ $(,)?) => {
        on_every_backend!(@module embedded, Backend::Embedded, $($scenario $(with $configure)?),+);
        on_every_backend!(@module mongo, Backend::fresh_mongo().await, $($scenario $(with $configure)?),+);
    };
    (@module $module:ident, $backend:expr, $($scenario:ident $(with $configure:ident)?),+) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test]
                async fn $scenario() {
                    let dir = TempDir::new().unwrap();
                    let launch = Launch::new(dir.path()).backend(&$backend);
                    $(let launch = $configure(launch);)?
                    let server = launch.start().await;
                    super::$scenario(&server).await;
                }
            )+
        }
    };
}

on_every_backend! {
    the_curl_walkthrough_works,
    errors_have_the_nestjs_shape_and_the_right_status,
    sending_is_rate_limited_per_user_with_retry_after with three_messages_a_minute,
    browsers_on_other_origins_may_call_the_api,
    a_missing_secret_is_generated_with_a_warning with no_secret,
}

fn three_messages_a_minute(launch: Launch<'_>) -> Launch<'_> {
    launch.var("RATE_LIMIT_PER_MINUTE", Some("3"))
}

fn no_secret(launch: Launch<'_>) -> Launch<'_> {
    launch.var("JWT_SECRET", None)
}

fn texts(page: &Value) -> Vec<String> {
    let messages = page["messages"].as_array().unwrap_or_else(|| panic!("no messages in {page}"));
    messages.iter().map(|m| m["text"].as_str().unwrap_or_default().to_owned()).collect()
}

fn id(value: &Value) -> String {
    value["_id"].as_str().unwrap_or_else(|| panic!("no _id in {value}")).to_owned()
}

async fn the_curl_walkthrough_works(server: &Server) {
    // Register two users (201) and log in (200).
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let carol = server.register("carol").await;
    let login =
        server.post("/api/auth/login", None, &json!({"email": "alice@example.com", "password": "secret123"})).await;
    let login = login.ok(200);
    assert_eq!(login["user"]["_id"], alice.id.as_str());
    let token = login["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");

    let me = server.get("/api/users/me", Some(&token)).await;
    let me = me.ok(200);
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["username"], "alice");
    assert!(me.get("password").is_none() && me.get("passwordHash").is_none());

    let found = server.get("/api/users?search=bo", Some(&token)).await;
    let found = found.ok(200).as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["_id"], bob.id.as_str());

    // A 1:1 chat: 201, then 200 with the same chat.
    let created = server.post("/api/chats", Some(&token), &json!({"participants": [bob.id]})).await;
    let chat = id(created.ok(201));
    assert_eq!(created.body["participants"], json!([alice.id, bob.id]));
    assert_eq!(created.body["lastMessage"], Value::Null);
    let again = server.post("/api/chats", Some(&bob.token), &json!({"participants": [alice.id]})).await;
    assert_eq!(id(again.ok(200)), chat);
    let with_carol = server.chat(&alice, &[&carol]).await;

    // Post: HTML is stripped and the rest escaped.
    let body = json!({"chat": chat, "text": "<b>hello</b> bob & co", "clientId": "c-1"});
    let posted = server.post("/api/messages", Some(&token), &body).await;
    let first = posted.ok(201).clone();
    assert_eq!(first["text"], "hello bob &amp; co");
    assert_eq!(first["clientId"], "c-1");
    assert_eq!(first["seq"], 1);
    // A retry with the same clientId returns the stored message.
    let retried = server.post("/api/messages", Some(&token), &body).await;
    assert_eq!(retried.ok(201), &first);

    // Chats of the caller, most recently active first, with their last message.
    server.send_message(&carol, &with_carol, "hi alice").await;
    let listed = server.get("/api/chats", Some(&token)).await;
    let listed = listed.ok(200).as_array().unwrap().clone();
    assert_eq!(listed.iter().map(id).collect::<Vec<_>>(), [with_carol.clone(), chat.clone()]);
    assert_eq!(listed[0]["lastMessage"]["text"], "hi alice");
    assert_eq!(listed[1]["lastMessage"], first);
    let reply = server.send_message(&bob, &chat, "m2").await;
    assert_eq!(reply["seq"], 2);
    let listed = server.get("/api/chats", Some(&token)).await;
    assert_eq!(id(&listed.ok(200)[0]), chat);

    let one = server.get(&format!("/api/chats/{chat}"), Some(&bob.token)).await;
    assert_eq!(one.ok(200)["lastMessage"]["text"], "m2");

    // Page through history: skip, before, hasMore, and the alias route.
    for i in 3..=6 {
        server.send_message(&alice, &chat, &format!("m{i}")).await;
    }
    let base = format!("/api/chats/{chat}/messages");
    let page = server.get(&format!("{base}?limit=50"), Some(&token)).await;
    assert_eq!(texts(page.ok(200)), ["hello bob &amp; co", "m2", "m3", "m4", "m5", "m6"]);
    assert_eq!(page.body["hasMore"], false);
    let newest = server.get(&format!("{base}?limit=2"), Some(&token)).await;
    assert_eq!(texts(newest.ok(200)), ["m5", "m6"]);
    assert_eq!(newest.body["hasMore"], true);
    let skipped = server.get(&format!("{base}?limit=2&skip=2"), Some(&token)).await;
    assert_eq!(texts(skipped.ok(200)), ["m3", "m4"]);
    assert_eq!(skipped.body["hasMore"], true);
    let oldest_shown = id(&newest.body["messages"][0]);
    let before = server.get(&format!("{base}?limit=10&before={oldest_shown}"), Some(&token)).await;
    assert_eq!(texts(before.ok(200)), ["hello bob &amp; co", "m2", "m3", "m4"]);
    assert_eq!(before.body["hasMore"], false);
    let alias = server.get(&format!("/api/messages/chats/{chat}?limit=2&skip=2"), Some(&bob.token)).await;
    assert_eq!(alias.ok(200), &skipped.body);

    // Soft delete: sender only; then it is not listed.
    let m6 = id(&newest.body["messages"][1]);
    let refused = server.delete(&format!("/api/messages/{m6}"), Some(&bob.token)).await;
    assert_eq!(refused.error(403), "only the sender may delete a message");
    let deleted = server.delete(&format!("/api/messages/{m6}"), Some(&token)).await;
    assert_eq!(deleted.ok(200), &json!({"success": true}));
    let page = server.get(&base, Some(&token)).await;
    assert_eq!(texts(page.ok(200)), ["hello bob &amp; co", "m2", "m3", "m4", "m5"]);
    let after = server.send_message(&bob, &chat, "m7").await;
    // The delete took its own seq: six messages and one delete came before.
    assert_eq!(after["seq"], 8);
}

async fn errors_have_the_nestjs_shape_and_the_right_status(server: &Server) {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let eve = server.register("eve").await;
    let chat = server.chat(&alice, &[&bob]).await;

    assert_eq!(server.get("/api/users/me", None).await.error(401), "unauthorized");
    assert_eq!(server.get("/api/users/me", Some("not.a.jwt")).await.error(401), "unauthorized");
    // A token signed with another secret is refused too.
    let forged =
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1NjciLCJleHAiOjk5OTk5OTk5OTl9.c2lnbmF0dXJl";
    server.get("/api/chats", Some(forged)).await.error(401);

    let wrong =
        server.post("/api/auth/login", None, &json!({"email": "alice@example.com", "password": "nope-nope"})).await;
    assert_eq!(wrong.error(401), "invalid credentials");
    let taken = server
        .post(
            "/api/auth/register",
            None,
            &json!({"email": "alice@example.com", "username": "a2", "password": "secret123"}),
        )
        .await;
    assert_eq!(taken.error(409), "email already registered");
    let short = server
        .post("/api/auth/register", None, &json!({"email": "x@example.com", "username": "x", "password": "12345"}))
        .await;
    assert_eq!(short.error(400), "password must be at least 8 characters");

    let malformed = server
        .send(
            server
                .client()
                .post(server.url("/api/messages"))
                .bearer_auth(&alice.token)
                .header("content-type", "application/json")
                .body("{\"chat\": "),
        )
        .await;
    assert_eq!(malformed.error(400), "body must be valid JSON");
    let unknown_field =
        server.post("/api/messages", Some(&alice.token), &json!({"chat": chat, "text": "hi", "priority": 1})).await;
    assert!(unknown_field.error(400).starts_with("unknown field `priority`"));
    let bad_type =
        server.post("/api/messages", Some(&alice.token), &json!({"chat": chat, "text": "hi", "type": "gif"})).await;
    assert_eq!(bad_type.error(400), "type must be one of text, image, file, voice");
    let bad_id = server.get("/api/chats/123", Some(&alice.token)).await;
    assert_eq!(bad_id.error(400), "chatId must be a mongodb id");
    let bad_limit = server.get(&format!("/api/chats/{chat}/messages?limit=500"), Some(&alice.token)).await;
    assert_eq!(bad_limit.error(400), "limit must be between 1 and 100");

    let outsider = server.get(&format!("/api/chats/{chat}"), Some(&eve.token)).await;
    assert_eq!(outsider.error(403), "you are not a participant of this chat");
    let missing = server.get("/api/chats/0123456789abcdef01234567", Some(&alice.token)).await;
    assert_eq!(missing.error(404), "chat not found");
    let nowhere = server.get("/api/nowhere", None).await;
    assert_eq!(nowhere.error(404), "Cannot GET /api/nowhere");
    let method = server.call(Method::PUT, "/api/chats", Some(&alice.token), None).await;
    method.error(405);

    let huge = "x".repeat(200 * 1024);
    let oversize = server.post("/api/messages", Some(&alice.token), &json!({"chat": chat, "text": huge})).await;
    assert_eq!(oversize.error(413), "request entity too large");

    // Nothing above broke the server.
    server.get("/health", None).await.ok(200);
}

async fn sending_is_rate_limited_per_user_with_retry_after(server: &Server) {
    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let chat = server.chat(&alice, &[&bob]).await;
    for i in 0..3 {
        server.send_message(&alice, &chat, &format!("burst {i}")).await;
    }
    let limited =
        server.post("/api/messages", Some(&alice.token), &json!({"chat": chat, "text": "one too many"})).await;
    assert_eq!(limited.error(429), "too many messages");
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "a budget of 3 a minute refills one every 20 s: {retry_after}");
    // Bob has his own budget; the refused send was not stored.
    server.send_message(&bob, &chat, "bob still can").await;
    let page = server.get(&format!("/api/chats/{chat}/messages"), Some(&bob.token)).await;
    assert_eq!(texts(page.ok(200)), ["burst 0", "burst 1", "burst 2", "bob still can"]);
}

async fn browsers_on_other_origins_may_call_the_api(server: &Server) {
    let preflight = server
        .client()
        .request(Method::OPTIONS, server.url("/api/messages"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "http://localhost:3000");

    let reply =
        server.send(server.client().get(server.url("/api/users/me")).header("origin", "http://localhost:3000")).await;
    reply.error(401);
    assert_eq!(reply.headers["access-control-allow-origin"], "http://localhost:3000");
}

async fn a_missing_secret_is_generated_with_a_warning(server: &Server) {
    assert!(server.logs().contains("JWT_SECRET is not set"), "{}", server.logs());
    let alice = server.register("alice").await;
    server.get("/api/users/me", Some(&alice.token)).await.ok(200);
}

/// Refused before any store is opened, so one store is enough.
#[tokio::test]
async fn a_short_secret_is_refused_without_being_echoed() {
    let dir = TempDir::new().unwrap();
    let output = Launch::new(dir.path()).var("JWT_SECRET", Some("too-short")).command().output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWT_SECRET must be at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains("too-short"), "the secret is never echoed: {stderr}");
}
