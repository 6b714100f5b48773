//! The browser client: a small page for trying the chat (register or log in, chats, a
//! conversation with live messages), served by the server itself at `/`.
//!
//! Every file is embedded in the binary with `include_bytes!` and served under an exact name:
//! `/` is the page and `/static/<name>` the files of [`FILES`]. Nothing is read from disk and
//! no path is ever joined, so a request can only reach an embedded file (`/static/../x` matches
//! no route). The page talks to the API and the Socket.IO gateway on its own origin, so it needs
//! no CORS.
//!
//! Responses carry an `ETag` (a hash of the file, computed once) and `Cache-Control:
//! no-cache`: browsers revalidate on each load and get `304 Not Modified` until the binary
//! serves different bytes, so a new release is never hidden behind a stale cache.
//!
//! `static/socket.io.min.js` is the official browser bundle of the npm package
//! `socket.io-client` (MIT, `LICENSE-socket.io-client`), committed as published.

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// One embedded file: its name under `/static/`, its bytes and its media type.
#[derive(Debug)]
pub struct StaticFile {
    pub name: &'static str,
    pub body: &'static [u8],
    pub content_type: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page itself, served at `/` (and as `/static/index.html`).
pub const INDEX: StaticFile = StaticFile {
    name: "index.html",
    body: include_bytes!("../static/index.html"),
    content_type: "text/html; charset=utf-8",
};

/// Everything served, by name.
pub const FILES: &[StaticFile] = &[
    INDEX,
    StaticFile {
        name: "style.css",
        body: include_bytes!("../static/style.css"),
        content_type: "text/css; charset=utf-8",
    },
    StaticFile { name: "app.js", body: include_bytes!("../static/app.js"), content_type: JS },
    StaticFile { name: "api.js", body: include_bytes!("../static/api.js"), content_type: JS },
    StaticFile { name: "dom.js", body: include_bytes!("../static/dom.js"), content_type: JS },
    StaticFile { name: "chats.js", body: include_bytes!("../static/chats.js"), content_type: JS },
    StaticFile { name: "conversation.js", body: include_bytes!("../static/conversation.js"), content_type: JS },
    StaticFile { name: "socket.io.min.js", body: include_bytes!("../static/socket.io.min.js"), content_type: JS },
];

/// What the page may load and connect to: its own origin only (the API, the gateway's
/// polling and WebSocket transports, and these files). No inline script or style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'";

/// Mounts `/` and `/static/<name>` for every file of [`FILES`] (GET and HEAD; other methods
/// get 405 from actix-web).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(file_resource("/", &INDEX));
    for file in FILES {
        cfg.service(file_resource(&format!("/static/{}", file.name), file));
    }
}

fn file_resource(path: &str, file: &'static StaticFile) -> actix_web::Resource {
    let handler = move |req: HttpRequest| async move { respond(&req, file) };
    web::resource(path).route(web::get().to(handler)).route(web::head().to(handler))
}

fn respond(req: &HttpRequest, file: &'static StaticFile) -> HttpResponse {
    let etag = etag_of(file);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag || tag.trim() == "*"));
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-cache")))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")));
    if file.content_type.starts_with("text/html") {
        response
            .insert_header((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)))
            .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")));
    }
    if fresh {
        return response.finish();
    }
    // For HEAD, actix-web sends the headers (and the length) of this response without the body.
    response.content_type(file.content_type).body(file.body)
}

/// The quoted entity tag of a file: FNV-1a over its bytes, computed once per file.
fn etag_of(file: &'static StaticFile) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| FILES.iter().map(|f| format!("\"{:016x}\"", fnv1a(f.body))).collect());
    let index = FILES.iter().position(|f| f.name == file.name).unwrap_or(0);
    &tags[index]
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
