//! Keeps a value (a temporary directory, a test database to drop) alive for exactly as long as
//! the repositories of a [`Stores`] are in use, by wrapping each repository.

use std::sync::Arc;

use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::model::{
    Appended, ChatInserted, ChatView, MessageDraft, MessagePage, MessageStatus, PageCursor, SoftDeleted,
};
use chat_domain::ports::{ChatRepository, InsertUserError, MessageRepository, UserRepository};
use chat_domain::{Chat, ChatEvent, ChatId, Email, Message, MessageId, Seq, Timestamp, User, UserId};

use crate::Stores;

type Guard = Arc<dyn std::any::Any + Send + Sync>;

/// A repository and the guard it keeps alive. The repository is declared first, so it is
/// dropped before the guard.
struct Guarded<R: ?Sized> {
    inner: Arc<R>,
    _guard: Guard,
}

impl Stores {
    /// The same repositories, keeping `guard` alive until all three are dropped (at the end of
    /// a case). Its `Drop` may clean up, e.g. remove a temporary directory.
    pub fn with_guard<G: Send + Sync + 'static>(self, guard: G) -> Self {
        let guard: Guard = Arc::new(guard);
        Self {
            users: Arc::new(Guarded { inner: self.users, _guard: guard.clone() }),
            chats: Arc::new(Guarded { inner: self.chats, _guard: guard.clone() }),
            messages: Arc::new(Guarded { inner: self.messages, _guard: guard }),
        }
    }
}

#[async_trait]
impl UserRepository for Guarded<dyn UserRepository> {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        self.inner.insert_user(user).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.user_by_id(id).await
    }
    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.inner.user_by_email(email).await
    }
    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        self.inner.users_by_ids(ids).await
    }
    async fn search_users(&self, needle: &str, exclude: UserId, limit: usize) -> Result<Vec<User>, StoreError> {
        self.inner.search_users(needle, exclude, limit).await
    }
}

#[async_trait]
impl ChatRepository for Guarded<dyn ChatRepository> {
    async fn insert_chat(&self, chat: &chat_domain::Chat) -> Result<ChatInserted, StoreError> {
        self.inner.insert_chat(chat).await
    }
    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        self.inner.chat_by_id(id).await
    }
    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        self.inner.chat_alone(id).await
    }
    async fn chats_of_user(&self, user: UserId) -> Result<Vec<ChatView>, StoreError> {
        self.inner.chats_of_user(user).await
    }
}

#[async_trait]
impl MessageRepository for Guarded<dyn MessageRepository> {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        self.inner.append_message(draft).await
    }
    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        self.inner.message_by_id(id).await
    }
    async fn message_by_client_id(
        &self,
        sender: UserId,
        client_id: &chat_domain::ClientId,
    ) -> Result<Option<Message>, StoreError> {
        self.inner.message_by_client_id(sender, client_id).await
    }
    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        self.inner.page_messages(chat, cursor, limit).await
    }
    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        self.inner.soft_delete_message(id, at).await
    }
    async fn advance_status(
        &self,
        id: MessageId,
        status: MessageStatus,
        at: Timestamp,
    ) -> Result<Option<Message>, StoreError> {
        self.inner.advance_status(id, status, at).await
    }
    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        self.inner.chat_events_since(chat, since, max).await
    }
}
