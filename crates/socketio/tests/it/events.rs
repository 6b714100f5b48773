//! The Socket.IO layer over raw packets: namespaces, acknowledgements, binary events, flooding.

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{echo_server, relaxed, Frame, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_namespace_gets_connect_error_and_session_survives() {
    let server = echo_server(relaxed());
    let (mut client, _) = WsClient::open(&server).await;
    client.send("40/nope,").await;
    client.expect_text("44/nope,{\"message\":\"Invalid namespace\"}").await;
    client.send("40/custom,{\"a\":1}").await;
    client.expect_text_prefix("40/custom,{\"sid\":\"").await;
    client.expect_text("42/custom,[\"auth\",{\"a\":1}]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_round_trip() {
    let server = echo_server(relaxed());
    let mut client = WsClient::connected(&server).await;
    client.send("4212[\"message-with-ack\",{\"a\":1},\"x\",[2]]").await;
    client.expect_text("4312[{\"a\":1},\"x\",[2]]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_event_round_trip_over_websocket() {
    let server = echo_server(relaxed());
    let mut client = WsClient::connected(&server).await;
    client.send("452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,\"num\":1}}]").await;
    client.send_binary(&[1, 2, 3]).await;
    client.send_binary(&[]).await;
    client
        .expect_text(
            "452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,\"num\":1}}]",
        )
        .await;
    assert_eq!(client.recv().await, Some(Frame::Binary(vec![1, 2, 3])));
    assert_eq!(client.recv().await, Some(Frame::Binary(vec![])));
    // Binary acknowledgement.
    client.send("451-7[\"message-with-ack\",{\"_placeholder\":true,\"num\":0}]").await;
    client.send_binary(&[9]).await;
    client.expect_text("461-7[{\"_placeholder\":true,\"num\":0}]").await;
    assert_eq!(client.recv().await, Some(Frame::Binary(vec![9])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_client_gets_every_ack_in_order() {
    let server = echo_server(relaxed());
    let mut client = WsClient::connected(&server).await;
    const EVENTS: usize = 2_000;
    // Far more than the dispatcher's inbound channel holds: the connection stops reading
    // for a while but keeps writing acknowledgements.
    let mut batch = Vec::new();
    for id in 0..EVENTS {
        batch.push(Ok(Message::text(format!("42{id}[\"message-with-ack\",{id}]"))));
    }
    client.stream.send_all(&mut futures_util::stream::iter(batch)).await.unwrap();
    for id in 0..EVENTS {
        client.expect_text(&format!("43{id}[{id}]")).await;
    }
}
