//! Presence: when a user counts as online, and when that changes in a way others hear about.
//!
//! A user is online while at least one of their sockets is connected (on any node: a cluster
//! feeds this book with the sum over nodes). Going online is announced when the first socket
//! connects; going offline only [`PRESENCE_GRACE`] after the last socket closed, and not at all
//! if a socket connects again within that time (a page reload says nothing). The time the last
//! socket closed is the user's `lastSeenAt`.
//!
//! [`PresenceBook`] is the rule as a plain state machine driven with explicit times, so that it
//! runs the same under a real clock, a cluster's heartbeat, and a test's fake clock.

use std::collections::HashMap;
use std::time::Duration;

use crate::id::UserId;
use crate::time::Timestamp;

/// How long after a user's last socket closed they are announced offline.
pub const PRESENCE_GRACE: Duration = Duration::from_secs(5);

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
}

impl Default for PresenceBook {
    fn default() -> Self {
        Self::new(PRESENCE_GRACE)
    }
}

impl PresenceBook {
    pub fn new(grace: Duration) -> Self {
        Self { grace: chrono::TimeDelta::from_std(grace).unwrap_or(chrono::TimeDelta::MAX), users: HashMap::new() }
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
                Some(at + self.grace)
            }
            State::Leaving { .. } => None,
        }
    }

    /// Ends the grace periods that are over at `now`, announcing those users offline.
    pub fn expire(&mut self, now: Timestamp) -> Vec<PresenceChange> {
        let grace = self.grace;
        let mut gone = Vec::new();
        self.users.retain(|user, state| match *state {
            State::Leaving { since } if since + grace <= now => {
                gone.push(PresenceChange::Offline { user: *user, last_seen_at: since });
                false
            }
            _ => true,
        });
        gone
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
