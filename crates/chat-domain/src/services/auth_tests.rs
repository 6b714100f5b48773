//! Unit tests of the guards of registration and login: what is counted and when, what is
//! hashed and how often, with mockall mocks of the hasher and the attempt limiter.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockall::predicate::always;

use super::*;
use crate::fakes::InMemoryStore;
use crate::ports::{
    MockAttemptLimiter, MockPasswordHasher, MockTokenService, NullNotifier, PasswordHasher, RateLimited, Unlimited,
    UserRepository,
};
use crate::time::{Clock, SystemClock};

const ALICE: &str = "alice@example.com";
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

fn tokens() -> MockTokenService {
    let mut tokens = MockTokenService::new();
    tokens.expect_issue().returning(|user, _, _| Ok(format!("token-{user}")));
    tokens
}

fn services(
    store: Arc<InMemoryStore>,
    mut hasher: MockPasswordHasher,
    limiter: Option<MockAttemptLimiter>,
) -> Services {
    // These hashes are all of today's scheme (rehashing has tests of its own: rehash_tests.rs).
    hasher.expect_needs_rehash().return_const(false);
    let ports = Ports {
        users: store.clone(),
        chats: store.clone(),
        messages: store.clone(),
        receipts: store,
        notifier: Arc::new(NullNotifier),
        limiter: Arc::new(Unlimited),
        hasher: Arc::new(hasher),
        tokens: Arc::new(tokens()),
        clock: Arc::new(SystemClock),
    };
    let services = Services::new(ports, ServicesConfig::default());
    match limiter {
        Some(limiter) => services.with_attempt_limiter(Arc::new(limiter)),
        None => services,
    }
}

/// A store holding alice, whose password hash is `plain:<password>`.
async fn store_with_alice(password: &str) -> Arc<InMemoryStore> {
    let store = Arc::new(InMemoryStore::new());
    let now = SystemClock.now();
    let user = User {
        id: UserId::generate(id_seconds(now)),
        email: Email::parse(ALICE).unwrap(),
        username: Username::parse("alice").unwrap(),
        password_hash: PasswordHash(format!("plain:{password}")),
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&user).await.unwrap();
    store
}

/// A hasher mock that checks `plain:` hashes, counting nothing yet.
fn plain_verifier(hasher: &mut MockPasswordHasher, times: usize) {
    hasher
        .expect_try_verify()
        .times(times)
        .returning(|password, hash| Ok(hash.0 == format!("plain:{}", password.expose())));
}

#[tokio::test]
async fn register_with_a_taken_email_answers_conflict_without_hashing() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    let services = services(store_with_alice("password-1").await, hasher, None);
    let taken = services.auth.register_from(Some(CLIENT), " ALICE@example.com", "alice2", "password-2").await;
    assert_eq!(taken.unwrap_err(), Error::Conflict(EMAIL_TAKEN.into()));
}

#[tokio::test]
async fn login_with_an_unknown_email_does_one_verification_against_the_dummy() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|p| Ok(PasswordHash(format!("plain:{}", p.expose()))));
    let dummy = PasswordHash(format!("plain:{DUMMY_PASSWORD}"));
    hasher.expect_try_verify().withf(move |_, hash| *hash == dummy).times(1).returning(|_, _| Ok(false));
    let services = services(store_with_alice("password-1").await, hasher, None);
    services.auth.prepare().await.unwrap();
    services.auth.prepare().await.unwrap();
    let unknown = services.auth.login_from(Some(CLIENT), "nobody@example.com", "password-1").await;
    assert_eq!(unknown.unwrap_err(), Error::InvalidCredentials);
}

#[tokio::test]
async fn unknown_and_known_emails_cost_one_argon2_operation_each() {
    let mut hasher = MockPasswordHasher::new();
    // Without `prepare`, the first unknown email's login makes the dummy: one hash, no verify.
    hasher.expect_hash().times(1).returning(|p| Ok(PasswordHash(format!("plain:{}", p.expose()))));
    plain_verifier(&mut hasher, 3);
    let services = services(store_with_alice("password-1").await, hasher, None);
    for (email, password) in [
        ("nobody@example.com", "password-1"),
        ("nobody@example.com", "password-1"),
        (ALICE, "wrong-password"),
        ("someone@example.com", DUMMY_PASSWORD),
    ] {
        let refused = services.auth.login(email, password).await;
        assert_eq!(refused.unwrap_err(), Error::InvalidCredentials, "{email} {password}");
    }
}

