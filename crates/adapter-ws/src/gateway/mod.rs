//! The chat gateway: maps the contract's Socket.IO events onto the domain services, and
//! delivers domain events to rooms (the notifier port). No business rule lives here; the
//! gateway parses payloads, calls one service method, and shapes the ack.

mod connections;
mod delivered;
mod handler;
mod notifier;
mod pacing;
mod receipts;
mod typing;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use delivered::DeliveryLedger;
pub use handler::ChatGateway;
pub use notifier::SocketNotifier;
pub use pacing::{PacedReceipts, PacingClock, RECEIPT_PACING_TICK};
pub use wire::rooms::{chat_room, user_room};

/// Runs `round` on `owner` every `period` for as long as something else keeps `owner` alive:
/// the task holds it weakly and ends once it is dropped. A round that overruns delays the next
/// rather than bunching them. The gateway's periodic jobs (the sweeper, the server's delivery
/// receipts, receipt pacing) all run this way. Call from inside the Tokio runtime.
fn every<T, F, Fut>(owner: &Arc<T>, period: Duration, round: F)
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let weak = Arc::downgrade(owner);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(owner) = weak.upgrade() else { break };
            round(owner).await;
        }
    });
}

/// The engine's bounds fitted to chat, which the app and the gateway's tests both use:
/// - no binary attachments (no event of the contract carries one; a packet announcing any
///   closes its session, so nobody can make the server buffer binary data);
/// - 128 KiB per message, like the HTTP body limit: the longest message text (10,000
///   characters, however JSON escapes them) fits, nothing much larger does;
/// - 10 s for a new session to connect to a namespace (the client sends CONNECT right after
///   the handshake; an idle unauthenticated session costs memory and nothing else).
pub fn engine_config() -> socketio::EngineConfig {
    socketio::EngineConfig {
        max_payload: 128 * 1024,
        max_attachments: 0,
        connect_timeout: Duration::from_secs(10),
        cors_any_origin: false,
        ..socketio::EngineConfig::default()
    }
}

/// Tunables of the gateway, with production defaults.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// A `isTyping: true` is forwarded at most once per this interval per socket and chat.
    pub typing_throttle: Duration,
    /// A typist that sends nothing for this long is announced as stopped.
    pub typing_expiry: Duration,
    /// How often expired typists are looked for.
    pub typing_sweep: Duration,
    /// The largest catch-up replay (the serialized `chat:join` ack) a socket is sent; a longer
    /// one is answered `recovered: false` and the client reloads history over HTTP. Half the
    /// engine's default outbound queue (2 MiB), so that a replay always fits in the queue with
    /// room for the live frames held behind it: an honest client is never cut off as a slow
    /// consumer for catching up.
    pub catch_up_max_bytes: usize,
    /// Sockets one user may hold on this node (tabs and devices); one more is refused with
    /// CONNECT_ERROR `{message: "Too many connections"}`. 0: no cap.
    pub max_sockets_per_user: u32,
    /// Authenticated sockets one client address may hold on this node (offices behind one NAT
    /// count once); one more is refused the same way. 0: no cap.
    pub max_sockets_per_address: u32,
    /// Loopback peers are not counted per address (default): behind a reverse proxy on the
    /// same host every client is one, and local tools (benchmarks, health probes) are too.
    pub exempt_loopback_from_address_cap: bool,
    /// Each socket's event budget refills at this many events per second (joins, typing and
    /// sends alike). An event past it is acked `rate_limited` with `retryAfterMs`. 0: no budget.
    pub events_per_second: u32,
    /// The budget's size: a client may send this many events at once (joining every chat at
    /// startup). After this many refusals in a row the socket is disconnected.
    pub event_burst: u32,
    /// How often the server's own delivery receipts are written: each chat room that got a
    /// `message:new` since the last flush moves the delivered markers of the users of this
    /// node's sockets in it (at most one marker write per user and chat per period).
    pub delivery_receipt_interval: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            typing_throttle: Duration::from_millis(1_000),
            typing_expiry: Duration::from_millis(4_000),
            typing_sweep: Duration::from_millis(500),
            catch_up_max_bytes: 1024 * 1024,
            max_sockets_per_user: 20,
            max_sockets_per_address: 500,
            exempt_loopback_from_address_cap: true,
            events_per_second: 50,
            event_burst: 200,
            delivery_receipt_interval: Duration::from_secs(1),
        }
    }
}
