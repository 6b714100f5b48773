//! The HTTP half of the wire contract on actix-web: every `/api` route, plus `GET /health`
//! (whose components the app supplies through [`HealthCheck`]).
//!
//! The app mounts it with `App::new().configure(adapter_http::configure(state))`. Every error
//! body, including those of malformed input, unknown routes and wrong methods, has the NestJS
//! shape `{"statusCode", "error", "message"}` (see [`ApiError`]). Routes, statuses and the
//! choices made where the contract is silent are written down in `docs/http.md`.

mod auth;
mod dto;
mod error;
mod groups;
mod health;
mod metrics;
pub mod openapi;
mod presence;
mod receipts;
mod rendered;
mod routes;

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{web, HttpRequest, Resource};
use chat_domain::Services;

pub use auth::Caller;
pub use error::{ApiError, TOO_MANY_ATTEMPTS, TOO_MANY_MESSAGES};
pub use health::{Component, ComponentStatus, HealthCheck};
pub use metrics::{record_request, REQUEST_DURATION};

/// Largest JSON body accepted, in bytes. A message may hold 10,000 characters; written with
/// `\uXXXX` surrogate-pair escapes that is up to 120,000 bytes, so 128 KiB admits every valid
/// message however its JSON is escaped, and refuses anything larger with 413.
pub const DEFAULT_JSON_LIMIT: usize = 128 * 1024;

/// Where the client address that registration and login attempts are counted against comes
/// from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAddress {
    /// The TCP peer: right unless a reverse proxy sits in front (then every client would
    /// share the proxy's address). Headers are ignored, since any client can write them.
    #[default]
    Peer,
    /// The last address in `X-Forwarded-For`, the one the (single, trusted) reverse proxy in
    /// front appended; the peer when the header is missing or unreadable. Only for a server
    /// no client can reach except through that proxy: otherwise clients choose their address.
    LastForwardedFor,
}

impl ClientAddress {
    /// The address of `req`'s client, when there is one.
    pub fn of(self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr().map(|a| a.ip());
        match self {
            Self::Peer => peer,
            Self::LastForwardedFor => last_forwarded_for(req).or(peer),
        }
    }
}

/// The last entry of the last `X-Forwarded-For` header, when it is an IP address.
fn last_forwarded_for(req: &HttpRequest) -> Option<IpAddr> {
    let header = req.headers().get_all("x-forwarded-for").last()?.to_str().ok()?;
    header.rsplit(',').next()?.trim().parse().ok()
}

/// What the routes need: the use-case services, the body size limit, the health check and
/// where client addresses come from.
#[derive(Clone)]
pub struct HttpState {
    pub services: Services,
    json_limit: usize,
    health: Option<Arc<dyn HealthCheck>>,
    client_address: ClientAddress,
    /// The JSON of messages history pages carried lately.
    rendered: rendered::RenderedMessages,
}

impl HttpState {
    pub fn new(services: Services) -> Self {
        Self {
            services,
            json_limit: DEFAULT_JSON_LIMIT,
            health: None,
            client_address: ClientAddress::Peer,
            rendered: rendered::RenderedMessages::default(),
        }
    }

    /// Where client addresses come from; [`ClientAddress::Peer`] unless set.
    pub fn with_client_address(mut self, from: ClientAddress) -> Self {
        self.client_address = from;
        self
    }

    /// Makes `GET /health` report what `check` finds (see [`HealthCheck`]); without one it
    /// answers `{"status":"ok"}` whenever the process serves HTTP.
    pub fn with_health(mut self, check: Arc<dyn HealthCheck>) -> Self {
        self.health = Some(check);
        self
    }

    /// Overrides [`DEFAULT_JSON_LIMIT`].
    pub fn with_json_limit(mut self, bytes: usize) -> Self {
        self.json_limit = bytes;
        self
    }
}

