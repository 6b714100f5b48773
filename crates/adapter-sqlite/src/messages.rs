//! `MessageRepository` on SQLite: appends and soft deletes take the chat's next `seq` on the
//! writer thread, inside its batch's `BEGIN IMMEDIATE` transaction; history pages and
//! catch-up read by `(chat, seq)`.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{Appended, Edited, Members, MessageDraft, MessagePage, PageCursor, SoftDeleted};
use chat_domain::ports::MessageRepository;
use chat_domain::receipts::Markers;
use chat_domain::{ChatEvent, ChatId, ClientId, Message, MessageId, MessageText, Seq, Timestamp, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::cache::lock;
use crate::error::{DbError, DbResult};
use crate::rows::{self, message_columns, millis, status_rank, Key};
use crate::versions::Scope;
use crate::window::{self, Known, Loaded, Want};
use crate::SqliteStore;

const MESSAGE_BY_ID: &str = concat!("SELECT ", message_columns!(), " FROM messages m WHERE m.id = ?1");

const MESSAGE_BY_CLIENT_ID: &str =
    concat!("SELECT ", message_columns!(), " FROM messages m WHERE m.sender_id = ?1 AND m.client_id = ?2");

pub(crate) fn message_by_id(conn: &Connection, id: MessageId) -> DbResult<Option<Message>> {
    Ok(conn.prepare_cached(MESSAGE_BY_ID)?.query_row([id.key()], rows::message).optional()?)
}

fn message_by_client_id(conn: &Connection, sender: UserId, client_id: &str) -> DbResult<Option<Message>> {
    let params = params![sender.key(), client_id];
    Ok(conn.prepare_cached(MESSAGE_BY_CLIENT_ID)?.query_row(params, rows::message).optional()?)
}

/// What a write that takes a chat's next `seq` reads of the chat first.
pub(crate) struct SeqTaker {
    pub(crate) last_seq: Seq,
    is_group: bool,
    /// Whether the user the write is for (a sender) is a participant.
    pub(crate) participant: bool,
}

impl SeqTaker {
    /// The chat's members for the event at the seq taken: a group's participants, read in the
    /// same transaction (one indexed range, groups only); `None` for a 1:1 chat.
    pub(crate) fn members(&self, tx: &Connection, chat: ChatId) -> DbResult<Members> {
        if self.is_group {
            Ok(Some(crate::chats::participants(tx, chat)?))
        } else {
            Ok(None)
        }
    }
}

/// The chat's `last_seq`, kind, and whether `user` participates, in one statement (a primary
/// key lookup on each table), or `None` if there is no such chat.
pub(crate) fn seq_taker(tx: &Connection, chat: ChatId, user: UserId) -> DbResult<Option<SeqTaker>> {
    let sql = "SELECT c.last_seq, c.is_group,
                      EXISTS (SELECT 1 FROM chat_participants p WHERE p.user_id = ?2 AND p.chat_id = c.id)
               FROM chats c WHERE c.id = ?1";
    let mut stmt = tx.prepare_cached(sql)?;
    let found = stmt.query_row(params![chat.key(), user.key()], |row| {
        Ok(SeqTaker { last_seq: row.get(0)?, is_group: row.get(1)?, participant: row.get(2)? })
    });
    Ok(found.optional()?)
}

/// Runs on the writer thread inside a batch transaction (which holds the write lock from its
/// first read, so the duplicate check, the participant check and the seq read cannot go stale
/// before the insert: two appends never see the same last_seq, and a removal lands wholly
/// before or after) and its own savepoint (so a failure undoes all of it).
fn append_message(tx: &Connection, draft: MessageDraft) -> DbResult<Appended> {
    if let Some(client_id) = &draft.client_id {
        if let Some(existing) = message_by_client_id(tx, draft.sender, client_id.as_str())? {
            return Ok(Appended::Duplicate(existing));
        }
    }
    let Some(chat) = seq_taker(tx, draft.chat, draft.sender)? else {
        return Err(DbError::refused(format!("chat {} does not exist", draft.chat)));
    };
    if !chat.participant {
        return Ok(Appended::NotParticipant);
    }
    let members = chat.members(tx, draft.chat)?;
    let message = draft.into_message(chat.last_seq + 1);
    let sql = "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id, created_at, updated_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8, ?9, ?10)";
    tx.prepare_cached(sql)?.execute(params![
        message.id.key(),
        message.chat.key(),
        message.sender.key(),
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
        message.id.key(),
        millis(message.created_at),
        message.chat.key()
    ])?;
    // One's own message is read: the sender's markers move in the same savepoint, so a send
    // costs one write on the writer's queue, not two.
    crate::receipts::advance_in(tx, message.chat, message.sender, Markers::both(message.seq))?;
    Ok(Appended::Created { message, members })
}

const PAGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages m
     WHERE m.chat_id = ?1 AND m.deleted_seq IS NULL AND m.seq < ?2
     ORDER BY m.seq DESC
     LIMIT ?3 OFFSET ?4"
);

