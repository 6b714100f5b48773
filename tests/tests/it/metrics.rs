//! `GET /metrics` end to end: scraped before and after real traffic (register, HTTP and
//! Socket.IO sends, a catch-up join, a refused rate-limited send), the counters that traffic
//! must move have moved, by the right labels, and no id ever shows up in a label; and where it
//! is served (`METRICS_PORT`, `METRICS_ENABLED`).

use std::collections::HashMap;
use std::time::Duration;

use e2e::{Account, Launch, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio_tungstenite::tungstenite::Message;

const PATIENCE: Duration = Duration::from_secs(10);

/// Every sample of a Prometheus text exposition, by series (`name{labels}`).
async fn scrape(client: &reqwest::Client, url: &str) -> HashMap<String, f64> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let text = response.text().await.unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
            (series.to_owned(), value.parse().unwrap_or_else(|_| panic!("not a value: {line}")))
        })
        .collect()
}

/// The value of `series`, 0 when absent (a series appears with its first recording).
fn value(samples: &HashMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

/// A raw Socket.IO client over a WebSocket, one request at a time.
struct Socket {
    ws: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    next_ack: u64,
}

impl Socket {
    async fn connect(server: &Server, account: &Account) -> Socket {
        let url = server.url("/socket.io/?EIO=4&transport=websocket").replacen("http://", "ws://", 1);
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let mut socket = Socket { ws, next_ack: 0 };
        socket.ws.send(Message::text(format!("40{}", json!({ "token": account.token })))).await.unwrap();
        socket.until(|text| text.starts_with("40{")).await;
        socket
    }

    /// Reads until a text frame satisfies `done`, answering pings; returns that frame.
    async fn until(&mut self, done: impl Fn(&str) -> bool) -> String {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next()).await.expect("no frame in time");
            let Some(Ok(Message::Text(text))) = frame else {
                assert!(matches!(frame, Some(Ok(_))), "the socket closed: {frame:?}");
                continue;
            };
            if text.as_str() == "2" {
                self.ws.send(Message::text("3")).await.unwrap();
            } else if done(text.as_str()) {
                return text.to_string();
            }
        }
    }

    /// Emits `event` with an ack id and returns the ack's argument.
    async fn call(&mut self, event: &str, data: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.ws.send(Message::text(format!("42{id}{}", json!([event, data])))).await.unwrap();
        let prefix = format!("43{id}[");
        let ack = self.until(|text| text.starts_with(&prefix)).await;
        let args: Vec<Value> = serde_json::from_str(&ack[prefix.len() - 1..]).unwrap();
        args.into_iter().next().unwrap()
    }
}

#[tokio::test]
async fn counters_move_with_traffic() {
    let dir = TempDir::new().unwrap();
    let server = Launch::new(dir.path()).var("RATE_LIMIT_PER_MINUTE", Some("3")).start().await;
    let client = reqwest::Client::new();
    let metrics = server.url("/metrics");
    let before = scrape(&client, &metrics).await;

    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let chat = server.chat(&alice, &[&bob]).await;
    server.send_message(&alice, &chat, "one over http").await;

    let mut socket = Socket::connect(&server, &alice).await;
    let joined = socket.call("chat:join", json!({ "chatId": chat, "sinceSeq": 0 })).await;
    assert_eq!(joined["recovered"], true, "{joined}");
    let sent = socket.call("message:send", json!({ "chatId": chat, "text": "two over socket.io" })).await;
    assert_eq!(sent["success"], true, "{sent}");
    server.send_message(&alice, &chat, "three over http").await;
    // A fourth message in the minute is over RATE_LIMIT_PER_MINUTE for alice.
    let refused = server.post("/api/messages", Some(&alice.token), &json!({ "chat": chat, "text": "four" })).await;
    refused.error(429);

    let after = scrape(&client, &metrics).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(moved("chat_messages_accepted_total{transport=\"http\"}"), 2.0);
    assert_eq!(moved("chat_messages_accepted_total{transport=\"socketio\"}"), 1.0);
    assert_eq!(moved("chat_rate_limited_total{kind=\"messages\"}"), 1.0);
    assert_eq!(moved("chat_catchup_replays_total{outcome=\"recovered\"}"), 1.0);
    // Alice's socket got message:new for the second and third messages, at least.
    assert!(moved("chat_deliveries_total") >= 2.0, "{after:?}");
    assert_eq!(value(&after, "chat_sockets_connected"), 1.0);
    assert_eq!(value(&after, "chat_engineio_sessions{transport=\"websocket\"}"), 1.0);
    assert!(value(&after, "chat_rooms") >= 2.0, "alice's user room and the chat's room: {after:?}");

    // HTTP requests by route template (never the path with its ids) and status.
    let http = |method: &str, route: &str, status: u16| {
        format!("http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
    };
    assert_eq!(moved(&http("POST", "/api/auth/register", 201)), 2.0);
    assert_eq!(moved(&http("POST", "/api/messages", 201)), 2.0);
    assert_eq!(moved(&http("POST", "/api/messages", 429)), 1.0);
    assert_eq!(moved(&http("GET", "/socket.io/", 101)), 1.0);
    // Storage latencies by operation, and SQLite's group commits.
    let storage = |operation: &str| {
        format!("chat_storage_operation_duration_seconds_count{{store=\"sqlite\",operation=\"{operation}\"}}")
    };
    assert_eq!(moved(&storage("append_message")), 3.0);
    assert_eq!(moved(&storage("insert_user")), 2.0);
    assert!(moved("chat_sqlite_write_batch_size_count") >= 1.0, "{after:?}");

    // No user or chat id in any label.
    for series in after.keys() {
        for id in [&alice.id, &bob.id, &chat] {
            assert!(!series.contains(id.as_str()), "{series} names {id}");
        }
    }
}

#[tokio::test]
async fn metrics_port_moves_the_endpoint_off_the_main_port_and_the_switch_turns_it_off() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let dir = TempDir::new().unwrap();
    let server = Launch::new(dir.path()).var("METRICS_PORT", Some(&port.to_string())).start().await;
    let client = reqwest::Client::new();
    server.get("/metrics", None).await.error(404);
    let samples = scrape(&client, &format!("http://127.0.0.1:{port}/metrics")).await;
    assert!(samples.contains_key("chat_sockets_connected"), "{samples:?}");

    let dir = TempDir::new().unwrap();
    let server = Launch::new(dir.path()).var("METRICS_ENABLED", Some("false")).start().await;
    server.get("/metrics", None).await.error(404);
}
