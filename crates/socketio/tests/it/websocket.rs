//! WebSocket: the message size limit, and the upgrade from polling (probe, ordering, failure).

use std::sync::Arc;

use serde_json::Value;

use crate::support::{echo_server, relaxed, wait_for, Frame, Poller, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_message_over_max_payload_closes_only_that_session() {
    let server = echo_server(relaxed());
    let mut other = WsClient::connected(&server).await;
    let mut client = WsClient::connected(&server).await;
    client.send(&format!("42[\"message\",\"{}\"]", "x".repeat(1_000_001))).await;
    client.expect_closed().await;
    other.send("42[\"message\",1]").await;
    other.expect_text("42[\"message-back\",1]").await;
    let io = server.io.clone();
    wait_for("one session left", move || io.session_count() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_from_polling_loses_and_reorders_nothing() {
    let server = echo_server(relaxed());
    let poller = Arc::new(Poller::connected(&server).await);

    // The client's long poll is parked while it probes the WebSocket.
    let parked = tokio::spawn({
        let poller = Arc::clone(&poller);
        async move { poller.get().await }
    });
    let mut ws = WsClient::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={}", poller.sid))).await;
    ws.send("2probe").await;
    ws.expect_text("3probe").await;
    // The parked poll is released with a noop so the client can pause polling.
    assert_eq!(parked.await.unwrap(), (200, "6".to_owned()));

    // Packets emitted while polling is paused wait in the session's queue.
    let ns = server.io.of("/").unwrap();
    ns.broadcast_frame(&ns.event_frame("server", &0).unwrap(), None);
    poller.post_ok("42[\"message\",1]\x1e42[\"message\",2]\x1e42[\"message\",3]").await;

    ws.send("5").await;
    let mut received = Vec::new();
    while received.len() < 4 {
        match ws.recv().await {
            Some(Frame::Text(text)) => received.push(text),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        received,
        ["42[\"server\",0]", "42[\"message-back\",1]", "42[\"message-back\",2]", "42[\"message-back\",3]",]
    );
    ws.send("42[\"message\",5]").await;
    ws.expect_text("42[\"message-back\",5]").await;

    // Polling is refused for an upgraded session, and refusing does not close it.
    let (status, body) = poller.get().await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["code"], 3);
    let (status, _) = poller.post("42[\"message\",6]").await;
    assert_eq!(status, 400);
    ws.send("42[\"message\",7]").await;
    ws.expect_text("42[\"message-back\",7]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_probe_leaves_the_session_on_polling() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let url = server.ws_url(&format!("EIO=4&transport=websocket&sid={}", poller.sid));
    let mut ws = WsClient::connect(&url).await;
    ws.send("42[\"message\",1]").await; // Not a probe: the probe socket is closed.
    ws.expect_closed().await;
    poller.post_ok("42[\"message\",2]").await;
    assert_eq!(poller.packets().await, ["42[\"message-back\",2]"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_websocket_for_an_upgraded_session_is_accepted_then_closed() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let url = server.ws_url(&format!("EIO=4&transport=websocket&sid={}", poller.sid));
    let mut ws = WsClient::connect(&url).await;
    ws.send("2probe").await;
    ws.expect_text("3probe").await;
    ws.send("5").await;

    // The handshake succeeds (no HTTP error for the client to report), then the server closes.
    let mut second = WsClient::connect(&url).await;
    second.expect_closed().await;

    // The session goes on over the first WebSocket.
    ws.send("42[\"message\",1]").await;
    ws.expect_text("42[\"message-back\",1]").await;
    assert_eq!(server.io.session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_websocket_for_a_websocket_session_is_accepted_then_closed() {
    let server = echo_server(relaxed());
    let (mut ws, open) = WsClient::open(&server).await;
    let sid = open["sid"].as_str().unwrap();
    let mut second = WsClient::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={sid}"))).await;
    second.expect_closed().await;
    ws.send("40").await;
    ws.expect_text_prefix("40{\"sid\":").await;
}
