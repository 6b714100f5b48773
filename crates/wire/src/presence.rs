//! The wire shape of presence: one user's state, as `GET /api/presence` lists it and as
//! `presence:update` carries it.

use chat_domain::{Timestamp, UserId};
use serde::{Deserialize, Serialize};

use crate::{id_string, optional_timestamp};

/// Whether a user is online; `lastSeenAt` is when their last socket closed (`null` while
/// online, and for a user never seen since the server began recording it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresenceState {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::ObjectId))]
    pub user_id: String,
    pub online: bool,
    #[serde(default, with = "optional_timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Timestamp>, required = true))]
    pub last_seen_at: Option<Timestamp>,
}

impl PresenceState {
    pub fn new(user: UserId, online: bool, last_seen_at: Option<Timestamp>) -> Self {
        Self { user_id: id_string(user.0), online, last_seen_at }
    }
}

impl From<&chat_domain::Presence> for PresenceState {
    fn from(p: &chat_domain::Presence) -> Self {
        Self::new(p.user, p.online, p.last_seen_at)
    }
}
