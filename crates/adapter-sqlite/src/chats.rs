//! `ChatRepository` on SQLite: the UNIQUE `direct_key` makes a 1:1 chat exist once, and
//! listings join each chat's newest message.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{ChatInserted, ChatView};
use chat_domain::ports::ChatRepository;
use chat_domain::{Chat, ChatId, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{DbError, DbResult};
use crate::rows::{self, millis, CHAT_COLUMNS, MESSAGE_COLUMNS};
use crate::SqliteStore;

/// Chats with their last message; the caller adds the WHERE clause (and ORDER BY).
fn chat_view_select() -> String {
    format!("SELECT {CHAT_COLUMNS}, {MESSAGE_COLUMNS} FROM chats c LEFT JOIN messages m ON m.id = c.last_message_id")
}

/// Fills in a chat's participants, in the order they were given.
fn with_participants(conn: &Connection, mut chat: Chat) -> DbResult<Chat> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM chat_participants WHERE chat_id = ?1 ORDER BY position")?;
    let ids = stmt.query_map([chat.id.to_string()], |row| row.get::<_, String>(0))?;
    for id in ids {
        let id = id?;
        let user = id.parse().map_err(|_| DbError::refused(format!("invalid participant id {id:?}")))?;
        chat.participants.push(user);
    }
    Ok(chat)
}

/// The chat with its newest message, read on `conn` (inside the caller's transaction).
pub(crate) fn chat_view(conn: &Connection, id: ChatId) -> DbResult<Option<ChatView>> {
    let sql = format!("{} WHERE c.id = ?1", chat_view_select());
    let found = conn.prepare_cached(&sql)?.query_row([id.to_string()], rows::chat_with_last_message).optional()?;
    let Some((chat, last_message)) = found else {
        return Ok(None);
    };
    Ok(Some(ChatView { chat: with_participants(conn, chat)?, last_message }))
}

/// On the writer thread, inside a batch transaction and its own savepoint.
fn insert_chat(tx: &Connection, chat: &Chat) -> DbResult<ChatInserted> {
    let direct_key = chat.direct_key();
    // A second 1:1 chat for the same pair hits the UNIQUE direct_key and inserts nothing (also
    // when the first was inserted earlier in the same batch); the batch's write lock makes
    // "nothing inserted" and "read the winner" one step.
    let sql = "INSERT INTO chats (id, name, is_group, created_by, direct_key, last_message_id, last_seq, created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, NULL, 0, ?6, ?7) ON CONFLICT (direct_key) DO NOTHING";
    let inserted = tx.prepare_cached(sql)?.execute(params![
        chat.id.to_string(),
        chat.name.as_ref().map(|n| n.as_str()),
        chat.is_group,
        chat.created_by.to_string(),
        direct_key,
        millis(chat.created_at),
        millis(chat.updated_at),
    ])?;
    if inserted == 0 {
        let sql = format!("{} WHERE c.direct_key = ?1", chat_view_select());
        let found = tx.prepare_cached(&sql)?.query_row([&direct_key], rows::chat_with_last_message).optional()?;
        let Some((existing, _)) = found else {
            return Err(DbError::refused("a chat conflicted on its direct key, yet none holds it"));
        };
        let existing = with_participants(tx, existing)?;
        return Ok(ChatInserted::ExistingDirect(existing));
    }
    {
        let mut stmt =
            tx.prepare_cached("INSERT INTO chat_participants (user_id, chat_id, position) VALUES (?1, ?2, ?3)")?;
        for (position, user) in chat.participants.iter().enumerate() {
            stmt.execute(params![user.to_string(), chat.id.to_string(), position])?;
        }
    }
    Ok(ChatInserted::Created(Chat { last_message_id: None, last_seq: 0, ..chat.clone() }))
}

#[async_trait]
impl ChatRepository for SqliteStore {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        let chat = chat.clone();
        self.write(move |conn| insert_chat(conn, &chat)).await
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let view = chat_view(&tx, id)?;
            tx.finish()?;
            Ok(view)
        })
        .await
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let sql = format!("SELECT {CHAT_COLUMNS} FROM chats c WHERE c.id = ?1");
            let found = tx.prepare_cached(&sql)?.query_row([id.to_string()], rows::chat).optional()?;
            let chat = found.map(|chat| with_participants(&tx, chat)).transpose()?;
            tx.finish()?;
            Ok(chat)
        })
        .await
    }

    async fn chats_of_user(&self, user: UserId) -> Result<Vec<ChatView>, StoreError> {
        self.read(move |conn| {
            let tx = conn.transaction()?;
            let sql = format!(
                "SELECT {CHAT_COLUMNS}, {MESSAGE_COLUMNS}
                 FROM chat_participants p
                 JOIN chats c ON c.id = p.chat_id
                 LEFT JOIN messages m ON m.id = c.last_message_id
                 WHERE p.user_id = ?1
                 ORDER BY c.updated_at DESC, c.id DESC"
            );
            let found = {
                let mut stmt = tx.prepare_cached(&sql)?;
                let rows = stmt.query_map([user.to_string()], rows::chat_with_last_message)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut views = Vec::with_capacity(found.len());
            for (chat, last_message) in found {
                views.push(ChatView { chat: with_participants(&tx, chat)?, last_message });
            }
            tx.finish()?;
            Ok(views)
        })
        .await
    }
}
