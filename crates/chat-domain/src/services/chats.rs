//! Chats: creation (1:1 chats exist once, bounded in size, new ones budgeted per creator),
//! listing by activity in pages, access by participants only.

use std::sync::Arc;

use super::membership::{Memberships, REMEMBERED_MEMBERSHIPS};
use super::receipts::{self, ChatSummary};
use super::{Ports, Services, ServicesConfig};
use crate::error::{Error, Result};
use crate::event::DomainEvent;
use crate::id::{ChatId, UserId};
use crate::model::{direct_key, Chat, ChatInserted, ChatView, MAX_PARTICIPANTS};
use crate::ports::{AttemptKey, AttemptLimiter, NoAttemptLimit};
use crate::security_log::{Incident, SecurityLog, Source};
use crate::text::ChatName;
use crate::time::id_seconds;

/// Default and bounds of a chat list page.
pub const DEFAULT_CHAT_PAGE: u32 = 100;
pub const MAX_CHAT_PAGE: u32 = 100;

#[derive(Clone)]
pub struct ChatService {
    pub(super) ports: Ports,
    config: Arc<ServicesConfig>,
    attempts: Arc<dyn AttemptLimiter>,
    security: SecurityLog,
    memberships: Arc<Memberships>,
}

impl Services {
    /// Counts chat creations with `limiter` under [`AttemptKey::ChatCreate`] (without one,
    /// nothing is counted). Separate from `with_attempt_limiter`, which feeds the accounts
    /// service; the app passes the same limiter to both.
    pub fn with_chat_limiter(mut self, limiter: Arc<dyn AttemptLimiter>) -> Self {
        self.chats.attempts = limiter;
        self
    }
}

impl ChatService {
    pub(super) fn new(ports: Ports, config: Arc<ServicesConfig>, security: SecurityLog) -> Self {
        Self {
            ports,
            config,
            attempts: Arc::new(NoAttemptLimit),
            security,
            memberships: Arc::new(Memberships::new(REMEMBERED_MEMBERSHIPS)),
        }
    }

    pub(super) fn security(&self) -> &SecurityLog {
        &self.security
    }

    /// Most participants a chat may have: the configured group size, never above the model's
    /// hard bound.
    pub(super) fn max_members(&self) -> usize {
        match self.config.max_group_size {
            0 => MAX_PARTICIPANTS,
            n => n.min(MAX_PARTICIPANTS),
        }
    }

    /// Creates a chat of the caller and `participants` (the caller is always one). Returns the
    /// chat and whether it is new: a 1:1 chat that exists already is returned as it is, and
    /// only a new chat is announced to its participants.
    pub async fn create(
        &self,
        caller: UserId,
        participants: &[UserId],
        name: Option<&str>,
    ) -> Result<(ChatSummary, bool)> {
        let name = match name {
            Some(raw) => ChatName::parse(raw)?,
            None => None,
        };
        let mut members = Vec::with_capacity(participants.len() + 1);
        members.push(caller);
        for p in participants {
            if !members.contains(p) {
                members.push(*p);
            }
        }
        if members.len() < 2 {
            return Err(Error::invalid("participants must name at least one other user"));
        }
        let max = self.max_members();
        if members.len() > max {
            return Err(Error::invalid(format!("a chat has at most {max} participants")));
        }
        let found = self.ports.users.users_by_ids(&members).await?;
        if found.len() != members.len() || !members.iter().all(|m| found.iter().any(|u| u.id == *m)) {
            return Err(Error::not_found("participant not found"));
        }
        // A 1:1 chat returned again is not a creation, so it must not spend the budget: look it
        // up before counting. Two racing first creations of one pair may both spend a unit;
        // the loser then gets the winner's chat from the insert below.
        if let Some(key) = direct_key(&members) {
            if let Some(existing) = self.ports.chats.direct_chat(&key).await? {
                return Ok((receipts::summarize_one(&self.ports, caller, existing).await?, false));
            }
        }
        if let Err(limited) = self.attempts.acquire(&AttemptKey::ChatCreate(caller)).await {
            self.security.record(Incident::UserLimited, Source::User(caller));
            return Err(Error::RateLimited { retry_after: limited.retry_after });
        }
        let now = self.ports.clock.now();
        let chat = Chat {
            id: ChatId::generate(id_seconds(now)),
            name,
            is_group: members.len() > 2,
            participants: members,
            created_by: caller,
            last_message_id: None,
            last_seq: 0,
            created_at: now,
            updated_at: now,
        };
        match self.ports.chats.insert_chat(&chat).await? {
            ChatInserted::Created(chat) => {
                self.ports.notifier.publish(DomainEvent::ChatCreated(chat.clone())).await;
                let view = ChatView { chat, last_message: None };
                Ok((receipts::summarize_one(&self.ports, caller, view).await?, true))
            }
            ChatInserted::ExistingDirect(existing) => {
                let view = self
                    .ports
                    .chats
                    .chat_by_id(existing.id)
                    .await?
                    .unwrap_or(ChatView { chat: existing, last_message: None });
                Ok((receipts::summarize_one(&self.ports, caller, view).await?, false))
            }
        }
    }

