//! Reads kept in memory while nothing they depend on was written (see `versions.rs`): the
//! reads every history request and every authenticated request make, so that a chat read far
//! more often than it is written serves them without SQLite.
//!
//! The database file belongs to one process, whose writer thread makes every change, so
//! the writer's counters see them all; a change made to the file by another program while
//! the server runs is not seen until the next write to the same chat or user. Each map is
//! bounded: when one is full it is emptied, and reads go to SQLite until it fills again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chat_domain::receipts::Receipt;
use chat_domain::{Chat, ChatId, UserId};

use crate::versions::Tag;
use crate::window::Windows;

/// Entries per map of small values (a chat's row and members, its markers, a token version).
const ENTRIES: usize = 1024;
/// Token versions: one per user who made an authenticated request lately; a few dozen bytes.
const TOKEN_ENTRIES: usize = 64 * 1024;

/// Values with the tag they were read under.
pub(crate) struct Tagged<K, V> {
    entries: HashMap<K, (Tag, V), foldhash::fast::RandomState>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Tagged<K, V> {
    fn new(capacity: usize) -> Self {
        Self { entries: HashMap::default(), capacity }
    }

    /// The value cached for `key`, if it was read under `current` (no write since); a stale
    /// one is dropped.
    pub(crate) fn get(&mut self, key: &K, current: Tag) -> Option<V> {
        match self.entries.get(key) {
            Some((tag, value)) if *tag == current => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value`, read under `read_under`, if nothing was written since (`current`).
    pub(crate) fn put(&mut self, key: K, read_under: Tag, value: V, current: Tag) {
        if read_under != current {
            return;
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.clear();
        }
        self.entries.insert(key, (read_under, value));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

pub(crate) struct Cache {
    /// `chat_alone`: the chat's row and participants (`None`: no such chat).
    pub(crate) chats: Mutex<Tagged<ChatId, Option<Chat>>>,
    /// `stored_receipts` of one chat.
    pub(crate) receipts: Mutex<Tagged<ChatId, Vec<(ChatId, Receipt)>>>,
    /// `token_version` of one user.
    pub(crate) tokens: Mutex<Tagged<UserId, Option<u64>>>,
    /// History pages.
    pub(crate) windows: Mutex<Windows>,
}

impl Cache {
    pub(crate) fn new() -> Self {
        Self {
            chats: Mutex::new(Tagged::new(ENTRIES)),
            receipts: Mutex::new(Tagged::new(ENTRIES)),
            tokens: Mutex::new(Tagged::new(TOKEN_ENTRIES)),
            windows: Mutex::new(Windows::default()),
        }
    }
}

/// Locks one of the maps. A panic while it was held leaves at worst an entry missing or a
/// window half merged under a tag that is still right, so the map stays usable.
pub(crate) fn lock<T>(map: &Mutex<T>) -> MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::{Scope, Versions};
    use chat_domain::Id;

    #[test]
    fn a_value_read_before_a_write_is_not_kept_nor_served() {
        let versions = Versions::new();
        let user = UserId(Id::from_bytes([3; 12]));
        let mut map = Tagged::new(4);
        let before = versions.user(user);
        versions.bump(Scope::User(user));
        map.put(user, before, 1u64, versions.user(user));
        assert_eq!(map.get(&user, versions.user(user)), None);

        let now = versions.user(user);
        map.put(user, now, 2, versions.user(user));
        assert_eq!(map.get(&user, versions.user(user)), Some(2));
        versions.bump(Scope::All);
        assert_eq!(map.get(&user, versions.user(user)), None);
        assert_eq!(map.len(), 0, "the stale entry is dropped");
    }

    #[test]
    fn a_full_map_starts_over() {
        let versions = Versions::new();
        let mut map = Tagged::new(2);
        for n in 0..3u8 {
            let user = UserId(Id::from_bytes([n; 12]));
            let tag = versions.user(user);
            map.put(user, tag, n, tag);
        }
        assert_eq!(map.len(), 1);
    }
}
