//! Presence: when a user counts as online, and when that changes in a way others hear about.
//!
//! A user is online while at least one of their sockets is connected, on any node. Going online
//! is announced when the first socket connects; going offline only [`PRESENCE_GRACE`] after the
//! last socket closed, and not at all if a socket connects again within that time (a page
//! reload says nothing). The time the last socket closed is the user's `lastSeenAt`.
//!
//! Each node runs the rule for its own sockets in a [`PresenceBook`], a plain state machine
//! driven with explicit times, so that it runs the same under a real clock and a test's fake
//! one. A node *holds* a user from the user's first socket on it until the grace after its last
//! one ran out; the cluster is the sum of the nodes' holds, kept by the
//! [`PresenceDirectory`](crate::ports::PresenceDirectory) port: a user comes online when the
//! first node holds it and goes offline when the last one lets go. So a reload through another
//! node inside the grace announces nothing either: the first node still holds the user when the
//! second takes it. [`LocalPresenceDirectory`] is the directory of a single node.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::id::UserId;
use crate::ports::PresenceDirectory;
use crate::time::Timestamp;

/// How long after a user's last socket closed they are announced offline.
pub const PRESENCE_GRACE: Duration = Duration::from_secs(5);

/// Most users one presence query may name.
pub const MAX_PRESENCE_QUERY: usize = 100;

/// A change of presence that the user's contacts should hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceChange {
    Online { user: UserId },
    Offline { user: UserId, last_seen_at: Timestamp },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// This many sockets are connected.
    Connected(u32),
    /// The last socket closed at `since`; offline is announced at `since + grace`.
    Leaving { since: Timestamp },
}

/// Sockets per user, and the users in their grace period.
#[derive(Debug)]
pub struct PresenceBook {
    grace: chrono::TimeDelta,
    users: HashMap<UserId, State>,
    /// The ends of the grace periods, soonest first, so that [`expire`](Self::expire) costs
    /// what it finds rather than a walk over every user. An entry whose user has reconnected
    /// (or left again later) no longer matches the user's state and is dropped when reached.
    deadlines: BTreeSet<(Timestamp, UserId)>,
}

impl Default for PresenceBook {
    fn default() -> Self {
        Self::new(PRESENCE_GRACE)
    }
}

impl PresenceBook {
    pub fn new(grace: Duration) -> Self {
        Self {
            grace: chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX),
            users: HashMap::new(),
            deadlines: BTreeSet::new(),
        }
    }

    /// Whether `user` counts as online now (connected, or inside the grace period).
    pub fn is_online(&self, user: UserId) -> bool {
        self.users.contains_key(&user)
    }

    /// A socket of `user` connected. Announces `Online` when the user had none and was not in
    /// the grace period.
    pub fn connected(&mut self, user: UserId) -> Option<PresenceChange> {
        match self.users.get_mut(&user) {
            Some(State::Connected(n)) => {
                *n = n.saturating_add(1);
                None
            }
            Some(state @ State::Leaving { .. }) => {
                *state = State::Connected(1);
                None
            }
            None => {
                self.users.insert(user, State::Connected(1));
                Some(PresenceChange::Online { user })
            }
        }
    }

    /// A socket of `user` closed at `at`. Returns when to call [`expire`](Self::expire) if this
    /// was the user's last socket. A close the book never saw a connect for changes nothing.
    pub fn disconnected(&mut self, user: UserId, at: Timestamp) -> Option<Timestamp> {
        let state = self.users.get_mut(&user)?;
        match state {
            State::Connected(n) if *n > 1 => {
                *n -= 1;
                None
            }
            State::Connected(_) => {
                *state = State::Leaving { since: at };
                let deadline = at + self.grace;
                self.deadlines.insert((deadline, user));
                Some(deadline)
            }
            State::Leaving { .. } => None,
        }
    }

    /// Ends the grace periods that are over at `now`, announcing those users offline.
    pub fn expire(&mut self, now: Timestamp) -> Vec<PresenceChange> {
        let mut gone = Vec::new();
        while let Some(&(deadline, user)) = self.deadlines.first() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(&State::Leaving { since }) = self.users.get(&user) {
                if since + self.grace == deadline {
                    self.users.remove(&user);
                    gone.push(PresenceChange::Offline { user, last_seen_at: since });
                }
            }
        }
        gone
    }

    /// How many users the book holds (connected or in their grace period).
    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// The directory of a node alone: it holds every user some socket of it holds, and no other
/// node exists. Holds are counted, so a hold and a release that race (a reconnect at the very
/// end of a grace period) leave the right count whichever lands first.
#[derive(Debug, Default)]
pub struct LocalPresenceDirectory {
    holds: Mutex<HashMap<UserId, u32>>,
}