#[tokio::test]
async fn new_passwords_need_eight_characters_and_older_short_ones_still_sign_in() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    plain_verifier(&mut hasher, 1);
    let services = services(store_with_alice("short6").await, hasher, None);
    let short = services.auth.register("bob@example.com", "bob", "1234567").await.unwrap_err();
    let expected = format!("password must be at least {} characters", crate::text::MIN_PASSWORD_CHARS);
    assert_eq!(short, Error::invalid(expected));
    assert_eq!(short, Error::invalid("password must be at least 8 characters"));
    let session = services.auth.login(ALICE, "short6").await.unwrap();
    assert_eq!(session.user.email.as_str(), ALICE);
}

#[tokio::test]
async fn attempts_are_counted_per_address_then_per_email_before_any_lookup_or_hash() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut limiter = MockAttemptLimiter::new();
    let record = seen.clone();
    limiter.expect_acquire().with(always()).returning(move |key| {
        record.lock().unwrap().push(key.clone());
        Ok(())
    });
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|p| Ok(PasswordHash(format!("plain:{}", p.expose()))));
    plain_verifier(&mut hasher, 1);
    let services = services(Arc::new(InMemoryStore::new()), hasher, Some(limiter));
    services.auth.register_from(Some(CLIENT), "Bob@Example.com", "bob", "password-1").await.unwrap();
    services.auth.login_from(None, "bob@example.com", "password-1").await.unwrap();
    let bob = AttemptKey::Email(Email::parse("bob@example.com").unwrap());
    assert_eq!(*seen.lock().unwrap(), vec![AttemptKey::Address(CLIENT), bob.clone(), bob]);
}

#[tokio::test]
async fn a_refused_attempt_is_rate_limited_with_its_wait_and_costs_no_hash() {
    let wait = Duration::from_millis(2_500);
    let mut limiter = MockAttemptLimiter::new();
    limiter.expect_acquire().returning(move |_| Err(RateLimited { retry_after: wait }));
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    hasher.expect_try_verify().never();
    hasher.expect_verify().never();
    let services = services(store_with_alice("password-1").await, hasher, Some(limiter));
    let expected = Error::RateLimited { retry_after: wait };
    let register = services.auth.register_from(Some(CLIENT), "bob@example.com", "bob", "password-1").await;
    assert_eq!(register.unwrap_err(), expected);
    assert_eq!(services.auth.login_from(Some(CLIENT), ALICE, "password-1").await.unwrap_err(), expected);
    assert_eq!(services.auth.login_from(Some(CLIENT), "x@example.com", "password-1").await.unwrap_err(), expected);
}

#[tokio::test]
async fn invalid_input_is_refused_before_it_is_counted() {
    let mut limiter = MockAttemptLimiter::new();
    limiter.expect_acquire().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    let services = services(Arc::new(InMemoryStore::new()), hasher, Some(limiter));
    assert!(matches!(services.auth.register("not-an-email", "bob", "password-1").await, Err(Error::Invalid(_))));
    assert_eq!(services.auth.login("not-an-email", "password-1").await.unwrap_err(), Error::InvalidCredentials);
    assert_eq!(services.auth.login(ALICE, "").await.unwrap_err(), Error::InvalidCredentials);
}

#[tokio::test]
async fn a_saturated_hasher_is_unavailable() {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Err(HashingBusy.into()));
    hasher.expect_try_verify().returning(|_, _| Err(HashingBusy.into()));
    let services = services(store_with_alice("password-1").await, hasher, None);
    let register = services.auth.register("bob@example.com", "bob", "password-1").await;
    assert_eq!(register.unwrap_err(), Error::Unavailable);
    assert_eq!(services.auth.login(ALICE, "password-1").await.unwrap_err(), Error::Unavailable);
    assert_eq!(services.auth.login("x@example.com", "password-1").await.unwrap_err(), Error::Unavailable);
}

#[test]
fn addresses_are_counted_by_ipv4_address_or_ipv6_network() {
    let v6: Ipv6Addr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
    let network: Ipv6Addr = "2001:db8:1:2::".parse().unwrap();
    assert_eq!(address_key(IpAddr::V6(v6)), IpAddr::V6(network));
    assert_eq!(address_key(CLIENT), CLIENT);
    let mapped: Ipv6Addr = "::ffff:203.0.113.7".parse().unwrap();
    assert_eq!(address_key(IpAddr::V6(mapped)), CLIENT);
}

