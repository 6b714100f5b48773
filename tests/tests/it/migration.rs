//! Adopting the previous backend's database: documents shaped exactly as its Mongoose schemas
//! write them (bcrypt `password`, `lastMessage`, no `seq`, `__v`), a few thousand messages,
//! migrated by the real `chat-server migrate` (a dry run first, then twice for real), then
//! served: old passwords sign in (and are upgraded to argon2id), chats list, history pages in
//! creation order, a message sent over HTTP arrives over Socket.IO, and catch-up replays the
//! migrated chat's events in seq order.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Output;

use e2e::{Launch, Server};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::{Client, Database};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::mongo_faults::RawSocket;

/// 2023-11-14T22:13:20Z: when the old data begins.
const BASE_MS: i64 = 1_700_000_000_000;
const DAY_MS: i64 = 86_400_000;
/// Documents per `insert_many` (SecantusDB is slow per round trip, fine per document).
const INSERT_BATCH: usize = 500;

/// A user of the old data: the email as stored, the one typed to sign in, the password.
struct OldUser {
    id: ObjectId,
    stored_email: &'static str,
    email: &'static str,
    password: &'static str,
}

/// A chat of the old data and its messages, in the order they were generated.
struct OldChat {
    id: ObjectId,
    participants: Vec<ObjectId>,
    messages: Vec<Document>,
}

impl OldChat {
    /// The messages in the order the migration must number them: (createdAt, _id).
    fn in_creation_order(&self) -> Vec<&Document> {
        let mut sorted: Vec<&Document> = self.messages.iter().collect();
        sorted.sort_by_key(|m| (m.get_datetime("createdAt").copied().ok(), m.get_object_id("_id").ok()));
        sorted
    }

    /// The soft-deleted ones, in the order their deletes are numbered: (updatedAt, _id).
    fn deleted_in_order(&self) -> Vec<&Document> {
        let mut deleted: Vec<&Document> =
            self.messages.iter().filter(|m| m.get_bool("isDeleted").unwrap_or(false)).collect();
        deleted.sort_by_key(|m| (m.get_datetime("updatedAt").copied().ok(), m.get_object_id("_id").ok()));
        deleted
    }
}

fn user_doc(user: &OldUser, username: &str) -> Document {
    let hash = bcrypt::hash(user.password, 4).unwrap();
    let at = DateTime::from_millis(BASE_MS);
    doc! {
        "_id": user.id, "email": user.stored_email, "username": username, "password": hash,
        "createdAt": at, "updatedAt": at, "__v": 0,
    }
}

/// `count` messages of `chat`, two per second, so every pair shares its `createdAt` and only
/// the `_id` orders it; within a pair the later-generated message gets the smaller id, so the
/// order of generation (and of insertion) is not the order the migration must find. Every 50th
/// is soft-deleted (when `deletes`), some have a `clientId`, some a `null` one (as Mongoose
/// writes a field assigned `null`), the rest none.
fn messages(
    chat: ObjectId,
    label: &str,
    senders: &[ObjectId],
    start_ms: i64,
    count: usize,
    deletes: bool,
) -> Vec<Document> {
    let mut ids: Vec<ObjectId> = (0..count).map(|_| ObjectId::new()).collect();
    for pair in ids.chunks_mut(2) {
        pair.reverse();
    }
    (0..count)
        .map(|i| {
            let created = start_ms + (i as i64 / 2) * 1000;
            let deleted = deletes && i % 50 == 7;
            // Deletes happen in an order of their own: later messages deleted first.
            let updated = if deleted { start_ms + 10 * DAY_MS - i as i64 * 1000 } else { created };
            let mut message = doc! {
                "_id": ids[i],
                "sender": senders[i % senders.len()],
                "chat": chat,
                "text": format!("{label}-{i:04}"),
                "type": "text",
                "status": if i % 3 == 0 { "read" } else { "sent" },
                "isDeleted": deleted,
                "createdAt": DateTime::from_millis(created),
                "updatedAt": DateTime::from_millis(updated),
                "__v": 0,
            };
            match i % 5 {
                0 => {
                    message.insert("clientId", format!("{label}-client-{i}"));
                }
                1 => {
                    message.insert("clientId", Bson::Null);
                }
                _ => {}
            }
            message
        })
        .collect()
}

/// How one old chat is made: label, participants, group name, creation time, message count,
/// whether some messages are deleted, whether `createdBy` is written.
type Plan = (&'static str, Vec<ObjectId>, Option<&'static str>, i64, usize, bool, bool);

