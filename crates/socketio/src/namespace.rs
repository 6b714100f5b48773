//! A namespace: its handler, its connected sockets and its room registry, with broadcasts that
//! serialize once.

use std::{collections::HashMap, fmt, sync::Arc};

use parking_lot::RwLock;
use serde::Serialize;
use socketioxide_core::Str;

use super::{
    frame::Frame,
    handler::NamespaceHandler,
    sio,
    socket::{EmitError, Payload, Socket, SocketId},
};

pub(crate) struct NsInner {
    pub(crate) path: Str,
    pub(crate) handler: Arc<dyn NamespaceHandler>,
    sockets: RwLock<HashMap<SocketId, Socket>>,
    rooms: RwLock<HashMap<Arc<str>, HashMap<SocketId, Socket>>>,
}

impl NsInner {
    pub(crate) fn new(path: Str, handler: Arc<dyn NamespaceHandler>) -> Self {
        Self { path, handler, sockets: RwLock::new(HashMap::new()), rooms: RwLock::new(HashMap::new()) }
    }

    pub(crate) fn insert_socket(&self, socket: Socket) {
        self.sockets.write().insert(socket.id(), socket);
    }

    pub(crate) fn remove_socket(&self, id: &SocketId) {
        self.sockets.write().remove(id);
    }

    pub(crate) fn add_to_room(&self, room: Arc<str>, socket: Socket) {
        self.rooms.write().entry(room).or_default().insert(socket.id(), socket);
    }

    pub(crate) fn remove_from_room(&self, room: &str, id: &SocketId) {
        let mut rooms = self.rooms.write();
        if let Some(members) = rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }
}

/// Handle on a registered namespace: build frames, broadcast to rooms, inspect counts.
/// Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<NsInner>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("path", &self.inner.path.as_str()).finish()
    }
}

impl Namespace {
    pub(crate) fn from_inner(inner: Arc<NsInner>) -> Self {
        Self { inner }
    }

    /// The namespace path, such as `/`.
    pub fn path(&self) -> &str {
        self.inner.path.as_str()
    }

    /// Serializes an event with one argument into a frame that can be queued for any number
    /// of sockets of this namespace.
    pub fn event_frame<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<Frame, EmitError> {
        check_event(event)?;
        Ok(sio::event_frame(&self.inner.path, event, data)?)
    }

    /// Serializes an event with any arguments and attachments into a shareable frame.
    pub fn payload_frame(&self, event: &str, payload: &Payload) -> Result<Frame, EmitError> {
        check_event(event)?;
        Ok(sio::payload_event_frame(&self.inner.path, event, payload)?)
    }

    /// Emits `event` to every socket in `room` except `except`: serialized once, the same
    /// buffers queued for each recipient. Never waits on a slow client. Returns how many
    /// sockets the frame was queued for.
    pub fn broadcast_to<T: Serialize + ?Sized>(
        &self,
        room: &str,
        event: &str,
        data: &T,
        except: Option<SocketId>,
    ) -> Result<usize, EmitError> {
        let frame = self.event_frame(event, data)?;
        Ok(self.broadcast_frame_to(room, &frame, except))
    }

    /// Queues a prepared frame (from this namespace) for every socket in `room` but `except`.
    pub fn broadcast_frame_to(&self, room: &str, frame: &Frame, except: Option<SocketId>) -> usize {
        let rooms = self.inner.rooms.read();
        let Some(members) = rooms.get(room) else {
            return 0;
        };
        members
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, socket)| socket.send_room_frame(room, frame.clone()).is_ok())
            .count()
    }

    /// Queues a prepared frame for every socket in `room` that is not also in `except_room`
    /// (for example: a chat's room except every connection of the user who caused the event).
    pub fn broadcast_frame_to_except_room(&self, room: &str, frame: &Frame, except_room: &str) -> usize {
        let rooms = self.inner.rooms.read();
        let Some(members) = rooms.get(room) else {
            return 0;
        };
        let excluded = rooms.get(except_room);
        members
            .iter()
            .filter(|(id, _)| excluded.is_none_or(|ex| !ex.contains_key(*id)))
            .filter(|(_, socket)| socket.send_room_frame(room, frame.clone()).is_ok())
            .count()
    }

    /// Queues a prepared frame for every connected socket of the namespace but `except`.
    pub fn broadcast_frame(&self, frame: &Frame, except: Option<SocketId>) -> usize {
        let sockets = self.inner.sockets.read();
        sockets
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, socket)| socket.send_frame(frame.clone()).is_ok())
            .count()
    }

    /// A connected socket by id.
    pub fn socket(&self, id: SocketId) -> Option<Socket> {
        self.inner.sockets.read().get(&id).cloned()
    }

    /// Number of non-empty rooms.
    pub fn room_count(&self) -> usize {
        self.inner.rooms.read().len()
    }

    /// Number of sockets in `room`.
    pub fn room_size(&self, room: &str) -> usize {
        self.inner.rooms.read().get(room).map_or(0, HashMap::len)
    }

    /// Number of connected sockets.
    pub fn socket_count(&self) -> usize {
        self.inner.sockets.read().len()
    }
}

fn check_event(event: &str) -> Result<(), EmitError> {
    if sio::is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// Registered namespaces by path.
#[derive(Default)]
pub(crate) struct Namespaces {
    by_path: RwLock<HashMap<Str, Arc<NsInner>>>,
}

impl Namespaces {
    pub(crate) fn get(&self, path: &str) -> Option<Arc<NsInner>> {
        self.by_path.read().get(path).cloned()
    }

    /// Registers a namespace. Registering a path again replaces it for new connections;
    /// sockets already connected stay with the old handler and rooms.
    pub(crate) fn insert(&self, path: Str, handler: Arc<dyn NamespaceHandler>) -> Arc<NsInner> {
        let inner = Arc::new(NsInner::new(path.clone(), handler));
        self.by_path.write().insert(path, Arc::clone(&inner));
        inner
    }

    pub(crate) fn all(&self) -> Vec<Arc<NsInner>> {
        self.by_path.read().values().cloned().collect()
    }
}
