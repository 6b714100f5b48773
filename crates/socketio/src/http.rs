//! HTTP side of the Engine.IO server: the `/socket.io/` route, request validation with the
//! Engine.IO error bodies, long-polling GET and POST, and CORS.

use std::sync::Arc;

use actix_web::{
    http::{
        header::{self, HeaderValue},
        Method,
    },
    web, HttpRequest, HttpResponse,
};
use bytes::Bytes;

use super::{
    eio,
    handler::{DisconnectReason, Handshake},
    session::{EngineSession, PollRefusal, TransportKind},
    ws, SocketIo,
};

/// Mounts the Socket.IO endpoint (`/socket.io/`: polling GET and POST, WebSocket upgrade on
/// GET) on an actix-web app:
///
/// ```no_run
/// # use socketio::{configure, EngineConfig, SocketIo};
/// # async fn run(io: SocketIo) -> std::io::Result<()> {
/// actix_web::HttpServer::new(move || actix_web::App::new().configure(configure(io.clone())))
///     .bind(("0.0.0.0", 3001))?
///     .run()
///     .await
/// # }
/// ```
pub fn configure(io: SocketIo) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(web::resource(["/socket.io/", "/socket.io"]).route(web::route().to(
            move |req: HttpRequest, body: web::Payload| {
                let io = io.clone();
                async move { handle(&io, &req, body).await }
            },
        )));
    }
}

/// Engine.IO request errors, answered with 400 and `{"code": N, "message": "..."}` like the
/// reference server. (Code 4, "Forbidden", comes from the reference's `allowRequest` hook,
/// which this server does not have.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EioError {
    TransportUnknown,
    UnknownSid,
    BadHandshakeMethod,
    BadRequest,
    UnsupportedProtocolVersion,
}

impl EioError {
    fn code(self) -> u8 {
        match self {
            Self::TransportUnknown => 0,
            Self::UnknownSid => 1,
            Self::BadHandshakeMethod => 2,
            Self::BadRequest => 3,
            Self::UnsupportedProtocolVersion => 5,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::TransportUnknown => "Transport unknown",
            Self::UnknownSid => "Session ID unknown",
            Self::BadHandshakeMethod => "Bad handshake method",
            Self::BadRequest => "Bad request",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    pub(crate) fn response(self) -> HttpResponse {
        HttpResponse::BadRequest()
            .content_type("application/json")
            .body(serde_json::json!({ "code": self.code(), "message": self.message() }).to_string())
    }
}

/// The query parameters Engine.IO cares about.
#[derive(Debug, Default)]
struct EioQuery {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
}

impl EioQuery {
    fn parse(query: &str) -> Self {
        let pairs =
            web::Query::<Vec<(String, String)>>::from_query(query).map(web::Query::into_inner).unwrap_or_default();
        let mut parsed = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "EIO" => &mut parsed.eio,
                "transport" => &mut parsed.transport,
                "sid" => &mut parsed.sid,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        parsed
    }
}

pub(crate) fn handshake_of(req: &HttpRequest) -> Handshake {
    Handshake { headers: req.headers().clone(), query: req.query_string().to_owned(), remote_addr: req.peer_addr() }
}

async fn handle(io: &SocketIo, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let mut response = route(io, req, body).await;
    if io.inner.config.cors_any_origin {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
    response
}

async fn route(io: &SocketIo, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    if req.method() == Method::OPTIONS && io.inner.config.cors_any_origin {
        return preflight(req);
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
            TransportKind::WebSocket if is_upgrade => ws::open(io, req, body),
            TransportKind::WebSocket => EioError::BadRequest.response(),
            TransportKind::Polling => polling_handshake(io, req),
        };
    };
    let Some(session) = io.inner.session(&sid) else {
        return EioError::UnknownSid.response();
    };
    match transport {
        TransportKind::WebSocket if is_upgrade => ws::upgrade(io, session, req, body),
        TransportKind::WebSocket => EioError::BadRequest.response(),
        TransportKind::Polling if req.method() == Method::GET => poll(session).await,
        TransportKind::Polling if req.method() == Method::POST => {
            post(io.inner.config.max_payload, session, body).await
        }
        TransportKind::Polling => EioError::BadRequest.response(),
    }
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

fn text(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=UTF-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The first polling GET: a new session, answered with its open packet.
fn polling_handshake(io: &SocketIo, req: &HttpRequest) -> HttpResponse {
    let session = io.inner.open_session(TransportKind::Polling, handshake_of(req));
    text(eio::encode_payload(&session.take_outbound(), false))
}

/// A long-polling GET: waits until something is queued, then answers with all of it.
async fn poll(session: Arc<EngineSession>) -> HttpResponse {
    let _guard = match session.begin_poll() {
        Ok(guard) => guard,
        Err(PollRefusal::WrongTransport | PollRefusal::Overlap) => return EioError::BadRequest.response(),
    };
    loop {
        let changed = session.outbound_changed();
        tokio::pin!(changed);
        changed.as_mut().enable();

        let Some(items) = session.take_for_poll() else {
            // Upgraded to WebSocket while this poll was waiting.
            return text(Bytes::from_static(eio::NOOP.as_bytes()));
        };
        let closed = session.is_closed();
        if !items.is_empty() || closed {
            return text(eio::encode_payload(&items, closed));
        }
        if session.is_probed() {
            // Let the client finish its pending poll so it can pause polling and upgrade.
            return text(Bytes::from_static(eio::NOOP.as_bytes()));
        }
        changed.await;
    }
}

/// A polling POST: one or more packets from the client, at most `max_payload` bytes.
async fn post(max_payload: usize, session: Arc<EngineSession>, body: web::Payload) -> HttpResponse {
    let _guard = match session.begin_post() {
        Ok(guard) => guard,
        Err(PollRefusal::WrongTransport | PollRefusal::Overlap) => return EioError::BadRequest.response(),
    };
    let body = match body.to_bytes_limited(max_payload).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            session.close(DisconnectReason::TransportError);
            return EioError::BadRequest.response();
        }
        Err(_) => {
            session.close(DisconnectReason::PayloadTooLarge);
            return HttpResponse::PayloadTooLarge().finish();
        }
    };
    match eio::decode_payload(&body) {
        Ok(packets) => {
            for packet in packets {
                if session.is_closed() {
                    break;
                }
                session.on_packet(packet).await;
            }
        }
        Err(err) => {
            tracing::debug!(sid = %session.sid, error = %err, "invalid polling payload");
            session.close(DisconnectReason::ParseError);
        }
    }
    // The reference server answers "ok" even when the payload closed the session.
    HttpResponse::Ok().content_type("text/html").body("ok")
}
