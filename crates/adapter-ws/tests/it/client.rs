//! A small raw Socket.IO v5 client over one WebSocket (Engine.IO v4, no polling): CONNECT with
//! an auth payload, events with and without acks, and the server's events, kept in arrival
//! order while the client waits for an ack. Every read is bounded by [`PATIENCE`].

use std::collections::VecDeque;

use chat_domain::ChatId;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::PATIENCE;

/// A chat id no chat has: `chat:leave` of it is a round trip that changes nothing.
const NO_CHAT: &str = "ffffffffffffffffffffffff";

/// An event the server emitted to this socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: String,
    pub data: Value,
}

/// One Socket.IO packet of the main namespace, as the server sent it.
#[derive(Debug)]
enum Packet {
    Connect(Value),
    ConnectError(Value),
    Disconnect,
    Event(Event),
    Ack(u64, Vec<Value>),
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ack: u64,
    /// Events read while waiting for something else, oldest first.
    events: VecDeque<Event>,
}

impl Client {
    /// Opens a WebSocket session and reads the Engine.IO open packet.
    pub async fn open(url: &str) -> Self {
        Self::open_request(url.into_client_request().unwrap()).await
    }

    /// As [`open`](Self::open), with a request the caller may have added headers to.
    pub async fn open_request(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> Self {
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(request))
            .await
            .expect("WebSocket handshake timed out")
            .unwrap();
        let mut client = Self { ws, next_ack: 0, events: VecDeque::new() };
        let open = client.recv_text().await.expect("session closed before the open packet");
        let open: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
        assert_eq!(open["upgrades"], json!([]), "a WebSocket session offers no upgrade: {open}");
        client
    }

    /// Sends CONNECT to `/` with `auth` (none: no payload); `Ok` with the acknowledgement's
    /// data, `Err` with the CONNECT_ERROR's.
    pub async fn connect(&mut self, auth: Option<&Value>) -> Result<Value, Value> {
        let packet = match auth {
            Some(auth) => format!("40{auth}"),
            None => "40".to_owned(),
        };
        self.send_text(packet).await;
        match self.recv_packet().await {
            Some(Packet::Connect(data)) => {
                assert!(data["sid"].is_string(), "CONNECT ack without a sid: {data}");
                Ok(data)
            }
            Some(Packet::ConnectError(data)) => Err(data),
            other => panic!("expected CONNECT or CONNECT_ERROR, got {other:?}"),
        }
    }

