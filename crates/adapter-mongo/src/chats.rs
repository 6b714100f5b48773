//! `ChatRepository` on the `chats` collection, with each chat's newest message from `messages`.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{Chat, ChatInserted, ChatView, Message};
use chat_domain::ports::ChatRepository;
use chat_domain::{ChatChanged, ChatId, ChatUpdate, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;

use crate::documents::{chat_oid, user_oid, ChatDoc, MessageDoc};
use crate::error::{is_duplicate_key, DriverResultExt};
use crate::store::MongoStore;

#[async_trait]
impl ChatRepository for MongoStore {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        let doc = ChatDoc::new(chat)?;
        let key = doc.direct_key.clone();
        match self.chats.insert_one(doc).await {
            Ok(_) => Ok(ChatInserted::Created(chat.clone())),
            // The unique index on `directKey` lets exactly one of two racing inserts through;
            // the loser returns the winner's chat.
            Err(err) if is_duplicate_key(&err) => {
                let Some(key) = key else {
                    return Err(StoreError::other(err));
                };
                let existing = self.chats.find_one(doc! { "directKey": &key }).await.store()?;
                let existing =
                    existing.ok_or_else(|| StoreError::other(format!("duplicate direct chat {key} vanished")))?;
                Ok(ChatInserted::ExistingDirect(Chat::try_from(existing)?))
            }
            Err(err) => Err(crate::error::store_error(err)),
        }
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        let Some(doc) = self.chats.find_one(doc! { "_id": chat_oid(id) }).await.store()? else {
            return Ok(None);
        };
        Ok(self.with_last_messages(vec![doc]).await?.pop())
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        let found = self.chats.find_one(doc! { "_id": chat_oid(id) }).await.store()?;
        found.map(Chat::try_from).transpose()
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        let Some(doc) = self.chats.find_one(doc! { "directKey": key }).await.store()? else {
            return Ok(None);
        };
        Ok(self.with_last_messages(vec![doc]).await?.pop())
    }

    /// Served by the index `{participants: 1, updatedAt: -1, _id: -1}`: equality on the user,
    /// then a keyset range on (activity, id) in index order, so a page reads `limit` entries.
    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        let mut filter = doc! { "participants": user_oid(user) };
        if let Some(before) = before {
            // The projection leaves out fields a ChatDoc needs, so the key is read as a plain
            // document; the participant condition makes another user's chat not found.
            let raw = self
                .chats
                .clone_with_type::<mongodb::bson::Document>()
                .find_one(doc! { "_id": chat_oid(before), "participants": user_oid(user) })
                .projection(doc! { "updatedAt": 1 })
                .await
                .store()?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let updated_at = raw.get_datetime("updatedAt").map_err(StoreError::other)?;
            filter.insert(
                "$or",
                vec![
                    doc! { "updatedAt": { "$lt": updated_at } },
                    doc! { "updatedAt": updated_at, "_id": { "$lt": chat_oid(before) } },
                ],
            );
        }
        let docs: Vec<ChatDoc> = self
            .chats
            .find(filter)
            .sort(doc! { "updatedAt": -1, "_id": -1 })
            .limit(i64::from(limit))
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        self.with_last_messages(docs).await.map(Some)
    }

    async fn change_chat(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        self.change(update).await
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        // The user's chats through the `participants` index, only their member lists.
        let me = user_oid(user);
        let docs: Vec<mongodb::bson::Document> = self
            .chats
            .clone_with_type::<mongodb::bson::Document>()
            .find(doc! { "participants": me })
            .projection(doc! { "_id": 0, "participants": 1 })
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        let mut contacts: Vec<UserId> = docs
            .iter()
            .filter_map(|d| d.get_array("participants").ok())
            .flatten()
            .filter_map(|p| p.as_object_id())
            .filter(|p| *p != me)
            .map(|p| UserId(crate::documents::id(p)))
            .collect();
        contacts.sort_unstable();
        contacts.dedup();
        Ok(contacts)
    }
}

impl MongoStore {
    /// Pairs each chat with its newest message, fetched in one query for all of them, keeping
    /// the chats' order.
    async fn with_last_messages(&self, docs: Vec<ChatDoc>) -> Result<Vec<ChatView>, StoreError> {
        let wanted: Vec<ObjectId> = docs.iter().filter_map(|c| c.last_message_id).collect();
        let mut last: HashMap<ObjectId, MessageDoc> = HashMap::new();
        if !wanted.is_empty() {
            let found: Vec<MessageDoc> =
                self.messages.find(doc! { "_id": { "$in": wanted } }).await.store()?.try_collect().await.store()?;
            last.extend(found.into_iter().map(|m| (m.id, m)));
        }
        docs.into_iter()
            .map(|doc| {
                let last_message =
                    doc.last_message_id.and_then(|id| last.remove(&id)).map(Message::try_from).transpose()?;
                Ok(ChatView { chat: Chat::try_from(doc)?, last_message })
            })
            .collect()
    }
}