/// Registers the state and every route, and makes paths no route serves answer 404 in the
/// NestJS shape (the app's default service). The JSON, query and path extractor settings are
/// attached to this adapter's own resources, so other adapters mounted on the same app keep
/// theirs. Call once per app (that is, once per worker).
pub fn configure(state: HttpState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let extractors = Extractors {
            json: web::JsonConfig::default().limit(state.json_limit).error_handler(error::json_error),
            query: web::QueryConfig::default().error_handler(error::query_error),
            path: web::PathConfig::default().error_handler(error::path_error),
        };
        let resource = |path: &str, allow: &'static str| extractors.resource(path, allow);
        cfg.app_data(web::Data::new(state))
            .service(resource("/health", "GET").route(web::get().to(health::health)))
            .service(resource("/api/auth/register", "POST").route(web::post().to(routes::register)))
            .service(resource("/api/auth/login", "POST").route(web::post().to(routes::login)))
            .service(resource("/api/auth/logout", "POST").route(web::post().to(routes::logout)))
            .service(resource("/api/users/me", "GET").route(web::get().to(routes::me)))
            .service(resource("/api/users", "GET").route(web::get().to(routes::search_users)))
            .service(resource("/api/presence", "GET").route(web::get().to(presence::presence)))
            // Matched in this order, each dynamic path by a regex: the busiest (history) goes
            // before the other dynamic ones. Patterns match whole paths, so order changes no match.
            .service(resource("/api/chats/{chatId}/messages", "GET").route(web::get().to(routes::history)))
            .service(
                resource("/api/chats", "GET, POST")
                    .route(web::get().to(routes::list_chats))
                    .route(web::post().to(routes::create_chat)),
            )
            .service(
                resource("/api/chats/{chatId}", "GET, PATCH")
                    .route(web::get().to(routes::get_chat))
                    .route(web::patch().to(groups::rename_chat)),
            )
            .service(
                resource("/api/chats/{chatId}/participants", "POST").route(web::post().to(groups::add_participants)),
            )
            .service(
                resource("/api/chats/{chatId}/participants/{userId}", "DELETE")
                    .route(web::delete().to(groups::remove_participant)),
            )
            .service(resource("/api/messages", "POST").route(web::post().to(routes::send_message)))
            .service(resource("/api/messages/chats/{chatId}", "GET").route(web::get().to(routes::history_alias)))
            .service(
                resource("/api/messages/{id}", "PATCH, DELETE")
                    .route(web::patch().to(groups::edit_message))
                    .route(web::delete().to(routes::delete_message)),
            )
            .service(resource("/api/chats/{chatId}/read", "POST").route(web::post().to(receipts::read)))
            .service(resource("/api/chats/{chatId}/delivered", "POST").route(web::post().to(receipts::delivered)))
            .service(resource("/api/messages/{id}/status", "PATCH").route(web::patch().to(receipts::update_status)))
            .service(resource(openapi::DOCUMENT_PATH, "GET").route(web::get().to(openapi::docs_json)))
            .service(openapi::swagger_ui())
            .service(resource("/api/docs", "GET").route(web::get().to(openapi::docs_redirect)))
            .default_service(web::to(|req: HttpRequest| async move { Err::<(), _>(ApiError::route_not_found(&req)) }));
    }
}

/// How this adapter's extractors read bodies, queries and paths, and report their failures.
struct Extractors {
    json: web::JsonConfig,
    query: web::QueryConfig,
    path: web::PathConfig,
}

impl Extractors {
    /// A resource with these settings that answers 405 with an `Allow` header to methods it
    /// does not serve.
    fn resource(&self, path: &str, allow: &'static str) -> Resource {
        web::resource(path)
            .app_data(self.json.clone())
            .app_data(self.query.clone())
            .app_data(self.path.clone())
            .default_service(web::to(move |req: HttpRequest| async move {
                Err::<(), _>(ApiError::method_not_allowed(&req, allow))
            }))
    }
}
