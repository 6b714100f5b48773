//! Time: timestamps with millisecond precision and the clock port that produces them.

use chrono::{DateTime, SubsecRound, Utc};

/// A UTC instant with millisecond precision, so that every store round-trips it exactly.
pub type Timestamp = DateTime<Utc>;

/// Where the services read the current time; tests substitute a fixed or stepping clock.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system's wall clock, truncated to milliseconds.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(3)
    }
}

/// Seconds since the epoch as stored in an id; clamps times outside the u32 range.
pub(crate) fn id_seconds(at: Timestamp) -> u32 {
    u32::try_from(at.timestamp().max(0)).unwrap_or(u32::MAX)
}
