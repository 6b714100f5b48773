//! Unit tests of the bounds of chat creation (group size, the creation budget) and of chat
//! list pages, with the in-memory store and a mockall attempt limiter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockall::predicate::eq;

use super::*;
use crate::fakes::InMemoryStore;
use crate::model::{PasswordHash, User};
use crate::ports::{
    AttemptKey, ChatRepository, MockAttemptLimiter, MockPasswordHasher, MockTokenService, NullNotifier, RateLimited,
    Unlimited, UserRepository,
};
use crate::text::{Email, Username};
use crate::time::{Clock, SystemClock};

fn services(store: Arc<InMemoryStore>, config: ServicesConfig, limiter: Option<MockAttemptLimiter>) -> Services {
    let ports = Ports {
        users: store.clone(),
        chats: store.clone(),
        messages: store.clone(),
        receipts: store,
        notifier: Arc::new(NullNotifier),
        limiter: Arc::new(Unlimited),
        hasher: Arc::new(MockPasswordHasher::new()),
        tokens: Arc::new(MockTokenService::new()),
        clock: Arc::new(SystemClock),
    };
    let services = Services::new(ports, config);
    match limiter {
        Some(limiter) => services.with_chat_limiter(Arc::new(limiter)),
        None => services,
    }
}

/// `n` users stored in `store`.
async fn users(store: &InMemoryStore, n: usize) -> Vec<UserId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let now = SystemClock.now();
        let user = User {
            id: UserId::generate(id_seconds(now)),
            email: Email::parse(&format!("u{i}@example.com")).unwrap(),
            username: Username::parse(&format!("user{i}")).unwrap(),
            password_hash: PasswordHash("plain:x".into()),
            created_at: now,
            updated_at: now,
        };
        store.insert_user(&user).await.unwrap();
        ids.push(user.id);
    }
    ids
}

#[tokio::test]
async fn a_chat_past_the_group_size_is_invalid_and_names_the_limit() {
    let store = Arc::new(InMemoryStore::new());
    let ids = users(&store, 5).await;
    let config = ServicesConfig { max_group_size: 4, ..ServicesConfig::default() };
    let services = services(store, config, None);
    // The creator counts: the creator and four others make five.
    let error = services.chats.create(ids[0], &ids[1..], None).await.unwrap_err();
    assert_eq!(error, Error::invalid("a chat has at most 4 participants"));
    // The creator named again among the participants is not counted twice.
    let (view, created) = services.chats.create(ids[0], &ids[..4], None).await.unwrap();
    assert!(created);
    assert_eq!(view.chat.participants.len(), 4);
}

#[tokio::test]
async fn the_default_group_size_is_one_hundred_and_zero_leaves_the_hard_bound() {
    assert_eq!(ServicesConfig::default().max_group_size, 100);
    let store = Arc::new(InMemoryStore::new());
    let ids = users(&store, 3).await;
    let off = services(store, ServicesConfig { max_group_size: 0, ..ServicesConfig::default() }, None);
    assert!(off.chats.create(ids[0], &ids[1..], None).await.is_ok());
    assert_eq!(off.chats.max_members(), MAX_PARTICIPANTS);
}

#[tokio::test]
async fn every_new_chat_is_counted_against_its_creator_and_refused_past_the_budget() {
    let store = Arc::new(InMemoryStore::new());
    let ids = users(&store, 4).await;
    let mut limiter = MockAttemptLimiter::new();
    let mut left = 2;
    limiter.expect_acquire().with(eq(AttemptKey::ChatCreate(ids[0]))).times(3).returning(move |_| {
        if left == 0 {
            return Err(RateLimited { retry_after: Duration::from_secs(6) });
        }
        left -= 1;
        Ok(())
    });
    let services = services(store.clone(), ServicesConfig::default(), Some(limiter));
    services.chats.create(ids[0], &[ids[1], ids[2]], None).await.unwrap();
    services.chats.create(ids[0], &[ids[1]], None).await.unwrap();
    let refused = services.chats.create(ids[0], &[ids[3]], None).await.unwrap_err();
    assert_eq!(refused, Error::RateLimited { retry_after: Duration::from_secs(6) });
    assert_eq!(store.chats_of_user(ids[3], 100, None).await.unwrap().unwrap().len(), 0, "nothing stored");
}

#[tokio::test]
async fn a_direct_chat_returned_again_spends_nothing_and_invalid_input_is_not_counted() {
    let store = Arc::new(InMemoryStore::new());
    let ids = users(&store, 2).await;
    let asked = Arc::new(Mutex::new(Vec::new()));
    let mut limiter = MockAttemptLimiter::new();
    let seen = asked.clone();
    limiter.expect_acquire().returning(move |key| {
        seen.lock().unwrap().push(key.clone());
        Ok(())
    });
    let services = services(store, ServicesConfig::default(), Some(limiter));
    let (first, created) = services.chats.create(ids[0], &[ids[1]], None).await.unwrap();
    assert!(created);
    for (caller, other) in [(ids[0], ids[1]), (ids[1], ids[0]), (ids[0], ids[1])] {
        let (again, created) = services.chats.create(caller, &[other], None).await.unwrap();
        assert!(!created);
        assert_eq!(again.chat.id, first.chat.id);
    }
    assert!(services.chats.create(ids[0], &[], None).await.is_err());
    assert!(services.chats.create(ids[0], &[UserId::generate(0)], None).await.is_err());
    assert_eq!(*asked.lock().unwrap(), vec![AttemptKey::ChatCreate(ids[0])], "only the first creation counts");
}

#[tokio::test]
async fn chat_list_pages_check_their_limit_and_cursor() {
    let store = Arc::new(InMemoryStore::new());
    let ids = users(&store, 3).await;
    let services = services(store, ServicesConfig::default(), None);
    let (ab, _) = services.chats.create(ids[0], &[ids[1]], None).await.unwrap();
    let (bc, _) = services.chats.create(ids[1], &[ids[2]], None).await.unwrap();
    let (abc, _) = services.chats.create(ids[0], &[ids[1], ids[2]], None).await.unwrap();

    let all = services.chats.list(ids[0], None, None).await.unwrap();
    assert_eq!(all.len(), 2);
    let first = services.chats.list(ids[0], Some(1), None).await.unwrap();
    assert_eq!(first.len(), 1);
    let rest = services.chats.list(ids[0], Some(100), Some(first[0].chat.id)).await.unwrap();
    let mut seen: Vec<ChatId> = first.iter().chain(&rest).map(|v| v.chat.id).collect();
    seen.sort();
    let mut expected = vec![ab.chat.id, abc.chat.id];
    expected.sort();
    assert_eq!(seen, expected);

    for bad in [0, 101, -1] {
        let error = services.chats.list(ids[0], Some(bad), None).await.unwrap_err();
        assert_eq!(error, Error::invalid("limit must be between 1 and 100"), "{bad}");
    }
    let error = services.chats.list(ids[0], None, Some(bc.chat.id)).await.unwrap_err();
    assert_eq!(error, Error::invalid("before must be one of your chats"));
    assert!(services.chats.list(ids[0], None, Some(ChatId::generate(0))).await.is_err());
}
