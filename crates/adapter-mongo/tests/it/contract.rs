//! The shared storage contract suite, run against `MongoStore` on a real MongoDB wire server.

use std::sync::Arc;

async fn make() -> storage_contract::Stores {
    storage_contract::Stores::from_one(Arc::new(crate::fresh_store().await))
}

storage_contract::storage_contract_tests!(make);
