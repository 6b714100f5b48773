//! The Socket.IO side of one session: decodes client messages in order, runs namespace
//! handlers, enforces the connect timeout, and cleans up every socket when the session closes.

use std::{future::Future, panic::AssertUnwindSafe, pin::Pin, sync::Arc, task::Poll};

use futures_util::FutureExt as _;
use parking_lot::Mutex;
use serde_json::json;
use socketioxide_core::Str;
use tokio::{
    sync::Notify,
    time::{sleep_until, Instant, Sleep},
};

use crate::{
    ack::AckSender,
    engineio::{
        engine::{Engine, SessionHandler},
        inbound::InboundRx,
        reason::DisconnectReason,
        session::{EngineSession, Inbound},
    },
    namespace::{Namespaces, NsEntry},
    packet::{self, Decoder, Incoming},
    payload::Payload,
    pipeline::Pipeline,
    socket::{OnServerDisconnect, Socket},
};

/// Runs the Socket.IO side of every new Engine.IO session: one dispatcher task per session,
/// which on a direct WebSocket also reads the connection and runs the heartbeat, so that is
/// the connection's only task.
pub(crate) struct Dispatch {
    namespaces: Arc<Namespaces>,
}

impl Dispatch {
    pub(crate) fn new(namespaces: Arc<Namespaces>) -> Self {
        Self { namespaces }
    }
}

impl SessionHandler for Dispatch {
    fn on_open(&self, engine: &Arc<Engine>, session: Arc<EngineSession>, inbound: InboundRx) {
        // A local task: a direct WebSocket's reader is the request body, which lives on the
        // worker thread that serves the connection.
        actix_web::rt::spawn(run(Arc::clone(engine), Arc::clone(&self.namespaces), session, inbound));
    }
}

/// Requests to the session's dispatcher from other tasks.
enum Control {
    /// The server disconnected this socket (of this namespace); the dispatcher forgets it and
    /// runs the handler's `on_disconnect`.
    Disconnected(Socket, Arc<NsEntry>),
}

/// The dispatcher's inbox for [`Control`] requests. They are rare (a server-side disconnect), so
/// a list behind a lock that allocates only when used, and a wake-up, rather than a channel
/// whose first block every session would carry.
#[derive(Default)]
struct Controls {
    /// Requests not yet taken, and whether the dispatcher is gone (then nothing is kept).
    queue: Mutex<(Vec<Control>, bool)>,
    /// Stores a permit when nobody waits, so a request made while the dispatcher is busy is
    /// seen on its next turn.
    wake: Notify,
}