/// The real default of `try_verify` defers to `verify`, so hashers that predate it keep working.
#[tokio::test]
async fn try_verify_defaults_to_verify() {
    struct Legacy;
    #[async_trait::async_trait]
    impl PasswordHasher for Legacy {
        async fn hash(&self, _: &Password) -> Result<PasswordHash, StoreError> {
            Ok(PasswordHash("h".into()))
        }
        async fn verify(&self, password: &Password, _: &PasswordHash) -> bool {
            password.expose() == "yes-yes-yes"
        }
    }
    let hash = PasswordHash("h".into());
    assert!(Legacy.try_verify(&Password::presented("yes-yes-yes").unwrap(), &hash).await.unwrap());
    assert!(!Legacy.try_verify(&Password::presented("no").unwrap(), &hash).await.unwrap());
}

/// Stores a user named `name` with the email `<name>@example.com`.
async fn add_user(store: &InMemoryStore, name: &str) -> User {
    let now = SystemClock.now();
    let user = User {
        id: UserId::generate(id_seconds(now)),
        email: Email::parse(&format!("{name}@example.com")).unwrap(),
        username: Username::parse(name).unwrap(),
        password_hash: PasswordHash("plain:unused".into()),
        created_at: now,
        updated_at: now,
    };
    store.insert_user(&user).await.unwrap();
    user
}

fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.username.as_str()).collect()
}

#[tokio::test]
async fn search_matches_usernames_in_any_case_and_emails_only_whole() {
    let store = Arc::new(InMemoryStore::new());
    let me = add_user(&store, "malia").await;
    add_user(&store, "Alan").await;
    add_user(&store, "bob").await;
    let services = services(store, MockPasswordHasher::new(), None);
    let found = services.auth.search(me.id, " AL ").await.unwrap();
    assert_eq!(usernames(&found), ["Alan"], "the caller matches too but is left out");
    assert!(services.auth.search(me.id, "example.com").await.unwrap().is_empty(), "no email substrings");
    assert!(services.auth.search(me.id, "bob@").await.unwrap().is_empty(), "no email prefixes");
    let found = services.auth.search(me.id, "BOB@Example.COM").await.unwrap();
    assert_eq!(usernames(&found), ["bob"], "a whole email matches in any case");
    assert!(services.auth.search(me.id, "malia@example.com").await.unwrap().is_empty(), "never the caller");
}

#[tokio::test]
async fn search_returns_at_most_twenty_users() {
    let store = Arc::new(InMemoryStore::new());
    let me = add_user(&store, "me").await;
    for n in 0..MAX_SEARCH_RESULTS + 5 {
        add_user(&store, &format!("user{n:02}")).await;
    }
    let services = services(store, MockPasswordHasher::new(), None);
    assert_eq!(MAX_SEARCH_RESULTS, 20);
    assert_eq!(services.auth.search(me.id, "user").await.unwrap().len(), MAX_SEARCH_RESULTS);
}

#[tokio::test]
async fn searches_are_budgeted_per_caller_before_the_store_is_asked() {
    let store = Arc::new(InMemoryStore::new());
    let me = add_user(&store, "me").await;
    let wait = Duration::from_secs(3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let mut limiter = MockAttemptLimiter::new();
    limiter.expect_acquire().times(2).returning(move |key| {
        let mut seen = record.lock().unwrap();
        seen.push(key.clone());
        if seen.len() == 1 {
            Ok(())
        } else {
            Err(RateLimited { retry_after: wait })
        }
    });
    let services = services(store, MockPasswordHasher::new(), Some(limiter));
    services.auth.search(me.id, "a").await.unwrap();
    assert_eq!(services.auth.search(me.id, "a").await.unwrap_err(), Error::RateLimited { retry_after: wait });
    assert_eq!(*seen.lock().unwrap(), vec![AttemptKey::Search(me.id); 2]);
    let too_long = "x".repeat(MAX_SEARCH_CHARS + 1);
    assert!(matches!(services.auth.search(me.id, &too_long).await, Err(Error::Invalid(_))), "not counted");
}
