//! Translation between rows and domain values: the column lists every query selects, and
//! the encodings of ids, times, kinds and statuses.
//!
//! Ids are bound and read without a `String` in between: bound from a stack buffer
//! ([`Key::key`]) and parsed straight from the row's text.

use chat_domain::id::IdText;
use chat_domain::model::{MessageKind, MessageStatus, PasswordHash};
use chat_domain::{Chat, ChatId, ChatName, ClientId, Email, Id, Message, MessageId, MessageText, Timestamp, User};
use chat_domain::{UserId, Username};
use chrono::DateTime;
use rusqlite::types::{ToSqlOutput, Type, ValueRef};
use rusqlite::{Row, ToSql};

/// The columns [`user`] reads, in order. Macros rather than constants so that every query is
/// one string literal built at compile time (`concat!`), never a `format!` per call.
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.username, u.password_hash, u.created_at, u.updated_at"
    };
}

/// The columns [`chat`] reads, in order; participants come from their own table.
macro_rules! chat_columns {
    () => {
        "c.id, c.name, c.is_group, c.created_by, c.last_message_id, c.last_seq, c.created_at, c.updated_at"
    };
}
pub(crate) const CHAT_COLUMN_COUNT: usize = 8;

/// The columns [`message`] reads, in order.
macro_rules! message_columns {
    () => {
        "m.id, m.chat_id, m.sender_id, m.text, m.kind, m.status, m.seq, m.deleted_seq, m.client_id, m.created_at, m.updated_at, m.edited_at"
    };
}
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 12;

pub(crate) use {chat_columns, message_columns, user_columns};

/// An id bound as a statement parameter: its hex text from a stack buffer.
pub(crate) struct SqlId(IdText);

impl ToSql for SqlId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self.0.as_bytes())))
    }
}

/// Ids of every kind as statement parameters.
pub(crate) trait Key {
    fn key(&self) -> SqlId;
}

impl Key for Id {
    fn key(&self) -> SqlId {
        SqlId(self.text())
    }
}

macro_rules! typed_key {
    ($($name:ty),*) => {
        $(impl Key for $name {
            fn key(&self) -> SqlId {
                self.0.key()
            }
        })*
    };
}
typed_key!(UserId, ChatId, MessageId);

pub(crate) fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(crate) fn status_rank(status: MessageStatus) -> i64 {
    match status {
        MessageStatus::Sent => 0,
        MessageStatus::Delivered => 1,
        MessageStatus::Read => 2,
    }
}

fn bad_value(index: usize, ty: Type, err: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, ty, err.into())
}

/// The id in column `index`, parsed from the row's text in place; `None` for NULL.
pub(crate) fn optional_id(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Id>> {
    match row.get_ref(index)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(text) => Id::parse_ascii(text).map(Some).map_err(|e| bad_value(index, Type::Text, e)),
        other => Err(rusqlite::Error::InvalidColumnType(index, String::new(), other.data_type())),
    }
}

/// The id in column `index`, which must not be NULL.
pub(crate) fn id(row: &Row<'_>, index: usize) -> rusqlite::Result<Id> {
    optional_id(row, index)?.ok_or(rusqlite::Error::InvalidColumnType(index, String::new(), Type::Null))
}

fn optional_time(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    match row.get::<_, Option<i64>>(index)? {
        None => Ok(None),
        Some(ms) => DateTime::from_timestamp_millis(ms)
            .map(Some)
            .ok_or_else(|| bad_value(index, Type::Integer, format!("time {ms} out of range"))),
    }
}

pub(crate) fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
    let ms: i64 = row.get(index)?;
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| bad_value(index, Type::Integer, format!("time {ms} out of range")))
}

fn status(row: &Row<'_>, index: usize) -> rusqlite::Result<MessageStatus> {
    match row.get::<_, i64>(index)? {
        0 => Ok(MessageStatus::Sent),
        1 => Ok(MessageStatus::Delivered),
        2 => Ok(MessageStatus::Read),
        other => Err(bad_value(index, Type::Integer, format!("unknown status rank {other}"))),
    }
}

fn kind(row: &Row<'_>, index: usize) -> rusqlite::Result<MessageKind> {
    let text = row.get_ref(index)?.as_str()?;
    MessageKind::parse(text).map_err(|e| bad_value(index, Type::Text, e))
}

/// A user from [`USER_COLUMNS`] at the start of the row.
pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId(id(row, 0)?),
        email: Email::from_stored(row.get(1)?),
        username: Username::from_stored(row.get(2)?),
        password_hash: PasswordHash(row.get(3)?),
        created_at: time(row, 4)?,
        updated_at: time(row, 5)?,
    })
}

/// A chat from [`CHAT_COLUMNS`] at the start of the row, without its participants.
pub(crate) fn chat(row: &Row<'_>) -> rusqlite::Result<Chat> {
    Ok(Chat {
        id: ChatId(id(row, 0)?),
        name: row.get::<_, Option<String>>(1)?.map(ChatName::from_stored),
        is_group: row.get(2)?,
        participants: Vec::new(),
        created_by: UserId(id(row, 3)?),
        last_message_id: optional_id(row, 4)?.map(MessageId),
        last_seq: row.get(5)?,
        created_at: time(row, 6)?,
        updated_at: time(row, 7)?,
    })
}

/// A message from [`MESSAGE_COLUMNS`] starting at column `at`.
pub(crate) fn message_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MessageId(id(row, at)?),
        chat: ChatId(id(row, at + 1)?),
        sender: UserId(id(row, at + 2)?),
        text: MessageText::from_stored(row.get(at + 3)?),
        kind: kind(row, at + 4)?,
        status: status(row, at + 5)?,
        seq: row.get(at + 6)?,
        deleted_seq: row.get(at + 7)?,
        client_id: row.get::<_, Option<String>>(at + 8)?.map(ClientId::from_stored),
        created_at: time(row, at + 9)?,
        updated_at: time(row, at + 10)?,
        edited_at: optional_time(row, at + 11)?,
    })
}

pub(crate) fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}

/// A chat from [`CHAT_COLUMNS`] followed by its last message's [`MESSAGE_COLUMNS`] from a
/// LEFT JOIN (all NULL when the chat has no message).
pub(crate) fn chat_with_last_message(row: &Row<'_>) -> rusqlite::Result<(Chat, Option<Message>)> {
    let chat = chat(row)?;
    let has_message = !matches!(row.get_ref(CHAT_COLUMN_COUNT)?, ValueRef::Null);
    let last = if has_message { Some(message_at(row, CHAT_COLUMN_COUNT)?) } else { None };
    Ok((chat, last))
}