impl Controls {
    fn send(&self, control: Control) {
        {
            let mut queue = self.queue.lock();
            if queue.1 {
                return;
            }
            queue.0.push(control);
        }
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<Control> {
        std::mem::take(&mut self.queue.lock().0)
    }

    /// Refuses later requests and returns the pending ones.
    fn close(&self) -> Vec<Control> {
        let mut queue = self.queue.lock();
        queue.1 = true;
        std::mem::take(&mut queue.0)
    }
}

/// What a message asks for once decoded, when it is not a pipelined event.
enum Step {
    /// An event that is not pipelined, for a connected socket.
    Event { connected: Connected, event: String, payload: Payload, ack: Option<i64> },
    /// Any other packet.
    Packet(Incoming),
}

/// The handler's call for one event, with its ack.
fn call(connected: Connected, event: String, payload: Payload, ack: Option<i64>) -> impl Future<Output = ()> {
    let Connected { socket, ns } = connected;
    let ack = ack.map(|id| AckSender::new(socket.clone(), id));
    async move { ns.handler.on_event(&socket, event, payload, ack).await }
}

/// A socket connected on this session, with the namespace it belongs to.
#[derive(Clone)]
struct Connected {
    socket: Socket,
    ns: Arc<NsEntry>,
}

struct Dispatcher {
    engine: Arc<Engine>,
    namespaces: Arc<Namespaces>,
    session: Arc<EngineSession>,
    decoder: Decoder,
    /// Connected sockets of this session, one per namespace: almost always one, so a list
    /// rather than a map (whose smallest table is 0.2 KiB).
    sockets: Vec<Connected>,
    /// When the session is closed unless a namespace connects first.
    connect_deadline: Option<Instant>,
    /// Given to every socket, which reports a server-side disconnect through it.
    control: Arc<Controls>,
}

/// Runs until the session closes, then disconnects its sockets and forgets the session.
// Not an `async fn`: one keeps its arguments twice in its future (the argument, then the
// binding it is moved to), and `inbound` is the largest part of an idle connection's task.
#[allow(clippy::manual_async_fn)]
fn run(
    engine: Arc<Engine>,
    namespaces: Arc<Namespaces>,
    session: Arc<EngineSession>,
    mut inbound: InboundRx,
) -> impl Future<Output = ()> {
    async move {
        let control = Arc::new(Controls::default());
        // Outside the dispatcher: its calls run while the dispatcher handles the next packet.
        let mut pipeline = Pipeline::new(engine.config.max_pipelined_events);
        let mut dispatcher = Dispatcher {
            decoder: Decoder::new(engine.config.max_attachments),
            connect_deadline: Some(Instant::now() + engine.config.connect_timeout),
            sockets: Vec::new(),
            engine,
            namespaces,
            session: Arc::clone(&session),
            control: Arc::clone(&control),
        };
        // The connect timeout's timer, only while it is armed: an idle connected socket does not
        // carry one in its task.
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        loop {
            match (dispatcher.connect_deadline, timer.as_mut()) {
                (None, _) => timer = None,
                (Some(at), Some(sleep)) if sleep.deadline() != at => sleep.as_mut().reset(at),
                (Some(_), Some(_)) => {}
                (Some(at), None) => timer = Some(Box::pin(sleep_until(at))),
            }
            tokio::select! {
                // Messages that arrived before the session closed are still handled (a POST may
                // carry events followed by a close packet); transports stop forwarding on close.
                biased;
                () = control.wake.notified() => {
                    dispatcher.drain(&mut pipeline).await;
                    for request in control.take() {
                        // Boxed, like every rare step: a task is as large as its largest state, and
                        // an idle connection should only pay for the loop.
                        Box::pin(dispatcher.on_control(request)).await;
                    }
                }
                // Before the next packet: the calls pushed for the last one start first.
                Some(ok) = pipeline.next(), if !pipeline.is_empty() => {
                    if !ok {
                        dispatcher.handler_panicked("on_event");
                    }
                }
                message = inbound.recv(), if pipeline.has_room() => {
                    // `None`: the session closed.
                    let Some(message) = message else { break };
                    // A pipelined event starts here without an await; anything else is boxed,
                    // so the task's size is its loop's, not that of the deepest handling step.
                    if let Some(packet) = dispatcher.on_inbound(message, &mut pipeline) {
                        Box::pin(dispatcher.on_packet(packet, &mut pipeline)).await;
                    }
                }
                () = std::future::poll_fn(|cx| timer.as_mut().map_or(Poll::Pending, |sleep| sleep.as_mut().poll(cx))),
                    if timer.is_some() => {
                    if dispatcher.sockets.is_empty() {
                        tracing::debug!(sid = %session.sid, "connect timeout");
                        session.close(DisconnectReason::ConnectTimeout);
                    }
                    dispatcher.connect_deadline = None;
                }
            }
        }
        // The calls in flight finish (their acks go nowhere) before the sockets are forgotten.
        dispatcher.drain(&mut pipeline).await;
        Box::pin(dispatcher.cleanup()).await;
    }
}

impl Dispatcher {
    /// Waits for every pipelined call in flight.
    async fn drain(&self, pipeline: &mut Pipeline) {
        if !pipeline.is_empty() && !pipeline.drain().await {
            self.handler_panicked("on_event");
        }
    }

