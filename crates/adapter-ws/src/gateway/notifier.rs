//! The notifier port's local delivery: [`wire::delivery::route`] decides where a domain event
//! goes, and [`SocketNotifier::deliver`] builds the Socket.IO frame once and queues it for every
//! socket of this node in the target rooms.

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::DomainEvent;
use socketio::SocketIo;
use wire::delivery::{route, Delivery};

use super::delivered::DeliveryLedger;

/// Delivers domain events to the sockets connected to this node. On its own it is the whole
/// notifier of a single node; a cluster notifier wraps it for the local half.
#[derive(Clone)]
pub struct SocketNotifier {
    io: SocketIo,
    /// Where `message:new` deliveries are noted for the server's own delivery receipts.
    ledger: Option<DeliveryLedger>,
}

impl SocketNotifier {
    pub fn new(io: SocketIo) -> Self {
        Self { io, ledger: None }
    }

    /// Also notes, in `ledger`, each chat room a `message:new` was queued for and its `seq`,
    /// which the gateway's delivery-receipt flusher takes (see
    /// [`ChatGateway::with_delivery_receipts`](super::ChatGateway::with_delivery_receipts)).
    pub fn with_delivery_ledger(mut self, ledger: DeliveryLedger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Queues one delivery for this node's sockets in its rooms: the frame is built once and
    /// shared by every recipient, after applying its eviction, and the sockets in its
    /// `disconnect_rooms` are disconnected. Returns how many sockets it was queued for or
    /// disconnected. A delivery that
    /// cannot become a frame (a reserved event name from a confused peer) is logged and
    /// dropped.
    pub fn deliver(&self, delivery: &Delivery) -> usize {
        let Some(ns) = self.io.of("/") else { return 0 };
        // Users taken out of a chat leave its room before anything else of this delivery: the
        // event itself, and everything queued after it, no longer reaches them through it.
        if let Some(evict) = &delivery.evict {
            ns.evict_from_room(&evict.room, &evict.user_rooms);
        }
        let mut disconnected = 0;
        for room in &delivery.disconnect_rooms {
            disconnected += ns.disconnect_room(room);
        }
        if delivery.rooms.is_empty() {
            return disconnected;
        }
        let mut frame = match ns.event_frame(&delivery.event, &*delivery.data) {
            Ok(frame) => frame,
            Err(e) => {
                tracing::error!(error = %e, event = %delivery.event, "could not build the frame of a delivery");
                return 0;
            }
        };
        if delivery.droppable {
            frame = frame.droppable();
        }
        if let Some(seq) = delivery.seq {
            frame = frame.with_seq(seq);
        }
        let mut count = disconnected;
        for (i, room) in delivery.rooms.iter().enumerate() {
            if delivery.rooms[..i].contains(room) {
                continue;
            }
            count += match &delivery.except_room {
                Some(except) => ns.broadcast_frame_to_except_room(room, &frame, except),
                None => ns.broadcast_frame_to(room, &frame, None),
            };
        }
        metrics::counter!("chat_deliveries_total").increment(count as u64);
        // The server's own delivery receipts: one map update per delivery, never per socket;
        // the flusher finds the users of the room's sockets later, once per period.
        if let (Some(ledger), Some(seq)) = (&self.ledger, delivery.seq) {
            if count > disconnected && delivery.event == wire::events::MESSAGE_NEW {
                delivery.rooms.iter().for_each(|room| ledger.record(room, seq));
            }
        }
        count
    }

    /// Routes and delivers one domain event to this node's sockets; returns how many sockets
    /// it was queued for.
    pub fn deliver_event(&self, event: &DomainEvent) -> usize {
        match route(event) {
            Ok(delivery) => self.deliver(&delivery),
            Err(e) => {
                tracing::error!(error = %e, "could not serialize a domain event");
                0
            }
        }
    }
}

#[async_trait]
impl Notifier for SocketNotifier {
    async fn publish(&self, event: DomainEvent) {
        self.deliver_event(&event);
    }
}

#[cfg(test)]
mod tests {
    use chat_domain::{ChatId, UserId};

    use super::*;

    #[tokio::test]
    async fn delivering_without_the_namespace_reaches_nobody() {
        let notifier = SocketNotifier::new(SocketIo::new(socketio::EngineConfig::default()));
        let delivery =
            route(&DomainEvent::Typing { chat: ChatId::generate(1), user: UserId::generate(1), is_typing: false })
                .unwrap();
        assert_eq!(notifier.deliver(&delivery), 0);
    }
}
