//! Throwaway services for tests, each on a free port of 127.0.0.1 and stopped on drop: a real
//! MongoDB wire server ([`mongo`]) and a real Redis ([`redis`]).
//!
//! `cargo xtask test` provisions the executables and passes their paths in `CHAT_TEST_*`
//! variables; without them a test fails loudly with instructions. Nothing is ever skipped.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, reason = "test support fails by panicking")]

pub mod mongo;
pub mod redis;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// The workspace root (this crate lives in `crates/test-services`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where services write their logs: `target/tmp`, created on demand.
pub fn log_dir() -> PathBuf {
    let dir = workspace_root().join("target/tmp");
    std::fs::create_dir_all(&dir).expect("create target/tmp");
    dir
}
