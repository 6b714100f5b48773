//! The `chat-server` binary: parses the command line (`--help`, `--version`), reads the
//! configuration from the environment, binds the port, and hands over to `app::run`.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc malloc: glibc kept the memory of a burst (password hashes, large
/// pages of history) in its per-thread arenas for good; mimalloc returns it and allocates the
/// many small buffers of the hot paths faster. Measured in docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every setting is an environment variable; `--help` lists them all (a test checks that it
/// names every variable of the README's configuration table).
const ENVIRONMENT: &str = "\
Configuration (environment variables; 0 turns a limit off):
  PORT                               HTTP and WebSocket port [default: 3001]
  HOST                               address to bind [default: 0.0.0.0]
  DATA_DIR                           directory of the embedded SQLite store [default: ./data]
  MONGODB_URI                        use MongoDB (a replica set) instead of the embedded store
  MONGODB_DB                         database name on MongoDB [default: chat]
  REDIS_URL                          run as one node of a cluster through this Redis (rediss:// for TLS)
  REDIS_TLS_CA_FILE                  with rediss://, PEM of the CAs to trust [default: system roots]
  JWT_SECRET                         HS256 secret, 32+ bytes [default: random per process]
  JWT_TTL_SECS                       access token lifetime [default: 86400]
  RATE_LIMIT_PER_MINUTE              messages per user per minute [default: 30]
  AUTH_LIMIT_PER_EMAIL_PER_MINUTE    register and login attempts per email [default: 10]
  AUTH_LIMIT_PER_ADDRESS_PER_MINUTE  register and login attempts per client address [default: 60]
  SEARCH_LIMIT_PER_MINUTE            user searches per user [default: 60]
  TRUST_PROXY                        count attempts by X-Forwarded-For's last entry [default: false]
  HASH_THREADS                       password hashes at once [default: number of cores]
  HASH_QUEUE_WAIT_MS                 longest wait for a hashing thread, then 503 [default: 2000]
  MAX_GROUP_SIZE                     participants of a chat, the creator included [default: 100]
  CHAT_CREATE_LIMIT_PER_MINUTE       new chats a user creates per minute [default: 10]
  SOCKETS_PER_USER                   Socket.IO connections per user on a node [default: 20]
  SOCKETS_PER_ADDRESS                Socket.IO connections per client address on a node [default: 500]
  SOCKET_EVENT_BURST                 events a socket may send at once [default: 200]
  SOCKET_EVENTS_PER_SECOND           how fast that budget refills [default: 50]
  CORS_ORIGIN                        `*` or a comma-separated list of origins [default: *]
  RUST_LOG                           log filter [default: info]
  LOG_FORMAT                         text or json [default: text]
  METRICS_ENABLED                    serve Prometheus metrics at GET /metrics [default: true]
  METRICS_PORT                       serve /metrics only on this port, not on PORT

Walkthrough, every setting in detail and the wire contract: README.md and docs/.";

/// A real-time chat server: accounts, chats and messages over HTTP, and a Socket.IO gateway,
/// on one port. With no MONGODB_URI it keeps its data in an embedded store (SQLite).
#[derive(Debug, Parser)]
#[command(name = "chat-server", version, after_help = ENVIRONMENT)]
struct Cli {}

fn main() -> ExitCode {
    // `--help` and `--version` print and exit here; anything else on the command line is an
    // error that names the argument (exit code 2).
    let Cli {} = Cli::parse();
    let config = match app::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("chat-server: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    app::init_tracing(config.log_format);
    let listener = match TcpListener::bind((config.host.as_str(), config.port)) {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!(%error, host = %config.host, port = config.port, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    match actix_web::rt::System::new().block_on(app::run(config, listener)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "server failed");
            ExitCode::FAILURE
        }
    }
}
