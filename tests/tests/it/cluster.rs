//! Scale-out end to end: two `chat-server` processes on one MongoDB database (the SecantusDB
//! wire server) and one Redis, with raw Socket.IO clients on each node. Live events reach the
//! sockets of both nodes exactly once; the rate limit is one budget for the cluster; Redis is
//! killed in the middle of a burst of sends and started again, `/health` says so, and after
//! catching up with `chat:join {sinceSeq}` every client holds exactly what the database holds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use e2e::{Account, Backend, Launch, Server};
use serde_json::{json, Value};
use tempfile::TempDir;
use test_services::redis::Redis;

use crate::cluster_client::Client;

/// Longest any awaited condition may take.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Two nodes sharing one database and one Redis.
pub(crate) struct Cluster {
    pub(crate) a: Server,
    pub(crate) b: Server,
    redis: Redis,
    _dirs: (TempDir, TempDir),
}

impl Cluster {
    pub(crate) async fn start() -> Cluster {
        Self::start_with(&[]).await
    }

    /// Like [`start`](Self::start), with `vars` set on both nodes.
    pub(crate) async fn start_with(vars: &[(&str, &str)]) -> Cluster {
        let redis = Redis::start();
        let backend = Backend::fresh_mongo().await;
        let dirs = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let launch = |dir| {
            let launch = Launch::new(dir).backend(&backend).var("REDIS_URL", Some(&redis.url()));
            vars.iter().fold(launch, |launch, (name, value)| launch.var(name, Some(value)))
        };
        let a = launch(dirs.0.path()).start().await;
        let b = launch(dirs.1.path()).start().await;
        Cluster { a, b, redis, _dirs: dirs }
    }

