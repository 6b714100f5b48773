//! An in-memory store implementing every repository port, for unit tests of the services and
//! of adapters; the storage contract suite also runs against it to check the suite itself.

use std::sync::Mutex;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::event::ChatEvent;
use crate::group::{ChatChange, ChatChanged, ChatUpdate};
use crate::id::{ChatId, MessageId, UserId};
use crate::model::*;
use crate::ports::{
    ChatRepository, InsertUserError, MarkersMoved, MessageRepository, ReceiptRepository, UserRepository,
};
use crate::receipts::{Markers, Receipt};
use crate::text::{ClientId, Email, MessageText};
use crate::time::Timestamp;

#[derive(Default)]
struct State {
    users: Vec<User>,
    /// Token versions of users whose version is not 0.
    token_versions: Vec<(UserId, u64)>,
    chats: Vec<Chat>,
    messages: Vec<Message>,
    /// The chats' event log: edits and changes, with their chat and `seq`.
    log: Vec<(ChatId, Seq, Logged)>,
    /// Receipt markers by (chat, user); absent means `0, 0`.
    markers: std::collections::HashMap<(ChatId, UserId), crate::receipts::Markers>,
    /// `lastSeenAt` of the users that have one.
    last_seen: std::collections::HashMap<UserId, Timestamp>,
}

enum Logged {
    Edit(MessageId),
    Change(ChatChange),
}

/// Every repository in one `Mutex`: each call is atomic.
#[derive(Default)]
pub struct InMemoryStore {
    state: Mutex<State>,
}

impl InMemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock can only come from a bug in this fake; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn version_of(&self, id: UserId) -> u64 {
        self.token_versions.iter().find(|(user, _)| *user == id).map_or(0, |(_, v)| *v)
    }

    fn view(&self, chat: &Chat) -> ChatView {
        let last_message = chat.last_message_id.and_then(|id| self.messages.iter().find(|m| m.id == id).cloned());
        ChatView { chat: chat.clone(), last_message }
    }
}

#[async_trait]
impl UserRepository for InMemoryStore {
    async fn insert_user(&self, user: &User) -> Result<(), InsertUserError> {
        let mut s = self.lock();
        if s.users.iter().any(|u| u.email == user.email) {
            return Err(InsertUserError::EmailTaken);
        }
        s.users.push(user.clone());
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.iter().find(|u| u.id == id).cloned())
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.iter().find(|u| &u.email == email).cloned())
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<User>, StoreError> {
        Ok(self.lock().users.iter().filter(|u| ids.contains(&u.id)).cloned().collect())
    }

    async fn search_users<'a>(
        &self,
        needle: &str,
        exact_email: Option<&'a Email>,
        exclude: UserId,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let needle = needle.to_ascii_lowercase();
        let mut found: Vec<User> = self
            .lock()
            .users
            .iter()
            .filter(|u| u.id != exclude)
            .filter(|u| u.username.as_str().to_ascii_lowercase().contains(&needle) || Some(&u.email) == exact_email)
            .cloned()
            .collect();
        found.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()).then(a.id.cmp(&b.id)));
        found.truncate(limit);
        Ok(found)
    }

    async fn token_version(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        let s = self.lock();
        Ok(s.users.iter().any(|u| u.id == id).then(|| s.version_of(id)))
    }

    async fn revoke_tokens(&self, id: UserId) -> Result<Option<u64>, StoreError> {
        let mut s = self.lock();
        if !s.users.iter().any(|u| u.id == id) {
            return Ok(None);
        }
        let next = s.version_of(id) + 1;
        s.token_versions.retain(|(user, _)| *user != id);
        s.token_versions.push((id, next));
        Ok(Some(next))
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &PasswordHash,
        new: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let mut s = self.lock();
        match s.users.iter_mut().find(|u| u.id == id && &u.password_hash == current) {
            Some(user) => {
                user.password_hash = new.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn record_last_seen(&self, user: UserId, at: Timestamp) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.users.iter().any(|u| u.id == user) {
            let stored = s.last_seen.entry(user).or_insert(at);
            *stored = (*stored).max(at);
        }
        Ok(())
    }

    async fn last_seen(&self, users: &[UserId]) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        let s = self.lock();
        let mut found: Vec<(UserId, Timestamp)> =
            users.iter().filter_map(|u| s.last_seen.get(u).map(|at| (*u, *at))).collect();
        found.sort_unstable();
        found.dedup();
        Ok(found)
    }
}