    /// Decodes a message and starts it if it is a pipelined event; returns any other packet
    /// for [`on_packet`](Self::on_packet).
    fn on_inbound(&mut self, message: Inbound, pipeline: &mut Pipeline) -> Option<Step> {
        let decoded = match message {
            Inbound::Text(text) => self.decoder.text(text),
            Inbound::Binary(data) => self.decoder.binary(data),
        };
        match decoded {
            Ok(Some(Incoming::Event { ns, event, payload, ack })) => {
                let connected = self.socket_for(&ns)?;
                if !connected.ns.handler.pipelined(&event) {
                    return Some(Step::Event { connected, event, payload, ack });
                }
                if connected.socket.is_connected() {
                    pipeline.push(call(connected, event, payload, ack));
                }
                None
            }
            Ok(Some(packet)) => Some(Step::Packet(packet)),
            Ok(None) => None,
            Err(err) => {
                tracing::debug!(sid = %self.session.sid, error = %err, "invalid socket.io packet");
                self.session.close(DisconnectReason::ParseError);
                None
            }
        }
    }

    /// A packet that waits for every pipelined call before it, then runs alone.
    async fn on_packet(&mut self, step: Step, pipeline: &mut Pipeline) {
        self.drain(pipeline).await;
        let packet = match step {
            Step::Event { connected, event, payload, ack } => {
                // After the drain: a call before this one may have disconnected the socket.
                if connected.socket.is_connected() && guarded(call(connected, event, payload, ack)).await.is_none() {
                    self.handler_panicked("on_event");
                }
                return;
            }
            Step::Packet(packet) => packet,
        };
        if self.session.is_closed() && matches!(packet, Incoming::Connect { .. }) {
            return;
        }
        match packet {
            Incoming::Connect { ns, auth } => self.connect(ns, auth).await,
            Incoming::Disconnect { ns } => {
                // A DISCONNECT for a namespace the server has just left is a harmless race.
                if let Some(connected) = self.remove_socket(&ns) {
                    self.forget(&connected, DisconnectReason::ClientNamespaceDisconnect).await;
                    self.rearm_connect_timeout();
                }
            }
            Incoming::Ack { ns } => {
                let _ = self.socket_for(&ns);
            }
            // Events are steps of their own.
            Incoming::Event { .. } => {}
        }
    }

    /// Forgets the socket of a namespace, if connected.
    fn remove_socket(&mut self, ns: &Str) -> Option<Connected> {
        let at = self.sockets.iter().position(|c| c.ns.registry.path() == ns)?;
        Some(self.sockets.swap_remove(at))
    }

    /// The socket of a namespace this session is connected to; a packet for any other
    /// namespace is a protocol violation that closes the session (as the reference does).
    fn socket_for(&self, ns: &Str) -> Option<Connected> {
        let socket = self.sockets.iter().find(|c| c.ns.registry.path() == ns).cloned();
        if socket.is_none() {
            tracing::debug!(sid = %self.session.sid, ns = ns.as_str(), "packet for a namespace that is not connected");
            self.session.close(DisconnectReason::ParseError);
        }
        socket
    }

    async fn connect(&mut self, ns: Str, auth: serde_json::Value) {
        let Some(entry) = self.namespaces.get(ns.as_str()) else {
            let _ =
                self.session.push_frame(packet::connect_error_frame(&ns, &json!({ "message": "Invalid namespace" })));
            return;
        };
        if self.sockets.iter().any(|c| c.ns.registry.path() == &ns) {
            tracing::debug!(sid = %self.session.sid, ns = ns.as_str(), "duplicate connect ignored");
            return;
        }
        let socket = Socket::new(
            Arc::clone(&entry.registry),
            Arc::clone(&self.session),
            self.engine.config.outbound_queue_frames,
            self.on_server_disconnect(&entry),
        );
        let handler = Arc::clone(&entry.handler);
        let outcome = guarded(handler.on_connect(socket.clone(), auth, &self.session.handshake)).await;
        match outcome {
            Some(Ok(())) => {
                if socket.activate() {
                    entry.registry.insert_socket(socket.id(), socket.clone());
                    self.sockets.push(Connected { socket, ns: entry });
                    self.connect_deadline = None;
                } else {
                    // Disconnected from inside on_connect.
                    socket.leave_all();
                    self.call_on_disconnect(&socket, &entry, DisconnectReason::ServerNamespaceDisconnect).await;
                }
            }
            Some(Err(data)) => socket.reject(&data),
            None => {
                socket.reject(&json!({ "message": "internal error" }));
                self.handler_panicked("on_connect");
            }
        }
    }

