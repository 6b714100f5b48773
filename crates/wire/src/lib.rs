//! The JSON shapes of the wire contract: what clients see of users, chats, messages and events.
//!
//! These types are response shapes only; request bodies are parsed by each adapter into its own
//! DTOs. They derive `Deserialize` too, so tests and clients can read responses back. Field
//! order follows `CONTRACT.md`, ids are 24 lowercase hex characters, and every time is ISO-8601
//! UTC with exactly three fractional digits and a `Z` (see [`format_timestamp`]). This crate
//! depends on no web framework, so the HTTP adapter and the WebSocket gateway share it.

use chat_domain::{ChatView, Timestamp};
use serde::{Deserialize, Serialize};

pub mod acks;
pub mod delivery;
mod groups;
mod numbers;
#[cfg(feature = "openapi")]
pub mod openapi;
mod presence;
mod receipts;
mod time;

pub use groups::{ChatChange, ChatUpdated, MessageUpdated};

pub use presence::PresenceState;
pub use receipts::{ChatUnread, DeliveredReply, ReadReply, ReceiptEntry, ReceiptUpdated};

pub use numbers::whole_number;
pub use time::{format_timestamp, TimestampText};

pub mod rooms;

/// Names of the Socket.IO events of the contract.
pub mod events {
    pub const CHAT_JOIN: &str = "chat:join";
    pub const CHAT_LEAVE: &str = "chat:leave";
    pub const CHAT_CREATED: &str = "chat:created";
    pub const MESSAGE_SEND: &str = "message:send";
    pub const MESSAGE_NEW: &str = "message:new";
    pub const MESSAGE_TYPING: &str = "message:typing";
    pub const MESSAGE_DELETED: &str = "message:deleted";
    pub const MESSAGE_EDIT: &str = "message:edit";
    pub const MESSAGE_UPDATED: &str = "message:updated";
    pub const CHAT_UPDATED: &str = "chat:updated";
    pub const MESSAGE_DELIVERED: &str = "message:delivered";
    pub const MESSAGE_READ: &str = "message:read";
    pub const RECEIPT_UPDATED: &str = "receipt:updated";
    pub const CHAT_UNREAD: &str = "chat:unread";
    pub const PRESENCE_UPDATE: &str = "presence:update";
    /// The name a logout's delivery carries. It is never sent to a client: that delivery
    /// targets no room and disconnects the user's sockets instead.
    pub const TOKENS_REVOKED: &str = "auth:revoked";
}

/// An id as the contract shows it, in a `String` of exactly its 24 characters.
fn id_string(id: chat_domain::Id) -> String {
    id.text().as_str().to_owned()
}

/// Serde helpers for [`Timestamp`] fields in the contract's format.
pub mod timestamp {
    use chat_domain::Timestamp;
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the time from a stack buffer, without an intermediate `String`.
    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        super::time::serialize_timestamp(at, serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let raw = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| serde::de::Error::custom("expected an ISO-8601 time"))
    }
}

/// Serde helpers for optional [`Timestamp`] fields: `null` when absent.
pub mod optional_timestamp {
    use chat_domain::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::time::serialize_timestamp(at, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let raw = Option::<String>::deserialize(deserializer)?;
        raw.map(|raw| {
            chrono::DateTime::parse_from_rfc3339(&raw)
                .map(|at| at.with_timezone(&chrono::Utc))
                .map_err(|_| serde::de::Error::custom("expected an ISO-8601 time"))
        })
        .transpose()
    }
}

/// A user account as clients see it; never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    #[serde(rename = "_id")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub id: String,
    pub email: String,
    pub username: String,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub created_at: Timestamp,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub updated_at: Timestamp,
}

