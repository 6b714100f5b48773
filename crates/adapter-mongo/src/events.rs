//! Each chat's event log on the `chatevents` collection: edits and group changes, each written
//! in one multi-document transaction with what it records and the chat's next `seq`; and the
//! log's part of catch-up.

use std::collections::HashMap;

use chat_domain::error::StoreError;
use chat_domain::model::{Chat, Edited, Message};
use chat_domain::{
    ChangeKind, ChatChange, ChatChanged, ChatEvent, ChatId, ChatUpdate, MessageId, MessageText, Timestamp, UserId,
};
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use mongodb::bson::oid::ObjectId;
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

use crate::documents::{
    bson_time, chat_oid, domain_seq, domain_time, id, message_oid, user_oid, ChatDoc, ChatEventDoc, MessageDoc,
};
use crate::store::MongoStore;
use crate::transaction::{transaction_error, Attempt, Ended, Retry};

/// What one attempt found when the answer is decided without a driver error.
type Outcome<T> = Result<T, StoreError>;

fn abort<T>(err: StoreError) -> Result<Attempt<Outcome<T>>, mongodb::error::Error> {
    Ok(Attempt::Abort(Err(err)))
}

impl MongoStore {
    pub(crate) async fn edit(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        let mut retry = Retry::new();
        loop {
            let mut session = self.begin().await?;
            let attempt = self.edit_attempt(&mut session, id, &text, at).await;
            match retry.finish(session, attempt).await {
                Ended::Done(outcome) => return outcome,
                Ended::Retry => continue,
                Ended::Failed(err) => return Err(transaction_error(err)),
            }
        }
    }

