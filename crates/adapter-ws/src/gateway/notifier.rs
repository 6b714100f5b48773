//! The notifier port's local delivery: [`wire::delivery::route`] decides where a domain event
//! goes, and [`SocketNotifier::deliver`] builds the Socket.IO frame once and queues it for every
//! socket of this node in the target rooms.

use std::sync::{Arc, OnceLock, Weak};

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::{DomainEvent, UserId};
use socketio::SocketIo;
use wire::delivery::{route, Delivery, Eviction};
use wire::rooms::{chat_of_room, user_of_room, user_room_of};

use super::delivered::DeliveryLedger;
use super::handler::{ChatGateway, Shared};

/// Delivers domain events to the sockets connected to this node. On its own it is the whole
/// notifier of a single node; a cluster notifier wraps it for the local half.
#[derive(Clone)]
pub struct SocketNotifier {
    io: SocketIo,
    /// Where `message:new` deliveries are noted for the server's own delivery receipts.
    ledger: Option<DeliveryLedger>,
    /// The gateway of this node, once [`attach`](Self::attach)ed: an eviction ends the typing
    /// of the departed users it tracks. Weak, since the gateway's services hold this notifier.
    gateway: Arc<OnceLock<Weak<Shared>>>,
}

impl SocketNotifier {
    pub fn new(io: SocketIo) -> Self {
        Self { io, ledger: None, gateway: Arc::default() }
    }

    /// Also notes, in `ledger`, each chat room a `message:new` was queued for and its `seq`,
    /// which the gateway's delivery-receipt flusher takes (see
    /// [`ChatGateway::with_delivery_receipts`](super::ChatGateway::with_delivery_receipts)).
    pub fn with_delivery_ledger(mut self, ledger: DeliveryLedger) -> Self {
        self.ledger = Some(ledger);
        self
    }

    /// Lets the evictions this notifier applies reach `gateway` (this node's, on the same
    /// `SocketIo`): a user taken out of a chat while typing there is announced as stopped by
    /// the node that tracks their typing. Call once, after building the gateway; later calls
    /// change nothing.
    pub fn attach(&self, gateway: &ChatGateway) {
        let _ = self.gateway.set(gateway.downgrade());
    }

    /// Stops the typing of the users an eviction takes out of a chat, on this node's gateway,
    /// and announces each stop (through the services, so every node's sockets hear it).
    fn end_typing(&self, evict: &Eviction) {
        let Some(shared) = self.gateway.get().and_then(Weak::upgrade) else { return };
        let Some(chat) = chat_of_room(&evict.room) else { return };
        let stopped: Vec<UserId> = evict
            .user_rooms
            .iter()
            .filter_map(|room| user_of_room(room))
            .filter(|user| shared.typists.forget_user(*user, chat))
            .collect();
        if stopped.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        // Delivery never waits on the store: the stops follow on a task of their own.
        runtime.spawn(async move {
            for user in stopped {
                if let Err(e) = shared.services.messages.typing_ended(user, chat).await {
                    tracing::debug!(error = %e, "could not announce the end of a departed user's typing");
                }
            }
        });
    }

    /// Queues one delivery for this node's sockets in its rooms: the frame is built once and
    /// shared by every recipient, after applying its eviction, and the sockets in its
    /// `disconnect_rooms` are disconnected. Returns how many sockets it was queued for or
    /// disconnected. A delivery that
    /// cannot become a frame (a reserved event name from a confused peer) is logged and
    /// dropped.
    pub fn deliver(&self, delivery: &Delivery) -> usize {
        let count = self.queue(delivery);
        // Once the change is queued, so that the others hear it before the typing stops.
        if let Some(evict) = &delivery.evict {
            self.end_typing(evict);
        }
        count
    }

    /// [`deliver`](Self::deliver) but for the typing it ends.
    fn queue(&self, delivery: &Delivery) -> usize {
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
        // A group's event reaches only the sockets of its members as of the event (built
        // once per delivery; the typist's own sockets are left out of it too).
        let only = delivery.members.as_ref().map(|members| {
            let rooms: Vec<String> = members.iter().map(|user| user_room_of(user)).collect();
            let except = delivery.except_room.as_deref();
            ns.sockets_in(rooms.iter().map(String::as_str).filter(|room| Some(*room) != except))
        });
        let mut count = disconnected;
        for (i, room) in delivery.rooms.iter().enumerate() {
            if delivery.rooms[..i].contains(room) {
                continue;
            }
            count += match (&only, &delivery.except_room) {
                (Some(only), _) => ns.broadcast_frame_to_sockets(room, &frame, only),
                (None, Some(except)) => ns.broadcast_frame_to_except_room(room, &frame, except),
                (None, None) => ns.broadcast_frame_to(room, &frame, None),
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
    use chat_domain::ChatId;

    use super::*;

    #[tokio::test]
    async fn delivering_without_the_namespace_reaches_nobody() {
        let notifier = SocketNotifier::new(SocketIo::new(socketio::EngineConfig::default()));
        let (chat, user) = (ChatId::generate(1), UserId::generate(1));
        let delivery = route(&DomainEvent::Typing { chat, user, is_typing: false, members: None }).unwrap();
        assert_eq!(notifier.deliver(&delivery), 0);
    }
}
