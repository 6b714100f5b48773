//! The Engine.IO handshake over polling and WebSocket, request validation with the reference
//! server's error bodies, and CORS.

use serde_json::json;
use socketio::{conformance, EngineConfig};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{echo_server, error_of, relaxed, Poller, WsClient};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_outside_the_allowed_list_are_forbidden_on_every_transport() {
    let config = EngineConfig { allowed_origins: Some(vec!["https://chat.example".to_owned()]), ..relaxed() };
    let server = echo_server(config);
    let http = reqwest::Client::new();
    let poll = |origin: Option<&'static str>| {
        let mut request = http.get(server.eio_url("EIO=4&transport=polling"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let refused = poll(Some("https://evil.example")).await.unwrap();
    assert_eq!(error_of(refused).await, (403, json!({"code": 4, "message": "Forbidden"})));
    assert_eq!(server.io.session_count(), 0, "a refused handshake opens no session");
    assert_eq!(poll(Some("https://chat.example")).await.unwrap().status(), 200);
    assert_eq!(poll(None).await.unwrap().status(), 200, "clients that send no Origin are not browsers");
    let own = server.url().trim_end_matches('/').to_owned();
    let same_site = http.get(server.eio_url("EIO=4&transport=polling")).header("origin", own).send().await.unwrap();
    assert_eq!(same_site.status(), 200, "a page this server serves is never cross-site");

    // A cross-site page's WebSocket handshake: browsers do not apply CORS to it.
    let mut request = server.ws_url("EIO=4&transport=websocket").into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("the handshake was not refused: {other:?}"),
    }
    let mut request = server.ws_url("EIO=4&transport=websocket").into_client_request().unwrap();
    request.headers_mut().insert("origin", "https://chat.example".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}
