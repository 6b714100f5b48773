//! Unit tests of the services: behaviour through the in-memory fake store, failure injection
//! and "announced once / never" through mockall mocks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::error::{Error, StoreError};
use crate::event::{ChatEvent, DomainEvent};
use crate::fakes::InMemoryStore;
use crate::id::{ChatId, MessageId, UserId};
use crate::model::*;
use crate::ports::*;
use crate::text::Password;
use crate::time::{Clock, SystemClock, Timestamp};

#[path = "logout_tests.rs"]
mod logout;

/// Records every published event.
#[derive(Default)]
struct Recorder(Mutex<Vec<DomainEvent>>);

#[async_trait]
impl Notifier for Recorder {
    async fn publish(&self, event: DomainEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    fn take(&self) -> Vec<DomainEvent> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Hashes by prefixing, so tests stay fast; the real argon2 hasher is tested in its adapter.
struct PlainHasher;

#[async_trait]
impl PasswordHasher for PlainHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        Ok(PasswordHash(format!("plain:{}", password.expose())))
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.0 == format!("plain:{}", password.expose())
    }
}

/// Tokens are `t:<userId>:<iat seconds>:<version>`, alive for [`TOKEN_TTL_SECS`]; no signature.
struct IdTokens;

const TOKEN_TTL_SECS: i64 = 3_600;

impl TokenService for IdTokens {
    fn issue(&self, user: UserId, version: u64, issued_at: Timestamp) -> Result<String, StoreError> {
        Ok(format!("t:{user}:{}:{version}", issued_at.timestamp()))
    }
    fn decode(&self, token: &str) -> Option<TokenClaims> {
        let (user, rest) = token.strip_prefix("t:")?.split_once(':')?;
        let (iat, version) = rest.split_once(':').unwrap_or((rest, "0"));
        let issued_at = chrono::DateTime::from_timestamp(iat.parse().ok()?, 0)?;
        Some(TokenClaims {
            user: UserId::parse(user).ok()?,
            issued_at: Some(issued_at),
            expires_at: issued_at + chrono::TimeDelta::seconds(TOKEN_TTL_SECS),
            not_before: None,
            version: version.parse().ok()?,
        })
    }
}

/// A clock that only moves when a test moves it.
struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    fn advance(&self, by: chrono::TimeDelta) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// A clock that moves one millisecond forward on every reading.
struct SteppingClock(Mutex<Timestamp>);

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        let mut t = self.0.lock().unwrap();
        *t += chrono::Duration::milliseconds(1);
        *t
    }
}

#[path = "receipts_tests.rs"]
mod receipts;

#[path = "presence_tests.rs"]
mod presence;

struct World {
    services: Services,
    events: Arc<Recorder>,
}

fn ports_with(store: Arc<InMemoryStore>, notifier: Arc<dyn Notifier>, limiter: Arc<dyn RateLimiter>) -> Ports {
    Ports {
        users: store.clone(),
        chats: store.clone(),
        messages: store.clone(),
        receipts: store,
        notifier,
        limiter,
        hasher: Arc::new(PlainHasher),
        tokens: Arc::new(IdTokens),
        clock: Arc::new(SteppingClock(Mutex::new(SystemClock.now()))),
    }
}

fn world_with_limiter(limiter: Arc<dyn RateLimiter>) -> World {
    let events = Arc::new(Recorder::default());
    let ports = ports_with(Arc::new(InMemoryStore::new()), events.clone(), limiter);
    World { services: Services::new(ports, ServicesConfig { max_catch_up_events: 5, ..Default::default() }), events }
}

fn world() -> World {
    world_with_limiter(Arc::new(Unlimited))
}

impl World {
    async fn user(&self, name: &str) -> UserId {
        let s = self.services.auth.register(&format!("{name}@example.com"), name, "password").await.unwrap();
        s.user.id
    }

    async fn direct(&self, a: UserId, b: UserId) -> ChatId {
        self.services.chats.create(a, &[b], None).await.unwrap().0.chat.id
    }

    async fn send(&self, from: UserId, chat: ChatId, text: &str) -> Result<Message, Error> {
        self.services.messages.send(from, SendMessage { chat, text, kind: None, client_id: None }).await
    }
}

