//! Guards of registration and login at the HTTP edge: 429 with `Retry-After` per email and per
//! client address, refusals that cost no hashing, the new-password minimum, and where the
//! client address comes from.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::test::TestRequest;
use adapter_http::{ClientAddress, TOO_MANY_ATTEMPTS};
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::fakes::InMemoryStore;
use chat_domain::ports::{AttemptKey, AttemptLimiter, PasswordHasher, RateLimited, UserRepository};
use chat_domain::{Clock, Email, Password, PasswordHash, SystemClock, User, UserId, Username};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, FakeHasher, Options};

/// The wait the test limiter answers with: 1.5 s, which `Retry-After` rounds up to 2.
const WAIT: Duration = Duration::from_millis(1_500);

/// Allows `per_email` attempts per email and `per_address` per address, then refuses with
/// [`WAIT`]; remembers every key it was asked about.
struct Budgets {
    per_email: u32,
    per_address: u32,
    used: Mutex<HashMap<AttemptKey, u32>>,
    asked: Mutex<Vec<AttemptKey>>,
}

impl Budgets {
    fn new(per_email: u32, per_address: u32) -> Arc<Self> {
        Arc::new(Self { per_email, per_address, used: Mutex::default(), asked: Mutex::default() })
    }
}

#[async_trait]
impl AttemptLimiter for Budgets {
    async fn acquire(&self, key: &AttemptKey) -> Result<(), RateLimited> {
        self.asked.lock().unwrap().push(key.clone());
        let budget = match key {
            AttemptKey::Email(_) => self.per_email,
            AttemptKey::Address(_) => self.per_address,
            // Searches and chat creations have budgets of their own, tested with their routes.
            AttemptKey::Search(_) | AttemptKey::ChatCreate(_) => u32::MAX,
        };
        let mut used = self.used.lock().unwrap();
        let count = used.entry(key.clone()).or_default();
        if *count >= budget {
            return Err(RateLimited { retry_after: WAIT });
        }
        *count += 1;
        Ok(())
    }
}

/// [`FakeHasher`], counting every hash and verification.
#[derive(Default)]
struct CountingHasher(AtomicUsize);

impl CountingHasher {
    fn calls(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl PasswordHasher for CountingHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        FakeHasher.hash(password).await
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst);
        FakeHasher.verify(password, hash).await
    }
}

fn peer(last: u8) -> SocketAddr {
    SocketAddr::from(([203, 0, 113, last], 40_000))
}

fn from(peer: SocketAddr, path: &str, body: Value) -> TestRequest {
    TestRequest::post().uri(path).peer_addr(peer).set_json(body)
}

fn register(name: &str) -> Value {
    json!({"email": format!("{name}@example.com"), "username": name, "password": "password-1"})
}

fn login(name: &str) -> Value {
    json!({"email": format!("{name}@example.com"), "password": "wrong-password"})
}

#[track_caller]
fn assert_too_many(reply: &crate::helpers::Reply) {
    assert_eq!(reply.assert_error(429), TOO_MANY_ATTEMPTS);
    assert_eq!(reply.headers.get("retry-after").unwrap(), "2");
}

#[actix_web::test]
async fn register_is_limited_per_email_before_any_hashing() {
    let (limiter, hasher) = (Budgets::new(2, 100), Arc::new(CountingHasher::default()));
    let app =
        spawn_app_with(Options { attempts: Some(limiter), hasher: Some(hasher.clone()), ..Options::default() }).await;
    app.call(from(peer(1), "/api/auth/register", register("alice"))).await.assert_status(201);
    let taken = app.call(from(peer(2), "/api/auth/register", register("alice"))).await;
    assert_eq!(taken.assert_error(409), "email already registered");
    assert_eq!(hasher.calls(), 1, "a taken email is found before hashing");
    assert_too_many(&app.call(from(peer(3), "/api/auth/register", register("alice"))).await);
    assert_eq!(hasher.calls(), 1, "a refusal costs no hashing");
    app.call(from(peer(3), "/api/auth/register", register("bob"))).await.assert_status(201);
}

