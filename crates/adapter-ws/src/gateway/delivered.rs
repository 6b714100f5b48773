//! The server's own delivery receipts: which chat rooms a `message:new` reached, and up to which
//! `seq`, kept by the notifier at the cost of one map update per delivery (not per socket), and
//! flushed once per period as one domain call per chat for the users of the room's sockets.

use std::collections::HashMap;
use std::sync::Arc;

use chat_domain::{ChatId, Seq};
use futures_util::StreamExt;
use parking_lot::Mutex;
use socketio::SocketIo;

use super::{chat_room, ChatGateway};

/// The highest `seq` of a `message:new` queued for this node's sockets in each chat room since
/// the last flush. Cheap to clone; every clone is the same ledger.
#[derive(Clone, Default)]
pub struct DeliveryLedger {
    reached: Arc<Mutex<HashMap<String, Seq>>>,
}

impl DeliveryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// `room` got a `message:new` at `seq`. Allocates only for a room not seen since the last
    /// flush.
    pub(super) fn record(&self, room: &str, seq: Seq) {
        let mut reached = self.reached.lock();
        match reached.get_mut(room) {
            Some(highest) => *highest = (*highest).max(seq),
            None => {
                reached.insert(room.to_owned(), seq);
            }
        }
    }

    /// Everything recorded since the last call, as (chat, highest seq); rooms whose name is not
    /// a chat room's are dropped.
    pub(super) fn take(&self) -> Vec<(ChatId, Seq)> {
        let reached = std::mem::take(&mut *self.reached.lock());
        reached.into_iter().filter_map(|(room, seq)| Some((wire::rooms::chat_of_room(&room)?, seq))).collect()
    }

    /// Number of rooms waiting for the next flush (for tests).
    pub fn pending(&self) -> usize {
        self.reached.lock().len()
    }
}

/// Chats whose receipts one flush writes at once: enough to keep the store's group commit
/// busy, few enough not to flood it.
const FLUSH_CONCURRENCY: usize = 32;

impl ChatGateway {
    /// Writes the server's own delivery receipts noted since the last flush: for each chat room
    /// that got a `message:new`, the users of this node's sockets now in the room have their
    /// delivered marker moved to the highest such `seq`, in one domain call (one store round
    /// trip) per chat. The flusher calls it every period; tests call it to flush at once.
    pub async fn flush_delivery_receipts(&self, io: &SocketIo) {
        let Some(ledger) = self.shared.ledger.get() else { return };
        let Some(ns) = io.of("/") else { return };
        let reached = ledger.take();
        let failures = std::sync::atomic::AtomicUsize::new(0);
        futures_util::stream::iter(reached)
            .for_each_concurrent(FLUSH_CONCURRENCY, |(chat, seq)| {
                let users = self.shared.connections.users_of(&ns.room_members(&chat_room(chat)));
                let failures = &failures;
                async move {
                    let receipts = &self.shared.services.receipts;
                    if receipts.delivered_by_server(chat, &users, seq).await.is_err() {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
            .await;
        let failures = failures.into_inner();
        if failures > 0 {
            // The next message of those chats moves the markers again; nothing else is lost.
            tracing::warn!(chats = failures, "could not write the server's delivery receipts");
        }
    }

    pub(super) fn spawn_delivery_receipts(&self, io: &SocketIo) {
        let io = io.clone();
        super::every(&self.shared, self.shared.config.delivery_receipt_interval, move |shared| {
            let io = io.clone();
            async move { ChatGateway { shared }.flush_delivery_receipts(&io).await }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_keeps_the_highest_seq_per_chat_until_taken() {
        let ledger = DeliveryLedger::new();
        let (a, b) = (ChatId::generate(1), ChatId::generate(2));
        ledger.record(&wire::rooms::chat_room(a), 3);
        ledger.record(&wire::rooms::chat_room(a), 2);
        ledger.record(&wire::rooms::chat_room(b), 1);
        ledger.record("user-nobody", 9);
        assert_eq!(ledger.pending(), 3);
        let mut taken = ledger.take();
        taken.sort_by_key(|(_, seq)| *seq);
        assert_eq!(taken, [(b, 1), (a, 3)]);
        assert!(ledger.take().is_empty(), "taking empties it");
    }
}