#[tokio::test]
async fn register_then_login_and_wrong_password() {
    let w = world();
    let s = w.services.auth.register(" Alice@Example.com ", "alice", "password").await.unwrap();
    assert_eq!(s.user.email.as_str(), "alice@example.com");
    assert_eq!(w.services.auth.authenticate(&s.access_token).await.unwrap().user, s.user.id);
    let again = w.services.auth.register("alice@example.com", "alice2", "password").await;
    assert!(matches!(again, Err(Error::Conflict(_))));
    assert!(w.services.auth.login("ALICE@example.com", "password").await.is_ok());
    assert_eq!(w.services.auth.login("alice@example.com", "wrong-one").await.unwrap_err(), Error::InvalidCredentials);
    assert_eq!(w.services.auth.login("nobody@example.com", "password").await.unwrap_err(), Error::InvalidCredentials);
    assert_eq!(w.services.auth.authenticate("garbage").await.unwrap_err(), Error::Unauthorized);
}

#[tokio::test]
async fn a_token_is_judged_on_the_domain_clock() {
    let start = chrono::DateTime::from_timestamp(1_795_633_980, 0).unwrap();
    let clock = Arc::new(ManualClock(Mutex::new(start)));
    let mut ports = ports_with(Arc::new(InMemoryStore::new()), Arc::new(NullNotifier), Arc::new(Unlimited));
    ports.clock = clock.clone();
    let services = Services::new(ports, ServicesConfig::default());
    let session = services.auth.register("a@example.com", "a", "password").await.unwrap();
    let claims = services.auth.authenticate(&session.access_token).await.unwrap();
    assert_eq!(services.auth.lifetime_left(&claims), Some(Duration::from_secs(TOKEN_TTL_SECS as u64)));

    clock.advance(chrono::TimeDelta::seconds(TOKEN_TTL_SECS) - chrono::TimeDelta::milliseconds(1));
    assert!(services.auth.authenticate(&session.access_token).await.is_ok(), "alive until its exp");
    assert_eq!(services.auth.lifetime_left(&claims), Some(Duration::from_millis(1)));
    clock.advance(chrono::TimeDelta::milliseconds(1));
    assert_eq!(
        services.auth.authenticate(&session.access_token).await.unwrap_err(),
        Error::Unauthorized,
        "dead at exp"
    );
    assert_eq!(services.auth.lifetime_left(&claims), None);

    // A token issued (by a node whose clock runs ahead) further in the future than the leeway.
    let leeway = chrono::TimeDelta::from_std(crate::credentials::CLOCK_SKEW_LEEWAY).unwrap();
    let ahead = IdTokens.issue(session.user.id, 0, clock.now() + leeway + chrono::TimeDelta::seconds(1)).unwrap();
    assert_eq!(services.auth.authenticate(&ahead).await.unwrap_err(), Error::Unauthorized, "not valid yet");
    let slightly_ahead = IdTokens.issue(session.user.id, 0, clock.now() + leeway).unwrap();
    assert!(services.auth.authenticate(&slightly_ahead).await.is_ok(), "within the leeway");
}

#[tokio::test]
async fn direct_chat_exists_once_and_is_announced_once() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    w.events.take();
    let (first, created) = w.services.chats.create(a, &[b], None).await.unwrap();
    assert!(created);
    assert_eq!(first.chat.participants, vec![a, b]);
    assert!(!first.chat.is_group);
    let (second, created) = w.services.chats.create(b, &[a, b], None).await.unwrap();
    assert!(!created);
    assert_eq!(second.chat.id, first.chat.id);
    let events = w.events.take();
    assert_eq!(events.len(), 1, "only the new chat is announced");
    assert!(matches!(&events[0], DomainEvent::ChatCreated(c) if c.id == first.chat.id));
}

#[tokio::test]
async fn chat_creation_rules() {
    let w = world();
    let (a, b, c) = (w.user("a").await, w.user("b").await, w.user("c").await);
    assert!(matches!(w.services.chats.create(a, &[], None).await, Err(Error::Invalid(_))));
    assert!(matches!(w.services.chats.create(a, &[a], None).await, Err(Error::Invalid(_))));
    let ghost = UserId::generate(1);
    assert!(matches!(w.services.chats.create(a, &[ghost], None).await, Err(Error::NotFound(_))));
    let (group, _) = w.services.chats.create(a, &[b, c], Some(" Team ")).await.unwrap();
    assert!(group.chat.is_group);
    assert_eq!(group.chat.name.as_ref().map(|n| n.as_str()), Some("Team"));
    let (group2, created) = w.services.chats.create(a, &[b, c], Some("Team")).await.unwrap();
    assert!(created && group2.chat.id != group.chat.id, "groups are not deduplicated");
}

