//! Test harness: the real services over the in-memory store, simple fakes for tokens, hashing
//! and rate limiting, a recording notifier, and a client for the actix test service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_http::Request;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use actix_web::App;
use adapter_http::{configure, ClientAddress, HealthCheck, HttpState};
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::fakes::InMemoryStore;
use chat_domain::ports::{
    AttemptLimiter, ChatRepository, MessageRepository, Notifier, PasswordHasher, RateLimited, RateLimiter, TokenClaims,
    TokenService, Unlimited, UserRepository,
};
use chat_domain::{
    Clock, DomainEvent, Password, PasswordHash, ServicePorts, Services, ServicesConfig, SystemClock, Timestamp, UserId,
};
use serde_json::Value;

/// A well-formed id that names nothing in any store.
pub const NO_SUCH_ID: &str = "0123456789abcdef01234567";

/// Tokens are `token-<userId>` at version 0 and `token-<userId>.<version>` after: enough to
/// tell callers and their logouts apart, nothing to verify.
pub struct FakeTokens;

impl TokenService for FakeTokens {
    fn issue(&self, user: UserId, version: u64, _issued_at: Timestamp) -> Result<String, StoreError> {
        Ok(match version {
            0 => format!("token-{user}"),
            _ => format!("token-{user}.{version}"),
        })
    }

    fn decode(&self, token: &str) -> Option<TokenClaims> {
        let rest = token.strip_prefix("token-")?;
        let (user, version) = rest.split_once('.').unwrap_or((rest, "0"));
        let expires_at = SystemClock.now() + chrono::TimeDelta::hours(1);
        Some(TokenClaims {
            user: user.parse().ok()?,
            issued_at: None,
            expires_at,
            not_before: None,
            version: version.parse().ok()?,
        })
    }
}

/// Stores passwords as `plain:<password>`; the real hasher is another crate's business.
pub struct FakeHasher;

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        Ok(PasswordHash(format!("plain:{}", password.expose())))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.0 == format!("plain:{}", password.expose())
    }
}

/// Starts at a fixed time and moves one millisecond per reading, so every event is strictly
/// later than the one before and orderings by time never tie.
pub struct SteppingClock {
    next: Mutex<Timestamp>,
}

impl Default for SteppingClock {
    fn default() -> Self {
        Self { next: Mutex::new(SystemClock.now()) }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        let mut next = self.next.lock().unwrap();
        let now = *next;
        *next = now + chrono::TimeDelta::milliseconds(1);
        now
    }
}

/// Remembers every event it is given.
#[derive(Default)]
pub struct RecordingNotifier {
    events: Mutex<Vec<DomainEvent>>,
}

impl RecordingNotifier {
    pub fn events(&self) -> Vec<DomainEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, event: DomainEvent) {
        self.events.lock().unwrap().push(event);
    }
}

/// Lets each user send `budget` messages, then refuses with `retry_after`.
pub struct BudgetLimiter {
    budget: u32,
    retry_after: Duration,
    used: Mutex<HashMap<UserId, u32>>,
}

impl BudgetLimiter {
    pub fn new(budget: u32, retry_after: Duration) -> Self {
        Self { budget, retry_after, used: Mutex::default() }
    }
}

#[async_trait]
impl RateLimiter for BudgetLimiter {
    async fn acquire(&self, user: UserId) -> Result<(), RateLimited> {
        let mut used = self.used.lock().unwrap();
        let count = used.entry(user).or_default();
        if *count >= self.budget {
            return Err(RateLimited { retry_after: self.retry_after });
        }
        *count += 1;
        Ok(())
    }
}

/// What a test may swap out; everything else is the in-memory store and the fakes above.
pub struct Options {
    pub limiter: Arc<dyn RateLimiter>,
    pub users: Option<Arc<dyn UserRepository>>,
    pub json_limit: Option<usize>,
    pub health: Option<Arc<dyn HealthCheck>>,
    /// Counts registration and login attempts; none counted without one.
    pub attempts: Option<Arc<dyn AttemptLimiter>>,
    /// Replaces [`FakeHasher`].
    pub hasher: Option<Arc<dyn PasswordHasher>>,
    pub client_address: Option<ClientAddress>,
    /// Counts chat creations; none counted without one.
    pub chat_limiter: Option<Arc<dyn AttemptLimiter>>,
    /// Replaces the node's own presence directory (a test holds users in it).
    pub presence: Option<Arc<dyn chat_domain::ports::PresenceDirectory>>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            limiter: Arc::new(Unlimited),
            users: None,
            json_limit: None,
            health: None,
            attempts: None,
            hasher: None,
            client_address: None,
            chat_limiter: None,
            presence: None,
        }
    }
}

pub struct TestApp<S> {
    service: S,
    pub notifier: Arc<RecordingNotifier>,
}

/// A user registered through the API.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub token: String,
}

