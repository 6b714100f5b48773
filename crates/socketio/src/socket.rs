//! The application's handle on one client in one namespace: emit, rooms, acks, disconnect.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::Arc,
};

use bytes::Bytes;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use socketioxide_core::Sid;

use super::{
    frame::Frame,
    handler::Handshake,
    namespace::{Namespace, NsInner},
    queue::PushError,
    session::{Control, EngineSession},
    sio,
};

/// Identifier of a socket (one client in one namespace); sent to the client in the CONNECT
/// acknowledgement. Distinct from the Engine.IO session id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(Sid);

impl SocketId {
    pub(crate) fn new() -> Self {
        Self(Sid::new())
    }

    /// A fresh id, for unit tests of application handlers that key state by socket.
    pub fn new_for_tests() -> Self {
        Self::new()
    }

    /// The id as sent on the wire (16 URL-safe base64 characters).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::str::FromStr for SocketId {
    type Err = InvalidSocketId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self).map_err(|_| InvalidSocketId)
    }
}

/// A string that is not a socket id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid socket id")]
pub struct InvalidSocketId;

impl fmt::Debug for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketId({})", self.as_str())
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The arguments of an event or acknowledgement.
///
/// Binary attachments stay where the client put them as `{"_placeholder":true,"num":i}`
/// objects inside `args`, and their bytes are `attachments[i]`; [`attachment`](Self::attachment)
/// resolves a placeholder. Sending a payload back as-is therefore round-trips binary data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The JSON arguments, in order (the event name is not included).
    pub args: Vec<Value>,
    /// The binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// A payload of JSON arguments without attachments.
    pub fn new(args: Vec<Value>) -> Self {
        Self { args, attachments: Vec::new() }
    }

    /// The first argument, where most events carry their data.
    pub fn first(&self) -> Option<&Value> {
        self.args.first()
    }

    /// Adds an attachment and returns the placeholder to put somewhere in `args`.
    pub fn add_attachment(&mut self, data: Bytes) -> Value {
        let num = self.attachments.len();
        self.attachments.push(data);
        serde_json::json!({ "_placeholder": true, "num": num })
    }

    /// The bytes a placeholder object refers to.
    pub fn attachment(&self, placeholder: &Value) -> Option<&Bytes> {
        let object = placeholder.as_object()?;
        if object.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        let num = usize::try_from(object.get("num")?.as_u64()?).ok()?;
        self.attachments.get(num)
    }
}

/// Why an emit did not queue anything.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The data could not be serialized to JSON.
    #[error("payload cannot be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The event name is reserved by Socket.IO (`connect`, `disconnect`, ...).
    #[error("event name {0:?} is reserved")]
    ReservedEvent(String),
    /// The socket is not connected any more.
    #[error("socket is disconnected")]
    Disconnected,
    /// The client's outbound queue is full: a droppable frame was discarded, or the client is
    /// being disconnected as a slow consumer.
    #[error("outbound queue is full")]
    QueueFull,
}

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
    ns: Arc<NsInner>,
    engine: Arc<EngineSession>,
    state: Mutex<State>,
    rooms: Mutex<Rooms>,
    max_pending: usize,
}

/// One client connected to one namespace. Cheap to clone; every clone is the same socket.
#[derive(Clone)]
pub struct Socket {
    core: Arc<SocketCore>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket").field("id", &self.core.id).field("ns", &self.core.ns.path.as_str()).finish()
    }
}

impl Socket {
    pub(crate) fn new(ns: Arc<NsInner>, engine: Arc<EngineSession>, max_pending: usize) -> Self {
        Self {
            core: Arc::new(SocketCore {
                id: SocketId::new(),
                ns,
                engine,
                state: Mutex::new(State::Connecting(Vec::new())),
                rooms: Mutex::new(Rooms { names: HashSet::new(), held: HashMap::new(), closed: false }),
                max_pending,
            }),
        }
    }

    /// This socket's id.
    pub fn id(&self) -> SocketId {
        self.core.id
    }

    /// The namespace the socket belongs to.
    pub fn namespace(&self) -> Namespace {
        Namespace::from_inner(Arc::clone(&self.core.ns))
    }

    /// The HTTP request that opened the underlying connection.
    pub fn handshake(&self) -> &Handshake {
        &self.core.engine.handshake
    }

    /// Whether the socket is still connected (or still connecting).
    pub fn is_connected(&self) -> bool {
        !matches!(*self.core.state.lock(), State::Closed)
    }

