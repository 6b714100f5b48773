//! The Socket.IO side of one session: decodes client messages in order, runs namespace
//! handlers, enforces the connect timeout, and cleans up every socket when the session closes.

use std::{collections::HashMap, future::Future, panic::AssertUnwindSafe, sync::Arc};

use futures_util::FutureExt as _;
use serde_json::json;
use socketioxide_core::Str;
use tokio::{
    sync::mpsc,
    time::{sleep_until, Instant},
};

use super::{
    handler::DisconnectReason,
    server::IoInner,
    session::{Control, EngineSession, Inbound},
    sio::{self, Decoder, Incoming},
    socket::{AckSender, Socket},
};

struct Dispatcher {
    io: Arc<IoInner>,
    session: Arc<EngineSession>,
    decoder: Decoder,
    /// Connected sockets of this session, by namespace.
    sockets: HashMap<Str, Socket>,
    /// When the session is closed unless a namespace connects first.
    connect_deadline: Option<Instant>,
}

/// Runs until the session closes, then disconnects its sockets and forgets the session.
pub(crate) async fn run(
    io: Arc<IoInner>,
    session: Arc<EngineSession>,
    mut inbound: mpsc::Receiver<Inbound>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    let mut dispatcher = Dispatcher {
        decoder: Decoder::new(io.config.max_attachments),
        connect_deadline: Some(Instant::now() + io.config.connect_timeout),
        sockets: HashMap::new(),
        io,
        session: Arc::clone(&session),
    };
    loop {
        let deadline = dispatcher.connect_deadline;
        tokio::select! {
            // Messages that arrived before the session closed are still handled (a POST may
            // carry events followed by a close packet); transports stop forwarding on close.
            biased;
            Some(control) = control.recv() => dispatcher.on_control(control).await,
            Some(message) = inbound.recv() => dispatcher.on_inbound(message).await,
            () = session.closed() => break,
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                if dispatcher.sockets.is_empty() {
                    tracing::debug!(sid = %session.sid, "connect timeout");
                    session.close(DisconnectReason::ConnectTimeout);
                }
                dispatcher.connect_deadline = None;
            }
        }
    }
    dispatcher.cleanup(control).await;
}

