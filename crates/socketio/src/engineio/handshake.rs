//! The HTTP request that opened an Engine.IO session, as handlers see it.

use std::{fmt, net::SocketAddr, sync::OnceLock};

use actix_http::RequestHead;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The HTTP request that opened an Engine.IO session (the first polling GET or the direct
/// WebSocket upgrade).
///
/// A session keeps it for its whole life, so it owns one compact copy: the headers of a parsed
/// request are slices of the connection's 8 KiB read buffer, and holding them would keep that
/// buffer allocated for as long as the session lives. The headers are kept as one block of
/// `name:value\n` lines (names lowercase, as the request's map holds them), which costs about
/// the bytes the client sent; a [`HeaderMap`] is built only if a handler asks for one.
#[derive(Clone)]
pub struct Handshake {
    /// Every header as a `name:value\n` line, in request order. Names hold no `:` and values
    /// no `\n` (the request parser refuses both), so the block splits back unambiguously.
    headers: Box<[u8]>,
    /// The same headers as a map, built on the first [`headers`](Self::headers) call (most
    /// handlers only ever look up one header).
    map: OnceLock<Box<HeaderMap>>,
    query: Box<str>,
    remote_addr: Option<SocketAddr>,
}

/// Header names and the peer only: values and the query may carry a token.
impl fmt::Debug for Handshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.lines().map(|(name, _)| String::from_utf8_lossy(name)).collect();
        f.debug_struct("Handshake")
            .field("headers", &names)
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

impl Handshake {
    /// The handshake of the request that opens a session.
    pub(crate) fn of(head: &RequestHead) -> Self {
        let size = head.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 2).sum();
        let mut headers = Vec::with_capacity(size);
        for (name, value) in head.headers.iter() {
            headers.extend_from_slice(name.as_str().as_bytes());
            headers.push(b':');
            headers.extend_from_slice(value.as_bytes());
            headers.push(b'\n');
        }
        Self {
            headers: headers.into_boxed_slice(),
            map: OnceLock::new(),
            query: head.uri.query().unwrap_or_default().into(),
            remote_addr: head.peer_addr,
        }
    }

    /// The headers as (lowercase name, value) pairs, in request order.
    fn lines(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.split(|&b| b == b'\n').filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            Some((&line[..colon], &line[colon + 1..]))
        })
    }

    /// All request headers.
    pub fn headers(&self) -> &HeaderMap {
        self.map.get_or_init(|| {
            let mut map = HeaderMap::new();
            for (name, value) in self.lines() {
                // Both were a valid name and value of the request a moment ago.
                if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                    map.append(name, value);
                }
            }
            Box::new(map)
        })
    }

    /// One header as text, if present and visible ASCII (the first one when repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        let (_, value) = self.lines().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))?;
        // What `HeaderValue::to_str` accepts: visible ASCII and tabs.
        if !value.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return None;
        }
        std::str::from_utf8(value).ok()
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
    use bytes::Bytes;

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
        // Nothing kept points into the request's buffer.
        let range = buffer.as_ptr_range();
        assert!(!range.contains(&handshake.headers.as_ptr()));
        assert!(handshake.headers().iter().all(|(_, v)| !range.contains(&v.as_bytes().as_ptr())));
        assert_eq!(handshake.headers().get("authorization").unwrap(), "Bearer abc");
    }

    #[test]
    fn a_value_with_colons_or_bytes_beyond_ascii_reads_back_as_sent() {
        let mut head = RequestHead::default();
        head.headers.insert(HeaderName::from_static("x-url"), HeaderValue::from_static("http://a:1/b"));
        head.headers.insert(HeaderName::from_static("x-empty"), HeaderValue::from_static(""));
        head.headers.insert(HeaderName::from_static("x-latin"), HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let handshake = Handshake::of(&head);

        assert_eq!(handshake.header("X-URL"), Some("http://a:1/b"));
        assert_eq!(handshake.header("x-empty"), Some(""));
        // Not visible ASCII: no text, as `HeaderValue::to_str` would say, but the map has it.
        assert_eq!(handshake.header("x-latin"), None);
        assert_eq!(handshake.headers().get("x-latin").unwrap().as_bytes(), b"caf\xe9");
        assert_eq!(handshake.headers().len(), 3);
    }
}
