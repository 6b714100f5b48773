//! What the storage contract cannot say about MongoDB: the indexes, appends from several
//! clients ("nodes") at once, literal search, the connection string forms SecantusDB accepts,
//! and behaviour while the server is down and after it comes back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapter_mongo::MongoStore;
use chat_domain::error::StoreError;
use chat_domain::model::{Appended, Chat, ChatInserted, MessageDraft, MessageKind, PasswordHash, User};
use chat_domain::ports::{ChatRepository, MessageRepository, UserRepository};
use chat_domain::{ChatId, ClientId, Email, MessageId, MessageText, Timestamp, UserId, Username};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use test_services::free_port;
use test_services::mongo::{fresh_database_name, shared_server, Server, REPLICA_SET};

use crate::fresh_store;

fn now() -> Timestamp {
    chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis()).unwrap()
}

fn id_seconds(t: Timestamp) -> u32 {
    u32::try_from(t.timestamp()).unwrap()
}

fn user(name: &str) -> User {
    user_with_email(name, &format!("{}@example.com", name.to_ascii_lowercase()))
}

fn user_with_email(name: &str, email: &str) -> User {
    let t = now();
    User {
        id: UserId::generate(id_seconds(t)),
        email: Email::parse(email).unwrap(),
        username: Username::parse(name).unwrap(),
        password_hash: PasswordHash(format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}")),
        created_at: t,
        updated_at: t,
    }
}

async fn stored_user(store: &MongoStore, name: &str) -> User {
    let user = user(name);
    store.insert_user(&user).await.unwrap();
    user
}

async fn stored_chat(store: &MongoStore, members: &[&User]) -> Chat {
    let t = now();
    let chat = Chat {
        id: ChatId::generate(id_seconds(t)),
        name: None,
        is_group: members.len() > 2,
        participants: members.iter().map(|u| u.id).collect(),
        created_by: members[0].id,
        last_message_id: None,
        last_seq: 0,
        created_at: t,
        updated_at: t,
    };
    match store.insert_chat(&chat).await.unwrap() {
        ChatInserted::Created(created) => created,
        other => panic!("expected a new chat, got {other:?}"),
    }
}

fn draft(chat: &Chat, sender: &User, text: &str, client_id: Option<&str>) -> MessageDraft {
    let t = now();
    MessageDraft {
        id: MessageId::generate(id_seconds(t)),
        chat: chat.id,
        sender: sender.id,
        text: MessageText::parse(text).unwrap(),
        kind: MessageKind::Text,
        client_id: client_id.map(|c| ClientId::parse(c).unwrap()),
        created_at: t,
    }
}

/// A plain driver handle on the store's database, to look at what the adapter wrote.
async fn raw_db(uri: &str, store: &MongoStore) -> mongodb::Database {
    mongodb::Client::with_uri_str(uri).await.unwrap().database(store.database_name())
}

#[tokio::test]
async fn ensure_indexes_creates_every_index_and_may_run_again() {
    let store = fresh_store().await;
    // `fresh_store` ran it once; twice more changes nothing.
    store.ensure_indexes().await.expect("second ensure_indexes");
    store.ensure_indexes().await.expect("third ensure_indexes");

    let db = raw_db(&shared_server().await.uri(), &store).await;
    let mut found: Vec<(String, Document, bool, Option<Document>)> = Vec::new();
    for collection in ["users", "chats", "messages"] {
        let indexes: Vec<mongodb::IndexModel> =
            db.collection::<Document>(collection).list_indexes().await.unwrap().try_collect().await.unwrap();
        for index in indexes {
            let options = index.options.unwrap_or_default();
            found.push((
                collection.to_owned(),
                index.keys,
                options.unique.unwrap_or(false),
                options.partial_filter_expression,
            ));
        }
    }
    let expected = [
        ("users", doc! { "email": 1 }, true, None),
        ("users", doc! { "username": 1, "_id": 1 }, false, None),
        ("chats", doc! { "participants": 1, "updatedAt": -1, "_id": -1 }, false, None),
        ("chats", doc! { "directKey": 1 }, true, Some(doc! { "directKey": { "$exists": true } })),
        ("messages", doc! { "chat": 1, "seq": -1 }, false, None),
        ("messages", doc! { "sender": 1, "clientId": 1 }, true, Some(doc! { "clientId": { "$exists": true } })),
        ("messages", doc! { "chat": 1, "deletedSeq": 1 }, false, Some(doc! { "deletedSeq": { "$exists": true } })),
    ];
    for (collection, keys, unique, partial) in expected {
        let got = found.iter().find(|(c, k, _, _)| c == collection && *k == keys);
        let got = got.map(|(_, _, u, p)| (*u, p.clone()));
        assert_eq!(got, Some((unique, partial)), "index {keys} on {collection}; found {found:?}");
    }
    // The `_id` index of each collection, and nothing else.
    assert_eq!(found.len(), 7 + 3, "{found:?}");
}

