//! Harness of the end-to-end suites: starts the real `chat-server` binary on a free port with a
//! data directory of the test's choosing, waits until it answers, and drives it over HTTP.
//!
//! A server runs on the embedded store by default, or on MongoDB ([`Launch::mongodb`],
//! [`Backend`]): one SecantusDB wire server per test binary (started on first use by
//! `test_services::mongo`), a fresh database per server.
//!
//! The server is started with `PORT=0`, so the kernel picks a free port and nothing can take it
//! between choosing and binding; the harness reads the address from the server's
//! `listening on http://ADDR` log line, then polls `GET /health` until it answers (bounded,
//! no fixed sleep). The child is killed when the [`Server`] is dropped.

use std::env;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// A JWT secret long enough for the server to accept.
pub const JWT_SECRET: &str = "e2e-secret-0123456789abcdef-0123456789abcdef";

/// How long a server may take to announce its address, to answer `/health`, or to exit.
const STARTUP_LIMIT: Duration = Duration::from_secs(60);
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// The `chat-server` binary, built by `cargo build -p app` (which `cargo xtask test` runs before
/// the tests). `CHAT_SERVER_BIN` overrides the location. When the tests run under plain
/// `cargo test`, the binary is (re)built here first, so it is never stale.
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = env::var_os("CHAT_SERVER_BIN") {
            return PathBuf::from(path);
        }
        // This test runs as <target>/<profile>/deps/<test>-<hash>; the binary sits in <profile>.
        let exe = env::current_exe().unwrap_or_else(|e| panic!("cannot locate the test binary: {e}"));
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()))
            .to_path_buf();
        build_server(&profile_dir);
        let binary = profile_dir.join(format!("chat-server{}", env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "{} does not exist: build it with `cargo build -p app` (or run `cargo xtask test`), \
             or point CHAT_SERVER_BIN at it",
            binary.display()
        );
        binary
    })
}

/// Runs `cargo build -p app --bin chat-server` into the same target directory and profile as
/// this test; a no-op when it is up to date.
fn build_server(profile_dir: &Path) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let Some(target_dir) = profile_dir.parent() else { return };
    let mut command = Command::new(cargo);
    command.args(["build", "--quiet", "-p", "app", "--bin", "chat-server", "--target-dir"]).arg(target_dir);
    if profile_dir.file_name().is_some_and(|name| name == "release") {
        command.arg("--release");
    }
    match command.status() {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("`cargo build -p app` failed with {status}"),
        Err(e) => panic!("cannot run cargo to build chat-server: {e}"),
    }
}

/// A running `chat-server` child process.
pub struct Server {
    child: Child,
    readers: Vec<std::thread::JoinHandle<()>>,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
    client: reqwest::Client,
}

/// How to start a server: its data directory and any extra environment.
pub struct Launch<'a> {
    pub data_dir: &'a Path,
    pub env: Vec<(&'a str, String)>,
}

impl<'a> Launch<'a> {
    pub fn new(data_dir: &'a Path) -> Self {
        Self { data_dir, env: vec![("JWT_SECRET", JWT_SECRET.to_owned())] }
    }

