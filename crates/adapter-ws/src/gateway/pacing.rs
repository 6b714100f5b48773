//! The timer of the domain's receipt pacing ([`chat_domain::receipt_pacing`]): a notifier
//! decorator that passes every event through except `receipt:updated`, which it announces at
//! most once per participant and chat per window (the latest values winning), whichever way the
//! marker moved (client events, HTTP, the server's own delivery receipts).

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chat_domain::ports::Notifier;
use chat_domain::receipt_pacing::{PacedReceipt, ReceiptPacer};
use chat_domain::DomainEvent;
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
    pacer: Mutex<ReceiptPacer>,
    clock: PacingClock,
}

impl PacedReceipts {
    /// The production pacing ([`ReceiptPacer::default`]) on the monotonic clock.
    pub fn new(inner: Arc<dyn Notifier>) -> Arc<Self> {
        Self::with_clock(inner, ReceiptPacer::default(), Arc::new(Instant::now))
    }

    /// A pacing with its own rule and clock (tests move the clock and call
    /// [`flush_due`](Self::flush_due) themselves).
    pub fn with_clock(inner: Arc<dyn Notifier>, pacer: ReceiptPacer, clock: PacingClock) -> Arc<Self> {
        Arc::new(Self { inner, pacer: Mutex::new(pacer), clock })
    }

    /// Announces the held receipts whose window has ended.
    pub async fn flush_due(&self) {
        let due = self.pacer.lock().due((self.clock)());
        for receipt in due {
            self.announce(receipt).await;
        }
    }

    /// Flushes every [`RECEIPT_PACING_TICK`] until the pacing is dropped. Call from inside
    /// the Tokio runtime.
    pub fn spawn(self: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(RECEIPT_PACING_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(pacing) = weak.upgrade() else { break };
                pacing.flush_due().await;
            }
        });
    }

    /// Participants whose receipts are tracked now (for tests).
    pub fn tracked(&self) -> usize {
        self.pacer.lock().tracked()
    }

    async fn announce(&self, PacedReceipt { chat, user, markers }: PacedReceipt) {
        self.inner.publish(DomainEvent::ReceiptUpdated { chat, user, markers }).await;
    }
}

#[async_trait]
impl Notifier for PacedReceipts {
    async fn publish(&self, event: DomainEvent) {
        match event {
            DomainEvent::ReceiptUpdated { chat, user, markers } => {
                let now = self.pacer.lock().moved(chat, user, markers, (self.clock)());
                if let Some(receipt) = now {
                    self.announce(receipt).await;
                }
            }
            other => self.inner.publish(other).await,
        }
    }
}
