//! The namespace handler of `/`: authenticates at the handshake, joins the personal room, and
//! turns each client event into one service call and one ack.

use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::credentials::{bare_or_bearer_token, bearer_token};
use chat_domain::receipts::MarkerKind;
use chat_domain::security_log::{Incident, Source};
use chat_domain::{CatchUpRefusal, ChatId, JoinOutcome, MessageId, SendMessage, Services, UserId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use wire::acks::{Ack, CatchUp, ConnectError, Failure, Joined, Sent};

use super::connections::{Connections, Limits, Verdict};
use super::delivered::DeliveryLedger;
use super::typing::Typists;
use super::{chat_room, user_room, GatewayConfig};
use socketio::{AckSender, DisconnectReason, Handshake, NamespaceHandler, Payload, Socket, SocketIo};

pub(super) struct Shared {
    pub(super) services: Services,
    /// Who is behind each connected socket (the claims of its token, which the domain judges
    /// again on every sweep), the connection caps and the event budgets.
    pub(super) connections: Connections,
    /// The notifier's note of chat rooms a `message:new` reached, when the server writes its
    /// own delivery receipts.
    pub(super) ledger: std::sync::OnceLock<DeliveryLedger>,
    pub(super) typists: Typists,
    pub(super) config: GatewayConfig,
}

/// The chat application's handler for the main namespace. Cheap to clone.
#[derive(Clone)]
pub struct ChatGateway {
    pub(super) shared: Arc<Shared>,
}

impl ChatGateway {
    pub fn new(services: Services, config: GatewayConfig) -> Self {
        let typists = Typists::new(config.typing_throttle, config.typing_expiry);
        let connections = Connections::new(Limits {
            per_user: config.max_sockets_per_user,
            per_address: config.max_sockets_per_address,
            events_per_second: config.events_per_second,
            event_burst: config.event_burst,
            exempt_loopback: config.exempt_loopback_from_address_cap,
        });
        let ledger = std::sync::OnceLock::new();
        Self { shared: Arc::new(Shared { services, connections, typists, config, ledger }) }
    }

    /// Has the gateway write the server's own delivery receipts from `ledger` (the one given to
    /// [`SocketNotifier::with_delivery_ledger`](super::SocketNotifier::with_delivery_ledger)),
    /// once per [`GatewayConfig::delivery_receipt_interval`] after [`mount`](Self::mount).
    pub fn with_delivery_receipts(self, ledger: DeliveryLedger) -> Self {
        if self.shared.ledger.set(ledger).is_err() {
            tracing::warn!("the gateway already has a delivery ledger; keeping the first");
        }
        self
    }

    /// Registers the gateway on `io`'s main namespace and starts its sweeper (typing expiry,
    /// disconnecting sockets whose token expired). Call from inside the Tokio runtime.
    pub fn mount(self, io: &SocketIo) {
        io.namespace("/", self.clone());
        if self.shared.ledger.get().is_some() {
            self.spawn_delivery_receipts(io);
        }
        let io = io.clone();
        super::every(&self.shared, self.shared.config.typing_sweep, move |shared| {
            let io = io.clone();
            async move {
                let Some(ns) = io.of("/") else { return };
                for (chat, user) in shared.typists.expired() {
                    // The domain re-checks membership; a typist who left the chat is simply not announced.
                    let _ = shared.services.messages.typing(user, chat, false).await;
                }
                let expired = shared.connections.dead(|c| shared.services.auth.lifetime_left(c));
                for id in expired {
                    if let Some(socket) = ns.socket(id) {
                        tracing::debug!(socket = %id.as_str(), "token expired; disconnecting");
                        socket.disconnect();
                    }
                }
            }
        });
    }

    /// A handle on the gateway's state that does not keep it alive (for the notifier).
    pub(super) fn downgrade(&self) -> std::sync::Weak<Shared> {
        Arc::downgrade(&self.shared)
    }

    pub(super) fn services(&self) -> &Services {
        &self.shared.services
    }

    /// Number of sockets the gateway tracks (for tests and health).
    pub fn tracked_sockets(&self) -> usize {
        self.shared.connections.len()
    }
}

/// The token a client presented, from the first of these it sent: the CONNECT auth payload's
/// `token` (bare or `Bearer <token>`), an `Authorization: Bearer` header of the handshake, or
/// the `token` query parameter (bare or `Bearer <token>`). The parsing rules are the domain's.
fn presented_token(auth: &Value, handshake: &Handshake) -> Option<String> {
    if let Some(value) = auth.get("token").and_then(Value::as_str) {
        return bare_or_bearer_token(value).map(str::to_owned);
    }
    if let Some(token) = handshake.header("authorization").and_then(bearer_token) {
        return Some(token.to_owned());
    }
    handshake.query_param("token").as_deref().and_then(bare_or_bearer_token).map(str::to_owned)
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
struct EditPayload {
    message_id: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypingPayload {
    chat_id: String,
    is_typing: bool,
}

/// The first argument of an event as `T`, or the ack that says why not.
pub(super) fn parse<T: for<'de> Deserialize<'de>>(payload: &Payload) -> Result<T, Failure> {
    let first = payload.first().ok_or_else(|| Failure::invalid_payload("payload missing"))?;
    T::deserialize(first).map_err(|_| Failure::invalid_payload("payload does not match the event"))
}

pub(super) fn parse_chat(raw: &str) -> Result<ChatId, Failure> {
    ChatId::parse(raw).map_err(|_| Failure::invalid_payload("chatId must be a 24-character hex id"))
}

/// The length of `value` as JSON, counted without building the text.
fn serialized_len(value: &impl Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // A failure to serialize counts as too large: the replay is refused, never sent broken.
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.0,
        Err(_) => usize::MAX,
    }
}

fn reply(ack: Option<AckSender>, body: &impl Serialize) {
    if let Some(ack) = ack {
        // The socket may have gone meanwhile; there is nobody left to tell.
        let _ = ack.send(body);
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
            Err(failure) => return reply(ack, &failure),
        };
        // Authorize first (the domain's join rule, without a catch-up): a refused join must not
        // place the socket in the room even briefly.
        let last_seq = match self.shared.services.messages.join(user, chat, None).await {
            Ok(JoinOutcome::Joined { last_seq }) => last_seq,
            Ok(_) => return reply(ack, &Failure::internal()),
            Err(e) => return reply(ack, &Failure::from(&e)),
        };
        let room = chat_room(chat);
        let Some(since) = since_seq else {
            // `lastSeq` is the chat's newest seq when the join was authorized: a live event
            // with a higher seq than `lastSeq + 1` tells the client it missed one.
            socket.join(&room);
            // A removal committed between the check and the join evicted nobody from a room
            // the socket was not in yet: check again now that it is in. A removal after this
            // read evicts the socket as it is delivered.
            if let Err(e) = self.shared.services.messages.join(user, chat, None).await {
                socket.leave(&room);
                return reply(ack, &Failure::from(&e));
            }
            return reply(ack, &Ack::from(Joined::new(last_seq)));
        };
        // Join before reading the missed events, so that nothing committed meanwhile is missed.
        // The read below also checks membership again, after the join: a removal committed
        // before it refuses the join, one committed after it evicts the socket as delivered.
        socket.join_held(&room);
        let outcome = match self.shared.services.messages.join(user, chat, Some(since)).await {
            Ok(outcome) => outcome,
            Err(e) => {
                socket.leave(&room);
                return reply(ack, &Failure::from(&e));
            }
        };
        let (body, replayed_up_to) = match outcome {
            JoinOutcome::Joined { last_seq } => {
                metrics::counter!("chat_catchup_replays_total", "outcome" => "recovered").increment(1);
                (Ack::DONE, last_seq)
            }
            JoinOutcome::Recovered { events, last_seq } => {
                let up_to = events.last().map_or(last_seq, |e| e.seq().max(last_seq));
                let replay = CatchUp::recovered(&events);
                if serialized_len(&replay) <= self.shared.config.catch_up_max_bytes {
                    metrics::counter!("chat_catchup_replays_total", "outcome" => "recovered").increment(1);
                    (replay.into(), up_to)
                } else {
                    metrics::counter!("chat_catchup_replays_total", "outcome" => "not_recovered").increment(1);
                    // Too many bytes to send at once: the same answer as too many events.
                    (CatchUp::not_recovered(CatchUpRefusal::TooFarBehind).into(), 0)
                }
            }
            // The client reloads history over HTTP; live events continue from here.
            JoinOutcome::NotRecovered { reason, .. } => {
                metrics::counter!("chat_catchup_replays_total", "outcome" => "not_recovered").increment(1);
                (CatchUp::not_recovered(reason).into(), 0)
            }
        };
        let first = ack.and_then(|ack| ack.into_frame(&body).ok());
        // Seq allocation is serialized per chat, so every event up to `replayed_up_to` was in
        // the replay; a held live frame at or below it would be a second copy.
        socket.release_room(&room, first, |frame| frame.seq().is_none_or(|seq| seq > replayed_up_to));
    }

    async fn send(&self, user: UserId, payload: &Payload) -> Result<Ack, Failure> {
        let p: SendPayload = parse(payload)?;
        let chat = parse_chat(&p.chat_id)?;
        let request = SendMessage { chat, text: &p.text, kind: p.kind.as_deref(), client_id: p.client_id.as_deref() };
        let message = self.shared.services.messages.send(user, request).await.map_err(|e| Failure::from(&e))?;
        metrics::counter!("chat_messages_accepted_total", "transport" => "socketio").increment(1);
        // Sending ends typing in that chat (contract): the others hear the stop right after
        // the `message:new`, which the send has already queued.
        if self.shared.typists.forget_user(user, chat) {
            let _ = self.shared.services.messages.typing(user, chat, false).await;
        }
        Ok(Sent::new(&message).into())
    }

    /// `message:edit`: acked like a send, `{success: true, message}`.
    async fn edit(&self, user: UserId, payload: &Payload) -> Result<Ack, Failure> {
        let p: EditPayload = parse(payload)?;
        let id = MessageId::parse(&p.message_id)
            .map_err(|_| Failure::invalid_payload("messageId must be a 24-character hex id"))?;
        let message = self.shared.services.messages.edit(user, id, &p.text).await.map_err(|e| Failure::from(&e))?;
        Ok(Sent::new(&message).into())
    }

    async fn typing(&self, socket: &Socket, user: UserId, payload: &Payload) -> Result<Ack, Failure> {
        let p: TypingPayload = parse(payload)?;
        let chat = parse_chat(&p.chat_id)?;
        if self.shared.typists.should_forward(socket.id(), user, chat, p.is_typing) {
            self.shared.services.messages.typing(user, chat, p.is_typing).await.map_err(|e| {
                let _ = self.shared.typists.forget(socket.id(), chat);
                Failure::from(&e)
            })?;
        }
        Ok(Ack::DONE)
    }
}

#[async_trait]
impl NamespaceHandler for ChatGateway {
    async fn on_connect(&self, socket: Socket, auth: Value, handshake: &Handshake) -> Result<(), Value> {
        // A struct of one string always serializes; the default only satisfies the type.
        let unauthorized = || serde_json::to_value(ConnectError::UNAUTHORIZED).unwrap_or_default();
        let token = presented_token(&auth, handshake).ok_or_else(unauthorized)?;
        let address = handshake.remote_addr().map(|a| a.ip());
        // The same check as every HTTP request: signature, times, the user exists, not revoked.
        let claims = match self.shared.services.auth.authenticate_from(address, &token).await {
            Ok(claims) => claims,
            // The store did not answer: the client may retry; nothing is known about the token.
            Err(chat_domain::Error::Unavailable) => {
                return Err(serde_json::to_value(ConnectError::UNAVAILABLE).unwrap_or_default());
            }
            Err(_) => return Err(unauthorized()),
        };
        if let Err(refusal) = self.shared.connections.admit(socket.id(), claims, address) {
            // Security log: once per burst, the address or user and the cap, never the token.
            tracing::debug!(?address, ?refusal, "refused a socket over the connection cap");
            self.shared.services.security.record(Incident::SocketLimited, Source::of(address, Some(claims.user)));
            return Err(serde_json::to_value(ConnectError::TOO_MANY_CONNECTIONS).unwrap_or_default());
        }
        socket.join(&user_room(claims.user));
        // A logout that changed the version after the check above may have sent its disconnect
        // before this socket was in the personal room. Checked again now that it is: a logout
        // later than this second check finds the socket in the room, one earlier is seen here.
        if let Err(e) = self.shared.services.auth.authenticate_from(address, &token).await {
            socket.leave(&user_room(claims.user));
            self.shared.connections.remove(socket.id());
            return Err(match e {
                chat_domain::Error::Unavailable => serde_json::to_value(ConnectError::UNAVAILABLE).unwrap_or_default(),
                _ => unauthorized(),
            });
        }
        // Authenticated and in its personal room: the socket counts for the user's presence.
        self.shared.services.presence.connected(claims.user).await;
        Ok(())
    }

    async fn on_event(&self, socket: &Socket, event: String, payload: Payload, ack: Option<AckSender>) {
        let user = match self.shared.connections.take_event(socket.id()) {
            Verdict::Allowed(user) => user,
            Verdict::Unknown => return reply(ack, &Failure::unauthorized()),
            Verdict::Refused { retry_after } => {
                metrics::counter!("chat_rate_limited_total", "kind" => "socket_events").increment(1);
                return reply(ack, &Failure::rate_limited(retry_after));
            }
            Verdict::CutOff => {
                tracing::debug!(socket = %socket.id().as_str(), "disconnected a socket that kept sending events past its budget");
                self.shared.services.security.record(Incident::SocketLimited, Source::Unknown);
                return socket.disconnect();
            }
        };
        if event == wire::events::CHAT_JOIN {
            return self.join(socket, user, &payload, ack).await;
        }
        let result = match event.as_str() {
            wire::events::CHAT_LEAVE => match parse::<LeavePayload>(&payload).and_then(|p| parse_chat(&p.chat_id)) {
                Ok(chat) => {
                    socket.leave(&chat_room(chat));
                    // A typist that leaves the room is announced as stopped, or the others
                    // would see it typing until they reload.
                    if self.shared.typists.forget(socket.id(), chat) {
                        let _ = self.shared.services.messages.typing(user, chat, false).await;
                    }
                    Ok(Ack::DONE)
                }
                Err(failure) => Err(failure),
            },
            wire::events::MESSAGE_SEND => self.send(user, &payload).await,
            wire::events::MESSAGE_EDIT => self.edit(user, &payload).await,
            wire::events::MESSAGE_TYPING => self.typing(socket, user, &payload).await,
            wire::events::MESSAGE_DELIVERED => self.receipt(user, &payload, MarkerKind::Delivered).await,
            wire::events::MESSAGE_READ => self.receipt(user, &payload, MarkerKind::Read).await,
            _ => Err(Failure::invalid_payload("unknown event")),
        };
        reply(ack, &result.unwrap_or_else(Ack::from));
    }

    /// Sends overlap: each waits for its durable append, and a client that streams messages
    /// without waiting for acks would otherwise get one append per round trip to the store.
    /// Everything else (joins, leaves, typing, edits, receipts) runs alone and in order.
    fn pipelined(&self, event: &str) -> bool {
        event == wire::events::MESSAGE_SEND
    }

    async fn on_disconnect(&self, socket: &Socket, _reason: DisconnectReason) {
        let claims = self.shared.connections.remove(socket.id());
        if let Some(claims) = claims {
            // The grace runs out in the services' `expire`, which the node calls periodically.
            self.shared.services.presence.disconnected(claims.user);
        }
        // A typist that disconnects is announced as stopped.
        for chat in self.shared.typists.forget_socket(socket.id()) {
            if let Some(claims) = claims {
                let _ = self.shared.services.messages.typing(claims.user, chat, false).await;
            }
        }
    }
}
