//! Typing indicators as a delivery concern: throttled per socket and chat, and expired by the
//! server, so a client that disconnects or goes quiet while typing is announced as stopped.

use std::collections::HashMap;
use std::time::Duration;

use chat_domain::{ChatId, UserId};
use parking_lot::Mutex;
use tokio::time::Instant;

use socketio::SocketId;

struct Typist {
    user: UserId,
    /// When an `isTyping: true` was last forwarded. Kept after a stop, so that alternating
    /// starts and stops cannot get around the throttle.
    forwarded_at: Instant,
    /// When the client last said it is typing.
    heard_at: Instant,
    /// Whether the others were last told this socket is typing (a start was forwarded and
    /// no stop since).
    announced: bool,
}

/// Who is typing where: per chat, then per socket, so that a send (which ends its sender's
/// typing in one chat) looks at that chat's typists only, never at the whole node's.
pub(super) struct Typists {
    throttle: Duration,
    expiry: Duration,
    active: Mutex<HashMap<ChatId, HashMap<SocketId, Typist>>>,
}

impl Typists {
    pub(super) fn new(throttle: Duration, expiry: Duration) -> Self {
        Self { throttle, expiry, active: Mutex::new(HashMap::new()) }
    }

    /// Records what the client said and whether to forward it: a start is forwarded unless
    /// one was forwarded within the throttle interval (whether or not a stop came between); a
    /// stop only if the others were told of a start. So a client alternating starts and stops
    /// as fast as it can costs the room at most one start and one stop per interval.
    pub(super) fn should_forward(&self, socket: SocketId, user: UserId, chat: ChatId, is_typing: bool) -> bool {
        let now = Instant::now();
        let mut active = self.active.lock();
        let Some(t) = active.get_mut(&chat).and_then(|sockets| sockets.get_mut(&socket)) else {
            if is_typing {
                let typist = Typist { user, forwarded_at: now, heard_at: now, announced: true };
                active.entry(chat).or_default().insert(socket, typist);
            }
            return is_typing;
        };
        if !is_typing {
            return std::mem::replace(&mut t.announced, false);
        }
        t.heard_at = now;
        if now.duration_since(t.forwarded_at) >= self.throttle {
            t.forwarded_at = now;
            t.announced = true;
            true
        } else {
            false
        }
    }

    /// Stops tracking one socket in one chat; true when it was typing there (so the caller
    /// announces the stop).
    pub(super) fn forget(&self, socket: SocketId, chat: ChatId) -> bool {
        let mut active = self.active.lock();
        let Some(sockets) = active.get_mut(&chat) else { return false };
        let announced = sockets.remove(&socket).is_some_and(|t| t.announced);
        if sockets.is_empty() {
            active.remove(&chat);
        }
        announced
    }

    /// Stops tracking every socket of `user` typing in `chat` (the user sent a message there);
    /// true when any was.
    pub(super) fn forget_user(&self, user: UserId, chat: ChatId) -> bool {
        let mut active = self.active.lock();
        let Some(sockets) = active.get_mut(&chat) else { return false };
        let mut any = false;
        sockets.retain(|_, t| {
            let keep = t.user != user;
            any |= !keep && t.announced;
            keep
        });
        if sockets.is_empty() {
            active.remove(&chat);
        }
        any
    }

    /// Stops tracking a socket; returns the chats it was typing in (to announce the stop).
    pub(super) fn forget_socket(&self, socket: SocketId) -> Vec<ChatId> {
        let mut chats = Vec::new();
        self.active.lock().retain(|chat, sockets| {
            if sockets.remove(&socket).is_some_and(|t| t.announced) {
                chats.push(*chat);
            }
            !sockets.is_empty()
        });
        chats
    }

    /// Removes and returns the typists that have been quiet for longer than the expiry (to
    /// announce their stop), and forgets stopped ones whose throttle interval has passed.
    pub(super) fn expired(&self) -> Vec<(ChatId, UserId)> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.active.lock().retain(|chat, sockets| {
            sockets.retain(|_, t| {
                if !t.announced {
                    return now.duration_since(t.forwarded_at) < self.throttle;
                }
                let keep = now.duration_since(t.heard_at) < self.expiry;
                if !keep {
                    gone.push((*chat, t.user));
                }
                keep
            });
            !sockets.is_empty()
        });
        gone
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.active.lock().values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (UserId, ChatId) {
        (UserId::generate(1), ChatId::generate(1))
    }

    #[tokio::test(start_paused = true)]
    async fn starts_are_throttled_and_stops_follow_a_forwarded_start() {
        let t = Typists::new(Duration::from_secs(1), Duration::from_secs(4));
        let socket = SocketId::new_for_tests();
        let (user, chat) = ids();
        assert!(!t.should_forward(socket, user, chat, false), "a stop without a start is not news");
        assert!(t.should_forward(socket, user, chat, true));
        assert!(!t.should_forward(socket, user, chat, true), "throttled");
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(t.should_forward(socket, user, chat, true));
        assert!(t.should_forward(socket, user, chat, false));
        assert!(!t.should_forward(socket, user, chat, false), "one stop per start");
        // The stopped typist is remembered until its throttle interval is over, then forgotten.
        assert_eq!(t.len(), 1);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(t.expired().is_empty(), "a stopped typist's expiry announces nothing");
        assert_eq!(t.len(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn alternating_starts_and_stops_cannot_get_around_the_throttle() {
        let t = Typists::new(Duration::from_secs(1), Duration::from_secs(4));
        let socket = SocketId::new_for_tests();
        let (user, chat) = ids();
        let mut forwarded = 0;
        for n in 0..1_000 {
            forwarded += usize::from(t.should_forward(socket, user, chat, n % 2 == 0));
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        // One second of alternation: the first start and its stop, then one more of each.
        assert!(forwarded <= 4, "{forwarded} frames forwarded");
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_typists_expire_and_disconnects_report_their_chats() {
        let t = Typists::new(Duration::from_secs(1), Duration::from_secs(4));
        let (a, b) = (SocketId::new_for_tests(), SocketId::new_for_tests());
        let (user, chat) = ids();
        t.should_forward(a, user, chat, true);
        t.should_forward(b, user, chat, true);
        tokio::time::advance(Duration::from_secs(3)).await;
        t.should_forward(b, user, chat, true);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(t.expired(), vec![(chat, user)], "only the quiet socket expires");
        assert_eq!(t.forget_socket(b), vec![chat]);
        assert_eq!(t.len(), 0);
    }
}
