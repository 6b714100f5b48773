//! WebSocket connections taken off actix's HTTP dispatcher (`HttpServer`), byte by byte: frames
//! a client sends together with its handshake, upgrade requests for other paths; and the same
//! engine mounted on a plain actix-web `HttpServer`, where the dispatcher keeps the connection.

use std::sync::Arc;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{echo_server, relaxed, wait_for, Poller, TestServer, WsClient, PATIENCE};
use socketio::conformance;

/// The key of RFC 6455's example handshake, and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn upgrade_request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// A masked client text frame (shorter than 126 bytes).
fn client_text(text: &str) -> Vec<u8> {
    let mask = [7, 1, 3, 9];
    let mut frame = vec![0x81, 0x80 | u8::try_from(text.len()).unwrap()];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// A WebSocket client that reads the server's bytes itself.
struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawClient {
    async fn connect(server: &TestServer) -> Self {
        Self { stream: TcpStream::connect(("127.0.0.1", server.port)).await.unwrap(), buf: Vec::new() }
    }

    /// Reads more bytes; `false` at the end of the connection.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0_u8; 4096];
        let read = tokio::time::timeout(PATIENCE, self.stream.read(&mut chunk)).await.expect("no bytes in time");
        let read = read.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..read]);
        read > 0
    }

    /// The response head, up to its blank line.
    async fn head(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf.drain(..end + 4).collect()).unwrap();
                return head;
            }
            assert!(self.fill().await, "closed before the response head");
        }
    }

    /// The next server text frame (unmasked, final, shorter than 64 KiB).
    async fn text(&mut self) -> String {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[0], 0x81, "a final text frame");
                let (len, start) = match self.buf[1] {
                    126 if self.buf.len() >= 4 => (usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])), 4),
                    126 => (usize::MAX, 0),
                    len => (usize::from(len), 2),
                };
                if len != usize::MAX && self.buf.len() >= start + len {
                    let frame: Vec<u8> = self.buf.drain(..start + len).skip(start).collect();
                    return String::from_utf8(frame).unwrap();
                }
            }
            assert!(self.fill().await, "closed before a complete frame");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_sent_with_the_handshake_are_not_lost() {
    let server = echo_server(relaxed());
    let mut client = RawClient::connect(&server).await;
    // The request and the CONNECT packet in one write: the server reads both at once.
    let mut bytes = upgrade_request("/socket.io/?EIO=4&transport=websocket");
    bytes.extend(client_text("40"));
    client.stream.write_all(&bytes).await.unwrap();

    let head = client.head().await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains(&format!("sec-websocket-accept: {ACCEPT}\r\n")), "{head}");
    let open = client.text().await;
    assert!(open.starts_with("0{"), "{open}");
    let connected = client.text().await;
    assert!(connected.starts_with("40{\"sid\":"), "{connected}");
    assert_eq!(client.text().await, "42[\"auth\",{}]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_request_for_another_path_gets_404_and_the_connection_ends() {
    let server = echo_server(relaxed());
    let mut client = RawClient::connect(&server).await;
    client.stream.write_all(&upgrade_request("/elsewhere/?EIO=4&transport=websocket")).await.unwrap();
    let head = client.head().await;
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    assert!(!client.fill().await, "the connection ends after the refusal");
    assert_eq!(server.io.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_websocket_handshake_gets_the_engine_io_error() {
    let server = echo_server(relaxed());
    let mut client = RawClient::connect(&server).await;
    client.stream.write_all(&upgrade_request("/socket.io/?EIO=3&transport=websocket")).await.unwrap();
    let head = client.head().await;
    assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
    // CORS is on in the conformance settings, but this request has no Origin.
    assert!(!head.to_ascii_lowercase().contains("access-control"), "{head}");
    while client.fill().await {}
    let body = String::from_utf8(client.buf.clone()).unwrap();
    assert_eq!(body, r#"{"code":5,"message":"Unsupported protocol version"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_mounted_on_a_plain_actix_web_server_serves_websockets_too() {
    let server = TestServer::start_on_actix_web(conformance::socket_io(relaxed()));
    let mut client = WsClient::connected(&server).await;
    client.send("42[\"message\",1]").await;
    client.expect_text("42[\"message-back\",1]").await;

    // And the upgrade from polling, on the same server.
    let poller = Arc::new(Poller::connected(&server).await);
    let mut ws = WsClient::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={}", poller.sid))).await;
    ws.send("2probe").await;
    ws.expect_text("3probe").await;
    ws.send("5").await;
    ws.send("42[\"message\",2]").await;
    ws.expect_text("42[\"message-back\",2]").await;

    drop(client);
    drop(ws);
    let io = server.io.clone();
    wait_for("both sessions to end", move || io.session_count() == 0).await;
}

/// A masked client text frame of 126 bytes up to 64 KiB.
fn client_text_medium(text: &str) -> Vec<u8> {
    let mask = [5, 2, 8, 4];
    let mut frame = vec![0x81, 0x80 | 126];
    frame.extend_from_slice(&u16::try_from(text.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_session_whose_client_stopped_reading_loses_its_connection() {
    // A queue larger than the kernel's socket buffers: it overflows only once the connection's
    // writer is stuck with frames it cannot hand to the kernel.
    let config = socketio::EngineConfig { outbound_queue_bytes: 8 * 1024 * 1024, ..relaxed() };
    let server = echo_server(config);
    // A small receive buffer that the kernel does not grow: the server's writes stall soon.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], server.port).into()).await.unwrap();
    let mut client = RawClient { stream, buf: Vec::new() };
    let mut bytes = upgrade_request("/socket.io/?EIO=4&transport=websocket");
    bytes.extend(client_text("40"));
    client.stream.write_all(&bytes).await.unwrap();
    assert!(client.head().await.starts_with("HTTP/1.1 101 "));
    assert!(client.text().await.starts_with("0{"));
    assert!(client.text().await.starts_with("40{"));
    assert_eq!(client.text().await, "42[\"auth\",{}]");

    // From here on the client never reads. The echoes fill both socket buffers, then the
    // session's queue, and the session is closed as a slow consumer with frames its writer
    // cannot hand to the kernel: the final flush can never finish, and after its timeout
    // (5 s) the server drops the connection. The client's writes then fail.
    let echo = client_text_medium(&format!("42[\"message\",\"{}\"]", "x".repeat(30_000)));
    let refused = loop {
        let written = tokio::time::timeout(PATIENCE, client.stream.write_all(&echo)).await;
        match written {
            Err(_) => panic!("the server neither read nor dropped the connection"),
            Ok(Err(refused)) => break refused,
            Ok(Ok(())) => {}
        }
    };
    assert!(
        matches!(refused.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe),
        "{refused}"
    );
    assert_eq!(server.io.stats().slow_consumers, 1);
    assert_eq!(server.io.session_count(), 0);
}
