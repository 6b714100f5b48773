//! Unit tests of what the contract suite cannot see: connection settings, migrations and the
//! indexes the hot queries use.
#![allow(clippy::expect_used, reason = "test code fails by panicking")]

use rusqlite::{params_from_iter, types::Null, Connection};

use super::*;

fn open_temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("nested").join("data")).expect("open");
    (dir, store)
}

fn pragma(conn: &Connection, name: &str) -> String {
    conn.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, rusqlite::types::Value>(0))
        .map(|v| match v {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
        .expect("pragma")
}

#[test]
fn open_creates_the_directory_and_the_file() {
    let (dir, store) = open_temp();
    let expected = dir.path().join("nested").join("data").join(DATABASE_FILE);
    assert_eq!(store.path(), Some(expected.as_path()));
    assert!(expected.is_file());
}

#[test]
fn the_writer_is_durable() {
    let (_dir, store) = open_temp();
    let conn = lock(&store.inner.writer);
    assert_eq!(pragma(&conn, "journal_mode"), "wal");
    assert_eq!(pragma(&conn, "synchronous"), "2", "synchronous=FULL");
    assert_eq!(pragma(&conn, "foreign_keys"), "1");
    assert_eq!(pragma(&conn, "busy_timeout"), "5000");
    assert_eq!(pragma(&conn, "user_version"), schema::CURRENT_VERSION.to_string());
}

#[test]
fn readers_cannot_write() {
    let (_dir, store) = open_temp();
    assert_eq!(store.inner.readers.len(), READERS);
    let reader = store.inner.idle_reader().expect("a reader");
    assert_eq!(pragma(&reader, "query_only"), "1");
    let refused = reader.execute("DELETE FROM users", []);
    assert!(refused.is_err(), "a reader must refuse writes");
}

#[test]
fn reopening_keeps_the_schema_and_refuses_a_newer_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(SqliteStore::open(dir.path()).expect("first open"));
    drop(SqliteStore::open(dir.path()).expect("second open migrates nothing"));

    let conn = Connection::open(dir.path().join(DATABASE_FILE)).expect("raw open");
    conn.pragma_update(None, "user_version", schema::CURRENT_VERSION + 1).expect("bump version");
    drop(conn);
    let err = SqliteStore::open(dir.path()).expect_err("a newer schema must be refused");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn in_memory_store_has_the_schema() {
    let store = SqliteStore::open_in_memory().expect("open in memory");
    assert!(store.path().is_none());
    let conn = lock(&store.inner.writer);
    assert_eq!(pragma(&conn, "user_version"), schema::CURRENT_VERSION.to_string());
    assert_eq!(pragma(&conn, "foreign_keys"), "1");
}

/// The query plan of `sql`, one line per step, with every parameter NULL.
fn plan(conn: &Connection, sql: &str) -> String {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("prepare");
    let count = stmt.parameter_count();
    let rows = stmt
        .query_map(params_from_iter(std::iter::repeat_n(Null, count)), |row| row.get::<_, String>(3))
        .expect("query");
    rows.collect::<rusqlite::Result<Vec<_>>>().expect("plan rows").join("\n")
}

#[test]
fn hot_queries_use_their_indexes() {
    let store = SqliteStore::open_in_memory().expect("open in memory");
    let conn = lock(&store.inner.writer);
    let cases = [
        (
            "SELECT seq FROM messages m WHERE m.chat_id = ?1 AND m.deleted_seq IS NULL AND m.seq < ?2 ORDER BY m.seq DESC LIMIT 5",
            "messages_by_chat_seq",
        ),
        ("SELECT id FROM messages m WHERE m.chat_id = ?1 AND m.seq > ?2", "messages_by_chat_seq"),
        ("SELECT id FROM messages m WHERE m.chat_id = ?1 AND m.deleted_seq > ?2", "messages_by_chat_deleted_seq"),
        ("SELECT id FROM messages m WHERE m.sender_id = ?1 AND m.client_id = ?2", "messages_by_sender_client_id"),
        ("SELECT chat_id FROM chat_participants WHERE user_id = ?1", "PRIMARY KEY"),
        ("SELECT user_id FROM chat_participants WHERE chat_id = ?1 ORDER BY position", "chat_participants_by_chat"),
        ("SELECT id FROM chats WHERE direct_key = ?1", "sqlite_autoindex_chats"),
        ("SELECT id FROM users WHERE email = ?1", "sqlite_autoindex_users"),
    ];
    for (sql, index) in cases {
        let plan = plan(&conn, sql);
        assert!(plan.contains(index), "{sql}\nshould use {index}, plan:\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\nshould not sort, plan:\n{plan}");
    }
}

#[tokio::test]
async fn flush_checkpoints_the_log() {
    use chat_domain::ports::UserRepository;

    let (_dir, store) = open_temp();
    let user = chat_domain::User {
        id: chat_domain::UserId::generate(1),
        email: chat_domain::Email::parse("flush@example.com").expect("email"),
        username: chat_domain::Username::parse("flush").expect("username"),
        password_hash: chat_domain::model::PasswordHash("hash".into()),
        created_at: chrono::DateTime::from_timestamp_millis(1).expect("time"),
        updated_at: chrono::DateTime::from_timestamp_millis(2).expect("time"),
    };
    store.insert_user(&user).await.expect("insert");
    let wal = store.path().expect("file store").with_extension("db-wal");
    assert!(wal.metadata().expect("wal exists").len() > 0, "the write is in the log");
    store.flush().await.expect("flush");
    assert_eq!(wal.metadata().map(|m| m.len()).unwrap_or(0), 0, "the log is truncated");
    assert_eq!(store.user_by_id(user.id).await.expect("read"), Some(user));
    SqliteStore::open_in_memory().expect("memory").flush().await.expect("flush in memory is a no-op");
}
