//! The official `socket.io-client` (npm, pinned in `tests/js/package-lock.json`) against the
//! real `chat-server`: `node --test` runs every `tests/js/*.test.mjs` scenario with the default
//! transports (polling, then upgrade) and with WebSocket only. Node.js 20+ and npm are required
//! (`CHAT_TEST_NODE` names node, else it is looked up on `PATH`): the test fails without them,
//! it never skips.
//!
//! [`run_js_suite`] takes servers that are already running, so the same scenarios can run
//! against servers on another store (MongoDB) by starting those and calling it again.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use e2e::{Backend, Launch, Server};
use tempfile::TempDir;

/// Budget of the rate-limited server; small, so a scenario spends it in a few sends.
const RATE_LIMIT_PER_MINUTE: u32 = 3;
/// Token lifetime of the short-token server, in seconds.
const JWT_TTL_SECS: u32 = 2;
/// Longest a single JS test may take before node's runner fails it.
const JS_TEST_TIMEOUT_MS: u32 = 60_000;

/// The servers one run of the JS suite talks to. Every one must share nothing but the binary:
/// the rate-limit and token scenarios need their own settings.
pub struct JsTargets<'a> {
    /// Default settings: every event and rule, and the malformed-input scenarios.
    pub main: &'a Server,
    /// Started with `RATE_LIMIT_PER_MINUTE` = [`RATE_LIMIT_PER_MINUTE`].
    pub rate_limited: &'a Server,
    /// Started with `JWT_TTL_SECS` = [`JWT_TTL_SECS`].
    pub short_tokens: &'a Server,
}

/// The TAP summary of a `node --test` run.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    tests: u64,
    pass: u64,
    fail: u64,
    cancelled: u64,
    skipped: u64,
    todo: u64,
}

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

/// `CHAT_TEST_NODE`, or `node` from `PATH`; panics with instructions when there is none.
fn node() -> PathBuf {
    if let Some(path) = env::var_os("CHAT_TEST_NODE") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "CHAT_TEST_NODE={} does not exist", path.display());
        return path;
    }
    on_path("node").unwrap_or_else(|| {
        panic!(
            "Node.js is required by the socket.io-client suite and was not found: install Node.js 20+ \
             with npm (apt-get install nodejs npm), or set CHAT_TEST_NODE to the node binary; \
             `cargo xtask test` provisions it"
        )
    })
}

fn on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// npm next to `node` (as Node.js installs it), else from `PATH`.
fn npm(node: &Path) -> PathBuf {
    let beside = node.with_file_name("npm");
    if beside.is_file() {
        return beside;
    }
    on_path("npm").unwrap_or_else(|| {
        panic!(
            "npm is required to install the pinned socket.io-client (tests/js) and was not found next to {} or on PATH",
            node.display()
        )
    })
}

/// Runs a command to completion; panics (with its output) if it cannot start.
fn output(command: &mut Command) -> Output {
    let described = format!("{command:?}");
    command.output().unwrap_or_else(|e| panic!("cannot run {described}: {e}"))
}

/// Installs the pinned packages from `package-lock.json` (`npm ci`) unless they are there.
fn ensure_installed(node: &Path) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let dir = js_dir();
        let modules = dir.join("node_modules");
        if ["socket.io-client", "ws"].iter().all(|p| modules.join(p).join("package.json").is_file()) {
            return;
        }
        let npm = npm(node);
        let mut path = env::var_os("PATH").unwrap_or_default();
        if let Some(node_dir) = node.parent() {
            // npm is a node script: make sure it finds this node first.
            let dirs = std::iter::once(node_dir.to_path_buf()).chain(env::split_paths(&path));
            path = env::join_paths(dirs).unwrap_or(path);
        }
        let out =
            output(Command::new(&npm).args(["ci", "--no-audit", "--no-fund"]).env("PATH", path).current_dir(&dir));
        assert!(
            out.status.success(),
            "`npm ci` in {} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
    });
}

/// Reads the `# tests N`, `# pass N`, ... lines that end a TAP report.
fn summary(tap: &str) -> Option<Summary> {
    let mut summary = Summary::default();
    let mut seen = 0;
    for line in tap.lines() {
        let Some((name, count)) = line.strip_prefix("# ").and_then(|rest| rest.split_once(' ')) else { continue };
        let Ok(count) = count.trim().parse::<u64>() else { continue };
        let field = match name {
            "tests" => &mut summary.tests,
            "pass" => &mut summary.pass,
            "fail" => &mut summary.fail,
            "cancelled" => &mut summary.cancelled,
            "skipped" => &mut summary.skipped,
            "todo" => &mut summary.todo,
            _ => continue,
        };
        *field = count;
        seen += 1;
    }
    (seen >= 6).then_some(summary)
}

