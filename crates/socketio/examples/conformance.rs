//! Conformance server for the Socket.IO / Engine.IO test suites and the official clients:
//! `cargo run -p socketio --example conformance` listens on :3000 (or `$PORT`).

use socketio::conformance;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(3000);
    let listener = std::net::TcpListener::bind(("0.0.0.0", port))?;
    println!("socket.io conformance server listening on {}", listener.local_addr()?);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    conformance::serve(conformance::socket_io(conformance::config()), listener, workers)?.await
}
