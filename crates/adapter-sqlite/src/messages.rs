//! `MessageRepository` on SQLite: appends and soft deletes take the chat's next `seq` on the
//! writer thread, inside its batch's `BEGIN IMMEDIATE` transaction; history pages and
//! catch-up read by `(chat, seq)`.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{Appended, MessageDraft, MessagePage, PageCursor, SoftDeleted};
use chat_domain::ports::MessageRepository;
use chat_domain::{ChatEvent, ChatId, ClientId, Message, MessageId, Seq, Timestamp, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{DbError, DbResult};
use crate::rows::{self, millis, status_rank, MESSAGE_COLUMNS, MESSAGE_COLUMN_COUNT};
use crate::users::sql_limit;
use crate::SqliteStore;

fn message_by_id(conn: &Connection, id: MessageId) -> DbResult<Option<Message>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id.to_string()], rows::message).optional()?)
}

/// The chat's `last_seq`, or `None` if there is no such chat.
fn last_seq(tx: &Connection, chat: ChatId) -> DbResult<Option<Seq>> {
    let mut stmt = tx.prepare_cached("SELECT last_seq FROM chats WHERE id = ?1")?;
    Ok(stmt.query_row([chat.to_string()], |row| row.get(0)).optional()?)
}

/// Runs on the writer thread inside a batch transaction (which holds the write lock from its
/// first read, so the duplicate check and the seq read cannot go stale before the insert: two
/// appends never see the same last_seq) and its own savepoint (so a failure undoes all of it).
fn append_message(tx: &Connection, draft: MessageDraft) -> DbResult<Appended> {
    if let Some(client_id) = &draft.client_id {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = ?1 AND m.client_id = ?2");
        let params = params![draft.sender.to_string(), client_id.as_str()];
        if let Some(existing) = tx.prepare_cached(&sql)?.query_row(params, rows::message).optional()? {
            return Ok(Appended::Duplicate(existing));
        }
    }
    let Some(last) = last_seq(tx, draft.chat)? else {
        return Err(DbError::refused(format!("chat {} does not exist", draft.chat)));
    };
    let message = draft.into_message(last + 1);
    let sql = "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id, created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10)";
    tx.prepare_cached(sql)?.execute(params![
        message.id.to_string(),
        message.chat.to_string(),
        message.sender.to_string(),
        message.text.as_str(),
        message.kind.as_str(),
        status_rank(message.status),
        message.seq,
        message.client_id.as_ref().map(|c| c.as_str()),
        millis(message.created_at),
        millis(message.updated_at),
    ])?;
    let sql = "UPDATE chats SET last_seq = ?1, last_message_id = ?2, updated_at = ?3 WHERE id = ?4";
    tx.prepare_cached(sql)?.execute(params![
        message.seq,
        message.id.to_string(),
        millis(message.created_at),
        message.chat.to_string()
    ])?;
    Ok(Appended::Created(message))
}

fn page_messages(conn: &mut Connection, chat: ChatId, cursor: PageCursor, limit: u32) -> DbResult<Option<MessagePage>> {
    let tx = conn.transaction()?;
    // Both cursors become "listed messages below seq `upper`, after skipping `skip`".
    let (upper, skip) = match cursor {
        PageCursor::Skip(n) => (i64::MAX, i64::try_from(n).unwrap_or(i64::MAX)),
        PageCursor::Before(anchor) => {
            let mut stmt = tx.prepare_cached("SELECT seq FROM messages WHERE id = ?1 AND chat_id = ?2")?;
            let found: Option<i64> =
                stmt.query_row([anchor.to_string(), chat.to_string()], |row| row.get(0)).optional()?;
            match found {
                Some(seq) => (seq, 0),
                None => return Ok(None),
            }
        }
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m
         WHERE m.chat_id = ?1 AND m.deleted_seq IS NULL AND m.seq < ?2
         ORDER BY m.seq DESC
         LIMIT ?3 OFFSET ?4"
    );
    // One more than asked tells whether older messages exist.
    let wanted = i64::from(limit) + 1;
    let mut messages = {
        let mut stmt = tx.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![chat.to_string(), upper, wanted, skip], rows::message)?;
        rows.collect::<rusqlite::Result<Vec<Message>>>()?
    };
    tx.finish()?;
    let has_more = messages.len() > limit as usize;
    messages.truncate(limit as usize);
    messages.reverse();
    Ok(Some(MessagePage { messages, has_more }))
}

/// On the writer thread, inside a batch transaction and its own savepoint, like appends.
fn soft_delete_message(tx: &Connection, id: MessageId, at: Timestamp) -> DbResult<SoftDeleted> {
    let Some(mut message) = message_by_id(tx, id)? else {
        return Ok(SoftDeleted::NotFound);
    };
    if message.is_deleted() {
        return Ok(SoftDeleted::AlreadyDeleted(message));
    }
    let Some(last) = last_seq(tx, message.chat)? else {
        return Err(DbError::refused(format!("message {id} belongs to no chat")));
    };
    let seq = last + 1;
    let sql = "UPDATE messages SET deleted_seq = ?1, updated_at = ?2 WHERE id = ?3";
    tx.prepare_cached(sql)?.execute(params![seq, millis(at), id.to_string()])?;
    // The delete is an event of the chat (it takes a seq) but not activity: updated_at and
    // last_message_id stay.
    let sql = "UPDATE chats SET last_seq = ?1 WHERE id = ?2";
    tx.prepare_cached(sql)?.execute(params![seq, message.chat.to_string()])?;
    message.deleted_seq = Some(seq);
    message.updated_at = at;
    Ok(SoftDeleted::Deleted { message, seq })
}

fn chat_events_since(conn: &Connection, chat: ChatId, since: Seq, max: usize) -> DbResult<Vec<ChatEvent>> {
    // Creations by seq and deletes by deleted_seq, each from its own index, merged in order.
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS}, 0 AS is_delete, m.seq AS event_seq
           FROM messages m WHERE m.chat_id = ?1 AND m.seq > ?2
         UNION ALL
         SELECT {MESSAGE_COLUMNS}, 1 AS is_delete, m.deleted_seq AS event_seq
           FROM messages m WHERE m.chat_id = ?1 AND m.deleted_seq > ?2
         ORDER BY event_seq
         LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![chat.to_string(), since, sql_limit(max)], |row| {
        let message = rows::message(row)?;
        let is_delete: bool = row.get(MESSAGE_COLUMN_COUNT)?;
        let seq: Seq = row.get(MESSAGE_COLUMN_COUNT + 1)?;
        Ok(if is_delete {
            ChatEvent::MessageDeleted { chat: message.chat, message: message.id, seq }
        } else {
            ChatEvent::MessageCreated(message)
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<ChatEvent>>>()?)
}

#[async_trait]
impl MessageRepository for SqliteStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        self.write(move |conn| append_message(conn, draft)).await
    }

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read(move |conn| message_by_id(conn, id)).await
    }

    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError> {
        let client_id = client_id.as_str().to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.sender_id = ?1 AND m.client_id = ?2");
            Ok(conn
                .prepare_cached(&sql)?
                .query_row(params![sender.to_string(), client_id], rows::message)
                .optional()?)
        })
        .await
    }

    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        self.read(move |conn| page_messages(conn, chat, cursor, limit)).await
    }

    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        self.write(move |conn| soft_delete_message(conn, id, at)).await
    }

    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        self.read(move |conn| chat_events_since(conn, chat, since, max)).await
    }
}
