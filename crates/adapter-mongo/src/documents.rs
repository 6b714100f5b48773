//! The documents as stored in MongoDB, private to this adapter, and their translation to and
//! from the domain's entities.
//!
//! Field names follow the wire contract (camelCase, `_id`), so a document read with the mongo
//! shell looks like the JSON a client sees, plus the internal bookkeeping fields (`lastSeq`,
//! `lastMessageId`, `directKey`, `deletedSeq`, `passwordHash`) that never leave the server.

use chat_domain::error::StoreError;
use chat_domain::model::{Chat, Message, MessageKind, MessageStatus, PasswordHash, Seq, User};
use chat_domain::{ChatId, ChatName, ClientId, Email, Id, MessageId, MessageText, Timestamp, UserId, Username};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::DateTime;
use serde::{Deserialize, Serialize};

/// Collection names.
pub(crate) const USERS: &str = "users";
pub(crate) const CHATS: &str = "chats";
pub(crate) const MESSAGES: &str = "messages";
/// Each chat's log of edits and group changes (the name Mongoose gives a `ChatEvent` model).
pub(crate) const CHAT_EVENTS: &str = "chatevents";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    #[serde(default)]
    pub name: Option<String>,
    pub is_group: bool,
    pub participants: Vec<ObjectId>,
    pub created_by: ObjectId,
    #[serde(default)]
    pub last_message_id: Option<ObjectId>,
    #[serde(default)]
    pub last_seq: i64,
    /// Present only on 1:1 chats; a unique partial index on it makes them exist once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_key: Option<String>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub sender: ObjectId,
    pub chat: ObjectId,
    pub text: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub is_deleted: bool,
    pub seq: i64,
    /// Present only once deleted: the `seq` the soft delete took.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_seq: Option<i64>,
    /// Absent (not null) when the client sent none, so the unique partial index on
    /// `{sender, clientId}` leaves such messages alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
    /// Present once edited: the time of the last edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<DateTime>,
}

/// One entry of a chat's event log: an edit (`message`) or a change of the group (`userIds`,
/// `by`), at the `seq` it took.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatEventDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub chat: ObjectId,
    pub seq: i64,
    /// `edited`, or a change kind (`renamed`, `added`, `removed`, `left`).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<ObjectId>,
    #[serde(default)]
    pub user_ids: Vec<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<ObjectId>,
    pub at: DateTime,
}

pub(crate) fn oid(id: Id) -> ObjectId {
    ObjectId::from_bytes(id.bytes())
}

pub(crate) fn user_oid(id: UserId) -> ObjectId {
    oid(id.0)
}

pub(crate) fn chat_oid(id: ChatId) -> ObjectId {
    oid(id.0)
}

pub(crate) fn message_oid(id: MessageId) -> ObjectId {
    oid(id.0)
}

pub(crate) fn id(oid: ObjectId) -> Id {
    Id::from_bytes(oid.bytes())
}

pub(crate) fn bson_time(at: Timestamp) -> DateTime {
    DateTime::from_millis(at.timestamp_millis())
}

pub(crate) fn domain_time(at: DateTime) -> Result<Timestamp, StoreError> {
    chrono::DateTime::from_timestamp_millis(at.timestamp_millis())
        .ok_or_else(|| StoreError::other(format!("stored time {} is out of range", at.timestamp_millis())))
}

/// BSON has no unsigned 64-bit integer; sequence numbers are stored as `int64`.
pub(crate) fn bson_seq(seq: Seq) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::other(format!("seq {seq} does not fit in int64")))
}

pub(crate) fn domain_seq(seq: i64) -> Result<Seq, StoreError> {
    Seq::try_from(seq).map_err(|_| StoreError::other(format!("stored seq {seq} is negative")))
}

impl From<&User> for UserDoc {
    fn from(user: &User) -> Self {
        Self {
            id: user_oid(user.id),
            email: user.email.as_str().to_owned(),
            username: user.username.as_str().to_owned(),
            password_hash: user.password_hash.0.clone(),
            created_at: bson_time(user.created_at),
            updated_at: bson_time(user.updated_at),
        }
    }
}

impl TryFrom<UserDoc> for User {
    type Error = StoreError;

