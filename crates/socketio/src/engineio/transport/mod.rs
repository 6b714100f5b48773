//! HTTP side of the Engine.IO server: the `/socket.io/` route, request validation with the
//! Engine.IO error bodies, CORS, and the hand-off to long-polling or WebSocket; and the
//! WebSocket connections taken off actix's HTTP dispatcher ([`takeover`]).

mod polling;
mod request;
pub(crate) mod takeover;
mod websocket;
mod ws_body;

use std::sync::Arc;

use actix_http::RequestHead;
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
    let (query, transport) = match classify(engine, req.head()) {
        Ok(classified) => classified,
        Err(err) => return err.response(),
    };
    if transport == TransportKind::WebSocket {
        return match websocket::target(engine, req.head(), query.sid.as_deref()) {
            Ok(target) => websocket::serve(engine, target, req, body),
            Err(err) => err.response(),
        };
    }
    let Some(sid) = query.sid else {
        if req.method() != Method::GET {
            return EioError::BadHandshakeMethod.response();
        }
        return polling::handshake(engine, req);
    };
    let Some(session) = engine.session(&sid) else {
        return EioError::UnknownSid.response();
    };
    if session.client_close() != ClientClose::No && req.method() != Method::GET {
        // Closed by the client and only kept for the GET that gets the noop.
        return EioError::UnknownSid.response();
    }
    match *req.method() {
        Method::GET => polling::poll(session).await,
        Method::POST => polling::post(engine.config.max_payload, session, body).await,
        _ => EioError::BadRequest.response(),
    }
}

/// The checks every Engine.IO request goes through first: its `Origin`, its transport and its
/// protocol version.
fn classify(engine: &Engine, head: &RequestHead) -> Result<(EioQuery, TransportKind), EioError> {
    if let Some(allowed) = &engine.config.allowed_origins {
        let origin = head.headers.get(header::ORIGIN).map(|o| o.to_str().unwrap_or(""));
        if origin.is_some_and(|o| !allowed.iter().any(|a| a == o) && !same_origin(o, head)) {
            return Err(EioError::Forbidden);
        }
    }
    let query = EioQuery::parse(head.uri.query().unwrap_or_default());
    let transport = match query.transport.as_deref() {
        Some("polling") => TransportKind::Polling,
        Some("websocket") => TransportKind::WebSocket,
        _ => return Err(EioError::TransportUnknown),
    };
    if query.eio.as_deref() != Some("4") {
        return Err(EioError::UnsupportedProtocolVersion);
    }
    Ok((query, transport))
}

/// Whether `origin` is the site the request was sent to (a page this server serves): its
/// host and port are the request's `Host`.
fn same_origin(origin: &str, head: &RequestHead) -> bool {
    let Some(host) = head.headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

fn preflight(req: &HttpRequest) -> HttpResponse {
    let mut response = HttpResponse::NoContent();
    response.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"));
    if let Some(requested) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, requested.clone()));
    }
    response.finish()
}
