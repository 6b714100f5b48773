//! `ChatRepository` on the `chats` collection, with each chat's newest message from `messages`.

use std::collections::HashMap;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{Chat, ChatInserted, ChatView, Message};
use chat_domain::ports::ChatRepository;
use chat_domain::{ChatId, UserId};
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

    async fn chats_of_user(&self, user: UserId) -> Result<Vec<ChatView>, StoreError> {
        let docs: Vec<ChatDoc> = self
            .chats
            .find(doc! { "participants": user_oid(user) })
            .sort(doc! { "updatedAt": -1, "_id": -1 })
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        self.with_last_messages(docs).await
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