/// The old database: four users (one email stored with capitals), two 1:1 chats of the same
/// pair (the newer one a duplicate), a group with deleted messages, another 1:1 chat, and an
/// empty 1:1 chat without `createdBy`. 3020 messages in all.
async fn old_database(db: &Database) -> (Vec<OldUser>, BTreeMap<&'static str, OldChat>) {
    let users = vec![
        OldUser {
            id: ObjectId::new(),
            stored_email: "alice@example.com",
            email: "alice@example.com",
            password: "alice-old-pass",
        },
        OldUser {
            id: ObjectId::new(),
            stored_email: "bob@example.com",
            email: "bob@example.com",
            password: "bob-old-pass",
        },
        OldUser {
            id: ObjectId::new(),
            stored_email: "carol@example.com",
            email: "carol@example.com",
            password: "carol-old-pass",
        },
        OldUser {
            id: ObjectId::new(),
            stored_email: "Dave@Example.COM",
            email: "dave@example.com",
            password: "dave-old-pass",
        },
    ];
    let names = ["alice", "bob", "carol", "dave"];
    let user_docs: Vec<Document> = users.iter().zip(names).map(|(u, name)| user_doc(u, name)).collect();
    db.collection::<Document>("users").insert_many(user_docs).await.unwrap();
    let [alice, bob, carol, dave] = [users[0].id, users[1].id, users[2].id, users[3].id];

    // (label, participants, group name, created, messages, deletes, createdBy given)
    let plans: [Plan; 5] = [
        ("direct", vec![alice, bob], None, BASE_MS, 1500, false, true),
        ("duplicate", vec![bob, alice], None, BASE_MS + DAY_MS, 20, false, true),
        ("group", vec![alice, bob, carol], Some("team"), BASE_MS + 2 * DAY_MS, 1200, true, true),
        ("other", vec![carol, alice], None, BASE_MS + 3 * DAY_MS, 300, false, true),
        ("empty", vec![dave, bob], None, BASE_MS + 4 * DAY_MS, 0, false, false),
    ];
    let mut chats = BTreeMap::new();
    let mut chat_docs = Vec::new();
    for (label, participants, name, created, count, deletes, created_by) in plans {
        let id = ObjectId::new();
        let messages = messages(id, label, &participants, created + 1000, count, deletes);
        let chat = OldChat { id, participants: participants.clone(), messages };
        let last = chat.in_creation_order().last().map(|m| m.get_object_id("_id").unwrap());
        let updated = chat
            .in_creation_order()
            .last()
            .map_or(created, |m| m.get_datetime("createdAt").unwrap().timestamp_millis());
        let mut document = doc! {
            "_id": id, "isGroup": name.is_some(), "participants": participants.clone(),
            "lastMessage": last.map_or(Bson::Null, Bson::ObjectId),
            "createdAt": DateTime::from_millis(created), "updatedAt": DateTime::from_millis(updated), "__v": 0,
        };
        if let Some(name) = name {
            document.insert("name", name);
        }
        if created_by {
            document.insert("createdBy", participants[0]);
        }
        chat_docs.push(document);
        chats.insert(label, chat);
    }
    db.collection::<Document>("chats").insert_many(chat_docs).await.unwrap();
    // Inserted newest first, so the natural order is not the creation order either.
    let mut all: Vec<Document> = chats.values().flat_map(|c| c.messages.iter().cloned()).collect();
    all.reverse();
    for batch in all.chunks(INSERT_BATCH) {
        db.collection::<Document>("messages").insert_many(batch.to_vec()).await.unwrap();
    }
    (users, chats)
}

/// Every document of the three collections, by `_id`.
async fn dump(db: &Database) -> BTreeMap<&'static str, Vec<Document>> {
    let mut out = BTreeMap::new();
    for name in ["users", "chats", "messages"] {
        let mut cursor = db.collection::<Document>(name).find(doc! {}).sort(doc! { "_id": 1 }).await.unwrap();
        let mut docs = Vec::new();
        while cursor.advance().await.unwrap() {
            docs.push(cursor.deserialize_current().unwrap());
        }
        out.insert(name, docs);
    }
    out
}

/// Runs `chat-server migrate [extra]` on the database; returns its standard output.
async fn migrate(uri: &str, database: &str, extra: &[&str]) -> String {
    let dir = TempDir::new().unwrap();
    let mut command = Launch::new(dir.path()).mongodb(uri, database).command();
    command.arg("migrate").args(extra);
    let output: Output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "migrate {extra:?} failed ({}):\n{stdout}\n{stderr}", output.status);
    stdout
}

/// Every field the old document had is still there with its value, except the two the
/// migration rewrites (keeping the old value): a `null` clientId (absent now) and an email
/// normalized (the original in `originalEmail`).
#[track_caller]
fn assert_kept(before: &Document, after: &Document) {
    for (key, value) in before {
        match (key.as_str(), value) {
            ("clientId", Bson::Null) => assert!(!after.contains_key("clientId"), "{after}"),
            ("email", Bson::String(old)) if after.get_str("email").ok() != Some(old) => {
                assert_eq!(after.get_str("originalEmail").ok(), Some(old.as_str()), "{after}");
                assert_eq!(after.get_str("email").ok(), Some(old.to_lowercase().as_str()), "{after}");
            }
            _ => assert_eq!(after.get(key), Some(value), "field {key} of {before} changed: {after}"),
        }
    }
}

