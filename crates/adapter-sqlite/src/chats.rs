//! `ChatRepository` on SQLite: the UNIQUE `direct_key` makes a 1:1 chat exist once, and
//! listings join each chat's newest message.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{ChatInserted, ChatView};
use chat_domain::ports::ChatRepository;
use chat_domain::{Chat, ChatChanged, ChatId, ChatUpdate, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{DbError, DbResult};
use crate::rows::{self, chat_columns, message_columns, millis, Key, CHAT_COLUMN_COUNT};
use crate::SqliteStore;

/// Chats with their last message; each query adds its WHERE clause (and ORDER BY).
macro_rules! chat_view_select {
    () => {
        concat!(
            "SELECT ",
            chat_columns!(),
            ", ",
            message_columns!(),
            " FROM chats c LEFT JOIN messages m ON m.id = c.last_message_id"
        )
    };
}

const CHAT_VIEW_BY_ID: &str = concat!(chat_view_select!(), " WHERE c.id = ?1");
const CHAT_VIEW_BY_DIRECT_KEY: &str = concat!(chat_view_select!(), " WHERE c.direct_key = ?1");

/// A chat with one row per participant in order (one row with a NULL participant when it has
/// none): the chat and its members in one statement, so one snapshot without a transaction.
const CHAT_WITH_PARTICIPANTS: &str = concat!(
    "SELECT ",
    chat_columns!(),
    ", p.user_id FROM chats c LEFT JOIN chat_participants p ON p.chat_id = c.id
     WHERE c.id = ?1 ORDER BY p.position"
);

/// A page of a user's chats by (activity, id), newest first, strictly after the cursor key
/// `(?2, ?3)` (the first page passes a key above every chat). The primary key of
/// `chat_participants` finds the user's chats; SQLite keeps only the best `?4` of them while it
/// sorts, so a page costs one index range over the user's chats and no more rows than it holds.
const CHATS_OF_USER: &str = concat!(
    "SELECT ",
    chat_columns!(),
    ", ",
    message_columns!(),
    " FROM chat_participants p
     JOIN chats c ON c.id = p.chat_id
     LEFT JOIN messages m ON m.id = c.last_message_id
     WHERE p.user_id = ?1 AND (c.updated_at, c.id) < (?2, ?3)
     ORDER BY c.updated_at DESC, c.id DESC
     LIMIT ?4"
);

/// The cursor key of a chat, found only when `?1` participates in chat `?2`.
const CHAT_CURSOR: &str = "SELECT c.updated_at, c.id FROM chat_participants p JOIN chats c ON c.id = p.chat_id
     WHERE p.user_id = ?1 AND p.chat_id = ?2";

/// Fills in a chat's participants, in the order they were given.
fn with_participants(conn: &Connection, mut chat: Chat) -> DbResult<Chat> {
    chat.participants = participants(conn, chat.id)?;
    Ok(chat)
}

/// A chat's participants, in the order they were given (by the `(chat_id, position)` index).
pub(crate) fn participants(conn: &Connection, chat: ChatId) -> DbResult<Vec<UserId>> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM chat_participants WHERE chat_id = ?1 ORDER BY position")?;
    let mut rows = stmt.query([chat.key()])?;
    let mut users = Vec::new();
    while let Some(row) = rows.next()? {
        users.push(UserId(rows::id(row, 0)?));
    }
    Ok(users)
}

/// The chat with its newest message, read on `conn`: two statements, so callers run it in a
/// read transaction ([`snapshot`]), since participants change with groups.
pub(crate) fn chat_view(conn: &Connection, id: ChatId) -> DbResult<Option<ChatView>> {
    let found = conn.prepare_cached(CHAT_VIEW_BY_ID)?.query_row([id.key()], rows::chat_with_last_message).optional()?;
    let Some((chat, last_message)) = found else {
        return Ok(None);
    };
    Ok(Some(ChatView { chat: with_participants(conn, chat)?, last_message }))
}

