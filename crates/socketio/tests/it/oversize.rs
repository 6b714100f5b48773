//! A client that starts a frame declaring more than `maxPayload` and trickles its body is cut
//! off as soon as the header is read, on a direct WebSocket and on an upgraded one, and the
//! server does not buffer what it streams meanwhile.

use std::time::{Duration, Instant};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::support::{echo_server, relaxed, Poller, TestServer};

/// What the test streams after the oversize header, at most.
const STREAMED: usize = 16 << 20;

/// A masked client frame.
fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let mut out = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend_from_slice(payload);
    out
}

/// The server process's resident memory, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Opens a raw WebSocket and reads until the response head (and maybe a first frame) arrived.
async fn raw_websocket(server: &TestServer, query: &str) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).await.unwrap();
    let request = format!(
        "GET /socket.io/?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until(&mut stream, b"\r\n\r\n").await;
    stream
}

/// Reads until `needle` was seen.
async fn read_until(stream: &mut TcpStream, needle: &[u8]) {
    let mut seen = Vec::new();
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let mut buf = [0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "closed before {:?}", String::from_utf8_lossy(needle));
        seen.extend_from_slice(&buf[..n]);
    }
}

/// Declares a 64 MiB text frame, streams its body until the server stops taking it, and
/// checks that the server closed the connection promptly without holding what was sent.
async fn stream_oversize_frame(mut stream: TcpStream) {
    let rss_before = rss_kib();
    let started = Instant::now();
    let mut header = vec![0x81, 0x80 | 127];
    header.extend_from_slice(&(64_u64 << 20).to_be_bytes());
    header.extend_from_slice(&[0, 0, 0, 0]);
    let (mut read, mut write) = stream.split();
    let writer = async {
        if write.write_all(&header).await.is_err() {
            return;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < STREAMED {
            match tokio::time::timeout(Duration::from_secs(1), write.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                // Refused (reset), or the server stopped reading: either way it is not taking it.
                Ok(Err(_)) | Err(_) => return,
            }
        }
    };
    let reader = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(10), read.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
                Err(_) => return false,
            }
        }
    };
    let (_, closed) = tokio::join!(writer, reader);
    assert!(closed, "the server kept the connection open");
    assert!(started.elapsed() < Duration::from_secs(5), "closed only after {:?}", started.elapsed());
    let grown = rss_kib().saturating_sub(rss_before);
    assert!(grown < (STREAMED as u64 / 1024) / 2, "the server grew by {grown} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_oversize_frame_closes_a_direct_websocket() {
    let server = echo_server(relaxed());
    let stream = raw_websocket(&server, "EIO=4&transport=websocket").await;
    stream_oversize_frame(stream).await;
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_oversize_frame_closes_an_upgraded_websocket() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let mut stream = raw_websocket(&server, &format!("EIO=4&transport=websocket&sid={}", poller.sid)).await;
    stream.write_all(&client_frame(0x81, b"2probe")).await.unwrap();
    read_until(&mut stream, b"3probe").await;
    stream.write_all(&client_frame(0x81, b"5")).await.unwrap();
    stream_oversize_frame(stream).await;
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_oversize_frame_closes_a_probing_websocket_only() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let stream = raw_websocket(&server, &format!("EIO=4&transport=websocket&sid={}", poller.sid)).await;
    stream_oversize_frame(stream).await;
    poller.post_ok("42[\"message\",1]").await;
    assert_eq!(poller.packets().await, ["42[\"message-back\",1]"]);
}
