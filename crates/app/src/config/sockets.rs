//! The settings that bound what one client may take of the real-time gateway: sockets per user
//! and per client address, and each socket's event budget.

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
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 5] = [
    "SOCKETS_PER_USER",
    "SOCKETS_PER_ADDRESS",
    "SOCKET_EVENTS_PER_SECOND",
    "SOCKET_EVENT_BURST",
    "DELIVERY_RECEIPT_INTERVAL_MS",
];

impl SocketConfig {
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
        };
        assert_eq!(defaults, expected);
        let set = sockets(&[
            ("SOCKETS_PER_USER", " 3 "),
            ("SOCKETS_PER_ADDRESS", "0"),
            ("SOCKET_EVENTS_PER_SECOND", "0"),
            ("DELIVERY_RECEIPT_INTERVAL_MS", "0"),
        ])
        .unwrap();
        assert_eq!((set.per_user, set.per_address, set.events_per_second, set.delivery_receipt_ms), (3, 0, 0, 0));
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (name, value) in [
            ("SOCKETS_PER_USER", "-1"),
            ("SOCKET_EVENT_BURST", "many"),
            ("SOCKET_EVENT_BURST", "0"),
            ("DELIVERY_RECEIPT_INTERVAL_MS", "1s"),
        ] {
            let err = sockets(&[(name, value)]).unwrap_err();
            assert_eq!(err.variable, name, "{value}");
        }
    }
}