/// The chat and its participants, in one statement (one snapshot without a transaction).
pub(crate) fn chat_alone(conn: &Connection, id: ChatId) -> DbResult<Option<Chat>> {
    let mut stmt = conn.prepare_cached(CHAT_WITH_PARTICIPANTS)?;
    let mut rows = stmt.query([id.key()])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let mut chat = rows::chat(row)?;
    let mut row = Some(row);
    while let Some(current) = row {
        if let Some(user) = rows::optional_id(current, CHAT_COLUMN_COUNT)? {
            chat.participants.push(UserId(user));
        }
        row = rows.next()?;
    }
    Ok(Some(chat))
}

/// Runs `op` in a read transaction on `conn`, so that its statements see one snapshot.
fn snapshot<T>(conn: &mut Connection, op: impl FnOnce(&Connection) -> DbResult<T>) -> DbResult<T> {
    let tx = conn.transaction()?;
    let out = op(&tx)?;
    tx.finish()?;
    Ok(out)
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
        chat.id.key(),
        chat.name.as_ref().map(|n| n.as_str()),
        chat.is_group,
        chat.created_by.key(),
        direct_key,
        millis(chat.created_at),
        millis(chat.updated_at),
    ])?;
    if inserted == 0 {
        let found = tx
            .prepare_cached(CHAT_VIEW_BY_DIRECT_KEY)?
            .query_row([&direct_key], rows::chat_with_last_message)
            .optional()?;
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
            stmt.execute(params![user.key(), chat.id.key(), position])?;
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
        self.read(move |conn| snapshot(conn, |tx| chat_view(tx, id))).await
    }

    /// Runs on every history page and every send not yet known to come from a member (the
    /// membership check): one statement, kept in memory until the chat is written to.
    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        self.cached(|c| &c.chats, id, |v| v.chat(id), move |conn| chat_alone(conn, id)).await
    }

    async fn change_chat(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        self.write(move |conn| crate::events::change_chat(conn, update)).await
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        self.read_long(move |conn| {
            // The user's chats by the primary key's prefix, their members by the chat index.
            let sql = "SELECT DISTINCT theirs.user_id FROM chat_participants mine
                       JOIN chat_participants theirs ON theirs.chat_id = mine.chat_id
                       WHERE mine.user_id = ?1 AND theirs.user_id <> ?1";
            let mut stmt = conn.prepare_cached(sql)?;
            let found = stmt.query_map([user.key()], |row| Ok(UserId(rows::id(row, 0)?)))?;
            Ok(found.collect::<rusqlite::Result<Vec<UserId>>>()?)
        })
        .await
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        let key = key.to_owned();
        self.read(move |conn| {
            snapshot(conn, |conn| {
                let found = conn
                    .prepare_cached(CHAT_VIEW_BY_DIRECT_KEY)?
                    .query_row([&key], rows::chat_with_last_message)
                    .optional()?;
                let Some((chat, last_message)) = found else {
                    return Ok(None);
                };
                Ok(Some(ChatView { chat: with_participants(conn, chat)?, last_message }))
            })
        })
        .await
    }

    /// One read transaction: the cursor, the page and each chat's participants come from one
    /// snapshot.
    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        self.read_long(move |conn| {
            snapshot(conn, |conn| {
                // Ids are 24 lowercase hex digits, so "g" sorts above every id, and no stored time
                // reaches i64::MAX: the first page's key is above every chat.
                let (updated_at, id) = match before {
                    None => (i64::MAX, "g".to_owned()),
                    Some(before) => {
                        let found = conn
                            .prepare_cached(CHAT_CURSOR)?
                            .query_row(params![user.key(), before.key()], |row| {
                                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                            })
                            .optional()?;
                        match found {
                            Some(key) => key,
                            None => return Ok(None),
                        }
                    }
                };
                let found = {
                    let mut stmt = conn.prepare_cached(CHATS_OF_USER)?;
                    let rows = stmt.query_map(
                        params![user.key(), updated_at, id, i64::from(limit)],
                        rows::chat_with_last_message,
                    )?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                };
                let mut views = Vec::with_capacity(found.len());
                for (chat, last_message) in found {
                    views.push(ChatView { chat: with_participants(conn, chat)?, last_message });
                }
                Ok(Some(views))
            })
        })
        .await
    }
}
