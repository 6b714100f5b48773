//! The gateway's connected sockets: who is behind each (the claims of its token), the caps on
//! sockets per user and per client address, and each socket's event budget (a token bucket),
//! so that one client cannot take more than its share of a node.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use chat_domain::ports::TokenClaims;
use chat_domain::UserId;
use parking_lot::Mutex;
use socketio::SocketId;
use tokio::time::Instant;

/// The bounds, from [`GatewayConfig`](super::GatewayConfig); each 0 turns it off.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) per_user: u32,
    pub(super) per_address: u32,
    pub(super) events_per_second: u32,
    pub(super) event_burst: u32,
    /// Whether loopback peers are left out of the per-address cap.
    pub(super) exempt_loopback: bool,
}

/// Why a connection is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    TooManyForUser,
    TooManyForAddress,
}

/// What becomes of one event from a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Within the budget: handle it for this user.
    Allowed(UserId),
    /// Over the budget: answer `rate_limited`; one more token is there after `retry_after`.
    Refused { retry_after: Duration },
    /// Over the budget for as many events in a row as the burst: disconnect the socket.
    CutOff,
    /// Not (or no longer) a connected socket of the gateway.
    Unknown,
}

struct Entry {
    claims: TokenClaims,
    address: Option<IpAddr>,
    tokens: f64,
    refilled_at: Instant,
    /// Events refused since the last one allowed.
    strikes: u32,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<SocketId, Entry>,
    per_user: HashMap<UserId, u32>,
    per_address: HashMap<IpAddr, u32>,
}

pub(super) struct Connections {
    limits: Limits,
    inner: Mutex<Inner>,
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Some(n) = counts.get_mut(&key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(&key);
        }
    }
}

impl Connections {
    pub(super) fn new(limits: Limits) -> Self {
        Self { limits, inner: Mutex::new(Inner::default()) }
    }

    /// Admits an authenticated socket unless its user or its address is at the cap.
    pub(super) fn admit(&self, socket: SocketId, claims: TokenClaims, address: Option<IpAddr>) -> Result<(), Refusal> {
        let limits = self.limits;
        let mut inner = self.inner.lock();
        // Behind a reverse proxy on the same host every client is a loopback peer: capping
        // that address would cap the whole service.
        let address = address.filter(|ip| !(limits.exempt_loopback && ip.is_loopback()));
        let user_count = inner.per_user.get(&claims.user).copied().unwrap_or(0);
        if limits.per_user > 0 && user_count >= limits.per_user {
            return Err(Refusal::TooManyForUser);
        }
        if let Some(ip) = address {
            let address_count = inner.per_address.get(&ip).copied().unwrap_or(0);
            if limits.per_address > 0 && address_count >= limits.per_address {
                return Err(Refusal::TooManyForAddress);
            }
            *inner.per_address.entry(ip).or_default() += 1;
        }
        *inner.per_user.entry(claims.user).or_default() += 1;
        let entry =
            Entry { claims, address, tokens: f64::from(limits.event_burst), refilled_at: Instant::now(), strikes: 0 };
        if let Some(old) = inner.sockets.insert(socket, entry) {
            // A socket id is never admitted twice; if it were, its first admission is undone.
            decrement(&mut inner.per_user, old.claims.user);
            if let Some(ip) = old.address {
                decrement(&mut inner.per_address, ip);
            }
        }
        Ok(())
    }

    /// Forgets a socket; returns the claims it connected with.
    pub(super) fn remove(&self, socket: SocketId) -> Option<TokenClaims> {
        let mut inner = self.inner.lock();
        let entry = inner.sockets.remove(&socket)?;
        decrement(&mut inner.per_user, entry.claims.user);
        if let Some(ip) = entry.address {
            decrement(&mut inner.per_address, ip);
        }
        Some(entry.claims)
    }

