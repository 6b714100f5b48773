//! Register, login and authentication: the accounts' routes, request bodies the API refuses
//! (unknown fields, malformed JSON, oversize), and bearer tokens on every authenticated route.

use actix_web::test::TestRequest;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with, Options, NO_SUCH_ID};

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
        (json!({"email": "a@b.co", "username": "a", "password": "1234567"}), "password must be at least 8 characters"),
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

/// `{"email":"gz@example.com","username":"gzip","password":"password-123"}`, gzipped.
const GZIPPED_REGISTRATION: [u8; 78] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0xcd, 0x4d, 0xcc, 0xcc, 0x51, 0xb2,
    0x52, 0x4a, 0xaf, 0x72, 0x48, 0xad, 0x48, 0xcc, 0x2d, 0xc8, 0x49, 0xd5, 0x4b, 0xce, 0xcf, 0x55, 0xd2, 0x51, 0x2a,
    0x2d, 0x4e, 0x2d, 0xca, 0x4b, 0xcc, 0x4d, 0x05, 0xcb, 0x65, 0x16, 0x00, 0x45, 0x0a, 0x12, 0x8b, 0x8b, 0xcb, 0xf3,
    0x8b, 0x52, 0x80, 0x22, 0x30, 0xa6, 0xae, 0xa1, 0x91, 0xb1, 0x52, 0x2d, 0x00, 0xc2, 0xfc, 0x62, 0x21, 0x46, 0x00,
    0x00, 0x00,
];

#[actix_web::test]
async fn compressed_request_bodies_are_not_inflated() {
    // A decompressing server is one gzip bomb away from buffering gigabytes: kilobytes on the
    // wire inflate to whatever the attacker likes before any size check. No client of the
    // contract compresses request bodies, so a gzipped body is read as what it is: not JSON.
    let app = spawn_app().await;
    let request = TestRequest::post()
        .uri("/api/auth/register")
        .insert_header(("content-type", "application/json"))
        .insert_header(("content-encoding", "gzip"))
        .set_payload(GZIPPED_REGISTRATION.to_vec())
        .to_request();
    let reply = app.call_raw(request).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    let login = app.post("/api/auth/login", None, json!({"email": "gz@example.com", "password": "password-123"})).await;
    assert_eq!(login.status, 401, "no account was made from the gzipped body");
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