fn int(doc: &Document, key: &str) -> i64 {
    match doc.get(key) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        other => panic!("{key} is {other:?} in {doc}"),
    }
}

/// The seqs, `deletedSeq`s and chat fields the migration must have written.
fn assert_numbered(chats: &BTreeMap<&'static str, OldChat>, after: &BTreeMap<&'static str, Vec<Document>>) {
    let by_id: BTreeMap<ObjectId, &Document> =
        after["messages"].iter().map(|m| (m.get_object_id("_id").unwrap(), m)).collect();
    for (label, chat) in chats {
        let order = chat.in_creation_order();
        for (i, old) in order.iter().enumerate() {
            let stored = by_id[&old.get_object_id("_id").unwrap()];
            assert_eq!(int(stored, "seq"), i as i64 + 1, "{label}: seq follows (createdAt, _id)");
        }
        let deleted = chat.deleted_in_order();
        for (i, old) in deleted.iter().enumerate() {
            let stored = by_id[&old.get_object_id("_id").unwrap()];
            assert_eq!(int(stored, "deletedSeq"), (order.len() + i) as i64 + 1, "{label}: deletes come after");
        }
        let stored_chat = after["chats"].iter().find(|c| c.get_object_id("_id").ok() == Some(chat.id)).unwrap();
        assert_eq!(int(stored_chat, "lastSeq"), (order.len() + deleted.len()) as i64, "{label}");
        let last = order.last().map_or(Bson::Null, |m| m.get("_id").cloned().unwrap());
        assert_eq!(stored_chat.get("lastMessageId"), Some(&last), "{label}");
        assert_eq!(stored_chat.get_object_id("createdBy").ok(), Some(chat.participants[0]), "{label}");
        let keyed = ["direct", "other", "empty"].contains(label);
        assert_eq!(stored_chat.contains_key("directKey"), keyed, "{label}: {stored_chat}");
    }
}

async fn login(server: &Server, email: &str, password: &str) -> (String, String) {
    let reply = server.post("/api/auth/login", None, &json!({"email": email, "password": password})).await;
    let body = reply.ok(200);
    (body["accessToken"].as_str().unwrap().to_owned(), body["user"]["_id"].as_str().unwrap().to_owned())
}

async fn stored_hash(db: &Database, user: ObjectId) -> (String, String) {
    let found = db.collection::<Document>("users").find_one(doc! { "_id": user }).await.unwrap().unwrap();
    (found.get_str("passwordHash").unwrap().to_owned(), found.get_str("password").unwrap().to_owned())
}

