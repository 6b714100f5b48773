//! Version 6: constraints that build no temporary b-tree per row, and the rebuild that brings
//! an older database to them without losing or changing a row.
#![allow(clippy::expect_used, reason = "test code fails by panicking")]

use rusqlite::Connection;

use super::*;

/// The opcodes SQLite runs for `sql`.
fn opcodes(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN {sql}")).expect("prepare");
    let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
    let rows = stmt.query_map(rusqlite::params_from_iter(nulls), |row| row.get::<_, String>(1)).expect("explain");
    rows.collect::<rusqlite::Result<Vec<_>>>().expect("opcodes")
}

fn current() -> Connection {
    let mut conn = Connection::open_in_memory().expect("open");
    configure_in_memory(&conn).expect("configure");
    migrate(&mut conn).expect("migrate");
    conn
}

#[test]
fn inserts_of_messages_and_chat_events_build_no_temporary_btree() {
    let conn = current();
    let inserts = [
        "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, client_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "INSERT INTO chat_events (chat_id, seq, kind, message_id, user_ids, by_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        "UPDATE messages SET deleted_seq = ?2, status = ?3 WHERE id = ?1",
    ];
    for sql in inserts {
        let ops = opcodes(&conn, sql);
        assert!(ops.iter().any(|op| op == "Insert" || op == "IdxInsert"), "{sql}: {ops:?}");
        assert!(!ops.iter().any(|op| op == "OpenEphemeral"), "{sql} builds a temporary b-tree: {ops:?}");
    }
}

#[test]
fn the_constraints_admit_the_same_values_as_before() {
    let conn = current();
    conn.execute_batch(
        "INSERT INTO users (id, email, username, password_hash, created_at, updated_at) VALUES ('u', 'e', 'n', 'h', 0, 0);
         INSERT INTO chats VALUES ('c', NULL, 1, 'u', NULL, NULL, 0, 0, 0);",
    )
    .expect("a user and a chat");
    let insert = |id: &str, kind: &str, status: i64| {
        conn.execute(
            "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, created_at, updated_at)
             VALUES (?1, 'c', 'u', 't', ?2, ?3, 1 + (SELECT count(*) FROM messages), 0, 0)",
            rusqlite::params![id, kind, status],
        )
    };
    for (i, kind) in ["text", "image", "file", "voice"].into_iter().enumerate() {
        insert(&format!("k{i}"), kind, 0).expect(kind);
    }
    for status in 0..=2 {
        insert(&format!("s{status}"), "text", status).expect("status");
    }
    for (kind, status) in [("video", 0), ("Text", 0), ("", 0), ("text", 3), ("text", -1)] {
        assert!(insert("bad", kind, status).is_err(), "kind {kind:?} status {status} admitted");
    }
    let event = |seq: i64, kind: &str| {
        conn.execute(
            "INSERT INTO chat_events (chat_id, seq, kind, at) VALUES ('c', ?1, ?2, 0)",
            rusqlite::params![seq, kind],
        )
    };
    for (seq, kind) in (100..).zip(["edited", "renamed", "added", "removed", "left"]) {
        event(seq, kind).expect(kind);
    }
    assert!(event(200, "joined").is_err(), "an unknown change admitted");
}

#[test]
fn a_version_5_database_keeps_every_row_rowid_and_reference() {
    let mut conn = Connection::open_in_memory().expect("open");
    conn.pragma_update(None, "foreign_keys", "ON").expect("foreign keys");
    for (i, step) in MIGRATIONS[..5].iter().enumerate() {
        conn.execute_batch(step).expect("older step");
        conn.pragma_update(None, "user_version", i + 1).expect("version");
    }
    conn.execute_batch(
        "INSERT INTO users (id, email, username, password_hash, created_at, updated_at) VALUES ('u', 'e', 'n', 'h', 0, 0);
         INSERT INTO chats VALUES ('c', NULL, 1, 'u', NULL, NULL, 0, 0, 0);
         INSERT INTO messages (rowid, id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id,
                               created_at, updated_at, edited_at)
             VALUES (7, 'm1', 'c', 'u', 'one', 'voice', 2, 1, 3, 'k', 10, 11, 12),
                    (9, 'm2', 'c', 'u', 'two', 'text', 0, 2, NULL, NULL, 20, 20, NULL);
         INSERT INTO chat_events VALUES ('c', 3, 'edited', 'm1', '', 'u', 30);
         UPDATE chats SET last_message_id = 'm2', last_seq = 3;",
    )
    .expect("version 5 rows");
    let dump = |conn: &Connection| {
        let mut stmt = conn
            .prepare(
                "SELECT rowid, id, chat_id, sender_id, text, kind, status, seq, deleted_seq, client_id, created_at,
                        updated_at, edited_at FROM messages ORDER BY rowid",
            )
            .expect("prepare");
        let rows = stmt.query_map([], |row| {
            (0..13).map(|i| row.get::<_, rusqlite::types::Value>(i)).collect::<rusqlite::Result<Vec<_>>>()
        });
        let messages = rows.expect("query").collect::<rusqlite::Result<Vec<_>>>().expect("rows");
        let events: (String, i64, String, String, String, i64) = conn
            .query_row("SELECT chat_id, seq, kind, message_id, by_id, at FROM chat_events", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
            })
            .expect("event");
        (messages, events)
    };
    let before = dump(&conn);
    migrate(&mut conn).expect("migrate");
    assert_eq!(dump(&conn), before, "rows, rowids and values kept");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, 6);
    let enforced: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).expect("foreign keys");
    assert_eq!(enforced, 1, "foreign keys enforced again after the migration");
    let indexes: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL ORDER BY name")
            .expect("prepare");
        let rows = stmt.query_map([], |r| r.get(0)).expect("query");
        rows.collect::<rusqlite::Result<_>>().expect("names")
    };
    assert_eq!(indexes, ["messages_by_chat_deleted_seq", "messages_by_chat_seq", "messages_by_sender_client_id"]);
    // The references to the rebuilt table hold: a referenced message cannot go away, and the
    // seq index refuses a repeated seq as before.
    assert!(conn.execute("DELETE FROM messages WHERE id = 'm2'", []).is_err(), "chats.last_message_id still enforced");
    let repeated = "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, created_at, updated_at)
                    VALUES ('m3', 'c', 'u', 't', 'text', 0, 2, 0, 0)";
    assert!(conn.execute(repeated, []).is_err(), "the (chat, seq) index is back");
}

#[test]
fn a_migration_that_would_leave_a_dangling_reference_changes_nothing() {
    let mut conn = Connection::open_in_memory().expect("open");
    for (i, step) in MIGRATIONS[..5].iter().enumerate() {
        conn.execute_batch(step).expect("older step");
        conn.pragma_update(None, "user_version", i + 1).expect("version");
    }
    // Written without enforcement, as a damaged file could hold it.
    conn.pragma_update(None, "foreign_keys", "OFF").expect("foreign keys off");
    conn.execute_batch(
        "INSERT INTO messages (id, chat_id, sender_id, text, kind, status, seq, created_at, updated_at)
         VALUES ('m', 'no-such-chat', 'no-such-user', 't', 'text', 0, 1, 0, 0);",
    )
    .expect("a dangling row");
    conn.pragma_update(None, "foreign_keys", "ON").expect("foreign keys");
    let refused = migrate(&mut conn).expect_err("refused");
    assert!(refused.to_string().contains("messages"), "{refused}");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, 5, "the migration was undone");
    let kept: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).expect("count");
    assert_eq!(kept, 1);
    let enforced: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).expect("foreign keys");
    assert_eq!(enforced, 1);
}
