//! What the engine counts for monitoring: kept in atomics that only the rare paths (a frame
//! shed, a slow consumer cut off) touch, and read whole by [`SocketIo::stats`](crate::SocketIo::stats).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one server, shared by its sessions.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    dropped_frames: AtomicU64,
    slow_consumers: AtomicU64,
}

impl Counters {
    pub(crate) fn frames_dropped(&self, n: u64) {
        self.dropped_frames.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn slow_consumer(&self) {
        self.slow_consumers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped_frames(&self) -> u64 {
        self.dropped_frames.load(Ordering::Relaxed)
    }

    pub(crate) fn slow_consumers(&self) -> u64 {
        self.slow_consumers.load(Ordering::Relaxed)
    }
}

/// A snapshot of a server's sessions and counters, for metrics. Counters count since the
/// server was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Open Engine.IO sessions carried by HTTP long-polling (including those probing an upgrade).
    pub polling_sessions: usize,
    /// Open Engine.IO sessions carried by a WebSocket (direct or upgraded).
    pub websocket_sessions: usize,
    /// [Droppable](crate::Frame::droppable) frames discarded because a client's outbound queue
    /// was full (the new frame, or older droppable ones shed to make room).
    pub dropped_frames: u64,
    /// Sessions closed as [slow consumers](crate::DisconnectReason::SlowConsumer).
    pub slow_consumers: u64,
}
