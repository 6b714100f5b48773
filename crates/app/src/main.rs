//! The `chat-server` binary: reads the configuration, binds the port, and hands over to `app::run`.

use std::net::TcpListener;
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: glibc kept the memory of a burst (password hashes, large
/// pages of history) in its per-thread arenas for good; mimalloc returns it and allocates the
/// many small buffers of the hot paths faster. Measured in docs/performance.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
