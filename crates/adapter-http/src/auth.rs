//! The `Caller` extractor: `Authorization: Bearer <jwt>` verified into the caller's user id.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use chat_domain::credentials::bearer_token;
use chat_domain::UserId;

use crate::error::ApiError;
use crate::HttpState;

/// The authenticated caller of a route. Extracting it fails with 401 when the header is
/// missing, is not a bearer token, or the token does not verify (forged, malformed, expired,
/// not yet valid, revoked by a logout, or naming no existing user), and with 503 when the
/// store cannot tell; the domain's `credentials` and `AuthService::authenticate_from` decide
/// which, exactly as for a socket's connect. Routes that need the account itself load it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller(pub UserId);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(state) = req.app_data::<web::Data<HttpState>>() else {
        // Only a wiring mistake gets here: `configure` always registers the state.
        tracing::error!("HttpState is not registered with the app");
        return Err(ApiError::internal());
    };
    let header = req.headers().get(AUTHORIZATION).and_then(|value| value.to_str().ok());
    let token = header.and_then(bearer_token).ok_or_else(ApiError::unauthorized)?;
    let client = state.client_address.of(req);
    let claims = state.services.auth.authenticate_from(client, token).await?;
    Ok(Caller(claims.user))
}
