//! The end-to-end package's one integration-test binary: the real `chat-server` binary, started
//! per test on the embedded store or MongoDB, driven over HTTP and Socket.IO (raw clients and
//! the official JS and Python ones), restarted, cut off from its database, and run as a cluster.

// Helpers outside `#[test]` functions panic on purpose too; clippy.toml covers only the latter.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod cluster_client;
mod cluster_js;
mod cluster_presence;
mod http;
mod metrics;
mod migration;
mod mongo_faults;
mod openapi;
mod restart;
mod socketio_js;
mod socketio_py;
mod web;
