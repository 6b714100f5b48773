//! The periods of presence in a cluster: how often a node proves it lives, how long before a
//! silent node counts as dead, and how often the survivors look for dead nodes. A killed
//! node's users go offline within `PRESENCE_NODE_TTL_MS + PRESENCE_SWEEP_MS` (plus one
//! heartbeat period at worst) of its last heartbeat. Read only with `REDIS_URL`; a node alone
//! has nobody to sweep.

use std::time::Duration;

use super::{invalid, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceConfig {
    /// `PRESENCE_HEARTBEAT_MS`
    pub heartbeat: Duration,
    /// `PRESENCE_NODE_TTL_MS`
    pub node_ttl: Duration,
    /// `PRESENCE_SWEEP_MS`
    pub sweep: Duration,
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 3] = ["PRESENCE_HEARTBEAT_MS", "PRESENCE_NODE_TTL_MS", "PRESENCE_SWEEP_MS"];

impl Default for PresenceConfig {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(10), node_ttl: Duration::from_secs(30), sweep: Duration::from_secs(10) }
    }
}

impl PresenceConfig {
    pub(super) fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let millis = |name: &'static str, default: Duration| match lookup(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
                _ => Err(invalid(name, "must be a positive number of milliseconds")),
            },
        };
        let config = Self {
            heartbeat: millis("PRESENCE_HEARTBEAT_MS", defaults.heartbeat)?,
            node_ttl: millis("PRESENCE_NODE_TTL_MS", defaults.node_ttl)?,
            sweep: millis("PRESENCE_SWEEP_MS", defaults.sweep)?,
        };
        // A live node must beat at least twice within its TTL, or a late beat kills it.
        if config.node_ttl < config.heartbeat * 2 {
            return Err(invalid("PRESENCE_NODE_TTL_MS", "must be at least twice PRESENCE_HEARTBEAT_MS"));
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn presence(vars: &[(&str, &str)]) -> Result<PresenceConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        PresenceConfig::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(presence(&[]).unwrap(), PresenceConfig::default());
        let quick = presence(&[
            ("PRESENCE_HEARTBEAT_MS", "200"),
            ("PRESENCE_NODE_TTL_MS", " 1000 "),
            ("PRESENCE_SWEEP_MS", "300"),
        ])
        .unwrap();
        assert_eq!(
            quick,
            PresenceConfig {
                heartbeat: Duration::from_millis(200),
                node_ttl: Duration::from_secs(1),
                sweep: Duration::from_millis(300)
            }
        );
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (vars, name) in [
            (&[("PRESENCE_SWEEP_MS", "0")][..], "PRESENCE_SWEEP_MS"),
            (&[("PRESENCE_HEARTBEAT_MS", "soon")][..], "PRESENCE_HEARTBEAT_MS"),
            (&[("PRESENCE_HEARTBEAT_MS", "20000")][..], "PRESENCE_NODE_TTL_MS"),
        ] {
            assert_eq!(presence(vars).unwrap_err().variable, name, "{vars:?}");
        }
    }
}