#[tokio::test]
async fn only_participants_read_post_join_and_type() {
    let w = world();
    let (a, b, outsider) = (w.user("a").await, w.user("b").await, w.user("x").await);
    let chat = w.direct(a, b).await;
    w.events.take();
    assert!(matches!(w.services.chats.get(outsider, chat).await, Err(Error::Forbidden(_))));
    assert!(matches!(w.send(outsider, chat, "hi").await, Err(Error::Forbidden(_))));
    let page = w.services.messages.history(outsider, chat, PageCursor::Skip(0), PageLimit::default()).await;
    assert!(matches!(page, Err(Error::Forbidden(_))));
    assert!(matches!(w.services.messages.join(outsider, chat, None).await, Err(Error::Forbidden(_))));
    assert!(matches!(w.services.messages.typing(outsider, chat, true).await, Err(Error::Forbidden(_))));
    assert!(w.events.take().is_empty(), "nothing announced for refused actions");
    assert!(w.services.chats.get(a, chat).await.is_ok());
    let missing = ChatId::generate(1);
    assert!(matches!(w.services.chats.get(a, missing).await, Err(Error::NotFound(_))));
    w.services.messages.typing(a, chat, true).await.unwrap();
    assert_eq!(w.events.take(), vec![DomainEvent::Typing { chat, user: a, is_typing: true, members: None }]);
}

#[tokio::test]
async fn send_sanitizes_sequences_and_moves_last_message() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let m1 = w.send(a, chat, "<b>hi</b> & bye").await.unwrap();
    assert_eq!(m1.text.as_str(), "hi &amp; bye");
    assert_eq!((m1.seq, m1.kind, m1.status), (1, MessageKind::Text, MessageStatus::Sent));
    let m2 = w.send(b, chat, "second").await.unwrap();
    assert_eq!(m2.seq, 2);
    let view = w.services.chats.get(a, chat).await.unwrap();
    assert_eq!(view.last_message.as_ref().map(|m| m.id), Some(m2.id));
    assert!(matches!(w.send(a, chat, "<script>x</script>").await, Err(Error::Invalid(_))));
    let bad_type =
        w.services.messages.send(a, SendMessage { chat, text: "x", kind: Some("gif"), client_id: None }).await;
    assert!(matches!(bad_type, Err(Error::Invalid(_))));
    assert_eq!(w.services.chats.get(a, chat).await.unwrap().chat.last_seq, 2, "rejected sends change nothing");
}

#[tokio::test]
async fn a_client_id_retry_returns_the_stored_message_and_announces_nothing() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    w.events.take();
    let send = |text| SendMessage { chat, text, kind: None, client_id: Some("c-1") };
    let first = w.services.messages.send(a, send("hello")).await.unwrap();
    let retry = w.services.messages.send(a, send("hello again")).await.unwrap();
    assert_eq!(first, retry);
    assert_eq!(w.events.take().len(), 1);
    let other_sender = w.services.messages.send(b, send("mine")).await.unwrap();
    assert_ne!(other_sender.id, first.id, "clientId is unique per sender only");
}

#[tokio::test]
async fn the_rate_limit_applies_after_validation() {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_acquire().times(1).returning(|_| Err(RateLimited { retry_after: Duration::from_secs(7) }));
    let w = world_with_limiter(Arc::new(limiter));
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    // Invalid text is refused before the limiter is consulted (times(1) above would fail otherwise).
    assert!(matches!(w.send(a, chat, "   ").await, Err(Error::Invalid(_))));
    assert_eq!(w.send(a, chat, "hi").await.unwrap_err(), Error::RateLimited { retry_after: Duration::from_secs(7) });
}

#[tokio::test]
async fn a_client_id_retry_costs_no_budget_and_is_answered_when_the_budget_is_gone() {
    let mut limiter = MockRateLimiter::new();
    // One unit for the first send; the retries must not ask for more.
    limiter.expect_acquire().times(1).returning(|_| Ok(()));
    let w = world_with_limiter(Arc::new(limiter));
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let send = || SendMessage { chat, text: "hello", kind: None, client_id: Some("retry-1") };
    let first = w.services.messages.send(a, send()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(w.services.messages.send(a, send()).await.unwrap(), first);
    }
}

#[tokio::test]
async fn history_pages_newest_first_returned_oldest_first() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(w.send(a, chat, &format!("m{i}")).await.unwrap().id);
    }
    let limit = PageLimit::parse(Some(2)).unwrap();
    let page = w.services.messages.history(a, chat, PageCursor::Skip(0), limit).await.unwrap();
    assert_eq!(page.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[3], ids[4]]);
    assert!(page.has_more);
    let page = w.services.messages.history(a, chat, PageCursor::Before(ids[1]), limit).await.unwrap();
    assert_eq!(page.messages.iter().map(|m| m.id).collect::<Vec<_>>(), vec![ids[0]]);
    assert!(!page.has_more);
    let stranger = MessageId::generate(1);
    assert!(matches!(
        w.services.messages.history(a, chat, PageCursor::Before(stranger), limit).await,
        Err(Error::Invalid(_))
    ));
    assert!(PageLimit::parse(Some(0)).is_err() && PageLimit::parse(Some(101)).is_err());
}