    /// Emits `event` with one argument, `data`.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        check_event(event)?;
        self.send_frame(sio::event_frame(&self.core.ns.path, event, data)?)
    }

    /// Emits `event` with any number of arguments and binary attachments.
    pub fn emit_payload(&self, event: &str, payload: &Payload) -> Result<(), EmitError> {
        check_event(event)?;
        self.send_frame(sio::payload_event_frame(&self.core.ns.path, event, payload)?)
    }

    /// Queues a frame serialized beforehand with [`Namespace::event_frame`] of this socket's
    /// namespace. Never waits: a full queue drops droppable frames or disconnects the client.
    pub fn emit_raw(&self, frame: Frame) -> Result<(), EmitError> {
        self.send_frame(frame)
    }

    /// Emits to every socket in `room` except this one (for example a typing indicator).
    /// Returns how many sockets the frame was queued for.
    pub fn broadcast_to<T: Serialize + ?Sized>(&self, room: &str, event: &str, data: &T) -> Result<usize, EmitError> {
        self.namespace().broadcast_to(room, event, data, Some(self.core.id))
    }

    /// Joins a room of this namespace (no-op when already a member or disconnected).
    pub fn join(&self, room: &str) {
        let mut rooms = self.core.rooms.lock();
        if rooms.closed || rooms.names.contains(room) {
            return;
        }
        let room: Arc<str> = Arc::from(room);
        rooms.names.insert(Arc::clone(&room));
        self.core.ns.add_to_room(room, self.clone());
    }

    /// Joins a room but holds back its broadcasts to this socket until
    /// [`release_room`](Self::release_room), so the application can read what the client missed
    /// and send it first, with nothing lost in between. Already a member: from now on held too.
    pub fn join_held(&self, room: &str) {
        let mut rooms = self.core.rooms.lock();
        if rooms.closed {
            return;
        }
        let room: Arc<str> = Arc::from(room);
        rooms.held.entry(Arc::clone(&room)).or_default();
        if rooms.names.insert(Arc::clone(&room)) {
            self.core.ns.add_to_room(room, self.clone());
        }
    }

    /// Ends holding a room: queues `first` (typically the acknowledgement carrying the replay,
    /// see [`AckSender::into_frame`]), then the held frames that `keep` accepts, in arrival
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
            held.overflowed
        };
        if overflowed {
            tracing::warn!(socket = %self.core.id.as_str(), room, "too many live frames held during a catch-up; disconnecting");
            self.disconnect();
        }
    }

    /// Leaves a room (no-op when not a member).
    pub fn leave(&self, room: &str) {
        let mut rooms = self.core.rooms.lock();
        rooms.held.remove(room);
        if rooms.names.remove(room) {
            self.core.ns.remove_from_room(room, &self.core.id);
        }
    }

    /// The rooms this socket is in.
    pub fn rooms(&self) -> Vec<String> {
        self.core.rooms.lock().names.iter().map(|r| r.to_string()).collect()
    }

    /// Disconnects the socket from its namespace: the client gets a DISCONNECT packet (and
    /// does not reconnect), the socket leaves every room, and `on_disconnect` runs with
    /// [`DisconnectReason::ServerNamespaceDisconnect`](super::DisconnectReason). The underlying
    /// connection closes by itself once no namespace is left on it (the official client does
    /// that at once; otherwise after `connect_timeout`).
    pub fn disconnect(&self) {
        let was_connected = {
            let mut state = self.core.state.lock();
            match std::mem::replace(&mut *state, State::Closed) {
                State::Connected => {
                    let _ = self.core.engine.push_frame(sio::disconnect_frame(&self.core.ns.path));
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
            let _ = self.core.engine.control.send(Control::Disconnected(self.clone()));
        }
    }

    // ----- crate-internal -----

    pub(crate) fn same_as(&self, other: &Socket) -> bool {
        Arc::ptr_eq(&self.core, &other.core)
    }

    pub(crate) fn ns_inner(&self) -> &Arc<NsInner> {
        &self.core.ns
    }

    /// Queues a frame broadcast to `room`, or holds it while the room is held.
    pub(crate) fn send_room_frame(&self, room: &str, frame: Frame) -> Result<(), EmitError> {
        {
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
        let ns = &self.core.ns.path;
        let mut state = self.core.state.lock();
        let connect = sio::connect_frame(ns, self.core.id.as_str());
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
                let _ = self.core.engine.push_frame(sio::disconnect_frame(ns));
                false
            }
        }
    }

    /// `on_connect` refused: CONNECT_ERROR with `data`, and the socket is forgotten.
    pub(crate) fn reject(&self, data: &Value) {
        *self.core.state.lock() = State::Closed;
        self.leave_all();
        let _ = self.core.engine.push_frame(sio::connect_error_frame(&self.core.ns.path, data));
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
            std::mem::take(&mut rooms.names)
        };
        for room in names {
            self.core.ns.remove_from_room(&room, &self.core.id);
        }
    }
}

fn check_event(event: &str) -> Result<(), EmitError> {
    if sio::is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// Answers one client event that asked for an acknowledgement. Sending consumes it, so an
/// event is acknowledged at most once.
pub struct AckSender {
    socket: Socket,
    id: i64,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender").field("socket", &self.socket.core.id).field("id", &self.id).finish()
    }
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: i64) -> Self {
        Self { socket, id }
    }

    /// The acknowledgement id chosen by the client.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Acknowledges with one argument: the client's callback receives `data`.
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        let frame = sio::ack_frame(&self.socket.core.ns.path, self.id, data)?;
        self.socket.send_frame(frame)
    }

    /// The acknowledgement as a frame, to be queued by
    /// [`Socket::release_room`] ahead of the frames held meanwhile.
    pub fn into_frame<T: Serialize + ?Sized>(self, data: &T) -> Result<Frame, EmitError> {
        Ok(sio::ack_frame(&self.socket.core.ns.path, self.id, data)?)
    }

    /// Acknowledges with any arguments and binary attachments.
    pub fn send_payload(self, payload: &Payload) -> Result<(), EmitError> {
        let frame = sio::payload_ack_frame(&self.socket.core.ns.path, self.id, payload)?;
        self.socket.send_frame(frame)
    }
}
