//! The response body of a WebSocket connection, which is its whole outbound side: when the
//! connection's HTTP dispatcher polls it, it hands over everything queued for the session, one
//! pre-built WebSocket frame at a time, and the dispatcher packs them into its write buffer and
//! writes them with one system call. No task, no channel: a push wakes the dispatcher at most
//! once per batch.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::{task::AtomicWaker, Stream};
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::engineio::{queue::Item, session::EngineSession, wsframe};

/// How long the last frames of a closed session (a DISCONNECT, a CONNECT_ERROR) may take to
/// reach a client before the connection is dropped anyway.
pub(super) const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The outbound side of a WebSocket that is still probing an upgrade: it does not carry the
/// session yet, so what it sends (`3probe`, pongs) waits here.
#[derive(Default)]
pub(super) struct ProbeLink {
    out: Mutex<Vec<Bytes>>,
    waker: AtomicWaker,
    /// `5` arrived: the WebSocket carries the session from now on.
    attached: AtomicBool,
    /// The probe failed: the connection ends after what is queued here.
    closed: AtomicBool,
}

impl ProbeLink {
    pub(super) fn send(&self, frame: Bytes) {
        self.out.lock().push(frame);
        self.waker.wake();
    }

    pub(super) fn attach(&self) {
        self.attached.store(true, Ordering::Release);
        self.waker.wake();
    }

    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// The streaming body of the `101 Switching Protocols` response.
pub(super) struct WsBody {
    session: Arc<EngineSession>,
    /// Set while the connection probes an upgrade and does not carry the session.
    probe: Option<Arc<ProbeLink>>,
    /// Items taken from the queue and not yet handed to the dispatcher.
    batch: VecDeque<Item>,
    /// When the session closed plus [`FINAL_FLUSH_TIMEOUT`]: past it, the connection is
    /// dropped even if frames are left.
    flush_deadline: Option<Instant>,
    /// The close frame is in `batch` (or sent): the body ends once `batch` is empty.
    finishing: bool,
}

impl WsBody {
    pub(super) fn new(session: Arc<EngineSession>, probe: Option<Arc<ProbeLink>>) -> Self {
        Self { session, probe, batch: VecDeque::new(), flush_deadline: None, finishing: false }
    }

    /// The session this connection carries, or probes an upgrade for.
    pub(super) fn session(&self) -> &Arc<EngineSession> {
        &self.session
    }

    /// Whether the connection carries its session (not, or no longer, probing an upgrade).
    pub(super) fn carries_session(&self) -> bool {
        self.probe.as_ref().is_none_or(|link| link.attached.load(Ordering::Acquire))
    }

    fn finish(&mut self) {
        self.finishing = true;
        self.batch.push_back(Item::WebSocket(wsframe::CLOSE_FRAME));
    }

    /// Refills `batch`; `false` when there is nothing to send yet (a waker is registered).
    fn refill(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(link) = &self.probe {
            link.waker.register(cx.waker());
            let frames = std::mem::take(&mut *link.out.lock());
            if !frames.is_empty() {
                self.batch.extend(frames.into_iter().map(Item::WebSocket));
                return true;
            }
            if link.attached.load(Ordering::Acquire) {
                self.probe = None;
                return self.refill(cx);
            }
            if link.closed.load(Ordering::Acquire) {
                self.finish();
                return true;
            }
            return false;
        }
        self.session.take_for_websocket(cx.waker(), &mut self.batch);
        if !self.batch.is_empty() {
            return true;
        }
        if self.session.is_closed() {
            // Nothing can be queued after the close: take what came in just before it.
            self.session.take_for_websocket(cx.waker(), &mut self.batch);
            self.finish();
            return true;
        }
        // An idle connection keeps no batch buffer: the next take swaps this empty one into the
        // session's queue, so neither holds an allocation until something is queued again.
        if self.batch.capacity() > 0 {
            self.batch = VecDeque::new();
        }
        false
    }
}

fn bytes_of(item: Item) -> Bytes {
    match item {
        Item::Control(text) => wsframe::text_frame(text.as_bytes()),
        Item::Frame(frame) => frame.websocket_bytes().clone(),
        Item::WebSocket(bytes) => bytes,
    }
}

impl Stream for WsBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.flush_deadline.is_none() && this.probe.is_none() && this.session.is_closed() {
            this.flush_deadline = Some(Instant::now() + FINAL_FLUSH_TIMEOUT);
        }
        loop {
            if let Some(item) = this.batch.pop_front() {
                if this.flush_deadline.is_some_and(|deadline| Instant::now() > deadline) {
                    // An error makes the HTTP dispatcher drop the connection.
                    return Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::TimedOut, "final flush timed out"))));
                }
                return Poll::Ready(Some(Ok(bytes_of(item))));
            }
            if this.finishing {
                return Poll::Ready(None);
            }
            if !this.refill(cx) {
                return Poll::Pending;
            }
        }
    }
}
