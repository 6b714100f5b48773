//! Namespaces: the handle the application broadcasts through (serialized once, queued for every
//! member), and the table of registered namespaces with their handlers.

use std::{collections::HashMap, fmt, sync::Arc};

use parking_lot::RwLock;
use serde::Serialize;
use socketioxide_core::Str;

use crate::{
    engineio::frame::Frame,
    handler::NamespaceHandler,
    packet::{self, check_event},
    payload::EmitError,
    registry::{Registry, SocketSet},
    socket::Socket,
    socket_id::SocketId,
};

/// A registered namespace: the application's handler and the sockets and rooms it has.
pub(crate) struct NsEntry {
    pub(crate) handler: Arc<dyn NamespaceHandler>,
    pub(crate) registry: Arc<Registry<Socket>>,
}

/// Handle on a registered namespace: build frames, broadcast to rooms, inspect counts.
/// Cheap to clone.
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Registry<Socket>>,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace").field("path", &self.inner.path().as_str()).finish()
    }
}

impl Namespace {
    pub(crate) fn from_registry(inner: Arc<Registry<Socket>>) -> Self {
        Self { inner }
    }

    /// The namespace path, such as `/`.
    pub fn path(&self) -> &str {
        self.inner.path().as_str()
    }

    /// Serializes an event with one argument into a frame that can be queued for any number
    /// of sockets of this namespace.
    pub fn event_frame<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<Frame, EmitError> {
        check_event(event)?;
        Ok(packet::event_frame(self.inner.path(), event, data)?)
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
        let rooms = self.inner.rooms();
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
        let rooms = self.inner.rooms();
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

    /// The ids of the sockets in any of `rooms` (for example the personal rooms of a chat's
    /// members), collected once to filter broadcasts with
    /// [`broadcast_frame_to_sockets`](Self::broadcast_frame_to_sockets).
    pub fn sockets_in<'a>(&self, rooms: impl IntoIterator<Item = &'a str>) -> SocketSet {
        let registry = self.inner.rooms();
        let found: Vec<_> = rooms.into_iter().filter_map(|room| registry.get(room)).collect();
        // Sized once: a group's members hold about a thousand sockets in the fan-out benchmark,
        // and growing the set step by step rehashed it several times per delivery.
        let mut set = SocketSet::with_capacity_and_hasher(found.iter().map(|m| m.len()).sum(), Default::default());
        set.extend(found.iter().flat_map(|members| members.keys().copied()));
        set
    }

    /// Queues a prepared frame for every socket in `room` whose id is in `only` (one hash
    /// lookup per socket of the room). Returns how many sockets the frame was queued for.
    pub fn broadcast_frame_to_sockets(&self, room: &str, frame: &Frame, only: &SocketSet) -> usize {
        let rooms = self.inner.rooms();
        let Some(members) = rooms.get(room) else {
            return 0;
        };
        members
            .iter()
            .filter(|(id, _)| only.contains(*id))
            .filter(|(_, socket)| socket.send_room_frame(room, frame.clone()).is_ok())
            .count()
    }

    /// Queues a prepared frame for every connected socket of the namespace but `except`.
    pub fn broadcast_frame(&self, frame: &Frame, except: Option<SocketId>) -> usize {
        let sockets = self.inner.sockets();
        sockets
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter(|(_, socket)| socket.send_frame(frame.clone()).is_ok())
            .count()
    }

    /// Takes every socket that is in one of `member_rooms` out of `room` (for example, every
    /// connection of users removed from a chat, found by their personal rooms); a socket held
    /// on `room` for a catch-up loses what was held. Returns how many sockets left `room`.
    pub fn evict_from_room(&self, room: &str, member_rooms: &[String]) -> usize {
        let leaving: Vec<Socket> = {
            let rooms = self.inner.rooms();
            let Some(members) = rooms.get(room) else {
                return 0;
            };
            member_rooms
                .iter()
                .filter_map(|r| rooms.get(r.as_str()))
                .flat_map(|sockets| sockets.iter())
                .filter(|(id, _)| members.contains_key(*id))
                .map(|(_, socket)| socket.clone())
                .collect()
        };
        // The registry's read lock is released: leaving takes its write lock.
        for socket in &leaving {
            socket.leave(room);
        }
        leaving.len()
    }

    /// Disconnects every socket in `room` from this namespace, as [`Socket::disconnect`]
    /// does each (a DISCONNECT packet, then `on_disconnect`); returns how many.
    pub fn disconnect_room(&self, room: &str) -> usize {
        // Collected first: a disconnect leaves the room, which takes the rooms' lock.
        let members: Vec<Socket> =
            self.inner.rooms().get(room).map(|members| members.values().cloned().collect()).unwrap_or_default();
        for socket in &members {
            socket.disconnect();
        }
        members.len()
    }

    /// The ids of the sockets in `room` now, in no particular order (for example, to find
    /// which users a room's frames reached, from what the application knows of each socket).
    pub fn room_members(&self, room: &str) -> Vec<SocketId> {
        self.inner.rooms().get(room).map(|members| members.keys().copied().collect()).unwrap_or_default()
    }

    /// A connected socket by id.
    pub fn socket(&self, id: SocketId) -> Option<Socket> {
        self.inner.sockets().get(&id).cloned()
    }

    /// Number of non-empty rooms.
    pub fn room_count(&self) -> usize {
        self.inner.rooms().len()
    }

    /// Number of sockets in `room`.
    pub fn room_size(&self, room: &str) -> usize {
        self.inner.rooms().get(room).map_or(0, HashMap::len)
    }

    /// Number of connected sockets.
    pub fn socket_count(&self) -> usize {
        self.inner.sockets().len()
    }
}

/// The socket methods that go through its namespace; they live here, above both, so that the
/// socket module does not depend on this one.
impl Socket {
    /// The namespace the socket belongs to.
    pub fn namespace(&self) -> Namespace {
        Namespace::from_registry(Arc::clone(self.registry()))
    }

    /// Emits to every socket in `room` except this one (for example a typing indicator).
    /// Returns how many sockets the frame was queued for.
    pub fn broadcast_to<T: Serialize + ?Sized>(&self, room: &str, event: &str, data: &T) -> Result<usize, EmitError> {
        self.namespace().broadcast_to(room, event, data, Some(self.id()))
    }
}

/// Registered namespaces by path.
#[derive(Default)]
pub(crate) struct Namespaces {
    by_path: RwLock<HashMap<Str, Arc<NsEntry>>>,
}

impl Namespaces {
    pub(crate) fn get(&self, path: &str) -> Option<Arc<NsEntry>> {
        self.by_path.read().get(path).cloned()
    }

    /// Registers a namespace. Registering a path again replaces it for new connections;
    /// sockets already connected stay with the old handler and rooms.
    pub(crate) fn insert(&self, path: Str, handler: Arc<dyn NamespaceHandler>) -> Arc<NsEntry> {
        let entry = Arc::new(NsEntry { handler, registry: Arc::new(Registry::new(path.clone())) });
        self.by_path.write().insert(path, Arc::clone(&entry));
        entry
    }

    pub(crate) fn all(&self) -> Vec<Arc<NsEntry>> {
        self.by_path.read().values().cloned().collect()
    }
}
