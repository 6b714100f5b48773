//! What a cached read may have missed: version counters the writer thread bumps after every
//! commit, before it answers the writes of that commit.
//!
//! A write says what it touches (its [`Scope`]): one chat, one user, or anything. A chat's
//! writes bump the counter of the chat's stripe, a user's writes the counter of the user's
//! stripe, and any other write the global counter. A cached read is tagged with the counters
//! it depends on, read *before* it ran its query; it is served again only while those
//! counters have not moved. So a read that started after a write was answered sees it:
//! the write's bump came first, the tag of any older copy no longer matches. Two chats that
//! share a stripe only cost each other a re-read.

use std::sync::atomic::{AtomicU64, Ordering};

use chat_domain::{ChatId, UserId};

/// Counters per kind of key; a power of two.
const STRIPES: usize = 4096;

/// What one write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The chat's messages, markers or row, and nothing any other read caches.
    Chat(ChatId),
    /// The user's row, and nothing any other read caches.
    User(UserId),
    /// Anything: every cached read goes stale.
    All,
}

/// The counters a cached read depends on, as they were when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag {
    global: u64,
    stripe: u64,
}

pub(crate) struct Versions {
    global: AtomicU64,
    chats: Box<[AtomicU64]>,
    users: Box<[AtomicU64]>,
}

impl Versions {
    pub(crate) fn new() -> Self {
        let stripes = || (0..STRIPES).map(|_| AtomicU64::new(0)).collect();
        Self { global: AtomicU64::new(0), chats: stripes(), users: stripes() }
    }

    /// Called by the writer thread once the writes of `scope` are committed, before it
    /// answers them.
    pub(crate) fn bump(&self, scope: Scope) {
        let counter = match scope {
            Scope::Chat(chat) => &self.chats[stripe(chat.0.bytes())],
            Scope::User(user) => &self.users[stripe(user.0.bytes())],
            Scope::All => &self.global,
        };
        counter.fetch_add(1, Ordering::AcqRel);
    }

    /// The tag of a read of `chat`'s data; read it before the query.
    pub(crate) fn chat(&self, chat: ChatId) -> Tag {
        self.tag(&self.chats[stripe(chat.0.bytes())])
    }

    /// The tag of a read of `user`'s row; read it before the query.
    pub(crate) fn user(&self, user: UserId) -> Tag {
        self.tag(&self.users[stripe(user.0.bytes())])
    }

    fn tag(&self, stripe: &AtomicU64) -> Tag {
        // The global counter first: a bump of either after this point makes the tag stale.
        let global = self.global.load(Ordering::Acquire);
        Tag { global, stripe: stripe.load(Ordering::Acquire) }
    }
}

/// The stripe of an id: its last four bytes (a per-process counter in ids made here, so
/// consecutive ids land in different stripes) mixed with its first four (the seconds).
fn stripe(bytes: [u8; 12]) -> usize {
    let low = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    let high = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    (low ^ high.rotate_left(16)) as usize & (STRIPES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_domain::Id;

    fn chat(n: u8) -> ChatId {
        ChatId(Id::from_bytes([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, n]))
    }

    #[test]
    fn a_chat_write_moves_that_chat_tag_only() {
        let versions = Versions::new();
        let (a, b) = (versions.chat(chat(1)), versions.chat(chat(2)));
        versions.bump(Scope::Chat(chat(1)));
        assert_ne!(versions.chat(chat(1)), a);
        assert_eq!(versions.chat(chat(2)), b);
    }

    #[test]
    fn a_global_write_moves_every_tag() {
        let versions = Versions::new();
        let user = UserId(Id::from_bytes([7; 12]));
        let (a, u) = (versions.chat(chat(1)), versions.user(user));
        versions.bump(Scope::All);
        assert_ne!(versions.chat(chat(1)), a);
        assert_ne!(versions.user(user), u);
    }

    #[test]
    fn a_user_write_leaves_chat_tags() {
        let versions = Versions::new();
        let user = UserId(Id::from_bytes([7; 12]));
        let (a, u) = (versions.chat(chat(1)), versions.user(user));
        versions.bump(Scope::User(user));
        assert_eq!(versions.chat(chat(1)), a);
        assert_ne!(versions.user(user), u);
    }
}
