//! The storage contract suite's one integration-test binary, proving the suite itself: it passes
//! against the domain's in-memory fake, and it fails against copies of the fake with one
//! deliberate bug each.
#![allow(clippy::expect_used, reason = "test code fails by panicking")]

mod buggy;
mod in_memory;
