//! The send's remembered membership check: a remembered sender costs no chat read, and a stale
//! memory never lets a message in.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Counts the units taken from its budget; never limits.
#[derive(Default)]
struct CountingLimiter(AtomicUsize);

#[async_trait]
impl RateLimiter for CountingLimiter {
    async fn acquire(&self, _user: UserId) -> Result<(), RateLimited> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl CountingLimiter {
    fn taken(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn send(services: &Services, from: UserId, chat: ChatId) -> Result<Message, Error> {
    services.messages.send(from, SendMessage { chat, text: "hi", kind: None, client_id: None }).await
}

#[tokio::test]
async fn a_sender_seen_in_the_chat_is_not_read_again_on_its_next_sends() {
    let store = Arc::new(InMemoryStore::new());
    let mut ports = ports_with(store.clone(), Arc::new(NullNotifier), Arc::new(Unlimited));
    let setup = Services::new(ports.clone(), ServicesConfig::default());
    let a = setup.auth.register("a@example.com", "a", "password").await.unwrap().user.id;
    let b = setup.auth.register("b@example.com", "b", "password").await.unwrap().user.id;
    let chat = setup.chats.create(a, &[b], None).await.unwrap().0.chat.clone();
    let mut chats = MockChatRepository::new();
    let stored = store.chat_alone(chat.id).await.unwrap();
    chats.expect_chat_alone().times(2).returning(move |_| Ok(stored.clone()));
    ports.chats = Arc::new(chats);
    let services = Services::new(ports, ServicesConfig::default());
    for _ in 0..3 {
        send(&services, a, chat.id).await.unwrap();
    }
    send(&services, b, chat.id).await.unwrap();
    // The mock panics on a third read: one for a's first send, one for b's.
    assert_eq!(store.page_messages(chat.id, PageCursor::Skip(0), 10).await.unwrap().unwrap().messages.len(), 4);
}

#[tokio::test]
async fn a_sender_removed_on_another_node_is_refused_by_the_store_once_then_by_the_check() {
    let store = Arc::new(InMemoryStore::new());
    let events = Arc::new(Recorder::default());
    let limiter = Arc::new(CountingLimiter::default());
    let here = Services::new(ports_with(store.clone(), events.clone(), limiter.clone()), ServicesConfig::default());
    let there =
        Services::new(ports_with(store.clone(), events.clone(), Arc::new(Unlimited)), ServicesConfig::default());
    let owner = here.auth.register("o@example.com", "o", "password").await.unwrap().user.id;
    let gone = here.auth.register("g@example.com", "g", "password").await.unwrap().user.id;
    let third = here.auth.register("t@example.com", "t", "password").await.unwrap().user.id;
    let chat = here.chats.create(owner, &[gone, third], Some("team")).await.unwrap().0.chat.id;
    send(&here, gone, chat).await.unwrap();
    assert_eq!(limiter.taken(), 1);

    there.chats.remove_participant(owner, chat, gone).await.unwrap();
    events.take();
    let refused = send(&here, gone, chat).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    assert_eq!(limiter.taken(), 2, "the remembered membership let the send reach the rate limit and the store");
    let refused = send(&here, gone, chat).await;
    assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    assert_eq!(limiter.taken(), 2, "the store's refusal was remembered: the check refuses before the budget");
    assert!(events.take().is_empty(), "nothing announced");
    let page = store.page_messages(chat, PageCursor::Skip(0), 10).await.unwrap().unwrap();
    assert_eq!(page.messages.len(), 1, "nothing stored for the removed sender");
}

#[tokio::test]
async fn a_sender_removed_on_this_node_is_refused_before_the_budget() {
    let limiter = Arc::new(CountingLimiter::default());
    let w = world_with_limiter(limiter.clone());
    let (owner, left, gone) = (w.user("o").await, w.user("l").await, w.user("g").await);
    let chat = w.services.chats.create(owner, &[left, gone], Some("team")).await.unwrap().0.chat.id;
    send(&w.services, gone, chat).await.unwrap();
    send(&w.services, left, chat).await.unwrap();
    w.services.chats.remove_participant(owner, chat, gone).await.unwrap();
    w.services.chats.remove_participant(left, chat, left).await.unwrap();
    for user in [gone, left] {
        let refused = send(&w.services, user, chat).await;
        assert!(matches!(refused, Err(Error::Forbidden(_))), "{refused:?}");
    }
    assert_eq!(limiter.taken(), 2, "only the two sends made as participants took budget");
}