/// The last `n` lines of a server's output, for failure messages.
fn tail(server: &Server, n: usize) -> String {
    let logs = server.logs();
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs every `tests/js/*.test.mjs` against `targets` and asserts that all of them passed: exit
/// status 0, and a TAP summary with tests, no failure, nothing cancelled, skipped or todo.
/// Prints node's output (and the servers' last log lines) on failure. Returns the pass count.
pub fn run_js_suite(targets: &JsTargets<'_>) -> u64 {
    let node = node();
    let version = output(Command::new(&node).arg("--version"));
    assert!(version.status.success(), "{} --version failed", node.display());
    ensure_installed(&node);

    let out = output(
        Command::new(&node)
            .arg("--test")
            .arg("--test-reporter=tap")
            .arg(format!("--test-timeout={JS_TEST_TIMEOUT_MS}"))
            .current_dir(js_dir())
            .env("CHAT_URL", targets.main.url(""))
            .env("CHAT_URL_RATE_LIMITED", targets.rate_limited.url(""))
            .env("CHAT_RATE_LIMIT_PER_MINUTE", RATE_LIMIT_PER_MINUTE.to_string())
            .env("CHAT_URL_SHORT_TOKENS", targets.short_tokens.url(""))
            .env("CHAT_JWT_TTL_SECS", JWT_TTL_SECS.to_string())
            .env("NO_COLOR", "1"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = || {
        format!(
            "node --test (Node.js {}) exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n\
             --- main server (last lines)\n{}\n--- rate-limited server (last lines)\n{}\n\
             --- short-token server (last lines)\n{}",
            String::from_utf8_lossy(&version.stdout).trim(),
            out.status,
            tail(targets.main, 60),
            tail(targets.rate_limited, 20),
            tail(targets.short_tokens, 20),
        )
    };
    let Some(summary) = summary(&stdout) else { panic!("no TAP summary in the output\n{}", report()) };
    assert!(out.status.success(), "the socket.io-client suite failed: {summary:?}\n{}", report());
    assert!(
        summary.fail == 0 && summary.cancelled == 0 && summary.skipped == 0 && summary.todo == 0,
        "not every test passed: {summary:?}\n{}",
        report()
    );
    assert!(summary.pass > 0 && summary.pass == summary.tests, "no or not all tests ran: {summary:?}\n{}", report());
    println!("{stdout}");
    summary.pass
}

/// Runs the given files of `tests/js` (paths relative to it) with `node --test`, with `vars`
/// set, and asserts that every test in them passed, like [`run_js_suite`]; `servers` are named
/// for the failure report. Returns the pass count. For scenarios that need servers the main
/// suite does not start (two nodes of a cluster).
pub fn run_js_files(files: &[&str], vars: &[(&str, String)], servers: &[(&str, &Server)]) -> u64 {
    let node = node();
    ensure_installed(&node);
    let mut command = Command::new(&node);
    command
        .arg("--test")
        .arg("--test-reporter=tap")
        .arg(format!("--test-timeout={JS_TEST_TIMEOUT_MS}"))
        .args(files)
        .current_dir(js_dir())
        .env("NO_COLOR", "1");
    for (name, value) in vars {
        command.env(name, value);
    }
    let out = output(&mut command);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = || {
        let logs: Vec<String> =
            servers.iter().map(|(name, server)| format!("--- {name} (last lines)\n{}", tail(server, 60))).collect();
        format!(
            "node --test {files:?} exited with {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n{}",
            out.status,
            logs.join("\n")
        )
    };
    let Some(summary) = summary(&stdout) else { panic!("no TAP summary in the output\n{}", report()) };
    assert!(out.status.success(), "the socket.io-client scenarios failed: {summary:?}\n{}", report());
    assert!(
        summary.fail == 0 && summary.cancelled == 0 && summary.skipped == 0 && summary.todo == 0,
        "not every test passed: {summary:?}\n{}",
        report()
    );
    assert!(summary.pass > 0 && summary.pass == summary.tests, "no or not all tests ran: {summary:?}\n{}", report());
    println!("{stdout}");
    summary.pass
}

/// One suite run at a time: each starts three servers and a Node process, and its typing and
/// token-expiry scenarios wait on real time, which two parallel runs on a small machine skew.
pub(crate) static ONE_SUITE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts the three servers the suite needs on `backend` (each its own data directory and, on
/// MongoDB, its own database) and runs the suite against them.
async fn run_on(backend_of: impl Fn() -> Backend) {
    let dirs = [TempDir::new().unwrap(), TempDir::new().unwrap(), TempDir::new().unwrap()];
    let (b0, b1, b2) = (backend_of(), backend_of(), backend_of());
    let main = Launch::new(dirs[0].path()).backend(&b0).start();
    let rate_limited = Launch::new(dirs[1].path())
        .backend(&b1)
        .var("RATE_LIMIT_PER_MINUTE", Some(&RATE_LIMIT_PER_MINUTE.to_string()))
        .start();
    let short_tokens =
        Launch::new(dirs[2].path()).backend(&b2).var("JWT_TTL_SECS", Some(&JWT_TTL_SECS.to_string())).start();
    let (main, rate_limited, short_tokens) = tokio::join!(main, rate_limited, short_tokens);
    let targets = JsTargets { main: &main, rate_limited: &rate_limited, short_tokens: &short_tokens };
    let passed = tokio::task::block_in_place(|| run_js_suite(&targets));
    println!("socket.io-client suite: {passed} tests passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_socket_io_client_works_against_the_embedded_store() {
    let _one = ONE_SUITE_AT_A_TIME.lock().await;
    run_on(|| Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_socket_io_client_works_against_mongodb() {
    let _one = ONE_SUITE_AT_A_TIME.lock().await;
    let server = e2e::shared_mongo().await;
    run_on(|| Backend::Mongo { uri: server.uri(), database: test_services::mongo::fresh_database_name() }).await;
}

#[test]
fn reads_the_tap_summary() {
    let tap = "ok 1 - x\n1..1\n# tests 2\n# suites 0\n# pass 2\n# fail 0\n# cancelled 0\n# skipped 0\n# todo 0\n";
    assert_eq!(summary(tap), Some(Summary { tests: 2, pass: 2, ..Summary::default() }));
    assert_eq!(summary("# pass 2\n"), None, "a partial summary is no summary");
}
