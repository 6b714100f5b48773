//! Messages: sending (sanitized, rate limited, idempotent per clientId), history pages, soft
//! delete, typing, and joining a chat's room with catch-up.

use std::sync::Arc;

use super::receipts;
use super::{ChatService, Ports, ServicesConfig};
use crate::error::{Error, Result};
use crate::event::{ChatEvent, DomainEvent};
use crate::group::visible_to;
use crate::id::{ChatId, MessageId, UserId};
use crate::model::{
    Appended, Edited, Message, MessageDraft, MessageKind, MessagePage, PageCursor, PageLimit, Seq, SoftDeleted,
};
use crate::security_log::{Incident, Source};
use crate::text::{ClientId, MessageText};
use crate::time::id_seconds;

/// A send request as it arrives from any adapter, not yet validated.
#[derive(Debug, Clone)]
pub struct SendMessage<'a> {
    pub chat: ChatId,
    pub text: &'a str,
    /// `None` means text.
    pub kind: Option<&'a str>,
    pub client_id: Option<&'a str>,
}

/// What joining a chat's room gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// Joined without a catch-up request. `last_seq` is the chat's newest `seq`.
    Joined { last_seq: Seq },
    /// Every event after the client's `sinceSeq`, in `seq` order.
    Recovered { events: Vec<ChatEvent>, last_seq: Seq },
    /// The missed events are not replayed; the client reloads history instead.
    NotRecovered { reason: CatchUpRefusal, last_seq: Seq },
}

/// Why a catch-up is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpRefusal {
    /// The client asks for more missed events than one catch-up replays.
    TooFarBehind,
    /// The client names a `seq` the chat never had.
    UnknownSeq,
}

#[derive(Clone)]
pub struct MessageService {
    ports: Ports,
    config: Arc<ServicesConfig>,
    chats: ChatService,
}

impl MessageService {
    pub(super) fn new(ports: Ports, config: Arc<ServicesConfig>, chats: ChatService) -> Self {
        Self { ports, config, chats }
    }

    /// Sends a message. Validation, then membership, then the rate limit, so that a rejected
    /// input costs no budget (membership as lately seen: a sender removed since is refused by
    /// the append instead, once, see [`super::membership`]). A repeated `clientId` from the
    /// same sender returns the stored message and announces nothing, without touching the rate
    /// limit.
    pub async fn send(&self, caller: UserId, request: SendMessage<'_>) -> Result<Message> {
        let text = MessageText::parse(request.text)?;
        let kind = match request.kind {
            Some(k) => MessageKind::parse(k)?,
            None => MessageKind::Text,
        };
        let client_id = request.client_id.map(ClientId::parse).transpose()?;
        self.chats.ensure_sender(caller, request.chat).await?;
        // A retry of a send that was stored already is answered from the store, before the
        // rate limit, so a safe retry never costs budget nor fails for lack of it.
        if let Some(client_id) = &client_id {
            if let Some(existing) = self.ports.messages.message_by_client_id(caller, client_id).await? {
                return self.with_status(existing).await;
            }
        }
        if let Err(limited) = self.ports.limiter.acquire(caller).await {
            self.chats.security().record(Incident::MessageLimited, Source::User(caller));
            return Err(Error::RateLimited { retry_after: limited.retry_after });
        }
        let now = self.ports.clock.now();
        let draft = MessageDraft {
            id: MessageId::generate(id_seconds(now)),
            chat: request.chat,
            sender: caller,
            text,
            kind,
            client_id,
            created_at: now,
        };
        // The store moves the sender's own markers to the message in the same write.
        match self.ports.messages.append_message(draft).await? {
            Appended::Created { message, members } => {
                self.ports.notifier.publish(DomainEvent::MessageCreated { message: message.clone(), members }).await;
                Ok(message)
            }
            Appended::Duplicate(existing) => self.with_status(existing).await,
            // Removed between the check above and the write (or since the check was
            // remembered): refused like any non-participant, and no longer remembered as one.
            Appended::NotParticipant => {
                self.chats.forget_participants(request.chat, &[caller]);
                Err(not_a_participant())
            }
        }
    }

    /// A page of a chat's history for a participant; see [`PageCursor`].
    pub async fn history(
        &self,
        caller: UserId,
        chat: ChatId,
        cursor: PageCursor,
        limit: PageLimit,
    ) -> Result<MessagePage> {
        let chat = self.chats.participant_chat(caller, chat).await?;
        let mut page = self
            .ports
            .messages
            .page_messages(chat.id, cursor, limit.get())
            .await?
            .ok_or_else(|| Error::invalid("before must name a message of this chat"))?;
        if !page.messages.is_empty() {
            receipts::derive_statuses(&self.ports, &chat, page.messages.iter_mut()).await?;
        }
        Ok(page)
    }

    /// `message` with its `status` derived from its chat's receipts (a stored message returned
    /// again to a retried send).
    async fn with_status(&self, mut message: Message) -> Result<Message> {
        if let Some(chat) = self.ports.chats.chat_alone(message.chat).await? {
            receipts::derive_statuses(&self.ports, &chat, [&mut message]).await?;
        }
        Ok(message)
    }

