//! The application's handle on one client in one namespace: emit, rooms, acks, disconnect.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;

use crate::{
    engineio::{frame::Frame, queue::PushError, session::EngineSession},
    packet::{self, check_event},
    payload::{EmitError, Payload},
    registry::{add_member, remove_member, Registry},
    socket_id::SocketId,
};

/// Tells the session's dispatcher that the server disconnected a socket, so that it forgets the
/// socket and runs the namespace handler's `on_disconnect`. The dispatcher sets it when it
/// creates the socket: it knows the handler, which this layer below handlers cannot name.
pub(crate) type OnServerDisconnect = Box<dyn Fn(Socket) + Send + Sync>;

#[derive(Debug)]
enum State {
    /// `on_connect` is running: frames wait here and follow the CONNECT acknowledgement.
    Connecting(Vec<Frame>),
    Connected,
    Closed,
}

/// Most frames held for one room while a catch-up is read; more means the socket cannot be
/// caught up consistently, and it is disconnected on release (it can catch up again).
const MAX_HELD_FRAMES: usize = 4096;

/// Live frames of one room held back while the application prepares a catch-up.
#[derive(Default)]
struct Held {
    frames: Vec<Frame>,
    overflowed: bool,
}

struct Rooms {
    names: HashSet<Arc<str>>,
    /// Rooms whose live frames are held back until `release_room`.
    held: HashMap<Arc<str>, Held>,
    /// Set when the socket is cleaned up, so a late `join` cannot leak a membership.
    closed: bool,
}

pub(crate) struct SocketCore {
    id: SocketId,
    ns: Arc<Registry<Socket>>,
    engine: Arc<EngineSession>,
    on_server_disconnect: OnServerDisconnect,
    state: Mutex<State>,
    rooms: Mutex<Rooms>,
    /// How many rooms are held (`rooms.held.len()`), written under the `rooms` lock, so that a
    /// broadcast to a socket that holds nothing (nearly always) skips that lock: one lock fewer
    /// per delivery. A hold starts under the registry's write lock, which no broadcast overlaps,
    /// and ends after its frames are queued, so a broadcast that reads 0 queues behind them.
    held_rooms: AtomicUsize,
    max_pending: usize,
}

impl SocketCore {
    /// Publishes how many rooms `rooms` (this socket's, locked by the caller) holds; called
    /// after every change to `rooms.held`.
    fn count_held(&self, rooms: &Rooms) {
        self.held_rooms.store(rooms.held.len(), Ordering::Release);
    }
}

/// One client connected to one namespace. Cheap to clone; every clone is the same socket.
#[derive(Clone)]
pub struct Socket {
    core: Arc<SocketCore>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket").field("id", &self.core.id).field("ns", &self.core.ns.path().as_str()).finish()
    }
}

impl Socket {
    pub(crate) fn new(
        ns: Arc<Registry<Socket>>,
        engine: Arc<EngineSession>,
        max_pending: usize,
        on_server_disconnect: OnServerDisconnect,
    ) -> Self {
        Self {
            core: Arc::new(SocketCore {
                id: SocketId::new(),
                ns,
                engine,
                on_server_disconnect,
                state: Mutex::new(State::Connecting(Vec::new())),
                rooms: Mutex::new(Rooms { names: HashSet::new(), held: HashMap::new(), closed: false }),
                held_rooms: AtomicUsize::new(0),
                max_pending,
            }),
        }
    }

    /// This socket's id.
    pub fn id(&self) -> SocketId {
        self.core.id
    }

    /// Whether the socket is still connected (or still connecting).
    pub(crate) fn is_connected(&self) -> bool {
        !matches!(*self.core.state.lock(), State::Closed)
    }

