//! Storage latency, the same for every store: each repository port is wrapped in a decorator
//! that times every call into `chat_storage_operation_duration_seconds{store, operation}`. The
//! histogram handles are registered once, when the store is wrapped, so a call costs two clock
//! reads and one lock-free record. Wrapping here rather than inside each store keeps the
//! stores free of metrics code and the labels identical for SQLite and MongoDB.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::ports::{
    ChatRepository, InsertUserError, MarkersMoved, MessageRepository, ReceiptRepository, UserRepository,
};
use chat_domain::receipts::{Markers, Receipt};
use chat_domain::{
    Appended, Chat, ChatEvent, ChatId, ChatInserted, ChatView, ClientId, Email, Message, MessageDraft, MessageId,
    MessagePage, PageCursor, PasswordHash, Seq, SoftDeleted, Timestamp, User, UserId,
};
use chat_domain::{ChatChanged, ChatUpdate, Edited, MessageText};
use metrics::Histogram;

/// The storage latency histogram.
pub(crate) const OPERATION_DURATION: &str = "chat_storage_operation_duration_seconds";

fn histogram(store: &'static str, operation: &'static str) -> Histogram {
    metrics::histogram!(OPERATION_DURATION, "store" => store, "operation" => operation)
}

async fn timed<T>(histogram: &Histogram, call: impl Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    histogram.record(started.elapsed().as_secs_f64());
    out
}

/// [`UserRepository`] with every call timed.
pub(crate) struct TimedUsers {
    inner: Arc<dyn UserRepository>,
    insert_user: Histogram,
    user_by_id: Histogram,
    user_by_email: Histogram,
    users_by_ids: Histogram,
    search_users: Histogram,
    token_version: Histogram,
    revoke_tokens: Histogram,
    replace_password_hash: Histogram,
    record_last_seen: Histogram,
    last_seen: Histogram,
}

impl TimedUsers {
    pub(crate) fn wrap(store: &'static str, inner: Arc<dyn UserRepository>) -> Arc<dyn UserRepository> {
        Arc::new(Self {
            inner,
            insert_user: histogram(store, "insert_user"),
            user_by_id: histogram(store, "user_by_id"),
            user_by_email: histogram(store, "user_by_email"),
            users_by_ids: histogram(store, "users_by_ids"),
            search_users: histogram(store, "search_users"),
            token_version: histogram(store, "token_version"),
            revoke_tokens: histogram(store, "revoke_tokens"),
            replace_password_hash: histogram(store, "replace_password_hash"),
            record_last_seen: histogram(store, "record_last_seen"),
            last_seen: histogram(store, "last_seen"),
        })
    }
}

#[async_trait]
impl UserRepository for TimedUsers {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        timed(&self.insert_user, self.inner.insert_user(user)).await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        timed(&self.user_by_id, self.inner.user_by_id(id)).await
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        timed(&self.user_by_email, self.inner.user_by_email(email)).await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        timed(&self.users_by_ids, self.inner.users_by_ids(ids)).await
    }

    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        timed(&self.search_users, self.inner.search_users(needle, exact_email, exclude, limit)).await
    }

    async fn token_version(&self, user: UserId) -> Result<Option<u64>, StoreError> {
        timed(&self.token_version, self.inner.token_version(user)).await
    }

    async fn revoke_tokens(&self, user: UserId) -> Result<Option<u64>, StoreError> {
        timed(&self.revoke_tokens, self.inner.revoke_tokens(user)).await
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError> {
        timed(&self.replace_password_hash, self.inner.replace_password_hash(id, current, new)).await
    }

    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        timed(&self.record_last_seen, self.inner.record_last_seen(user, at)).await
    }

    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        timed(&self.last_seen, self.inner.last_seen(users)).await
    }
}

/// [`ChatRepository`] with every call timed.
pub(crate) struct TimedChats {
    inner: Arc<dyn ChatRepository>,
    insert_chat: Histogram,
    chat_by_id: Histogram,
    chat_alone: Histogram,
    direct_chat: Histogram,
    chats_of_user: Histogram,
    change_chat: Histogram,
    contacts_of: Histogram,
}

