//! Chats: creation (1:1 chats exist once), listing by activity, access by participants only.

use std::sync::Arc;

use super::{Ports, ServicesConfig};
use crate::error::{Error, Result};
use crate::event::DomainEvent;
use crate::id::{ChatId, UserId};
use crate::model::{Chat, ChatInserted, ChatView, MAX_PARTICIPANTS};
use crate::text::ChatName;
use crate::time::id_seconds;

#[derive(Clone)]
pub struct ChatService {
    ports: Ports,
    #[allow(dead_code)]
    config: Arc<ServicesConfig>,
}

impl ChatService {
    pub(super) fn new(ports: Ports, config: Arc<ServicesConfig>) -> Self {
        Self { ports, config }
    }

    /// Creates a chat of the caller and `participants` (the caller is always one). Returns the
    /// chat and whether it is new: a 1:1 chat that exists already is returned as it is, and
    /// only a new chat is announced to its participants.
    pub async fn create(
        &self,
        caller: UserId,
        participants: &[UserId],
        name: Option<&str>,
    ) -> Result<(ChatView, bool)> {
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
        if members.len() > MAX_PARTICIPANTS {
            return Err(Error::invalid(format!("a chat may have at most {MAX_PARTICIPANTS} participants")));
        }
        let found = self.ports.users.users_by_ids(&members).await?;
        if found.len() != members.len() || !members.iter().all(|m| found.iter().any(|u| u.id == *m)) {
            return Err(Error::not_found("participant not found"));
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
                Ok((ChatView { chat, last_message: None }, true))
            }
            ChatInserted::ExistingDirect(existing) => {
                let view = self
                    .ports
                    .chats
                    .chat_by_id(existing.id)
                    .await?
                    .unwrap_or(ChatView { chat: existing, last_message: None });
                Ok((view, false))
            }
        }
    }

    /// The caller's chats, most recently active first, each with its newest message.
    pub async fn list(&self, caller: UserId) -> Result<Vec<ChatView>> {
        Ok(self.ports.chats.chats_of_user(caller).await?)
    }

    /// One chat, for its participants only.
    pub async fn get(&self, caller: UserId, chat: ChatId) -> Result<ChatView> {
        let view = self.ports.chats.chat_by_id(chat).await?.ok_or_else(|| Error::not_found("chat not found"))?;
        view.chat.ensure_participant(caller)?;
        Ok(view)
    }

    /// The chat, after checking that `caller` participates: `NotFound`, then `Forbidden`.
    /// Reads the chat without its newest message: this runs on every send.
    pub(super) async fn participant_chat(&self, caller: UserId, chat: ChatId) -> Result<Chat> {
        let chat = self.ports.chats.chat_alone(chat).await?.ok_or_else(|| Error::not_found("chat not found"))?;
        chat.ensure_participant(caller)?;
        Ok(chat)
    }
}
