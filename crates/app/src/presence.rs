//! The clock of presence: the services keep no timer, so the node ends grace periods
//! ([`PresenceService::expire`]) every [`EXPIRE_PERIOD`] and, in a cluster, takes over the
//! users of dead nodes ([`PresenceService::sweep`]) every sweep period.

use std::time::Duration;

use chat_domain::PresenceService;

/// How often grace periods are ended: an offline announcement comes at most this late after
/// the grace (5 s); an expiry that finds nothing costs a lock and a look at one ordered set.
pub(crate) const EXPIRE_PERIOD: Duration = Duration::from_millis(250);

/// Runs until the runtime stops. `sweep` is `None` on a node alone (there is nobody to sweep).
pub(crate) fn spawn(presence: PresenceService, sweep: Option<Duration>) {
    tokio::spawn({
        let presence = presence.clone();
        async move {
            let mut tick = tokio::time::interval(EXPIRE_PERIOD);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                presence.expire().await;
            }
        }
    });
    if let Some(period) = sweep {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                presence.sweep().await;
            }
        });
    }
}