    fn try_from(doc: UserDoc) -> Result<Self, StoreError> {
        Ok(Self {
            id: UserId(id(doc.id)),
            email: Email::from_stored(doc.email),
            username: Username::from_stored(doc.username),
            password_hash: PasswordHash(doc.password_hash),
            created_at: domain_time(doc.created_at)?,
            updated_at: domain_time(doc.updated_at)?,
        })
    }
}

impl ChatDoc {
    pub(crate) fn new(chat: &Chat) -> Result<Self, StoreError> {
        Ok(Self {
            id: chat_oid(chat.id),
            name: chat.name.as_ref().map(|n| n.as_str().to_owned()),
            is_group: chat.is_group,
            participants: chat.participants.iter().map(|u| user_oid(*u)).collect(),
            created_by: user_oid(chat.created_by),
            last_message_id: chat.last_message_id.map(message_oid),
            last_seq: bson_seq(chat.last_seq)?,
            direct_key: chat.direct_key(),
            created_at: bson_time(chat.created_at),
            updated_at: bson_time(chat.updated_at),
        })
    }
}

impl TryFrom<ChatDoc> for Chat {
    type Error = StoreError;

    fn try_from(doc: ChatDoc) -> Result<Self, StoreError> {
        Ok(Self {
            id: ChatId(id(doc.id)),
            name: doc.name.map(ChatName::from_stored),
            is_group: doc.is_group,
            participants: doc.participants.into_iter().map(|u| UserId(id(u))).collect(),
            created_by: UserId(id(doc.created_by)),
            last_message_id: doc.last_message_id.map(|m| MessageId(id(m))),
            last_seq: domain_seq(doc.last_seq)?,
            created_at: domain_time(doc.created_at)?,
            updated_at: domain_time(doc.updated_at)?,
        })
    }
}

impl MessageDoc {
    pub(crate) fn new(message: &Message) -> Result<Self, StoreError> {
        Ok(Self {
            id: message_oid(message.id),
            sender: user_oid(message.sender),
            chat: chat_oid(message.chat),
            text: message.text.as_str().to_owned(),
            kind: message.kind.as_str().to_owned(),
            status: message.status.as_str().to_owned(),
            is_deleted: message.is_deleted(),
            seq: bson_seq(message.seq)?,
            deleted_seq: message.deleted_seq.map(bson_seq).transpose()?,
            client_id: message.client_id.as_ref().map(|c| c.as_str().to_owned()),
            created_at: bson_time(message.created_at),
            updated_at: bson_time(message.updated_at),
            edited_at: message.edited_at.map(bson_time),
        })
    }
}

impl TryFrom<MessageDoc> for Message {
    type Error = StoreError;

    fn try_from(doc: MessageDoc) -> Result<Self, StoreError> {
        let kind = MessageKind::parse(&doc.kind)
            .map_err(|_| StoreError::other(format!("stored message type {:?} is unknown", doc.kind)))?;
        let status = MessageStatus::parse(&doc.status)
            .map_err(|_| StoreError::other(format!("stored message status {:?} is unknown", doc.status)))?;
        Ok(Self {
            id: MessageId(id(doc.id)),
            chat: ChatId(id(doc.chat)),
            sender: UserId(id(doc.sender)),
            text: MessageText::from_stored(doc.text),
            kind,
            status,
            seq: domain_seq(doc.seq)?,
            deleted_seq: doc.deleted_seq.map(domain_seq).transpose()?,
            client_id: doc.client_id.map(ClientId::from_stored),
            created_at: domain_time(doc.created_at)?,
            updated_at: domain_time(doc.updated_at)?,
            edited_at: doc.edited_at.map(domain_time).transpose()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_twelve_bytes() {
        let user = UserId::generate(1_700_000_000);
        let oid = user_oid(user);
        assert_eq!(oid.to_hex(), user.to_string());
        assert_eq!(UserId(id(oid)), user);
    }

    #[test]
    fn times_keep_their_milliseconds() {
        let t = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap_or_default();
        assert_eq!(domain_time(bson_time(t)).ok(), Some(t));
    }

    #[test]
    fn seqs_outside_int64_are_refused() {
        assert!(bson_seq(u64::MAX).is_err());
        assert!(domain_seq(-1).is_err());
        assert_eq!(domain_seq(7).ok(), Some(7));
    }
}
