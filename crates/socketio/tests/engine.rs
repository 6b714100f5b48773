//! Protocol tests of the Socket.IO server driven with raw Engine.IO packets over HTTP
//! long-polling and WebSocket, against servers started in-process on 127.0.0.1:0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use socketio::{
    conformance, AckSender, DisconnectReason, EngineConfig, Handshake, NamespaceHandler, Payload, Socket, SocketId,
    SocketIo,
};
use support::{wait_for, Frame, Poller, TestServer, WsClient, PATIENCE};
use tokio_tungstenite::tungstenite::Message;

/// The conformance settings with a relaxed heartbeat, so tests that are not about the
/// heartbeat do not race it on a loaded machine.
fn relaxed() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(10),
        ..conformance::config()
    }
}

fn echo_server(config: EngineConfig) -> TestServer {
    TestServer::start(conformance::socket_io(config))
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(content_type.as_deref(), Some("application/json"));
    (status, body)
}

// ----- handshake and request validation -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_handshake_announces_the_session() {
    let server = echo_server(conformance::config());
    let (poller, open) = Poller::handshake(&server).await;
    assert_eq!(open["sid"].as_str().unwrap().len(), 16);
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(open["pingTimeout"], 200);
    assert_eq!(open["maxPayload"], 1_000_000);
    assert_eq!(poller.sid, open["sid"]);
    assert_eq!(server.io.session_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshake_offers_no_upgrade() {
    let server = echo_server(conformance::config());
    let (_client, open) = WsClient::open(&server).await;
    assert_eq!(open["upgrades"], json!([]));
    assert_eq!(open["pingInterval"], 300);
    assert_eq!(open["pingTimeout"], 200);
    assert_eq!(open["maxPayload"], 1_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_engine_io_errors() {
    let server = echo_server(relaxed());
    let http = reqwest::Client::new();
    let get = |query: &str| http.get(server.eio_url(query)).send();

    for (query, code) in [
        ("transport=polling", 5),
        ("EIO=3&transport=polling", 5),
        ("EIO=abc&transport=polling", 5),
        ("EIO=4", 0),
        ("EIO=4&transport=abc", 0),
        ("EIO=4&transport=polling&sid=unknown", 1),
        ("EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAA", 1),
        // A WebSocket handshake without the upgrade headers.
        ("EIO=4&transport=websocket", 3),
    ] {
        let (status, body) = error_of(get(query).await.unwrap()).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(body["code"], code, "{query}: {body}");
    }
    let (_, body) = error_of(get("EIO=4&transport=abc").await.unwrap()).await;
    assert_eq!(body["message"], "Transport unknown");

    // Only GET may open a session.
    for method in [reqwest::Method::POST, reqwest::Method::PUT] {
        let response = http.request(method.clone(), server.eio_url("EIO=4&transport=polling")).send().await.unwrap();
        let (status, body) = error_of(response).await;
        assert_eq!((status, body["code"].clone()), (400, json!(2)), "{method}");
        assert_eq!(body["message"], "Bad handshake method");
    }

    // A known session on the wrong method or transport.
    let (poller, _) = Poller::handshake(&server).await;
    let response = http.put(&poller.base).send().await.unwrap();
    assert_eq!(error_of(response).await.1["code"], 3);
    let (_ws, open) = WsClient::open(&server).await;
    let ws_sid = open["sid"].as_str().unwrap();
    let response = get(&format!("EIO=4&transport=polling&sid={ws_sid}")).await.unwrap();
    assert_eq!(error_of(response).await, (400, json!({"code": 3, "message": "Bad request"})));
    assert_eq!(server.io.session_count(), 2, "refusals must not close sessions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_reflects_the_origin() {
    let server = echo_server(relaxed());
    let http = reqwest::Client::new();
    let response = http
        .get(server.eio_url("EIO=4&transport=polling"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(response.headers()["access-control-allow-credentials"], "true");
    let response = http
        .request(reqwest::Method::OPTIONS, server.eio_url("EIO=4&transport=polling"))
        .header("origin", "https://app.example")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example");
    assert_eq!(response.headers()["access-control-allow-headers"], "authorization");
}

// ----- polling -----

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

// ----- heartbeat -----

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

// ----- WebSocket payload limit -----

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

// ----- upgrade -----

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

// ----- Socket.IO layer -----

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

// ----- rooms, cleanup and back-pressure -----

/// Joins `all` and the room named in the auth payload; `kick` disconnects from the server side,
/// `join` joins the room given as argument. Records disconnect reasons.
#[derive(Default)]
struct RoomHandler {
    reasons: Mutex<Vec<DisconnectReason>>,
}

#[async_trait]
impl NamespaceHandler for RoomHandler {
    async fn on_connect(&self, socket: Socket, auth: Value, _: &Handshake) -> Result<(), Value> {
        if auth.get("refuse").is_some() {
            socket.join("refused-room");
            return Err(json!({"message": "Unauthorized"}));
        }
        socket.join("all");
        if let Some(room) = auth.get("room").and_then(Value::as_str) {
            socket.join(room);
        }
        Ok(())
    }

    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        match event.as_str() {
            "kick" => socket.disconnect(),
            "join" => {
                if let Some(room) = payload.first().and_then(Value::as_str) {
                    socket.join(room);
                }
                if let Some(ack) = ack {
                    ack.send(&json!({"success": true})).unwrap();
                }
            }
            "panic" => panic!("handler bug"),
            _ => {}
        }
    }

    async fn on_disconnect(&self, _socket: &Socket, reason: DisconnectReason) {
        self.reasons.lock().unwrap().push(reason);
    }
}

fn room_server(config: EngineConfig) -> (TestServer, Arc<RoomHandler>) {
    let handler = Arc::new(RoomHandler::default());
    let io = SocketIo::new(config);
    io.namespace("/", Arc::clone(&handler));
    (TestServer::start(io), handler)
}

async fn room_client(server: &TestServer, auth: &str) -> WsClient {
    room_client_with_id(server, auth).await.0
}

async fn room_client_with_id(server: &TestServer, auth: &str) -> (WsClient, SocketId) {
    let (mut client, _) = WsClient::open(server).await;
    client.send(&format!("40{auth}")).await;
    let ack = client.expect_text_prefix("40{\"sid\":").await;
    let json: Value = serde_json::from_str(&ack[2..]).unwrap();
    (client, json["sid"].as_str().unwrap().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_sessions_are_released_on_every_disconnect_path() {
    let (server, handler) = room_server(conformance::config());
    let reasons = || handler.reasons.lock().unwrap().clone();

    // Client closes the WebSocket.
    let mut client = room_client(&server, "{\"room\":\"r1\"}").await;
    assert_eq!(server.io.room_count(), 2);
    client.stream.close(None).await.unwrap();
    server.wait_until_empty().await;

    // Engine.IO close packet.
    let mut client = room_client(&server, "{}").await;
    client.send("1").await;
    client.expect_closed().await;
    server.wait_until_empty().await;

    // Client namespace disconnect, then the connect timeout closes the idle session.
    let mut client = room_client(&server, "{}").await;
    client.send("41").await;
    client.expect_closed().await;
    server.wait_until_empty().await;

    // Server-side disconnect: the client is told, then the idle session times out.
    let mut client = room_client(&server, "{}").await;
    client.send("42[\"kick\"]").await;
    client.expect_text("41").await;
    client.expect_closed().await;
    server.wait_until_empty().await;

    // Invalid packet.
    let mut client = room_client(&server, "{}").await;
    client.send("42[").await;
    client.expect_closed().await;
    server.wait_until_empty().await;

    // Ping timeout (the test never answers pings here).
    let (mut client, _) = WsClient::open(&server).await;
    client.send("40").await;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(PATIENCE, client.stream.next()).await {
        if message.is_close() {
            break;
        }
    }
    server.wait_until_empty().await;

    // Transport error: the TCP connection just goes away.
    let client = room_client(&server, "{}").await;
    drop(client);
    server.wait_until_empty().await;

    // A handler that panics takes only its own connection down.
    let mut client = room_client(&server, "{}").await;
    client.send("42[\"panic\"]").await;
    client.expect_closed().await;
    server.wait_until_empty().await;

    // Refused on connect: CONNECT_ERROR, the room joined during on_connect is released.
    let (mut client, _) = WsClient::open(&server).await;
    client.send("40{\"refuse\":true}").await;
    client.expect_text("44{\"message\":\"Unauthorized\"}").await;
    assert_eq!(server.io.room_count(), 0);
    client.expect_closed().await;
    server.wait_until_empty().await;

    use DisconnectReason::*;
    let mut reasons = reasons();
    // An abrupt end of the TCP stream reads as an error or as a plain end, depending on timing.
    assert!(matches!(reasons[6], TransportClose | TransportError), "{reasons:?}");
    reasons[6] = TransportClose;
    assert_eq!(
        reasons,
        [
            TransportClose,
            TransportClose,
            ClientNamespaceDisconnect,
            ServerNamespaceDisconnect,
            ParseError,
            PingTimeout,
            TransportClose,
            HandlerPanic,
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_reaches_the_room_except_the_sender() {
    let (server, _) = room_server(relaxed());
    let (mut a, a_id) = room_client_with_id(&server, "{\"room\":\"chat-1\"}").await;
    let mut b = room_client(&server, "{\"room\":\"chat-1\"}").await;
    let mut c = room_client(&server, "{}").await;
    c.send("421[\"join\",\"chat-1\"]").await;
    c.expect_text("431[{\"success\":true}]").await;
    let ns = server.io.of("/").unwrap();
    assert_eq!(ns.room_size("chat-1"), 3);
    let sent = ns.broadcast_to("chat-1", "message:new", &json!({"n": 1}), None).unwrap();
    assert_eq!(sent, 3);
    for client in [&mut a, &mut b, &mut c] {
        client.expect_text("42[\"message:new\",{\"n\":1}]").await;
    }
    // `except` leaves the sender out; the same frame is shared by every recipient.
    let frame = ns.event_frame("typing", &json!({"on": true})).unwrap().droppable();
    assert_eq!(ns.broadcast_frame_to("chat-1", &frame, Some(a_id)), 2);
    for client in [&mut b, &mut c] {
        client.expect_text("42[\"typing\",{\"on\":true}]").await;
    }
    let socket = ns.socket(a_id).unwrap();
    assert_eq!(socket.broadcast_to("chat-1", "from-a", &1).unwrap(), 2);
    b.expect_text("42[\"from-a\",1]").await;
    socket.emit("direct", &"hi").unwrap();
    a.expect_text("42[\"direct\",\"hi\"]").await;
    assert!(socket.emit("disconnect", &1).is_err(), "reserved event names are refused");
    assert_eq!(ns.broadcast_frame_to("nobody", &frame, None), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_disconnected_without_stalling_the_broadcast() {
    let config = EngineConfig { outbound_queue_bytes: 1024 * 1024, ..relaxed() };
    let (server, _) = room_server(config);
    let mut fast = room_client(&server, "{}").await;
    // The slow client never reads again after connecting.
    let _slow = room_client(&server, "{}").await;
    let ns = server.io.of("/").unwrap();
    let frame = ns.event_frame("big", &"x".repeat(16 * 1024)).unwrap();
    const FRAMES: usize = 2_000;

    let received = Arc::new(AtomicUsize::new(0));
    let reader = tokio::spawn({
        let received = Arc::clone(&received);
        async move {
            while received.load(Ordering::Relaxed) < FRAMES {
                match fast.recv().await {
                    Some(Frame::Text(text)) if text.starts_with("42[\"big\"") => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("fast client got {other:?}"),
                }
            }
            fast
        }
    });
    let mut slowest = Duration::ZERO;
    for sent in 0..FRAMES {
        // Keep pace with the fast client (its queue holds 64 frames) ...
        while sent - received.load(Ordering::Relaxed) > 32 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // ... while the slow one falls behind: no broadcast may wait for it.
        let started = std::time::Instant::now();
        ns.broadcast_frame_to("all", &frame, None);
        slowest = slowest.max(started.elapsed());
    }
    // A broadcast that waited for the slow client would block for good; this bound only
    // allows for a loaded machine.
    assert!(slowest < Duration::from_millis(500), "a broadcast took {slowest:?}");
    let mut fast = tokio::time::timeout(PATIENCE, reader).await.unwrap().unwrap();
    let io = server.io.clone();
    wait_for("the slow consumer to be dropped", move || io.session_count() == 1).await;
    assert_eq!(ns.room_size("all"), 1);
    fast.send("421[\"join\",\"r\"]").await;
    fast.expect_text("431[{\"success\":true}]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_join_disconnect_cycles_leave_nothing_behind() {
    const CLIENTS: usize = 50;
    const CYCLES: usize = 200;
    let (server, handler) = room_server(relaxed());
    let ws_url = server.ws_url("EIO=4&transport=websocket");
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let ws_url = ws_url.clone();
        tasks.push(tokio::spawn(async move {
            for cycle in 0..CYCLES {
                let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str()).await.unwrap();
                let open = ws.next().await.unwrap().unwrap();
                assert!(open.to_text().unwrap().starts_with('0'));
                let room = format!("room-{}", (client * CYCLES + cycle) % 97);
                ws.send(Message::text(format!("40{{\"room\":\"{room}\"}}"))).await.unwrap();
                let ack = ws.next().await.unwrap().unwrap();
                assert!(ack.to_text().unwrap().starts_with("40{\"sid\""));
                ws.send(Message::text("421[\"join\",\"extra\"]")).await.unwrap();
                let joined = ws.next().await.unwrap().unwrap();
                assert_eq!(joined.to_text().unwrap(), "431[{\"success\":true}]");
                // Alternate the ways a client goes away.
                match cycle % 3 {
                    0 => ws.close(None).await.unwrap(),
                    1 => ws.send(Message::text("1")).await.unwrap(),
                    _ => drop(ws),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    server.wait_until_empty().await;
    let io = server.io.clone();
    let handler = Arc::clone(&handler);
    wait_for("every on_disconnect", move || handler.reasons.lock().unwrap().len() == CLIENTS * CYCLES).await;
    assert_eq!(io.session_count(), 0);
    assert_eq!(io.room_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_room_releases_after_the_first_frame_without_replayed_copies() {
    let (server, _) = room_server(relaxed());
    let (mut client, id) = room_client_with_id(&server, "{}").await;
    let ns = server.io.of("/").unwrap();
    let socket = ns.socket(id).unwrap();
    socket.join_held("chat-9");
    assert_eq!(ns.room_size("chat-9"), 1, "a held join is a membership");
    for seq in 1..=3 {
        let frame = ns.event_frame("message:new", &json!({ "seq": seq })).unwrap().with_seq(seq);
        assert_eq!(ns.broadcast_frame_to("chat-9", &frame, None), 1);
    }
    let typing = ns.event_frame("message:typing", &json!({ "on": true })).unwrap();
    ns.broadcast_frame_to("chat-9", &typing, None);
    // A direct emit is not held: it arrives before anything broadcast to the held room.
    socket.emit("marker", &0).unwrap();
    client.expect_text("42[\"marker\",0]").await;
    // The replay covered seq 1 and 2: only 3 and the untagged frame follow the first frame.
    let first = ns.event_frame("replay", &json!({ "upTo": 2 })).unwrap();
    socket.release_room("chat-9", Some(first), |f| f.seq().is_none_or(|s| s > 2));
    client.expect_text("42[\"replay\",{\"upTo\":2}]").await;
    client.expect_text("42[\"message:new\",{\"seq\":3}]").await;
    client.expect_text("42[\"message:typing\",{\"on\":true}]").await;
    // After the release, broadcasts flow straight through.
    let later = ns.event_frame("message:new", &json!({ "seq": 4 })).unwrap().with_seq(4);
    ns.broadcast_frame_to("chat-9", &later, None);
    client.expect_text("42[\"message:new\",{\"seq\":4}]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_room_that_overflows_disconnects_the_socket_after_the_first_frame() {
    let config = EngineConfig { outbound_queue_frames: 100_000, outbound_queue_bytes: 64 * 1024 * 1024, ..relaxed() };
    let (server, _) = room_server(config);
    let (mut client, id) = room_client_with_id(&server, "{}").await;
    let mut bystander = room_client(&server, "{\"room\":\"chat-9\"}").await;
    let ns = server.io.of("/").unwrap();
    let socket = ns.socket(id).unwrap();
    socket.join_held("chat-9");
    let frame = ns.event_frame("message:new", &1).unwrap().with_seq(1);
    for _ in 0..5_000 {
        ns.broadcast_frame_to("chat-9", &frame, None);
    }
    let first = ns.event_frame("replay", &0).unwrap();
    socket.release_room("chat-9", Some(first), |_| true);
    client.expect_text("42[\"replay\",0]").await;
    client.expect_text("41").await;
    assert!(ns.socket(id).is_none(), "the socket left the namespace");
    assert_eq!(ns.room_size("chat-9"), 1, "only the bystander is left in the room");
    for _ in 0..5_000 {
        bystander.expect_text("42[\"message:new\",1]").await;
    }
}
