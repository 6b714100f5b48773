//! What the dispatcher reads from a session: the client's messages, read straight from a
//! direct WebSocket in the dispatcher's own task or from the channel that polling POSTs and
//! upgraded WebSockets feed, with the session's heartbeat driven by the same poll.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytestring::ByteString;
use tokio::{sync::mpsc, time::Sleep};

use super::{
    packet::{self, ClientPacket},
    reason::DisconnectReason,
    session::{EngineSession, Inbound},
    wsframe::{self, WsMessage, WsReadError, WsReader},
};

/// Messages handed over in a row before the dispatcher's task yields once, so that the
/// connection's writer (the HTTP dispatcher, on the same thread) drains what their handlers
/// queued before a flooding client makes the queue overflow.
const MAX_STREAK: u8 = 32;

/// Where the client's messages come from.
pub(crate) enum Source {
    Channel(mpsc::Receiver<Inbound>),
    WebSocket(WsReader),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Beat {
    /// Waiting to send the next ping.
    Idle,
    /// A ping was sent; the timer is its deadline.
    AwaitingPong,
}

/// The server's ping every `interval`, and the session's end when a pong does not follow
/// within `timeout`; one timer, no task of its own.
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    state: Beat,
    timer: Pin<Box<Sleep>>,
}

impl Heartbeat {
    fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout, state: Beat::Idle, timer: Box::pin(tokio::time::sleep(interval)) }
    }

    /// Ready when the session must close for lack of a pong. Polled only after
    /// [`EngineSession::watch_close`] registered the task's waker, which a pong also wakes.
    fn poll(&mut self, cx: &mut Context<'_>, session: &EngineSession) -> Poll<()> {
        loop {
            if self.state == Beat::AwaitingPong && session.take_pong() {
                // The next ping follows `interval` after the pong, as before.
                self.state = Beat::Idle;
                let next = tokio::time::Instant::now() + self.interval;
                self.timer.as_mut().reset(next);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            match self.state {
                Beat::Idle => {
                    session.clear_pong();
                    if !session.push_control(ByteString::from_static(packet::PING)) {
                        // Closed: the dispatcher sees it through the session.
                        return Poll::Pending;
                    }
                    self.state = Beat::AwaitingPong;
                    let deadline = tokio::time::Instant::now() + self.timeout;
                    self.timer.as_mut().reset(deadline);
                }
                Beat::AwaitingPong => return Poll::Ready(()),
            }
        }
    }
}

/// The client's messages for the dispatcher, in order, plus the heartbeat.
pub(crate) struct InboundRx {
    session: Arc<EngineSession>,
    source: Source,
    heartbeat: Heartbeat,
    ended: bool,
    /// Messages handed over since the task last yielded.
    streak: u8,
}

impl InboundRx {
    /// Reads `source`, with a ping every `interval` answered within `timeout`.
    pub(crate) fn new(session: Arc<EngineSession>, source: Source, interval: Duration, timeout: Duration) -> Self {
        Self { session, source, heartbeat: Heartbeat::new(interval, timeout), ended: false, streak: 0 }
    }

    /// The next message for the dispatcher; `None` once the session is closed, from this side
    /// (the client went away, broke a bound, or missed a pong) or any other, and every message
    /// that arrived before the close was handed over. Cancel-safe: everything in progress
    /// lives in `self`.
    pub(crate) async fn recv(&mut self) -> Option<Inbound> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.streak >= MAX_STREAK {
            self.streak = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // Reading comes first, so a pong that arrived while a handler ran counts before the
        // heartbeat checks its deadline.
        let read = match &mut self.source {
            Source::Channel(rx) => rx.poll_recv(cx),
            // A closed session reads nothing more from its WebSocket; the dispatcher stops.
            Source::WebSocket(_) if self.session.is_closed() => Poll::Pending,
            Source::WebSocket(reader) => poll_websocket(&self.session, reader, cx),
        };
        match read {
            Poll::Ready(Some(message)) => {
                self.streak += 1;
                return Poll::Ready(Some(message));
            }
            Poll::Ready(None) => {
                self.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => self.streak = 0,
        }
        // Registered before the check: a close from another task wakes this one.
        if self.session.watch_close(cx.waker()) {
            self.ended = true;
            return Poll::Ready(None);
        }
        if self.heartbeat.poll(cx, &self.session).is_ready() {
            tracing::debug!(sid = %self.session.sid, "ping timeout");
            self.session.close(DisconnectReason::PingTimeout);
            self.ended = true;
            return Poll::Ready(None);
        }
        Poll::Pending
    }
}

/// What a WebSocket message means for the session.
pub(crate) enum Step {
    /// A message for the dispatcher.
    Forward(Inbound),
    /// Handled here (a pong, a WebSocket ping); read on.
    Continue,
    /// The session was closed.
    Closed,
}

/// Handles one WebSocket message (or read error) on a WebSocket that carries the session.
pub(crate) fn on_websocket_message(session: &EngineSession, message: Option<Result<WsMessage, WsReadError>>) -> Step {
    let packet = match message {
        Some(Ok(WsMessage::Text(text))) => match packet::decode_text(&text) {
            Ok(packet) => packet,
            Err(err) => {
                tracing::debug!(sid = %session.sid, error = %err, "invalid engine.io packet");
                session.close(DisconnectReason::ParseError);
                return Step::Closed;
            }
        },
        Some(Ok(WsMessage::Binary(data))) => ClientPacket::Binary(data),
        Some(Ok(WsMessage::Ping(data))) => {
            session.push_websocket(wsframe::pong_frame(&data));
            return Step::Continue;
        }
        Some(Ok(WsMessage::Pong)) => return Step::Continue,
        Some(Ok(WsMessage::Close)) | None => {
            session.close(DisconnectReason::TransportClose);
            return Step::Closed;
        }
        Some(Err(WsReadError::TooLarge)) => {
            session.close(DisconnectReason::PayloadTooLarge);
            return Step::Closed;
        }
        Some(Err(err)) => {
            tracing::debug!(sid = %session.sid, error = %err, "websocket read error");
            session.close(DisconnectReason::TransportError);
            return Step::Closed;
        }
    };
    match session.on_packet_now(packet) {
        Some(message) => Step::Forward(message),
        None if session.is_closed() => Step::Closed,
        None => Step::Continue,
    }
}

fn poll_websocket(session: &EngineSession, reader: &mut WsReader, cx: &mut Context<'_>) -> Poll<Option<Inbound>> {
    loop {
        let message = std::task::ready!(reader.poll_message(cx));
        match on_websocket_message(session, message) {
            Step::Forward(message) => return Poll::Ready(Some(message)),
            Step::Continue => {}
            Step::Closed => return Poll::Ready(None),
        }
    }
}
