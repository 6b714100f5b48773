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
    /// When an `isTyping: true` was last forwarded.
    forwarded_at: Instant,
    /// When the client last said it is typing.
    heard_at: Instant,
}

/// Who is typing where, per socket.
pub(super) struct Typists {
    throttle: Duration,
    expiry: Duration,
    active: Mutex<HashMap<(SocketId, ChatId), Typist>>,
}

impl Typists {
    pub(super) fn new(throttle: Duration, expiry: Duration) -> Self {
        Self { throttle, expiry, active: Mutex::new(HashMap::new()) }
    }

    /// Records what the client said and whether to forward it: a start is forwarded unless
    /// one was forwarded within the throttle interval; a stop only if a start was forwarded.
    pub(super) fn should_forward(&self, socket: SocketId, user: UserId, chat: ChatId, is_typing: bool) -> bool {
        let now = Instant::now();
        let mut active = self.active.lock();
        if !is_typing {
            return active.remove(&(socket, chat)).is_some();
        }
        match active.get_mut(&(socket, chat)) {
            Some(t) => {
                t.heard_at = now;
                if now.duration_since(t.forwarded_at) >= self.throttle {
                    t.forwarded_at = now;
                    true
                } else {
                    false
                }
            }
            None => {
                active.insert((socket, chat), Typist { user, forwarded_at: now, heard_at: now });
                true
            }
        }
    }

    /// Stops tracking one socket in one chat; true when it was typing there (so the caller
    /// announces the stop).
    pub(super) fn forget(&self, socket: SocketId, chat: ChatId) -> bool {
        self.active.lock().remove(&(socket, chat)).is_some()
    }

    /// Stops tracking every socket of `user` typing in `chat` (the user sent a message there);
    /// true when any was.
    pub(super) fn forget_user(&self, user: UserId, chat: ChatId) -> bool {
        let mut any = false;
        self.active.lock().retain(|(_, c), t| {
            let keep = !(*c == chat && t.user == user);
            any |= !keep;
            keep
        });
        any
    }

    /// Stops tracking a socket; returns the chats it was typing in (to announce the stop).
    pub(super) fn forget_socket(&self, socket: SocketId) -> Vec<ChatId> {
        let mut chats = Vec::new();
        self.active.lock().retain(|(s, chat), _| {
            let keep = *s != socket;
            if !keep {
                chats.push(*chat);
            }
            keep
        });
        chats
    }

    /// Removes and returns the typists that have been quiet for longer than the expiry.
    pub(super) fn expired(&self) -> Vec<(ChatId, UserId)> {
        let now = Instant::now();
        let mut gone = Vec::new();
        self.active.lock().retain(|(_, chat), t| {
            let keep = now.duration_since(t.heard_at) < self.expiry;
            if !keep {
                gone.push((*chat, t.user));
            }
            keep
        });
        gone
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.active.lock().len()
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
        assert_eq!(t.len(), 0);
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