    /// Emits `event` without asking for an ack.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_text(format!("42{}", json!([event, data]))).await;
    }

    /// Emits `event` with an ack id and returns the ack's first argument. Events that arrive
    /// meanwhile are kept for [`next_event`](Self::next_event).
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        self.call_raw(&json!([event, data]).to_string()).await
    }

    /// Emits an event packet whose arguments array is `args` verbatim (for malformed
    /// payloads) with an ack id, and returns the ack's first argument.
    pub async fn call_raw(&mut self, args: &str) -> Value {
        let id = self.start_call_raw(args).await;
        self.finish_call(id).await
    }

    /// Emits `event` with an ack id without waiting for the ack; returns the id for
    /// [`finish_call`](Self::finish_call).
    pub async fn start_call(&mut self, event: &str, data: Value) -> u64 {
        self.start_call_raw(&json!([event, data]).to_string()).await
    }

    async fn start_call_raw(&mut self, args: &str) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_text(format!("42{id}{args}")).await;
        id
    }

    /// Waits for the ack `id` and returns its first argument; events that arrive meanwhile
    /// are kept.
    pub async fn finish_call(&mut self, id: u64) -> Value {
        loop {
            match self.recv_packet().await {
                Some(Packet::Ack(got, mut values)) if got == id => {
                    assert_eq!(values.len(), 1, "an ack carries one argument: {values:?}");
                    return values.remove(0);
                }
                Some(Packet::Event(event)) => self.events.push_back(event),
                other => panic!("waiting for ack {id}, got {other:?}"),
            }
        }
    }

    /// `chat:join {chatId}`, returning the ack.
    pub async fn join(&mut self, chat: ChatId) -> Value {
        self.call("chat:join", json!({ "chatId": chat.to_string() })).await
    }

    /// `chat:join {chatId, sinceSeq}`, returning the ack.
    pub async fn join_since(&mut self, chat: ChatId, since_seq: u64) -> Value {
        self.call("chat:join", json!({ "chatId": chat.to_string(), "sinceSeq": since_seq })).await
    }

    /// `message:send {chatId, text}`, returning the ack.
    pub async fn send(&mut self, chat: ChatId, text: &str) -> Value {
        self.call("message:send", json!({ "chatId": chat.to_string(), "text": text })).await
    }

    /// `message:typing {chatId, isTyping}` with an ack; asserts it succeeded.
    pub async fn typing(&mut self, chat: ChatId, is_typing: bool) {
        let ack = self.call("message:typing", json!({ "chatId": chat.to_string(), "isTyping": is_typing })).await;
        assert_eq!(ack, json!({ "success": true }));
    }

    /// Events already read and not yet taken.
    pub fn buffered(&self) -> usize {
        self.events.len()
    }

    /// The next event, waiting up to [`PATIENCE`] for it.
    pub async fn next_event(&mut self) -> Event {
        if let Some(event) = self.events.pop_front() {
            return event;
        }
        match self.recv_packet().await {
            Some(Packet::Event(event)) => event,
            other => panic!("waiting for an event, got {other:?}"),
        }
    }

    /// The next event, which must be `name`; returns its data.
    pub async fn expect_event(&mut self, name: &str) -> Value {
        let event = self.next_event().await;
        assert_eq!(event.name, name, "unexpected event: {event:?}");
        event.data
    }

    /// Asserts that nothing more has been sent to this socket: everything the server queued
    /// for it before this call arrives before the ack of a round trip (one ordered queue per
    /// socket), so no sleep is needed.
    pub async fn assert_quiet(&mut self) {
        let stray = self.round_trip().await;
        assert!(stray.is_empty(), "expected no events, got {stray:?}");
    }

    /// A round trip (see [`assert_quiet`](Self::assert_quiet)); returns every event not yet
    /// taken, all of which the server had queued before the round trip began.
    pub async fn round_trip(&mut self) -> Vec<Event> {
        let ack = self.call("chat:leave", json!({ "chatId": NO_CHAT })).await;
        assert_eq!(ack, json!({ "success": true }));
        self.events.drain(..).collect()
    }

    /// Waits for the server to disconnect this socket from `/` (a DISCONNECT packet), skipping
    /// events queued before it.
    pub async fn expect_server_disconnect(&mut self) {
        loop {
            match self.recv_packet().await {
                Some(Packet::Disconnect) => return,
                Some(Packet::Event(event)) => self.events.push_back(event),
                other => panic!("waiting for DISCONNECT, got {other:?}"),
            }
        }
    }

    /// Closes the WebSocket, which ends the session.
    pub async fn close(mut self) {
        // The server may have closed first; either way the session ends.
        let _ = self.ws.close(None).await;
    }

    /// Sends raw WebSocket frames, text and binary, as they are; a send that fails because
    /// the server already closed the connection is fine.
    pub async fn send_raw(&mut self, frames: Vec<Message>) {
        for frame in frames {
            if self.ws.send(frame).await.is_err() {
                return;
            }
        }
    }

    /// Waits until the server ends the session (skipping anything queued before that).
    pub async fn expect_closed(&mut self) {
        while let Some(text) = self.recv_text().await {
            let _ = text;
        }
    }

    async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// The next Engine.IO text packet; pings are answered. `None` once the session is closed.
    async fn recv_text(&mut self) -> Option<String> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .unwrap_or_else(|_| panic!("nothing from the server within {PATIENCE:?}"));
            match message {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {
                    // A failed pong means the server is closing; the next read says so.
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Some(Ok(Message::Text(text))) if text.as_str() == "6" => {}
                Some(Ok(Message::Text(text))) if text.as_str() == "1" => return None,
                Some(Ok(Message::Text(text))) => return Some(text.to_string()),
                Some(Ok(Message::Binary(data))) => panic!("unexpected binary frame: {data:?}"),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
            }
        }
    }

    /// The next Socket.IO packet (Engine.IO message `4`); `None` once the session is closed.
    /// The next packet, leaving out `presence:update`: contacts come online and go offline
    /// whenever a scenario connects or closes sockets, and no scenario here is about presence
    /// (the e2e suites are), so they would only make the event streams depend on timing.
    async fn recv_packet(&mut self) -> Option<Packet> {
        loop {
            let text = self.recv_text().await?;
            let body = text.strip_prefix('4').unwrap_or_else(|| panic!("not an Engine.IO message: {text}"));
            match parse_packet(body) {
                Packet::Event(event) if event.name == "presence:update" => continue,
                packet => return Some(packet),
            }
        }
    }
}

/// Parses a Socket.IO packet of the main namespace without binary attachments.
fn parse_packet(body: &str) -> Packet {
    let mut chars = body.chars();
    let kind = chars.next().unwrap_or_else(|| panic!("empty Socket.IO packet"));
    let rest = chars.as_str();
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let (id, json) = rest.split_at(digits);
    let data =
        || -> Value { serde_json::from_str(json).unwrap_or_else(|e| panic!("packet {body:?} carries no JSON: {e}")) };
    match kind {
        '0' => Packet::Connect(data()),
        '1' => Packet::Disconnect,
        '2' => {
            assert!(id.is_empty(), "the server asks for no acks: {body}");
            let Value::Array(mut args) = data() else { panic!("event without arguments: {body}") };
            assert_eq!(args.len(), 2, "every server event has one argument: {body}");
            let data = args.pop().unwrap();
            let name = args.pop().unwrap().as_str().unwrap_or_else(|| panic!("event name: {body}")).to_owned();
            Packet::Event(Event { name, data })
        }
        '3' => {
            let Value::Array(args) = data() else { panic!("ack without arguments: {body}") };
            Packet::Ack(id.parse().unwrap_or_else(|_| panic!("ack without an id: {body}")), args)
        }
        '4' => Packet::ConnectError(data()),
        _ => panic!("unexpected Socket.IO packet {body:?}"),
    }
}