/// The seq of `anchor`, if it is a message of `chat` (deleted or not: a soft delete keeps
/// the seq, so a deleted message still marks a place).
fn anchor_seq(conn: &Connection, chat: ChatId, anchor: MessageId) -> DbResult<Option<Seq>> {
    let mut stmt = conn.prepare_cached("SELECT seq FROM messages WHERE id = ?1 AND chat_id = ?2")?;
    Ok(stmt.query_row([anchor.key(), chat.key()], |row| row.get(0)).optional()?)
}

/// Up to `rows` listed messages of `chat` below seq `upper`, newest first, after skipping
/// the newest `skip` of them.
fn listed_below(conn: &Connection, chat: ChatId, upper: Seq, rows: u64, skip: u64) -> DbResult<Vec<Message>> {
    let sql_int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(PAGE)?;
    let mut found = stmt.query(params![chat.key(), sql_int(upper), sql_int(rows), sql_int(skip)])?;
    let mut messages = Vec::with_capacity(usize::try_from(rows).unwrap_or(0).min(256));
    while let Some(row) = found.next()? {
        messages.push(rows::message(row)?);
    }
    Ok(messages)
}

/// Reads what the page at `anchor` (or the top) and `skip` needs, and more (see
/// `window.rs`); `upper` is the anchor's seq when already known. `None` when the anchor is
/// not a message of `chat`. Needs no transaction: an anchor's seq never changes, so reading
/// it and then the rows in two statements gives what one snapshot would.
fn load_page(
    conn: &Connection,
    chat: ChatId,
    anchor: Option<MessageId>,
    upper: Option<Seq>,
    skip: u64,
    limit: u32,
) -> DbResult<Option<Loaded>> {
    let (upper, looked_up) = match (anchor, upper) {
        (None, _) => (window::TOP, None),
        (Some(_), Some(seq)) => (seq, None),
        (Some(id), None) => match anchor_seq(conn, chat, id)? {
            Some(seq) => (seq, Some((id, seq))),
            None => return Ok(None),
        },
    };
    let want = Want { upper, skip, limit };
    let asked = want.rows_to_load();
    if asked > window::MAX_LOAD {
        // A skip this deep is read with an offset, as asked, and not kept.
        let rows = listed_below(conn, chat, upper, u64::from(limit) + 1, skip)?;
        let want = Want { skip: 0, ..want };
        return Ok(Some(Loaded { want, rows, asked, anchor: looked_up, keep: false }));
    }
    let rows = listed_below(conn, chat, upper, asked, 0)?;
    Ok(Some(Loaded { want, rows, asked, anchor: looked_up, keep: true }))
}

/// On the writer thread, inside a batch transaction and its own savepoint, like appends.
fn soft_delete_message(tx: &Connection, id: MessageId, at: Timestamp) -> DbResult<SoftDeleted> {
    let Some(mut message) = message_by_id(tx, id)? else {
        return Ok(SoftDeleted::NotFound);
    };
    if message.is_deleted() {
        return Ok(SoftDeleted::AlreadyDeleted(message));
    }
    let Some(chat) = seq_taker(tx, message.chat, message.sender)? else {
        return Err(DbError::refused(format!("message {id} belongs to no chat")));
    };
    let seq = chat.last_seq + 1;
    let members = chat.members(tx, message.chat)?;
    message.mark_deleted(seq, at);
    // The text is erased in the same statement that marks the delete, as the contract asks:
    // a deleted message's text is kept nowhere.
    let sql = "UPDATE messages SET deleted_seq = ?1, updated_at = ?2, text = ?3 WHERE id = ?4";
    tx.prepare_cached(sql)?.execute(params![seq, millis(at), message.text.as_str(), id.key()])?;
    // The delete is an event of the chat (it takes a seq) but not activity: updated_at and
    // last_message_id stay.
    let sql = "UPDATE chats SET last_seq = ?1 WHERE id = ?2";
    tx.prepare_cached(sql)?.execute(params![seq, message.chat.key()])?;
    Ok(SoftDeleted::Deleted { message, seq, members })
}

#[async_trait]
impl MessageRepository for SqliteStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        self.write_in(Scope::Chat(draft.chat), move |conn| append_message(conn, draft)).await
    }

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.read(move |conn| message_by_id(conn, id)).await
    }

    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError> {
        let client_id = client_id.as_str().to_owned();
        self.read(move |conn| message_by_client_id(conn, sender, &client_id)).await
    }

    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        let (anchor, skip) = match cursor {
            PageCursor::Skip(n) => (None, n),
            PageCursor::Before(id) => (Some(id), 0),
        };
        let versions = self.versions();
        let read_under = versions.chat(chat);
        let upper = match lock(&self.cache().windows).page(chat, read_under, anchor, skip, limit) {
            Known::Page(page) => return Ok(Some(page)),
            Known::Missing { upper } => upper,
        };
        let Some(loaded) = self.read(move |conn| load_page(conn, chat, anchor, upper, skip, limit)).await? else {
            return Ok(None);
        };
        let page = loaded.page();
        lock(&self.cache().windows).keep(chat, read_under, loaded, versions.chat(chat));
        Ok(Some(page))
    }

    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        self.write(move |conn| soft_delete_message(conn, id, at)).await
    }

    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        self.write(move |conn| crate::events::edit_message(conn, id, text, at)).await
    }

    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        self.read_long(move |conn| crate::events::chat_events_since(conn, chat, since, max)).await
    }
}
