//! The settings that bound what one client may take of the real-time gateway: sockets per user
//! and per client address, each socket's event budget, and how many of its sends run at once.

use super::{invalid, ConfigError};

/// The gateway's per-connection bounds; 0 turns each off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketConfig {
    /// `SOCKETS_PER_USER`: sockets one user may hold on this node.
    pub per_user: u32,
    /// `SOCKETS_PER_ADDRESS`: authenticated sockets one client address may hold on this node.
    pub per_address: u32,
    /// `SOCKET_EVENTS_PER_SECOND`: how fast each socket's event budget refills.
    pub events_per_second: u32,
    /// `SOCKET_EVENT_BURST`: the budget's size.
    pub event_burst: u32,
    /// `DELIVERY_RECEIPT_INTERVAL_MS`: how often the server writes its own delivery receipts
    /// (a `message:new` written to a user's socket moves their `deliveredSeq`); 0 writes none
    /// (clients' own `message:delivered` still move the marker).
    pub delivery_receipt_ms: u32,
    /// `SOCKET_PIPELINED_SENDS`: `message:send` events of one socket handled at once; `None`
    /// leaves it to the store (see [`SocketConfig::pipelined_sends`]).
    pub pipelined_sends: Option<u32>,
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 6] = [
    "SOCKETS_PER_USER",
    "SOCKETS_PER_ADDRESS",
    "SOCKET_EVENTS_PER_SECOND",
    "SOCKET_EVENT_BURST",
    "DELIVERY_RECEIPT_INTERVAL_MS",
    "SOCKET_PIPELINED_SENDS",
];

/// Most sends of one socket in flight that `SOCKET_PIPELINED_SENDS` may ask for.
const MAX_PIPELINED_SENDS: u32 = 256;

impl SocketConfig {
    /// Sends of one socket handled at once: the setting, else 16 on the embedded store and 1 on
    /// MongoDB. The embedded store appends in the order the sends reach it, so pipelined sends
    /// of one socket are stored in the order sent unless a read before the append waits for a
    /// busy reader connection; on MongoDB two appends in flight are two
    /// transactions that may commit in either order, so by default a socket's sends wait for
    /// each other there, as they always did (see `docs/realtime.md`).
    pub fn pipelined_sends(&self, embedded_store: bool) -> usize {
        let default = if embedded_store { 16 } else { 1 };
        self.pipelined_sends.map_or(default, |n| n as usize)
    }

    pub(super) fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let count = |name: &'static str, default: u32| match lookup(name) {
            None => Ok(default),
            Some(raw) => {
                raw.trim().parse::<u32>().map_err(|_| invalid(name, "must be a whole number (0 turns it off)"))
            }
        };
        let config = Self {
            per_user: count("SOCKETS_PER_USER", 20)?,
            per_address: count("SOCKETS_PER_ADDRESS", 500)?,
            events_per_second: count("SOCKET_EVENTS_PER_SECOND", 50)?,
            event_burst: count("SOCKET_EVENT_BURST", 200)?,
            delivery_receipt_ms: count("DELIVERY_RECEIPT_INTERVAL_MS", 1000)?,
            pipelined_sends: match lookup("SOCKET_PIPELINED_SENDS") {
                None => None,
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(n) if (1..=MAX_PIPELINED_SENDS).contains(&n) => Some(n),
                    _ => return Err(invalid("SOCKET_PIPELINED_SENDS", "must be a whole number from 1 to 256")),
                },
            },
        };
        if config.events_per_second > 0 && config.event_burst == 0 {
            return Err(invalid("SOCKET_EVENT_BURST", "must be at least 1 while SOCKET_EVENTS_PER_SECOND is set"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn sockets(vars: &[(&str, &str)]) -> Result<SocketConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SocketConfig::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = sockets(&[]).unwrap();
        let expected = SocketConfig {
            per_user: 20,
            per_address: 500,
            events_per_second: 50,
            event_burst: 200,
            delivery_receipt_ms: 1000,
            pipelined_sends: None,
        };
        assert_eq!(defaults, expected);
        assert_eq!((defaults.pipelined_sends(true), defaults.pipelined_sends(false)), (16, 1));
        let set = sockets(&[
            ("SOCKETS_PER_USER", " 3 "),
            ("SOCKETS_PER_ADDRESS", "0"),
            ("SOCKET_EVENTS_PER_SECOND", "0"),
            ("DELIVERY_RECEIPT_INTERVAL_MS", "0"),
            ("SOCKET_PIPELINED_SENDS", "4"),
        ])
        .unwrap();
        assert_eq!((set.per_user, set.per_address, set.events_per_second, set.delivery_receipt_ms), (3, 0, 0, 0));
        assert_eq!((set.pipelined_sends(true), set.pipelined_sends(false)), (4, 4));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (name, value) in [
            ("SOCKETS_PER_USER", "-1"),
            ("SOCKET_EVENT_BURST", "many"),
            ("SOCKET_EVENT_BURST", "0"),
            ("DELIVERY_RECEIPT_INTERVAL_MS", "1s"),
            ("SOCKET_PIPELINED_SENDS", "0"),
            ("SOCKET_PIPELINED_SENDS", "257"),
        ] {
            let err = sockets(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
        }
    }
}
