//! A raw Socket.IO v5 client over a WebSocket for the cluster suite: answers pings, keeps
//! every event in order, and notices the server's DISCONNECT.

use std::collections::HashMap;

use e2e::{Account, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::cluster::PATIENCE;

/// What a socket received.
pub enum Packet {
    Connected,
    /// The server disconnected the socket from the namespace (`41`).
    Disconnected,
    Refused(Value),
    Event(String, Value),
    Ack(u64, Value),
}

/// A raw Socket.IO v5 client over a WebSocket: answers pings, keeps every event in order.
pub struct Client {
    pub name: String,
    out: mpsc::UnboundedSender<String>,
    inbox: mpsc::UnboundedReceiver<Packet>,
    pub events: Vec<(String, Value)>,
    acks: HashMap<u64, Value>,
    next_id: u64,
}

impl Client {
    pub async fn connect(server: &Server, account: &Account, name: &str) -> Client {
        let url = server.url("/socket.io/?EIO=4&transport=websocket").replacen("http://", "ws://", 1);
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let (mut sink, mut stream) = ws.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<String>();
        let (deliver, inbox) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(text) = outgoing.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let pong = out.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                let Message::Text(text) = message else { continue };
                let packet = match text.as_str() {
                    "2" => {
                        let _ = pong.send("3".to_owned());
                        continue;
                    }
                    t if t.starts_with("40") => Packet::Connected,
                    t if t.starts_with("41") => Packet::Disconnected,
                    t if t.starts_with("44") => Packet::Refused(serde_json::from_str(&t[2..]).unwrap()),
                    t if t.starts_with("42") => {
                        let args: Vec<Value> = serde_json::from_str(&t[2..]).unwrap();
                        Packet::Event(args[0].as_str().unwrap().to_owned(), args.get(1).cloned().unwrap_or(Value::Null))
                    }
                    t if t.starts_with("43") => {
                        let digits: String = t[2..].chars().take_while(char::is_ascii_digit).collect();
                        let args: Vec<Value> = serde_json::from_str(&t[2 + digits.len()..]).unwrap();
                        Packet::Ack(digits.parse().unwrap(), args.into_iter().next().unwrap_or(Value::Null))
                    }
                    _ => continue,
                };
                if deliver.send(packet).is_err() {
                    break;
                }
            }
        });
        let mut client =
            Client { name: name.to_owned(), out, inbox, events: Vec::new(), acks: HashMap::new(), next_id: 0 };
        client.out.send(format!("40{}", json!({ "token": account.token }))).unwrap();
        loop {
            match client.next_packet("the namespace connection").await {
                Packet::Connected => break,
                Packet::Refused(data) => panic!("{name} was refused: {data}"),
                other => client.keep(other),
            }
        }
        client
    }

    pub async fn next_packet(&mut self, what: &str) -> Packet {
        match tokio::time::timeout(PATIENCE, self.inbox.recv()).await {
            Ok(Some(packet)) => packet,
            Ok(None) => panic!("{}: the connection closed while waiting for {what}", self.name),
            Err(_) => panic!("{}: {what} did not arrive within {PATIENCE:?}; got {:?}", self.name, self.events),
        }
    }

    pub fn keep(&mut self, packet: Packet) {
        match packet {
            Packet::Event(event, data) => self.events.push((event, data)),
            Packet::Ack(id, data) => {
                self.acks.insert(id, data);
            }
            Packet::Connected | Packet::Disconnected | Packet::Refused(_) => {}
        }
    }

    /// Emits `event` with an acknowledgement id and waits for the ack.
    pub async fn call(&mut self, event: &str, data: Value) -> Value {
        let id = self.request(event, data);
        self.ack(id).await
    }

    /// Emits `event` with an acknowledgement id; returns the id.
    pub fn request(&mut self, event: &str, data: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.out.send(format!("42{id}{}", json!([event, data]))).unwrap();
        id
    }

    /// Waits for the acknowledgement `id`.
    pub async fn ack(&mut self, id: u64) -> Value {
        loop {
            if let Some(ack) = self.acks.remove(&id) {
                return ack;
            }
            let packet = self.next_packet(&format!("ack {id}")).await;
            self.keep(packet);
        }
    }

    /// Emits `event` without an acknowledgement.
    pub fn emit(&self, event: &str, data: Value) {
        self.out.send(format!("42{}", json!([event, data]))).unwrap();
    }

    /// Receives until the server disconnects the socket from the namespace.
    pub async fn until_disconnected(&mut self) {
        loop {
            match self.next_packet("the server's DISCONNECT").await {
                Packet::Disconnected => return,
                other => self.keep(other),
            }
        }
    }

    /// Receives until `done` holds for the events so far.
    pub async fn until(&mut self, what: &str, done: impl Fn(&[(String, Value)]) -> bool) {
        while !done(&self.events) {
            let packet = self.next_packet(what).await;
            self.keep(packet);
        }
    }

    pub fn of(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|(e, _)| e == event).map(|(_, d)| d).collect()
    }

    /// Ids of the `message:new` events received live, in arrival order.
    pub fn live_ids(&self) -> Vec<String> {
        self.of("message:new").iter().map(|m| m["_id"].as_str().unwrap().to_owned()).collect()
    }
}
