//! The Engine.IO server: its configuration, the table of live sessions, and the hand-over of
//! every new session to the protocol running on top of it.

use std::{collections::HashMap, sync::Arc, time::Duration};

use parking_lot::RwLock;
use socketioxide_core::Sid;
use tokio::sync::mpsc;

use super::{
    config::EngineConfig,
    handshake::Handshake,
    inbound::{InboundRx, Source},
    packet,
    queue::Outbound,
    reason::DisconnectReason,
    session::{ClientClose, EngineSession, TransportKind, INBOUND_QUEUE},
    stats::{Counters, EngineStats},
    wsframe::WsReader,
};

/// The protocol carried by Engine.IO sessions (Socket.IO). The engine calls it once per new
/// session, so this layer needs to know nothing about what the messages mean.
pub(crate) trait SessionHandler: Send + Sync + 'static {
    /// A session opened: its open packet is queued and it is in the session table. `inbound`
    /// yields the client's messages in order until the session closes (and runs the
    /// heartbeat while it is polled); whoever consumes it must
    /// [`remove_session`](Engine::remove_session) once done with the session. Called on the
    /// worker thread that serves the connection, so the consumer may run there as a local task.
    fn on_open(&self, engine: &Arc<Engine>, session: Arc<EngineSession>, inbound: InboundRx);
}

/// How long a polling session the client closed with a close packet stays known when no GET
/// was waiting: a GET the client sent together with its close (over another connection, which
/// may be served first) still gets the noop, as it would from the reference server.
const CLOSE_NOOP_GRACE: Duration = Duration::from_secs(1);

/// Configuration plus the live sessions by id. Transports look sessions up here and open new
/// ones through [`open_session`](Self::open_session).
pub(crate) struct Engine {
    pub(crate) config: EngineConfig,
    sessions: RwLock<HashMap<Sid, Arc<EngineSession>>>,
    handler: Box<dyn SessionHandler>,
    counters: Arc<Counters>,
}

impl Engine {
    pub(crate) fn new(config: EngineConfig, handler: impl SessionHandler) -> Self {
        Self {
            config,
            sessions: RwLock::new(HashMap::new()),
            handler: Box::new(handler),
            counters: Arc::new(Counters::default()),
        }
    }

    /// The live session with this id, if the id is valid and known.
    pub(crate) fn session(&self, sid: &str) -> Option<Arc<EngineSession>> {
        let sid: Sid = sid.parse().ok()?;
        self.sessions.read().get(&sid).cloned()
    }

    /// Forgets a session the protocol above is done with. One the client closed over polling
    /// whose GET has not had its noop yet is forgotten [`CLOSE_NOOP_GRACE`] later.
    pub(crate) fn remove_session(self: &Arc<Self>, sid: &Sid) {
        let owed = self.sessions.read().get(sid).is_some_and(|s| s.client_close() == ClientClose::NoopOwed);
        if owed {
            let engine = Arc::clone(self);
            let sid = *sid;
            tokio::spawn(async move {
                tokio::time::sleep(CLOSE_NOOP_GRACE).await;
                engine.sessions.write().remove(&sid);
            });
            return;
        }
        self.sessions.write().remove(sid);
    }

    /// Live sessions, whether or not the protocol above did anything with them yet.
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Open sessions by transport, and the counters. Takes the session table's read lock for
    /// as long as it counts (a scrape, not a hot path).
    pub(crate) fn stats(&self) -> EngineStats {
        let mut stats = EngineStats {
            dropped_frames: self.counters.dropped_frames(),
            slow_consumers: self.counters.slow_consumers(),
            ..EngineStats::default()
        };
        for session in self.sessions.read().values().filter(|s| !s.is_closed()) {
            match session.transport_kind() {
                TransportKind::Polling => stats.polling_sessions += 1,
                TransportKind::WebSocket => stats.websocket_sessions += 1,
            }
        }
        stats
    }

    /// Closes every live session with `reason`.
    pub(crate) fn close_all(&self, reason: DisconnectReason) {
        let sessions: Vec<_> = self.sessions.read().values().cloned().collect();
        for session in sessions {
            session.close(reason);
        }
    }

    /// Creates a session whose first outbound packet is the open packet and hands it to the
    /// protocol above. A direct WebSocket passes its `reader`, which the protocol above reads in
    /// its own task; polling sessions get a channel that their POSTs (and a later upgraded
    /// WebSocket) feed.
    pub(crate) fn open_session(
        self: &Arc<Self>,
        kind: TransportKind,
        handshake: Handshake,
        reader: Option<WsReader>,
    ) -> Arc<EngineSession> {
        let (inbound_tx, source) = match reader {
            Some(reader) => (None, Source::WebSocket(reader)),
            None => {
                let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
                (Some(tx), Source::Channel(rx))
            }
        };
        let outbound = Outbound::new(self.config.outbound_queue_frames, self.config.outbound_queue_bytes);
        let session = {
            let mut sessions = self.sessions.write();
            let sid = loop {
                let sid = Sid::new();
                if !sessions.contains_key(&sid) {
                    break sid;
                }
            };
            let session =
                Arc::new(EngineSession::new(sid, kind, handshake, outbound, inbound_tx, Arc::clone(&self.counters)));
            session.push_control(packet::open_packet(sid.as_str(), kind == TransportKind::Polling, &self.config));
            sessions.insert(sid, Arc::clone(&session));
            session
        };
        tracing::debug!(sid = %session.sid, transport = kind.name(), "session opened");
        let inbound = InboundRx::new(Arc::clone(&session), source, self.config.ping_interval, self.config.ping_timeout);
        self.handler.on_open(self, Arc::clone(&session), inbound);
        session
    }
}
