//! Events: what the notifier port receives, and the persisted per-chat events clients catch up on.

use crate::group::ChatChange;
use crate::id::{ChatId, MessageId, UserId};
use crate::model::{Chat, ChatView, Members, Message, Seq};
use crate::receipts::Markers;
use crate::time::Timestamp;

/// Something that happened and that connected clients should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// Delivered to the chat's room. Every event delivered to a chat's room names its
    /// [`Members`]: only their connections get it.
    MessageCreated { message: Message, members: Members },
    /// Delivered to the chat's room; `seq` is the delete's own sequence number.
    MessageDeleted { chat: ChatId, message: MessageId, seq: Seq, members: Members },
    /// Delivered to the personal room of every participant.
    ChatCreated(Chat),
    /// Delivered to the chat's room, except to the typist's own connections.
    Typing { chat: ChatId, user: UserId, is_typing: bool, members: Members },
    /// A message's text was edited: delivered to the chat's room; `seq` is the edit's own.
    MessageUpdated { message: Message, seq: Seq, members: Members },
    /// A group was renamed or changed members: delivered to the chat's room and to the
    /// personal rooms of the users added or removed; users the change takes out of the chat
    /// leave its room on every node before the event (and anything later) is delivered. Its
    /// members are the chat's participants after the change and the users it took out.
    ChatUpdated { chat: ChatView, change: ChatChange, seq: Seq },
    /// Users were added to a group: delivered to their personal rooms as a `chat:created`.
    AddedToChat { chat: ChatView, users: Vec<UserId> },
    /// A participant's receipt markers moved; delivered to the chat's room.
    ReceiptUpdated { chat: ChatId, user: UserId, markers: Markers, members: Members },
    /// The user's unread count in a chat changed by their own reading; delivered to the user's
    /// personal room, so their other devices clear the badge.
    UnreadChanged { user: UserId, chat: ChatId, unread_count: u64 },
    /// `user` came online (`last_seen_at` is `None`) or went offline (when their last socket
    /// closed); delivered to the personal rooms of `to`, the users who share a chat with them.
    PresenceChanged { user: UserId, online: bool, last_seen_at: Option<Timestamp>, to: Vec<UserId> },
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
    /// An edit, at its own `seq`, with the message as it is now (later edits show, a later
    /// delete blanks it).
    MessageUpdated {
        message: Message,
        seq: Seq,
    },
    /// A change of a group at its `seq`. Stores fill `chat` with the chat as it is now only
    /// when they have it at hand; the services replace it with the chat as it is now.
    ChatUpdated {
        chat: Option<ChatView>,
        change: ChatChange,
        seq: Seq,
    },
}

impl ChatEvent {
    pub fn seq(&self) -> Seq {
        match self {
            Self::MessageCreated(m) => m.seq,
            Self::MessageDeleted { seq, .. } | Self::MessageUpdated { seq, .. } | Self::ChatUpdated { seq, .. } => *seq,
        }
    }
}
