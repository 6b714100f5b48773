//! Presence on two nodes of a cluster (one MongoDB database, one Redis), with short heartbeat
//! periods: the official `socket.io-client` scenarios of `tests/js/cluster/presence.mjs`
//! (a watcher on node B, the user on node A, a reload onto node B), then node A is killed
//! (SIGKILL, nothing said to anyone) and its user is announced offline by node B within the
//! bound: the node's TTL plus the sweep period, plus a heartbeat at worst. A node shut down
//! gracefully (SIGTERM) leaves the presence directory instead: its users go offline after the
//! grace, with a TTL far longer than the test.

use std::time::{Duration, Instant};

use e2e::Account;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::cluster_client::Client;
use crate::socketio_js::{run_js_files, ONE_SUITE_AT_A_TIME};

const HEARTBEAT_MS: u64 = 200;
const NODE_TTL_MS: u64 = 1_000;
const SWEEP_MS: u64 = 200;

fn presence_of<'a>(client: &'a Client, user: &str) -> Vec<&'a Value> {
    client.of("presence:update").into_iter().filter(|p| p["userId"] == user).collect()
}

fn is_presence(user: &str, online: bool) -> impl Fn(&[(String, Value)]) -> bool + '_ {
    move |events| events.iter().any(|(e, p)| e == "presence:update" && p["userId"] == user && p["online"] == online)
}

/// Dave online through node A only, and Erin, who shares a chat with him, watching through
/// node B until she hears it. Returns both accounts, Erin's client and Dave's (keep it open).
async fn dave_on_a_watched_from_b(cluster: &Cluster) -> (Account, Account, Client, Client) {
    let dave = cluster.a.register("dave").await;
    let erin = cluster.b.register("erin").await;
    let reply = cluster.a.post("/api/chats", Some(&dave.token), &json!({"participants": [erin.id]})).await;
    reply.ok(201);
    let mut erin_b = Client::connect(&cluster.b, &erin, "erin@b").await;
    let dave_a = Client::connect(&cluster.a, &dave, "dave@a").await;
    erin_b.until("dave online", is_presence(&dave.id, true)).await;
    (dave, erin, erin_b, dave_a)
}

/// Waits until Erin hears Dave go offline; she heard him online once and offline once. Returns
/// the offline update and its `lastSeenAt`.
async fn dave_offline(erin_b: &mut Client, dave: &Account) -> (Value, chrono::DateTime<chrono::Utc>) {
    erin_b.until("dave offline", is_presence(&dave.id, false)).await;
    let updates = presence_of(erin_b, &dave.id);
    assert_eq!(updates.len(), 2, "online once, offline once: {updates:?}");
    let offline = updates[1].clone();
    let last_seen = offline["lastSeenAt"].as_str().unwrap();
    let last_seen = chrono::DateTime::parse_from_rfc3339(last_seen).unwrap().with_timezone(&chrono::Utc);
    (offline, last_seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_spans_two_nodes_and_a_killed_nodes_users_go_offline() {
    let _one = ONE_SUITE_AT_A_TIME.lock().await;
    let vars = [
        ("PRESENCE_HEARTBEAT_MS", HEARTBEAT_MS.to_string()),
        ("PRESENCE_NODE_TTL_MS", NODE_TTL_MS.to_string()),
        ("PRESENCE_SWEEP_MS", SWEEP_MS.to_string()),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cluster = Cluster::start_with(&vars).await;
    cluster.wait_health("ok").await;

    let urls = [("CHAT_URL_A", cluster.a.url("")), ("CHAT_URL_B", cluster.b.url(""))];
    let servers = [("node A", &cluster.a), ("node B", &cluster.b)];
    let passed = tokio::task::block_in_place(|| run_js_files(&["cluster/presence.mjs"], &urls, &servers));
    println!("two-node presence scenarios: {passed} tests passed");

    let (dave, erin, mut erin_b, _dave_a) = dave_on_a_watched_from_b(&cluster).await;

    let killed_at = chrono::Utc::now();
    let started = Instant::now();
    cluster.a.kill();
    let (offline, last_seen) = dave_offline(&mut erin_b, &dave).await;
    let took = started.elapsed();
    // The bound is TTL + sweep + a heartbeat (1.4 s here); the slack is for a loaded machine.
    let bound = Duration::from_millis(NODE_TTL_MS + SWEEP_MS + HEARTBEAT_MS);
    assert!(took < bound + Duration::from_secs(8), "dave went offline {took:?} after the kill (bound {bound:?})");
    assert!(
        last_seen <= killed_at + chrono::TimeDelta::milliseconds(50)
            && killed_at - last_seen <= chrono::TimeDelta::milliseconds(NODE_TTL_MS as i64),
        "lastSeenAt {last_seen} is node A's last heartbeat before the kill at {killed_at}"
    );
    let asked = cluster.b.get(&format!("/api/presence?userIds={}", dave.id), Some(&erin.token)).await;
    assert_eq!(asked.ok(200), &json!([offline]), "node B answers offline, with the stored lastSeenAt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_shut_down_gracefully_hands_its_users_over_after_the_grace() {
    let _one = ONE_SUITE_AT_A_TIME.lock().await;
    // A TTL longer than the test's patience: only node A's retirement can take dave offline.
    let vars = [("PRESENCE_HEARTBEAT_MS", "200"), ("PRESENCE_NODE_TTL_MS", "600000"), ("PRESENCE_SWEEP_MS", "200")];
    let mut cluster = Cluster::start_with(&vars).await;
    cluster.wait_health("ok").await;

    let (dave, _erin, mut erin_b, _dave_a) = dave_on_a_watched_from_b(&cluster).await;

    let stopping_at = chrono::Utc::now();
    let status = cluster.a.terminate();
    let logs = cluster.a.logs();
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}\n{logs}");
    assert!(logs.contains("left the presence directory"), "{logs}");
    let (_, last_seen) = dave_offline(&mut erin_b, &dave).await;
    assert!(
        last_seen >= stopping_at - chrono::TimeDelta::milliseconds(50) && last_seen <= chrono::Utc::now(),
        "lastSeenAt {last_seen} is when node A left, after the SIGTERM at {stopping_at}"
    );
}
