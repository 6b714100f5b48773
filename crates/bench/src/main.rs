//! `chat-bench`: a load generator for a running chat-server, speaking HTTP and raw Socket.IO
//! over WebSocket. It measures send→ack latency, fan-out latency (send → `message:new` at the
//! other participants), message throughput, and the server's memory per idle connection.
//!
//! Usage: `chat-bench <base-url> <server-pid> [users] [group-size] [messages-per-user] [idle-connections]`
//! (`cargo xtask bench` starts a release server and runs this against it), or
//! `chat-bench <base-url> <server-pid> flood [registrations] [failed-logins] [concurrency]` for
//! the registration and login flood ([`flood`]; `cargo xtask bench flood`).

mod flood;

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;
type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Args {
    base: String,
    pid: u32,
    users: usize,
    group: usize,
    messages: usize,
    idle: usize,
}

fn args() -> Result<Args> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let num =
        |i: usize, default: usize| -> Result<usize> { Ok(a.get(i).map(|s| s.parse()).transpose()?.unwrap_or(default)) };
    Ok(Args {
        base: a.first().ok_or("missing base url")?.trim_end_matches('/').to_owned(),
        pid: a.get(1).ok_or("missing server pid")?.parse()?,
        users: num(2, 100)?,
        group: num(3, 5)?,
        messages: num(4, 50)?,
        idle: num(5, 2_000)?,
    })
}

/// The server's resident memory in KiB, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn post(http: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Result<Value> {
    let mut req = http.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let body: Value = res.json().await?;
    if !status.is_success() {
        return Err(format!("{status}: {body}").into());
    }
    Ok(body)
}

