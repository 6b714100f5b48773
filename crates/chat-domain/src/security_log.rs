//! Security logs: failed logins, refusals by a limit and revoked tokens, logged (tracing, at
//! `warn`) once per burst. The first incident of a kind from a source in a window is logged at
//! once; later ones in the same window are only counted, and the count is logged as one
//! summary line when the window is over (at the next incident after it: the domain runs no
//! timer). At most [`MAX_SOURCES`] sources are tracked per window; incidents from further
//! sources are counted together and summarized as one line, so a flood from many addresses
//! costs bounded memory and a bounded number of lines.
//!
//! Lines carry the kind, the client address or the user, and never a password, a token or an
//! email.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::TimeDelta;

use crate::id::UserId;
use crate::time::{Clock, Timestamp};

/// How long a burst is summarized over.
pub const WINDOW: TimeDelta = TimeDelta::seconds(10);

/// Most sources tracked one by one per window.
pub const MAX_SOURCES: usize = 1_024;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Incident {
    /// A login with an unknown email or a wrong password.
    FailedLogin,
    /// A register or login attempt refused by the per-address or per-email budget.
    AttemptLimited,
    /// A user search or chat creation refused by the user's budget.
    UserLimited,
    /// A message send refused by the user's message budget.
    MessageLimited,
    /// A socket refused over a connection cap, or disconnected past its event budget.
    SocketLimited,
    /// A token with a valid signature that a logout revoked.
    RevokedToken,
}

impl Incident {
    fn describe(self) -> &'static str {
        match self {
            Self::FailedLogin => "failed login",
            Self::AttemptLimited => "register or login refused by a limit",
            Self::UserLimited => "search or chat creation refused by a limit",
            Self::MessageLimited => "message refused by the rate limit",
            Self::SocketLimited => "socket refused or cut off by a limit",
            Self::RevokedToken => "revoked token presented",
        }
    }
}

/// Who an incident is counted against: the client address when known, else the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Address(IpAddr),
    User(UserId),
    Unknown,
}

impl Source {
    /// The address when there is one, else the user (when there is one).
    pub fn of(address: Option<IpAddr>, user: Option<UserId>) -> Self {
        match (address, user) {
            (Some(ip), _) => Self::Address(ip),
            (None, Some(user)) => Self::User(user),
            (None, None) => Self::Unknown,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address(ip) => write!(f, "address {ip}"),
            Self::User(user) => write!(f, "user {user}"),
            Self::Unknown => f.write_str("an unknown client"),
        }
    }
}

struct Window {
    started: Option<Timestamp>,
    /// Incidents per kind and source in this window, the first one already logged.
    counts: HashMap<(Incident, Source), u64>,
    /// Incidents from sources beyond [`MAX_SOURCES`], per kind.
    overflow: HashMap<Incident, u64>,
}

/// The security log of one node. Cheap to clone; clones share the window.
#[derive(Clone)]
pub struct SecurityLog {
    clock: Arc<dyn Clock>,
    window: Arc<Mutex<Window>>,
}

impl fmt::Debug for SecurityLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityLog").finish_non_exhaustive()
    }
}

impl SecurityLog {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let window = Window { started: None, counts: HashMap::new(), overflow: HashMap::new() };
        Self { clock, window: Arc::new(Mutex::new(window)) }
    }

    /// Records one incident: logged now if it is the first of its kind from `source` in this
    /// window, else counted for the window's summary.
    pub fn record(&self, incident: Incident, source: Source) {
        let now = self.clock.now();
        // A panic while holding the lock cannot leave the counts inconsistent enough to matter.
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if window.started.is_none_or(|started| now - started >= WINDOW || now < started) {
            window.summarize();
            window.started = Some(now);
        }
        let tracked = window.counts.len();
        if let Some(count) = window.counts.get_mut(&(incident, source)) {
            *count += 1;
        } else if tracked < MAX_SOURCES {
            window.counts.insert((incident, source), 1);
            tracing::warn!(target: "security", incident = incident.describe(), %source, "security: {}", incident.describe());
        } else {
            let first = window.overflow.is_empty();
            *window.overflow.entry(incident).or_default() += 1;
            if first {
                tracing::warn!(
                    target: "security",
                    incident = incident.describe(),
                    "security: incidents from more than {MAX_SOURCES} sources in {}s; counting the rest together",
                    WINDOW.num_seconds()
                );
            }
        }
    }

    /// Shorthand for [`Incident::RevokedToken`].
    pub fn revoked_token(&self, address: Option<IpAddr>, user: UserId) {
        self.record(Incident::RevokedToken, Source::of(address, Some(user)));
    }
}

impl Window {
    /// Logs one line per source that had more than its first incident, and one per kind of
    /// the overflow, then forgets them all.
    fn summarize(&mut self) {
        for ((incident, source), count) in self.counts.drain() {
            if count > 1 {
                let more = count - 1;
                tracing::warn!(
                    target: "security",
                    incident = incident.describe(),
                    %source,
                    more,
                    "security: {more} more of \"{}\" from {source} within {}s of the first",
                    incident.describe(),
                    WINDOW.num_seconds()
                );
            }
        }
        for (incident, count) in self.overflow.drain() {
            tracing::warn!(
                target: "security",
                incident = incident.describe(),
                count,
                "security: {count} of \"{}\" from further sources within {}s",
                incident.describe(),
                WINDOW.num_seconds()
            );
        }
    }
}

#[cfg(test)]
#[path = "security_log_tests.rs"]
pub(crate) mod tests;