#[actix_web::test]
async fn register_is_limited_per_address() {
    let (limiter, hasher) = (Budgets::new(100, 2), Arc::new(CountingHasher::default()));
    let app =
        spawn_app_with(Options { attempts: Some(limiter), hasher: Some(hasher.clone()), ..Options::default() }).await;
    for name in ["a", "b"] {
        app.call(from(peer(1), "/api/auth/register", register(name))).await.assert_status(201);
    }
    assert_too_many(&app.call(from(peer(1), "/api/auth/register", register("c"))).await);
    assert_eq!(hasher.calls(), 2);
    app.call(from(peer(2), "/api/auth/register", register("c"))).await.assert_status(201);
}

#[actix_web::test]
async fn login_is_limited_per_address_and_per_email_without_hashing_past_the_budget() {
    let (limiter, hasher) = (Budgets::new(3, 4), Arc::new(CountingHasher::default()));
    let app =
        spawn_app_with(Options { attempts: Some(limiter), hasher: Some(hasher.clone()), ..Options::default() }).await;
    // Four failed logins from one address, unknown emails all: each costs one hash operation.
    for name in ["a", "b", "c", "d"] {
        let reply = app.call(from(peer(1), "/api/auth/login", login(name))).await;
        assert_eq!(reply.assert_error(401), "invalid credentials");
    }
    assert_eq!(hasher.calls(), 4, "unknown emails cost one hash operation each");
    assert_too_many(&app.call(from(peer(1), "/api/auth/login", login("e"))).await);
    assert_eq!(hasher.calls(), 4, "the refusal costs none");

    // Per email, whatever the address.
    for last in 10..13 {
        app.call(from(peer(last), "/api/auth/login", login("zoe"))).await.assert_error(401);
    }
    assert_too_many(&app.call(from(peer(13), "/api/auth/login", login("zoe"))).await);
    assert_eq!(hasher.calls(), 7);
}

#[actix_web::test]
async fn new_passwords_need_eight_characters_and_older_short_ones_still_sign_in() {
    let store = Arc::new(InMemoryStore::new());
    let now = SystemClock.now();
    let legacy = User {
        id: UserId::generate(1),
        email: Email::parse("old@example.com").unwrap(),
        username: Username::parse("old").unwrap(),
        password_hash: PasswordHash("plain:abc123".into()),
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&legacy).await.unwrap();
    let hasher = Arc::new(CountingHasher::default());
    let options = Options { users: Some(store), hasher: Some(hasher.clone()), ..Options::default() };
    let app = spawn_app_with(options).await;
    let short = json!({"email": "new@example.com", "username": "new", "password": "1234567"});
    let reply = app.call(from(peer(1), "/api/auth/register", short)).await;
    assert_eq!(reply.assert_error(400), "password must be at least 8 characters");
    assert_eq!(hasher.calls(), 0, "refused before hashing");
    let old = json!({"email": "old@example.com", "password": "abc123"});
    app.call(from(peer(1), "/api/auth/login", old)).await.assert_status(200);
}

#[actix_web::test]
async fn the_client_address_is_the_peer_unless_the_proxy_is_trusted() {
    let forwarded = |peer_last: u8, header: &str| {
        from(peer(peer_last), "/api/auth/login", login("x")).insert_header(("X-Forwarded-For", header.to_owned()))
    };
    let address = |key: &AttemptKey| match key {
        AttemptKey::Address(ip) => Some(*ip),
        AttemptKey::Email(_) | AttemptKey::Search(_) | AttemptKey::ChatCreate(_) => None,
    };

    let limiter = Budgets::new(100, 100);
    let app = spawn_app_with(Options { attempts: Some(limiter.clone()), ..Options::default() }).await;
    app.call(forwarded(1, "198.51.100.1")).await.assert_error(401);
    let seen: Vec<_> = limiter.asked.lock().unwrap().iter().filter_map(address).collect();
    assert_eq!(seen, [IpAddr::from([203, 0, 113, 1])], "a header any client can write is ignored");

    let limiter = Budgets::new(100, 100);
    let options = Options {
        attempts: Some(limiter.clone()),
        client_address: Some(ClientAddress::LastForwardedFor),
        ..Options::default()
    };
    let app = spawn_app_with(options).await;
    app.call(forwarded(1, "10.9.9.9, 198.51.100.1")).await.assert_error(401);
    app.call(from(peer(2), "/api/auth/login", login("x"))).await.assert_error(401);
    let seen: Vec<_> = limiter.asked.lock().unwrap().iter().filter_map(address).collect();
    assert_eq!(
        seen,
        [IpAddr::from([198, 51, 100, 1]), IpAddr::from([203, 0, 113, 2])],
        "the proxy's entry, else the peer"
    );
}
