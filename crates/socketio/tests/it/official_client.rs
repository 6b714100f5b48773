//! Runs the official `socket.io-client` (Node, `tests/js`) against the conformance server
//! started in-process. Node.js and npm are required: the test fails, it does not skip.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::support::TestServer;
use socketio::conformance;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("js")
}

fn run(command: &mut Command) -> Output {
    let described = format!("{command:?}");
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {described}: {err}; Node.js 20+ and npm must be installed"));
    assert!(
        output.status.success(),
        "{described} failed with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// Installs the pinned client from `package-lock.json` unless it is already there.
fn ensure_client_installed(dir: &Path) {
    if dir.join("node_modules").join("socket.io-client").is_dir() {
        return;
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_socket_io_client_works_with_every_transport_setting() {
    let dir = js_dir();
    run(Command::new("node").arg("--version"));
    ensure_client_installed(&dir);

    let server = TestServer::start(conformance::socket_io(conformance::config()));
    let url = server.url();
    let output = tokio::task::spawn_blocking(move || {
        run(Command::new("node").args(["--test", "client.test.mjs"]).env("SOCKET_IO_URL", url).current_dir(dir))
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}");
    // The runner's summary, so a runner that found no test cannot pass silently.
    assert!(report.contains("# pass 21"), "{report}");
    assert!(report.contains("# fail 0"), "{report}");
}
