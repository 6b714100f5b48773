//! `MessageRepository` on the `messages` collection. Appends and soft deletes take the chat's
//! next `seq` inside a multi-document transaction, so the counter on the chat and the message
//! move together or not at all, on any number of nodes.

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::event::ChatEvent;
use chat_domain::model::{Appended, Edited, Members, Message, MessageDraft, MessagePage, PageCursor, Seq, SoftDeleted};
use chat_domain::ports::MessageRepository;
use chat_domain::{ChatId, ClientId, MessageId, MessageText, Timestamp, UserId};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

use crate::documents::{bson_seq, bson_time, chat_oid, domain_seq, id, message_oid, user_oid, ChatDoc, MessageDoc};
use crate::error::{is_duplicate_key, DriverResultExt};
use crate::store::MongoStore;
use crate::transaction::{transaction_error, Attempt, Ended, Retry};

/// What one append attempt found.
enum AppendOutcome {
    Created(Message, Members),
    Duplicate(Message),
    /// The sender is not a participant of the chat; nothing is written.
    NotParticipant,
    /// No such chat, or a stored document that does not translate; nothing is written.
    Failed(StoreError),
}

/// What one soft delete attempt found.
enum DeleteOutcome {
    Done(SoftDeleted),
    /// The message's chat is missing, or a stored document does not translate; nothing is
    /// written.
    Failed(StoreError),
}

/// Listed messages: not soft deleted. `$ne: true` also lists documents written without the
/// field.
fn listed(chat: ChatId) -> Document {
    doc! { "chat": chat_oid(chat), "isDeleted": { "$ne": true } }
}

#[async_trait]
impl MessageRepository for MongoStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        let mut retry = Retry::new();
        let mut raced_on_receipt = false;
        let outcome = loop {
            let mut session = self.begin().await?;
            let attempt = self.append_attempt(&mut session, &draft).await;
            match retry.finish(session, attempt).await {
                Ended::Done(outcome) => break outcome,
                Ended::Retry => continue,
                // Another append with the same (sender, clientId) committed after this
                // transaction's snapshot was taken; its message is the answer. Otherwise the
                // sender's first receipt of the chat was inserted meanwhile (by a receipt of
                // theirs): once more, and the upsert finds it.
                Ended::Failed(err) if is_duplicate_key(&err) => {
                    if let Some(existing) = self.by_client_id(&draft).await? {
                        return Ok(Appended::Duplicate(existing));
                    }
                    if std::mem::replace(&mut raced_on_receipt, true) {
                        return Err(StoreError::other(err));
                    }
                }
                Ended::Failed(err) => return Err(transaction_error(err)),
            }
        };
        match outcome {
            AppendOutcome::Created(message, members) => Ok(Appended::Created { message, members }),
            AppendOutcome::Duplicate(message) => Ok(Appended::Duplicate(message)),
            AppendOutcome::NotParticipant => Ok(Appended::NotParticipant),
            AppendOutcome::Failed(err) => Err(err),
        }
    }

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        let found = self.messages.find_one(doc! { "_id": message_oid(id) }).await.store()?;
        found.map(Message::try_from).transpose()
    }

    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError> {
        let found = self
            .messages
            .find_one(doc! { "sender": user_oid(sender), "clientId": client_id.as_str() })
            .await
            .store()?;
        found.map(Message::try_from).transpose()
    }

    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        let mut filter = listed(chat);
        let mut skip = 0;
        match cursor {
            // The server takes a signed 64-bit skip; no chat holds more messages than that.
            PageCursor::Skip(n) => skip = n.min(i64::MAX.unsigned_abs()),
            PageCursor::Before(id) => {
                let anchor =
                    self.messages.find_one(doc! { "_id": message_oid(id), "chat": chat_oid(chat) }).await.store()?;
                let Some(anchor) = anchor else {
                    return Ok(None);
                };
                filter.insert("seq", doc! { "$lt": anchor.seq });
            }
        }
        // One more than asked says whether older messages exist.
        let docs: Vec<MessageDoc> = self
            .messages
            .find(filter)
            .sort(doc! { "seq": -1 })
            .skip(skip)
            .limit(i64::from(limit) + 1)
            .await
            .store()?
            .try_collect()
            .await
            .store()?;
        let has_more = docs.len() > limit as usize;
        let mut messages =
            docs.into_iter().take(limit as usize).map(Message::try_from).collect::<Result<Vec<_>, _>>()?;
        messages.reverse();
        Ok(Some(MessagePage { messages, has_more }))
    }

    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        let mut retry = Retry::new();
        let outcome = loop {
            let mut session = self.begin().await?;
            let attempt = self.delete_attempt(&mut session, id, at).await;
            match retry.finish(session, attempt).await {
                Ended::Done(outcome) => break outcome,
                Ended::Retry => continue,
                Ended::Failed(err) => return Err(transaction_error(err)),
            }
        };
        match outcome {
            DeleteOutcome::Done(deleted) => Ok(deleted),
            DeleteOutcome::Failed(err) => Err(err),
        }
    }

    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        self.edit(id, text, at).await
    }

    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        // Creations, deletes and the log come from several queries; reading them from one
        // snapshot (a read-only transaction) keeps an event committed between them from being
        // half seen.
        let mut retry = Retry::new();
        loop {
            let mut session = self.begin().await?;
            let attempt = self.events_attempt(&mut session, chat, since, max).await;
            match retry.finish(session, attempt.map(Attempt::Commit)).await {
                Ended::Done(events) => return events,
                Ended::Retry => continue,
                Ended::Failed(err) => return Err(transaction_error(err)),
            }
        }
    }
}

