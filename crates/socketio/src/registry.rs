//! The membership of one namespace: its path, its connected sockets and its rooms.
//!
//! Generic over the member handle, so that this module needs nothing from the socket layer:
//! sockets register themselves here and namespaces read them back to broadcast.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use socketioxide_core::Str;

use crate::socket_id::SocketId;

/// The hasher of every map on the broadcast path: foldhash, several times faster than the
/// standard library's SipHash on these short keys. Its seed is random per process, and every
/// key is the server's own (socket ids it draws, room names it builds from ids it issued), so
/// no client picks keys to collide.
pub(crate) type Hasher = foldhash::fast::RandomState;

/// A map keyed by socket id.
pub(crate) type SocketMap<S> = HashMap<SocketId, S, Hasher>;

/// A set of socket ids, as [`crate::Namespace::sockets_in`] returns.
pub type SocketSet = HashSet<SocketId, Hasher>;

/// Members of every room of a namespace, by room name; an empty room is removed.
pub(crate) type Rooms<S> = HashMap<Arc<str>, SocketMap<S>, Hasher>;

/// The sockets and rooms of one namespace.
pub(crate) struct Registry<S> {
    path: Str,
    sockets: RwLock<SocketMap<S>>,
    rooms: RwLock<Rooms<S>>,
}

impl<S> Registry<S> {
    pub(crate) fn new(path: Str) -> Self {
        Self { path, sockets: RwLock::new(SocketMap::default()), rooms: RwLock::new(Rooms::default()) }
    }

    /// The namespace path, such as `/`.
    pub(crate) fn path(&self) -> &Str {
        &self.path
    }

    pub(crate) fn insert_socket(&self, id: SocketId, socket: S) {
        self.sockets.write().insert(id, socket);
    }

    pub(crate) fn remove_socket(&self, id: &SocketId) {
        self.sockets.write().remove(id);
    }

    /// Adds a member to `room` (created if new) and returns the room's name as the registry
    /// holds it, so that members share one allocation of it rather than one each.
    #[cfg(test)]
    pub(crate) fn add_to_room(&self, room: &str, id: SocketId, socket: S) -> Arc<str> {
        add_member(&mut self.rooms.write(), room, id, socket)
    }

    pub(crate) fn remove_from_room(&self, room: &str, id: &SocketId) {
        remove_member(&mut self.rooms.write(), room, id);
    }

    /// The rooms, write-locked for as long as the guard lives. **Lock order:** the registry's
    /// rooms before a socket's own room list, everywhere (a broadcast holds the read lock while
    /// it takes each member's list), so a join or leave that must change both takes this first.
    pub(crate) fn rooms_mut(&self) -> RwLockWriteGuard<'_, Rooms<S>> {
        self.rooms.write()
    }

    /// The connected sockets, read-locked for as long as the guard lives.
    pub(crate) fn sockets(&self) -> RwLockReadGuard<'_, SocketMap<S>> {
        self.sockets.read()
    }

    /// The rooms, read-locked for as long as the guard lives.
    pub(crate) fn rooms(&self) -> RwLockReadGuard<'_, Rooms<S>> {
        self.rooms.read()
    }
}

/// Adds a member to `room` in `rooms` (created if new); returns the room's shared name.
pub(crate) fn add_member<S>(rooms: &mut Rooms<S>, room: &str, id: SocketId, socket: S) -> Arc<str> {
    match rooms.get_mut(room) {
        Some(members) => {
            members.insert(id, socket);
        }
        None => {
            rooms.insert(Arc::from(room), SocketMap::from_iter([(id, socket)]));
        }
    }
    rooms.get_key_value(room).map_or_else(|| Arc::from(room), |(name, _)| Arc::clone(name))
}

/// Takes a member out of `room` in `rooms`; an empty room is removed.
pub(crate) fn remove_member<S>(rooms: &mut Rooms<S>, room: &str, id: &SocketId) {
    if let Some(members) = rooms.get_mut(room) {
        members.remove(id);
        if members.is_empty() {
            rooms.remove(room);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_of_a_room_share_its_name() {
        let registry = Registry::new(Str::from("/"));
        let first = registry.add_to_room("chat:1", SocketId::new(), 1);
        let second = registry.add_to_room("chat:1", SocketId::new(), 2);
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(registry.rooms().get("chat:1").map(HashMap::len), Some(2));
        // A room created again after it emptied gets a new name (the old one is not kept).
        let id = SocketId::new();
        let before = registry.add_to_room("chat:2", id, 3);
        registry.remove_from_room("chat:2", &id);
        assert!(registry.rooms().get("chat:2").is_none());
        assert!(!Arc::ptr_eq(&before, &registry.add_to_room("chat:2", id, 3)));
    }
}