#[tokio::test]
async fn only_the_sender_deletes_and_a_delete_takes_a_seq_once() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let m = w.send(a, chat, "oops").await.unwrap();
    w.events.take();
    assert!(matches!(w.services.messages.soft_delete(b, m.id).await, Err(Error::Forbidden(_))));
    w.services.messages.soft_delete(a, m.id).await.unwrap();
    assert_eq!(w.events.take(), vec![DomainEvent::MessageDeleted { chat, message: m.id, seq: 2, members: None }]);
    w.services.messages.soft_delete(a, m.id).await.unwrap();
    assert!(w.events.take().is_empty(), "a repeated delete announces nothing");
    let page = w.services.messages.history(a, chat, PageCursor::Skip(0), PageLimit::default()).await.unwrap();
    assert!(page.messages.is_empty());
    assert!(matches!(w.services.messages.soft_delete(a, MessageId::generate(1)).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn join_replays_missed_events_in_seq_order_up_to_the_bound() {
    let w = world();
    let (a, b) = (w.user("a").await, w.user("b").await);
    let chat = w.direct(a, b).await;
    let m1 = w.send(a, chat, "one").await.unwrap();
    let m2 = w.send(a, chat, "two").await.unwrap();
    w.services.messages.soft_delete(a, m1.id).await.unwrap();
    assert_eq!(w.services.messages.join(b, chat, None).await.unwrap(), JoinOutcome::Joined { last_seq: 3 });
    let JoinOutcome::Recovered { events, last_seq } = w.services.messages.join(b, chat, Some(1)).await.unwrap() else {
        panic!("expected recovery");
    };
    assert_eq!(last_seq, 3);
    assert_eq!(events.iter().map(ChatEvent::seq).collect::<Vec<_>>(), vec![2, 3]);
    assert!(matches!(&events[0], ChatEvent::MessageCreated(m) if m.id == m2.id));
    assert!(matches!(&events[1], ChatEvent::MessageDeleted { message, .. } if *message == m1.id));
    for i in 0..5 {
        w.send(a, chat, &format!("more {i}")).await.unwrap();
    }
    let far = w.services.messages.join(b, chat, Some(0)).await.unwrap();
    assert!(matches!(far, JoinOutcome::NotRecovered { reason: CatchUpRefusal::TooFarBehind, .. }));
    let ahead = w.services.messages.join(b, chat, Some(99)).await.unwrap();
    assert!(matches!(ahead, JoinOutcome::NotRecovered { reason: CatchUpRefusal::UnknownSeq, .. }));
}

#[tokio::test]
async fn a_store_failure_surfaces_as_unavailable_and_announces_nothing() {
    let store = Arc::new(InMemoryStore::new());
    let mut messages = MockMessageRepository::new();
    messages.expect_append_message().returning(|_| Err(StoreError::unavailable("connection refused")));
    let mut notifier = MockNotifier::new();
    notifier.expect_publish().withf(|e| matches!(e, DomainEvent::ChatCreated(_))).times(1).returning(|_| ());
    notifier.expect_publish().withf(|e| matches!(e, DomainEvent::MessageCreated { .. })).never();
    let mut ports = ports_with(store, Arc::new(notifier), Arc::new(Unlimited));
    ports.messages = Arc::new(messages);
    let services = Services::new(ports, ServicesConfig::default());
    let a = services.auth.register("a@example.com", "a", "password").await.unwrap().user.id;
    let b = services.auth.register("b@example.com", "b", "password").await.unwrap().user.id;
    let chat = services.chats.create(a, &[b], None).await.unwrap().0.chat.id;
    let err =
        services.messages.send(a, SendMessage { chat, text: "hi", kind: None, client_id: None }).await.unwrap_err();
    assert_eq!(err, Error::Unavailable);
}

#[tokio::test]
async fn a_hasher_failure_is_internal_and_stores_no_user() {
    let store = Arc::new(InMemoryStore::new());
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Err(StoreError::other("boom")));
    let mut ports = ports_with(store.clone(), Arc::new(NullNotifier), Arc::new(Unlimited));
    ports.hasher = Arc::new(hasher);
    let services = Services::new(ports, ServicesConfig::default());
    assert_eq!(services.auth.register("a@example.com", "a", "password").await.unwrap_err(), Error::Internal);
    let email = crate::text::Email::parse("a@example.com").unwrap();
    assert!(store.user_by_email(&email).await.unwrap().is_none());
}

#[path = "groups_tests.rs"]
mod groups;

#[path = "membership_tests.rs"]
mod membership;
