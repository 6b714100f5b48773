//! Unit tests of what the contract suite cannot see: connection settings, migrations, the
//! indexes the hot queries use, and group commit on the writer thread.
#![allow(clippy::expect_used, reason = "test code fails by panicking")]

use rusqlite::{params_from_iter, types::Null, Connection};

use super::*;

fn open_temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("nested").join("data")).expect("open");
    (dir, store)
}

/// Runs `op` on the writer thread's connection, between batches.
fn on_writer<T: Send + 'static>(store: &SqliteStore, op: impl FnOnce(&mut Connection) -> T + Send + 'static) -> T {
    store.inner.writer.alone_blocking(move |conn| Ok(op(conn))).expect("the writer answers")
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
    let [journal, synchronous, foreign_keys, busy, version] = on_writer(&store, |conn| {
        ["journal_mode", "synchronous", "foreign_keys", "busy_timeout", "user_version"].map(|p| pragma(conn, p))
    });
    assert_eq!(journal, "wal");
    assert_eq!(synchronous, "2", "synchronous=FULL");
    assert_eq!(foreign_keys, "1");
    assert_eq!(busy, "5000");
    assert_eq!(version, schema::CURRENT_VERSION.to_string());
}

#[test]
fn the_writer_caches_more_pages_than_sqlites_default() {
    let (_dir, store) = open_temp();
    let [cache] = on_writer(&store, |conn| ["cache_size"].map(|p| pragma(conn, p)));
    assert_eq!(cache, (-schema::WRITER_CACHE_KIB).to_string(), "a size in KiB is negative");
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
    let [version, foreign_keys] = on_writer(&store, |conn| ["user_version", "foreign_keys"].map(|p| pragma(conn, p)));
    assert_eq!(version, schema::CURRENT_VERSION.to_string());
    assert_eq!(foreign_keys, "1");
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
    let plans = on_writer(&store, move |conn| cases.map(|(sql, index)| (sql, index, plan(conn, sql))));
    for (sql, index, plan) in plans {
        assert!(plan.contains(index), "{sql}\nshould use {index}, plan:\n{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{sql}\nshould not sort, plan:\n{plan}");
    }
}

