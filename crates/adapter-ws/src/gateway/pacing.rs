//! The timer of the domain's receipt pacing ([`chat_domain::receipt_pacing`]): a notifier
//! decorator that passes every event through except `receipt:updated`, which it announces at
//! most once per participant and chat per window (the latest values winning), whichever way the
//! marker moved (client events, HTTP, the server's own delivery receipts).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::receipt_pacing::{PacedReceipt, ReceiptPacer};
use chat_domain::{ChatId, DomainEvent, Members};
use parking_lot::Mutex;

/// How often held receipts are looked at: a held receipt goes out at most this long after its
/// window ended.
pub const RECEIPT_PACING_TICK: Duration = Duration::from_millis(100);

/// The time source of the pacing: the monotonic clock, or a test's movable one.
pub type PacingClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Wraps the notifier the services publish to. Events other than `ReceiptUpdated` pass
/// through untouched and at once (`chat:unread` among them: it goes to the reader's own
/// devices only).
pub struct PacedReceipts {
    inner: Arc<dyn Notifier>,
    pacer: Mutex<Pacing>,
    clock: PacingClock,
}

/// The rule's state, and the members of each chat it tracks as the latest receipt named them
/// (a held receipt goes only to the sockets of the chat's members when it is announced).
struct Pacing {
    pacer: ReceiptPacer,
    members: HashMap<ChatId, Members>,
}

impl PacedReceipts {
    /// The production pacing ([`ReceiptPacer::default`]) on the monotonic clock.
    pub fn new(inner: Arc<dyn Notifier>) -> Arc<Self> {
        Self::with_clock(inner, ReceiptPacer::default(), Arc::new(Instant::now))
    }

    /// A pacing with its own rule and clock (tests move the clock and call
    /// [`flush_due`](Self::flush_due) themselves).
    pub fn with_clock(inner: Arc<dyn Notifier>, pacer: ReceiptPacer, clock: PacingClock) -> Arc<Self> {
        Arc::new(Self { inner, pacer: Mutex::new(Pacing { pacer, members: HashMap::new() }), clock })
    }

    /// Announces the held receipts whose window has ended.
    pub async fn flush_due(&self) {
        let due = {
            let mut pacing = self.pacer.lock();
            let due = pacing.pacer.due((self.clock)());
            let due: Vec<_> = due
                .into_iter()
                .map(|receipt| {
                    let members = pacing.members.get(&receipt.chat).cloned().flatten();
                    (receipt, members)
                })
                .collect();
            let Pacing { pacer, members } = &mut *pacing;
            members.retain(|chat, _| pacer.tracks_chat(*chat));
            due
        };
        for (receipt, members) in due {
            self.announce(receipt, members).await;
        }
    }

    /// Flushes every [`RECEIPT_PACING_TICK`] until the pacing is dropped. Call from inside
    /// the Tokio runtime.
    pub fn spawn(self: &Arc<Self>) {
        super::every(self, RECEIPT_PACING_TICK, |pacing| async move { pacing.flush_due().await });
    }

    /// Participants whose receipts are tracked now (for tests).
    pub fn tracked(&self) -> usize {
        self.pacer.lock().pacer.tracked()
    }

    async fn announce(&self, PacedReceipt { chat, user, markers }: PacedReceipt, members: Members) {
        self.inner.publish(DomainEvent::ReceiptUpdated { chat, user, markers, members }).await;
    }
}

#[async_trait]
impl Notifier for PacedReceipts {
    async fn publish(&self, event: DomainEvent) {
        match event {
            DomainEvent::ReceiptUpdated { chat, user, markers, members } => {
                let now = {
                    let mut pacing = self.pacer.lock();
                    let now = pacing.pacer.moved(chat, user, markers, (self.clock)());
                    if pacing.pacer.tracks_chat(chat) {
                        pacing.members.insert(chat, members.clone());
                    }
                    now
                };
                if let Some(receipt) = now {
                    self.announce(receipt, members).await;
                }
            }
            other => self.inner.publish(other).await,
        }
    }
}
