//! The database schema, its migrations (tracked in `PRAGMA user_version`) and the connection
//! settings that make every acknowledged write durable.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::{DbError, DbResult};

/// How long a statement waits for a lock held by another connection before failing busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Enough cached statements for every query of the adapter on one connection.
const STATEMENT_CACHE: usize = 64;

/// The writer's page cache, in KiB (SQLite's default is 2,000): the pages a stream of sends
/// touches (the last leaf of each busy chat in the messages' and receipts' indexes, its chat
/// row) outgrow the default, and each miss is a `pread` and a page rebuilt on the one thread
/// every write waits for. Not larger: when a b-tree balance swaps two pages, SQLite parks one
/// under the lock-byte page's number (262,145), and the commit after it then walks every page
/// in the cache to drop those above the file's end; at 32 MiB that walk was 7% of the writer's
/// time. It grows only as pages are used: a small database stays small.
pub(crate) const WRITER_CACHE_KIB: i64 = 8 * 1024;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only: a released
/// migration is never edited, a change is a new entry.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// The schema version this build writes.
pub(crate) const CURRENT_VERSION: usize = MIGRATIONS.len();

/// Version 1. Ids are 24-character lowercase hex text (the wire form, so rows can be matched
/// against logs and API responses by hand); lowercase hex sorts like the id bytes. Times are
/// integer milliseconds since the Unix epoch. Tables are STRICT so a wrong type is an error.
const V1: &str = "
CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    username      TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- direct_key is 'lo:hi' for a 1:1 chat and NULL for a group; UNIQUE admits many NULLs, so a
-- pair of users has at most one 1:1 chat and groups are never deduplicated.
CREATE TABLE chats (
    id              TEXT    NOT NULL PRIMARY KEY,
    name            TEXT,
    is_group        INTEGER NOT NULL CHECK (is_group IN (0, 1)),
    created_by      TEXT    NOT NULL REFERENCES users (id),
    direct_key      TEXT    UNIQUE,
    last_message_id TEXT    REFERENCES messages (id),
    last_seq        INTEGER NOT NULL CHECK (last_seq >= 0),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

-- The primary key (user_id, chat_id) finds the chats of a user; position keeps the order the
-- participants were given in (creator first).
CREATE TABLE chat_participants (
    user_id  TEXT    NOT NULL REFERENCES users (id),
    chat_id  TEXT    NOT NULL REFERENCES chats (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (user_id, chat_id)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX chat_participants_by_chat ON chat_participants (chat_id, position);

-- status is the rank of the delivery status (0 sent, 1 delivered, 2 read), so moving it only
-- forward is a comparison.
CREATE TABLE messages (
    id          TEXT    NOT NULL PRIMARY KEY,
    chat_id     TEXT    NOT NULL REFERENCES chats (id),
    sender_id   TEXT    NOT NULL REFERENCES users (id),
    text        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('text', 'image', 'file', 'voice')),
    status      INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
    seq         INTEGER NOT NULL CHECK (seq > 0),
    deleted_seq INTEGER CHECK (deleted_seq > seq),
    client_id   TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
-- History pages and catch-up by seq; also makes a repeated seq in a chat impossible.
CREATE UNIQUE INDEX messages_by_chat_seq ON messages (chat_id, seq);
-- Safe retries: one message per (sender, clientId).
CREATE UNIQUE INDEX messages_by_sender_client_id ON messages (sender_id, client_id) WHERE client_id IS NOT NULL;
-- Catch-up on deletes.
CREATE INDEX messages_by_chat_deleted_seq ON messages (chat_id, deleted_seq) WHERE deleted_seq IS NOT NULL;
";

/// Version 2: message edits and changes of groups. `edited_at` is the time of a message's last
/// edit (NULL: never edited). `chat_events` is each chat's log of the events that are neither a
/// message's creation nor its delete (those live on the message row): an edit (`message_id`)
/// or a change of the group (`user_ids`, the users added, removed or leaving, as ids separated
/// by spaces; `by_id`, who made it). Its key (chat_id, seq) makes a repeated seq impossible and
/// serves catch-up.
const V2: &str = "
ALTER TABLE messages ADD COLUMN edited_at INTEGER;

CREATE TABLE chat_events (
    chat_id    TEXT    NOT NULL REFERENCES chats (id),
    seq        INTEGER NOT NULL CHECK (seq > 0),
    kind       TEXT    NOT NULL CHECK (kind IN ('edited', 'renamed', 'added', 'removed', 'left')),
    message_id TEXT    REFERENCES messages (id),
    user_ids   TEXT    NOT NULL DEFAULT '',
    by_id      TEXT    REFERENCES users (id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (chat_id, seq)
) STRICT, WITHOUT ROWID;
";

/// Version 3: receipt markers, one row per participant and chat that ever moved one, kept
/// apart from the messages so that a receipt never rewrites a message row. A participant
/// without a row has both markers at 0. Reading implies delivery, so `read_seq` never exceeds
/// `delivered_seq`.
const V3: &str = "
CREATE TABLE receipts (
    chat_id       TEXT    NOT NULL REFERENCES chats (id),
    user_id       TEXT    NOT NULL REFERENCES users (id),
    delivered_seq INTEGER NOT NULL CHECK (delivered_seq >= 0),
    read_seq      INTEGER NOT NULL CHECK (read_seq >= 0 AND read_seq <= delivered_seq),
    PRIMARY KEY (chat_id, user_id)
) STRICT, WITHOUT ROWID;
";

/// Version 4. Each user's token version (see `UserRepository::token_version`): a logout adds
/// one, revoking every token issued before. Existing users start at 0, as their tokens do.
const V4: &str = "
ALTER TABLE users ADD COLUMN token_version INTEGER NOT NULL DEFAULT 0 CHECK (token_version >= 0);
";

/// Version 5. Each user's `lastSeenAt` (see `UserRepository::record_last_seen`): when their
/// last socket closed, in milliseconds; NULL until first recorded.
const V5: &str = "
ALTER TABLE users ADD COLUMN last_seen_at INTEGER;
";

/// Version 6. The same tables of messages and of chat events, their `CHECK`s on a closed set
/// of values written as comparisons: SQLite checks `x IN (a, b, c)` by building a temporary
/// b-tree of the list, once per inserted row, and the two on `messages` were about 6% of the
/// writer thread's time under a stream of sends. The constraints admit exactly the same
/// values. A `CHECK` cannot be altered, so both tables are rebuilt (rows, rowids and indexes
/// kept) the way SQLite documents for a change of definition, with foreign keys checked as a
/// whole before the commit (see [`migrate`]).
const V6: &str = "
CREATE TABLE messages_v6 (
    id          TEXT    NOT NULL PRIMARY KEY,
    chat_id     TEXT    NOT NULL REFERENCES chats (id),
    sender_id   TEXT    NOT NULL REFERENCES users (id),
    text        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind = 'text' OR kind = 'image' OR kind = 'file' OR kind = 'voice'),
    status      INTEGER NOT NULL CHECK (status >= 0 AND status <= 2),
    seq         INTEGER NOT NULL CHECK (seq > 0),
    deleted_seq INTEGER CHECK (deleted_seq > seq),
    client_id   TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    edited_at   INTEGER
) STRICT;
INSERT INTO messages_v6 (rowid, id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id, created_at, updated_at, edited_at)
    SELECT rowid, id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id, created_at, updated_at, edited_at
    FROM messages;
DROP TABLE messages;
ALTER TABLE messages_v6 RENAME TO messages;
CREATE UNIQUE INDEX messages_by_chat_seq ON messages (chat_id, seq);
CREATE UNIQUE INDEX messages_by_sender_client_id ON messages (sender_id, client_id) WHERE client_id IS NOT NULL;
CREATE INDEX messages_by_chat_deleted_seq ON messages (chat_id, deleted_seq) WHERE deleted_seq IS NOT NULL;

CREATE TABLE chat_events_v6 (
    chat_id    TEXT    NOT NULL REFERENCES chats (id),
    seq        INTEGER NOT NULL CHECK (seq > 0),
    kind       TEXT    NOT NULL
        CHECK (kind = 'edited' OR kind = 'renamed' OR kind = 'added' OR kind = 'removed' OR kind = 'left'),
    message_id TEXT    REFERENCES messages (id),
    user_ids   TEXT    NOT NULL DEFAULT '',
    by_id      TEXT    REFERENCES users (id),
    at         INTEGER NOT NULL,
    PRIMARY KEY (chat_id, seq)
) STRICT, WITHOUT ROWID;
INSERT INTO chat_events_v6 (chat_id, seq, kind, message_id, user_ids, by_id, at)
    SELECT chat_id, seq, kind, message_id, user_ids, by_id, at FROM chat_events;
DROP TABLE chat_events;
ALTER TABLE chat_events_v6 RENAME TO chat_events;
";

/// Settings of the one connection that writes to a database file: WAL (readers do not block
/// the writer), `synchronous=FULL` (a commit is on disk before it returns, so an acknowledged
/// write survives a power loss, not only a crash of the process), foreign keys enforced.
pub(crate) fn configure_writer(conn: &Connection) -> DbResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::refused(format!("the database cannot use WAL journal mode (got {mode})")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    Ok(())
}

/// Settings of an in-memory database's connection (tests and tools): no journal file to speak
/// of, but the same integrity rules.
pub(crate) fn configure_in_memory(conn: &Connection) -> DbResult<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Settings of a connection that only reads.
pub(crate) fn configure_reader(conn: &Connection) -> DbResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(())
}

/// Brings the schema to [`CURRENT_VERSION`], each step in the same transaction as its version
/// bump, under a write lock so that two processes opening one file do not both migrate.
///
/// Foreign keys are not enforced statement by statement while it runs: a step that rebuilds a
/// table drops it while other tables still reference it. Instead the whole database is checked
/// (`PRAGMA foreign_key_check`) before the commit, and any violation undoes the migration.
/// The setting cannot change inside a transaction, so it is switched around it.
pub(crate) fn migrate(conn: &mut Connection) -> DbResult<()> {
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrate_checked(conn);
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    migrated
}

fn migrate_checked(conn: &mut Connection) -> DbResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(found).map_err(|_| DbError::refused(format!("invalid schema version {found}")))?;
    if version > CURRENT_VERSION {
        return Err(DbError::refused(format!(
            "the database has schema version {version}, newer than the {CURRENT_VERSION} this build knows"
        )));
    }
    for (from, step) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", from + 1)?;
        tracing::info!(version = from + 1, "migrated the sqlite schema");
    }
    if version < CURRENT_VERSION {
        let violation: Option<String> = tx.query_row("PRAGMA foreign_key_check", [], |row| row.get(0)).optional()?;
        if let Some(table) = violation {
            return Err(DbError::refused(format!(
                "the migrated database has a row of {table} referencing a missing row; nothing was changed"
            )));
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
