//! The Redis adapter's one integration-test binary, against a real `redis-server` (from
//! `test_services`): one PUBLISH per event, no echo, two nodes delivering each other's events,
//! one rate-limit budget for two nodes, and what happens when Redis is killed and started again.

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;
mod limiter;
mod outages;
mod presence;
mod pubsub;
mod secure;
