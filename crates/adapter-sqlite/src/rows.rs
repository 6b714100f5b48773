//! Translation between rows and domain values: the column lists every query selects, and
//! the encodings of ids, times, kinds and statuses.

use std::str::FromStr;

use chat_domain::model::{MessageKind, MessageStatus, PasswordHash};
use chat_domain::{Chat, ChatName, ClientId, Email, Message, MessageText, Timestamp, User, Username};
use chrono::DateTime;
use rusqlite::types::Type;
use rusqlite::Row;

/// The columns [`user`] reads, in order.
pub(crate) const USER_COLUMNS: &str = "u.id, u.email, u.username, u.password_hash, u.created_at, u.updated_at";

/// The columns [`chat`] reads, in order; participants come from their own table.
pub(crate) const CHAT_COLUMNS: &str =
    "c.id, c.name, c.is_group, c.created_by, c.last_message_id, c.last_seq, c.created_at, c.updated_at";
const CHAT_COLUMN_COUNT: usize = 8;

/// The columns [`message`] reads, in order.
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.id, m.chat_id, m.sender_id, m.text, m.kind, m.status, m.seq, m.deleted_seq, m.client_id, m.created_at, m.updated_at";
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 11;

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

fn id<T: FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.get(index)?;
    text.parse().map_err(|e| bad_value(index, Type::Text, e))
}

fn optional_id<T: FromStr>(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.get(index)?;
    text.map(|t| t.parse().map_err(|e| bad_value(index, Type::Text, e))).transpose()
}

fn time(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
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
    let text: String = row.get(index)?;
    MessageKind::parse(&text).map_err(|e| bad_value(index, Type::Text, e))
}

/// A user from [`USER_COLUMNS`] at the start of the row.
pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: id(row, 0)?,
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
        id: id(row, 0)?,
        name: row.get::<_, Option<String>>(1)?.map(ChatName::from_stored),
        is_group: row.get(2)?,
        participants: Vec::new(),
        created_by: id(row, 3)?,
        last_message_id: optional_id(row, 4)?,
        last_seq: row.get(5)?,
        created_at: time(row, 6)?,
        updated_at: time(row, 7)?,
    })
}

/// A message from [`MESSAGE_COLUMNS`] starting at column `at`.
pub(crate) fn message_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Message> {
    Ok(Message {
        id: id(row, at)?,
        chat: id(row, at + 1)?,
        sender: id(row, at + 2)?,
        text: MessageText::from_stored(row.get(at + 3)?),
        kind: kind(row, at + 4)?,
        status: status(row, at + 5)?,
        seq: row.get(at + 6)?,
        deleted_seq: row.get(at + 7)?,
        client_id: row.get::<_, Option<String>>(at + 8)?.map(ClientId::from_stored),
        created_at: time(row, at + 9)?,
        updated_at: time(row, at + 10)?,
    })
}

pub(crate) fn message(row: &Row<'_>) -> rusqlite::Result<Message> {
    message_at(row, 0)
}

/// A chat from [`CHAT_COLUMNS`] followed by its last message's [`MESSAGE_COLUMNS`] from a
/// LEFT JOIN (all NULL when the chat has no message).
pub(crate) fn chat_with_last_message(row: &Row<'_>) -> rusqlite::Result<(Chat, Option<Message>)> {
    let chat = chat(row)?;
    let has_message = row.get::<_, Option<String>>(CHAT_COLUMN_COUNT)?.is_some();
    let last = if has_message { Some(message_at(row, CHAT_COLUMN_COUNT)?) } else { None };
    Ok((chat, last))
}
