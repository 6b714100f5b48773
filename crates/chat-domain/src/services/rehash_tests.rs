//! Unit tests of the hash upgrade on login: a hash of an older scheme is replaced once the
//! password is proven, and nothing that goes wrong while replacing it fails the login.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::fakes::InMemoryStore;
use crate::ports::{MockTokenService, MockUserRepository, NullNotifier, PasswordHasher, Unlimited, UserRepository};
use crate::time::{Clock, SystemClock};

const ALICE: &str = "alice@example.com";

/// Two schemes: `old:<password>` verifies but needs a rehash, `new:<password>` is what hashing
/// makes today. Counts its hashes, and refuses to hash when told to.
#[derive(Default)]
struct TwoSchemes {
    hashes: AtomicUsize,
    busy: AtomicBool,
}

#[async_trait]
impl PasswordHasher for TwoSchemes {
    async fn hash(&self, password: &Password) -> std::result::Result<PasswordHash, StoreError> {
        if self.busy.load(Ordering::SeqCst) {
            return Err(HashingBusy.into());
        }
        self.hashes.fetch_add(1, Ordering::SeqCst);
        Ok(PasswordHash(format!("new:{}", password.expose())))
    }
    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        [format!("old:{}", password.expose()), format!("new:{}", password.expose())].contains(&hash.0)
    }
    fn needs_rehash(&self, hash: &PasswordHash) -> bool {
        hash.0.starts_with("old:")
    }
}

fn services(users: Arc<dyn UserRepository>, hasher: Arc<TwoSchemes>) -> Services {
    let mut tokens = MockTokenService::new();
    tokens.expect_issue().returning(|user, _, _| Ok(format!("token-{user}")));
    let store = Arc::new(InMemoryStore::new());
    let ports = Ports {
        users,
        chats: store.clone(),
        messages: store.clone(),
        receipts: store,
        notifier: Arc::new(NullNotifier),
        limiter: Arc::new(Unlimited),
        hasher,
        tokens: Arc::new(tokens),
        clock: Arc::new(SystemClock),
    };
    Services::new(ports, ServicesConfig::default())
}

fn alice(hash: &str) -> User {
    let now = SystemClock.now();
    User {
        id: UserId::generate(id_seconds(now)),
        email: Email::parse(ALICE).unwrap(),
        username: Username::parse("alice").unwrap(),
        password_hash: PasswordHash(hash.into()),
        created_at: now,
        updated_at: now,
    }
}

#[tokio::test]
async fn an_old_hash_is_replaced_on_the_first_successful_login_only() {
    let store = Arc::new(InMemoryStore::new());
    let user = alice("old:secret-1");
    store.insert_user(&user).await.unwrap();
    let hasher = Arc::new(TwoSchemes::default());
    let services = services(store.clone(), hasher.clone());

    // A wrong password changes nothing.
    assert!(matches!(services.auth.login(ALICE, "wrong-one").await, Err(Error::InvalidCredentials)));
    assert_eq!(store.user_by_id(user.id).await.unwrap().unwrap().password_hash.0, "old:secret-1");
    assert_eq!(hasher.hashes.load(Ordering::SeqCst), 0);

    let session = services.auth.login(ALICE, "secret-1").await.unwrap();
    assert_eq!(session.user.password_hash.0, "new:secret-1");
    let stored = store.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(stored, User { password_hash: PasswordHash("new:secret-1".into()), ..user });
    assert_eq!(hasher.hashes.load(Ordering::SeqCst), 1);

    // The new hash needs nothing more.
    services.auth.login(ALICE, "secret-1").await.unwrap();
    assert_eq!(hasher.hashes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_busy_hasher_leaves_the_old_hash_and_the_login_succeeds() {
    let store = Arc::new(InMemoryStore::new());
    let user = alice("old:secret-1");
    store.insert_user(&user).await.unwrap();
    let hasher = Arc::new(TwoSchemes::default());
    hasher.busy.store(true, Ordering::SeqCst);
    let services = services(store.clone(), hasher);

    let session = services.auth.login(ALICE, "secret-1").await.unwrap();
    assert_eq!(session.user.password_hash.0, "old:secret-1");
    assert_eq!(store.user_by_id(user.id).await.unwrap().unwrap().password_hash.0, "old:secret-1");
}

#[tokio::test]
async fn a_failed_or_lost_replace_does_not_fail_the_login() {
    for outcome in [Err(()), Ok(false)] {
        let user = alice("old:secret-1");
        let mut users = MockUserRepository::new();
        let found = user.clone();
        users.expect_user_by_email().returning(move |_| Ok(Some(found.clone())));
        // The token carries the user's version, read after the password checked out.
        users.expect_token_version().returning(|_| Ok(Some(0)));
        let id = user.id;
        users
            .expect_replace_password_hash()
            .withf(move |who, current, new| *who == id && current.0 == "old:secret-1" && new.0 == "new:secret-1")
            .times(1)
            .returning(move |_, _, _| outcome.map_err(|()| StoreError::unavailable("database down")));
        let services = services(Arc::new(users), Arc::new(TwoSchemes::default()));

        let session = services.auth.login(ALICE, "secret-1").await.unwrap();
        assert_eq!(session.user.password_hash.0, "old:secret-1", "the stored hash is still the old one");
        assert_eq!(session.access_token, format!("token-{id}"));
    }
}

/// The default: a hasher of one scheme never asks for a rehash.
#[tokio::test]
async fn hashers_need_no_rehash_by_default() {
    struct OneScheme;
    #[async_trait]
    impl PasswordHasher for OneScheme {
        async fn hash(&self, _: &Password) -> std::result::Result<PasswordHash, StoreError> {
            Ok(PasswordHash("h".into()))
        }
        async fn verify(&self, _: &Password, _: &PasswordHash) -> bool {
            true
        }
    }
    assert!(!OneScheme.needs_rehash(&PasswordHash("$2b$04$anything".into())));
}