#[tokio::test]
async fn bounded_reads_run_on_the_calling_thread_and_long_ones_off_it() {
    let (_dir, store) = open_temp();
    let here = std::thread::current().id();
    let inline = store.read(|_| Ok(std::thread::current().id())).await.expect("read");
    assert_eq!(inline, here, "a bounded read with a free reader runs where it was asked");
    let long = store.read_long(|_| Ok(std::thread::current().id())).await.expect("read");
    assert_ne!(long, here, "a long read runs on the blocking pool");

    // Every reader busy: a bounded read waits for one off the calling thread rather than
    // blocking it, and runs once a reader is released. `join!` polls the read first, so it
    // finds every reader held, and releases them only after that.
    let held: Vec<_> = store.inner.readers.iter().map(|r| r.lock().expect("reader")).collect();
    let (elsewhere, ()) = tokio::join!(store.read(|_| Ok(std::thread::current().id())), async move { drop(held) });
    assert_ne!(elsewhere.expect("read"), here);

    // A panic inside an inline read is the read's error, and the reader stays usable.
    let panicked = store.read(|_| -> DbResult<()> { panic!("boom") }).await;
    assert!(panicked.is_err_and(|e| e.to_string().contains("boom")));
    assert_eq!(store.read(|conn| Ok(pragma(conn, "query_only"))).await.expect("read"), "1");
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

mod group_commit {
    //! Writes share transactions, yet each keeps its own outcome and is answered only after
    //! its batch committed.
    use std::sync::mpsc;

    use chat_domain::model::{Appended, MessageDraft, MessageKind, PasswordHash};
    use chat_domain::ports::{ChatRepository, MessageRepository, UserRepository};
    use chat_domain::{Chat, ChatId, ChatInserted, ClientId, Email, MessageId, MessageText, User, UserId, Username};

    use super::*;

    fn at(ms: i64) -> chat_domain::Timestamp {
        chrono::DateTime::from_timestamp_millis(1_795_633_980_000 + ms).expect("time")
    }

    fn user(name: &str) -> User {
        User {
            id: UserId::generate(1),
            email: Email::parse(&format!("{name}@example.com")).expect("email"),
            username: Username::parse(name).expect("username"),
            password_hash: PasswordHash("hash".into()),
            created_at: at(0),
            updated_at: at(0),
        }
    }

    fn chat(members: &[&User]) -> Chat {
        Chat {
            id: ChatId::generate(1),
            name: None,
            is_group: members.len() > 2,
            participants: members.iter().map(|u| u.id).collect(),
            created_by: members[0].id,
            last_message_id: None,
            last_seq: 0,
            created_at: at(1),
            updated_at: at(1),
        }
    }

    fn draft(chat: ChatId, sender: &User, client_id: Option<&str>, n: i64) -> MessageDraft {
        MessageDraft {
            id: MessageId::generate(1),
            chat,
            sender: sender.id,
            text: MessageText::parse(&format!("message {n}")).expect("text"),
            kind: MessageKind::Text,
            client_id: client_id.map(|c| ClientId::parse(c).expect("client id")),
            created_at: at(100 + n),
        }
    }

    /// A file store with two users in a 1:1 chat.
    async fn setup() -> (tempfile::TempDir, SqliteStore, User, User, Chat) {
        let (dir, store) = open_temp();
        let (ann, bo) = (user("ann"), user("bo"));
        store.insert_user(&ann).await.expect("ann");
        store.insert_user(&bo).await.expect("bo");
        let direct = chat(&[&ann, &bo]);
        assert!(matches!(store.insert_chat(&direct).await.expect("chat"), ChatInserted::Created(_)));
        (dir, store, ann, bo, direct)
    }

    /// The writer thread held by [`hold_writer`]; dropping this releases it.
    struct Held {
        release: mpsc::Sender<()>,
        /// The task waiting on the held request; it owns a clone of the store.
        holder: tokio::task::JoinHandle<Result<(), StoreError>>,
    }

    impl Held {
        /// Releases the writer and waits until the holding task has ended, so that its clone
        /// of the store is gone too (a test that drops "the last clone" must wait for this).
        async fn release_and_join(self) {
            drop(self.release);
            self.holder.await.expect("the holder task").expect("the held request");
        }
    }

    /// Blocks the writer thread until the returned [`Held`] is dropped, so that requests queue
    /// up and the next batch takes all of them.
    async fn hold_writer(store: &SqliteStore) -> Held {
        let (entered, held) = tokio::sync::oneshot::channel();
        let (release, wait) = mpsc::channel::<()>();
        let holder = store.clone();
        let holder = tokio::spawn(async move {
            holder
                .inner
                .writer
                .alone(move |_| {
                    let _ = entered.send(());
                    let _ = wait.recv();
                    Ok(())
                })
                .await
        });
        held.await.expect("the writer is held");
        Held { release, holder }
    }

    /// Waits (bounded) until `n` requests wait for the held writer.
    async fn wait_until_queued(store: &SqliteStore, n: usize) {
        let started = std::time::Instant::now();
        while store.inner.writer.queued() < n {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "{n} requests never queued");
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_share_commits_and_get_gapless_seqs() {
        const TASKS: usize = 20;
        const PER_TASK: usize = 10;
        let (_dir, store, ann, bo, direct) = setup().await;
        let before = store.write_commits();
        let release = hold_writer(&store).await;
        let mut tasks = Vec::new();
        for t in 0..TASKS {
            let (store, sender) = (store.clone(), if t % 2 == 0 { ann.clone() } else { bo.clone() });
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..PER_TASK {
                    let client_id = format!("t{t}-{i}");
                    let n = i64::try_from(t * PER_TASK + i).expect("small");
                    match store.append_message(draft(direct.id, &sender, Some(&client_id), n)).await {
                        Ok(Appended::Created { message: m, .. }) => seqs.push(m.seq),
                        other => panic!("append {client_id}: {other:?}"),
                    }
                }
                seqs
            }));
        }
        // Every task has queued its first append behind the held writer.
        wait_until_queued(&store, TASKS).await;
        drop(release);
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.extend(task.await.expect("task"));
        }
        seqs.sort_unstable();
        let total = (TASKS * PER_TASK) as u64;
        assert_eq!(seqs, (1..=total).collect::<Vec<_>>(), "distinct, gapless seqs");
        let commits = store.write_commits() - before;
        assert!(commits < total, "{total} appends took {commits} commits");
        let view = store.chat_by_id(direct.id).await.expect("read").expect("chat");
        assert_eq!(view.chat.last_seq, total);
        assert_eq!(view.last_message.map(|m| m.seq), Some(total));
        let events = store.chat_events_since(direct.id, 0, usize::MAX).await.expect("events");
        assert_eq!(events.len(), TASKS * PER_TASK);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_request_does_not_fail_its_batch() {
        let (_dir, store, ann, bo, direct) = setup().await;
        let before = store.write_commits();
        let release = hold_writer(&store).await;
        let missing = ChatId::generate(2);
        let taken = user("ann");
        let (first, to_missing, panicked, duplicate_email, retry, second) = tokio::join!(
            biased;
            store.append_message(draft(direct.id, &ann, Some("same"), 1)),
            store.append_message(draft(missing, &ann, None, 2)),
            store.write(|conn: &Connection| -> DbResult<()> {
                conn.execute("UPDATE messages SET text = 'tampered'", [])?;
                panic!("a bug inside a request");
            }),
            store.insert_user(&taken),
            store.append_message(draft(direct.id, &ann, Some("same"), 3)),
            async {
                // Every request above is queued by now: let the writer take them as one batch.
                drop(release);
                store.append_message(draft(direct.id, &bo, None, 4)).await
            },
        );
        let Ok(Appended::Created { message: first, .. }) = first else {
            panic!("the first append must succeed: {first:?}");
        };
        assert_eq!(first.seq, 1);
        let err = to_missing.expect_err("no such chat");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = panicked.expect_err("a panic is an error");
        assert!(err.to_string().contains("a bug inside a request"), "{err}");
        assert!(matches!(duplicate_email, Err(chat_domain::ports::InsertUserError::EmailTaken)), "{duplicate_email:?}");
        assert_eq!(retry.expect("retry"), Appended::Duplicate(first.clone()), "same batch, same clientId");
        let Ok(Appended::Created { message: second, .. }) = second else {
            panic!("the last append must succeed: {second:?}");
        };
        assert_eq!(second.seq, 2, "the failed and duplicate requests took no seq");
        // The held writer's own job does not commit; the five queued writes took one commit,
        // the last append (sent after the release) at most one more.
        let commits = store.write_commits() - before;
        assert!((1..=2).contains(&commits), "{commits} commits");

        // The panicking request's update was rolled back, the writer still serves, and a new
        // 1:1 chat for the same pair is still deduplicated.
        assert_eq!(store.message_by_id(first.id).await.expect("read"), Some(first));
        let again = chat(&[&bo, &ann]);
        assert!(
            matches!(store.insert_chat(&again).await.expect("chat"), ChatInserted::ExistingDirect(c) if c.id == direct.id)
        );
        let third = store.append_message(draft(direct.id, &bo, None, 5)).await.expect("append");
        assert!(matches!(third, Appended::Created { message: m, .. } if m.seq == 3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_store_finishes_queued_writes() {
        let (dir, store, ann, _bo, direct) = setup().await;
        let release = hold_writer(&store).await;
        let mut pending = Vec::new();
        for n in 0..10 {
            let (store, ann) = (store.clone(), ann.clone());
            pending.push(tokio::spawn(async move { store.append_message(draft(direct.id, &ann, None, n)).await }));
        }
        wait_until_queued(&store, 10).await;
        for task in &pending {
            task.abort();
        }
        // The holding task owns a clone of the store: wait for it to end, or the clone it drops
        // last (and the writer's final batch) could still be running when the file reopens.
        release.release_and_join().await;
        drop(store);
        for task in pending {
            let _ = task.await;
        }
        // The writer thread has ended (the drop waited for it) and closed its connection; what
        // was queued was written all the same.
        let store = SqliteStore::open(&dir.path().join("nested").join("data")).expect("reopen");
        let view = store.chat_by_id(direct.id).await.expect("read").expect("chat");
        assert_eq!(view.chat.last_seq, 10);
    }

    /// The contract suite checks that kept reads never outlive a write; this checks that they
    /// are kept at all, so that the suite's checks had something to catch.
    #[tokio::test]
    async fn reads_are_kept_in_memory_until_a_write_to_their_chat() {
        use crate::cache::lock;
        use crate::window::Known;
        use chat_domain::model::PageCursor;
        let (_dir, store, ann, _bo, direct) = setup().await;
        for n in 0..20 {
            store.append_message(draft(direct.id, &ann, None, n)).await.expect("append");
        }
        let page = store.page_messages(direct.id, PageCursor::Skip(0), 5).await.expect("page").expect("a page");
        let kept = |store: &SqliteStore| match lock(&store.cache().windows).page(
            direct.id,
            store.versions().chat(direct.id),
            None,
            0,
            5,
        ) {
            Known::Page(kept) => Some(kept),
            Known::Missing { .. } => None,
        };
        assert_eq!(kept(&store), Some(page));
        let chat = store.chat_alone(direct.id).await.expect("chat_alone");
        assert_eq!(lock(&store.cache().chats).get(&direct.id, store.versions().chat(direct.id)), Some(chat));

        store.append_message(draft(direct.id, &ann, None, 21)).await.expect("append");
        assert_eq!(kept(&store), None, "an append leaves nothing of its chat in memory");
        assert_eq!(lock(&store.cache().chats).get(&direct.id, store.versions().chat(direct.id)), None);
    }
}

#[tokio::test]
async fn a_version_1_database_migrates_to_edits_group_changes_and_receipts() {
    use chat_domain::model::Edited;
    use chat_domain::ports::MessageRepository;
    use chat_domain::{ChatEvent, MessageId, MessageText};

    let dir = tempfile::tempdir().expect("temp dir");
    let (user, chat, message) = ("0000000000000000000000a1", "0000000000000000000000c1", "0000000000000000000000e1");
    {
        let conn = Connection::open(dir.path().join(DATABASE_FILE)).expect("raw open");
        conn.execute_batch(schema::MIGRATIONS[0]).expect("version 1");
        conn.pragma_update(None, "user_version", 1).expect("version 1");
        conn.execute_batch(&format!(
            "INSERT INTO users VALUES ('{user}', 'a@example.com', 'ann', 'h', 0, 0);
             INSERT INTO chats VALUES ('{chat}', NULL, 1, '{user}', NULL, NULL, 1, 0, 0);
             INSERT INTO chat_participants VALUES ('{user}', '{chat}', 0);
             INSERT INTO messages VALUES ('{message}', '{chat}', '{user}', 'old', 'text', 0, 1, NULL, NULL, 5, 5);"
        ))
        .expect("version 1 rows");
    }
    let store = SqliteStore::open(dir.path()).expect("open migrates");
    let raw = Connection::open(dir.path().join(DATABASE_FILE)).expect("raw open");
    assert_eq!(pragma(&raw, "user_version"), schema::CURRENT_VERSION.to_string(), "every step ran");
    drop(raw);
    let id: MessageId = message.parse().expect("id");
    let old = store.message_by_id(id).await.expect("read").expect("the old message");
    assert_eq!((old.text.as_str(), old.edited_at), ("old", None));
    let at = chrono::DateTime::from_timestamp_millis(9).expect("time");
    let edited = store.edit_message(id, MessageText::parse("new").expect("text"), at).await.expect("edit");
    assert!(matches!(edited, Edited::Edited { seq: 2, .. }), "{edited:?}");
    let events = store.chat_events_since(old.chat, 0, 10).await.expect("events");
    assert!(matches!(events.as_slice(), [ChatEvent::MessageCreated(_), ChatEvent::MessageUpdated { seq: 2, .. }]));

    // Receipts (version 3) work on the old chat; its users start unread.
    use chat_domain::ports::ReceiptRepository;
    use chat_domain::receipts::Markers;
    let reader: chat_domain::UserId = user.parse().expect("id");
    let moved = store.advance_markers(old.chat, reader, Markers { delivered_seq: 2, read_seq: 1 }).await;
    assert_eq!(moved.expect("advance").after, Markers { delivered_seq: 2, read_seq: 1 });
}
