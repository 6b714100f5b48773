//! schemathesis (PyPI, pinned in `tests/py/requirements.txt`) against the real `chat-server`,
//! from the OpenAPI document the server itself serves at `/api/docs-json`, with every default
//! check: no 5xx, every status, content type, header and body as documented, schema-valid
//! requests accepted and schema-violating ones refused, 405 with `Allow` for methods not
//! documented, and stateful sequences over the links it infers. Any finding fails the test.
//!
//! The run is bounded ([`EXAMPLES`] per operation and phase) and seeded ([`SEED`]), so it is
//! repeatable; `tests/openapi/schemathesis.toml` is its configuration (real ids to reach past
//! 404s, and where the contract's 400s cannot be said by a schema). The Python is the one
//! `socketio_py` uses: `CHAT_TEST_PYTHON`, else `target/test-venv`, else `python3` on `PATH`;
//! without schemathesis beside it the test fails with the command that installs it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

use e2e::Launch;
use serde_json::json;
use tempfile::TempDir;

use crate::socketio_py::{output, python, root};

/// Test cases per operation and phase: enough to find what the document gets wrong (hundreds
/// of requests in all) within a minute or two on a small machine.
const EXAMPLES: &str = "40";

/// Fixed, so a failure reproduces and the suite does not turn red on a new random draw; change
/// it (or run schemathesis by hand, see docs/http.md) to explore further.
const SEED: &str = "20261130";

/// A hung run fails instead of holding the suite.
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// The schemathesis command installed beside `python`, after checking it is the pinned version.
fn schemathesis(python: &Path) -> PathBuf {
    let requirements = root().join("tests").join("py").join("requirements.txt");
    let pinned = std::fs::read_to_string(&requirements)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", requirements.display()))
        .lines()
        .find_map(|line| line.strip_prefix("schemathesis==").map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("{} does not pin schemathesis", requirements.display()));
    let probe = "import importlib.metadata as m; print(m.version('schemathesis'))";
    let out = output(Command::new(python).args(["-c", probe]));
    let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let command = python.with_file_name("schemathesis");
    assert!(
        out.status.success() && found == pinned && command.is_file(),
        "{} lacks schemathesis {pinned} (found {:?}): run `cargo xtask provision` or `{} -m pip install -r {}`\n{}",
        python.display(),
        if found.is_empty() { "none" } else { found.as_str() },
        python.display(),
        requirements.display(),
        String::from_utf8_lossy(&out.stderr),
    );
    command
}

/// Runs `command` with its output in files under `dir` (no pipe to fill up), killing it (the
/// child this test started, through its handle) when it outlives [`RUN_LIMIT`].
async fn run_bounded(command: Command, dir: &Path) -> (ExitStatus, String, String) {
    let stdout_path = dir.join("stdout.txt");
    let stderr_path = dir.join("stderr.txt");
    let mut command = tokio::process::Command::from(command);
    command.stdout(File::create(&stdout_path).unwrap()).stderr(File::create(&stderr_path).unwrap()).kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let status = match tokio::time::timeout(RUN_LIMIT, child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => {
            let _ = child.kill().await;
            panic!(
                "schemathesis ran longer than {RUN_LIMIT:?}; its output so far:\n{}",
                std::fs::read_to_string(&stdout_path).unwrap_or_default()
            );
        }
    };
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    (status, read(&stdout_path), read(&stderr_path))
}

/// What the configuration's placeholders are filled with: ids the test created on the server,
/// and the token logout is sent with.
struct Fixtures {
    chat: String,
    other_user: String,
    message: String,
    group: String,
    leavable_group: String,
    editable_message: String,
    their_message: String,
    logout_token: String,
}