    /// A page of the caller's chats, most recently active first, each with its newest message:
    /// `limit` in 1..=[`MAX_CHAT_PAGE`] (default [`DEFAULT_CHAT_PAGE`]), and with `before`, the
    /// chats after that one. `Invalid` for a limit out of bounds and for a `before` that is not
    /// one of the caller's chats (a cursor the caller could not have been given).
    pub async fn list(&self, caller: UserId, limit: Option<i64>, before: Option<ChatId>) -> Result<Vec<ChatSummary>> {
        let limit = match limit {
            None => DEFAULT_CHAT_PAGE,
            Some(n) if (1..=i64::from(MAX_CHAT_PAGE)).contains(&n) => {
                u32::try_from(n).map_err(|_| Error::invalid("limit out of range"))?
            }
            Some(_) => return Err(Error::invalid(format!("limit must be between 1 and {MAX_CHAT_PAGE}"))),
        };
        let views = self
            .ports
            .chats
            .chats_of_user(caller, limit, before)
            .await?
            .ok_or_else(|| Error::invalid("before must be one of your chats"))?;
        receipts::summarize(&self.ports, caller, views).await
    }

    /// One chat, for its participants only.
    pub async fn get(&self, caller: UserId, chat: ChatId) -> Result<ChatSummary> {
        let view = self.ports.chats.chat_by_id(chat).await?.ok_or_else(|| Error::not_found("chat not found"))?;
        view.chat.ensure_participant(caller)?;
        receipts::summarize_one(&self.ports, caller, view).await
    }

    /// The chat, after checking that `caller` participates: `NotFound`, then `Forbidden`.
    /// Reads the chat without its newest message: this runs on every send.
    pub(super) async fn participant_chat(&self, caller: UserId, chat: ChatId) -> Result<Chat> {
        let chat = self.ports.chats.chat_alone(chat).await?.ok_or_else(|| Error::not_found("chat not found"))?;
        chat.ensure_participant(caller)?;
        Ok(chat)
    }

    /// Checks that the caller is a participant of `chat`, as [`Self::participant_chat`] does,
    /// without reading the chat when the caller was lately seen to be one (see
    /// [`Memberships`]). Only for a write that the store checks again: a send.
    pub(super) async fn ensure_sender(&self, caller: UserId, chat: ChatId) -> Result<()> {
        if self.memberships.knows(chat, caller) {
            return Ok(());
        }
        self.participant_chat(caller, chat).await?;
        self.memberships.remember(chat, caller);
        Ok(())
    }

    /// Forgets that `users` belong to `chat`: the store refused one of them, or they left.
    pub(super) fn forget_participants(&self, chat: ChatId, users: &[UserId]) {
        self.memberships.forget(chat, users);
    }
}

#[cfg(test)]
#[path = "chats_tests.rs"]
mod tests;