    /// One attempt at an edit: the message, the chat's counter, the log entry.
    async fn edit_attempt(
        &self,
        session: &mut ClientSession,
        id: MessageId,
        text: &MessageText,
        at: Timestamp,
    ) -> Result<Attempt<Outcome<Edited>>, mongodb::error::Error> {
        let Some(doc) = self.messages.find_one(doc! { "_id": message_oid(id) }).session(&mut *session).await? else {
            return Ok(Attempt::Abort(Ok(Edited::NotFound)));
        };
        let mut message = match Message::try_from(doc) {
            Ok(message) => message,
            Err(err) => return abort(err),
        };
        if message.is_deleted() {
            return Ok(Attempt::Abort(Ok(Edited::Deleted(message))));
        }
        // Taking the next seq writes the chat document: concurrent writers of the chat conflict.
        // Only a sender still in the chat edits: the filter makes that part of the same write.
        let chat: Option<ChatDoc> = self
            .chats
            .find_one_and_update(
                doc! { "_id": chat_oid(message.chat), "participants": user_oid(message.sender) },
                doc! { "$inc": { "lastSeq": 1_i64 } },
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(chat) = chat else {
            // Only on a refusal: tell a chat without the sender from no chat at all.
            if self.chats.find_one(doc! { "_id": chat_oid(message.chat) }).session(&mut *session).await?.is_some() {
                return Ok(Attempt::Abort(Ok(Edited::NotParticipant)));
            }
            return abort(StoreError::other(format!("chat {} of message {id} does not exist", message.chat)));
        };
        let seq = match domain_seq(chat.last_seq) {
            Ok(seq) => seq,
            Err(err) => return abort(err),
        };
        message.mark_edited(text.clone(), at);
        // The condition repeats the delete check: a delete that slipped in conflicts instead.
        self.messages
            .update_one(
                doc! { "_id": message_oid(id), "deletedSeq": { "$exists": false } },
                doc! { "$set": { "text": message.text.as_str(), "editedAt": bson_time(at), "updatedAt": bson_time(at) } },
            )
            .session(&mut *session)
            .await?;
        let entry = ChatEventDoc {
            id: ObjectId::new(),
            chat: chat.id,
            seq: chat.last_seq,
            kind: "edited".to_owned(),
            message: Some(message_oid(id)),
            user_ids: Vec::new(),
            by: Some(user_oid(message.sender)),
            at: bson_time(at),
        };
        self.events.insert_one(entry).session(&mut *session).await?;
        let members = crate::messages::members_of(&chat);
        Ok(Attempt::Commit(Ok(Edited::Edited { message, seq, members })))
    }

    pub(crate) async fn change(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        let mut retry = Retry::new();
        loop {
            let mut session = self.begin().await?;
            let attempt = self.change_attempt(&mut session, &update).await;
            match retry.finish(session, attempt).await {
                Ended::Done(outcome) => return outcome,
                Ended::Retry => continue,
                Ended::Failed(err) => return Err(transaction_error(err)),
            }
        }
    }

    /// One attempt at a change: the participant check, the chat (counter, name, members,
    /// activity) and the log entry, in one transaction.
    async fn change_attempt(
        &self,
        session: &mut ClientSession,
        update: &ChatUpdate,
    ) -> Result<Attempt<Outcome<ChatChanged>>, mongodb::error::Error> {
        let expected: Vec<ObjectId> = update.expected.iter().map(|u| user_oid(*u)).collect();
        let participants: Vec<ObjectId> = update.participants.iter().map(|u| user_oid(*u)).collect();
        let Some(current) = self.chats.find_one(doc! { "_id": chat_oid(update.chat) }).session(&mut *session).await?
        else {
            return Ok(Attempt::Abort(Ok(ChatChanged::NotFound)));
        };
        if current.participants != expected {
            return Ok(Attempt::Abort(Ok(ChatChanged::Conflict)));
        }
        let at = bson_time(update.change.at);
        let name = update.name.as_ref().map(|n| n.as_str().to_owned());
        // The filter repeats the check, so a change committed since the read conflicts.
        let chat: Option<ChatDoc> = self
            .chats
            .find_one_and_update(
                doc! { "_id": chat_oid(update.chat), "participants": &expected },
                doc! {
                    "$inc": { "lastSeq": 1_i64 },
                    "$set": { "name": name, "participants": &participants, "updatedAt": at },
                },
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(chat) = chat else {
            return Ok(Attempt::Abort(Ok(ChatChanged::Conflict)));
        };
        let entry = ChatEventDoc {
            id: ObjectId::new(),
            chat: chat.id,
            seq: chat.last_seq,
            kind: update.change.kind.as_str().to_owned(),
            message: None,
            user_ids: update.change.users.iter().map(|u| user_oid(*u)).collect(),
            by: Some(user_oid(update.change.by)),
            at,
        };
        self.events.insert_one(entry).session(&mut *session).await?;
        let chat = match Chat::try_from(chat) {
            Ok(chat) => chat,
            Err(err) => return abort(err),
        };
        let seq = chat.last_seq;
        Ok(Attempt::Commit(Ok(ChatChanged::Changed { chat, seq })))
    }

    /// The log's events of `chat` after `since`, at most `limit`, inside the caller's snapshot:
    /// edits with their message as it is now, changes as recorded.
    pub(crate) async fn logged_events(
        &self,
        session: &mut ClientSession,
        chat: ChatId,
        since: i64,
        limit: i64,
    ) -> Result<Outcome<Vec<ChatEvent>>, mongodb::error::Error> {
        let mut cursor = self
            .events
            .find(doc! { "chat": chat_oid(chat), "seq": { "$gt": since } })
            .sort(doc! { "seq": 1 })
            .limit(limit)
            .session(&mut *session)
            .await?;
        let entries: Vec<ChatEventDoc> = cursor.stream(&mut *session).try_collect().await?;
        let edited: Vec<ObjectId> = entries.iter().filter_map(|e| e.message).collect();
        let mut messages: HashMap<ObjectId, MessageDoc> = HashMap::new();
        if !edited.is_empty() {
            let mut found = self.messages.find(doc! { "_id": { "$in": edited } }).session(&mut *session).await?;
            let found: Vec<MessageDoc> = found.stream(&mut *session).try_collect().await?;
            messages.extend(found.into_iter().map(|m| (m.id, m)));
        }
        Ok(entries.into_iter().map(|entry| logged_event(entry, &messages)).collect())
    }
}

fn logged_event(entry: ChatEventDoc, messages: &HashMap<ObjectId, MessageDoc>) -> Result<ChatEvent, StoreError> {
    let seq = domain_seq(entry.seq)?;
    if entry.kind == "edited" {
        let message = entry
            .message
            .and_then(|m| messages.get(&m).cloned())
            .ok_or_else(|| StoreError::other(format!("the edit at seq {seq} names no stored message")))?;
        return Ok(ChatEvent::MessageUpdated { message: Message::try_from(message)?, seq });
    }
    let kind = ChangeKind::parse(&entry.kind)
        .ok_or_else(|| StoreError::other(format!("stored chat event type {:?} is unknown", entry.kind)))?;
    let by = entry.by.ok_or_else(|| StoreError::other(format!("the change at seq {seq} names nobody")))?;
    let change = ChatChange {
        kind,
        users: entry.user_ids.into_iter().map(|u| UserId(id(u))).collect(),
        by: UserId(id(by)),
        at: domain_time(entry.at)?,
    };
    Ok(ChatEvent::ChatUpdated { chat: None, change, seq })
}
