//! Who was lately seen to be a participant of which chat, so that a send (the hottest path)
//! does not read its chat from the store each time only to check that its sender belongs.
//!
//! Only a positive answer is remembered, and a bounded number of them. It cannot let a
//! non-participant's message in: the store's append checks membership again in the same write
//! ([`Appended::NotParticipant`](crate::model::Appended)). A stale entry (the sender was removed
//! through another node, or through this one while the entry was being made from an older read)
//! therefore only moves one check later: that one send is refused by the append instead, after
//! it took a unit of the sender's rate budget, and the refusal forgets the entry. A removal made
//! through this node forgets its entries at once.

use quick_cache::sync::Cache;

use crate::id::{ChatId, UserId};

/// How many (chat, participant) pairs one node remembers: about 64 bytes each, so a few MiB at
/// most, enough for every active sender of a busy node. Beyond it the least useful are dropped
/// and cost a store read again.
pub(crate) const REMEMBERED_MEMBERSHIPS: usize = 65_536;

pub(crate) struct Memberships {
    seen: Cache<(ChatId, UserId), ()>,
}

impl Memberships {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { seen: Cache::new(capacity) }
    }

    /// Whether `user` was lately seen to be a participant of `chat`.
    pub(crate) fn knows(&self, chat: ChatId, user: UserId) -> bool {
        self.seen.get(&(chat, user)).is_some()
    }

    /// Remembers that `user` is a participant of `chat`, as read from the store just now.
    pub(crate) fn remember(&self, chat: ChatId, user: UserId) {
        self.seen.insert((chat, user), ());
    }

    /// Forgets that `users` belong to `chat`: they left, were removed, or the store refused them.
    pub(crate) fn forget(&self, chat: ChatId, users: &[UserId]) {
        for user in users {
            self.seen.remove(&(chat, *user));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (ChatId, UserId, UserId) {
        (ChatId::generate(1), UserId::generate(1), UserId::generate(1))
    }

    #[test]
    fn remembers_only_what_it_was_told_and_forgets_on_request() {
        let memberships = Memberships::new(16);
        let (chat, ann, bob) = ids();
        assert!(!memberships.knows(chat, ann));
        memberships.remember(chat, ann);
        memberships.remember(chat, bob);
        assert!(memberships.knows(chat, ann));
        memberships.forget(chat, &[ann]);
        assert!(!memberships.knows(chat, ann), "a forgotten participant is read from the store again");
        assert!(memberships.knows(chat, bob), "forgetting one participant keeps the others");
    }

    #[test]
    fn holds_no_more_than_its_capacity() {
        let memberships = Memberships::new(64);
        let chat = ChatId::generate(1);
        let users: Vec<UserId> = (0..1_000).map(|_| UserId::generate(1)).collect();
        for user in &users {
            memberships.remember(chat, *user);
        }
        let kept = users.iter().filter(|u| memberships.knows(chat, **u)).count();
        assert!(kept > 0 && kept <= 64, "kept {kept} of 1000 with room for 64");
    }
}
