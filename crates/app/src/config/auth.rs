//! The settings that guard registration and login (attempt budgets, the hashing pool, and
//! whether a reverse proxy's `X-Forwarded-For` names the client) and the user search budget,
//! which the same attempt limiter keeps.

use std::time::Duration;

use super::{invalid, ConfigError};

/// The guards of registration and login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthConfig {
    /// `AUTH_LIMIT_PER_EMAIL_PER_MINUTE`: attempts naming one email; 0 turns it off.
    pub per_email_per_minute: u32,
    /// `AUTH_LIMIT_PER_ADDRESS_PER_MINUTE`: attempts from one client address; 0 turns it off.
    pub per_address_per_minute: u32,
    /// `SEARCH_LIMIT_PER_MINUTE`: user searches by one user; 0 turns it off.
    pub searches_per_user_per_minute: u32,
    /// `HASH_THREADS`: argon2 hashes running at once, one per thread.
    pub hash_threads: usize,
    /// `HASH_QUEUE_WAIT_MS`: longest a registration or login waits for a hashing thread
    /// before it is answered 503.
    pub hash_queue_wait: Duration,
    /// `TRUST_PROXY`: the client address is the last `X-Forwarded-For` entry, not the peer.
    pub trust_proxy: bool,
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 6] = [
    "AUTH_LIMIT_PER_EMAIL_PER_MINUTE",
    "AUTH_LIMIT_PER_ADDRESS_PER_MINUTE",
    "SEARCH_LIMIT_PER_MINUTE",
    "HASH_THREADS",
    "HASH_QUEUE_WAIT_MS",
    "TRUST_PROXY",
];

/// One hashing thread per core: argon2 is CPU-bound, so more threads add memory, not speed.
pub fn default_hash_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Most hashing threads accepted: each may hold 19 MiB while it hashes.
pub const MAX_HASH_THREADS: usize = 256;
/// Longest hashing wait accepted, in milliseconds: a caller waiting longer is worse off than
/// one told to retry.
pub const MAX_HASH_QUEUE_WAIT_MS: u64 = 60_000;

impl AuthConfig {
    pub(super) fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let budget = |name: &'static str, default: u32| match lookup(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse::<u32>()
                .map_err(|_| invalid(name, "must be a whole number of attempts per minute (0 turns the limit off)")),
        };
        let per_email_per_minute = budget("AUTH_LIMIT_PER_EMAIL_PER_MINUTE", 10)?;
        let per_address_per_minute = budget("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", 60)?;
        let searches_per_user_per_minute = budget("SEARCH_LIMIT_PER_MINUTE", 60)?;
        let hash_threads = match lookup("HASH_THREADS") {
            None => default_hash_threads(),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n @ 1..=MAX_HASH_THREADS) => n,
                _ => {
                    return Err(invalid(
                        "HASH_THREADS",
                        format!("must be a number of threads from 1 to {MAX_HASH_THREADS}"),
                    ))
                }
            },
        };
        let hash_queue_wait = match lookup("HASH_QUEUE_WAIT_MS") {
            None => Duration::from_millis(2_000),
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(ms @ 0..=MAX_HASH_QUEUE_WAIT_MS) => Duration::from_millis(ms),
                _ => {
                    return Err(invalid(
                        "HASH_QUEUE_WAIT_MS",
                        format!("must be a number of milliseconds from 0 to {MAX_HASH_QUEUE_WAIT_MS}"),
                    ))
                }
            },
        };
        let trust_proxy = match lookup("TRUST_PROXY").map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
            None | Some("false" | "0" | "no" | "off") => false,
            Some("true" | "1" | "yes" | "on") => true,
            Some(_) => return Err(invalid("TRUST_PROXY", "must be true or false (also 1/0, yes/no, on/off)")),
        };
        Ok(Self {
            per_email_per_minute,
            per_address_per_minute,
            searches_per_user_per_minute,
            hash_threads,
            hash_queue_wait,
            trust_proxy,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn auth(vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        AuthConfig::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract_and_the_machine() {
        let c = auth(&[]).unwrap();
        assert_eq!((c.per_email_per_minute, c.per_address_per_minute), (10, 60));
        assert_eq!(c.searches_per_user_per_minute, 60);
        assert_eq!(c.hash_threads, default_hash_threads());
        assert!(c.hash_threads >= 1);
        assert_eq!(c.hash_queue_wait, Duration::from_secs(2));
        assert!(!c.trust_proxy);
    }

    #[test]
    fn everything_can_be_set_and_zero_turns_a_budget_off() {
        let c = auth(&[
            ("AUTH_LIMIT_PER_EMAIL_PER_MINUTE", "0"),
            ("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", " 600 "),
            ("SEARCH_LIMIT_PER_MINUTE", "0"),
            ("HASH_THREADS", "3"),
            ("HASH_QUEUE_WAIT_MS", "0"),
            ("TRUST_PROXY", "TRUE"),
        ])
        .unwrap();
        let expected = AuthConfig {
            per_email_per_minute: 0,
            per_address_per_minute: 600,
            searches_per_user_per_minute: 0,
            hash_threads: 3,
            hash_queue_wait: Duration::ZERO,
            trust_proxy: true,
        };
        assert_eq!(c, expected);
        assert!(!auth(&[("TRUST_PROXY", "off")]).unwrap().trust_proxy);
    }

    #[test]
    fn unusable_values_name_their_variable_and_what_it_accepts() {
        for (name, value, accepted) in [
            ("AUTH_LIMIT_PER_EMAIL_PER_MINUTE", "-1", "whole number"),
            ("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", "lots", "0 turns the limit off"),
            ("SEARCH_LIMIT_PER_MINUTE", "-5", "whole number"),
            ("HASH_THREADS", "0", "from 1 to 256"),
            ("HASH_THREADS", "1000", "from 1 to 256"),
            ("HASH_QUEUE_WAIT_MS", "2s", "from 0 to 60000"),
            ("HASH_QUEUE_WAIT_MS", "60001", "milliseconds"),
            ("TRUST_PROXY", "maybe", "true or false"),
        ] {
            let error = auth(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value}");
            assert!(error.to_string().starts_with(name), "{error}");
            assert!(error.problem.contains(accepted), "{name}={value}: {error}");
        }
    }
}
