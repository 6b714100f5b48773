//! Receipts: moving a participant's delivered and read markers, and what chats and messages
//! show of them (`status`, `unreadCount`, the chat's `receipts`).

use super::{ChatService, Ports};
use crate::error::{Error, Result};
use crate::event::DomainEvent;
use crate::id::{ChatId, MessageId, UserId};
use crate::model::{Chat, ChatView, Message, MessageStatus, Seq};
use crate::receipts::{derive_status, receipts_for, MarkerKind, Markers, Receipt, Statuses};

/// A chat as its participant sees it: the chat with its newest message (its `status` derived),
/// every participant's receipt markers, and the caller's unread count. Reads like the
/// [`ChatView`] it extends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    pub view: ChatView,
    /// One per participant, in the chat's order.
    pub receipts: Vec<Receipt>,
    /// Messages from others, not deleted, above the caller's read marker.
    pub unread_count: u64,
}

impl std::ops::Deref for ChatSummary {
    type Target = ChatView;

    fn deref(&self) -> &ChatView {
        &self.view
    }
}

/// Where a participant's markers stand after a receipt, and their unread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiptState {
    pub chat: ChatId,
    pub markers: Markers,
    pub unread_count: u64,
}

#[derive(Clone)]
pub struct ReceiptService {
    ports: Ports,
    chats: ChatService,
}

impl ReceiptService {
    pub(super) fn new(ports: Ports, chats: ChatService) -> Self {
        Self { ports, chats }
    }

    /// Moves the caller's `kind` marker in `chat` forward to `seq` (reading moves delivery
    /// too; a `seq` past the chat's end is its end; a marker never moves back). Participants
    /// only. When a marker moves, the chat's room hears `receipt:updated`; when the read marker
    /// moves, the caller's other devices hear their new unread count.
    pub async fn mark(&self, caller: UserId, chat: ChatId, kind: MarkerKind, seq: Seq) -> Result<ReceiptState> {
        let chat = self.chats.participant_chat(caller, chat).await?;
        let to = Markers::default().advanced(kind, seq, chat.last_seq).unwrap_or_default();
        let moved = self.ports.receipts.advance_markers(chat.id, caller, to).await?;
        let [unread_count] = self.ports.receipts.unread_counts(caller, &[chat.id]).await?[..] else {
            return Err(Error::Internal);
        };
        if moved.moved() {
            let markers = moved.after;
            let event = DomainEvent::ReceiptUpdated { chat: chat.id, user: caller, markers, members: chat.members() };
            self.ports.notifier.publish(event).await;
        }
        if moved.after.read_seq != moved.before.read_seq {
            let event = DomainEvent::UnreadChanged { user: caller, chat: chat.id, unread_count };
            self.ports.notifier.publish(event).await;
        }
        Ok(ReceiptState { chat: chat.id, markers: moved.after, unread_count })
    }

    /// The original backend's `updateStatus`: moves the caller's marker named by `status`
    /// (`delivered` or `read`) to that message's `seq`, in the message's chat. Not on one's own
    /// message, and participants only.
    pub async fn mark_message(&self, caller: UserId, message: MessageId, status: &str) -> Result<ReceiptState> {
        let kind = MarkerKind::for_status(MessageStatus::parse(status)?)?;
        let message =
            self.ports.messages.message_by_id(message).await?.ok_or_else(|| Error::not_found("message not found"))?;
        // Membership first: a non-participant learns nothing about the message.
        self.chats.participant_chat(caller, message.chat).await?;
        if message.sender == caller {
            return Err(Error::invalid("a receipt is for someone else's message"));
        }
        self.mark(caller, message.chat, kind, message.seq).await
    }

    /// The summaries of `views` for `caller`: receipts, unread counts and derived statuses.
    pub async fn summarize(&self, caller: UserId, views: Vec<ChatView>) -> Result<Vec<ChatSummary>> {
        summarize(&self.ports, caller, views).await
    }

    /// The server's own delivery receipts: a `message:new` of `chat` up to `seq` was written to
    /// a socket of each of `users`. Moves the delivered markers of those of them who are
    /// participants now (a socket of a user just removed may still be in the room on a node
    /// the removal has not reached yet) in one store round trip, and the room hears
    /// `receipt:updated` for each marker that moved. The gateway calls it coalesced per chat,
    /// at most once a second. The sender's own sockets count like any other; their markers are
    /// already at the message (sending reads it), so they move nothing and announce nothing.
    pub async fn delivered_by_server(&self, chat: ChatId, users: &[UserId], seq: Seq) -> Result<()> {
        if users.is_empty() || seq == 0 {
            return Ok(());
        }
        let Some(chat) = self.ports.chats.chat_alone(chat).await? else { return Ok(()) };
        let users: Vec<UserId> = users.iter().copied().filter(|user| chat.is_participant(*user)).collect();
        if users.is_empty() {
            return Ok(());
        }
        let moved = self.ports.receipts.advance_delivered_many(chat.id, &users, seq).await?;
        for Receipt { user, markers } in moved {
            let event = DomainEvent::ReceiptUpdated { chat: chat.id, user, markers, members: chat.members() };
            self.ports.notifier.publish(event).await;
        }
        Ok(())
    }
}

/// The summaries of `views` for `caller`: receipts, unread counts and derived statuses, in two
/// store round trips whatever the number of chats.
pub(super) async fn summarize(ports: &Ports, caller: UserId, views: Vec<ChatView>) -> Result<Vec<ChatSummary>> {
    if views.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<ChatId> = views.iter().map(|v| v.chat.id).collect();
    let stored = ports.receipts.stored_receipts(&ids).await?;
    let unread = ports.receipts.unread_counts(caller, &ids).await?;
    if unread.len() != views.len() {
        return Err(Error::Internal);
    }
    Ok(views
        .into_iter()
        .zip(unread)
        .map(|(mut view, unread_count)| {
            let receipts = receipts_for(&view.chat, &stored);
            if let Some(last) = view.last_message.as_mut() {
                derive_status(last, &receipts);
            }
            ChatSummary { view, receipts, unread_count }
        })
        .collect())
}

/// The summary of one chat for `caller`; see [`summarize`].
pub(super) async fn summarize_one(ports: &Ports, caller: UserId, view: ChatView) -> Result<ChatSummary> {
    summarize(ports, caller, vec![view]).await?.pop().ok_or(Error::Internal)
}

/// Sets the `status` of `messages` of `chat` from its participants' receipts.
pub(super) async fn derive_statuses<'a>(
    ports: &Ports,
    chat: &Chat,
    messages: impl IntoIterator<Item = &'a mut Message>,
) -> Result<()> {
    let stored = ports.receipts.stored_receipts(&[chat.id]).await?;
    let statuses = Statuses::new(&receipts_for(chat, &stored));
    for message in messages {
        message.status = statuses.of(message.seq, message.sender);
    }
    Ok(())
}