impl From<&chat_domain::User> for User {
    fn from(user: &chat_domain::User) -> Self {
        Self {
            id: id_string(user.id.0),
            email: user.email.as_str().to_owned(),
            username: user.username.as_str().to_owned(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// Another user as a search shows them: no email, so that searching cannot harvest addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PublicUser {
    #[serde(rename = "_id")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub id: String,
    pub username: String,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub created_at: Timestamp,
}

impl From<&chat_domain::User> for PublicUser {
    fn from(user: &chat_domain::User) -> Self {
        Self { id: id_string(user.id.0), username: user.username.as_str().to_owned(), created_at: user.created_at }
    }
}

/// The `type` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    Image,
    File,
    Voice,
}

impl From<chat_domain::MessageKind> for MessageType {
    fn from(kind: chat_domain::MessageKind) -> Self {
        match kind {
            chat_domain::MessageKind::Text => Self::Text,
            chat_domain::MessageKind::Image => Self::Image,
            chat_domain::MessageKind::File => Self::File,
            chat_domain::MessageKind::Voice => Self::Voice,
        }
    }
}

/// The delivery `status` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

impl From<chat_domain::MessageStatus> for MessageStatus {
    fn from(status: chat_domain::MessageStatus) -> Self {
        match status {
            chat_domain::MessageStatus::Sent => Self::Sent,
            chat_domain::MessageStatus::Delivered => Self::Delivered,
            chat_domain::MessageStatus::Read => Self::Read,
        }
    }
}

/// A message; `clientId` appears only when the sender gave one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(rename = "_id")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub sender: String,
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub chat: String,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: MessageType,
    pub status: MessageStatus,
    pub is_deleted: bool,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub created_at: Timestamp,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub updated_at: Timestamp,
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub client_id: Option<String>,
    /// The time of the last edit, `null` if never edited.
    #[serde(default, with = "optional_timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<openapi::Timestamp>, required = true))]
    pub edited_at: Option<Timestamp>,
}

impl From<&chat_domain::Message> for Message {
    fn from(message: &chat_domain::Message) -> Self {
        Self {
            id: id_string(message.id.0),
            sender: id_string(message.sender.0),
            chat: id_string(message.chat.0),
            // Blanked here, through the domain's rule, because every message the server serves
            // (HTTP replies, chat lists' lastMessage, gateway events and catch-up replays) is
            // converted by this one function, so rows deleted before stores erased the text
            // never show it either.
            text: message.served_text().to_owned(),
            kind: message.kind.into(),
            status: message.status.into(),
            is_deleted: message.is_deleted(),
            created_at: message.created_at,
            updated_at: message.updated_at,
            seq: message.seq,
            client_id: message.client_id.as_ref().map(|c| c.as_str().to_owned()),
            edited_at: message.edited_at,
        }
    }
}

/// A chat; `name` and `lastMessage` are `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Chat {
    #[serde(rename = "_id")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub name: Option<String>,
    pub is_group: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<openapi::ObjectId>))]
    pub participants: Vec<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::ObjectId))]
    pub created_by: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_message: Option<Message>,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub created_at: Timestamp,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = openapi::Timestamp))]
    pub updated_at: Timestamp,
    /// The chat's highest seq so far.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_seq: u64,
    /// The caller's unread messages: from others, not deleted, above the caller's read marker.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub unread_count: u64,
    /// One per participant, in the chat's order.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub receipts: Vec<ReceiptEntry>,
}

impl Chat {
    fn from_parts(chat: &chat_domain::Chat, last_message: Option<&chat_domain::Message>) -> Self {
        Self {
            id: id_string(chat.id.0),
            name: chat.name.as_ref().map(|n| n.as_str().to_owned()),
            is_group: chat.is_group,
            participants: chat.participants.iter().map(|p| id_string(p.0)).collect(),
            created_by: id_string(chat.created_by.0),
            last_message: last_message.map(Message::from),
            created_at: chat.created_at,
            updated_at: chat.updated_at,
            last_seq: chat.last_seq,
            unread_count: 0,
            // Without receipts at hand (a chat just made, an event to many users), every
            // participant stands at 0, which is exactly what a new chat holds.
            receipts: chat
                .participants
                .iter()
                .map(|&user| ReceiptEntry::from(&chat_domain::receipts::Receipt { user, markers: Default::default() }))
                .collect(),
        }
    }
}

/// A chat as its participant sees it: receipts and unread count included.
impl From<&chat_domain::ChatSummary> for Chat {
    fn from(summary: &chat_domain::ChatSummary) -> Self {
        let mut chat = Self::from_parts(&summary.view.chat, summary.view.last_message.as_ref());
        chat.unread_count = summary.unread_count;
        chat.receipts = summary.receipts.iter().map(ReceiptEntry::from).collect();
        chat
    }
}

