//! `MongoStore::migrate` on what an interrupted run leaves: it continues in order, counts
//! only what it adds, and a run after it changes nothing. (The whole migration, end to end on
//! Mongoose-shaped data with the real binary, is `tests/tests/it/migration.rs`.)

use std::sync::atomic::{AtomicU64, Ordering};

use adapter_mongo::{MigrateOptions, MigrateProgress, MongoStore, NoProgress};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, DateTime, Document};
use test_services::mongo::{fresh_database_name, shared_server};

/// Counts the units of work reported, across stages.
#[derive(Default)]
struct Counted {
    total: AtomicU64,
    done: AtomicU64,
}

impl MigrateProgress for Counted {
    fn stage(&self, _: &'static str, total: u64) {
        self.total.fetch_add(total, Ordering::SeqCst);
    }
    fn advance(&self, n: u64) {
        self.done.fetch_add(n, Ordering::SeqCst);
    }
    fn finish(&self) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_numbering_continues_in_order() {
    let server = shared_server().await;
    let database = fresh_database_name();
    let store = MongoStore::connect(&server.uri(), &database).await.unwrap();
    let client = mongodb::Client::with_uri_str(server.uri()).await.unwrap();
    let db = client.database(&database);
    let (alice, bob, chat) = (ObjectId::new(), ObjectId::new(), ObjectId::new());
    let at = |ms: i64| DateTime::from_millis(1_700_000_000_000 + ms);
    db.collection::<Document>("chats")
        .insert_one(doc! {
            "_id": chat, "isGroup": false, "participants": [alice, bob], "createdBy": alice,
            "lastMessage": null, "createdAt": at(0), "updatedAt": at(0), "__v": 0,
        })
        .await
        .unwrap();
    // Twelve messages, created in the reverse order of their ids.
    let ids: Vec<ObjectId> = (0..12).map(|_| ObjectId::new()).rev().collect();
    let messages: Vec<Document> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut message = doc! {
                "_id": id, "sender": alice, "chat": chat, "text": format!("m{i}"), "type": "text",
                "status": "sent", "isDeleted": i == 2, "createdAt": at(1000 * i as i64),
                "updatedAt": at(1000 * i as i64 + 50_000), "__v": 0,
            };
            // What an interrupted run leaves: the first four in creation order numbered.
            if i < 4 {
                message.insert("seq", i as i64 + 1);
            }
            message
        })
        .collect();
    db.collection::<Document>("messages").insert_many(messages).await.unwrap();

    let options = MigrateOptions { dry_run: true, batch_size: 5 };
    let dry = store.migrate(options, &NoProgress).await.unwrap();
    assert_eq!((dry.message_seqs, dry.deleted_seqs, dry.chats), (8, 1, 1), "{dry}");

    let progress = Counted::default();
    let report = store.migrate(MigrateOptions { dry_run: false, batch_size: 5 }, &progress).await.unwrap();
    assert_eq!((report.message_seqs, report.deleted_seqs, report.chats, report.direct_keys), (8, 1, 1, 1), "{report}");
    assert_eq!(progress.done.load(Ordering::SeqCst), progress.total.load(Ordering::SeqCst));

    let stored: Vec<Document> = {
        let mut cursor =
            db.collection::<Document>("messages").find(doc! {}).sort(doc! { "createdAt": 1 }).await.unwrap();
        let mut all = Vec::new();
        while cursor.advance().await.unwrap() {
            all.push(cursor.deserialize_current().unwrap());
        }
        all
    };
    let seqs: Vec<i64> = stored.iter().map(|m| m.get_i64("seq").unwrap()).collect();
    assert_eq!(seqs, (1..=12).collect::<Vec<_>>(), "numbering continued after the prefix, in creation order");
    assert_eq!(stored[2].get_i64("deletedSeq").ok(), Some(13));
    let chat_doc = db.collection::<Document>("chats").find_one(doc! { "_id": chat }).await.unwrap().unwrap();
    assert_eq!(chat_doc.get_i64("lastSeq").ok(), Some(13));
    assert_eq!(chat_doc.get_object_id("lastMessageId").ok(), Some(ids[11]));

    let again = store.migrate(MigrateOptions::default(), &NoProgress).await.unwrap();
    assert_eq!(again.changes(), 0, "{again}");
}
