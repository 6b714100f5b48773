//! `GET /api/users?search=`: other users as `PublicUser` (never an email), by username in any
//! case or by their whole email, at most 20, and 429 past the caller's search budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapter_http::TOO_MANY_ATTEMPTS;
use async_trait::async_trait;
use chat_domain::ports::{AttemptKey, AttemptLimiter, RateLimited};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, Options};

fn names(body: &Value) -> Vec<String> {
    body.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
}

#[actix_web::test]
async fn search_finds_others_by_username_in_any_case_and_shows_no_email() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    app.register("albert").await;
    let bob = app.register("bob").await;

    let reply = app.get("/api/users?search=AL", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["albert"], "the caller is left out");
    let reply = app.get("/api/users", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["albert", "bob"]);
    let reply = app.get("/api/users?search=zzz", Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]));

    let reply = app.get("/api/users?search=bob", Some(&alice.token)).await;
    assert_eq!(reply.keys("/0"), ["_id", "username", "createdAt"]);
    assert_eq!(reply.body[0]["_id"], bob.id.as_str());
    assert!(!reply.text.contains("example.com"), "no email in search results: {}", reply.text);
}

#[actix_web::test]
async fn search_matches_a_whole_email_in_any_case_but_never_part_of_one() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    app.register("bob").await;

    for part in ["example.com", "bob%40", "%40example", "bob%40example"] {
        let reply = app.get(&format!("/api/users?search={part}"), Some(&alice.token)).await;
        assert_eq!(reply.assert_status(200), &json!([]), "{part} is part of an email");
    }
    let reply = app.get("/api/users?search=BOB%40Example.COM", Some(&alice.token)).await;
    assert_eq!(names(reply.assert_status(200)), ["bob"]);
    assert_eq!(reply.keys("/0"), ["_id", "username", "createdAt"]);
    let reply = app.get("/api/users?search=alice%40example.com", Some(&alice.token)).await;
    assert_eq!(reply.assert_status(200), &json!([]), "never the caller");
}

#[actix_web::test]
async fn search_returns_at_most_twenty_users() {
    let app = spawn_app().await;
    let me = app.register("me").await;
    for n in 0..25 {
        app.register(&format!("user{n:02}")).await;
    }
    let reply = app.get("/api/users?search=user", Some(&me.token)).await;
    let found = names(reply.assert_status(200));
    assert_eq!(found.len(), 20);
    assert_eq!(found[0], "user00");
    assert_eq!(found[19], "user19");
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

/// Allows `searches` searches per user, then refuses with 2.5 s; lets every other attempt by.
struct SearchBudget {
    searches: u32,
    used: Mutex<HashMap<AttemptKey, u32>>,
}

#[async_trait]
impl AttemptLimiter for SearchBudget {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        if !matches!(key, AttemptKey::Search(_)) {
            return Ok(());
        }
        let mut used = self.used.lock().unwrap();
        let count = used.entry(key.clone()).or_default();
        if *count >= self.searches {
            return Err(RateLimited { retry_after: Duration::from_millis(2_500) });
        }
        *count += 1;
        Ok(())
    }
}

#[actix_web::test]
async fn searches_past_the_budget_answer_429_with_retry_after_per_user() {
    let limiter = Arc::new(SearchBudget { searches: 3, used: Mutex::default() });
    let app = spawn_app_with(Options { attempts: Some(limiter), ..Options::default() }).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    for _ in 0..3 {
        app.get("/api/users?search=b", Some(&alice.token)).await.assert_status(200);
    }
    let reply = app.get("/api/users?search=b", Some(&alice.token)).await;
    assert_eq!(reply.assert_error(429), TOO_MANY_ATTEMPTS);
    assert_eq!(reply.headers.get("retry-after").unwrap(), "3");
    // Too long a needle is refused before it is counted, and the budget is the caller's own.
    let long = "a".repeat(101);
    app.get(&format!("/api/users?search={long}"), Some(&alice.token)).await.assert_error(400);
    app.get("/api/users?search=a", Some(&bob.token)).await.assert_status(200);
}