/// Every message text of a chat's history, oldest first, read page by page with `before`.
async fn history(server: &Server, token: &str, chat: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/api/chats/{chat}/messages?limit=100&before={id}"),
            None => format!("/api/chats/{chat}/messages?limit=100"),
        };
        let page = server.get(&path, Some(token)).await.ok(200).clone();
        let messages = page["messages"].as_array().unwrap();
        let mut page_texts: Vec<String> = messages.iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect();
        page_texts.extend(texts);
        texts = page_texts;
        if page["hasMore"] != true {
            return texts;
        }
        before = Some(messages[0]["_id"].as_str().unwrap().to_owned());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_previous_backends_database_is_migrated_and_served() {
    let mongo = e2e::shared_mongo().await;
    let (uri, database) = (mongo.uri(), test_services::mongo::fresh_database_name());
    let client = Client::with_uri_str(&uri).await.unwrap();
    let db = client.database(&database);
    let (users, chats) = old_database(&db).await;
    let original = dump(&db).await;
    let hex = |label: &str| chats[label].id.to_hex();

    // A dry run counts and writes nothing.
    let dry = migrate(&uri, &database, &["--dry-run"]).await;
    assert!(dry.trim_end().ends_with("would change 3658 documents"), "{dry}");
    assert_eq!(dump(&db).await, original, "a dry run must change nothing");

    let first = migrate(&uri, &database, &[]).await;
    // 1 email, 4 password hashes, 604 null clientIds, 3020 seqs, 24 deletedSeqs, 5 chats.
    assert!(first.trim_end().ends_with("changed 3658 documents"), "{first}");
    assert!(first.contains("chats and messages: 3049/3049 done"), "plain progress lines: {first}");
    let duplicate = format!("duplicate 1:1 chat {} of the pair kept in {}", hex("duplicate"), hex("direct"));
    assert!(first.contains(&duplicate), "{first}");
    let migrated = dump(&db).await;
    for name in ["users", "chats", "messages"] {
        assert_eq!(migrated[name].len(), original[name].len(), "{name}: nothing added or removed");
        for (before, after) in original[name].iter().zip(&migrated[name]) {
            assert_kept(before, after);
        }
    }
    assert_numbered(&chats, &migrated);

    // The second run changes nothing, and still reports the duplicate it cannot merge.
    let second = migrate(&uri, &database, &[]).await;
    assert!(second.trim_end().ends_with("no changes"), "{second}");
    assert!(second.contains(&duplicate), "{second}");
    assert_eq!(dump(&db).await, migrated, "a second run must change nothing");

    let dir = TempDir::new().unwrap();
    let server = Launch::new(dir.path()).mongodb(&uri, &database).start().await;

    // Old passwords sign in; the first login upgrades the bcrypt hash, the old field stays.
    let (alice, alice_id) = login(&server, users[0].email, users[0].password).await;
    assert_eq!(alice_id, users[0].id.to_hex());
    let (hash, old) = stored_hash(&db, users[0].id).await;
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(old.starts_with("$2b$") && bcrypt::verify(users[0].password, &old).unwrap(), "{old}");
    login(&server, users[0].email, users[0].password).await;
    let wrong =
        server.post("/api/auth/login", None, &json!({"email": users[1].email, "password": "not-it-at-all"})).await;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(stored_hash(&db, users[1].id).await.0.starts_with("$2b$"), "a failed login upgrades nothing");
    let (bob, _) = login(&server, users[1].email, users[1].password).await;
    let (carol, _) = login(&server, users[2].email, users[2].password).await;
    let (_dave, dave_id) = login(&server, users[3].email, users[3].password).await;
    assert_eq!(dave_id, users[3].id.to_hex(), "the normalized email signs in");

    // Chats list with their last messages; the pair's chat is found, not created again.
    let listed = server.get("/api/chats", Some(&alice)).await.ok(200).clone();
    let ids: BTreeSet<String> =
        listed.as_array().unwrap().iter().map(|c| c["_id"].as_str().unwrap().to_owned()).collect();
    let expected: BTreeSet<String> = ["direct", "duplicate", "group", "other"].iter().map(|l| hex(l)).collect();
    assert_eq!(ids, expected);
    let direct = listed.as_array().unwrap().iter().find(|c| c["_id"] == hex("direct").as_str()).unwrap();
    assert_eq!(direct["lastMessage"]["text"], "direct-1498", "the last of (createdAt, _id): {direct}");
    let again = server.post("/api/chats", Some(&alice), &json!({"participants": [users[1].id.to_hex()]})).await;
    assert_eq!(again.ok(200)["_id"], hex("direct").as_str());

    // History pages in creation order, without the deleted messages.
    for label in ["direct", "group"] {
        let expected: Vec<String> = chats[label]
            .in_creation_order()
            .iter()
            .filter(|m| !m.get_bool("isDeleted").unwrap())
            .map(|m| m.get_str("text").unwrap().to_owned())
            .collect();
        assert_eq!(history(&server, &alice, &hex(label)).await, expected, "{label}");
    }

    // A message sent over HTTP reaches a socket in the chat's room, with the next seq.
    let mut socket = RawSocket::connect(&server, &bob).await;
    let joined = socket.emit_with_ack("chat:join", json!({"chatId": hex("direct")})).await;
    assert_eq!(joined["success"], true, "{joined}");
    let body = json!({"chat": hex("direct"), "text": "after the migration"});
    let sent = server.post("/api/messages", Some(&alice), &body).await;
    assert_eq!(sent.ok(201)["seq"], 1501, "{sent:?}");
    let packet = socket.next_packet_where(|p| p.starts_with("42[\"message:new\"")).await;
    let event: Value = serde_json::from_str(&packet[2..]).unwrap();
    assert_eq!(event[1]["text"], "after the migration");
    assert_eq!(event[1]["seq"], 1501);

    // Catching up on the group replays its migrated events in seq order, deletes included.
    let last_seq = 1200 + 24;
    let mut socket = RawSocket::connect(&server, &carol).await;
    let since = last_seq - 30;
    let ack = socket.emit_with_ack("chat:join", json!({"chatId": hex("group"), "sinceSeq": since})).await;
    assert_eq!(ack["recovered"], true, "{ack}");
    let events = ack["events"].as_array().unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e["data"]["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, ((since + 1)..=last_seq).collect::<Vec<_>>(), "{ack}");
    let deletes = events.iter().filter(|e| e["event"] == "message:deleted").count();
    assert_eq!(deletes, 24, "the last 24 seqs are the old deletes");
}
