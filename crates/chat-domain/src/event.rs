//! Events: what the notifier port receives, and the persisted per-chat events clients catch up on.

use crate::id::{ChatId, MessageId, UserId};
use crate::model::{Chat, Message, Seq};

/// Something that happened and that connected clients should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// Delivered to the chat's room.
    MessageCreated(Message),
    /// Delivered to the chat's room; `seq` is the delete's own sequence number.
    MessageDeleted { chat: ChatId, message: MessageId, seq: Seq },
    /// Delivered to the personal room of every participant.
    ChatCreated(Chat),
    /// Delivered to the chat's room, except to the typist's own connections.
    Typing { chat: ChatId, user: UserId, is_typing: bool },
    /// The user logged out: every token issued to it so far is revoked. Every node disconnects
    /// the user's open sockets.
    TokensRevoked { user: UserId },
}

/// A persisted event in a chat's sequence, replayed to a client catching up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    /// The message as it is now (it may since have been deleted).
    MessageCreated(Message),
    MessageDeleted {
        chat: ChatId,
        message: MessageId,
        seq: Seq,
    },
}

impl ChatEvent {
    pub fn seq(&self) -> Seq {
        match self {
            Self::MessageCreated(m) => m.seq,
            Self::MessageDeleted { seq, .. } => *seq,
        }
    }
}
