//! The SQLite adapter's one integration-test binary: the shared storage contract suite on a
//! database file and in memory, and restarts (reopening, and surviving a process that dies).
#![allow(clippy::expect_used, clippy::unwrap_used, reason = "test code fails by panicking")]

mod contract;
mod restart;