/// Opens a Socket.IO connection over WebSocket and completes the CONNECT handshake.
async fn connect(base: &str, token: &str) -> Result<Ws> {
    let url = format!("{}/socket.io/?EIO=4&transport=websocket", base.replacen("http", "ws", 1));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(WsMessage::text(format!("40{}", json!({ "token": token })))).await?;
    loop {
        match ws.next().await.ok_or("closed during connect")?? {
            WsMessage::Text(t) if t.starts_with("40") => return Ok(ws),
            WsMessage::Text(t) if t.starts_with("44") => return Err(format!("refused: {t}").into()),
            _ => {}
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    if raw.get(2).map(String::as_str) == Some("flood") {
        let base = raw.first().ok_or("missing base url")?.trim_end_matches('/');
        let pid = raw.get(1).ok_or("missing server pid")?.parse()?;
        return flood::run(base, pid, &raw[3..]).await;
    }
    let a = args()?;
    let http = reqwest::Client::new();
    let api = format!("{}/api", a.base);
    let rss_start = rss_kib(a.pid);

    // Users and group chats of `group` members each.
    let run = std::process::id();
    let mut users = Vec::with_capacity(a.users);
    for i in 0..a.users {
        let body = json!({ "email": format!("bench{run}-{i}@example.com"), "username": format!("bench{i}"), "password": "bench-password" });
        let s = post(&http, format!("{api}/auth/register"), None, body).await?;
        let token = s["accessToken"].as_str().ok_or("no token")?.to_owned();
        let id = s["user"]["_id"].as_str().ok_or("no id")?.to_owned();
        users.push((token, id));
    }
    let mut chat_of = vec![String::new(); a.users];
    for start in (0..a.users).step_by(a.group.max(2)) {
        let members: Vec<usize> = (start..(start + a.group.max(2)).min(a.users)).collect();
        if members.len() < 2 {
            chat_of[start] = chat_of[start.saturating_sub(1)].clone();
            continue;
        }
        let others: Vec<&str> = members[1..].iter().map(|m| users[*m].1.as_str()).collect();
        let chat =
            post(&http, format!("{api}/chats"), Some(&users[members[0]].0), json!({ "participants": others })).await?;
        let id = chat["_id"].as_str().ok_or("no chat id")?.to_owned();
        for m in members {
            chat_of[m] = id.clone();
        }
    }

    // Every user connects and joins its chat; readers collect fan-out latencies.
    let started = Instant::now();
    let fanout = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let mut senders = Vec::new();
    for (i, (token, _)) in users.iter().enumerate() {
        let ws = connect(&a.base, token).await?;
        let (mut sink, mut stream) = ws.split();
        sink.send(WsMessage::text(format!("421{}", json!(["chat:join", { "chatId": chat_of[i] }])))).await?;
        let (ack_tx, ack_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        let fanout = fanout.clone();
        let reader = tokio::spawn(async move {
            let mut pongs = Vec::new();
            while let Some(Ok(msg)) = stream.next().await {
                let WsMessage::Text(t) = msg else { continue };
                if t.as_str() == "2" {
                    pongs.push(());
                } else if t.starts_with("43") {
                    let _ = ack_tx.send(Instant::now());
                } else if let Some(rest) = t.strip_prefix("42[\"message:new\",") {
                    // The text carries the send instant as nanoseconds since `started`.
                    if let Some(nanos) =
                        rest.split("t=").nth(1).and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                    {
                        if let Ok(n) = nanos.parse::<u64>() {
                            let sent = started + Duration::from_nanos(n);
                            fanout.lock().await.push(Instant::now().saturating_duration_since(sent));
                        }
                    }
                }
            }
        });
        senders.push((sink, ack_rx, reader));
    }
    let rss_connected = rss_kib(a.pid);

    // Each user sends its messages one at a time, waiting for each ack.
    let send_start = Instant::now();
    let mut tasks = Vec::new();
    for (i, (mut sink, mut acks, reader)) in senders.into_iter().enumerate() {
        let chat = chat_of[i].clone();
        let messages = a.messages;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(messages);
            // Skip the chat:join ack.
            acks.recv().await;
            for n in 0..messages {
                let sent = Instant::now();
                let text = format!("m{n} t={}", sent.duration_since(started).as_nanos());
                let packet = format!("42{}{}", n + 2, json!(["message:send", { "chatId": chat, "text": text }]));
                if sink.send(WsMessage::text(packet)).await.is_err() {
                    break;
                }
                match tokio::time::timeout(Duration::from_secs(30), acks.recv()).await {
                    Ok(Some(at)) => latencies.push(at.duration_since(sent)),
                    _ => break,
                }
            }
            (latencies, sink, reader)
        }));
    }
    let mut acks = Vec::new();
    let mut keep = Vec::new();
    for t in tasks {
        let (l, sink, reader) = t.await?;
        acks.extend(l);
        keep.push((sink, reader));
    }
    let elapsed = send_start.elapsed();
    // Give the last fan-out frames a moment to land before reading the numbers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    acks.sort();
    let mut fan = fanout.lock().await.clone();
    fan.sort();

    // Idle connections: memory per connected, authenticated socket.
    let rss_before_idle = rss_kib(a.pid);
    let mut idle = Vec::with_capacity(a.idle);
    for i in 0..a.idle {
        idle.push(connect(&a.base, &users[i % users.len()].0).await?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = rss_kib(a.pid);
    let per_conn = (rss_idle.saturating_sub(rss_before_idle) as f64 * 1024.0) / a.idle.max(1) as f64;

    println!(
        "chat-bench: {} users in chats of {}, {} messages each, {} idle connections",
        a.users, a.group, a.messages, a.idle
    );
    println!(
        "  messages acknowledged   {} in {:.2} s = {:.0} msg/s",
        acks.len(),
        elapsed.as_secs_f64(),
        acks.len() as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  send→ack latency        p50 {}  p99 {}  max {}",
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        ms(percentile(&acks, 1.0))
    );
    println!("  fan-out deliveries      {} (send → message:new at each participant)", fan.len());
    println!(
        "  fan-out latency         p50 {}  p99 {}  max {}",
        ms(percentile(&fan, 0.5)),
        ms(percentile(&fan, 0.99)),
        ms(percentile(&fan, 1.0))
    );
    println!(
        "  server RSS              start {} KiB, {} sockets {} KiB, +{} idle {} KiB",
        rss_start, a.users, rss_connected, a.idle, rss_idle
    );
    println!("  memory per idle socket  {:.1} KiB", per_conn / 1024.0);
    drop(idle);
    drop(keep);
    Ok(())
}
