//! HTTP side of the Engine.IO server: the `/socket.io/` route, request validation with the
//! Engine.IO error bodies, CORS, and the hand-off to long-polling or WebSocket.

mod polling;
mod request;
mod websocket;
mod ws_body;

use std::sync::Arc;

use actix_web::{
    http::{
        header::{self, HeaderValue},
        Method,
    },
    web, HttpRequest, HttpResponse,
};

use self::request::{EioError, EioQuery};
use super::{
    engine::Engine,
    session::{ClientClose, TransportKind},
};

/// Mounts the Engine.IO endpoint at `path` (`/socket.io`, or `/engine.io` for a plain
/// Engine.IO server; with and without the trailing slash): polling GET and POST, WebSocket
/// upgrade on GET, for `engine` on an actix-web app.
pub(crate) fn service(engine: Arc<Engine>, path: &'static str) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(web::resource([format!("{path}/"), path.to_owned()]).route(web::route().to(
            move |req: HttpRequest, body: web::Payload| {
                let engine = Arc::clone(&engine);
                async move { handle(&engine, &req, body).await }
            },
        )));
    }
}

async fn handle(engine: &Arc<Engine>, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let mut response = route(engine, req, body).await;
    if engine.config.cors_any_origin {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    response
}

async fn route(engine: &Arc<Engine>, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    if req.method() == Method::OPTIONS && engine.config.cors_any_origin {
        return preflight(req);
    }
    if let Some(allowed) = &engine.config.allowed_origins {
        let origin = req.headers().get(header::ORIGIN).map(|o| o.to_str().unwrap_or(""));
        if origin.is_some_and(|o| !allowed.iter().any(|a| a == o) && !same_origin(o, req)) {
            return EioError::Forbidden.response();
        }
    }
    let query = EioQuery::parse(req.query_string());
    let transport = match query.transport.as_deref() {
        Some("polling") => TransportKind::Polling,
        Some("websocket") => TransportKind::WebSocket,
        _ => return EioError::TransportUnknown.response(),
    };
    if query.eio.as_deref() != Some("4") {
        return EioError::UnsupportedProtocolVersion.response();
    }
    let is_upgrade = req.method() == Method::GET && is_websocket_upgrade(req);

    let Some(sid) = query.sid else {
        if req.method() != Method::GET {
            return EioError::BadHandshakeMethod.response();
        }
        return match transport {
            TransportKind::WebSocket if is_upgrade => websocket::open(engine, req, body),
            TransportKind::WebSocket => EioError::BadRequest.response(),
            TransportKind::Polling => polling::handshake(engine, req),
        };
    };
    let Some(session) = engine.session(&sid) else {
        return EioError::UnknownSid.response();
    };
    let polling_get = transport == TransportKind::Polling && req.method() == Method::GET;
    if session.client_close() != ClientClose::No && !polling_get {
        // Closed by the client and only kept for the GET that gets the noop.
        return EioError::UnknownSid.response();
    }
    match transport {
        TransportKind::WebSocket if is_upgrade => websocket::upgrade(engine, session, req, body),
        TransportKind::WebSocket => EioError::BadRequest.response(),
        TransportKind::Polling if req.method() == Method::GET => polling::poll(session).await,
        TransportKind::Polling if req.method() == Method::POST => {
            polling::post(engine.config.max_payload, session, body).await
        }
        TransportKind::Polling => EioError::BadRequest.response(),
    }
}

/// Whether `origin` is the site the request was sent to (a page this server serves): its
/// host and port are the request's `Host`.
fn same_origin(origin: &str, req: &HttpRequest) -> bool {
    let Some(host) = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

fn is_websocket_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"));
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone()));
    }
    response.finish()
}