#[async_trait]
impl ChatRepository for InMemoryStore {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        let mut s = self.lock();
        if let Some(key) = chat.direct_key() {
            if let Some(existing) = s.chats.iter().find(|c| c.direct_key().as_ref() == Some(&key)) {
                return Ok(ChatInserted::ExistingDirect(existing.clone()));
            }
        }
        s.chats.push(chat.clone());
        Ok(ChatInserted::Created(chat.clone()))
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        let s = self.lock();
        Ok(s.chats.iter().find(|c| c.id == id).map(|c| s.view(c)))
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        Ok(self.lock().chats.iter().find(|c| c.id == id).cloned())
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        let s = self.lock();
        Ok(s.chats.iter().find(|c| c.direct_key().as_deref() == Some(key)).map(|c| s.view(c)))
    }

    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        let s = self.lock();
        let cursor = match before {
            None => None,
            Some(id) => match s.chats.iter().find(|c| c.id == id && c.is_participant(user)) {
                Some(chat) => Some((chat.updated_at, chat.id)),
                None => return Ok(None),
            },
        };
        let mut chats: Vec<&Chat> = s
            .chats
            .iter()
            .filter(|c| c.is_participant(user))
            .filter(|c| cursor.is_none_or(|key| (c.updated_at, c.id) < key))
            .collect();
        chats.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(Some(chats.into_iter().take(limit).map(|c| s.view(c)).collect()))
    }

    async fn change_chat(&self, update: ChatUpdate) -> Result<ChatChanged, StoreError> {
        let mut s = self.lock();
        let Some(chat) = s.chats.iter_mut().find(|c| c.id == update.chat) else {
            return Ok(ChatChanged::NotFound);
        };
        if chat.participants != update.expected {
            return Ok(ChatChanged::Conflict);
        }
        chat.last_seq += 1;
        chat.name = update.name;
        chat.participants = update.participants;
        chat.updated_at = update.change.at;
        let (chat, seq) = (chat.clone(), chat.last_seq);
        s.log.push((chat.id, seq, Logged::Change(update.change)));
        Ok(ChatChanged::Changed { chat, seq })
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        let s = self.lock();
        let mut contacts: Vec<UserId> = s
            .chats
            .iter()
            .filter(|c| c.is_participant(user))
            .flat_map(|c| c.participants.iter().copied())
            .filter(|p| *p != user)
            .collect();
        contacts.sort_unstable();
        contacts.dedup();
        Ok(contacts)
    }
}