#[tokio::test]
async fn documents_use_the_contract_field_names() {
    let store = fresh_store().await;
    let alice = stored_user(&store, "alice").await;
    let bob = stored_user(&store, "bob").await;
    let chat = stored_chat(&store, &[&alice, &bob]).await;
    let Appended::Created { message, .. } =
        store.append_message(draft(&chat, &alice, "hi", Some("c-1"))).await.unwrap()
    else {
        panic!("expected a new message");
    };

    let db = raw_db(&shared_server().await.uri(), &store).await;
    let user =
        db.collection::<Document>("users").find_one(doc! { "_id": oid(&alice.id.to_string()) }).await.unwrap().unwrap();
    assert_eq!(keys(&user), ["_id", "createdAt", "email", "passwordHash", "updatedAt", "username"]);
    assert!(user.get_datetime("createdAt").is_ok());

    let stored =
        db.collection::<Document>("chats").find_one(doc! { "_id": oid(&chat.id.to_string()) }).await.unwrap().unwrap();
    assert_eq!(
        keys(&stored),
        [
            "_id",
            "createdAt",
            "createdBy",
            "directKey",
            "isGroup",
            "lastMessageId",
            "lastSeq",
            "name",
            "participants",
            "updatedAt"
        ]
    );
    assert_eq!(stored.get_i64("lastSeq").unwrap(), 1);
    assert_eq!(stored.get_object_id("lastMessageId").unwrap().to_hex(), message.id.to_string());

    let stored = db
        .collection::<Document>("messages")
        .find_one(doc! { "_id": oid(&message.id.to_string()) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        keys(&stored),
        ["_id", "chat", "clientId", "createdAt", "isDeleted", "sender", "seq", "status", "text", "type", "updatedAt"]
    );
    assert_eq!(stored.get_str("type").unwrap(), "text");
    assert_eq!(stored.get_str("status").unwrap(), "sent");
    assert!(!stored.get_bool("isDeleted").unwrap());
}

fn oid(hex: &str) -> mongodb::bson::oid::ObjectId {
    mongodb::bson::oid::ObjectId::parse_str(hex).unwrap()
}

fn keys(doc: &Document) -> Vec<&str> {
    let mut keys: Vec<&str> = doc.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_from_two_clients_never_share_a_seq() {
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 10;
    let server = shared_server().await;
    let database = fresh_database_name();
    // Two clients with their own connection pools, as two server nodes would have.
    let nodes = [
        Arc::new(MongoStore::connect(&server.uri(), &database).await.unwrap()),
        Arc::new(MongoStore::connect(&server.uri(), &database).await.unwrap()),
    ];
    nodes[0].ensure_indexes().await.unwrap();
    let alice = stored_user(&nodes[0], "alice").await;
    let bob = stored_user(&nodes[0], "bob").await;
    let chat = stored_chat(&nodes[0], &[&alice, &bob]).await;

    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let node = nodes[writer % 2].clone();
        let (chat, sender) = (chat.clone(), if writer % 2 == 0 { alice.clone() } else { bob.clone() });
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..PER_WRITER {
                match node.append_message(draft(&chat, &sender, &format!("w{writer} m{i}"), None)).await.unwrap() {
                    Appended::Created { message: m, .. } => seqs.push(m.seq),
                    other => panic!("expected a new message, got {other:?}"),
                }
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    let total = (WRITERS * PER_WRITER) as u64;
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(distinct.len(), seqs.len(), "a seq was handed out twice: {seqs:?}");
    assert_eq!(distinct, (1..=total).collect(), "seqs have gaps");

    let view = nodes[1].chat_by_id(chat.id).await.unwrap().unwrap();
    assert_eq!(view.chat.last_seq, total);
    assert_eq!(view.last_message.map(|m| m.seq), Some(total), "last message is the newest");
    let events = nodes[1].chat_events_since(chat.id, 0, 1000).await.unwrap();
    let stored: Vec<u64> = events.iter().map(|e| e.seq()).collect();
    assert_eq!(stored, (1..=total).collect::<Vec<_>>());
}

#[tokio::test]
async fn search_with_regex_metacharacters_is_literal() {
    let store = fresh_store().await;
    let me = stored_user(&store, "me").await;
    let names =
        ["a.c", "abc", "a+c", "aac", "(x)", "[y]", "^z$", "back\\slash", "star*", "q?", "p|q", "{2}", "d-e", "h#t"];
    for (i, name) in names.into_iter().enumerate() {
        // Emails hold no metacharacter but `.`, which the needles below avoid matching.
        store.insert_user(&user_with_email(name, &format!("u{i}@example.com"))).await.unwrap();
    }
    let found = |needle: &'static str| {
        let store = store.clone();
        async move {
            store
                .search_users(needle, None, me.id, 50)
                .await
                .unwrap()
                .into_iter()
                .map(|u| u.username.as_str().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // As regular expressions these would also match `aac`, `abc` and everyone.
    assert_eq!(found("a.c").await, ["a.c"]);
    assert_eq!(found("A.C").await, ["a.c"]);
    assert_eq!(found("a+c").await, ["a+c"]);
    assert_eq!(found(".*").await, Vec::<String>::new());
    assert_eq!(found("*").await, ["star*"]);
    assert_eq!(found("(").await, ["(x)"]);
    assert_eq!(found("[y]").await, ["[y]"]);
    assert_eq!(found("[").await, ["[y]"]);
    assert_eq!(found("^z$").await, ["^z$"]);
    assert_eq!(found("$").await, ["^z$"]);
    assert_eq!(found("\\").await, ["back\\slash"]);
    assert_eq!(found("\\s").await, ["back\\slash"]);
    assert_eq!(found("?").await, ["q?"]);
    assert_eq!(found("|").await, ["p|q"]);
    assert_eq!(found("{2}").await, ["{2}"]);
    assert_eq!(found("-").await, ["d-e"]);
    assert_eq!(found("#").await, ["h#t"]);
    assert_eq!(found("\u{0}").await, Vec::<String>::new());
}

#[tokio::test]
async fn every_connection_string_form_runs_transactions() {
    let server = shared_server().await;
    let port = server.port;
    for uri in [
        format!("mongodb://127.0.0.1:{port}"),
        format!("mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}"),
        format!("mongodb://127.0.0.1:{port}/?directConnection=true"),
    ] {
        let store = MongoStore::connect(&uri, &fresh_database_name()).await.unwrap();
        store.ensure_indexes().await.unwrap_or_else(|e| panic!("{uri}: {e}"));
        let alice = stored_user(&store, "alice").await;
        let bob = stored_user(&store, "bob").await;
        let chat = stored_chat(&store, &[&alice, &bob]).await;
        let appended =
            store.append_message(draft(&chat, &alice, "hi", None)).await.unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert!(matches!(appended, Appended::Created { message: ref m, .. } if m.seq == 1), "{uri}: {appended:?}");
    }
}

#[tokio::test]
async fn a_malformed_connection_string_is_refused() {
    let err = MongoStore::connect("postgres://localhost", "chat").await.expect_err("not a mongodb uri");
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    let err = MongoStore::connect("mongodb://localhost", "a.b").await.expect_err("bad database name");
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
}

/// How long a call may take while the server is down: the selection timeout of the tests'
/// connection string, plus room for a slow machine.
const SELECTION_TIMEOUT: Duration = Duration::from_millis(1500);
const OUTAGE_SLACK: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable_within_the_selection_timeout() {
    let port = free_port();
    let uri = format!("mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS={}", SELECTION_TIMEOUT.as_millis());
    let store = MongoStore::connect(&uri, "chat").await.expect("connect does not need the server");
    let chat = Chat {
        id: ChatId::generate(0),
        name: None,
        is_group: false,
        participants: vec![UserId::generate(0), UserId::generate(0)],
        created_by: UserId::generate(0),
        last_message_id: None,
        last_seq: 0,
        created_at: now(),
        updated_at: now(),
    };
    let alice = user("alice");

    let started = Instant::now();
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.ensure_indexes().await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.user_by_id(alice.id).await, Err(StoreError::Unavailable(_))));
    assert!(matches!(store.insert_chat(&chat).await, Err(StoreError::Unavailable(_))));
    let appended = store.append_message(draft(&chat, &alice, "hi", Some("c"))).await;
    assert!(matches!(appended, Err(StoreError::Unavailable(_))), "{appended:?}");
    let deleted = store.soft_delete_message(MessageId::generate(0), now()).await;
    assert!(matches!(deleted, Err(StoreError::Unavailable(_))), "{deleted:?}");
    assert!(started.elapsed() < 6 * (SELECTION_TIMEOUT + OUTAGE_SLACK), "took {:?}", started.elapsed());
}

/// The result of one logical send in the fault test.
#[derive(Debug)]
struct Sent {
    index: usize,
    id: MessageId,
    seq: u64,
    /// True when a retry found the message already stored (the commit had happened, but its
    /// answer was lost with the server).
    found_on_retry: bool,
}

/// SecantusDB acknowledges `j: true` writes before its log reaches the disk unless told to
/// sync on every commit; without this flag a crash loses the last acknowledged appends.
const DURABLE: &[&str] = &["--sync-on-commit"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_survive_a_crash_and_the_same_store_serves_after_restart() {
    const TOTAL: usize = 60;
    const CRASH_AFTER: usize = 20;
    let data = tempfile::tempdir().unwrap();
    let storage = data.path().join("db");
    let storage = storage.to_str().unwrap().to_owned();
    let port = free_port();
    let server = Server::start_with(port, &storage, DURABLE).await;
    let uri = format!(
        "mongodb://127.0.0.1:{port}/?replicaSet={REPLICA_SET}&serverSelectionTimeoutMS={}",
        SELECTION_TIMEOUT.as_millis()
    );
    let store = Arc::new(MongoStore::connect(&uri, "chat_fault").await.unwrap());
    store.ensure_indexes().await.unwrap();
    let alice = stored_user(&store, "alice").await;
    let bob = stored_user(&store, "bob").await;
    let chat = stored_chat(&store, &[&alice, &bob]).await;

    // One sender sends TOTAL messages, each with its own clientId, and resends a message until
    // it gets an answer, as a client does.
    let (progress, mut watch) = tokio::sync::watch::channel((0usize, 0usize));
    let sender = {
        let (store, chat, alice) = (store.clone(), chat.clone(), alice.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut outage_calls = 0;
            for index in 0..TOTAL {
                let draft = draft(&chat, &alice, &format!("message {index}"), Some(&format!("client-{index}")));
                loop {
                    let started = Instant::now();
                    let result = store.append_message(draft.clone()).await;
                    let took = started.elapsed();
                    match result {
                        Ok(Appended::Created { message: m, .. }) => {
                            sent.push(Sent { index, id: m.id, seq: m.seq, found_on_retry: false })
                        }
                        Ok(Appended::Duplicate(m)) => {
                            sent.push(Sent { index, id: m.id, seq: m.seq, found_on_retry: true })
                        }
                        Ok(Appended::NotParticipant) => panic!("message {index}: alice is a participant"),
                        Err(StoreError::Unavailable(_)) => {
                            assert!(took < SELECTION_TIMEOUT + OUTAGE_SLACK, "a call during the outage took {took:?}");
                            outage_calls += 1;
                            progress.send_modify(|p| p.1 = outage_calls);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        Err(other) => panic!("message {index}: expected Ok or Unavailable, got {other:?}"),
                    }
                    break;
                }
                progress.send_modify(|p| p.0 = sent.len());
            }
            (sent, outage_calls)
        })
    };

    tokio::time::timeout(Duration::from_secs(60), watch.wait_for(|p| p.0 >= CRASH_AFTER)).await.unwrap().unwrap();
    server.crash();
    // The outage lasts until the sender has seen it at least twice.
    tokio::time::timeout(Duration::from_secs(30), watch.wait_for(|p| p.1 >= 2)).await.unwrap().unwrap();
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable(_))));
    let restarted = Server::start_with(port, &storage, DURABLE).await;

    let (sent, outage_calls) = tokio::time::timeout(Duration::from_secs(120), sender).await.unwrap().unwrap();
    assert!(outage_calls >= 2);
    assert_eq!(sent.len(), TOTAL);

    // Every acknowledged message is stored exactly once, with the seq it was given.
    for s in &sent {
        let stored = store
            .message_by_id(s.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged message {} is lost", s.index));
        assert_eq!(stored.seq, s.seq, "message {}", s.index);
        assert_eq!(stored.client_id.as_ref().map(ClientId::as_str), Some(format!("client-{}", s.index).as_str()));
    }
    let db = raw_db(&uri, &store).await;
    let messages = db.collection::<Document>("messages");
    assert_eq!(messages.count_documents(doc! {}).await.unwrap(), TOTAL as u64, "no message is stored twice");
    let seqs: BTreeSet<u64> = sent.iter().map(|s| s.seq).collect();
    assert_eq!(seqs, (1..=TOTAL as u64).collect(), "seqs are gapless and distinct");
    let view = store.chat_by_id(chat.id).await.unwrap().unwrap();
    assert_eq!(view.chat.last_seq, TOTAL as u64);
    let recovered = sent.iter().filter(|s| s.found_on_retry).count();
    eprintln!("fault test: {outage_calls} calls failed with Unavailable during the outage; {recovered} resends found their message already stored");
    drop(restarted);
}
