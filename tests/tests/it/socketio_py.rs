//! python-socketio's client (PyPI, pinned in `tests/py/requirements.txt`) against the real
//! `chat-server`: `python -m pytest -q tests/py` with the server's URL in `CHAT_URL`. The Python
//! is `CHAT_TEST_PYTHON` (the venv `cargo xtask provision` fills), else `target/test-venv`, else
//! `python3` from `PATH`; without it or without the pinned packages the test fails with the
//! command that installs them, it never skips.
//!
//! [`run_py_suite`] takes a server that is already running, so the same scenarios can run
//! against a server on another store (MongoDB) by starting that one and calling it again.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::{Backend, Launch, Server};
use tempfile::TempDir;

/// The workspace root (this package lives in `tests/`).
pub(crate) fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The interpreter with the suite's packages; panics with instructions when there is none.
pub(crate) fn python() -> PathBuf {
    if let Some(path) = env::var_os("CHAT_TEST_PYTHON") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "CHAT_TEST_PYTHON={} does not exist", path.display());
        return path;
    }
    let venv = root().join("target").join("test-venv").join("bin").join("python");
    if venv.is_file() {
        return venv;
    }
    env::var_os("PATH")
        .and_then(|path| env::split_paths(&path).map(|dir| dir.join("python3")).find(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "Python 3 is required by the python-socketio suite and was not found: run `cargo xtask provision` \
                 (it creates target/test-venv), or set CHAT_TEST_PYTHON to an interpreter with the packages of \
                 tests/py/requirements.txt"
            )
        })
}

pub(crate) fn output(command: &mut Command) -> Output {
    let described = format!("{command:?}");
    command.output().unwrap_or_else(|e| panic!("cannot run {described}: {e}"))
}

/// Fails loudly unless the pinned packages import (and python-socketio is the pinned version).
fn check_packages(python: &Path) {
    let requirements = root().join("tests").join("py").join("requirements.txt");
    let pinned = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()))
        .lines()
        .find_map(|line| line.strip_prefix("python-socketio[client]==").map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("{} does not pin python-socketio[client]", requirements.display()));
    let probe = "import importlib.metadata as m, pytest, requests, socketio, websocket; \
                 print(m.version('python-socketio'))";
    let out = output(Command::new(python).args(["-c", probe]));
    let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && found == pinned,
        "{} lacks the pinned packages (python-socketio {pinned} wanted, found {:?}): run `cargo xtask provision` or \
         `{} -m pip install -r {}`\n{}",
        python.display(),
        if found.is_empty() { "none" } else { found.as_str() },
        python.display(),
        requirements.display(),
        String::from_utf8_lossy(&out.stderr),
    );
}

/// The counts of pytest's final line (`12 passed, 1 failed in 3.2s`), by outcome.
fn outcome_counts(report: &str) -> Vec<(String, u64)> {
    let Some(last) = report.lines().rev().find(|l| l.contains(" in ") && !l.trim().is_empty()) else {
        return Vec::new();
    };
    let summary = last.trim().trim_matches('=').trim();
    let summary = summary.rsplit_once(" in ").map_or(summary, |(counts, _)| counts);
    summary
        .split(", ")
        .filter_map(|part| {
            let (count, outcome) = part.trim().split_once(' ')?;
            Some((outcome.to_owned(), count.parse().ok()?))
        })
        .collect()
}

/// Runs `pytest -q tests/py` against `server`, asserts that it passed with at least one test
/// and nothing failed, errored or skipped (exit status 5, "no tests", is a failure too). Prints
/// pytest's output (and the server's last log lines) on failure. Returns the pass count.
pub fn run_py_suite(server: &Server) -> u64 {
    let python = python();
    check_packages(&python);
    let out = output(
        Command::new(&python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/py"])
            .current_dir(root())
            .env("CHAT_URL", server.url(""))
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let logs = server.logs();
    let lines: Vec<&str> = logs.lines().collect();
    let report = || {
        format!(
            "pytest exited with {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server (last lines)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            lines[lines.len().saturating_sub(60)..].join("\n"),
        )
    };
    assert!(out.status.success(), "the python-socketio suite failed\n{}", report());
    let counts = outcome_counts(&stdout);
    let passed = counts.iter().find(|(outcome, _)| outcome == "passed").map_or(0, |(_, n)| *n);
    assert!(passed > 0, "pytest reported no passed test: {counts:?}\n{}", report());
    // Warnings are fine; failed, errors, skipped, xfailed, xpassed... are not.
    let acceptable = |outcome: &str| matches!(outcome, "passed" | "warning" | "warnings");
    assert!(counts.iter().all(|(outcome, _)| acceptable(outcome)), "not every test passed: {counts:?}\n{}", report());
    println!("{stdout}");
    passed
}

/// The suite's server. Without the server's own delivery receipts: a test compares the reply to
/// a retried send with the first one, and the status in both is derived from the receipts, which
/// the once-a-second flush could move in between (it did, on MongoDB). The receipts have their
/// own tests (`tests/js/receipts.test.mjs`, the gateway's `server_receipts.rs`).
fn launch(data_dir: &Path) -> Launch<'_> {
    Launch::new(data_dir).var("DELIVERY_RECEIPT_INTERVAL_MS", Some("0"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_works_against_the_embedded_store() {
    let dir = TempDir::new().unwrap();
    let server = launch(dir.path()).start().await;
    let passed = tokio::task::block_in_place(|| run_py_suite(&server));
    println!("python-socketio suite: {passed} tests passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_socketio_works_against_mongodb() {
    let dir = TempDir::new().unwrap();
    let server = launch(dir.path()).backend(&Backend::fresh_mongo().await).start().await;
    let passed = tokio::task::block_in_place(|| run_py_suite(&server));
    println!("python-socketio suite on MongoDB: {passed} tests passed");
}

#[test]
fn reads_the_pytest_summary() {
    assert_eq!(outcome_counts("....\n24 passed in 19.89s\n"), [("passed".to_owned(), 24)]);
    assert_eq!(
        outcome_counts("F.\n==== 1 failed, 1 passed, 2 warnings in 0.5s ====\n"),
        [("failed".to_owned(), 1), ("passed".to_owned(), 1), ("warnings".to_owned(), 2)]
    );
    assert_eq!(outcome_counts("no tests ran in 0.01s\n"), []);
}