#[async_trait]
impl MessageRepository for InMemoryStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        let mut s = self.lock();
        if let Some(cid) = &draft.client_id {
            if let Some(m) = s.messages.iter().find(|m| m.sender == draft.sender && m.client_id.as_ref() == Some(cid)) {
                return Ok(Appended::Duplicate(m.clone()));
            }
        }
        let chat = s.chats.iter_mut().find(|c| c.id == draft.chat).ok_or_else(|| StoreError::other("no such chat"))?;
        if !chat.is_participant(draft.sender) {
            return Ok(Appended::NotParticipant);
        }
        chat.last_seq += 1;
        chat.last_message_id = Some(draft.id);
        chat.updated_at = draft.created_at;
        let members = chat.members();
        let message = draft.into_message(chat.last_seq);
        let stored = s.markers.entry((message.chat, message.sender)).or_default();
        *stored = stored.merged(Markers::both(message.seq));
        s.messages.push(message.clone());
        Ok(Appended::Created { message, members })
    }

    async fn message_by_id(&self, id: MessageId) -> Result<Option<Message>, StoreError> {
        Ok(self.lock().messages.iter().find(|m| m.id == id).cloned())
    }

    async fn message_by_client_id(&self, sender: UserId, client_id: &ClientId) -> Result<Option<Message>, StoreError> {
        Ok(self.lock().messages.iter().find(|m| m.sender == sender && m.client_id.as_ref() == Some(client_id)).cloned())
    }

    async fn page_messages(
        &self,
        chat: ChatId,
        cursor: PageCursor,
        limit: u32,
    ) -> Result<Option<MessagePage>, StoreError> {
        let s = self.lock();
        let mut listed: Vec<&Message> = s.messages.iter().filter(|m| m.chat == chat && !m.is_deleted()).collect();
        listed.sort_by_key(|m| std::cmp::Reverse(m.seq));
        let skip = match cursor {
            PageCursor::Skip(n) => usize::try_from(n).unwrap_or(usize::MAX),
            PageCursor::Before(id) => {
                let Some(anchor) = s.messages.iter().find(|m| m.id == id && m.chat == chat) else {
                    return Ok(None);
                };
                listed.iter().take_while(|m| m.seq >= anchor.seq).count()
            }
        };
        let rest: Vec<&Message> = listed.into_iter().skip(skip).collect();
        let limit = limit as usize;
        let has_more = rest.len() > limit;
        let mut messages: Vec<Message> = rest.into_iter().take(limit).cloned().collect();
        messages.reverse();
        Ok(Some(MessagePage { messages, has_more }))
    }

    async fn soft_delete_message(&self, id: MessageId, at: Timestamp) -> Result<SoftDeleted, StoreError> {
        let mut s = self.lock();
        let Some(index) = s.messages.iter().position(|m| m.id == id) else {
            return Ok(SoftDeleted::NotFound);
        };
        if s.messages[index].is_deleted() {
            return Ok(SoftDeleted::AlreadyDeleted(s.messages[index].clone()));
        }
        let chat_id = s.messages[index].chat;
        let chat = s.chats.iter_mut().find(|c| c.id == chat_id).ok_or_else(|| StoreError::other("no such chat"))?;
        chat.last_seq += 1;
        let (seq, members) = (chat.last_seq, chat.members());
        let message = &mut s.messages[index];
        message.mark_deleted(seq, at);
        Ok(SoftDeleted::Deleted { message: message.clone(), seq, members })
    }

    async fn edit_message(&self, id: MessageId, text: MessageText, at: Timestamp) -> Result<Edited, StoreError> {
        let mut s = self.lock();
        let Some(index) = s.messages.iter().position(|m| m.id == id) else {
            return Ok(Edited::NotFound);
        };
        if s.messages[index].is_deleted() {
            return Ok(Edited::Deleted(s.messages[index].clone()));
        }
        let chat_id = s.messages[index].chat;
        let sender = s.messages[index].sender;
        let chat = s.chats.iter_mut().find(|c| c.id == chat_id).ok_or_else(|| StoreError::other("no such chat"))?;
        if !chat.is_participant(sender) {
            return Ok(Edited::NotParticipant);
        }
        chat.last_seq += 1;
        let (seq, members) = (chat.last_seq, chat.members());
        let message = &mut s.messages[index];
        message.mark_edited(text, at);
        let message = message.clone();
        s.log.push((chat_id, seq, Logged::Edit(id)));
        Ok(Edited::Edited { message, seq, members })
    }

    async fn chat_events_since(&self, chat: ChatId, since: Seq, max: usize) -> Result<Vec<ChatEvent>, StoreError> {
        let s = self.lock();
        let mut events = Vec::new();
        for (_, seq, logged) in s.log.iter().filter(|(c, seq, _)| *c == chat && *seq > since) {
            match logged {
                Logged::Edit(id) => {
                    if let Some(m) = s.messages.iter().find(|m| m.id == *id) {
                        events.push(ChatEvent::MessageUpdated { message: m.clone(), seq: *seq });
                    }
                }
                Logged::Change(change) => {
                    events.push(ChatEvent::ChatUpdated { chat: None, change: change.clone(), seq: *seq });
                }
            }
        }
        for m in s.messages.iter().filter(|m| m.chat == chat) {
            if m.seq > since {
                events.push(ChatEvent::MessageCreated(m.clone()));
            }
            if let Some(d) = m.deleted_seq.filter(|d| *d > since) {
                events.push(ChatEvent::MessageDeleted { chat, message: m.id, seq: d });
            }
        }
        events.sort_by_key(ChatEvent::seq);
        events.truncate(max);
        Ok(events)
    }
}

#[async_trait]
impl ReceiptRepository for InMemoryStore {
    async fn advance_markers(&self, chat: ChatId, user: UserId, to: Markers) -> Result<MarkersMoved, StoreError> {
        let mut s = self.lock();
        let stored = s.markers.entry((chat, user)).or_default();
        let before = *stored;
        *stored = before.merged(to);
        Ok(MarkersMoved { before, after: *stored })
    }

    async fn advance_delivered_many(
        &self,
        chat: ChatId,
        users: &[UserId],
        seq: Seq,
    ) -> Result<Vec<Receipt>, StoreError> {
        let mut s = self.lock();
        let mut moved = Vec::new();
        for &user in users {
            let stored = s.markers.entry((chat, user)).or_default();
            if stored.delivered_seq < seq {
                stored.delivered_seq = seq;
                moved.push(Receipt { user, markers: *stored });
            }
        }
        Ok(moved)
    }

    async fn stored_receipts(&self, chats: &[ChatId]) -> Result<Vec<(ChatId, Receipt)>, StoreError> {
        let s = self.lock();
        Ok(s.markers
            .iter()
            .filter(|((chat, _), _)| chats.contains(chat))
            .map(|(&(chat, user), &markers)| (chat, Receipt { user, markers }))
            .collect())
    }

    async fn unread_counts(&self, user: UserId, chats: &[ChatId]) -> Result<Vec<u64>, StoreError> {
        let s = self.lock();
        Ok(chats
            .iter()
            .map(|&chat| {
                let read = s.markers.get(&(chat, user)).map_or(0, |m| m.read_seq);
                s.messages
                    .iter()
                    .filter(|m| m.chat == chat && m.sender != user && !m.is_deleted() && m.seq > read)
                    .count() as u64
            })
            .collect())
    }
}
