//! The namespace handler of `/`: authenticates at the handshake, joins the personal room, and
//! turns each client event into one service call and one ack.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::{ChatId, JoinOutcome, SendMessage, Services, UserId};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};

use super::acks::{failure, invalid_payload};
use super::typing::Typists;
use super::{chat_room, user_room, GatewayConfig};
use socketio::{AckSender, DisconnectReason, Handshake, NamespaceHandler, Payload, Socket, SocketId, SocketIo};

/// Who is behind a connected socket, and until when its token is valid.
#[derive(Debug, Clone, Copy)]
struct Identity {
    user: UserId,
    expires_at: chat_domain::Timestamp,
}

pub(super) struct Shared {
    pub(super) services: Services,
    identities: Mutex<HashMap<SocketId, Identity>>,
    pub(super) typists: Typists,
    pub(super) config: GatewayConfig,
}

/// The chat application's handler for the main namespace. Cheap to clone.
#[derive(Clone)]
pub struct ChatGateway {
    shared: Arc<Shared>,
}

impl ChatGateway {
    pub fn new(services: Services, config: GatewayConfig) -> Self {
        let typists = Typists::new(config.typing_throttle, config.typing_expiry);
        Self { shared: Arc::new(Shared { services, identities: Mutex::new(HashMap::new()), typists, config }) }
    }

    /// Registers the gateway on `io`'s main namespace and starts its sweeper (typing expiry,
    /// disconnecting sockets whose token expired). Call from inside the Tokio runtime.
    pub fn mount(self, io: &SocketIo) {
        io.namespace("/", self.clone());
        let weak = Arc::downgrade(&self.shared);
        let io = io.clone();
        let period = self.shared.config.typing_sweep;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                let Some(ns) = io.of("/") else { continue };
                for (chat, user) in shared.typists.expired() {
                    // The domain re-checks membership; a typist who left the chat is simply not announced.
                    let _ = shared.services.messages.typing(user, chat, false).await;
                }
                let now = chrono::Utc::now();
                let expired: Vec<SocketId> =
                    shared.identities.lock().iter().filter(|(_, id)| id.expires_at <= now).map(|(s, _)| *s).collect();
                for id in expired {
                    if let Some(socket) = ns.socket(id) {
                        tracing::debug!(socket = %id.as_str(), "token expired; disconnecting");
                        socket.disconnect();
                    }
                }
            }
        });
    }

    /// Number of sockets the gateway tracks (for tests and health).
    pub fn tracked_sockets(&self) -> usize {
        self.shared.identities.lock().len()
    }

    fn identity(&self, socket: &Socket) -> Option<Identity> {
        self.shared.identities.lock().get(&socket.id()).copied()
    }
}

