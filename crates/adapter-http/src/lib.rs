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
mod health;
mod routes;

use std::sync::Arc;

use actix_web::{web, HttpRequest, Resource};
use chat_domain::Services;

pub use auth::Caller;
pub use error::ApiError;
pub use health::{Component, ComponentStatus, HealthCheck};

/// Largest JSON body accepted, in bytes. A message may hold 10,000 characters; written with
/// `\uXXXX` surrogate-pair escapes that is up to 120,000 bytes, so 128 KiB admits every valid
/// message however its JSON is escaped, and refuses anything larger with 413.
pub const DEFAULT_JSON_LIMIT: usize = 128 * 1024;

/// What the routes need: the use-case services, the body size limit and the health check.
#[derive(Clone)]
pub struct HttpState {
    pub services: Services,
    json_limit: usize,
    health: Option<Arc<dyn HealthCheck>>,
}

impl HttpState {
    pub fn new(services: Services) -> Self {
        Self { services, json_limit: DEFAULT_JSON_LIMIT, health: None }
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
            .service(resource("/api/users/me", "GET").route(web::get().to(routes::me)))
            .service(resource("/api/users", "GET").route(web::get().to(routes::search_users)))
            .service(
                resource("/api/chats", "GET, POST")
                    .route(web::get().to(routes::list_chats))
                    .route(web::post().to(routes::create_chat)),
            )
            .service(resource("/api/chats/{chatId}", "GET").route(web::get().to(routes::get_chat)))
            .service(resource("/api/chats/{chatId}/messages", "GET").route(web::get().to(routes::history)))
            .service(resource("/api/messages", "POST").route(web::post().to(routes::send_message)))
            .service(resource("/api/messages/chats/{chatId}", "GET").route(web::get().to(routes::history)))
            .service(resource("/api/messages/{id}", "DELETE").route(web::delete().to(routes::delete_message)))
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
