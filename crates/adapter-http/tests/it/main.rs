//! The HTTP adapter's one integration-test binary: every route against the real services over
//! the in-memory store, with happy paths, each error status and the NestJS error shape, and what
//! the notifier hears.

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod auth_limits;
mod chats;
mod groups;
mod helpers;
mod logout;
mod messages;
mod openapi;
mod presence;
mod receipts;
mod routing;
mod search;
