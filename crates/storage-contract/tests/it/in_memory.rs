//! The suite passes against the domain's in-memory fake, and a store's guard lives exactly as
//! long as its `Stores`.

use std::sync::Arc;

use chat_domain::fakes::InMemoryStore;
use chat_domain::MessageId;
use storage_contract::Stores;

async fn make() -> Stores {
    Stores::from_one(Arc::new(InMemoryStore::new()))
}

storage_contract::storage_contract_tests!(make);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_lives_exactly_as_long_as_the_stores() {
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    let dropped = Arc::new(AtomicBool::new(false));
    let stores = make().await.with_guard(Flag(dropped.clone()));
    let copy = stores.clone();
    drop(stores);
    assert!(!dropped.load(Ordering::SeqCst), "a clone is still in use");
    let unknown = MessageId::generate(0);
    let found = copy.messages.message_by_id(unknown).await.expect("message_by_id");
    assert_eq!(found, None, "a guarded repository works");
    drop(copy);
    assert!(dropped.load(Ordering::SeqCst), "the guard goes with the last copy");
}
