//! `GET /health`: the node's state for load balancers and operators, from a [`HealthCheck`]
//! the app provides.
//!
//! | Components | Status | Body |
//! |---|---|---|
//! | all up (or no check configured) | 200 | `{"status":"ok", "<name>":"ok", ...}` |
//! | an optional one down (Redis) | 200 | `{"status":"degraded", "redis":"down", ...}` |
//! | an essential one down (storage) | 503 | `{"status":"down", "storage":"down", ...}` |
//!
//! A degraded node still serves every request correctly (without Redis, its sockets miss other
//! nodes' live events until they catch up, and it rate-limits on its own), so it stays in the
//! load balancer's rotation; 503 is kept for a node that cannot serve at all.

use actix_web::{web, HttpResponse};
use async_trait::async_trait;
use serde::Serialize;

use crate::HttpState;

/// The state of one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentStatus {
    Ok,
    Down,
}

impl ComponentStatus {
    /// `Ok` when `up`, else `Down`.
    pub fn up_if(up: bool) -> Self {
        if up {
            Self::Ok
        } else {
            Self::Down
        }
    }
}

/// One component of the node and what its loss means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Component {
    /// The field of the health body, such as `storage` or `redis`.
    pub name: &'static str,
    pub status: ComponentStatus,
    /// Whether the node can serve at all without it: an essential component down makes
    /// `/health` answer 503, any other only marks the node degraded.
    pub essential: bool,
}

/// Probes what the node depends on.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// The state of every component. MUST answer promptly, whatever the components do: load
    /// balancers probe often and give up quickly, so bound each probe with a timeout and
    /// report `Down` when it expires. Probes SHOULD run concurrently.
    async fn check(&self) -> Vec<Component>;
}

/// The overall state, from the components'.
fn overall(components: &[Component]) -> (&'static str, bool) {
    let down =
        |essential: bool| components.iter().any(|c| c.essential == essential && c.status == ComponentStatus::Down);
    if down(true) {
        ("down", false)
    } else if down(false) {
        ("degraded", true)
    } else {
        ("ok", true)
    }
}

/// The body of `/health`, for the OpenAPI document only: `status`, then one field per component.
#[derive(utoipa::ToSchema)]
#[schema(as = Health)]
#[allow(dead_code)]
struct HealthBody {
    /// `ok`, `degraded` (an optional component is down) or `down` (an essential one is).
    #[schema(pattern = "^(ok|degraded|down)$")]
    status: String,
    /// The embedded store or MongoDB: `ok` or `down`.
    #[schema(pattern = "^(ok|down)$")]
    storage: Option<String>,
    /// Only in cluster mode (`REDIS_URL`): `ok` or `down`.
    #[schema(pattern = "^(ok|down)$")]
    redis: Option<String>,
}

#[utoipa::path(
    get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "The node serves (`ok`, or `degraded` without Redis).", body = HealthBody),
        (status = 503, description = "The node cannot serve (its store is down).", body = HealthBody),
    ),
)]
pub(crate) async fn health(state: web::Data<HttpState>) -> HttpResponse {
    let components = match &state.health {
        Some(check) => check.check().await,
        None => Vec::new(),
    };
    let (status, serving) = overall(&components);
    let mut body = serde_json::Map::new();
    body.insert("status".to_owned(), status.into());
    for component in &components {
        body.insert(component.name.to_owned(), serde_json::json!(component.status));
    }
    let mut response = if serving { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    response.insert_header(("Cache-Control", "no-store")).json(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &'static str, up: bool, essential: bool) -> Component {
        Component { name, status: ComponentStatus::up_if(up), essential }
    }

    #[test]
    fn essential_components_decide_between_down_and_the_rest() {
        assert_eq!(overall(&[]), ("ok", true));
        assert_eq!(overall(&[c("storage", true, true), c("redis", true, false)]), ("ok", true));
        assert_eq!(overall(&[c("storage", true, true), c("redis", false, false)]), ("degraded", true));
        assert_eq!(overall(&[c("storage", false, true), c("redis", true, false)]), ("down", false));
        assert_eq!(overall(&[c("storage", false, true), c("redis", false, false)]), ("down", false));
    }
}
