//! What a node knows about its Redis: whether it is subscribed, counters for tests and
//! measurements, and log gates that let one error line per kind through per interval.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Counters since the node started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// Events PUBLISHed successfully (one per event, whatever the number of recipients).
    pub published: u64,
    /// Events whose PUBLISH failed or timed out (they were still delivered locally).
    pub publish_failures: u64,
    /// Events not published because the publish queue was full.
    pub dropped: u64,
    /// Messages received from other nodes and delivered locally.
    pub received: u64,
    /// Messages of this node's own that came back on the channel and were skipped.
    pub own_skipped: u64,
    /// Signed messages on the channel that could not be read as a delivery; skipped.
    pub malformed: u64,
    /// Messages on the channel without a valid signature of this cluster; dropped.
    pub unsigned: u64,
    /// Signed messages older (or further ahead) than the allowed age: replays; dropped.
    pub stale: u64,
    /// Successful subscriptions: 1 after start, plus one per resubscription.
    pub subscriptions: u64,
    /// Rate-limit checks the in-process fallback answered because Redis did not.
    pub limiter_fallbacks: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) publish_failures: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) own_skipped: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) unsigned: AtomicU64,
    pub(crate) stale: AtomicU64,
    pub(crate) subscriptions: AtomicU64,
    pub(crate) limiter_fallbacks: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// Lets one log line through per interval and counts what it held back, so an outage writes
/// a line every few seconds instead of one per event.
pub(crate) struct LogGate {
    every: Duration,
    state: Mutex<GateState>,
}

#[derive(Default)]
struct GateState {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogGate {
    pub(crate) fn new(every: Duration) -> Self {
        Self { every, state: Mutex::new(GateState::default()) }
    }

    /// `Some(n)` when a line may be written now, `n` being how many were held back since the
    /// last one; `None` when this one is to be held back.
    pub(crate) fn admit(&self) -> Option<u64> {
        let mut state = self.state.lock();
        let now = Instant::now();
        if state.last.is_some_and(|last| now.duration_since(last) < self.every) {
            state.suppressed += 1;
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }

    /// Forgets the last line, so the next failure is logged at once (after a recovery).
    pub(crate) fn reset(&self) {
        *self.state.lock() = GateState::default();
    }
}

pub(crate) struct Status {
    subscriber_started: AtomicBool,
    subscribed: AtomicBool,
    pub(crate) counters: Counters,
    pub(crate) publish_log: LogGate,
    pub(crate) queue_log: LogGate,
    pub(crate) subscribe_log: LogGate,
    pub(crate) limiter_log: LogGate,
    pub(crate) envelope_log: LogGate,
}

impl Status {
    pub(crate) fn new(log_every: Duration) -> Self {
        Self {
            subscriber_started: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            counters: Counters::default(),
            publish_log: LogGate::new(log_every),
            queue_log: LogGate::new(log_every),
            subscribe_log: LogGate::new(log_every),
            limiter_log: LogGate::new(log_every),
            envelope_log: LogGate::new(log_every),
        }
    }

    pub(crate) fn mark_subscriber_started(&self) {
        self.subscriber_started.store(true, Ordering::Release);
    }

    pub(crate) fn subscriber_started(&self) -> bool {
        self.subscriber_started.load(Ordering::Acquire)
    }

    pub(crate) fn set_subscribed(&self, subscribed: bool) {
        self.subscribed.store(subscribed, Ordering::Release);
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.subscribed.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self) -> RedisStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisStats {
            published: get(&c.published),
            publish_failures: get(&c.publish_failures),
            dropped: get(&c.dropped),
            received: get(&c.received),
            own_skipped: get(&c.own_skipped),
            malformed: get(&c.malformed),
            unsigned: get(&c.unsigned),
            stale: get(&c.stale),
            subscriptions: get(&c.subscriptions),
            limiter_fallbacks: get(&c.limiter_fallbacks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_one_line_per_interval_and_counts_the_rest() {
        let gate = LogGate::new(Duration::from_secs(3600));
        assert_eq!(gate.admit(), Some(0));
        assert_eq!(gate.admit(), None);
        assert_eq!(gate.admit(), None);
        gate.reset();
        assert_eq!(gate.admit(), Some(0));
        let open = LogGate::new(Duration::ZERO);
        assert_eq!(open.admit(), Some(0));
        assert_eq!(open.admit(), Some(0));
    }
}
