//! The browser client (`crates/web-client`, served at `/`) in a real browser: `node --test`
//! runs `tests/web/chat.spec.mjs`, which drives Debian's Chromium with `playwright-core`
//! (pinned in `tests/web/package-lock.json`) as two people against a real `chat-server`, and
//! saves a screenshot of the conversation to `<target>/web-client/conversation.png`.
//!
//! Chromium comes from `CHAT_TEST_CHROMIUM` (set by `cargo xtask test`), else
//! `/usr/bin/chromium`; Node.js from `CHAT_TEST_NODE`, else `PATH`. Without either the test
//! fails with instructions, it never skips.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e::Launch;
use tempfile::TempDir;

/// Longest the browser scenario may take before node's runner fails it.
const SUITE_TIMEOUT_MS: u32 = 120_000;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn on_path(program: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// `CHAT_TEST_<name>` when set (it must exist), else the first of `fallbacks` that exists.
fn tool(variable: &str, fallbacks: &[Option<PathBuf>], missing: &str) -> PathBuf {
    if let Some(path) = env::var_os(variable) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "{variable}={} does not exist", path.display());
        return path;
    }
    fallbacks.iter().flatten().find(|p| p.is_file()).cloned().unwrap_or_else(|| panic!("{missing}"))
}

fn chromium() -> PathBuf {
    tool(
        "CHAT_TEST_CHROMIUM",
        &[Some(PathBuf::from("/usr/bin/chromium"))],
        "Chromium is required by the browser-client test and was not found: install Debian's \
         chromium (apt-get install chromium) or set CHAT_TEST_CHROMIUM to a Chromium binary; \
         `cargo xtask test` provisions it",
    )
}

fn node() -> PathBuf {
    tool(
        "CHAT_TEST_NODE",
        &[on_path("node")],
        "Node.js is required by the browser-client test and was not found: install Node.js 20+ \
         with npm, or set CHAT_TEST_NODE; `cargo xtask test` provisions it",
    )
}

fn output(command: &mut Command) -> Output {
    let described = format!("{command:?}");
    command.output().unwrap_or_else(|e| panic!("cannot run {described}: {e}"))
}

/// `npm ci` in `tests/web` unless `playwright-core` is installed already.
fn ensure_installed(node: &Path) {
    let dir = web_dir();
    if dir.join("node_modules").join("playwright-core").join("package.json").is_file() {
        return;
    }
    let beside = node.with_file_name("npm");
    let npm = if beside.is_file() { beside } else { on_path("npm").expect("npm is required to install tests/web") };
    let out = output(Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir));
    assert!(
        out.status.success(),
        "`npm ci` in {} failed with {}\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The workspace's target directory (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"))
}

/// The count of a `# name N` line of a TAP summary.
fn tap_count(tap: &str, name: &str) -> Option<u64> {
    tap.lines().find_map(|line| line.strip_prefix(&format!("# {name} "))?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_chat_in_the_browser_client() {
    let (node, chromium) = (node(), chromium());
    ensure_installed(&node);
    let dir = TempDir::new().unwrap();
    // The paging scenario posts 60 messages in a row: no message rate limit on this server.
    let server = Launch::new(dir.path()).var("RATE_LIMIT_PER_MINUTE", Some("0")).start().await;
    let screenshot = target_dir().join("web-client").join("conversation.png");
    let _ = std::fs::remove_file(&screenshot);

    let out = tokio::task::block_in_place(|| {
        output(
            Command::new(&node)
                .args(["--test", "--test-reporter=tap", &format!("--test-timeout={SUITE_TIMEOUT_MS}"), "chat.spec.mjs"])
                .current_dir(web_dir())
                .env("CHAT_URL", server.url(""))
                .env("CHAT_CHROMIUM", &chromium)
                .env("CHAT_SCREENSHOT", &screenshot)
                .env("NO_COLOR", "1"),
        )
    });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = || {
        let logs = server.logs();
        let lines: Vec<&str> = logs.lines().collect();
        format!(
            "node --test exited with {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server (last lines)\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    };
    assert!(out.status.success(), "the browser-client scenario failed\n{}", report());
    let (pass, fail) = (tap_count(&stdout, "pass"), tap_count(&stdout, "fail"));
    assert!(pass.is_some_and(|n| n > 0) && fail == Some(0), "not every step passed\n{}", report());
    for name in ["cancelled", "skipped", "todo"] {
        assert_eq!(tap_count(&stdout, name), Some(0), "{name} steps\n{}", report());
    }
    assert!(screenshot.is_file(), "no screenshot at {}\n{}", screenshot.display(), report());
    println!("{stdout}\nscreenshot: {}", screenshot.display());
}
