//! The plain Engine.IO echo server the conformance server mounts at `/engine.io/`, as the
//! Engine.IO protocol's own test suite uses it: every message comes back as is.

use crate::support::{echo_server, open_json, relaxed, Frame, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_echo_over_polling_returns_text_and_binary_as_sent() {
    let server = echo_server(relaxed());
    let http = reqwest::Client::new();
    let base = format!("{}/engine.io/?EIO=4&transport=polling", server.url());
    let response = http.get(&base).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let open = open_json(&response.text().await.unwrap());
    let url = format!("{base}&sid={}", open["sid"].as_str().unwrap());

    let response = http.post(&url).body("4hello\x1ebAQIDBA==").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");
    let mut received = String::new();
    while received.split('\x1e').filter(|p| *p != "2").count() < 2 {
        let body = http.get(&url).send().await.unwrap().text().await.unwrap();
        received =
            [received.as_str(), body.as_str()].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\x1e");
    }
    let packets: Vec<&str> = received.split('\x1e').filter(|p| *p != "2").collect();
    assert_eq!(packets, ["4hello", "bAQIDBA=="]);
    // It is not a Socket.IO server: no namespace, no `auth` event, and no socket.io session.
    assert_eq!(server.io.session_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_echo_over_websocket_returns_text_and_binary_as_sent() {
    let server = echo_server(relaxed());
    let mut ws =
        WsClient::connect(&format!("ws://127.0.0.1:{}/engine.io/?EIO=4&transport=websocket", server.port)).await;
    match ws.recv().await {
        Some(Frame::Text(text)) => assert!(open_json(&text)["sid"].is_string()),
        other => panic!("expected open packet, got {other:?}"),
    }
    ws.send("4hello").await;
    ws.expect_text("4hello").await;
    ws.send_binary(&[1, 2, 3, 4]).await;
    assert_eq!(ws.recv().await, Some(Frame::Binary(vec![1, 2, 3, 4])));
    ws.send("4").await;
    ws.expect_text("4").await;
}