    /// Emits `event` with one argument, `data`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        check_event(event)?;
        self.send_frame(packet::event_frame(self.core.ns.path(), event, data)?)
    }

    /// Emits `event` with any number of arguments and binary attachments.
    pub fn emit_payload(&self, event: &str, payload: &Payload) -> Result<(), EmitError> {
        check_event(event)?;
        self.send_frame(packet::payload_event_frame(self.core.ns.path(), event, payload)?)
    }

    /// Joins a room of this namespace (no-op when already a member or disconnected).
    pub fn join(&self, room: &str) {
        // Lock order: the registry first (see `Registry::rooms_mut`).
        let mut registry = self.core.ns.rooms_mut();
        let mut rooms = self.core.rooms.lock();
        if rooms.closed || rooms.names.contains(room) {
            return;
        }
        let name = add_member(&mut registry, room, self.core.id, self.clone());
        rooms.names.insert(name);
    }

    /// Joins a room but holds back its broadcasts to this socket until
    /// [`release_room`](Self::release_room), so the application can read what the client missed
    /// and send it first, with nothing lost in between. Already a member: from now on held too.
    pub fn join_held(&self, room: &str) {
        let mut registry = self.core.ns.rooms_mut();
        let mut rooms = self.core.rooms.lock();
        if rooms.closed {
            return;
        }
        let name = match rooms.names.get(room) {
            Some(name) => Arc::clone(name),
            None => {
                let name = add_member(&mut registry, room, self.core.id, self.clone());
                rooms.names.insert(Arc::clone(&name));
                name
            }
        };
        rooms.held.entry(name).or_default();
        self.core.count_held(&rooms);
    }

    /// Ends holding a room: queues `first` (typically the acknowledgement carrying the replay,
    /// see [`AckSender::into_frame`](crate::AckSender::into_frame)), then the held frames that `keep` accepts, in arrival
    /// order; later broadcasts go straight through. If more frames arrived than could be held,
    /// the socket is disconnected instead (after `first`), as the replay would have a gap.
    pub fn release_room(&self, room: &str, first: Option<Frame>, keep: impl Fn(&Frame) -> bool) {
        let overflowed = {
            let mut rooms = self.core.rooms.lock();
            let held = rooms.held.remove(room).unwrap_or_default();
            if let Some(first) = first {
                let _ = self.send_frame(first);
            }
            if !held.overflowed {
                for frame in held.frames.into_iter().filter(|f| keep(f)) {
                    if self.send_frame(frame).is_err() {
                        break;
                    }
                }
            }
            // Only now: a broadcast that reads the new count queues after the held frames.
            self.core.count_held(&rooms);
            held.overflowed
        };
        if overflowed {
            tracing::warn!(socket = %self.core.id.as_str(), room, "too many live frames held during a catch-up; disconnecting");
            self.disconnect();
        }
    }

    /// Leaves a room (no-op when not a member).
    pub fn leave(&self, room: &str) {
        let mut registry = self.core.ns.rooms_mut();
        let mut rooms = self.core.rooms.lock();
        rooms.held.remove(room);
        self.core.count_held(&rooms);
        if rooms.names.remove(room) {
            remove_member(&mut registry, room, &self.core.id);
        }
    }

    /// Disconnects the socket from its namespace: the client gets a DISCONNECT packet (and
    /// does not reconnect), the socket leaves every room, and `on_disconnect` runs with
    /// [`DisconnectReason::ServerNamespaceDisconnect`](crate::DisconnectReason). The underlying
    /// connection closes by itself once no namespace is left on it (the official client does
    /// that at once; otherwise after `connect_timeout`).
    pub fn disconnect(&self) {
        let was_connected = {
            let mut state = self.core.state.lock();
            match std::mem::replace(&mut *state, State::Closed) {
                State::Connected => {
                    let _ = self.core.engine.push_frame(packet::disconnect_frame(self.core.ns.path()));
                    true
                }
                // Disconnected from inside `on_connect`: the dispatcher sees `Closed` when
                // `on_connect` returns and finishes the job there.
                State::Connecting(_) | State::Closed => false,
            }
        };
        if was_connected {
            self.leave_all();
            self.core.ns.remove_socket(&self.core.id);
            (self.core.on_server_disconnect)(self.clone());
        }
    }

    // ----- crate-internal -----

    pub(crate) fn same_as(&self, other: &Socket) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    /// The namespace membership the socket registers in.
    pub(crate) fn registry(&self) -> &Arc<Registry<Socket>> {
        &self.core.ns
    }

    /// Queues a frame broadcast to `room`, or holds it while the room is held.
    pub(crate) fn send_room_frame(&self, room: &str, frame: Frame) -> Result<(), EmitError> {
        if self.core.held_rooms.load(Ordering::Acquire) != 0 {
            let mut rooms = self.core.rooms.lock();
            if let Some(held) = rooms.held.get_mut(room) {
                if held.frames.len() >= MAX_HELD_FRAMES {
                    held.overflowed = true;
                    held.frames.clear();
                } else if !held.overflowed {
                    held.frames.push(frame);
                }
                return Ok(());
            }
        }
        self.send_frame(frame)
    }

    pub(crate) fn send_frame(&self, frame: Frame) -> Result<(), EmitError> {
        let mut state = self.core.state.lock();
        match &mut *state {
            State::Connected => self.core.engine.push_frame(frame).map_err(|err| match err {
                PushError::Closed => EmitError::Disconnected,
                PushError::Dropped | PushError::Overflow => EmitError::QueueFull,
            }),
            State::Connecting(pending) => {
                if pending.len() >= self.core.max_pending {
                    return Err(EmitError::QueueFull);
                }
                pending.push(frame);
                Ok(())
            }
            State::Closed => Err(EmitError::Disconnected),
        }
    }

    /// `on_connect` accepted: sends the CONNECT acknowledgement, then what was emitted during
    /// `on_connect`. Returns `false` if the socket was disconnected from inside `on_connect`, in
    /// which case the acknowledgement is immediately followed by a DISCONNECT.
    pub(crate) fn activate(&self) -> bool {
        let ns = self.core.ns.path();
        let mut state = self.core.state.lock();
        let connect = packet::connect_frame(ns, self.core.id.as_str());
        match std::mem::replace(&mut *state, State::Connected) {
            State::Connecting(pending) => {
                if self.core.engine.push_frame(connect).is_ok() {
                    for frame in pending {
                        if self.core.engine.push_frame(frame).is_err() {
                            break;
                        }
                    }
                }
                true
            }
            State::Closed | State::Connected => {
                *state = State::Closed;
                let _ = self.core.engine.push_frame(connect);
                let _ = self.core.engine.push_frame(packet::disconnect_frame(ns));
                false
            }
        }
    }

    /// `on_connect` refused: CONNECT_ERROR with `data`, and the socket is forgotten.
    pub(crate) fn reject(&self, data: &Value) {
        *self.core.state.lock() = State::Closed;
        self.leave_all();
        let _ = self.core.engine.push_frame(packet::connect_error_frame(self.core.ns.path(), data));
    }

    /// Marks the socket closed; `true` if it was open until now (so the caller owns cleanup).
    pub(crate) fn close_local(&self) -> bool {
        !matches!(std::mem::replace(&mut *self.core.state.lock(), State::Closed), State::Closed)
    }

    /// Leaves every room and refuses later joins.
    pub(crate) fn leave_all(&self) {
        let names = {
            let mut rooms = self.core.rooms.lock();
            rooms.closed = true;
            rooms.held.clear();
            self.core.count_held(&rooms);
            std::mem::take(&mut rooms.names)
        };
        for room in names {
            self.core.ns.remove_from_room(&room, &self.core.id);
        }
    }
}
