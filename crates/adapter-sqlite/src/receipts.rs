//! `ReceiptRepository` on SQLite: one row per (chat, user) that ever moved a marker, updated
//! with `max()` in one upsert on the writer thread, so markers only move forward whatever
//! order two updates land in. Unread counts are a range of the `(chat_id, seq)` index per
//! chat, never a kept counter.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::ports::{MarkersMoved, ReceiptRepository};
use chat_domain::receipts::{Markers, Receipt};
use chat_domain::{ChatId, Seq, UserId};
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::DbResult;
use crate::rows::{self, Key};
use crate::versions::Scope;
use crate::SqliteStore;

fn stored_markers(conn: &Connection, chat: ChatId, user: UserId) -> DbResult<Markers> {
    let sql = "SELECT delivered_seq, read_seq FROM receipts WHERE chat_id = ?1 AND user_id = ?2";
    let found = conn
        .prepare_cached(sql)?
        .query_row(params![chat.key(), user.key()], |row| {
            Ok(Markers { delivered_seq: row.get(0)?, read_seq: row.get(1)? })
        })
        .optional()?;
    Ok(found.unwrap_or_default())
}

/// Runs on the writer thread inside a batch transaction, which holds the write lock from its
/// first read: the read and the upsert see no other writer in between.
fn advance(tx: &Connection, chat: ChatId, user: UserId, to: Markers) -> DbResult<MarkersMoved> {
    let before = stored_markers(tx, chat, user)?;
    let after = before.merged(to);
    if after != before {
        advance_in(tx, chat, user, after)?;
    }
    Ok(MarkersMoved { before, after })
}

/// Moves `user`'s markers in `chat` to the pointwise maximum of the stored ones and `to`, in
/// one upsert (no read first), inside the caller's savepoint: an append moves its sender's.
pub(crate) fn advance_in(tx: &Connection, chat: ChatId, user: UserId, to: Markers) -> DbResult<()> {
    let sql = "INSERT INTO receipts (chat_id, user_id, delivered_seq, read_seq) VALUES (?1, ?2, ?3, ?4)
               ON CONFLICT (chat_id, user_id) DO UPDATE SET
                   delivered_seq = max(delivered_seq, excluded.delivered_seq),
                   read_seq = max(read_seq, excluded.read_seq)";
    tx.prepare_cached(sql)?.execute(params![chat.key(), user.key(), to.delivered_seq, to.read_seq])?;
    Ok(())
}

fn stored_receipts(conn: &Connection, chats: &[ChatId]) -> DbResult<Vec<(ChatId, Receipt)>> {
    let sql = "SELECT user_id, delivered_seq, read_seq FROM receipts WHERE chat_id = ?1";
    let mut stmt = conn.prepare_cached(sql)?;
    let mut out = Vec::new();
    for &chat in chats {
        let rows = stmt.query_map([chat.key()], |row| {
            Ok(Receipt {
                user: UserId(rows::id(row, 0)?),
                markers: Markers { delivered_seq: row.get(1)?, read_seq: row.get(2)? },
            })
        })?;
        for receipt in rows {
            out.push((chat, receipt?));
        }
    }
    Ok(out)
}

/// Messages of others above the user's read marker, not deleted: the `(chat_id, seq)` index
/// bounds the range to the unread tail of the chat.
const UNREAD: &str = "SELECT count(*) FROM messages m
     WHERE m.chat_id = ?1 AND m.seq > coalesce((SELECT read_seq FROM receipts WHERE chat_id = ?1 AND user_id = ?2), 0)
       AND m.sender_id <> ?2 AND m.deleted_seq IS NULL";

fn unread_counts(conn: &Connection, user: UserId, chats: &[ChatId]) -> DbResult<Vec<u64>> {
    let mut stmt = conn.prepare_cached(UNREAD)?;
    chats.iter().map(|chat| Ok(stmt.query_row(params![chat.key(), user.key()], |row| row.get::<_, u64>(0))?)).collect()
}

#[async_trait]
impl ReceiptRepository for SqliteStore {
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError> {
        self.write_in(Scope::Chat(chat), move |tx| advance(tx, chat, user, to)).await
    }

    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users = users.to_vec();
        // One job of the writer: the whole room in one savepoint of one group commit.
        self.write_in(Scope::Chat(chat), move |tx| {
            let to = Markers { delivered_seq: seq, read_seq: 0 };
            let mut moved = Vec::new();
            for &user in &users {
                let m = advance(tx, chat, user, to)?;
                if m.after.delivered_seq != m.before.delivered_seq {
                    moved.push(Receipt { user, markers: m.after });
                }
            }
            Ok(moved)
        })
        .await
    }

    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError> {
        if let &[chat] = chats {
            // One chat (a history page, a retried send): kept until the chat is written to.
            return self
                .cached(|c| &c.receipts, chat, |v| v.chat(chat), move |conn| stored_receipts(conn, &[chat]))
                .await;
        }
        let chats = chats.to_vec();
        self.read(move |conn| stored_receipts(conn, &chats)).await
    }

    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError> {
        let chats = chats.to_vec();
        self.read_long(move |conn| unread_counts(conn, user, &chats)).await
    }
}