    /// Sets (or with `None`, unsets) a variable.
    pub fn var(mut self, name: &'a str, value: Option<&str>) -> Self {
        self.env.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            self.env.push((name, value.to_owned()));
        }
        self
    }

    /// Uses MongoDB: sets `MONGODB_URI` and `MONGODB_DB`.
    pub fn mongodb(self, uri: &str, database: &str) -> Self {
        self.var("MONGODB_URI", Some(uri)).var("MONGODB_DB", Some(database))
    }

    /// Uses the store `backend` names (the embedded one needs nothing: it lives in `data_dir`).
    pub fn backend(self, backend: &Backend) -> Self {
        match backend {
            Backend::Embedded => self.var("MONGODB_URI", None).var("MONGODB_DB", None),
            Backend::Mongo { uri, database } => self.mongodb(uri, database),
        }
    }

    /// Starts the server and waits until `GET /health` answers 200.
    pub async fn start(self) -> Server {
        let mut command = self.command();
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", server_binary().display()));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_tx, address_rx) = tokio::sync::oneshot::channel();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(collect_lines(stdout, logs.clone(), Some(address_tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(collect_lines(stderr, logs.clone(), None));
        }
        let address = match tokio::time::timeout(STARTUP_LIMIT, address_rx).await {
            Ok(Ok(address)) => address,
            Ok(Err(_)) => {
                let status = child.wait().ok();
                panic!("chat-server exited ({status:?}) before listening; its output:\n{}", joined(&logs))
            }
            Err(_) => {
                let _ = child.kill();
                panic!("chat-server did not announce its address in time; its output:\n{}", joined(&logs))
            }
        };
        let server = Server { child, readers, base: format!("http://{address}"), logs, client: reqwest::Client::new() };
        server.wait_healthy().await;
        server
    }

    /// The command that would start this server, for tests that watch it fail.
    pub fn command(&self) -> Command {
        let mut command = Command::new(server_binary());
        command
            .env_clear()
            .env("PATH", env::var_os("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("HOST", "127.0.0.1")
            .env("DATA_DIR", self.data_dir)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            // Every client of a suite registers and logs in from 127.0.0.1, far more often
            // than one person would; the attempt limits have tests of their own
            // (adapter-http's auth_limits). A test may set them back with `var`.
            .env("AUTH_LIMIT_PER_EMAIL_PER_MINUTE", "0")
            .env("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", "0")
            // Suites create chats for their scenarios as fast as they can, and one user of a
            // suite may start more than ten in a minute; the creation budget has tests of its
            // own (chat-domain's chats tests, adapter-http's chats). A test may set it with `var`.
            .env("CHAT_CREATE_LIMIT_PER_MINUTE", "0")
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }
}

/// The store a server under test runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store in the server's data directory.
    Embedded,
    /// A MongoDB database. Several servers given the same one share their data.
    Mongo { uri: String, database: String },
}

impl Backend {
    /// A database no other server of this test process uses, on the test binary's shared
    /// SecantusDB (started on first use; a test fails with instructions when SecantusDB is not
    /// installed).
    pub async fn fresh_mongo() -> Backend {
        let server = shared_mongo().await;
        Backend::Mongo { uri: server.uri(), database: test_services::mongo::fresh_database_name() }
    }
}

/// The SecantusDB wire server shared by every test of this test binary (in-memory storage;
/// stopped when the test process ends).
pub async fn shared_mongo() -> &'static test_services::mongo::Server {
    test_services::mongo::shared_server().await
}

/// Reads a child's output line by line into `logs` until it closes, and sends the address of
/// the first `listening on http://ADDR` line. Reading to the end keeps the pipe from filling.
fn collect_lines(
    stream: impl std::io::Read + Send + 'static,
    logs: Arc<Mutex<Vec<String>>>,
    mut address_tx: Option<tokio::sync::oneshot::Sender<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(address) = listening_address(&line) {
                if let Some(tx) = address_tx.take() {
                    let _ = tx.send(address);
                }
            }
            logs.lock().unwrap_or_else(|e| e.into_inner()).push(line);
        }
    })
}

fn listening_address(line: &str) -> Option<String> {
    let (_, rest) = line.split_once("listening on http://")?;
    let address: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || ".:[]".contains(*c)).collect();
    (!address.is_empty()).then_some(address)
}

fn joined(logs: &Mutex<Vec<String>>) -> String {
    logs.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
}

/// A registered user: its id and access token.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub token: String,
}

