//! Groups that change: rename, add, remove and leave. The rules are the chat's
//! ([`crate::group`]); here they are judged on the stored chat and applied with a
//! compare-and-set on its participants, again on a fresh read when another change won the race.

use super::receipts::{self, ChatSummary};
use super::ChatService;
use crate::error::{Error, Result};
use crate::event::DomainEvent;
use crate::group::{ChatChanged, ChatUpdate};
use crate::id::{ChatId, UserId};
use crate::model::{Chat, ChatView};

/// How many times a change is judged again after losing a race to another change of the same
/// chat; each loss means another change was written, so this bounds only pathological storms.
const MAX_CHANGE_ATTEMPTS: u32 = 8;

impl ChatService {
    /// Renames a group; any participant may.
    pub async fn rename(&self, caller: UserId, chat: ChatId, name: &str) -> Result<ChatSummary> {
        let at = self.ports.clock.now();
        self.change(caller, chat, |current| current.plan_rename(caller, name, at).map(Some)).await
    }

    /// Adds users to a group; any participant may, up to the group size. Users who are in the
    /// chat already are left out; when nobody is left, the chat is returned unchanged.
    pub async fn add_participants(&self, caller: UserId, chat: ChatId, users: &[UserId]) -> Result<ChatSummary> {
        if users.len() > self.max_members() {
            let max = self.max_members();
            return Err(Error::invalid(format!("a chat has at most {max} participants")));
        }
        let mut wanted: Vec<UserId> = Vec::with_capacity(users.len());
        for user in users {
            if !wanted.contains(user) {
                wanted.push(*user);
            }
        }
        let found = self.ports.users.users_by_ids(&wanted).await?;
        if !wanted.iter().all(|w| found.iter().any(|u| u.id == *w)) {
            return Err(Error::not_found("participant not found"));
        }
        let max = self.max_members();
        let at = self.ports.clock.now();
        self.change(caller, chat, |current| current.plan_add(caller, &wanted, max, at)).await
    }

    /// Takes `target` out of a group: the caller itself (leaving), or, for the chat's creator,
    /// anyone else (removing).
    pub async fn remove_participant(&self, caller: UserId, chat: ChatId, target: UserId) -> Result<()> {
        let at = self.ports.clock.now();
        self.change(caller, chat, |current| current.plan_remove(caller, target, at).map(Some)).await?;
        Ok(())
    }

    /// Reads the chat, plans the change on it (`None`: nothing to do), applies it if the
    /// participants did not change meanwhile (else judges again), and announces it.
    async fn change(
        &self,
        caller: UserId,
        chat: ChatId,
        plan: impl Fn(&Chat) -> Result<Option<ChatUpdate>>,
    ) -> Result<ChatSummary> {
        for _ in 0..MAX_CHANGE_ATTEMPTS {
            let current = self.participant_chat(caller, chat).await?;
            let Some(update) = plan(&current)? else {
                return self.get(caller, chat).await;
            };
            let change = update.change.clone();
            match self.ports.chats.change_chat(update).await? {
                ChatChanged::Changed { chat, seq } => {
                    self.forget_participants(chat.id, change.departed());
                    let view = match self.ports.chats.chat_by_id(chat.id).await? {
                        Some(view) => view,
                        None => ChatView { chat, last_message: None },
                    };
                    let joined = change.joined().to_vec();
                    self.ports.notifier.publish(DomainEvent::ChatUpdated { chat: view.clone(), change, seq }).await;
                    if !joined.is_empty() {
                        self.ports
                            .notifier
                            .publish(DomainEvent::AddedToChat { chat: view.clone(), users: joined })
                            .await;
                    }
                    return receipts::summarize_one(&self.ports, caller, view).await;
                }
                ChatChanged::Conflict => continue,
                ChatChanged::NotFound => return Err(Error::not_found("chat not found")),
            }
        }
        tracing::warn!(%chat, "a group change lost the race to other changes too many times");
        Err(Error::Unavailable)
    }
}
