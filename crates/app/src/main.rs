//! The `chat-server` binary: parses the command line (`--help`, `--version`, the `migrate`
//! subcommand), reads the configuration from the environment, binds the port, and hands over
//! to `app::run` (or runs the migration).

use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
  SOCKET_PIPELINED_SENDS             sends of one socket handled at once [default: 16; 1 on MongoDB]
  DELIVERY_RECEIPT_INTERVAL_MS       how often the server writes its own delivery receipts; 0: none [default: 1000]
  PRESENCE_HEARTBEAT_MS              with REDIS_URL, how often a node proves it lives [default: 10000]
  PRESENCE_NODE_TTL_MS               with REDIS_URL, silence after which a node is dead [default: 30000]
  PRESENCE_SWEEP_MS                  with REDIS_URL, how often nodes look for dead ones [default: 10000]
  CORS_ORIGIN                        `*` or a comma-separated list of origins [default: *]
  RUST_LOG                           log filter [default: info]
  LOG_FORMAT                         text or json [default: text]
  METRICS_ENABLED                    serve Prometheus metrics at GET /metrics [default: true]
  METRICS_PORT                       serve /metrics only on this port, not on PORT

`chat-server migrate [--dry-run]` adopts the MongoDB database of the previous (NestJS) backend
(MONGODB_URI, MONGODB_DB); see docs/migration.md.

Walkthrough, every setting in detail and the wire contract: README.md and docs/.";

/// A real-time chat server: accounts, chats and messages over HTTP, and a Socket.IO gateway,
/// on one port. With no MONGODB_URI it keeps its data in an embedded store (SQLite).
#[derive(Debug, Parser)]
#[command(name = "chat-server", version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Adopt the MongoDB database of the previous NestJS backend (MONGODB_URI, MONGODB_DB)
    ///
    /// Adds what this server needs alongside the old fields: message seqs, chat counters, 1:1
    /// keys, indexes. Never deletes data; run it again to continue an interrupted run; a
    /// second run changes nothing. Progress on standard output (a bar on a terminal), the
    /// report at the end. See docs/migration.md.
    Migrate {
        /// Report what would change, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    // `--help` and `--version` print and exit here; anything else on the command line is an
    // error that names the argument (exit code 2).
    let Cli { command } = Cli::parse();
    let config = match app::Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("chat-server: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Migrate { dry_run }) = command {
        app::init_tracing(config.log_format);
        return migrate(&config, dry_run);
    }
    // Held to the end of `main`: dropping it writes the log lines still queued.
    let _logs = app::init_buffered_tracing(config.log_format);
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

/// `chat-server migrate`: exit code 0 with the report on standard output, 1 when the
/// migration could not finish (the reason on standard error), 2 without MONGODB_URI.
fn migrate(config: &app::Config, dry_run: bool) -> ExitCode {
    let Some(mongo) = &config.mongodb else {
        eprintln!("chat-server migrate: MONGODB_URI is not set (the migration is for a MongoDB database)");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("chat-server migrate: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::migrate::migrate(mongo, dry_run)) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("chat-server migrate: {error}");
            ExitCode::FAILURE
        }
    }
}
