//! What an Engine.IO request may get wrong, answered as the reference server does, and the
//! query parameters it is routed by.

use actix_web::{web, HttpResponse};

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
pub(crate) struct EioQuery {
    pub(crate) eio: Option<String>,
    pub(crate) transport: Option<String>,
    pub(crate) sid: Option<String>,
}

impl EioQuery {
    pub(crate) fn parse(query: &str) -> Self {
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
