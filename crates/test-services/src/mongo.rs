//! A real MongoDB wire server (SecantusDB's `secantusd-py`) per test binary, and a fresh
//! database per test.
//!
//! The server comes from the test virtualenv that `cargo xtask` prepares; its path is taken
//! from `CHAT_TEST_SECANTUSD`, else `<workspace>/target/test-venv/bin/secantusd-py`. Without it
//! the tests fail with instructions: database tests are never skipped.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mongodb::bson::doc;
use tokio::sync::OnceCell;

use crate::free_port;

/// The replica set SecantusDB advertises in its `hello` reply.
pub const REPLICA_SET: &str = "secantus";

/// How long a server may take to answer its first ping.
const STARTUP_BUDGET: Duration = Duration::from_secs(60);

/// Runs the server as a child of `sh`, which stops it when the test process goes away however
/// it goes (its stdin, a pipe from us, then reaches end of file): with SIGTERM normally, with
/// SIGKILL when we write `crash`. `sh` exits when the server does, so we can see that too.
const SUPERVISOR: &str = r#"
exec 3<&0
"$0" "$@" </dev/null &
server=$!
(
    if read -r command <&3 && [ "$command" = crash ]; then
        kill -KILL "$server"
    else
        kill -TERM "$server"
    fi
) 2>/dev/null &
watcher=$!
wait "$server"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
"#;

/// The `secantusd-py` executable, or a panic saying how to get it.
pub fn secantusd_path() -> PathBuf {
    let fallback = crate::workspace_root().join("target/test-venv/bin/secantusd-py");
    let path = std::env::var_os("CHAT_TEST_SECANTUSD").map(PathBuf::from).unwrap_or(fallback);
    assert!(
        path.is_file(),
        "the MongoDB adapter tests need SecantusDB's secantusd-py, which was not found at {}; \
         run the tests with `cargo xtask test` or run `cargo xtask provision` first, or install it by hand: \
         `python3 -m venv target/test-venv && target/test-venv/bin/pip install SecantusDB==0.7.0b3`, \
         or point CHAT_TEST_SECANTUSD at an existing secantusd-py",
        path.display()
    );
    path
}

/// Where the next server's output goes: named after the test binary and the server's rank in
/// this process, so a run overwrites the previous run's logs instead of piling up new ones.
fn log_path() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let binary = std::env::current_exe().ok().and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()));
    let rank = NEXT.fetch_add(1, Ordering::Relaxed);
    crate::log_dir().join(format!("secantusd-{}-{rank}.log", binary.unwrap_or_default()))
}

/// One running `secantusd-py`, stopped on drop.
pub struct Server {
    pub port: u16,
    pub storage_path: String,
    supervisor: Mutex<Option<(Child, ChildStdin)>>,
    log: PathBuf,
}

impl Server {
    /// Starts a server with in-memory storage on a free port and waits until it answers.
    pub async fn start_in_memory() -> Server {
        Self::start(free_port(), ":memory:").await
    }

    /// Starts a server on `port` keeping its data under `storage_path` (`:memory:` for none),
    /// and waits until it answers a ping.
    pub async fn start(port: u16, storage_path: &str) -> Server {
        Self::start_with(port, storage_path, &[]).await
    }

    /// [`Server::start`] with more command line flags.
    pub async fn start_with(port: u16, storage_path: &str, flags: &[&str]) -> Server {
        let log = log_path();
        let log_file = std::fs::File::create(&log).expect("create server log");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(secantusd_path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--storage-path", storage_path])
            .args(["--log-level", "WARNING"])
            .args(flags)
            .stdin(Stdio::piped())
            .stdout(log_file.try_clone().expect("clone log file"))
            .stderr(log_file)
            .spawn()
            .expect("spawn secantusd-py");
        let stdin = child.stdin.take().expect("piped stdin");
        let server =
            Server { port, storage_path: storage_path.to_owned(), supervisor: Mutex::new(Some((child, stdin))), log };
        server.wait_until_ready().await;
        server
    }

    /// The connection string tests use: the single seed, with the replica set named.
    pub fn uri(&self) -> String {
        format!("mongodb://127.0.0.1:{}/?replicaSet={REPLICA_SET}", self.port)
    }

    /// Starts a server whose acknowledged writes survive a crash (SecantusDB acknowledges
    /// journaled writes before its log reaches the disk unless told to sync on commit).
    pub async fn start_durable(port: u16, storage_path: &str) -> Server {
        Self::start_with(port, storage_path, &["--sync-on-commit"]).await
    }

    /// Pings with a short selection timeout until the server answers, failing the test when
    /// the server exits or takes longer than [`STARTUP_BUDGET`].
    async fn wait_until_ready(&self) {
        let uri = format!("mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=250&connectTimeoutMS=250", self.port);
        let probe = mongodb::Client::with_uri_str(&uri).await.expect("probe client").database("admin");
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                panic!("secantusd-py exited during startup ({status}); its log:\n{}", self.log_text());
            }
            match probe.run_command(doc! { "ping": 1 }).await {
                Ok(_) => return,
                Err(err) if started.elapsed() > STARTUP_BUDGET => {
                    panic!(
                        "secantusd-py did not answer within {STARTUP_BUDGET:?}: {err}; its log:\n{}",
                        self.log_text()
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn exited(&self) -> Option<std::process::ExitStatus> {
        let mut guard = self.supervisor.lock().unwrap();
        guard.as_mut().and_then(|(child, _)| child.try_wait().expect("poll supervisor"))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone.
    pub fn crash(&self) {
        let taken = self.supervisor.lock().unwrap().take();
        if let Some((mut child, mut stdin)) = taken {
            // If the server already died the pipe may be closed; the wait below still holds.
            let _ = stdin.write_all(b"crash\n").and_then(|()| stdin.flush());
            child.wait().expect("wait for the supervisor");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing its stdin makes the supervisor stop the server with SIGTERM; no need to wait.
        if let Ok(mut guard) = self.supervisor.lock() {
            guard.take();
        }
    }
}

/// The server shared by every test of one test binary.
pub async fn shared_server() -> &'static Server {
    static SERVER: OnceCell<Server> = OnceCell::const_new();
    SERVER.get_or_init(Server::start_in_memory).await
}

/// A database name not used by any other test of this process.
pub fn fresh_database_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("chat_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}