/// A response: status, `Retry-After` and friends, and the body as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the status and the NestJS error shape; returns the message.
    #[track_caller]
    pub fn error(&self, status: u16) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["statusCode"], status, "body: {}", self.body);
        assert_eq!(self.body["error"], self.status.canonical_reason().unwrap_or_default(), "body: {}", self.body);
        assert_eq!(self.body.as_object().map(|o| o.len()), Some(3), "body: {}", self.body);
        self.body["message"].as_str().unwrap_or_else(|| panic!("no message in {}", self.body)).to_owned()
    }

    /// Asserts the status; returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

impl Server {
    /// Starts a server on `data_dir` with the shared test secret and default settings.
    pub async fn start(data_dir: &Path) -> Server {
        Launch::new(data_dir).start().await
    }

    /// Starts a server on `backend` with the shared test secret and default settings.
    pub async fn start_on(data_dir: &Path, backend: &Backend) -> Server {
        Launch::new(data_dir).backend(backend).start().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Everything the server printed so far.
    pub fn logs(&self) -> String {
        joined(&self.logs)
    }

    async fn wait_healthy(&self) {
        let deadline = Instant::now() + STARTUP_LIMIT;
        let mut wait = Duration::from_millis(5);
        loop {
            if let Ok(response) = self.client.get(self.url("/health")).send().await {
                if response.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "chat-server never became healthy; its output:\n{}", self.logs());
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_millis(200));
        }
    }

    /// Sends a request; `body` goes out as JSON.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// Sends a prepared request (for raw bodies and odd headers).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap_or_else(|e| panic!("request failed: {e}\n{}", self.logs()));
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_else(|e| panic!("cannot read the body: {e}"));
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
        };
        Reply { status, headers, body }
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Registers `<name>@example.com` / `name` with password `secret123`.
    pub async fn register(&self, name: &str) -> Account {
        let body =
            serde_json::json!({"email": format!("{name}@example.com"), "username": name, "password": "secret123"});
        let reply = self.post("/api/auth/register", None, &body).await;
        let body = reply.ok(201);
        Account { id: text(&body["user"]["_id"]), token: text(&body["accessToken"]) }
    }

    /// Creates (or finds) a chat of `owner` with `others`; returns its id.
    pub async fn chat(&self, owner: &Account, others: &[&Account]) -> String {
        let ids: Vec<&str> = others.iter().map(|a| a.id.as_str()).collect();
        let reply = self.post("/api/chats", Some(&owner.token), &serde_json::json!({ "participants": ids })).await;
        assert!(reply.status == StatusCode::CREATED || reply.status == StatusCode::OK, "{reply:?}");
        text(&reply.body["_id"])
    }

    /// Sends `text` as `sender`; returns the message.
    pub async fn send_message(&self, sender: &Account, chat: &str, text: &str) -> Value {
        let reply =
            self.post("/api/messages", Some(&sender.token), &serde_json::json!({"chat": chat, "text": text})).await;
        reply.ok(201).clone()
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running (not exited, not killed).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends SIGTERM and waits for the process to exit and its output to be read.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        // std can only SIGKILL; `kill -TERM` avoids unsafe code for one signal.
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "cannot send SIGTERM to {pid}");
        self.wait_exit()
    }

    /// Sends SIGKILL (no chance to flush anything) and waits for the process to exit.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        self.wait_exit()
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_LIMIT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    for reader in self.readers.drain(..) {
                        let _ = reader.join();
                    }
                    return status;
                }
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                Ok(None) => panic!("chat-server did not exit in time; its output:\n{}", self.logs()),
                Err(e) => panic!("cannot wait for chat-server: {e}"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("expected a string, got {value}")).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_from_the_log_line() {
        let line = "2026-11-25T19:13:00.123Z  INFO app: listening on http://127.0.0.1:41234 data_dir=/tmp/x";
        assert_eq!(listening_address(line).as_deref(), Some("127.0.0.1:41234"));
        let json = r#"{"fields":{"message":"listening on http://[::1]:80"}}"#;
        assert_eq!(listening_address(json).as_deref(), Some("[::1]:80"));
        assert_eq!(listening_address("nothing here"), None);
    }
}