impl From<&ChatView> for Chat {
    fn from(view: &ChatView) -> Self {
        Self::from_parts(&view.chat, view.last_message.as_ref())
    }
}

/// A chat without its newest message at hand (`lastMessage` is `null`), as `chat:created`
/// announces a chat that was just made.
impl From<&chat_domain::Chat> for Chat {
    fn from(chat: &chat_domain::Chat) -> Self {
        Self::from_parts(chat, None)
    }
}

/// The payload of `message:deleted`; `seq` is the delete's own sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    pub message_id: String,
    pub chat_id: String,
    pub seq: u64,
}

impl MessageDeleted {
    pub fn new(chat: chat_domain::ChatId, message: chat_domain::MessageId, seq: u64) -> Self {
        Self { message_id: id_string(message.0), chat_id: id_string(chat.0), seq }
    }
}

/// The payload of `message:typing` as the other participants receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Typing {
    pub chat_id: String,
    pub user_id: String,
    pub is_typing: bool,
}

impl Typing {
    pub fn new(chat: chat_domain::ChatId, user: chat_domain::UserId, is_typing: bool) -> Self {
        Self { chat_id: id_string(chat.0), user_id: id_string(user.0), is_typing }
    }
}

/// A persisted chat event as a catch-up replays it: `{"event": "message:new", "data": Message}`,
/// `{"event": "message:deleted", "data": {messageId, chatId, seq}}`,
/// `{"event": "message:updated", "data": {message, seq}}` or
/// `{"event": "chat:updated", "data": {chat, change, seq}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", content = "data")]
pub enum ChatEvent {
    #[serde(rename = "message:new")]
    MessageNew(Message),
    #[serde(rename = "message:deleted")]
    MessageDeleted(MessageDeleted),
    #[serde(rename = "message:updated")]
    MessageUpdated(MessageUpdated),
    #[serde(rename = "chat:updated")]
    ChatUpdated(Box<ChatUpdated>),
}

impl ChatEvent {
    /// The Socket.IO event name a live delivery of this event uses.
    pub fn name(&self) -> &'static str {
        match self {
            Self::MessageNew(_) => events::MESSAGE_NEW,
            Self::MessageDeleted(_) => events::MESSAGE_DELETED,
            Self::MessageUpdated(_) => events::MESSAGE_UPDATED,
            Self::ChatUpdated(_) => events::CHAT_UPDATED,
        }
    }
}

impl From<&chat_domain::ChatEvent> for ChatEvent {
    fn from(event: &chat_domain::ChatEvent) -> Self {
        match event {
            chat_domain::ChatEvent::MessageCreated(message) => Self::MessageNew(message.into()),
            chat_domain::ChatEvent::MessageDeleted { chat, message, seq } => {
                Self::MessageDeleted(MessageDeleted::new(*chat, *message, *seq))
            }
            chat_domain::ChatEvent::MessageUpdated { message, seq } => {
                Self::MessageUpdated(MessageUpdated::new(message, *seq))
            }
            chat_domain::ChatEvent::ChatUpdated { chat, change, seq } => {
                Self::ChatUpdated(Box::new(ChatUpdated::new(chat.as_ref(), change, *seq)))
            }
        }
    }
}

/// What register and login answer: `{accessToken, user}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuthSession {
    pub access_token: String,
    pub user: User,
}

impl From<&chat_domain::Session> for AuthSession {
    fn from(session: &chat_domain::Session) -> Self {
        Self { access_token: session.access_token.clone(), user: (&session.user).into() }
    }
}

/// A page of a chat's history: `{messages, hasMore}`, messages oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

impl From<&chat_domain::MessagePage> for MessagePage {
    fn from(page: &chat_domain::MessagePage) -> Self {
        Self { messages: page.messages.iter().map(Message::from).collect(), has_more: page.has_more }
    }
}

/// `{"success": true}`, the answer of a delete and of a logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Success {
    pub success: bool,
}

impl Success {
    pub const YES: Self = Self { success: true };
}

/// The NestJS error body every HTTP error carries:
/// `{"statusCode": 400, "error": "Bad Request", "message": "text must not be empty"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub status_code: u16,
    /// The status's reason phrase.
    pub error: String,
    /// What went wrong, safe to show; never internal detail.
    pub message: String,
}

#[cfg(test)]
mod tests;
