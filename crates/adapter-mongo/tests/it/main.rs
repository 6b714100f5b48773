//! The MongoDB adapter's one integration-test binary, against a real MongoDB wire server
//! (SecantusDB, from `test_services`): the shared storage contract suite and what the contract
//! cannot say about MongoDB.
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test code fails by panicking")]

mod contract;
mod migrate;
mod specific;

use adapter_mongo::MongoStore;
use test_services::mongo::{fresh_database_name, shared_server};

/// A store on a fresh, indexed database of the shared server.
pub async fn fresh_store() -> MongoStore {
    let server = shared_server().await;
    let store = MongoStore::connect(&server.uri(), &fresh_database_name()).await.expect("connect");
    store.ensure_indexes().await.expect("ensure_indexes");
    store
}
