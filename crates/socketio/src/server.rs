//! The server handle: configuration, namespace registry and the table of live sessions.

use std::{collections::HashMap, sync::Arc};

use parking_lot::RwLock;
use socketioxide_core::{Sid, Str};
use tokio::sync::mpsc;

use super::{
    config::EngineConfig,
    dispatch, eio,
    handler::{DisconnectReason, Handshake, NamespaceHandler},
    namespace::{Namespace, Namespaces},
    queue::Outbound,
    session::{EngineSession, TransportKind, INBOUND_QUEUE},
};

pub(crate) struct IoInner {
    pub(crate) config: EngineConfig,
    pub(crate) namespaces: Namespaces,
    sessions: RwLock<HashMap<Sid, Arc<EngineSession>>>,
}

/// A Socket.IO server. Cheap to clone; every clone is the same server. Mount it on actix-web
/// with [`configure`](super::configure).
#[derive(Clone)]
pub struct SocketIo {
    pub(crate) inner: Arc<IoInner>,
}

impl std::fmt::Debug for SocketIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketIo").field("config", &self.inner.config).field("sessions", &self.session_count()).finish()
    }
}

impl SocketIo {
    /// A server with no namespace yet; clients can connect to namespaces registered with
    /// [`namespace`](Self::namespace) (at any time, usually before serving).
    pub fn new(config: EngineConfig) -> Self {
        Self {
            inner: Arc::new(IoInner {
                config,
                namespaces: Namespaces::default(),
                sessions: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Registers `handler` for the namespace `path` (`"/"` is the main namespace; a missing
    /// leading slash is added). Registering a path again replaces it for new connections.
    pub fn namespace<H: NamespaceHandler>(&self, path: &str, handler: H) -> Namespace {
        let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
        Namespace::from_inner(self.inner.namespaces.insert(Str::from(path), Arc::new(handler)))
    }

    /// A registered namespace.
    pub fn of(&self, path: &str) -> Option<Namespace> {
        self.inner.namespaces.get(path).map(Namespace::from_inner)
    }

    /// The configuration the server was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Live Engine.IO sessions (connections), whether or not they joined a namespace.
    pub fn session_count(&self) -> usize {
        self.inner.sessions.read().len()
    }

    /// Non-empty rooms over all namespaces.
    pub fn room_count(&self) -> usize {
        self.inner.namespaces.all().iter().map(|ns| Namespace::from_inner(Arc::clone(ns)).room_count()).sum()
    }

    /// Connected sockets over all namespaces.
    pub fn socket_count(&self) -> usize {
        self.inner.namespaces.all().iter().map(|ns| Namespace::from_inner(Arc::clone(ns)).socket_count()).sum()
    }

    /// Closes every session with [`DisconnectReason::ServerShuttingDown`]. Handlers'
    /// `on_disconnect` run shortly after, on the sessions' own tasks.
    pub fn shutdown(&self) {
        let sessions: Vec<_> = self.inner.sessions.read().values().cloned().collect();
        for session in sessions {
            session.close(DisconnectReason::ServerShuttingDown);
        }
    }
}

impl IoInner {
    pub(crate) fn session(&self, sid: &str) -> Option<Arc<EngineSession>> {
        let sid: Sid = sid.parse().ok()?;
        self.sessions.read().get(&sid).cloned()
    }

    pub(crate) fn remove_session(&self, sid: &Sid) {
        self.sessions.write().remove(sid);
    }

    /// Creates a session whose first outbound packet is the open packet, and starts its
    /// dispatcher and heartbeat tasks.
    pub(crate) fn open_session(self: &Arc<Self>, kind: TransportKind, handshake: Handshake) -> Arc<EngineSession> {
        let (inbound_tx, inbound_rx) = mpsc::channel(INBOUND_QUEUE);
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let outbound = Outbound::new(self.config.outbound_queue_frames, self.config.outbound_queue_bytes);
        let session = {
            let mut sessions = self.sessions.write();
            let sid = loop {
                let sid = Sid::new();
                if !sessions.contains_key(&sid) {
                    break sid;
                }
            };
            let session = Arc::new(EngineSession::new(sid, kind, handshake, outbound, inbound_tx, control_tx));
            session.push_control(eio::open_packet(sid.as_str(), kind == TransportKind::Polling, &self.config));
            sessions.insert(sid, Arc::clone(&session));
            session
        };
        tracing::debug!(sid = %session.sid, transport = kind.name(), "session opened");
        tokio::spawn(dispatch::run(Arc::clone(self), Arc::clone(&session), inbound_rx, control_rx));
        tokio::spawn(Arc::clone(&session).heartbeat(self.config.ping_interval, self.config.ping_timeout));
        session
    }
}
