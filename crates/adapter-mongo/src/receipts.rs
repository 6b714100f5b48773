//! `ReceiptRepository` on the `receipts` collection: one document per (chat, user) that ever
//! moved a marker, updated with `$max` in one atomic upsert, so markers only move forward
//! whatever order two updates land in. Unread counts are computed from `messages` by the
//! `(chat, seq)` index, never kept as counters.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::ports::{MarkersMoved, ReceiptRepository};
use chat_domain::receipts::{Markers, Receipt};
use chat_domain::{ChatId, Id, Seq, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::{ClientSession, Collection, IndexModel};
use serde::{Deserialize, Serialize};

use crate::documents::{bson_seq, chat_oid, domain_seq, user_oid};
use crate::error::DriverResultExt;
use crate::store::MongoStore;

pub(crate) const RECEIPTS: &str = "receipts";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReceiptDoc {
    pub chat: ObjectId,
    pub user: ObjectId,
    #[serde(default)]
    pub delivered_seq: i64,
    #[serde(default)]
    pub read_seq: i64,
}

impl ReceiptDoc {
    fn markers(&self) -> Result<Markers, StoreError> {
        Ok(Markers { delivered_seq: domain_seq(self.delivered_seq)?, read_seq: domain_seq(self.read_seq)? })
    }
}

/// One document per (chat, user): the unique index makes two racing first receipts of a user
/// upsert one document (the loser of the race retries as an update), and finds a chat's
/// receipts.
pub(crate) fn receipt_indexes() -> Vec<IndexModel> {
    let options = mongodb::options::IndexOptions::builder().unique(true).build();
    vec![IndexModel::builder().keys(doc! { "chat": 1, "user": 1 }).options(options).build()]
}

impl MongoStore {
    fn receipts(&self) -> Collection<ReceiptDoc> {
        self.db.collection(RECEIPTS)
    }

    /// Moves a sender's markers to `seq` (each to the greater of it and the stored one) inside
    /// the append's transaction: one upsert, no read first.
    pub(crate) async fn advance_own_markers(
        &self,
        session: &mut ClientSession,
        chat: ObjectId,
        user: ObjectId,
        seq: i64,
    ) -> Result<(), mongodb::error::Error> {
        let update = doc! { "$max": { "deliveredSeq": seq, "readSeq": seq } };
        self.receipts()
            .update_one(doc! { "chat": chat, "user": user }, update)
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok(())
    }

    async fn upsert_markers(&self, filter: &Document, to: Markers) -> Result<Option<ReceiptDoc>, StoreError> {
        let update = doc! { "$max": {
            "deliveredSeq": bson_seq(to.delivered_seq)?,
            "readSeq": bson_seq(to.read_seq)?,
        } };
        self.receipts()
            .find_one_and_update(filter.clone(), update)
            .upsert(true)
            .return_document(ReturnDocument::Before)
            .await
            .store()
    }
}

#[async_trait]
impl ReceiptRepository for MongoStore {
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError> {
        let filter = doc! { "chat": chat_oid(chat), "user": user_oid(user) };
        let before = match self.upsert_markers(&filter, to).await {
            Ok(before) => before,
            // Two first receipts of one user raced to insert; the loser's upsert failed on the
            // unique index, and the document exists now: the retry is a plain update.
            Err(_) if self.receipts().find_one(filter.clone()).await.store()?.is_some() => {
                self.upsert_markers(&filter, to).await?
            }
            Err(err) => return Err(err),
        };
        let before = before.map(|d| d.markers()).transpose()?.unwrap_or_default();
        Ok(MarkersMoved { before, after: before.merged(to) })
    }

    /// One read of the room's receipt documents, then one `update_many` with `$max` for those
    /// below `seq`, and one unordered `insert_many` for users with no document yet (once per
    /// participant and chat in its lifetime). A first receipt that races another is retried as
    /// the single upsert. Two nodes flushing the same user both land as a `max`; both may
    /// report the move, which the receipt coalescing merges.
    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError> {
        let mut users = users.to_vec();
        users.sort_unstable();
        users.dedup();
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let chat_id = chat_oid(chat);
        let ids: Vec<ObjectId> = users.iter().map(|u| user_oid(*u)).collect();
        let stored: Vec<ReceiptDoc> = self
            .receipts()
            .find(doc! { "chat": chat_id, "user": { "$in": &ids } })
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        let mut before: HashMap<ObjectId, Markers> = HashMap::new();
        for d in &stored {
            before.insert(d.user, d.markers()?);
        }
        let to = Markers { delivered_seq: seq, read_seq: 0 };
        let mut moved = Vec::new();
        let (mut behind, mut missing) = (Vec::new(), Vec::new());
        for (&user, oid) in users.iter().zip(&ids) {
            match before.get(oid) {
                Some(m) if m.delivered_seq >= seq => {}
                Some(m) => {
                    behind.push(*oid);
                    moved.push(Receipt { user, markers: m.merged(to) });
                }
                None => missing.push(user),
            }
        }
        if !behind.is_empty() {
            let filter = doc! { "chat": chat_id, "user": { "$in": behind } };
            self.receipts().update_many(filter, doc! { "$max": { "deliveredSeq": bson_seq(seq)? } }).await.store()?;
        }
        if !missing.is_empty() {
            let docs: Vec<ReceiptDoc> = missing
                .iter()
                .map(|u| {
                    Ok(ReceiptDoc { chat: chat_id, user: user_oid(*u), delivered_seq: bson_seq(seq)?, read_seq: 0 })
                })
                .collect::<Result<_, StoreError>>()?;
            if self.receipts().insert_many(docs).ordered(false).await.is_err() {
                // Some first receipts raced another writer (or failed): each goes as the
                // single atomic upsert, which inserts or moves with `$max`.
                for &user in &missing {
                    let m = self.advance_markers(chat, user, to).await?;
                    moved.push(Receipt { user, markers: m.after });
                }
            } else {
                moved.extend(missing.iter().map(|&user| Receipt { user, markers: to }));
            }
        }
        Ok(moved)
    }

    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<ObjectId> = chats.iter().map(|c| chat_oid(*c)).collect();
        let stored: Vec<ReceiptDoc> =
            self.receipts().find(doc! { "chat": { "$in": ids } }).await.store()?.try_collect().await.store()?;
        stored
            .iter()
            .map(|d| {
                let receipt = Receipt { user: UserId(Id::from_bytes(d.user.bytes())), markers: d.markers()? };
                Ok((ChatId(Id::from_bytes(d.chat.bytes())), receipt))
            })
            .collect()
    }

    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError> {
        if chats.is_empty() {
            return Ok(Vec::new());
        }
        let me = user_oid(user);
        let ids: Vec<ObjectId> = chats.iter().map(|c| chat_oid(*c)).collect();
        let mine: Vec<ReceiptDoc> = self
            .receipts()
            .find(doc! { "user": me, "chat": { "$in": &ids } })
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        let read: HashMap<ObjectId, i64> = mine.iter().map(|d| (d.chat, d.read_seq)).collect();
        // One range of the (chat, seq) index per chat, counted by the server in one round trip.
        let ranges: Vec<Document> =
            ids.iter().map(|c| doc! { "chat": c, "seq": { "$gt": read.get(c).copied().unwrap_or(0) } }).collect();
        let pipeline = vec![
            doc! { "$match": { "$or": ranges, "sender": { "$ne": me }, "deletedSeq": { "$exists": false } } },
            doc! { "$group": { "_id": "$chat", "n": { "$sum": 1 } } },
        ];
        let mut counted: HashMap<ObjectId, u64> = HashMap::new();
        let mut cursor = self.messages.aggregate(pipeline).await.store()?;
        while let Some(row) = cursor.try_next().await.store()? {
            let (Ok(chat), Some(n)) = (row.get_object_id("_id"), row.get("n").and_then(number)) else {
                return Err(StoreError::other(format!("unexpected unread count row {row}")));
            };
            counted.insert(chat, n);
        }
        Ok(ids.iter().map(|c| counted.get(c).copied().unwrap_or(0)).collect())
    }
}

fn number(value: &mongodb::bson::Bson) -> Option<u64> {
    match value {
        mongodb::bson::Bson::Int32(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Int64(n) => u64::try_from(*n).ok(),
        mongodb::bson::Bson::Double(n) if *n >= 0.0 => Some(*n as u64),
        _ => None,
    }
}
