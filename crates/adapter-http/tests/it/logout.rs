//! `POST /api/auth/logout` and the one token check: a logout revokes every token issued
//! before it, a login right after works, and a token naming no existing user is refused on
//! every authenticated route.

use chat_domain::{DomainEvent, UserId};
use serde_json::json;

use crate::helpers::{spawn_app, NO_SUCH_ID};

#[actix_web::test]
async fn logout_answers_success_and_revokes_every_earlier_token() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let login = json!({"email": "alice@example.com", "password": "password-1"});
    let second = app.post("/api/auth/login", None, login.clone()).await.assert_status(200)["accessToken"].clone();
    let second = second.as_str().unwrap().to_owned();

    let reply = app.post("/api/auth/logout", Some(&alice.token), json!({})).await;
    assert_eq!(reply.assert_status(200), &json!({"success": true}));
    let user: UserId = alice.id.parse().unwrap();
    assert!(app.notifier.events().contains(&DomainEvent::TokensRevoked { user }), "every node hears of it");

    for token in [&alice.token, &second] {
        assert_eq!(app.get("/api/users/me", Some(token)).await.assert_error(401), "unauthorized");
        assert_eq!(app.get("/api/chats", Some(token)).await.assert_error(401), "unauthorized");
        let again = app.post("/api/auth/logout", Some(token), json!({})).await;
        assert_eq!(again.assert_error(401), "unauthorized", "a revoked token cannot log out either");
    }
    // Other users are untouched.
    assert_eq!(app.get("/api/users/me", Some(&bob.token)).await.assert_status(200)["_id"], bob.id.as_str());

    // A login right after gets a working token.
    let fresh = app.post("/api/auth/login", None, login).await.assert_status(200)["accessToken"].clone();
    let me = app.get("/api/users/me", fresh.as_str()).await;
    assert_eq!(me.assert_status(200)["_id"], alice.id.as_str());
}

#[actix_web::test]
async fn logout_needs_a_token() {
    let app = spawn_app().await;
    assert_eq!(app.post("/api/auth/logout", None, json!({})).await.assert_error(401), "unauthorized");
    assert_eq!(app.get("/api/auth/logout", None).await.status, 405);
}

#[actix_web::test]
async fn a_valid_token_of_no_existing_user_is_refused_on_every_route() {
    let app = spawn_app().await;
    let ghost = format!("token-{NO_SUCH_ID}");
    for path in ["/api/users/me", "/api/chats", "/api/users?search=a"] {
        assert_eq!(app.get(path, Some(&ghost)).await.assert_error(401), "unauthorized", "{path}");
    }
    let reply = app.post("/api/chats", Some(&ghost), json!({"participants": []})).await;
    assert_eq!(reply.assert_error(401), "unauthorized");
}