/// A response, its body parsed as JSON (`Null` when empty) and as sent.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The keys of the object at `pointer` (a JSON pointer, `""` for the body), in the order
    /// they were sent; `Value` sorts them, so this reads the text again.
    pub fn keys(&self, pointer: &str) -> Vec<String> {
        let tree: Ordered = serde_json::from_str(&self.text).unwrap();
        let mut node = &tree;
        for step in pointer.split('/').skip(1) {
            node = match node {
                Ordered::Object(fields) => &fields.iter().find(|(k, _)| k == step).unwrap().1,
                Ordered::Array(items) => &items[step.parse::<usize>().unwrap()],
                Ordered::Other => panic!("{pointer} leads through a scalar"),
            };
        }
        match node {
            Ordered::Object(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
            _ => panic!("{pointer} is not an object"),
        }
    }

    /// Asserts the status and the NestJS error shape: exactly `statusCode`, `error` and
    /// `message`, in that order; returns the message.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.body);
        let object = self.body.as_object().unwrap_or_else(|| panic!("error body is not an object: {}", self.body));
        assert_eq!(object.len(), 3, "body: {}", self.body);
        assert_eq!(self.keys(""), ["statusCode", "error", "message"], "body: {}", self.text);
        assert_eq!(self.body["statusCode"], status);
        let reason = actix_web::http::StatusCode::from_u16(status).unwrap().canonical_reason().unwrap();
        assert_eq!(self.body["error"], reason);
        self.body["message"].as_str().expect("message is a string").to_owned()
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        &self.body
    }
}

pub async fn spawn_app() -> TestApp<impl Service<Request, Response = ServiceResponse, Error = actix_web::Error>> {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(
    options: Options,
) -> TestApp<impl Service<Request, Response = ServiceResponse, Error = actix_web::Error>> {
    let store = Arc::new(InMemoryStore::new());
    let notifier = Arc::new(RecordingNotifier::default());
    let users: Arc<dyn UserRepository> = options.users.unwrap_or_else(|| store.clone());
    let chats: Arc<dyn ChatRepository> = store.clone();
    let messages: Arc<dyn MessageRepository> = store.clone();
    let ports = ServicePorts {
        users,
        chats,
        messages,
        receipts: store,
        notifier: notifier.clone(),
        limiter: options.limiter,
        hasher: options.hasher.unwrap_or_else(|| Arc::new(FakeHasher)),
        tokens: Arc::new(FakeTokens),
        clock: Arc::new(SteppingClock::default()),
    };
    let mut services = Services::new(ports, ServicesConfig::default());
    if let Some(attempts) = options.attempts {
        services = services.with_attempt_limiter(attempts);
    }
    if let Some(chat_limiter) = options.chat_limiter {
        services = services.with_chat_limiter(chat_limiter);
    }
    if let Some(presence) = options.presence {
        services = services.with_presence_directory(presence);
    }
    let mut state = HttpState::new(services);
    if let Some(from) = options.client_address {
        state = state.with_client_address(from);
    }
    if let Some(limit) = options.json_limit {
        state = state.with_json_limit(limit);
    }
    if let Some(check) = options.health {
        state = state.with_health(check);
    }
    let service = test::init_service(App::new().configure(configure(state))).await;
    TestApp { service, notifier }
}

impl<S> TestApp<S>
where
    S: Service<Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    pub async fn call(&self, request: TestRequest) -> Reply {
        self.call_raw(request.to_request()).await
    }

    pub async fn call_raw(&self, request: Request) -> Reply {
        let response = test::call_service(&self.service, request).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Reply { status, headers, body, text }
    }

    /// `GET path` for a body that need not be JSON (`body` is `Null`; read `text`).
    pub async fn get_page(&self, path: &str) -> Reply {
        let response = test::call_service(&self.service, TestRequest::get().uri(path).to_request()).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = test::read_body(response).await;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Reply { status, headers, body: Value::Null, text }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(with_token(TestRequest::get().uri(path), token)).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(with_token(TestRequest::post().uri(path).set_json(body), token)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(with_token(TestRequest::patch().uri(path).set_json(body), token)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(with_token(TestRequest::delete().uri(path), token)).await
    }

    /// Registers `<name>@example.com` with username `name` and password `password-1`.
    pub async fn register(&self, name: &str) -> Account {
        let body =
            serde_json::json!({"email": format!("{name}@example.com"), "username": name, "password": "password-1"});
        let reply = self.post("/api/auth/register", None, body).await;
        let body = reply.assert_status(201);
        Account {
            id: body["user"]["_id"].as_str().unwrap().to_owned(),
            token: body["accessToken"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates a chat of `owner` and `others`, returning its id.
    pub async fn chat(&self, owner: &Account, others: &[&Account]) -> String {
        let ids: Vec<&str> = others.iter().map(|a| a.id.as_str()).collect();
        let reply = self.post("/api/chats", Some(&owner.token), serde_json::json!({ "participants": ids })).await;
        assert!(reply.status == 200 || reply.status == 201, "{reply:?}");
        reply.body["_id"].as_str().unwrap().to_owned()
    }

    /// Sends `text` to `chat` as `sender`, returning the message JSON.
    pub async fn send(&self, sender: &Account, chat: &str, text: &str) -> Value {
        let reply =
            self.post("/api/messages", Some(&sender.token), serde_json::json!({"chat": chat, "text": text})).await;
        reply.assert_status(201).clone()
    }
}

fn with_token(request: TestRequest, token: Option<&str>) -> TestRequest {
    match token {
        Some(token) => request.insert_header(("Authorization", format!("Bearer {token}"))),
        None => request,
    }
}

/// JSON read with the order of object keys kept.
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> serde::de::Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut fields = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Ordered>()? {
            fields.push((key, value));
        }
        Ok(Ordered::Object(fields))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Ordered>()? {
            items.push(item);
        }
        Ok(Ordered::Array(items))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
    fn visit_unit<E>(self) -> Result<Ordered, E> {
        Ok(Ordered::Other)
    }
}
