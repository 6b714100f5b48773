//! One Engine.IO session: transport state, outbound queue, inbound channel, heartbeat, closing.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    task::Waker,
};

use bytes::Bytes;
use bytestring::ByteString;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use socketioxide_core::Sid;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::{
    frame::Frame,
    handshake::Handshake,
    packet::ClientPacket,
    queue::{Item, Outbound, PushError},
    reason::DisconnectReason,
    stats::Counters,
};

/// Engine.IO messages waiting for the session's dispatcher; bounded so that a client that
/// floods faster than its handlers run is slowed down (its transport reader waits).
pub(crate) const INBOUND_QUEUE: usize = 64;

/// A message payload from the client, for the layer above (Socket.IO).
#[derive(Debug)]
pub(crate) enum Inbound {
    Text(String),
    Binary(Bytes),
}

/// The transport currently carrying the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransportKind {
    Polling,
    WebSocket,
}

impl TransportKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Polling => "polling",
            Self::WebSocket => "websocket",
        }
    }
}

/// Progress of an upgrade from polling to WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Upgrade {
    None,
    /// A WebSocket for this session is open and waiting for `2probe`.
    Connecting,
    /// `3probe` was sent: pending and new polls are answered with a noop so the client can
    /// pause polling and send `5` over the WebSocket.
    Probed,
}

#[derive(Debug)]
struct TransportState {
    kind: TransportKind,
    upgrade: Upgrade,
    get_active: bool,
    post_active: bool,
    /// The client closed a polling session with a close packet (`1`).
    client_close: ClientClose,
}

/// What a polling GET owes a client that closed its session with a close packet: the reference
/// server answers the pending GET with a noop (`6`), and every later one with 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientClose {
    /// The session was not closed by a close packet over polling.
    No,
    /// Closed by the client; the next (or pending) GET gets the noop.
    NoopOwed,
    /// The noop was sent; the session is gone as far as the client is concerned.
    NoopSent,
}

/// Why a polling request cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PollRefusal {
    /// The session is on WebSocket now (or was always).
    WrongTransport,
    /// A request of the same kind is already in flight.
    Overlap,
}

/// Shared state of one Engine.IO session. Transports, the heartbeat and the layer above (the
/// Socket.IO dispatcher and every socket of the session) hold it through an `Arc`.
pub(crate) struct EngineSession {
    pub(crate) sid: Sid,
    pub(crate) handshake: Handshake,
    out: Mutex<Outbound>,
    /// Wakes a waiting polling GET.
    out_notify: Notify,
    /// Wakes the WebSocket response body that writes the queue.
    writer: AtomicWaker,
    transport: Mutex<TransportState>,
    /// Messages for the dispatcher from transports that do not hand them over directly
    /// (polling POSTs and upgraded WebSockets); `None` on a direct WebSocket session.
    inbound: Option<mpsc::Sender<Inbound>>,
    cancel: CancellationToken,
    /// Mirrors `cancel` for the hot paths that only ask (every write of a WebSocket batch):
    /// one atomic load instead of the token's lock.
    closed: AtomicBool,
    close_reason: Mutex<Option<DisconnectReason>>,
    /// Set when a pong arrives; the heartbeat clears it when it pings.
    pong: AtomicBool,
    /// Wakes the dispatcher's task, which runs the heartbeat, when a pong arrives or the
    /// session closes.
    heartbeat: AtomicWaker,
    /// The server's counters (shed frames, slow consumers).
    counters: Arc<Counters>,
}

