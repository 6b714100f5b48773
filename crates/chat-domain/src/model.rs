//! Entities: users, chats and messages, with the rules that belong to each.

use crate::error::Error;
use crate::id::{ChatId, MessageId, UserId};
use crate::text::{ChatName, ClientId, Email, MessageText, Username};
use crate::time::Timestamp;

/// A per-chat sequence number: every persisted event in a chat takes the chat's next one.
pub type Seq = u64;

/// A stored password hash in PHC string form; never leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub username: Username,
    pub password_hash: PasswordHash,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Most participants a chat may have, the creator included.
pub const MAX_PARTICIPANTS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub id: ChatId,
    pub name: Option<ChatName>,
    pub is_group: bool,
    /// The members, creator first, without repeats.
    pub participants: Vec<UserId>,
    pub created_by: UserId,
    /// The newest message; it only ever moves forward (to a higher `seq`).
    pub last_message_id: Option<MessageId>,
    /// The highest `seq` handed out in this chat (0 before the first event).
    pub last_seq: Seq,
    pub created_at: Timestamp,
    /// Last activity: creation, then the time of the newest message.
    pub updated_at: Timestamp,
}

impl Chat {
    pub fn is_participant(&self, user: UserId) -> bool {
        self.participants.contains(&user)
    }

    /// Fails with `Forbidden` unless `user` is a participant.
    pub fn ensure_participant(&self, user: UserId) -> Result<(), Error> {
        if self.is_participant(user) {
            Ok(())
        } else {
            Err(Error::forbidden("you are not a participant of this chat"))
        }
    }

    /// Who may hear of an event of this chat as it is now: the participants of a group, and
    /// `None` for a 1:1 chat, whose participants never change (see [`Members`]).
    pub fn members(&self) -> Members {
        self.is_group.then(|| self.participants.clone())
    }

    /// The key that makes a 1:1 chat between the same two users exist once: both ids in
    /// ascending order. `None` for group chats.
    pub fn direct_key(&self) -> Option<String> {
        // A group that shrank to two members is still a group, not their 1:1 chat.
        if self.is_group {
            return None;
        }
        direct_key(&self.participants)
    }
}

/// See [`Chat::direct_key`].
pub fn direct_key(participants: &[UserId]) -> Option<String> {
    match participants {
        [a, b] => {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            Some(format!("{lo}:{hi}"))
        }
        _ => None,
    }
}

/// A chat together with its newest message, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatView {
    pub chat: Chat,
    pub last_message: Option<Message>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Text,
    Image,
    File,
    Voice,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::File => "file",
            Self::Voice => "voice",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "text" => Ok(Self::Text),
            "image" => Ok(Self::Image),
            "file" => Ok(Self::File),
            "voice" => Ok(Self::Voice),
            _ => Err(Error::invalid("type must be one of text, image, file, voice")),
        }
    }
}

/// Delivery status; it only moves forward: sent, then delivered, then read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "sent" => Ok(Self::Sent),
            "delivered" => Ok(Self::Delivered),
            "read" => Ok(Self::Read),
            _ => Err(Error::invalid("status must be one of sent, delivered, read")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: MessageId,
    pub chat: ChatId,
    pub sender: UserId,
    pub text: MessageText,
    pub kind: MessageKind,
    pub status: MessageStatus,
    /// The message's place in its chat's event sequence.
    pub seq: Seq,
    /// Set once, by the soft delete, to the `seq` the delete took.
    pub deleted_seq: Option<Seq>,
    pub client_id: Option<ClientId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The time of the last edit, `None` if never edited.
    pub edited_at: Option<Timestamp>,
}

impl Message {
    pub fn is_deleted(&self) -> bool {
        self.deleted_seq.is_some()
    }

    /// The soft-delete transition: the message keeps its place (id, seq, sender) but takes the
    /// delete's `seq`, the time `at`, and loses its text, because the contract erases a deleted
    /// message's text from storage. Every store applies this and writes the result.
    pub fn mark_deleted(&mut self, seq: Seq, at: Timestamp) {
        self.deleted_seq = Some(seq);
        self.updated_at = at;
        self.text = MessageText::from_stored(String::new());
    }

    /// The text as it may be served: `""` for a deleted message, whatever the store returned,
    /// so rows deleted before stores erased the text never show it.
    pub fn served_text(&self) -> &str {
        if self.is_deleted() {
            ""
        } else {
            self.text.as_str()
        }
    }

    /// Fails with `Forbidden` unless `user` sent this message.
    pub fn ensure_sender(&self, user: UserId) -> Result<(), Error> {
        if self.sender == user {
            Ok(())
        } else {
            Err(Error::forbidden("only the sender may delete a message"))
        }
    }

    /// The edit rule: only the sender edits, and never a deleted message.
    pub fn ensure_editable_by(&self, user: UserId) -> Result<(), Error> {
        if self.sender != user {
            return Err(Error::forbidden("only the sender may edit a message"));
        }
        if self.is_deleted() {
            return Err(Error::invalid("a deleted message cannot be edited"));
        }
        Ok(())
    }