impl TimedChats {
    pub(crate) fn wrap(store: &'static str, inner: Arc<dyn ChatRepository>) -> Arc<dyn ChatRepository> {
        Arc::new(Self {
            inner,
            insert_chat: histogram(store, "insert_chat"),
            chat_by_id: histogram(store, "chat_by_id"),
            chat_alone: histogram(store, "chat_alone"),
            direct_chat: histogram(store, "direct_chat"),
            chats_of_user: histogram(store, "chats_of_user"),
            change_chat: histogram(store, "change_chat"),
            contacts_of: histogram(store, "contacts_of"),
        })
    }
}

#[async_trait]
impl ChatRepository for TimedChats {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        timed(&self.insert_chat, self.inner.insert_chat(chat)).await
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        timed(&self.chat_by_id, self.inner.chat_by_id(id)).await
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        timed(&self.chat_alone, self.inner.chat_alone(id)).await
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        timed(&self.direct_chat, self.inner.direct_chat(key)).await
    }

    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        timed(&self.chats_of_user, self.inner.chats_of_user(user, limit, before)).await
    }

    async fn change_chat(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        timed(&self.change_chat, self.inner.change_chat(update)).await
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        timed(&self.contacts_of, self.inner.contacts_of(user)).await
    }
}

/// [`MessageRepository`] with every call timed.
pub(crate) struct TimedMessages {
    inner: Arc<dyn MessageRepository>,
    append_message: Histogram,
    message_by_id: Histogram,
    message_by_client_id: Histogram,
    page_messages: Histogram,
    soft_delete_message: Histogram,
    chat_events_since: Histogram,
    edit_message: Histogram,
}

impl TimedMessages {
    pub(crate) fn wrap(store: &'static str, inner: Arc<dyn MessageRepository>) -> Arc<dyn MessageRepository> {
        Arc::new(Self {
            inner,
            append_message: histogram(store, "append_message"),
            message_by_id: histogram(store, "message_by_id"),
            message_by_client_id: histogram(store, "message_by_client_id"),
            page_messages: histogram(store, "page_messages"),
            soft_delete_message: histogram(store, "soft_delete_message"),
            chat_events_since: histogram(store, "chat_events_since"),
            edit_message: histogram(store, "edit_message"),
        })
    }
}

#[async_trait]
impl MessageRepository for TimedMessages {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        timed(&self.append_message, self.inner.append_message(draft)).await
    }

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        timed(&self.message_by_id, self.inner.message_by_id(id)).await
    }

    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError> {
        timed(&self.message_by_client_id, self.inner.message_by_client_id(sender, client_id)).await
    }

    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        timed(&self.page_messages, self.inner.page_messages(chat, cursor, limit)).await
    }

    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        timed(&self.soft_delete_message, self.inner.soft_delete_message(id, at)).await
    }

    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        timed(&self.chat_events_since, self.inner.chat_events_since(chat, since, max)).await
    }

    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        timed(&self.edit_message, self.inner.edit_message(id, text, at)).await
    }
}

/// [`ReceiptRepository`] with every call timed.
pub(crate) struct TimedReceipts {
    inner: Arc<dyn ReceiptRepository>,
    advance_markers: Histogram,
    advance_delivered_many: Histogram,
    stored_receipts: Histogram,
    unread_counts: Histogram,
}

impl TimedReceipts {
    pub(crate) fn wrap(store: &'static str, inner: Arc<dyn ReceiptRepository>) -> Arc<dyn ReceiptRepository> {
        Arc::new(Self {
            inner,
            advance_markers: histogram(store, "advance_markers"),
            advance_delivered_many: histogram(store, "advance_delivered_many"),
            stored_receipts: histogram(store, "stored_receipts"),
            unread_counts: histogram(store, "unread_counts"),
        })
    }
}

#[async_trait]
impl ReceiptRepository for TimedReceipts {
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError> {
        timed(&self.advance_markers, self.inner.advance_markers(chat, user, to)).await
    }

    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError> {
        timed(&self.advance_delivered_many, self.inner.advance_delivered_many(chat, users, seq)).await
    }

    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError> {
        timed(&self.stored_receipts, self.inner.stored_receipts(chats)).await
    }

    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError> {
        timed(&self.unread_counts, self.inner.unread_counts(user, chats)).await
    }
}
