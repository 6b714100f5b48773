//! Runs the shared storage contract suite against `SqliteStore`, each case on a fresh database
//! file in its own temporary directory.

use std::sync::Arc;

use adapter_sqlite::SqliteStore;
use storage_contract::Stores;

async fn make() -> Stores {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path()).expect("open sqlite store");
    // The directory goes away when the case is done with the store.
    Stores::from_one(Arc::new(store)).with_guard(dir)
}

storage_contract::storage_contract_tests!(make);

mod in_memory {
    //! The same suite on `open_in_memory`, which tests and tools use.
    use super::*;

    async fn make() -> Stores {
        Stores::from_one(Arc::new(SqliteStore::open_in_memory().expect("open in memory")))
    }

    storage_contract::storage_contract_tests!(make);
}
