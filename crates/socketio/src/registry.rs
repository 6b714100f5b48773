//! The membership of one namespace: its path, its connected sockets and its rooms.
//!
//! Generic over the member handle, so that this module needs nothing from the socket layer:
//! sockets register themselves here and namespaces read them back to broadcast.

use std::{collections::HashMap, sync::Arc};

use parking_lot::{RwLock, RwLockReadGuard};
use socketioxide_core::Str;

use crate::socket_id::SocketId;

/// Members of every room of a namespace, by room name; an empty room is removed.
pub(crate) type Rooms<S> = HashMap<Arc<str>, HashMap<SocketId, S>>;

/// The sockets and rooms of one namespace.
pub(crate) struct Registry<S> {
    path: Str,
    sockets: RwLock<HashMap<SocketId, S>>,
    rooms: RwLock<Rooms<S>>,
}

impl<S> Registry<S> {
    pub(crate) fn new(path: Str) -> Self {
        Self { path, sockets: RwLock::new(HashMap::new()), rooms: RwLock::new(HashMap::new()) }
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

    pub(crate) fn add_to_room(&self, room: Arc<str>, id: SocketId, socket: S) {
        self.rooms.write().entry(room).or_default().insert(id, socket);
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

    /// The connected sockets, read-locked for as long as the guard lives.
    pub(crate) fn sockets(&self) -> RwLockReadGuard<'_, HashMap<SocketId, S>> {
        self.sockets.read()
    }

    /// The rooms, read-locked for as long as the guard lives.
    pub(crate) fn rooms(&self) -> RwLockReadGuard<'_, Rooms<S>> {
        self.rooms.read()
    }
}