impl EngineSession {
    pub(crate) fn new(
        sid: Sid,
        kind: TransportKind,
        handshake: Handshake,
        outbound: Outbound,
        inbound: Option<mpsc::Sender<Inbound>>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            sid,
            handshake,
            out: Mutex::new(outbound),
            out_notify: Notify::new(),
            writer: AtomicWaker::new(),
            transport: Mutex::new(TransportState {
                kind,
                upgrade: Upgrade::None,
                get_active: false,
                post_active: false,
                client_close: ClientClose::No,
            }),
            inbound,
            cancel: CancellationToken::new(),
            closed: AtomicBool::new(false),
            close_reason: Mutex::new(None),
            pong: AtomicBool::new(false),
            heartbeat: AtomicWaker::new(),
            counters,
        }
    }

    // ----- outbound -----

    /// Queues a Socket.IO frame; on overflow the session is closed as a slow consumer.
    pub(crate) fn push_frame(&self, frame: Frame) -> Result<(), PushError> {
        let (result, wake, shed) = {
            let mut out = self.out.lock();
            let result = out.push_frame(frame);
            let wake = result.is_ok() && out.take_writer_waiting();
            (result, wake, out.take_shed())
        };
        if wake {
            self.wake_writers();
        }
        let dropped = shed + u64::from(result == Err(PushError::Dropped));
        if dropped > 0 {
            self.counters.frames_dropped(dropped);
        }
        if result == Err(PushError::Overflow) {
            tracing::debug!(sid = %self.sid, "outbound queue overflow, closing");
            self.counters.slow_consumer();
            self.close(DisconnectReason::SlowConsumer);
        }
        result
    }

    /// Queues an Engine.IO control packet (open, ping).
    pub(crate) fn push_control(&self, packet: ByteString) -> bool {
        self.push_item(Item::Control(packet))
    }

    /// Queues a complete WebSocket control frame (a pong); only while a WebSocket carries the
    /// session.
    pub(crate) fn push_websocket(&self, frame: Bytes) -> bool {
        self.push_item(Item::WebSocket(frame))
    }

    fn push_item(&self, item: Item) -> bool {
        let (queued, wake) = {
            let mut out = self.out.lock();
            let queued = out.push_control(item);
            (queued, queued && out.take_writer_waiting())
        };
        if wake {
            self.wake_writers();
        }
        queued
    }

    fn wake_writers(&self) {
        self.writer.wake();
        self.out_notify.notify_waiters();
    }

    /// Takes everything queued for the client.
    pub(crate) fn take_outbound(&self) -> VecDeque<Item> {
        self.out.lock().take()
    }

    /// Takes everything queued for a polling GET, or `None` if the session is not on polling
    /// any more; checked and taken atomically so a poll never steals from the WebSocket.
    pub(crate) fn take_for_poll(&self) -> Option<VecDeque<Item>> {
        let state = self.transport.lock();
        if state.kind != TransportKind::Polling {
            return None;
        }
        let mut items = VecDeque::new();
        self.out.lock().take_into(&mut items);
        drop(state);
        Some(items)
    }

    /// For the WebSocket writer: registers `waker` for the next push or state change, then
    /// moves everything queued into `batch`. Only the WebSocket carrying the session calls it.
    pub(crate) fn take_for_websocket(&self, waker: &Waker, batch: &mut VecDeque<Item>) {
        self.writer.register(waker);
        self.out.lock().take_into(batch);
    }

    /// Resolves when something was queued or the session state changed. Writers create it,
    /// `enable()` it, check the queue, and only then await it, so no wake-up is lost.
    pub(crate) fn outbound_changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.out_notify.notified()
    }

    // ----- inbound -----

    /// Handles a packet that is valid on an established transport.
    pub(crate) async fn on_packet(&self, packet: ClientPacket) {
        if let Some(message) = self.on_packet_now(packet) {
            self.forward(message).await;
        }
    }

    /// Handles Engine.IO-level packets at once and returns a message meant for the dispatcher,
    /// for transports that forward it themselves.
    pub(crate) fn on_packet_now(&self, packet: ClientPacket) -> Option<Inbound> {
        match packet {
            ClientPacket::Pong => {
                self.pong.store(true, Ordering::Release);
                self.heartbeat.wake();
            }
            ClientPacket::Message(text) => return Some(Inbound::Text(text)),
            ClientPacket::Binary(data) => return Some(Inbound::Binary(data)),
            ClientPacket::Noop => {}
            ClientPacket::Close => {
                {
                    let mut state = self.transport.lock();
                    if state.kind == TransportKind::Polling && state.client_close == ClientClose::No {
                        state.client_close = ClientClose::NoopOwed;
                    }
                }
                self.close(DisconnectReason::TransportClose);
            }
            // A v4 server never receives pings (the server pings), and `5` is only valid on a
            // WebSocket that is finishing an upgrade.
            ClientPacket::Ping(_) | ClientPacket::Upgrade => self.close(DisconnectReason::ParseError),
        }
        None
    }

    /// The dispatcher's inbound channel, for transports that wait for room in it themselves.
    pub(crate) fn inbound(&self) -> Option<&mpsc::Sender<Inbound>> {
        self.inbound.as_ref()
    }

    async fn forward(&self, message: Inbound) {
        let Some(inbound) = self.inbound.as_ref().filter(|_| !self.is_closed()) else {
            return;
        };
        tokio::select! {
            // An error means the dispatcher is gone, which only happens once the session closed.
            _ = inbound.send(message) => {}
            _ = self.cancel.cancelled() => {}
        }
    }

    // ----- closing -----

    /// Closes the session: nothing more is queued, writers flush what is queued and stop, and
    /// the dispatcher disconnects every socket and forgets the session. The first reason wins.
    pub(crate) fn close(&self, reason: DisconnectReason) {
        {
            let mut current = self.close_reason.lock();
            if current.is_none() {
                *current = Some(reason);
            }
        }
        self.out.lock().close();
        self.closed.store(true, Ordering::Release);
        self.cancel.cancel();
        self.wake_writers();
        self.heartbeat.wake();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn closed(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.cancel.cancelled()
    }

    pub(crate) fn close_reason(&self) -> DisconnectReason {
        self.close_reason.lock().unwrap_or(DisconnectReason::TransportClose)
    }

    // ----- transports -----

    /// Marks a polling GET as in flight. An overlapping GET closes the session, as the
    /// reference server does.
    pub(crate) fn begin_poll(self: &Arc<Self>) -> Result<PollGuard, PollRefusal> {
        self.begin(true)
    }

    /// Marks a polling POST as in flight.
    pub(crate) fn begin_post(self: &Arc<Self>) -> Result<PollGuard, PollRefusal> {
        self.begin(false)
    }

    fn begin(self: &Arc<Self>, get: bool) -> Result<PollGuard, PollRefusal> {
        let mut state = self.transport.lock();
        if state.kind != TransportKind::Polling {
            return Err(PollRefusal::WrongTransport);
        }
        let active = if get { &mut state.get_active } else { &mut state.post_active };
        if *active {
            drop(state);
            self.close(DisconnectReason::TransportError);
            return Err(PollRefusal::Overlap);
        }
        *active = true;
        Ok(PollGuard { session: Arc::clone(self), get })
    }

    /// Starts an upgrade; `false` if the session is not on polling or already upgrading.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let mut state = self.transport.lock();
        if state.kind != TransportKind::Polling || state.upgrade != Upgrade::None {
            return false;
        }
        state.upgrade = Upgrade::Connecting;
        true
    }

    /// `3probe` was sent: release the pending poll.
    pub(crate) fn upgrade_probed(&self) {
        self.transport.lock().upgrade = Upgrade::Probed;
        self.wake_writers();
    }

    pub(crate) fn is_probed(&self) -> bool {
        self.transport.lock().upgrade == Upgrade::Probed
    }

    /// `5` arrived on the WebSocket: it becomes the transport; polling is refused from now on.
    pub(crate) fn finish_upgrade(&self) {
        {
            let mut state = self.transport.lock();
            state.kind = TransportKind::WebSocket;
            state.upgrade = Upgrade::None;
        }
        self.wake_writers();
    }

    /// The probe WebSocket failed or timed out: stay on polling.
    pub(crate) fn abort_upgrade(&self) {
        let mut state = self.transport.lock();
        if state.kind == TransportKind::Polling {
            state.upgrade = Upgrade::None;
        }
    }

    /// The transport carrying the session now.
    pub(crate) fn transport_kind(&self) -> TransportKind {
        self.transport.lock().kind
    }

    /// Whether the client closed this polling session with a close packet, and whether the
    /// noop that answers its GET was sent.
    pub(crate) fn client_close(&self) -> ClientClose {
        self.transport.lock().client_close
    }

    /// Takes the noop owed to a client that closed the session: `true` once, for the GET that
    /// answers with it.
    pub(crate) fn take_close_noop(&self) -> bool {
        let mut state = self.transport.lock();
        if state.client_close == ClientClose::NoopOwed {
            state.client_close = ClientClose::NoopSent;
            return true;
        }
        false
    }

    // ----- heartbeat -----

    /// For the heartbeat: takes the "pong arrived" flag. The caller registered its waker with
    /// [`watch_close`](Self::watch_close) first in the same poll, so a later pong wakes it.
    pub(crate) fn take_pong(&self) -> bool {
        self.pong.swap(false, Ordering::AcqRel)
    }

    /// Whether the session is closed; if not, `waker` is woken when it closes (or a pong
    /// arrives: the heartbeat and the close share one waker, both read by the dispatcher).
    pub(crate) fn watch_close(&self, waker: &Waker) -> bool {
        self.heartbeat.register(waker);
        self.is_closed()
    }

    /// Forgets a pong that arrived before the ping about to be sent.
    pub(crate) fn clear_pong(&self) {
        self.pong.store(false, Ordering::Release);
    }
}

/// Clears the "request in flight" flag of a polling GET or POST when the request ends, however
/// it ends (including the client going away mid-request).
pub(crate) struct PollGuard {
    session: Arc<EngineSession>,
    get: bool,
}

impl Drop for PollGuard {
    fn drop(&mut self) {
        let mut state = self.session.transport.lock();
        if self.get {
            state.get_active = false;
        } else {
            state.post_active = false;
        }
    }
}