/// The bearer token from, in order: the CONNECT auth payload's `token`, the `Authorization`
/// header of the handshake, or the `token` query parameter.
fn bearer_token(auth: &Value, handshake: &Handshake) -> Option<String> {
    let strip = |t: &str| t.strip_prefix("Bearer ").unwrap_or(t).trim().to_owned();
    if let Some(t) = auth.get("token").and_then(Value::as_str) {
        return Some(strip(t));
    }
    if let Some(h) = handshake.header("authorization") {
        if let Some(t) = h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
            return Some(t.trim().to_owned());
        }
    }
    handshake.query_param("token").map(|t| strip(&t))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JoinPayload {
    chat_id: String,
    since_seq: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeavePayload {
    chat_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendPayload {
    chat_id: String,
    text: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    client_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingPayload {
    chat_id: String,
    is_typing: bool,
}

/// The first argument of an event as `T`, or the ack body that says why not.
fn parse<T: for<'de> Deserialize<'de>>(payload: &Payload) -> Result<T, Value> {
    let first = payload.first().ok_or_else(|| invalid_payload("payload missing"))?;
    T::deserialize(first).map_err(|_| invalid_payload("payload does not match the event"))
}

fn parse_chat(raw: &str) -> Result<ChatId, Value> {
    ChatId::parse(raw).map_err(|_| invalid_payload("chatId must be a 24-character hex id"))
}

fn reply(ack: Option<AckSender>, body: Value) {
    if let Some(ack) = ack {
        // The socket may have gone meanwhile; there is nobody left to tell.
        let _ = ack.send(&body);
    }
}

impl ChatGateway {
    /// `chat:join`. With `sinceSeq`, the room's live frames are held while the missed events
    /// are read; the ack carrying them goes out first, then the held frames the replay did not
    /// already hold, so the client sees every event once, in order.
    async fn join(&self, socket: &Socket, user: UserId, payload: &Payload, ack: Option<AckSender>) {
        let parsed = parse::<JoinPayload>(payload).and_then(|p| Ok((parse_chat(&p.chat_id)?, p.since_seq)));
        let (chat, since_seq) = match parsed {
            Ok(ok) => ok,
            Err(body) => return reply(ack, body),
        };
        // Authorize first (the domain's join rule, without a catch-up): a refused join must not
        // place the socket in the room even briefly.
        if let Err(e) = self.shared.services.messages.join(user, chat, None).await {
            return reply(ack, failure(&e));
        }
        let room = chat_room(chat);
        let Some(since) = since_seq else {
            socket.join(&room);
            return reply(ack, json!({ "success": true }));
        };
        // Join before reading the missed events, so that nothing committed meanwhile is missed.
        socket.join_held(&room);
        let outcome = match self.shared.services.messages.join(user, chat, Some(since)).await {
            Ok(outcome) => outcome,
            Err(e) => {
                socket.leave(&room);
                return reply(ack, failure(&e));
            }
        };
        let (body, replayed_up_to) = match outcome {
            JoinOutcome::Joined { last_seq } => (json!({ "success": true }), last_seq),
            JoinOutcome::Recovered { events, last_seq } => {
                let up_to = events.last().map_or(last_seq, |e| e.seq().max(last_seq));
                let events: Vec<wire::ChatEvent> = events.iter().map(wire::ChatEvent::from).collect();
                (json!({ "success": true, "recovered": true, "events": events }), up_to)
            }
            // The client reloads history over HTTP; live events continue from here.
            JoinOutcome::NotRecovered { reason, .. } => {
                (json!({ "success": true, "recovered": false, "reason": reason }), 0)
            }
        };
        let first = ack.and_then(|ack| ack.into_frame(&body).ok());
        // Seq allocation is serialized per chat, so every event up to `replayed_up_to` was in
        // the replay; a held live frame at or below it would be a second copy.
        socket.release_room(&room, first, |frame| frame.seq().is_none_or(|seq| seq > replayed_up_to));
    }

    async fn send(&self, user: UserId, payload: &Payload) -> Result<Value, Value> {
        let p: SendPayload = parse(payload)?;
        let chat = parse_chat(&p.chat_id)?;
        let request = SendMessage { chat, text: &p.text, kind: p.kind.as_deref(), client_id: p.client_id.as_deref() };
        let message = self.shared.services.messages.send(user, request).await.map_err(|e| failure(&e))?;
        Ok(json!({ "success": true, "message": wire::Message::from(&message) }))
    }

    async fn typing(&self, socket: &Socket, user: UserId, payload: &Payload) -> Result<Value, Value> {
        let p: TypingPayload = parse(payload)?;
        let chat = parse_chat(&p.chat_id)?;
        if self.shared.typists.should_forward(socket.id(), user, chat, p.is_typing) {
            self.shared.services.messages.typing(user, chat, p.is_typing).await.map_err(|e| {
                self.shared.typists.forget(socket.id(), chat);
                failure(&e)
            })?;
        }
        Ok(json!({ "success": true }))
    }
}

#[async_trait]
impl NamespaceHandler for ChatGateway {
    async fn on_connect(&self, socket: Socket, auth: Value, handshake: &Handshake) -> Result<(), Value> {
        let unauthorized = || json!({ "message": "Unauthorized" });
        let token = bearer_token(&auth, handshake).ok_or_else(unauthorized)?;
        let claims = self.shared.services.auth.verify_token(&token).map_err(|_| unauthorized())?;
        // JWT validation counts whole seconds, so a token is still accepted during the second
        // its `exp` falls in; the sweeper has disconnected such a socket already. Refuse it
        // here too, or a client would reconnect with the same token and be cut off again.
        if claims.expires_at <= chrono::Utc::now() {
            return Err(unauthorized());
        }
        self.shared
            .identities
            .lock()
            .insert(socket.id(), Identity { user: claims.user, expires_at: claims.expires_at });
        socket.join(&user_room(claims.user));
        Ok(())
    }

    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        let Some(Identity { user, .. }) = self.identity(socket) else {
            reply(ack, json!({ "success": false, "error": "unauthorized" }));
            return;
        };
        if event == wire::events::CHAT_JOIN {
            return self.join(socket, user, &payload, ack).await;
        }
        let result = match event.as_str() {
            wire::events::CHAT_LEAVE => {
                parse::<LeavePayload>(&payload).and_then(|p| parse_chat(&p.chat_id)).map(|chat| {
                    socket.leave(&chat_room(chat));
                    self.shared.typists.forget(socket.id(), chat);
                    json!({ "success": true })
                })
            }
            wire::events::MESSAGE_SEND => self.send(user, &payload).await,
            wire::events::MESSAGE_TYPING => self.typing(socket, user, &payload).await,
            _ => Err(invalid_payload("unknown event")),
        };
        reply(ack, result.unwrap_or_else(|body| body));
    }

    async fn on_disconnect(&self, socket: &Socket, _reason: DisconnectReason) {
        let identity = self.shared.identities.lock().remove(&socket.id());
        // A typist that disconnects is announced as stopped.
        for chat in self.shared.typists.forget_socket(socket.id()) {
            if let Some(Identity { user, .. }) = identity {
                let _ = self.shared.services.messages.typing(user, chat, false).await;
            }
        }
    }
}
