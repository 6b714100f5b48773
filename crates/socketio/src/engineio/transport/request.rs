//! What an Engine.IO request may get wrong, answered as the reference server does, and the
//! query parameters it is routed by.

use actix_web::{http::StatusCode, web, HttpResponse};

/// Engine.IO request errors, answered with 400 and `{"code": N, "message": "..."}` like the
/// reference server; `Forbidden` (code 4) with 403, as the reference's `allowRequest` hook does,
/// for an `Origin` outside `EngineConfig::allowed_origins`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EioError {
    TransportUnknown,
    UnknownSid,
    BadHandshakeMethod,
    BadRequest,
    UnsupportedProtocolVersion,
    /// The request's `Origin` is not allowed.
    Forbidden,
}

impl EioError {
    fn code(self) -> u8 {
        match self {
            Self::TransportUnknown => 0,
            Self::UnknownSid => 1,
            Self::BadHandshakeMethod => 2,
            Self::BadRequest => 3,
            Self::Forbidden => 4,
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
            Self::Forbidden => "Forbidden",
        }
    }

    /// 403 for `Forbidden`, 400 for the others.
    pub(crate) fn status(self) -> StatusCode {
        if self == Self::Forbidden {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    /// The JSON body: `{"code": N, "message": "..."}`.
    pub(crate) fn body(self) -> String {
        serde_json::json!({ "code": self.code(), "message": self.message() }).to_string()
    }

    pub(crate) fn response(self) -> HttpResponse {
        HttpResponse::build(self.status()).content_type("application/json").body(self.body())
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
