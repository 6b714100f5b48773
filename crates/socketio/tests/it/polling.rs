//! HTTP long-polling: batching, binary as base64, overlapping requests, the POST size limit, and
//! the heartbeat on both transports.

use std::time::Duration;

use futures_util::StreamExt;
use socketio::conformance;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{echo_server, relaxed, wait_for, Poller, WsClient, PATIENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sends_and_receives_batched_packets() {
    let server = echo_server(relaxed());
    let (poller, _) = Poller::handshake(&server).await;
    poller.post_ok("40{\"token\":\"t\"}").await;
    // CONNECT acknowledgement and the `auth` emitted during on_connect, in one response.
    let (status, body) = poller.get().await;
    assert_eq!(status, 200);
    let packets: Vec<&str> = body.split('\x1e').collect();
    assert_eq!(packets.len(), 2, "{body}");
    assert!(packets[0].starts_with("40{\"sid\":\""));
    assert_eq!(packets[1], "42[\"auth\",{\"token\":\"t\"}]");

    // Several packets in one POST.
    poller.post_ok("42[\"message\",1]\x1e42[\"message\",\"two\"]\x1e421[\"message-with-ack\",3]").await;
    let mut received = Vec::new();
    while received.len() < 3 {
        received.extend(poller.packets().await);
    }
    assert_eq!(received, ["42[\"message-back\",1]", "42[\"message-back\",\"two\"]", "431[3]"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_carries_binary_as_base64() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    poller.post_ok("451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID").await;
    assert_eq!(poller.packets().await, ["451-[\"message-back\",{\"_placeholder\":true,\"num\":0}]", "bAQID"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_polls_close_the_session() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    // Whichever GET arrives second overlaps the parked one: it is refused, the session is
    // closed, and the parked one is answered with a close packet.
    let (one, two) = tokio::join!(poller.get(), poller.get());
    let mut outcomes = [one, two];
    outcomes.sort();
    assert_eq!(outcomes[0], (200, "1".to_owned()));
    assert_eq!(outcomes[1].0, 400, "{}", outcomes[1].1);
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_post_over_max_payload_is_refused_and_closes() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let body = format!("42[\"message\",\"{}\"]", "x".repeat(1_000_001));
    let (status, _) = poller.post(body).await;
    assert_eq!(status, 413);
    poller.expect_closed().await;
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_payload_just_under_the_limit_is_accepted() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    let filler = "x".repeat(1_000_000 - "42[\"message\",\"\"]".len());
    let (status, _) = poller.post(format!("42[\"message\",\"{filler}\"]")).await;
    assert_eq!(status, 200);
    let packets = poller.packets().await;
    assert_eq!(packets[0], format!("42[\"message-back\",\"{filler}\"]"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_pings_keep_a_websocket_session_alive() {
    let server = echo_server(conformance::config());
    let mut client = WsClient::connected(&server).await;
    // recv() answers every ping; after several intervals the session still echoes.
    let mut pings = 0;
    let started = tokio::time::Instant::now();
    while started.elapsed() < Duration::from_millis(1_000) {
        match tokio::time::timeout(Duration::from_secs(2), client.stream.next()).await {
            Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "2" => {
                pings += 1;
                client.send("3").await;
            }
            other => panic!("expected a ping every 300 ms, got {other:?}"),
        }
    }
    assert!(pings >= 2, "{pings} pings");
    client.send("42[\"message\",\"alive\"]").await;
    client.expect_text("42[\"message-back\",\"alive\"]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_ping_closes_the_session() {
    let server = echo_server(conformance::config());
    let (mut client, _) = WsClient::open(&server).await;
    client.send("40").await;
    // Read without answering: ping, then the server gives up after pingTimeout.
    let mut saw_ping = false;
    loop {
        match tokio::time::timeout(PATIENCE, client.stream.next()).await.unwrap() {
            Some(Ok(Message::Text(text))) => saw_ping |= text.as_str() == "2",
            Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            Some(Ok(_)) => {}
        }
    }
    assert!(saw_ping);
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_client_that_stops_polling_times_out() {
    let server = echo_server(conformance::config());
    let poller = Poller::connected(&server).await;
    // No GET picks up the ping, so no pong: closed after pingInterval + pingTimeout.
    let io = server.io.clone();
    wait_for("the session to time out", move || io.session_count() == 0).await;
    let (status, _) = poller.get().await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_packet_answers_the_pending_poll_with_a_noop() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    // As the Engine.IO suite does: the GET and the POST carrying the close packet are sent
    // together, on two connections, so either may be served first; both orders end the same.
    let (poll, post) = tokio::join!(poller.get(), poller.post("1"));
    assert_eq!(post, (200, "ok".to_owned()));
    assert_eq!(poll, (200, "6".to_owned()));
    // Then the session is gone.
    let (status, body) = poller.get().await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["code"], 1);
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_right_after_the_close_packet_still_gets_the_noop() {
    let server = echo_server(relaxed());
    let poller = Poller::connected(&server).await;
    poller.post_ok("1").await;
    assert_eq!(poller.get().await, (200, "6".to_owned()));
    let (status, _) = poller.get().await;
    assert_eq!(status, 400);
    let (status, _) = poller.post("42[\"message\",1]").await;
    assert_eq!(status, 400);
    server.wait_until_empty().await;
}
