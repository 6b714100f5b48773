//! What a misbehaving client gets: too many attachments, garbage of every kind, no CONNECT.

use std::time::Duration;

use crate::support::{echo_server, relaxed, wait_for, Poller, WsClient};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_attachments_close_the_session() {
    let server = echo_server(relaxed());
    let mut client = WsClient::connected(&server).await;
    client.send("411-[\"message\"]").await;
    client.expect_closed().await;
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_the_session_that_sent_it() {
    let server = echo_server(relaxed());
    let mut bystander = WsClient::connected(&server).await;
    let texts = [
        "",
        "zzz",
        "0",
        "2",
        "5",
        "7",
        "4",
        "4zzz",
        "42",
        "42[",
        "42{}",
        "42[]",
        "42[{}]",
        "42[\"disconnect\"]",
        "40\"s\"",
        "40[]",
        "44{\"message\":\"x\"}",
        "49",
        "42/custom,[\"a\"]",
        "43",
        "43[]",
        "431{}",
        "5-[\"a\"]",
        "51-[\"a\",{\"_placeholder\":true,\"num\":3}]",
        "4\u{1F600}",
        "4/\u{e9}",
        "418446744073709551616[\"a\"]",
        "4999999999999999999999999-[\"a\"]",
    ];
    for garbage in texts {
        let mut client = WsClient::connected(&server).await;
        client.send(garbage).await;
        if garbage.starts_with("51-") {
            client.send_binary(&[1]).await;
        }
        client.expect_closed().await;
        bystander.send("42[\"message\",\"still here\"]").await;
        bystander.expect_text("42[\"message-back\",\"still here\"]").await;
    }
    // A binary frame that no packet announced.
    let mut client = WsClient::connected(&server).await;
    client.send_binary(&[1, 2]).await;
    client.expect_closed().await;
    // Polling garbage.
    let poller = Poller::connected(&server).await;
    poller.post_ok("42[\"message\",1]\x1ebnot base64!").await;
    poller.expect_closed().await;
    let poller = Poller::connected(&server).await;
    let (status, _) = poller.post(vec![0xff_u8, 0xfe]).await;
    assert_eq!(status, 200);
    poller.expect_closed().await;

    bystander.send("42[\"message\",\"end\"]").await;
    bystander.expect_text("42[\"message-back\",\"end\"]").await;
    let io = server.io.clone();
    wait_for("only the bystander left", move || io.session_count() == 1 && io.socket_count() == 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_that_leaves_its_last_namespace_is_closed_after_connect_timeout() {
    let server = echo_server(relaxed());
    let mut client = WsClient::connected(&server).await;
    let left = tokio::time::Instant::now();
    client.send("41").await;
    // The connect timeout is armed again (its timer exists only while armed): nothing else
    // would close this session, whose pings are answered.
    client.expect_closed().await;
    let elapsed = left.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    server.wait_until_empty().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_without_connect_is_closed_after_connect_timeout() {
    let server = echo_server(relaxed());
    let started = tokio::time::Instant::now();
    let (mut client, _) = WsClient::open(&server).await;
    let (poller, _) = Poller::handshake(&server).await;
    client.expect_closed().await;
    poller.expect_closed().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    server.wait_until_empty().await;
}
