//! The HTTP request that opened an Engine.IO session, as handlers see it.

use std::net::SocketAddr;

use actix_web::{http::header::HeaderMap, HttpRequest};

/// The HTTP request that opened an Engine.IO session (the first polling GET or the direct
/// WebSocket upgrade).
#[derive(Debug, Clone)]
pub struct Handshake {
    headers: HeaderMap,
    query: String,
    remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// The handshake of the request that opens a session.
    pub(crate) fn of(req: &HttpRequest) -> Self {
        Self { headers: req.headers().clone(), query: req.query_string().to_owned(), remote_addr: req.peer_addr() }
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// One header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The raw query string (without `?`).
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        actix_web::web::Query::<Vec<(String, String)>>::from_query(&self.query)
            .ok()?
            .into_inner()
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    /// The peer address of the connection, when known.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }
}
