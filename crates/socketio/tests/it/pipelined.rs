//! Events a handler declares pipelined: they overlap up to the configured bound, start in
//! arrival order, and any other event waits for every one before it.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use async_trait::async_trait;
use futures_util::SinkExt;
use parking_lot::Mutex;
use serde_json::Value;
use socketio::{AckSender, EngineConfig, Handshake, NamespaceHandler, Payload, Socket, SocketIo};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{relaxed, wait_for, TestServer, WsClient};

/// `hold` (pipelined) waits for a permit of `gate`, then counts itself done; `count` (not
/// pipelined) acknowledges how many holds were done when it ran.
struct Gated {
    gate: Semaphore,
    running: AtomicUsize,
    most_running: AtomicUsize,
    done: AtomicUsize,
    started: Mutex<Vec<u64>>,
}

#[async_trait]
impl NamespaceHandler for Gated {
    async fn on_connect(&self, socket: Socket, auth: Value, _handshake: &Handshake) -> Result<(), Value> {
        // What `WsClient::connected` waits for.
        let _ = socket.emit("auth", &auth);
        Ok(())
    }

    async fn on_event(&self, _socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        match event.as_str() {
            "hold" => {
                self.started.lock().push(payload.args.first().and_then(Value::as_u64).unwrap_or(0));
                let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_running.fetch_max(now, Ordering::SeqCst);
                self.gate.acquire().await.unwrap().forget();
                self.running.fetch_sub(1, Ordering::SeqCst);
                self.done.fetch_add(1, Ordering::SeqCst);
            }
            "count" => {
                if let Some(ack) = ack {
                    let _ = ack.send(&self.done.load(Ordering::SeqCst));
                }
            }
            _ => {}
        }
    }

    fn pipelined(&self, event: &str) -> bool {
        event == "hold"
    }
}

fn gated_server(max_pipelined_events: usize) -> (TestServer, Arc<Gated>) {
    let io = SocketIo::new(EngineConfig { max_pipelined_events, ..relaxed() });
    let handler = Arc::new(Gated {
        gate: Semaphore::new(0),
        running: AtomicUsize::new(0),
        most_running: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        started: Mutex::new(Vec::new()),
    });
    io.namespace("/", Arc::clone(&handler));
    (TestServer::start(io), handler)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_events_overlap_up_to_the_bound_and_start_in_order() {
    let (server, handler) = gated_server(3);
    let mut client = WsClient::connected(&server).await;
    let batch: Vec<_> = (0..7).map(|i| Ok(Message::text(format!("42[\"hold\",{i}]")))).collect();
    client.stream.send_all(&mut futures_util::stream::iter(batch)).await.unwrap();
    // One at a time, the first would hold the connection and no other could start.
    wait_for("three holds running at once", || handler.running.load(Ordering::SeqCst) == 3).await;
    handler.gate.add_permits(7);
    wait_for("every hold done", || handler.done.load(Ordering::SeqCst) == 7).await;
    assert_eq!(handler.most_running.load(Ordering::SeqCst), 3, "never more than the bound");
    assert_eq!(*handler.started.lock(), (0..7).collect::<Vec<u64>>(), "started in arrival order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_other_event_waits_for_the_pipelined_ones_before_it() {
    let (server, handler) = gated_server(16);
    let mut client = WsClient::connected(&server).await;
    client.send("42[\"hold\",0]").await;
    client.send("42[\"hold\",1]").await;
    client.send("421[\"count\"]").await;
    wait_for("both holds running", || handler.running.load(Ordering::SeqCst) == 2).await;
    handler.gate.add_permits(2);
    // Run at once, the count would have seen no hold done.
    client.expect_text("431[2]").await;
}