    /// Polls both nodes' `/health` until each reports Redis as `want`, within [`PATIENCE`].
    pub(crate) async fn wait_health(&self, want: &str) -> Duration {
        let started = Instant::now();
        for server in [&self.a, &self.b] {
            loop {
                let reply = server.get("/health", None).await;
                let body = reply.ok(200);
                let overall = if want == "ok" { "ok" } else { "degraded" };
                if body["redis"] == want {
                    assert_eq!(body, &json!({"status": overall, "storage": "ok", "redis": want}));
                    break;
                }
                assert!(started.elapsed() < PATIENCE, "/health never said redis {want}: {body}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        started.elapsed()
    }
}

fn count(events: &[(String, Value)], event: &str, text: &str) -> usize {
    events.iter().filter(|(e, d)| e == event && d["text"] == text).count()
}

/// Waits until every client has received the `message:new` with `text`.
async fn everyone_gets(clients: [&mut Client; 3], text: &str) {
    for client in clients {
        client.until(&format!("message {text:?}"), |e| count(e, "message:new", text) > 0).await;
    }
}

/// The chat's messages as the database has them, oldest first.
async fn stored(server: &Server, account: &Account, chat: &str) -> Vec<Value> {
    let reply = server.get(&format!("/api/chats/{chat}/messages?limit=100"), Some(&account.token)).await;
    let body = reply.ok(200);
    assert_eq!(body["hasMore"], false);
    body["messages"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_typing_and_new_chats_reach_the_sockets_of_both_nodes_once() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    cluster.wait_health("ok").await;
    let alice = a.register("alice").await;
    let bob = b.register("bob").await;
    // Alice has a socket on each node, Bob one on node B.
    let mut alice_a = Client::connect(a, &alice, "alice@a").await;
    let mut alice_b = Client::connect(b, &alice, "alice@b").await;
    let mut bob_b = Client::connect(b, &bob, "bob@b").await;

    // A chat created over HTTP on node A is announced on both nodes.
    let chat = a.chat(&alice, &[&bob]).await;
    for client in [&mut alice_a, &mut alice_b, &mut bob_b] {
        client.until("chat:created", |e| e.iter().any(|(n, d)| n == "chat:created" && d["_id"] == chat)).await;
    }
    for client in [&mut alice_a, &mut alice_b, &mut bob_b] {
        let ack = client.call("chat:join", json!({ "chatId": chat })).await;
        assert_eq!(ack, json!({"success": true, "lastSeq": 0}), "{}", client.name);
    }

    // Over the socket on node A, and over HTTP on node B; each message reaches every socket
    // before the next is sent, so all of them see the same order.
    let ack = alice_a.call("message:send", json!({"chatId": chat, "text": "hi from a"})).await;
    assert_eq!(ack["success"], true, "{ack}");
    everyone_gets([&mut alice_a, &mut alice_b, &mut bob_b], "hi from a").await;
    b.post("/api/messages", Some(&bob.token), &json!({"chat": chat, "text": "hi from b"})).await.ok(201);
    everyone_gets([&mut alice_a, &mut alice_b, &mut bob_b], "hi from b").await;
    // Typing from node B reaches Alice on both nodes, not Bob himself.
    bob_b.emit("message:typing", json!({"chatId": chat, "isTyping": true}));
    // The last words, from each node: a duplicate of anything before would have come first.
    alice_a.call("message:send", json!({"chatId": chat, "text": "end a"})).await;
    everyone_gets([&mut alice_a, &mut alice_b, &mut bob_b], "end a").await;
    bob_b.call("message:send", json!({"chatId": chat, "text": "end b"})).await;
    everyone_gets([&mut alice_a, &mut alice_b, &mut bob_b], "end b").await;
    for client in [&mut alice_a, &mut alice_b] {
        client.until("typing", |e| e.iter().any(|(n, _)| n == "message:typing")).await;
    }

    for client in [&alice_a, &alice_b, &bob_b] {
        assert_eq!(client.of("chat:created").len(), 1, "{}: chat:created once", client.name);
        for text in ["hi from a", "hi from b", "end a", "end b"] {
            assert_eq!(count(&client.events, "message:new", text), 1, "{}: {text:?} once", client.name);
        }
    }
    for client in [&alice_a, &alice_b] {
        // One announcement, maybe followed by the server's own "stopped" once it expires.
        let typing = client.of("message:typing");
        assert_eq!(typing[0], &json!({"chatId": chat, "userId": bob.id, "isTyping": true}), "{}", client.name);
        assert!(typing[1..].iter().all(|t| t["isTyping"] == false), "{}: {typing:?}", client.name);
    }
    assert!(bob_b.of("message:typing").is_empty(), "the typist does not hear himself");
    let ids = stored(a, &alice, &chat).await.iter().map(|m| m["_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    for client in [&alice_a, &alice_b, &bob_b] {
        assert_eq!(client.live_ids(), ids, "{}: the database's messages, in order", client.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_messages_a_minute_hold_across_both_nodes() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let carol = a.register("carol").await;
    let dave = a.register("dave").await;
    let chat = a.chat(&carol, &[&dave]).await;
    let mut carol_b = Client::connect(b, &carol, "carol@b").await;

    let started = Instant::now();
    let mut allowed = 0;
    let mut refused_http = 0;
    let mut refused_socket = 0;
    for n in 0..40_u32 {
        if n.is_multiple_of(2) {
            let reply =
                a.post("/api/messages", Some(&carol.token), &json!({"chat": chat, "text": format!("m{n}")})).await;
            match reply.status.as_u16() {
                201 => allowed += 1,
                429 => {
                    refused_http += 1;
                    let retry: u64 = reply.headers["retry-after"].to_str().unwrap().parse().unwrap();
                    assert!((1..=2).contains(&retry), "Retry-After {retry}");
                }
                other => panic!("unexpected {other}: {}", reply.body),
            }
        } else {
            let ack = carol_b.call("message:send", json!({"chatId": chat, "text": format!("m{n}")})).await;
            if ack["success"] == true {
                allowed += 1;
            } else {
                assert_eq!(ack["error"], "rate_limited", "{ack}");
                let retry = ack["retryAfterMs"].as_u64().unwrap();
                assert!(retry > 0 && retry <= 2_000, "{ack}");
                refused_socket += 1;
            }
        }
    }
    // The budget refills one send every 2 s; allow for that if the loop was slow.
    let refills = (started.elapsed().as_secs_f64() / 2.0).floor() as usize;
    println!("40 sends over two nodes in {:?}: {allowed} allowed", started.elapsed());
    assert!(allowed >= 30 && allowed <= 30 + refills, "{allowed} allowed in {:?}", started.elapsed());
    assert!(refused_http > 0 && refused_socket > 0, "both nodes refused: {refused_http} {refused_socket}");
    assert_eq!(stored(b, &dave, &chat).await.len(), allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_outage_in_a_burst_every_client_catches_up_to_the_database() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let alice = a.register("erin").await;
    let bob = b.register("frank").await;
    let chat = a.chat(&alice, &[&bob]).await;
    let mut alice_a = Client::connect(a, &alice, "erin@a").await;
    let mut bob_b = Client::connect(b, &bob, "frank@b").await;
    for client in [&mut alice_a, &mut bob_b] {
        assert_eq!(client.call("chat:join", json!({ "chatId": chat })).await["success"], true);
    }

    let mut sent = Vec::new();
    let mut outage = Duration::ZERO;
    let mut recovery = Duration::ZERO;
    for n in 0..20 {
        if n == 7 {
            cluster.redis.kill();
            outage = cluster.wait_health("down").await;
        }
        if n == 14 {
            cluster.redis.restart();
            recovery = cluster.wait_health("ok").await;
        }
        for (client, who) in [(&mut alice_a, "erin"), (&mut bob_b, "frank")] {
            let text = format!("{who} {n}");
            let ack = client.call("message:send", json!({"chatId": chat, "text": text})).await;
            assert_eq!(ack["success"], true, "{text}: {ack}");
            sent.push(ack["message"]["_id"].as_str().unwrap().to_owned());
        }
    }
    println!("/health showed redis down {outage:?} after the kill and ok {recovery:?} after the restart");
    // Redis is back: the last words cross over live.
    for client in [&mut alice_a, &mut bob_b] {
        client
            .until("the last words", |e| count(e, "message:new", "erin 19") + count(e, "message:new", "frank 19") == 2)
            .await;
    }

    let database = stored(a, &alice, &chat).await;
    let by_seq: BTreeMap<u64, String> =
        database.iter().map(|m| (m["seq"].as_u64().unwrap(), m["_id"].as_str().unwrap().to_owned())).collect();
    assert_eq!(database.len(), 40, "every acknowledged send is stored");
    assert_eq!(by_seq.keys().copied().collect::<Vec<_>>(), (1..=40).collect::<Vec<u64>>());
    let mut missed_live = 0;
    for client in [&mut alice_a, &mut bob_b] {
        let live = client.live_ids();
        let mut unique = live.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), live.len(), "{}: nothing live twice", client.name);
        // What the client knows: every message it saw, by seq; it asks from the end of the
        // first gap.
        let mut held: BTreeMap<u64, String> = client
            .of("message:new")
            .iter()
            .map(|m| (m["seq"].as_u64().unwrap(), m["_id"].as_str().unwrap().to_owned()))
            .collect();
        missed_live += 40 - held.len();
        let since = (0..).find(|s| !held.contains_key(&(s + 1))).unwrap();
        let ack = client.call("chat:join", json!({"chatId": chat, "sinceSeq": since})).await;
        assert_eq!(ack["success"], true, "{ack}");
        assert_eq!(ack["recovered"], true, "{ack}");
        let mut last = since;
        for event in ack["events"].as_array().unwrap() {
            assert_eq!(event["event"], "message:new", "{event}");
            let seq = event["data"]["seq"].as_u64().unwrap();
            assert!(seq > last, "replayed in seq order");
            last = seq;
            let id = event["data"]["_id"].as_str().unwrap().to_owned();
            if let Some(known) = held.insert(seq, id.clone()) {
                assert_eq!(known, id, "{}: seq {seq} names one message", client.name);
            }
        }
        assert_eq!(held, by_seq, "{}: after catching up, exactly the database's messages", client.name);
    }
    println!("messages missed live during the outage, over both clients: {missed_live}");
    assert!(missed_live > 0, "the outage should have cost some live deliveries");
    sent.sort();
    let mut stored_ids: Vec<String> = by_seq.into_values().collect();
    stored_ids.sort();
    assert_eq!(sent, stored_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_during_a_burst_on_the_other_node_misses_nothing_and_repeats_nothing() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    let alice = a.register("grace").await;
    let bob = b.register("heidi").await;
    let chat = a.chat(&alice, &[&bob]).await;
    let mut bob_b = Client::connect(b, &bob, "heidi@b").await;
    assert_eq!(bob_b.call("chat:join", json!({ "chatId": chat })).await["success"], true);
    let mut alice_a = Client::connect(a, &alice, "grace@a").await;

    // Bob sends 30 messages on node B while Alice, on node A, joins with sinceSeq 0 after the
    // tenth: the replay covers what was stored before her join, live events the rest.
    let (tenth_tx, tenth) = tokio::sync::oneshot::channel();
    let burst = {
        let chat = chat.clone();
        tokio::spawn(async move {
            // All at once: the node handles one connection's packets in order, so the seqs
            // follow the sends, back to back, while Alice joins.
            let ids: Vec<u64> = (1..=30)
                .map(|n| bob_b.request("message:send", json!({"chatId": chat, "text": format!("burst {n}")})))
                .collect();
            let mut tenth_tx = Some(tenth_tx);
            for (n, id) in ids.into_iter().enumerate() {
                let ack = bob_b.ack(id).await;
                assert_eq!(ack["success"], true, "{ack}");
                if n == 9 {
                    let _ = tenth_tx.take().map(|tx| tx.send(()));
                }
            }
        })
    };
    tenth.await.unwrap();
    // She rejoins again and again while the burst goes on (a client that keeps reconnecting):
    // after every ack, live events must continue right after the replay's last seq.
    let mut joins = Vec::new();
    loop {
        let finished = burst.is_finished();
        let ack = alice_a.call("chat:join", json!({"chatId": chat, "sinceSeq": 0})).await;
        assert_eq!(ack["recovered"], true, "{ack}");
        let replayed: Vec<u64> =
            ack["events"].as_array().unwrap().iter().map(|e| e["data"]["seq"].as_u64().unwrap()).collect();
        let k = replayed.len() as u64;
        assert_eq!(replayed, (1..=k).collect::<Vec<u64>>(), "the replay is the chat so far, in order");
        joins.push((alice_a.events.len(), k));
        if finished {
            break;
        }
    }
    burst.await.unwrap();
    assert!(joins[0].1 >= 10, "the first replay holds at least the ten acknowledged before it: {joins:?}");
    assert!(alice_a.events[..joins[0].0].iter().all(|(e, _)| e != "message:new"), "nothing live before the first ack");
    alice_a
        .until("the last of the burst", |e| {
            e[joins[joins.len() - 1].0..].iter().any(|(_, d)| d["text"] == "burst 30") || joins[joins.len() - 1].1 == 30
        })
        .await;
    let seqs = |from: usize, to: usize| -> Vec<u64> {
        alice_a.events[from..to]
            .iter()
            .filter(|(e, _)| e == "message:new")
            .map(|(_, m)| m["seq"].as_u64().unwrap())
            .collect()
    };
    let mut overlapping = 0;
    for (i, &(at, k)) in joins.iter().enumerate() {
        let until = joins.get(i + 1).map_or(alice_a.events.len(), |next| next.0);
        let live = seqs(at, until);
        let expected: Vec<u64> = (k + 1..=k + live.len() as u64).collect();
        assert_eq!(live, expected, "after join {i} (replayed 1..={k}): nothing missed, nothing twice");
        if let Some(&(_, next_k)) = joins.get(i + 1) {
            overlapping += usize::from(next_k > k + live.len() as u64);
        }
    }
    let (last_at, last_k) = joins[joins.len() - 1];
    assert_eq!(last_k + seqs(last_at, alice_a.events.len()).len() as u64, 30, "everything arrived in the end");
    println!(
        "{} joins during the burst; replays up to {:?}; {overlapping} joins landed while events were in flight",
        joins.len(),
        joins.iter().map(|j| j.1).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_disconnects_the_users_sockets_on_both_and_revokes_its_tokens() {
    let cluster = Cluster::start().await;
    let (a, b) = (&cluster.a, &cluster.b);
    cluster.wait_health("ok").await;
    let alice = a.register("alice").await;
    let bob = b.register("bob").await;
    let mut alice_a = Client::connect(a, &alice, "alice@a").await;
    let mut alice_b = Client::connect(b, &alice, "alice@b").await;
    let mut bob_b = Client::connect(b, &bob, "bob@b").await;

    a.post("/api/auth/logout", Some(&alice.token), &json!({})).await.ok(200);
    alice_a.until_disconnected().await;
    alice_b.until_disconnected().await;
    // Bob's socket on node B is untouched, and so are his tokens.
    let ack = bob_b.call("chat:leave", json!({ "chatId": "0123456789abcdef01234567" })).await;
    assert_eq!(ack, json!({ "success": true }));
    b.get("/api/users/me", Some(&bob.token)).await.ok(200);
    // Alice's token is refused by both nodes; a login on node B right after works on node A.
    for server in [a, b] {
        assert_eq!(server.get("/api/users/me", Some(&alice.token)).await.status.as_u16(), 401);
    }
    let login = json!({ "email": "alice@example.com", "password": "secret123" });
    let reply = b.post("/api/auth/login", None, &login).await;
    let fresh = reply.ok(200)["accessToken"].as_str().unwrap().to_owned();
    a.get("/api/users/me", Some(&fresh)).await.ok(200);
}