impl LocalPresenceDirectory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, u32>> {
        // The map stays consistent whatever panicked while holding the lock.
        self.holds.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl PresenceDirectory for LocalPresenceDirectory {
    async fn hold(&self, user: UserId) -> Result<bool, StoreError> {
        let mut holds = self.lock();
        let count = holds.entry(user).or_insert(0);
        *count = count.saturating_add(1);
        Ok(*count == 1)
    }

    async fn release(&self, user: UserId) -> Result<bool, StoreError> {
        let mut holds = self.lock();
        match holds.get_mut(&user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                Ok(false)
            }
            Some(_) => {
                holds.remove(&user);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn held(&self, users: &[UserId]) -> Result<Vec<bool>, StoreError> {
        let holds = self.lock();
        Ok(users.iter().map(|u| holds.contains_key(u)).collect())
    }

    async fn sweep(&self) -> Result<Vec<(UserId, Timestamp)>, StoreError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn user(n: u8) -> UserId {
        UserId(Id::parse(&format!("65f00000000000000000{n:04x}")).unwrap())
    }

    fn at(ms: i64) -> Timestamp {
        chrono::DateTime::from_timestamp_millis(1_795_633_980_000 + ms).unwrap()
    }

    #[test]
    fn the_first_socket_announces_online_and_later_ones_do_not() {
        let mut book = PresenceBook::default();
        assert_eq!(book.connected(user(1)), Some(PresenceChange::Online { user: user(1) }));
        assert_eq!(book.connected(user(1)), None);
        assert!(book.is_online(user(1)));
        assert!(!book.is_online(user(2)));
    }

    #[test]
    fn offline_comes_only_after_the_last_socket_and_the_grace() {
        let mut book = PresenceBook::default();
        book.connected(user(1));
        book.connected(user(1));
        assert_eq!(book.disconnected(user(1), at(0)), None, "one socket is still open");
        assert_eq!(book.disconnected(user(1), at(1_000)), Some(at(6_000)));
        assert!(book.expire(at(5_999)).is_empty());
        assert!(book.is_online(user(1)), "inside the grace the user still counts as online");
        assert_eq!(book.expire(at(6_000)), vec![PresenceChange::Offline { user: user(1), last_seen_at: at(1_000) }]);
        assert!(!book.is_online(user(1)));
        assert!(book.expire(at(60_000)).is_empty(), "announced once");
    }

    #[test]
    fn a_reload_inside_the_grace_announces_nothing() {
        let mut book = PresenceBook::default();
        book.connected(user(1));
        book.disconnected(user(1), at(0));
        assert_eq!(book.connected(user(1)), None);
        assert!(book.expire(at(10_000)).is_empty());
        // Closing again starts a fresh grace from the new close.
        assert_eq!(book.disconnected(user(1), at(20_000)), Some(at(25_000)));
        assert!(book.expire(at(24_999)).is_empty());
        assert_eq!(book.expire(at(25_000)).len(), 1);
        // Back after the announcement: online again.
        assert_eq!(book.connected(user(1)), Some(PresenceChange::Online { user: user(1) }));
    }

    #[test]
    fn a_stray_close_changes_nothing() {
        let mut book = PresenceBook::default();
        assert_eq!(book.disconnected(user(3), at(0)), None);
        assert!(!book.is_online(user(3)));
        book.connected(user(3));
        book.disconnected(user(3), at(0));
        assert_eq!(book.disconnected(user(3), at(1)), None, "a second close in the grace is ignored");
        assert_eq!(book.expire(at(5_000)), vec![PresenceChange::Offline { user: user(3), last_seen_at: at(0) }]);
    }

    #[test]
    fn a_grace_ended_by_a_reconnect_does_not_end_the_next_one_early() {
        let mut book = PresenceBook::default();
        book.connected(user(1));
        book.disconnected(user(1), at(0));
        book.connected(user(1));
        book.disconnected(user(1), at(2_000));
        assert!(book.expire(at(5_000)).is_empty(), "the first grace was ended by the reconnect");
        assert_eq!(book.expire(at(7_000)), vec![PresenceChange::Offline { user: user(1), last_seen_at: at(2_000) }]);
        assert!(book.is_empty());
    }

    #[tokio::test]
    async fn the_local_directory_counts_holds_so_racing_calls_commute() {
        let dir = LocalPresenceDirectory::default();
        assert!(dir.hold(user(1)).await.unwrap(), "the first hold brings the user online");
        // A reconnect's hold landing before the expired grace's release: nobody announces.
        assert!(!dir.hold(user(1)).await.unwrap());
        assert!(!dir.release(user(1)).await.unwrap());
        assert_eq!(dir.held(&[user(1), user(2)]).await.unwrap(), [true, false]);
        assert!(dir.release(user(1)).await.unwrap(), "the last release takes the user offline");
        assert!(!dir.release(user(1)).await.unwrap(), "a stray release changes nothing");
        assert_eq!(dir.held(&[user(1)]).await.unwrap(), [false]);
        assert!(dir.sweep().await.unwrap().is_empty());
    }

    #[test]
    fn users_expire_independently() {
        let mut book = PresenceBook::default();
        for n in 1..=3 {
            book.connected(user(n));
        }
        book.disconnected(user(1), at(0));
        book.disconnected(user(2), at(3_000));
        let gone = book.expire(at(5_000));
        assert_eq!(gone, vec![PresenceChange::Offline { user: user(1), last_seen_at: at(0) }]);
        assert!(book.is_online(user(2)) && book.is_online(user(3)));
    }
}
