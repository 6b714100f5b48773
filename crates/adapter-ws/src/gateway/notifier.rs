//! The notifier port's local delivery: each domain event becomes one Socket.IO event, serialized
//! once and queued for every socket in the target rooms of this node.

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::DomainEvent;

use super::{chat_room, user_room};
use crate::engine::SocketIo;

/// Delivers domain events to the sockets connected to this node.
#[derive(Clone)]
pub struct SocketNotifier {
    io: SocketIo,
}

impl SocketNotifier {
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }

    /// Delivers one event to this node's sockets; returns how many sockets it was queued for.
    pub fn deliver(&self, event: &DomainEvent) -> usize {
        let Some(ns) = self.io.of("/") else { return 0 };
        let result = match event {
            // Frames of persisted events carry their seq, so a socket catching up with `sinceSeq`
            // can drop a live copy of an event its replay already holds.
            DomainEvent::MessageCreated(m) => ns
                .event_frame(wire::events::MESSAGE_NEW, &wire::Message::from(m))
                .map(|f| ns.broadcast_frame_to(&chat_room(m.chat), &f.with_seq(m.seq), None)),
            DomainEvent::MessageDeleted { chat, message, seq } => ns
                .event_frame(wire::events::MESSAGE_DELETED, &wire::MessageDeleted::new(*chat, *message, *seq))
                .map(|f| ns.broadcast_frame_to(&chat_room(*chat), &f.with_seq(*seq), None)),
            DomainEvent::ChatCreated(chat) => ns
                .event_frame(wire::events::CHAT_CREATED, &wire::Chat::from(chat))
                .map(|f| chat.participants.iter().map(|p| ns.broadcast_frame_to(&user_room(*p), &f, None)).sum()),
            DomainEvent::Typing { chat, user, is_typing } => ns
                .event_frame(wire::events::MESSAGE_TYPING, &wire::Typing::new(*chat, *user, *is_typing))
                .map(|f| ns.broadcast_frame_to_except_room(&chat_room(*chat), &f.droppable(), &user_room(*user))),
        };
        result.unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not serialize a domain event");
            0
        })
    }
}

#[async_trait]
impl Notifier for SocketNotifier {
    async fn publish(&self, event: DomainEvent) {
        self.deliver(&event);
    }
}
