//! MongoDB failures seen from outside the app: the database crashes in the middle of a burst of
//! sends and comes back on the same port and data; the app answers 503 (HTTP) and
//! `unavailable` (Socket.IO acks) meanwhile, keeps running, serves again by itself, and loses or
//! duplicates nothing it acknowledged. Also: startup against an unreachable MongoDB fails
//! cleanly, and two app nodes share one database.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::{Account, Launch, Server};
use futures_util::{SinkExt as _, StreamExt as _};
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use tempfile::TempDir;
use test_services::free_port;
use test_services::mongo::{Server as MongoServer, REPLICA_SET};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as Frame;

/// The app's server selection timeout in these tests (the default is 5 s): how long a request
/// waits for a database that is gone before it is answered 503.
const SELECTION_TIMEOUT: Duration = Duration::from_millis(1500);
/// What a call during the outage may take beyond the selection timeout on a slow machine.
const OUTAGE_SLACK: Duration = Duration::from_secs(3);
/// Bounds of the waits for progress (never sleeps for readiness).
const PROGRESS_LIMIT: Duration = Duration::from_secs(90);

/// How long a client waits before resending after a 503.
const RESEND_BACKOFF: Duration = Duration::from_millis(100);

/// The 503 body the app must send while the database is gone: the NestJS shape, no detail.
fn unavailable_body() -> Value {
    json!({"statusCode": 503, "error": "Service Unavailable", "message": "service unavailable"})
}

