//! Events: what the notifier port receives, and the persisted per-chat events clients catch up on.

use crate::id::{ChatId, MessageId, UserId};
use crate::model::{Chat, Message, Seq};
use crate::receipts::Markers;

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
    /// A participant's receipt markers moved; delivered to the chat's room.
    ReceiptUpdated { chat: ChatId, user: UserId, markers: Markers },
    /// The user's unread count in a chat changed by their own reading; delivered to the user's
    /// personal room, so their other devices clear the badge.
    UnreadChanged { user: UserId, chat: ChatId, unread_count: u64 },
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