    /// Spends one token of the socket's event budget.
    pub(super) fn take_event(&self, socket: SocketId) -> Verdict {
        let limits = self.limits;
        let mut inner = self.inner.lock();
        let Some(entry) = inner.sockets.get_mut(&socket) else { return Verdict::Unknown };
        if limits.events_per_second == 0 {
            return Verdict::Allowed(entry.claims.user);
        }
        let rate = f64::from(limits.events_per_second);
        let now = Instant::now();
        let elapsed = now.duration_since(entry.refilled_at).as_secs_f64();
        entry.tokens = (entry.tokens + elapsed * rate).min(f64::from(limits.event_burst.max(1)));
        entry.refilled_at = now;
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            entry.strikes = 0;
            return Verdict::Allowed(entry.claims.user);
        }
        entry.strikes = entry.strikes.saturating_add(1);
        if entry.strikes >= limits.event_burst.max(1) {
            return Verdict::CutOff;
        }
        Verdict::Refused { retry_after: Duration::from_secs_f64((1.0 - entry.tokens) / rate) }
    }

    /// The sockets whose token is dead, as `lifetime_left` (the domain's rule) says.
    pub(super) fn dead(&self, lifetime_left: impl Fn(&TokenClaims) -> Option<Duration>) -> Vec<SocketId> {
        let inner = self.inner.lock();
        inner.sockets.iter().filter(|(_, e)| lifetime_left(&e.claims).is_none()).map(|(s, _)| *s).collect()
    }

    /// The users behind `sockets`, each once (sockets the gateway does not track are skipped).
    pub(super) fn users_of(&self, sockets: &[SocketId]) -> Vec<UserId> {
        let inner = self.inner.lock();
        let mut users: Vec<UserId> =
            sockets.iter().filter_map(|id| inner.sockets.get(id)).map(|e| e.claims.user).collect();
        users.sort_unstable();
        users.dedup();
        users
    }

    pub(super) fn len(&self) -> usize {
        self.inner.lock().sockets.len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta};

    use super::*;

    fn claims(user: UserId) -> TokenClaims {
        let issued = DateTime::from_timestamp(1_795_633_980, 0).unwrap();
        TokenClaims {
            user,
            issued_at: Some(issued),
            expires_at: issued + TimeDelta::hours(1),
            not_before: None,
            version: 0,
        }
    }

    fn limits(per_user: u32, per_address: u32, events_per_second: u32, event_burst: u32) -> Limits {
        Limits { per_user, per_address, events_per_second, event_burst, exempt_loopback: true }
    }

    #[test]
    fn caps_count_sockets_per_user_and_per_address_and_free_them_on_removal() {
        let c = Connections::new(limits(2, 3, 0, 1));
        let (alice, bob) = (UserId::generate(1), UserId::generate(1));
        let home: IpAddr = [10, 0, 0, 1].into();
        let sockets: Vec<SocketId> = (0..4).map(|_| SocketId::new_for_tests()).collect();
        assert_eq!(c.admit(sockets[0], claims(alice), Some(home)), Ok(()));
        assert_eq!(c.admit(sockets[1], claims(alice), Some(home)), Ok(()));
        assert_eq!(c.admit(sockets[2], claims(alice), None), Err(Refusal::TooManyForUser));
        assert_eq!(c.admit(sockets[2], claims(bob), Some(home)), Ok(()));
        assert_eq!(c.admit(sockets[3], claims(bob), Some(home)), Err(Refusal::TooManyForAddress));
        assert_eq!(c.admit(sockets[3], claims(bob), None), Ok(()), "the address cap needs an address");
        assert_eq!(c.remove(sockets[0]).map(|c| c.user), Some(alice));
        let again = SocketId::new_for_tests();
        assert_eq!(c.admit(again, claims(alice), Some(home)), Ok(()), "a freed place is taken again");
        assert_eq!(c.len(), 4);
        let local: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..5 {
            assert_eq!(c.admit(SocketId::new_for_tests(), claims(UserId::generate(1)), Some(local)), Ok(()));
        }
    }

    #[test]
    fn the_sweep_cuts_exactly_the_sockets_whose_token_died_by_the_domain_clock() {
        use chat_domain::credentials::lifetime_left;
        let c = Connections::new(limits(0, 0, 0, 1));
        let issued = DateTime::from_timestamp(1_795_633_980, 0).unwrap();
        let with_ttl = |ttl_secs: i64| TokenClaims {
            user: UserId::generate(1),
            issued_at: Some(issued),
            expires_at: issued + TimeDelta::seconds(ttl_secs),
            not_before: None,
            version: 0,
        };
        let (short, long) = (SocketId::new_for_tests(), SocketId::new_for_tests());
        c.admit(short, with_ttl(60), None).unwrap();
        c.admit(long, with_ttl(3_600), None).unwrap();
        let at = |secs: i64| move |claims: &TokenClaims| lifetime_left(claims, issued + TimeDelta::seconds(secs));
        assert!(c.dead(at(59)).is_empty());
        assert_eq!(c.dead(at(60)), vec![short], "dead from its exp on");
        let mut both = c.dead(at(3_600));
        both.sort();
        let mut expected = vec![short, long];
        expected.sort();
        assert_eq!(both, expected);
    }

    #[tokio::test(start_paused = true)]
    async fn the_event_budget_refills_refuses_and_cuts_off_a_flood() {
        let c = Connections::new(limits(0, 0, 10, 5));
        let (socket, user) = (SocketId::new_for_tests(), UserId::generate(1));
        c.admit(socket, claims(user), None).unwrap();
        for _ in 0..5 {
            assert_eq!(c.take_event(socket), Verdict::Allowed(user));
        }
        let Verdict::Refused { retry_after } = c.take_event(socket) else { panic!("the burst is spent") };
        assert!(retry_after <= Duration::from_millis(100), "{retry_after:?}");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(c.take_event(socket), Verdict::Allowed(user), "one token per 100 ms");
        for _ in 0..4 {
            assert!(matches!(c.take_event(socket), Verdict::Refused { .. }));
        }
        assert_eq!(c.take_event(socket), Verdict::CutOff, "as many refusals in a row as the burst");
        assert_eq!(c.take_event(SocketId::new_for_tests()), Verdict::Unknown);
    }
}
