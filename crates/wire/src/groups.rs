//! The payloads of groups that change and of message edits: `chat:updated {chat, change, seq}`
//! and `message:updated {message, seq}`.

use serde::{Deserialize, Serialize};

use crate::{id_string, Chat, Message};

/// What changed, in `chat:updated`: `{type, userIds, by}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatChange {
    /// `renamed`, `added`, `removed` or `left`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The users added, removed or leaving; empty for a rename.
    pub user_ids: Vec<String>,
    /// Who made the change.
    pub by: String,
}

impl From<&chat_domain::ChatChange> for ChatChange {
    fn from(change: &chat_domain::ChatChange) -> Self {
        Self {
            kind: change.kind.as_str().to_owned(),
            user_ids: change.users.iter().map(|u| id_string(u.0)).collect(),
            by: id_string(change.by.0),
        }
    }
}

/// The payload of `chat:updated`; `seq` is the change's own. `chat` is the chat as it is now
/// (`null` only if a store could not say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatUpdated {
    pub chat: Option<Chat>,
    pub change: ChatChange,
    pub seq: u64,
}

impl ChatUpdated {
    pub fn new(chat: Option<&chat_domain::ChatView>, change: &chat_domain::ChatChange, seq: u64) -> Self {
        Self { chat: chat.map(Chat::from), change: change.into(), seq }
    }
}

/// The payload of `message:updated`; `seq` is the edit's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageUpdated {
    pub message: Message,
    pub seq: u64,
}

impl MessageUpdated {
    pub fn new(message: &chat_domain::Message, seq: u64) -> Self {
        Self { message: message.into(), seq }
    }
}
