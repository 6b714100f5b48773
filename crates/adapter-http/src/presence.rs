//! `GET /api/presence?userIds=a,b`: whether the users the caller shares a chat with are online.

use actix_web::{web, HttpResponse};
use chat_domain::UserId;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::dto::parse_id;
use crate::error::ApiError;
use crate::openapi::{BadRequest, ServiceUnavailable, Unauthorized};
use crate::HttpState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PresenceQuery {
    /// The users' ids, separated by commas: 1 to 100 of them.
    #[serde(default, rename = "userIds")]
    #[param(
        rename = "userIds",
        required = true,
        pattern = "^[0-9a-fA-F]{24}(,[0-9a-fA-F]{24}){0,99}$",
        example = "6565f0c2a1b2c3d4e5f60718,6565f0c2a1b2c3d4e5f60719"
    )]
    pub user_ids: Option<String>,
}

/// The ids of `raw` (comma-separated, each trimmed); none for a missing or blank list, which
/// the domain refuses. One malformed id refuses the whole query.
fn parse_user_ids(raw: Option<&str>) -> Result<Vec<UserId>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(Vec::new()),
        Some(list) => list.split(',').map(|id| parse_id("userIds", id.trim())).collect(),
    }
}

#[utoipa::path(
    get, path = "/api/presence", summary = "Who of these users is online",
    description = "Answers only for the users who share a chat with the caller, in the order asked, each once; the others (and the caller) are left out. `lastSeenAt` is when the user's last socket closed (`null` while online, or if never recorded). A user counts as online from their first socket until 5 s after their last one closed, on any node.", tag = "users", security(("bearer" = [])),
    params(PresenceQuery),
    responses(
        (status = 200, description = "The presence of those of the users the caller shares a chat with.", body = [wire::PresenceState]),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn presence(
    caller: Caller,
    state: web::Data<HttpState>,
    query: web::Query<PresenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let users = parse_user_ids(query.user_ids.as_deref())?;
    let found = state.services.presence.query(caller.0, &users).await?;
    Ok(HttpResponse::Ok().json(found.iter().map(wire::PresenceState::from).collect::<Vec<_>>()))
}
