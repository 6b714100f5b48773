//! Groups that change: rename, add, remove and leave, as rules on a [`Chat`], and what a store
//! applies for each ([`ChatUpdate`]). Every change, like a message, takes the chat's next `seq`.
//! Also the rule of who sees which persisted event: membership at the time of the event.

use crate::error::Error;
use crate::event::ChatEvent;
use crate::id::UserId;
use crate::model::{Chat, Seq};
use crate::text::ChatName;
use crate::time::Timestamp;

/// What happened to a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A participant gave the group a new name.
    Renamed,
    /// A participant added users.
    Added,
    /// The creator removed another participant.
    Removed,
    /// A participant left.
    Left,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Renamed => "renamed",
            Self::Added => "added",
            Self::Removed => "removed",
            Self::Left => "left",
        }
    }

    /// For stores reading back what they wrote; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "renamed" => Some(Self::Renamed),
            "added" => Some(Self::Added),
            "removed" => Some(Self::Removed),
            "left" => Some(Self::Left),
            _ => None,
        }
    }
}

/// One change of a group, as its event says it: who did what to whom, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatChange {
    pub kind: ChangeKind,
    /// The users added, removed or leaving; empty for a rename.
    pub users: Vec<UserId>,
    /// Who made the change.
    pub by: UserId,
    pub at: Timestamp,
}

impl ChatChange {
    /// The users this change takes out of the chat (removed, or leaving).
    pub fn departed(&self) -> &[UserId] {
        match self.kind {
            ChangeKind::Removed | ChangeKind::Left => &self.users,
            ChangeKind::Renamed | ChangeKind::Added => &[],
        }
    }

    /// The users this change brings into the chat.
    pub fn joined(&self) -> &[UserId] {
        match self.kind {
            ChangeKind::Added => &self.users,
            ChangeKind::Renamed | ChangeKind::Removed | ChangeKind::Left => &[],
        }
    }
}

/// A change a store applies to a chat, atomically and only if the chat's participants are
/// still `expected` (what the rules were judged on): the chat takes its next `seq`, its name
/// and participants become these, `updated_at` becomes `change.at`, and the change is kept in
/// the chat's event log at that `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatUpdate {
    pub chat: crate::id::ChatId,
    pub expected: Vec<UserId>,
    pub name: Option<ChatName>,
    pub participants: Vec<UserId>,
    pub change: ChatChange,
}

/// The outcome of applying a [`ChatUpdate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatChanged {
    /// Applied: the chat as it is now (its `last_seq` is the change's `seq`).
    Changed {
        chat: Chat,
        seq: Seq,
    },
    /// The participants were no longer `expected`; nothing was written.
    Conflict,
    NotFound,
}

impl Chat {
    /// Fails with `Invalid` for a 1:1 chat: only groups are renamed or change members.
    pub fn ensure_group(&self) -> Result<(), Error> {
        if self.is_group {
            Ok(())
        } else {
            Err(Error::invalid("only group chats can be changed"))
        }
    }

    /// Any participant renames a group; the name must not be blank.
    pub fn plan_rename(&self, by: UserId, name: &str, at: Timestamp) -> Result<ChatUpdate, Error> {
        self.ensure_participant(by)?;
        self.ensure_group()?;
        let name = ChatName::parse(name)?.ok_or_else(|| Error::invalid("name must not be empty"))?;
        let change = ChatChange { kind: ChangeKind::Renamed, users: Vec::new(), by, at };
        Ok(self.update(Some(name), self.participants.clone(), change))
    }

    /// Any participant adds users to a group, up to `max` participants in all. Users who are
    /// participants already are left out; `None` when nobody is left to add (nothing to do).
    pub fn plan_add(
        &self,
        by: UserId,
        users: &[UserId],
        max: usize,
        at: Timestamp,
    ) -> Result<Option<ChatUpdate>, Error> {
        self.ensure_participant(by)?;
        self.ensure_group()?;
        if users.is_empty() {
            return Err(Error::invalid("userIds must name at least one user"));
        }
        let mut added: Vec<UserId> = Vec::with_capacity(users.len());
        for user in users {
            if !self.is_participant(*user) && !added.contains(user) {
                added.push(*user);
            }
        }
        if added.is_empty() {
            return Ok(None);
        }
        if self.participants.len() + added.len() > max {
            return Err(Error::invalid(format!("a chat has at most {max} participants")));
        }
        let mut participants = self.participants.clone();
        participants.extend_from_slice(&added);
        let change = ChatChange { kind: ChangeKind::Added, users: added, by, at };
        Ok(Some(self.update(self.name.clone(), participants, change)))
    }

    /// A participant leaves a group (`target == by`), or its creator removes another
    /// participant. `NotFound` when `target` is not a participant.
    pub fn plan_remove(&self, by: UserId, target: UserId, at: Timestamp) -> Result<ChatUpdate, Error> {
        self.ensure_participant(by)?;
        self.ensure_group()?;
        let kind = if target == by {
            ChangeKind::Left
        } else if self.created_by == by {
            ChangeKind::Removed
        } else {
            return Err(Error::forbidden("only the chat's creator may remove participants"));
        };
        if !self.is_participant(target) {
            return Err(Error::not_found("participant not found"));
        }
        let participants = self.participants.iter().copied().filter(|p| *p != target).collect();
        let change = ChatChange { kind, users: vec![target], by, at };
        Ok(self.update(self.name.clone(), participants, change))
    }

    fn update(&self, name: Option<ChatName>, participants: Vec<UserId>, change: ChatChange) -> ChatUpdate {
        ChatUpdate { chat: self.id, expected: self.participants.clone(), name, participants, change }
    }
}

/// The events of `events` (in `seq` order, up to now) that `user`, a participant now, may
/// see: those of the times it was a participant, and the changes that added or removed it.
/// Membership is walked back from now through the changes that concern the user.
pub fn visible_to(user: UserId, events: Vec<ChatEvent>) -> Vec<ChatEvent> {
    let mut member = true;
    let mut kept: Vec<ChatEvent> = Vec::with_capacity(events.len());
    for event in events.into_iter().rev() {
        match &event {
            ChatEvent::ChatUpdated { change, .. } if change.joined().contains(&user) => {
                kept.push(event);
                member = false;
            }
            ChatEvent::ChatUpdated { change, .. } if change.departed().contains(&user) => {
                kept.push(event);
                member = true;
            }
            _ if member => kept.push(event),
            _ => {}
        }
    }
    kept.reverse();
    kept
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