impl Dispatcher {
    async fn on_inbound(&mut self, message: Inbound) {
        let decoded = match message {
            Inbound::Text(text) => self.decoder.text(text),
            Inbound::Binary(data) => self.decoder.binary(data),
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet).await,
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(sid = %self.session.sid, error = %err, "invalid socket.io packet");
                self.session.close(DisconnectReason::ParseError);
            }
        }
    }

    async fn on_packet(&mut self, packet: Incoming) {
        if self.session.is_closed() && matches!(packet, Incoming::Connect { .. }) {
            return;
        }
        match packet {
            Incoming::Connect { ns, auth } => self.connect(ns, auth).await,
            Incoming::Disconnect { ns } => {
                // A DISCONNECT for a namespace the server has just left is a harmless race.
                if let Some(socket) = self.sockets.remove(&ns) {
                    self.forget(&socket, DisconnectReason::ClientNamespaceDisconnect).await;
                    self.rearm_connect_timeout();
                }
            }
            Incoming::Event { ns, event, payload, ack } => {
                let Some(socket) = self.socket_for(&ns) else {
                    return;
                };
                if !socket.is_connected() {
                    return;
                }
                let ack = ack.map(|id| AckSender::new(socket.clone(), id));
                let handler = Arc::clone(&socket.ns_inner().handler);
                if guarded(handler.on_event(&socket, event, payload, ack)).await.is_none() {
                    self.handler_panicked("on_event");
                }
            }
            Incoming::Ack { ns } => {
                let _ = self.socket_for(&ns);
            }
        }
    }

    /// The socket of a namespace this session is connected to; a packet for any other
    /// namespace is a protocol violation that closes the session (as the reference does).
    fn socket_for(&self, ns: &Str) -> Option<Socket> {
        let socket = self.sockets.get(ns).cloned();
        if socket.is_none() {
            tracing::debug!(sid = %self.session.sid, ns = ns.as_str(), "packet for a namespace that is not connected");
            self.session.close(DisconnectReason::ParseError);
        }
        socket
    }

    async fn connect(&mut self, ns: Str, auth: serde_json::Value) {
        let Some(ns_inner) = self.io.namespaces.get(ns.as_str()) else {
            let _ = self.session.push_frame(sio::connect_error_frame(&ns, &json!({ "message": "Invalid namespace" })));
            return;
        };
        if self.sockets.contains_key(&ns) {
            tracing::debug!(sid = %self.session.sid, ns = ns.as_str(), "duplicate connect ignored");
            return;
        }
        let socket =
            Socket::new(Arc::clone(&ns_inner), Arc::clone(&self.session), self.io.config.outbound_queue_frames);
        let handler = Arc::clone(&ns_inner.handler);
        let outcome = guarded(handler.on_connect(socket.clone(), auth, &self.session.handshake)).await;
        match outcome {
            Some(Ok(())) => {
                if socket.activate() {
                    ns_inner.insert_socket(socket.clone());
                    self.sockets.insert(ns, socket);
                    self.connect_deadline = None;
                } else {
                    // Disconnected from inside on_connect.
                    socket.leave_all();
                    self.call_on_disconnect(&socket, DisconnectReason::ServerNamespaceDisconnect).await;
                }
            }
            Some(Err(data)) => socket.reject(&data),
            None => {
                socket.reject(&json!({ "message": "internal error" }));
                self.handler_panicked("on_connect");
            }
        }
    }

    async fn on_control(&mut self, control: Control) {
        match control {
            Control::Disconnected(socket) => {
                let ns = socket.ns_inner().path.clone();
                if self.sockets.get(&ns).is_some_and(|s| s.same_as(&socket)) {
                    self.sockets.remove(&ns);
                }
                // `disconnect()` already left the rooms; this catches a socket registered in
                // the namespace concurrently with its disconnect.
                socket.leave_all();
                socket.ns_inner().remove_socket(&socket.id());
                self.call_on_disconnect(&socket, DisconnectReason::ServerNamespaceDisconnect).await;
                self.rearm_connect_timeout();
            }
        }
    }

    /// Closes a socket, removes it from its namespace and rooms, and runs `on_disconnect`
    /// unless the server already disconnected it (then `on_control` runs it).
    async fn forget(&self, socket: &Socket, reason: DisconnectReason) {
        let was_open = socket.close_local();
        socket.leave_all();
        socket.ns_inner().remove_socket(&socket.id());
        if was_open {
            self.call_on_disconnect(socket, reason).await;
        }
    }

    async fn call_on_disconnect(&self, socket: &Socket, reason: DisconnectReason) {
        let handler = Arc::clone(&socket.ns_inner().handler);
        if guarded(handler.on_disconnect(socket, reason)).await.is_none() {
            self.handler_panicked("on_disconnect");
        }
    }

    fn rearm_connect_timeout(&mut self) {
        if self.sockets.is_empty() && !self.session.is_closed() {
            self.connect_deadline = Some(Instant::now() + self.io.config.connect_timeout);
        }
    }

    fn handler_panicked(&self, which: &str) {
        tracing::error!(sid = %self.session.sid, handler = which, "namespace handler panicked; closing the connection");
        self.session.close(DisconnectReason::HandlerPanic);
    }

    async fn cleanup(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        // Every exit path ends here: make sure nothing more is queued or forwarded, and make
        // the sid unknown to new requests before running handlers.
        self.session.close(DisconnectReason::TransportClose);
        self.io.remove_session(&self.session.sid);
        let reason = self.session.close_reason();
        let sockets: Vec<Socket> = self.sockets.drain().map(|(_, socket)| socket).collect();
        for socket in sockets {
            self.forget(&socket, reason).await;
        }
        control.close();
        while let Ok(control) = control.try_recv() {
            self.on_control(control).await;
        }
        tracing::debug!(sid = %self.session.sid, %reason, "session closed");
    }
}

/// Runs a handler future, turning a panic into `None` so one connection's bug cannot take the
/// process (or other connections) down.
async fn guarded<F: Future>(future: F) -> Option<F::Output> {
    AssertUnwindSafe(future).catch_unwind().await.ok()
}