/// Asserts a 503 with exactly the NestJS shape and nothing from the driver.
#[track_caller]
fn assert_unavailable(status: u16, body: &str, what: &str) {
    assert_eq!(status, 503, "{what}: {body}");
    let parsed: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert_eq!(parsed, unavailable_body(), "{what}");
    let lower = body.to_lowercase();
    for leak in ["mongo", "selection", "topology", "i/o", "kind:", "connection", "127.0.0.1"] {
        assert!(!lower.contains(leak), "{what}: the body leaks internals ({leak}): {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// A raw Socket.IO client: Engine.IO v4 over a direct WebSocket, text frames only.
// ---------------------------------------------------------------------------------------------

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One connected socket on the main namespace (also used by `migration.rs`).
pub(crate) struct RawSocket {
    ws: Ws,
    next_ack: u64,
}

impl RawSocket {
    /// Opens `/socket.io/?EIO=4&transport=websocket` and connects to `/` with `{token}`.
    pub(crate) async fn connect(server: &Server, token: &str) -> RawSocket {
        let url = server.url("/socket.io/?EIO=4&transport=websocket").replacen("http://", "ws://", 1);
        let (ws, _) = tokio::time::timeout(PROGRESS_LIMIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("WebSocket handshake in time")
            .expect("WebSocket handshake");
        let mut socket = RawSocket { ws, next_ack: 0 };
        let open = socket.next_packet().await;
        assert!(open.starts_with('0') && open.contains("\"sid\""), "Engine.IO open packet: {open}");
        socket.send(&format!("40{}", json!({ "token": token }))).await;
        let connected = socket.next_packet_where(|p| p.starts_with("40") || p.starts_with("44")).await;
        assert!(connected.starts_with("40{") && connected.contains("\"sid\""), "CONNECT refused: {connected}");
        socket
    }

    async fn send(&mut self, text: &str) {
        self.ws.send(Frame::text(text.to_owned())).await.expect("send a frame");
    }

    /// The next text frame, answering Engine.IO pings on the way.
    async fn next_packet(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(PROGRESS_LIMIT, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("the WebSocket stays open")
                .expect("a readable frame");
            match frame {
                Frame::Text(text) if text.as_str() == "2" => self.send("3").await,
                Frame::Text(text) => return text.as_str().to_owned(),
                Frame::Close(close) => panic!("the server closed the WebSocket: {close:?}"),
                _ => {}
            }
        }
    }

    /// The next packet `accept` takes; others (broadcast events) are skipped.
    pub(crate) async fn next_packet_where(&mut self, accept: impl Fn(&str) -> bool) -> String {
        loop {
            let packet = self.next_packet().await;
            if accept(&packet) {
                return packet;
            }
        }
    }

    /// Emits `event` with `data` and an ack id; returns the ack's first argument.
    pub(crate) async fn emit_with_ack(&mut self, event: &str, data: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send(&format!("42{id}{}", json!([event, data]))).await;
        let prefix = format!("43{id}[");
        let packet = self.next_packet_where(|p| p.starts_with(&prefix)).await;
        let args: Value = serde_json::from_str(&packet[prefix.len() - 1..])
            .unwrap_or_else(|e| panic!("ack is not a JSON array ({e}): {packet}"));
        args[0].clone()
    }
}

// ---------------------------------------------------------------------------------------------
// The burst: clients sending over HTTP, resending on 503 with the same clientId.
// ---------------------------------------------------------------------------------------------

/// The answer a message of the burst finally got.
#[derive(Debug, Clone)]
struct Acked {
    client_id: String,
    id: String,
    seq: u64,
    /// How many 503s this message got before its 201.
    refused: usize,
}

/// What the sender has done so far, for the test to pace the crash on.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    acked: usize,
    unavailable: usize,
}

/// What the sender saw, in the end.
#[derive(Debug)]
struct BurstReport {
    acked: Vec<Acked>,
    /// Every 503, with how long it took to come.
    unavailable: Vec<Duration>,
}

/// Sends messages `indexes` one after the other, each until it is acknowledged.
async fn send_burst(
    client: reqwest::Client,
    url: String,
    token: String,
    chat: String,
    indexes: std::ops::Range<usize>,
    progress: Arc<watch::Sender<Progress>>,
) -> BurstReport {
    let mut acked = Vec::new();
    let mut unavailable = Vec::new();
    for index in indexes {
        let client_id = format!("burst-{index}");
        let body = json!({"chat": chat, "text": format!("message {index}"), "clientId": client_id});
        let mut refused = 0;
        loop {
            let started = Instant::now();
            let response = client.post(&url).bearer_auth(&token).json(&body).send().await;
            let took = started.elapsed();
            let response = response.unwrap_or_else(|e| panic!("message {index}: no HTTP answer at all: {e}"));
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_else(|e| panic!("message {index}: unreadable body: {e}"));
            match status {
                201 => {
                    let message: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(message["clientId"], client_id.as_str(), "{text}");
                    assert_eq!(message["text"], format!("message {index}"), "{text}");
                    let id = message["_id"].as_str().unwrap().to_owned();
                    let seq = message["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {text}"));
                    acked.push(Acked { client_id, id, seq, refused });
                    break;
                }
                503 => {
                    assert_unavailable(status, &text, &format!("message {index}"));
                    assert!(
                        took < SELECTION_TIMEOUT + OUTAGE_SLACK,
                        "message {index}: a 503 took {took:?}, more than the selection timeout allows"
                    );
                    unavailable.push(took);
                    refused += 1;
                    progress.send_modify(|p| p.unavailable += 1);
                    tokio::time::sleep(RESEND_BACKOFF).await;
                }
                other => panic!("message {index}: expected 201 or 503, got {other}: {text}"),
            }
        }
        progress.send_modify(|p| p.acked += 1);
    }
    BurstReport { acked, unavailable }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_crash_mid_burst_answers_503_loses_nothing_acknowledged_and_heals_by_itself() {
    const TOTAL: usize = 60;
    const LANES: usize = 3;
    const CRASH_AFTER: usize = 20;
    const DATABASE: &str = "chat_faults";

    // A durable SecantusDB on disk (it must fsync at commit for acknowledged writes to survive
    // SIGKILL), and the app on it with a short selection timeout and no rate limit.
    let db_dir = TempDir::new().unwrap();
    let storage = db_dir.path().join("db").to_str().unwrap().to_owned();
    let port = free_port();
    let database = MongoServer::start_durable(port, &storage).await;
    let uri = format!(
        "mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}&serverSelectionTimeoutMS={}",
        SELECTION_TIMEOUT.as_millis()
    );
    let app_dir = TempDir::new().unwrap();
    let mut server =
        Launch::new(app_dir.path()).mongodb(&uri, DATABASE).var("RATE_LIMIT_PER_MINUTE", Some("0")).start().await;
    let pid = server.pid();

    let alice = server.register("alice").await;
    let bob = server.register("bob").await;
    let chat = server.chat(&alice, &[&bob]).await;
    let mut socket = RawSocket::connect(&server, &alice.token).await;
    let before = socket
        .emit_with_ack("message:send", json!({"chatId": chat, "text": "socket before", "clientId": "socket-before"}))
        .await;
    assert_eq!(before["success"], true, "{before}");

    // LANES concurrent senders (alice's tabs, say), so that several sends are in flight when
    // the database dies.
    let (progress_tx, mut progress) = watch::channel(Progress::default());
    let progress_tx = Arc::new(progress_tx);
    let per_lane = TOTAL / LANES;
    let lanes: Vec<_> = (0..LANES)
        .map(|lane| {
            tokio::spawn(send_burst(
                server.client().clone(),
                server.url("/api/messages"),
                alice.token.clone(),
                chat.clone(),
                lane * per_lane..(lane + 1) * per_lane,
                progress_tx.clone(),
            ))
        })
        .collect();

    // Crash the database once a third of the burst is acknowledged.
    tokio::time::timeout(PROGRESS_LIMIT, progress.wait_for(|p| p.acked >= CRASH_AFTER)).await.unwrap().unwrap();
    database.crash();
    let crashed_at = Instant::now();
    let acked_before_crash = progress.borrow().acked;

    // The outage, as clients see it: 503s for the burst's sender...
    tokio::time::timeout(PROGRESS_LIMIT, progress.wait_for(|p| p.unavailable >= 2 * LANES)).await.unwrap().unwrap();
    // ... for reads ...
    let history = server.get(&format!("/api/chats/{chat}/messages"), Some(&bob.token)).await;
    assert_unavailable(history.status.as_u16(), &history.body.to_string(), "history during the outage");
    let login =
        server.post("/api/auth/login", None, &json!({"email": "bob@example.com", "password": "secret123"})).await;
    assert_unavailable(login.status.as_u16(), &login.body.to_string(), "login during the outage");
    // ... and `unavailable` in Socket.IO acks.
    let started = Instant::now();
    let outage_ack = socket
        .emit_with_ack("message:send", json!({"chatId": chat, "text": "socket outage", "clientId": "socket-outage"}))
        .await;
    let ack_took = started.elapsed();
    assert_eq!(outage_ack, json!({"success": false, "error": "unavailable"}));
    assert!(ack_took < SELECTION_TIMEOUT + OUTAGE_SLACK, "the ack took {ack_took:?}");
    // What /health says meanwhile: a node that probes its storage says 503 "down"; one that
    // does not probe says 200 "ok". Either way it answers promptly.
    let started = Instant::now();
    let health = server.get("/health", None).await;
    let health_took = started.elapsed();
    match (health.status.as_u16(), health.body["status"].as_str()) {
        (200, Some("ok")) | (503, Some("down")) => {}
        other => panic!("unexpected /health during the outage: {other:?} {}", health.body),
    }
    assert!(health_took < SELECTION_TIMEOUT + OUTAGE_SLACK, "/health took {health_took:?}");
    assert!(server.is_running(), "the app must survive the outage:\n{}", server.logs());

    let restarted = MongoServer::start_durable(port, &storage).await;
    let outage = crashed_at.elapsed();

    // The app serves again without a restart: the burst finishes, the socket's resend succeeds.
    let report = tokio::time::timeout(Duration::from_secs(180), futures_util::future::join_all(lanes))
        .await
        .unwrap()
        .into_iter()
        .map(|lane| lane.unwrap())
        .fold(BurstReport { acked: Vec::new(), unavailable: Vec::new() }, |mut all, lane| {
            all.acked.extend(lane.acked);
            all.unavailable.extend(lane.unavailable);
            all
        });
    let resent = socket
        .emit_with_ack("message:send", json!({"chatId": chat, "text": "socket outage", "clientId": "socket-outage"}))
        .await;
    assert_eq!(resent["success"], true, "{resent}");
    assert!(server.is_running(), "{}", server.logs());
    assert_eq!(server.pid(), pid);
    let healthy_again = Instant::now() + PROGRESS_LIMIT;
    while server.get("/health", None).await.status != 200 {
        assert!(Instant::now() < healthy_again, "/health never recovered:\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every acknowledged message is stored exactly once, in seq order.
    assert_eq!(report.acked.len(), TOTAL);
    assert!(report.unavailable.len() >= 2 * LANES);
    let mut expected: BTreeMap<String, (String, u64)> =
        report.acked.iter().map(|a| (a.client_id.clone(), (a.id.clone(), a.seq))).collect();
    for ack in [&before, &resent] {
        let m = &ack["message"];
        let entry = (m["_id"].as_str().unwrap().to_owned(), m["seq"].as_u64().unwrap());
        expected.insert(m["clientId"].as_str().unwrap().to_owned(), entry);
    }
    assert_eq!(expected.len(), TOTAL + 2, "every clientId was acknowledged with its own message");
    let page = server.get(&format!("/api/chats/{chat}/messages?limit=100"), Some(&bob.token)).await;
    let stored = page.ok(200)["messages"].as_array().unwrap().clone();
    assert_eq!(page.body["hasMore"], false);
    let seqs: Vec<u64> = stored.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=(TOTAL as u64 + 2)).collect::<Vec<_>>(), "in seq order, gapless, none twice");
    let mut seen = BTreeSet::new();
    for m in &stored {
        let client_id = m["clientId"].as_str().unwrap_or_else(|| panic!("no clientId: {m}"));
        assert!(seen.insert(client_id.to_owned()), "{client_id} is stored twice");
        let (id, seq) = &expected[client_id];
        assert_eq!((m["_id"].as_str().unwrap(), m["seq"].as_u64().unwrap()), (id.as_str(), *seq), "{m}");
    }

    // The database agrees, read directly.
    let client = mongodb::Client::with_uri_str(&uri).await.unwrap();
    let db = client.database(DATABASE);
    let messages = db.collection::<Document>("messages");
    assert_eq!(messages.count_documents(doc! {}).await.unwrap(), TOTAL as u64 + 2);
    let mut twice = messages
        .aggregate([doc! {"$group": {"_id": "$clientId", "n": {"$sum": 1}}}, doc! {"$match": {"n": {"$gt": 1}}}])
        .await
        .unwrap();
    if let Some(duplicate) = twice.next().await {
        panic!("a clientId is stored more than once: {:?}", duplicate.unwrap());
    }
    let chat_doc = db
        .collection::<Document>("chats")
        .find_one(doc! {"_id": mongodb::bson::oid::ObjectId::parse_str(&chat).unwrap()})
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chat_doc.get_i64("lastSeq").unwrap(), TOTAL as i64 + 2);

    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
    let retried = report.acked.iter().filter(|a| a.refused > 0).count();
    let slowest = report.unavailable.iter().max().copied().unwrap_or_default();
    eprintln!(
        "fault test: {acked_before_crash} of {TOTAL} acknowledged before the crash; outage {outage:?} \
         (crash to the restarted database answering); {} HTTP 503s during it (slowest {slowest:?}); \
         {retried} messages acknowledged after one or more 503s; Socket.IO ack during the outage \
         {outage_ack} after {ack_took:?}; GET /health during the outage: {} {} after {health_took:?}",
        report.unavailable.len(),
        health.status.as_u16(),
        health.body,
    );
    drop(restarted);
}

#[tokio::test]
async fn startup_with_an_unreachable_mongodb_fails_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    // Nobody listens on port 1 (a free port picked now could be taken by another test's
    // server before the app connects); the credentials must not show in the output.
    let uri = format!("mongodb://app:hunter2@127.0.0.1:1/?serverSelectionTimeoutMS={}", SELECTION_TIMEOUT.as_millis());
    let output_path = dir.path().join("output.log");
    let output = std::fs::File::create(&output_path).unwrap();
    let mut child = Launch::new(dir.path())
        .mongodb(&uri, "chat")
        .command()
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SELECTION_TIMEOUT + Duration::from_secs(30) {
            let _ = child.kill();
            panic!(
                "chat-server kept running without its database:\n{}",
                std::fs::read_to_string(&output_path).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed();
    let output = std::fs::read_to_string(&output_path).unwrap();
    assert_eq!(status.code(), Some(1), "a plain failure, not a panic (101) or a signal: {status:?}\n{output}");
    assert!(output.contains("cannot reach MongoDB"), "{output}");
    assert!(output.contains("database chat"), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    assert!(!output.contains("listening on"), "it never served:\n{output}");
    assert!(!output.contains("hunter2"), "the URI's password is never printed:\n{output}");
    eprintln!("unreachable MongoDB: exit {status} after {took:?}:\n{output}");
}

/// Two app nodes on one database: each sees what the other wrote, the 1:1 chat stays one, and
/// sends racing on both nodes get distinct, gapless seqs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_share_everything() {
    const PER_NODE: usize = 10;
    let backend = e2e::Backend::fresh_mongo().await;
    let (first_dir, second_dir) = (TempDir::new().unwrap(), TempDir::new().unwrap());
    let first = Server::start_on(first_dir.path(), &backend).await;
    let second = Server::start_on(second_dir.path(), &backend).await;
    let alice: Account = first.register("alice").await;
    let bob = second.register("bob").await;
    let chat = first.chat(&alice, &[&bob]).await;
    // The 1:1 chat is found through the other node.
    assert_eq!(second.chat(&bob, &[&alice]).await, chat);
    // Alice sends through the first node while Bob sends through the second.
    let on = |node: &'static str, server: &Server, sender: &Account| {
        let (client, url, token, chat) =
            (server.client().clone(), server.url("/api/messages"), sender.token.clone(), chat.clone());
        async move {
            let mut seqs = Vec::new();
            for i in 0..PER_NODE {
                let body = json!({"chat": chat, "text": format!("{node} {i}"), "clientId": format!("{node}-{i}")});
                let response = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 201);
                let message: Value = response.json().await.unwrap();
                seqs.push(message["seq"].as_u64().unwrap());
            }
            seqs
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(on("first", &first, &alice)), tokio::spawn(on("second", &second, &bob)));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]), "{a:?} {b:?}");
    let all: BTreeSet<u64> = a.iter().chain(&b).copied().collect();
    assert_eq!(all, (1..=2 * PER_NODE as u64).collect(), "distinct and gapless: {a:?} {b:?}");
    // Both nodes list the same history, in seq order.
    let path = format!("/api/chats/{chat}/messages");
    let from_first = first.get(&path, Some(&bob.token)).await.ok(200).clone();
    let from_second = second.get(&path, Some(&alice.token)).await.ok(200).clone();
    assert_eq!(from_first, from_second);
    let seqs: Vec<u64> =
        from_first["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=2 * PER_NODE as u64).collect::<Vec<_>>());
}