    /// How a socket of `entry` created on this session reports that the server disconnected it.
    fn on_server_disconnect(&self, entry: &Arc<NsEntry>) -> OnServerDisconnect {
        let control = Arc::clone(&self.control);
        let entry = Arc::clone(entry);
        Box::new(move |socket| {
            // Dropped once the dispatcher is gone, which only happens once it has forgotten
            // every socket of the session.
            control.send(Control::Disconnected(socket, Arc::clone(&entry)));
        })
    }

    async fn on_control(&mut self, control: Control) {
        match control {
            Control::Disconnected(socket, entry) => {
                let ns = entry.registry.path().clone();
                if let Some(at) =
                    self.sockets.iter().position(|c| c.ns.registry.path() == &ns && c.socket.same_as(&socket))
                {
                    self.sockets.swap_remove(at);
                }
                // `disconnect()` already left the rooms; this catches a socket registered in
                // the namespace concurrently with its disconnect.
                socket.leave_all();
                entry.registry.remove_socket(&socket.id());
                self.call_on_disconnect(&socket, &entry, DisconnectReason::ServerNamespaceDisconnect).await;
                self.rearm_connect_timeout();
            }
        }
    }

    /// Closes a socket, removes it from its namespace and rooms, and runs `on_disconnect`
    /// unless the server already disconnected it (then `on_control` runs it).
    async fn forget(&self, connected: &Connected, reason: DisconnectReason) {
        let Connected { socket, ns } = connected;
        let was_open = socket.close_local();
        socket.leave_all();
        ns.registry.remove_socket(&socket.id());
        if was_open {
            self.call_on_disconnect(socket, ns, reason).await;
        }
    }

    async fn call_on_disconnect(&self, socket: &Socket, ns: &NsEntry, reason: DisconnectReason) {
        let handler = Arc::clone(&ns.handler);
        if guarded(handler.on_disconnect(socket, reason)).await.is_none() {
            self.handler_panicked("on_disconnect");
        }
    }

    fn rearm_connect_timeout(&mut self) {
        if self.sockets.is_empty() && !self.session.is_closed() {
            self.connect_deadline = Some(Instant::now() + self.engine.config.connect_timeout);
        }
    }

    fn handler_panicked(&self, which: &str) {
        tracing::error!(sid = %self.session.sid, handler = which, "namespace handler panicked; closing the connection");
        self.session.close(DisconnectReason::HandlerPanic);
    }

    async fn cleanup(mut self) {
        // Every exit path ends here: make sure nothing more is queued or forwarded, and make
        // the sid unknown to new requests before running handlers.
        self.session.close(DisconnectReason::TransportClose);
        self.engine.remove_session(&self.session.sid);
        let reason = self.session.close_reason();
        let sockets = std::mem::take(&mut self.sockets);
        for connected in sockets {
            self.forget(&connected, reason).await;
        }
        for request in self.control.close() {
            self.on_control(request).await;
        }
        tracing::debug!(sid = %self.session.sid, %reason, "session closed");
    }
}

/// Runs a handler future, turning a panic into `None` so one connection's bug cannot take the
/// process (or other connections) down.
async fn guarded<F: Future>(future: F) -> Option<F::Output> {
    AssertUnwindSafe(future).catch_unwind().await.ok()
}
