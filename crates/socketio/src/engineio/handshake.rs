//! The HTTP request that opened an Engine.IO session, as handlers see it.

use std::{net::SocketAddr, sync::OnceLock};

use actix_http::RequestHead;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::{Bytes, BytesMut};

/// The HTTP request that opened an Engine.IO session (the first polling GET or the direct
/// WebSocket upgrade).
///
/// A session keeps it for its whole life, so it owns compact copies: the headers of a parsed
/// request are slices of the connection's 8 KiB read buffer, and holding them would keep that
/// buffer allocated for as long as the session lives.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// Names and values in request order; every value is a slice of one shared buffer.
    headers: Box<[(HeaderName, HeaderValue)]>,
    /// The same headers as a map, built on the first [`headers`](Self::headers) call (most
    /// handlers only ever look up one header).
    map: OnceLock<HeaderMap>,
    query: Box<str>,
    remote_addr: Option<SocketAddr>,
}

impl Handshake {
    /// The handshake of the request that opens a session.
    pub(crate) fn of(head: &RequestHead) -> Self {
        let mut values = BytesMut::with_capacity(head.headers.iter().map(|(_, v)| v.len()).sum());
        let mut names = Vec::with_capacity(head.headers.len());
        for (name, value) in head.headers.iter() {
            values.extend_from_slice(value.as_bytes());
            // A standard name is a constant; any other one is copied, so it does not share the
            // read buffer either.
            if let Ok(name) = HeaderName::from_bytes(name.as_str().as_bytes()) {
                names.push((name, value.len()));
            }
        }
        let values: Bytes = values.freeze();
        let mut start = 0;
        let mut headers = Vec::with_capacity(names.len());
        for (name, len) in names {
            // The bytes were a valid header value a moment ago, so this cannot fail.
            if let Ok(value) = HeaderValue::from_maybe_shared(values.slice(start..start + len)) {
                headers.push((name, value));
            }
            start += len;
        }
        Self {
            headers: headers.into_boxed_slice(),
            map: OnceLock::new(),
            query: head.uri.query().unwrap_or_default().into(),
            remote_addr: head.peer_addr,
        }
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.map.get_or_init(|| self.headers.iter().cloned().collect())
    }

    /// One header as text, if present and visible ASCII (the first one when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.as_str().eq_ignore_ascii_case(name)).and_then(|(_, v)| v.to_str().ok())
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use actix_web::http::Uri;

    use super::*;

    #[test]
    fn keeps_headers_query_and_address_without_the_request_buffer() {
        let buffer = Bytes::from_static(b"Bearer abc;x-custom;v1;v2");
        let mut head = RequestHead::default();
        head.uri = Uri::from_static("/socket.io/?EIO=4&token=a%20b");
        head.peer_addr = Some("127.0.0.1:9".parse().unwrap());
        head.headers.insert(
            HeaderName::from_static("authorization"),
            HeaderValue::from_maybe_shared(buffer.slice(0..10)).unwrap(),
        );
        head.headers.append(HeaderName::from_static("x-custom"), HeaderValue::from_static("v1"));
        head.headers.append(HeaderName::from_static("x-custom"), HeaderValue::from_static("v2"));
        let handshake = Handshake::of(&head);
        drop(head);

        assert_eq!(handshake.header("Authorization"), Some("Bearer abc"));
        assert_eq!(handshake.header("x-custom"), Some("v1"));
        assert_eq!(handshake.header("missing"), None);
        assert_eq!(handshake.headers().get_all("x-custom").count(), 2);
        assert_eq!(handshake.query_param("token").as_deref(), Some("a b"));
        assert_eq!(handshake.remote_addr(), Some("127.0.0.1:9".parse().unwrap()));
        // No copied value points into the request's buffer.
        let range = buffer.as_ptr_range();
        assert!(handshake.headers.iter().all(|(_, v)| !range.contains(&v.as_bytes().as_ptr())));
    }
}