    /// The edit transition: the new text, `edited_at` and `updated_at` at `at`; the message
    /// keeps its place (`seq`). Every store applies this and writes the result.
    pub fn mark_edited(&mut self, text: MessageText, at: Timestamp) {
        self.text = text;
        self.edited_at = Some(at);
        self.updated_at = at;
    }
}

/// A message on its way into the store, which assigns its `seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageDraft {
    pub id: MessageId,
    pub chat: ChatId,
    pub sender: UserId,
    pub text: MessageText,
    pub kind: MessageKind,
    pub client_id: Option<ClientId>,
    pub created_at: Timestamp,
}

impl MessageDraft {
    /// The message this draft becomes once the store gives it `seq`.
    pub fn into_message(self, seq: Seq) -> Message {
        Message {
            id: self.id,
            chat: self.chat,
            sender: self.sender,
            text: self.text,
            kind: self.kind,
            status: MessageStatus::Sent,
            seq,
            deleted_seq: None,
            client_id: self.client_id,
            created_at: self.created_at,
            updated_at: self.created_at,
            edited_at: None,
        }
    }
}

/// Default and bounds of a history page size.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
pub const MAX_PAGE_LIMIT: u32 = 100;

/// A page size in `1..=MAX_PAGE_LIMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    pub fn parse(raw: Option<i64>) -> Result<Self, Error> {
        match raw {
            None => Ok(Self(DEFAULT_PAGE_LIMIT)),
            Some(n) if (1..=i64::from(MAX_PAGE_LIMIT)).contains(&n) => Ok(Self(n as u32)),
            Some(_) => Err(Error::invalid(format!("limit must be between 1 and {MAX_PAGE_LIMIT}"))),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(DEFAULT_PAGE_LIMIT)
    }
}

/// Where a history page starts: after skipping the newest `Skip(n)` listed messages, or
/// strictly older than the message `Before(id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCursor {
    Skip(u64),
    Before(MessageId),
}

/// The newest `limit` matching messages, oldest first, and whether older ones exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessagePage {
    pub messages: Vec<Message>,
    pub has_more: bool,
}

/// Who may hear of one event of a chat: for a group, its participants as of that event (read
/// by the store in the write that took the event's `seq`, or by the service with the chat it
/// judged the event on); `None` for a 1:1 chat, whose participants never change. Deliveries
/// reach only these users' connections, so an event committed after a removal never reaches
/// the removed user, whichever node delivers it first.
pub type Members = Option<Vec<UserId>>;

/// The outcome of appending a message draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// A new message, with the chat's next `seq`, and who may hear of it.
    Created { message: Message, members: Members },
    /// The sender already stored a message with this `clientId`; nothing was written.
    Duplicate(Message),
    /// The sender is not (any more) a participant of the chat; nothing was written.
    NotParticipant,
}

/// The outcome of a soft delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoftDeleted {
    /// Marked deleted now, taking the chat's next `seq`.
    Deleted {
        message: Message,
        seq: Seq,
        members: Members,
    },
    /// It was deleted before; nothing was written.
    AlreadyDeleted(Message),
    NotFound,
}

/// The outcome of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edited {
    /// Edited now, taking the chat's next `seq`.
    Edited {
        message: Message,
        seq: Seq,
        members: Members,
    },
    /// The message is deleted; nothing was written.
    Deleted(Message),
    /// Its sender is not (any more) a participant of its chat; nothing was written.
    NotParticipant,
    NotFound,
}

/// The outcome of inserting a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatInserted {
    Created(Chat),
    /// A 1:1 chat between the same two users exists already; it is returned unchanged.
    ExistingDirect(Chat),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn message() -> Message {
        let at = chrono::DateTime::from_timestamp_millis(1_795_633_980_123).unwrap();
        MessageDraft {
            id: MessageId(Id::generate(1)),
            chat: ChatId(Id::generate(1)),
            sender: UserId(Id::generate(1)),
            text: MessageText::parse("a secret").unwrap(),
            kind: MessageKind::Text,
            client_id: None,
            created_at: at,
        }
        .into_message(7)
    }

    #[test]
    fn soft_delete_keeps_the_place_and_erases_the_text() {
        let mut m = message();
        let (id, sender) = (m.id, m.sender);
        let later = m.created_at + chrono::Duration::seconds(5);
        m.mark_deleted(9, later);
        assert!(m.is_deleted());
        assert_eq!((m.id, m.seq, m.sender, m.deleted_seq), (id, 7, sender, Some(9)));
        assert_eq!(m.updated_at, later);
        assert_eq!(m.text.as_str(), "");
        assert_eq!(m.served_text(), "");
    }

    #[test]
    fn served_text_is_blank_for_a_deleted_message_that_still_holds_text() {
        let mut m = message();
        assert_eq!(m.served_text(), "a secret");
        // A row deleted before stores erased the text comes back like this.
        m.deleted_seq = Some(8);
        assert_eq!(m.text.as_str(), "a secret");
        assert_eq!(m.served_text(), "");
    }
}