    /// Soft-deletes a message; only its sender may. Deleting again succeeds and changes nothing.
    pub async fn soft_delete(&self, caller: UserId, id: MessageId) -> Result<()> {
        let message =
            self.ports.messages.message_by_id(id).await?.ok_or_else(|| Error::not_found("message not found"))?;
        message.ensure_sender(caller)?;
        if message.is_deleted() {
            return Ok(());
        }
        let now = self.ports.clock.now();
        match self.ports.messages.soft_delete_message(id, now).await? {
            SoftDeleted::Deleted { message, seq, members } => {
                let event = DomainEvent::MessageDeleted { chat: message.chat, message: message.id, seq, members };
                self.ports.notifier.publish(event).await;
                Ok(())
            }
            SoftDeleted::AlreadyDeleted(_) => Ok(()),
            SoftDeleted::NotFound => Err(Error::not_found("message not found")),
        }
    }

    /// Edits a message's text: only its sender, never a deleted message, with the same text
    /// rules as a send. The edit takes the chat's next `seq` and is announced with it.
    pub async fn edit(&self, caller: UserId, id: MessageId, text: &str) -> Result<Message> {
        let text = MessageText::parse(text)?;
        let message =
            self.ports.messages.message_by_id(id).await?.ok_or_else(|| Error::not_found("message not found"))?;
        message.ensure_editable_by(caller)?;
        // A sender who has left the chat no longer acts in it.
        self.chats.participant_chat(caller, message.chat).await?;
        let now = self.ports.clock.now();
        match self.ports.messages.edit_message(id, text, now).await? {
            Edited::Edited { message, seq, members } => {
                let event = DomainEvent::MessageUpdated { message: message.clone(), seq, members };
                self.ports.notifier.publish(event).await;
                Ok(message)
            }
            Edited::Deleted(_) => Err(Error::invalid("a deleted message cannot be edited")),
            Edited::NotParticipant => Err(not_a_participant()),
            Edited::NotFound => Err(Error::not_found("message not found")),
        }
    }

    /// Announces that the caller started or stopped typing in a chat it participates in.
    pub async fn typing(&self, caller: UserId, chat: ChatId, is_typing: bool) -> Result<()> {
        let members = self.chats.participant_chat(caller, chat).await?.members();
        self.ports.notifier.publish(DomainEvent::Typing { chat, user: caller, is_typing, members }).await;
        Ok(())
    }

    /// Announces that `user` stopped typing in `chat` because they left it or were removed
    /// from it. No participant check (they are no longer one): the gateway calls this only for
    /// a typist whose start it had forwarded, when the user's eviction from the chat's room
    /// reaches its node. Only a stop can be announced this way, and only to the chat's
    /// members; nothing when the chat does not exist or the user is a participant again.
    pub async fn typing_ended(&self, user: UserId, chat: ChatId) -> Result<()> {
        let Some(chat) = self.ports.chats.chat_alone(chat).await? else {
            return Ok(());
        };
        if chat.is_participant(user) {
            // Added back meanwhile: their typing is theirs to end, as usual.
            return Ok(());
        }
        let event = DomainEvent::Typing { chat: chat.id, user, is_typing: false, members: chat.members() };
        self.ports.notifier.publish(event).await;
        Ok(())
    }

    /// Checks that the caller may join a chat's room and, given the highest `seq` the client
    /// has seen, returns what it missed, up to the configured bound.
    pub async fn join(&self, caller: UserId, chat: ChatId, since_seq: Option<Seq>) -> Result<JoinOutcome> {
        let chat = self.chats.participant_chat(caller, chat).await?;
        let last_seq = chat.last_seq;
        let Some(since) = since_seq else {
            return Ok(JoinOutcome::Joined { last_seq });
        };
        if since > last_seq {
            return Ok(JoinOutcome::NotRecovered { reason: CatchUpRefusal::UnknownSeq, last_seq });
        }
        if last_seq - since > self.config.max_catch_up_events {
            return Ok(JoinOutcome::NotRecovered { reason: CatchUpRefusal::TooFarBehind, last_seq });
        }
        let max = usize::try_from(last_seq - since).unwrap_or(usize::MAX);
        let events = self.ports.messages.chat_events_since(chat.id, since, max).await?;
        // Events of the times the caller was not a participant are not theirs to see.
        let mut events = visible_to(caller, events);
        if events.iter().any(|e| matches!(e, ChatEvent::ChatUpdated { .. })) {
            // A replayed change shows the chat as it is now, like a replayed message does.
            let now = self.ports.chats.chat_by_id(chat.id).await?;
            for event in &mut events {
                if let ChatEvent::ChatUpdated { chat, .. } = event {
                    chat.clone_from(&now);
                }
            }
        }
        // Replayed messages show their status as it is now, as history does.
        let messages = events.iter_mut().filter_map(|e| match e {
            ChatEvent::MessageCreated(m) | ChatEvent::MessageUpdated { message: m, .. } => Some(m),
            _ => None,
        });
        receipts::derive_statuses(&self.ports, &chat, messages).await?;
        Ok(JoinOutcome::Recovered { events, last_seq })
    }
}

/// The refusal of a send or an edit whose author is no longer in the chat, worded like the
/// participant check's.
fn not_a_participant() -> Error {
    Error::forbidden("you are not a participant of this chat")
}
