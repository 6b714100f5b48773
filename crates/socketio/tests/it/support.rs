//! Test harness shared by the integration tests: an in-process server on a free port and raw
//! Engine.IO clients over HTTP long-polling (reqwest) and WebSocket (tokio-tungstenite).

#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use socketio::{conformance, EngineConfig, SocketIo};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should happen promptly before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A server running in-process until dropped.
pub struct TestServer {
    pub io: SocketIo,
    pub port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    /// Binds 127.0.0.1:0 first, then serves `io` on it: clients can connect at once.
    pub fn start(io: SocketIo) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // One worker: the handlers of a session run on one thread, which keeps the batching
        // assertions deterministic.
        let server = conformance::serve(io.clone(), listener, 1).unwrap();
        let handle = server.handle();
        tokio::spawn(server);
        Self { io, port, handle }
    }

    /// The same, on actix-web's own `HttpServer` (the dispatcher keeps WebSocket connections).
    pub fn start_on_actix_web(io: SocketIo) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let app_io = io.clone();
        let server =
            actix_web::HttpServer::new(move || actix_web::App::new().configure(socketio::configure(app_io.clone())))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { io, port, handle }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn eio_url(&self, query: &str) -> String {
        format!("http://127.0.0.1:{}/socket.io/?{query}", self.port)
    }

    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://127.0.0.1:{}/socket.io/?{query}", self.port)
    }

    /// Waits until the server has no session, socket or room left.
    pub async fn wait_until_empty(&self) {
        let io = self.io.clone();
        wait_for("sessions, sockets and rooms to be released", move || {
            io.session_count() == 0 && io.socket_count() == 0 && io.room_count() == 0
        })
        .await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Sends the stop command now; the returned future only reports completion.
        drop(self.handle.stop(false));
    }
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub async fn wait_for(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The conformance settings with a relaxed heartbeat, so tests that are not about the
/// heartbeat do not race it on a loaded machine.
pub fn relaxed() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(10),
        ..conformance::config()
    }
}

/// The conformance server (echo handler on `/` and `/custom`) with `config`.
pub fn echo_server(config: EngineConfig) -> TestServer {
    TestServer::start(conformance::socket_io(config))
}

/// Status and JSON body of an Engine.IO error response, which must be `application/json`.
pub async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(content_type.as_deref(), Some("application/json"));
    (status, body)
}

/// Parses an open packet (`0{...}`).
pub fn open_json(packet: &str) -> Value {
    let json = packet.strip_prefix('0').expect("open packet");
    serde_json::from_str(json).unwrap()
}

// ----- HTTP long-polling -----

pub struct Poller {
    pub http: reqwest::Client,
    pub base: String,
    pub sid: String,
}

impl Poller {
    /// Performs the polling handshake; returns the client and the open packet's JSON.
    pub async fn handshake(server: &TestServer) -> (Self, Value) {
        let http = reqwest::Client::new();
        let response = http.get(server.eio_url("EIO=4&transport=polling")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let open = open_json(&response.text().await.unwrap());
        let sid = open["sid"].as_str().unwrap().to_owned();
        let base = format!("http://127.0.0.1:{}/socket.io/?EIO=4&transport=polling&sid={sid}", server.port);
        (Self { http, base, sid }, open)
    }

    /// Handshake plus CONNECT to `/`; returns after the CONNECT acknowledgement and `auth`.
    pub async fn connected(server: &TestServer) -> Self {
        let (poller, _) = Self::handshake(server).await;
        poller.post_ok("40").await;
        let packets = poller.packets().await;
        assert!(packets[0].starts_with("40{\"sid\":"), "{packets:?}");
        assert_eq!(packets[1], "42[\"auth\",{}]");
        poller
    }

    pub async fn get(&self) -> (u16, String) {
        let response =
            tokio::time::timeout(PATIENCE, self.http.get(&self.base).send()).await.expect("poll timed out").unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, String) {
        let response = self.http.post(&self.base).body(body).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn post_ok(&self, body: &'static str) {
        assert_eq!(self.post(body).await, (200, "ok".to_owned()));
    }

    /// One GET, split into packets; pings are answered and left out.
    pub async fn packets(&self) -> Vec<String> {
        loop {
            let (status, body) = self.get().await;
            assert_eq!(status, 200, "{body}");
            let mut packets = Vec::new();
            for packet in body.split('\x1e') {
                if packet == "2" {
                    self.post_ok("3").await;
                } else {
                    packets.push(packet.to_owned());
                }
            }
            if !packets.is_empty() {
                return packets;
            }
        }
    }

    /// Polls until the server reports the session gone (close packet or unknown sid).
    pub async fn expect_closed(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "session still open");
            let (status, body) = self.get().await;
            if status == 400 {
                let json: Value = serde_json::from_str(&body).unwrap();
                assert!(json["code"] == 1 || json["code"] == 3, "{body}");
                return;
            }
            if body.split('\x1e').any(|p| p == "1") {
                return;
            }
        }
    }
}

// ----- WebSocket -----

pub struct WsClient {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

#[derive(Debug, PartialEq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl WsClient {
    pub async fn connect(url: &str) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        Self { stream }
    }

    /// A direct WebSocket session; returns the client and the open packet's JSON.
    pub async fn open(server: &TestServer) -> (Self, Value) {
        let mut client = Self::connect(&server.ws_url("EIO=4&transport=websocket")).await;
        let open = match client.recv().await {
            Some(Frame::Text(text)) => open_json(&text),
            other => panic!("expected open packet, got {other:?}"),
        };
        (client, open)
    }

    /// Direct WebSocket plus CONNECT to `/`, after the acknowledgement and `auth`.
    pub async fn connected(server: &TestServer) -> Self {
        let (mut client, _) = Self::open(server).await;
        client.send("40").await;
        client.expect_text_prefix("40{\"sid\":").await;
        client.expect_text("42[\"auth\",{}]").await;
        client
    }

    pub async fn send(&mut self, text: &str) {
        self.stream.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_binary(&mut self, data: &[u8]) {
        self.stream.send(Message::binary(data.to_vec())).await.unwrap();
    }

    /// The next data frame; pings are answered and skipped. `None` once closed.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            let message =
                tokio::time::timeout(PATIENCE, self.stream.next()).await.expect("no frame from server in time");
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    // A failed pong just means the server is closing; recv will say so.
                    let _ = self.stream.send(Message::text("3")).await;
                }
                Some(Ok(Message::Text(text))) => return Some(Frame::Text(text.to_string())),
                Some(Ok(Message::Binary(data))) => return Some(Frame::Binary(data.to_vec())),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    }

    pub async fn expect_text(&mut self, expected: &str) {
        assert_eq!(self.recv().await, Some(Frame::Text(expected.to_owned())));
    }

    pub async fn expect_text_prefix(&mut self, prefix: &str) -> String {
        match self.recv().await {
            Some(Frame::Text(text)) if text.starts_with(prefix) => text,
            other => panic!("expected a frame starting with {prefix:?}, got {other:?}"),
        }
    }

    /// Reads until the server closes the connection.
    pub async fn expect_closed(&mut self) {
        while let Some(frame) = self.recv().await {
            // Frames queued before the close may still arrive first.
            let _ = frame;
        }
    }
}