impl MongoStore {
    async fn by_client_id(&self, draft: &MessageDraft) -> Result<Option<Message>, StoreError> {
        let Some(client_id) = &draft.client_id else {
            return Ok(None);
        };
        let found = self
            .messages
            .find_one(doc! { "sender": user_oid(draft.sender), "clientId": client_id.as_str() })
            .await
            .store()?;
        found.map(Message::try_from).transpose()
    }

    /// One attempt at an append, inside the session's transaction: the (sender, clientId)
    /// check, the chat's counter, the message, the chat's last message and activity time.
    async fn append_attempt(
        &self,
        session: &mut ClientSession,
        draft: &MessageDraft,
    ) -> Result<Attempt<AppendOutcome>, mongodb::error::Error> {
        if let Some(client_id) = &draft.client_id {
            let existing = self
                .messages
                .find_one(doc! { "sender": user_oid(draft.sender), "clientId": client_id.as_str() })
                .session(&mut *session)
                .await?;
            if let Some(existing) = existing {
                return Ok(Attempt::Abort(
                    Message::try_from(existing).map_or_else(AppendOutcome::Failed, AppendOutcome::Duplicate),
                ));
            }
        }
        // Taking the next seq writes the chat document, so two appends to one chat conflict
        // and one of them retries: no two messages of a chat share a seq. The filter on the
        // participants makes the sender's membership part of the same write (a removal
        // conflicts with it too), at no extra round trip.
        let chat = self
            .chats
            .find_one_and_update(
                doc! { "_id": chat_oid(draft.chat), "participants": user_oid(draft.sender) },
                doc! {
                    "$inc": { "lastSeq": 1_i64 },
                    "$set": { "lastMessageId": message_oid(draft.id), "updatedAt": bson_time(draft.created_at) },
                },
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(chat) = chat else {
            // Only on a refusal: tell a chat without the sender from no chat at all.
            let exists = self.chats.find_one(doc! { "_id": chat_oid(draft.chat) }).session(&mut *session).await?;
            return Ok(Attempt::Abort(match exists {
                Some(_) => AppendOutcome::NotParticipant,
                None => AppendOutcome::Failed(StoreError::other(format!("chat {} does not exist", draft.chat))),
            }));
        };
        let (seq, stored_seq) = match domain_seq(chat.last_seq).and_then(|seq| bson_seq(seq).map(|s| (seq, s))) {
            Ok(seq) => seq,
            Err(err) => return Ok(Attempt::Abort(AppendOutcome::Failed(err))),
        };
        let message = draft.clone().into_message(seq);
        let doc = match MessageDoc::new(&message) {
            Ok(doc) => doc,
            Err(err) => return Ok(Attempt::Abort(AppendOutcome::Failed(err))),
        };
        self.messages.insert_one(doc).session(&mut *session).await?;
        // One's own message is read: the sender's markers move in the same transaction.
        self.advance_own_markers(session, chat.id, user_oid(draft.sender), stored_seq).await?;
        Ok(Attempt::Commit(AppendOutcome::Created(message, members_of(&chat))))
    }

    /// One attempt at a soft delete, inside the session's transaction.
    async fn delete_attempt(
        &self,
        session: &mut ClientSession,
        id: MessageId,
        at: Timestamp,
    ) -> Result<Attempt<DeleteOutcome>, mongodb::error::Error> {
        let Some(doc) = self.messages.find_one(doc! { "_id": message_oid(id) }).session(&mut *session).await? else {
            return Ok(Attempt::Abort(DeleteOutcome::Done(SoftDeleted::NotFound)));
        };
        let mut message = match Message::try_from(doc) {
            Ok(message) => message,
            Err(err) => return Ok(Attempt::Abort(DeleteOutcome::Failed(err))),
        };
        if message.is_deleted() {
            return Ok(Attempt::Abort(DeleteOutcome::Done(SoftDeleted::AlreadyDeleted(message))));
        }
        let chat: Option<ChatDoc> = self
            .chats
            .find_one_and_update(doc! { "_id": chat_oid(message.chat) }, doc! { "$inc": { "lastSeq": 1_i64 } })
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?;
        let Some(chat) = chat else {
            let err = StoreError::other(format!("chat {} of message {id} does not exist", message.chat));
            return Ok(Attempt::Abort(DeleteOutcome::Failed(err)));
        };
        let seq = match domain_seq(chat.last_seq).and_then(|seq| bson_seq(seq).map(|stored| (seq, stored))) {
            Ok(seq) => seq,
            Err(err) => return Ok(Attempt::Abort(DeleteOutcome::Failed(err))),
        };
        let members = members_of(&chat);
        message.mark_deleted(seq.0, at);
        // The condition repeats the check above, so a concurrent delete that slipped past it
        // cannot be applied twice: it conflicts, and the retry sees it. The text is erased in
        // the same update, inside the transaction, because the contract keeps no deleted text;
        // chats hold only `lastMessageId`, so no copy of the text lives elsewhere.
        self.messages
            .update_one(
                doc! { "_id": message_oid(id), "deletedSeq": { "$exists": false } },
                doc! { "$set": {
                    "isDeleted": true,
                    "deletedSeq": seq.1,
                    "updatedAt": bson_time(at),
                    "text": message.text.as_str(),
                } },
            )
            .session(&mut *session)
            .await?;
        Ok(Attempt::Commit(DeleteOutcome::Done(SoftDeleted::Deleted { message, seq: seq.0, members })))
    }

    async fn events_attempt(
        &self,
        session: &mut ClientSession,
        chat: ChatId,
        since: Seq,
        max: usize,
    ) -> Result<Result<Vec<ChatEvent>, StoreError>, mongodb::error::Error> {
        let (since, limit) = match bson_seq(since) {
            Ok(since) => (since, i64::try_from(max).unwrap_or(i64::MAX)),
            // No stored seq is that high.
            Err(_) => return Ok(Ok(Vec::new())),
        };
        let mut created = self
            .messages
            .find(doc! { "chat": chat_oid(chat), "seq": { "$gt": since } })
            .sort(doc! { "seq": 1 })
            .limit(limit)
            .session(&mut *session)
            .await?;
        let created: Vec<MessageDoc> = created.stream(&mut *session).try_collect().await?;
        let mut deleted = self
            .messages
            .find(doc! { "chat": chat_oid(chat), "deletedSeq": { "$exists": true, "$gt": since } })
            .sort(doc! { "deletedSeq": 1 })
            .limit(limit)
            .session(&mut *session)
            .await?;
        let deleted: Vec<MessageDoc> = deleted.stream(&mut *session).try_collect().await?;
        let logged = match self.logged_events(session, chat, since, limit).await? {
            Ok(logged) => logged,
            Err(err) => return Ok(Err(err)),
        };
        Ok(merge_events(chat, created, deleted, logged, max))
    }
}

/// The members of an event of `chat` as the transaction that took its seq read the chat: a
/// group's participants, `None` for a 1:1 chat.
pub(crate) fn members_of(chat: &ChatDoc) -> Members {
    chat.is_group.then(|| chat.participants.iter().map(|p| UserId(id(*p))).collect())
}

/// The lists in `seq` order, merged, the first `max` kept.
fn merge_events(
    chat: ChatId,
    created: Vec<MessageDoc>,
    deleted: Vec<MessageDoc>,
    logged: Vec<ChatEvent>,
    max: usize,
) -> Result<Vec<ChatEvent>, StoreError> {
    let mut events = Vec::with_capacity(created.len() + deleted.len() + logged.len());
    events.extend(logged);
    for doc in created {
        events.push(ChatEvent::MessageCreated(Message::try_from(doc)?));
    }
    for doc in deleted {
        let message = Message::try_from(doc)?;
        if let Some(seq) = message.deleted_seq {
            events.push(ChatEvent::MessageDeleted { chat, message: message.id, seq });
        }
    }
    events.sort_by_key(ChatEvent::seq);
    events.truncate(max);
    Ok(events)
}