/// The configuration with the fixtures filled in.
fn configuration(f: &Fixtures) -> String {
    let template = root().join("tests").join("openapi").join("schemathesis.toml");
    let text = std::fs::read_to_string(&template).unwrap_or_else(|e| panic!("cannot read {}: {e}", template.display()));
    let filled = text
        .replace("@CHAT_ID@", &f.chat)
        .replace("@OTHER_USER_ID@", &f.other_user)
        .replace("@MESSAGE_ID@", &f.message)
        .replace("@GROUP_ID@", &f.group)
        .replace("@LEAVABLE_GROUP_ID@", &f.leavable_group)
        .replace("@EDITABLE_MESSAGE_ID@", &f.editable_message)
        .replace("@THEIR_MESSAGE_ID@", &f.their_message)
        .replace("@LOGOUT_TOKEN@", &f.logout_token);
    assert!(!filled.contains('@'), "a placeholder of {} was left unfilled:\n{filled}", template.display());
    filled
}

/// How many operations the summary says were tested (`Tested: 12`).
fn tested_operations(report: &str) -> Option<usize> {
    report.lines().find_map(|line| line.trim().strip_prefix("Tested:")?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_the_served_document() {
    let python = python();
    let command = schemathesis(&python);
    let dir = TempDir::new().unwrap();
    // Every limit off: schemathesis sends hundreds of requests as one user from one address,
    // and the point is to reach the routes' logic (429 is documented and allowed anyway).
    let server = Launch::new(dir.path())
        .var("RATE_LIMIT_PER_MINUTE", Some("0"))
        .var("SEARCH_LIMIT_PER_MINUTE", Some("0"))
        .start()
        .await;
    let me = server.register("fuzzer").await;
    let other = server.register("partner").await;
    let chat = server.chat(&me, &[&other]).await;
    let id = |message: serde_json::Value| message["_id"].as_str().unwrap().to_owned();
    // Logout revokes every token of its caller: it gets a user of its own, or the first logout
    // would turn every later request of the run into a 401.
    let leaver = server.register("leaver").await;
    let fixtures = Fixtures {
        message: id(server.send_message(&me, &chat, "hello").await),
        editable_message: id(server.send_message(&me, &chat, "edit me").await),
        their_message: id(server.send_message(&other, &chat, "hi").await),
        group: server.chat(&me, &[&other, &leaver]).await,
        leavable_group: server.chat(&me, &[&other, &leaver]).await,
        chat: chat.clone(),
        other_user: other.id.clone(),
        logout_token: leaver.token.clone(),
    };
    let document = server.get("/api/docs-json", None).await.ok(200).clone();
    let operations: usize =
        document["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    assert!(operations >= 12, "{document}");

    let work = TempDir::new().unwrap();
    let config = work.path().join("schemathesis.toml");
    std::fs::write(&config, configuration(&fixtures)).unwrap();
    let mut run = Command::new(&command);
    run.arg("--config-file")
        .arg(&config)
        .args(["run", &server.url("/api/docs-json")])
        .args(["--header", &format!("Authorization: Bearer {}", me.token)])
        .args(["--max-examples", EXAMPLES, "--seed", SEED])
        // Hypothesis keeps its example database in the working directory.
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let (status, stdout, stderr) = run_bounded(run, work.path()).await;
    let report = || {
        let logs = server.logs();
        let lines: Vec<&str> = logs.lines().collect();
        format!(
            "schemathesis exited with {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server (last lines)\n{}",
            status,
            stderr,
            lines[lines.len().saturating_sub(40)..].join("\n"),
        )
    };
    assert!(status.success(), "schemathesis found problems\n{}", report());
    assert_eq!(tested_operations(&stdout), Some(operations), "not every operation was tested\n{}", report());
    assert!(stdout.contains("No issues found"), "{}", report());
    // The server is still whole: the fixtures schemathesis may have touched still answer.
    let after = server.get(&format!("/api/chats/{chat}"), Some(&me.token)).await;
    assert_eq!(after.ok(200)["_id"], json!(chat));
    println!("{stdout}");
}

#[test]
fn reads_the_tested_count_of_the_summary() {
    let summary = "API Operations:\n  Selected: 12/12\n  Tested: 12\n\nTest Phases:\n";
    assert_eq!(tested_operations(summary), Some(12));
    assert_eq!(tested_operations("nothing here"), None);
}
