//! Errors at the HTTP edge: the domain error mapped to a status, and every response body in the
//! NestJS shape `{"statusCode", "error", "message"}`.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};

/// The message of a 429 for messages past the sender's budget.
pub const TOO_MANY_MESSAGES: &str = "too many messages";
/// The message of a 429 for registration and login attempts past a budget.
pub const TOO_MANY_ATTEMPTS: &str = "too many attempts, try again later";

/// An HTTP error response: a status, a message that is safe to show, and the headers some
/// statuses need. Handlers return it; `?` converts a [`chat_domain::Error`] into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: Cow<'static, str>,
    retry_after_secs: Option<u64>,
    allow: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { status, message: message.into(), retry_after_secs: None, allow: None }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized")
    }

    pub fn payload_too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "request entity too large")
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    /// 404 for a path no route serves, worded as NestJS words it: `Cannot GET /api/nope`.
    pub fn route_not_found(req: &HttpRequest) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Cannot {} {}", req.method(), req.path()))
    }

    /// 405 for a path that exists under another method; `allow` lists the methods it serves.
    pub fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> Self {
        let mut error = Self::new(StatusCode::METHOD_NOT_ALLOWED, format!("Cannot {} {}", req.method(), req.path()));
        error.allow = Some(allow);
        error
    }

    /// 429 asking the client to come back after `retry_after`, in whole seconds rounded up, at
    /// least one.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Self::too_many(TOO_MANY_MESSAGES, retry_after)
    }

    /// 429 for registration and login attempts past their budget, with `Retry-After`.
    pub fn too_many_attempts(retry_after: Duration) -> Self {
        Self::too_many(TOO_MANY_ATTEMPTS, retry_after)
    }

    fn too_many(message: &'static str, retry_after: Duration) -> Self {
        let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        let mut error = Self::new(StatusCode::TOO_MANY_REQUESTS, message);
        error.retry_after_secs = Some(secs.max(1));
        error
    }

    /// The error of a registration or login: as any domain error, except that a rate limit is
    /// about attempts, not messages.
    pub fn from_attempt(error: chat_domain::Error) -> Self {
        match error {
            chat_domain::Error::RateLimited { retry_after } => Self::too_many_attempts(retry_after),
            other => other.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// The body every error carries.
    pub fn body(&self) -> wire::ErrorBody {
        wire::ErrorBody {
            status_code: self.status.as_u16(),
            error: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            message: self.message.clone().into_owned(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, HeaderValue::from_static(allow)));
        }
        response.json(self.body())
    }
}

impl From<chat_domain::Error> for ApiError {
    fn from(error: chat_domain::Error) -> Self {
        use chat_domain::Error as E;
        match error {
            E::Invalid(message) => Self::new(StatusCode::BAD_REQUEST, message),
            E::Unauthorized => Self::unauthorized(),
            E::InvalidCredentials => Self::new(StatusCode::UNAUTHORIZED, "invalid credentials"),
            E::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, message),
            E::NotFound(message) => Self::new(StatusCode::NOT_FOUND, message),
            E::Conflict(message) => Self::new(StatusCode::CONFLICT, message),
            E::RateLimited { retry_after } => Self::rate_limited(retry_after),
            // The store's detail was logged where it happened; the client learns nothing of it.
            E::Unavailable => Self::new(StatusCode::SERVICE_UNAVAILABLE, "service unavailable"),
            E::Internal => Self::internal(),
        }
    }
}

/// Maps a failure to read or parse a JSON body. Parse errors describe the client's own input
/// (an unknown field, a wrong type), so their text is shown, without the position suffix.
pub(crate) fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::payload_too_large()
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::payload_too_large(),
        JsonPayloadError::ContentType => ApiError::bad_request("content type must be application/json"),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::bad_request(in_contract_terms(&without_position(&e.to_string())))
        }
        JsonPayloadError::Deserialize(_) => ApiError::bad_request("body must be valid JSON"),
        JsonPayloadError::Payload(_) => ApiError::bad_request("request body could not be read"),
        JsonPayloadError::Serialize(_) => ApiError::internal(),
        // The enum is non-exhaustive; anything new is the client's input failing to parse.
        _ => ApiError::bad_request("invalid request body"),
    };
    api.into()
}

/// Maps a query string that does not fit its DTO (an unknown or repeated parameter).
pub(crate) fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        QueryPayloadError::Deserialize(e) => ApiError::bad_request(in_contract_terms(&e.to_string())),
        _ => ApiError::bad_request("invalid query string"),
    };
    api.into()
}

/// Maps path parameters that do not fit their DTO.
pub(crate) fn path_error(error: PathError, _req: &HttpRequest) -> actix_web::Error {
    let api = match &error {
        PathError::Deserialize(e) => ApiError::bad_request(in_contract_terms(&e.to_string())),
        _ => ApiError::bad_request("invalid path"),
    };
    api.into()
}

/// Rewrites a serde message in the terms of the wire: JSON types (`an object`, `a whole
/// number`, `an array`, `null`), never the names of our Rust types (`struct RegisterBody`,
/// `u64`, `usize`, `map`, `unit value`). Field names and allowed values are the contract's
/// own and stay as they are.
fn in_contract_terms(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut words = message.split(' ').peekable();
    let mut first = true;
    while let Some(word) = words.next() {
        if !first {
            out.push(' ');
        }
        first = false;
        // `struct Name` / `enum Name`: the name is ours; the shape is the client's concern.
        if word == "struct" || word == "enum" {
            let is_struct = word == "struct";
            let name = words.next().unwrap_or_default();
            out.push_str(if is_struct { "an object" } else { "one of the allowed values" });
            // Keep whatever punctuation followed the type name (`,` or `;`).
            out.extend(name.chars().filter(|c| !c.is_alphanumeric() && *c != '_'));
            continue;
        }
        let (core, tail) = match word.find(|c: char| !c.is_alphanumeric() && c != '_') {
            Some(at) => word.split_at(at),
            None => (word, ""),
        };
        let replaced = match core {
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
                Some("a whole number")
            }
            "f32" | "f64" => Some("a number"),
            "map" => Some("object"),
            "sequence" => Some("array"),
            "boolean" => Some("true or false"),
            _ => None,
        };
        match replaced {
            // serde says `expected a map` / `expected a sequence`: drop its article.
            Some(json) if json.starts_with('a') || json.starts_with("true") => {
                if out.ends_with("a ") && matches!(core, "boolean") {
                    out.truncate(out.len() - 2);
                }
                out.push_str(json);
            }
            Some(json) => out.push_str(json),
            None => out.push_str(core),
        }
        out.push_str(tail);
    }
    out.replace("a object", "an object").replace("a array", "an array").replace("unit value", "null")
}

/// serde_json appends ` at line L column C`; the client knows where its body is.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_at_least_one() {
        let secs = |d| ApiError::rate_limited(d).retry_after_secs;
        assert_eq!(secs(Duration::from_millis(0)), Some(1));
        assert_eq!(secs(Duration::from_millis(1)), Some(1));
        assert_eq!(secs(Duration::from_millis(1000)), Some(1));
        assert_eq!(secs(Duration::from_millis(1001)), Some(2));
        assert_eq!(secs(Duration::from_secs(59)), Some(59));
    }

    #[test]
    fn internal_errors_say_nothing_of_the_cause() {
        let error = ApiError::from(chat_domain::Error::Internal);
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.body().error, "Internal Server Error");
        assert_eq!(error.body().message, "internal server error");
        let error = ApiError::from(chat_domain::Error::Unavailable);
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(error.body().error, "Service Unavailable");
    }

    #[test]
    fn domain_errors_map_to_their_statuses() {
        use chat_domain::Error as E;
        let cases = [
            (E::invalid("x"), 400),
            (E::Unauthorized, 401),
            (E::InvalidCredentials, 401),
            (E::forbidden("x"), 403),
            (E::not_found("x"), 404),
            (E::Conflict("x".into()), 409),
            (E::RateLimited { retry_after: Duration::from_secs(1) }, 429),
            (E::Unavailable, 503),
            (E::Internal, 500),
        ];
        for (error, status) in cases {
            assert_eq!(ApiError::from(error).status().as_u16(), status);
        }
    }

    #[test]
    fn serde_messages_are_told_in_the_wire_s_terms() {
        let cases = [
            ("invalid type: null, expected struct RegisterBody", "invalid type: null, expected an object"),
            ("invalid type: string \"x\", expected u64", "invalid type: string \"x\", expected a whole number"),
            ("invalid type: map, expected a string", "invalid type: object, expected a string"),
            ("invalid type: sequence, expected a string", "invalid type: array, expected a string"),
            ("invalid type: string \"a\", expected a sequence", "invalid type: string \"a\", expected an array"),
            ("invalid type: integer `1`, expected a boolean", "invalid type: integer `1`, expected true or false"),
            ("invalid type: unit value, expected usize", "invalid type: null, expected a whole number"),
            ("invalid value: integer `-1`, expected u32", "invalid value: integer `-1`, expected a whole number"),
            (
                "invalid type: string \"x\", expected enum Kind",
                "invalid type: string \"x\", expected one of the allowed values",
            ),
            ("missing field `email`", "missing field `email`"),
            ("unknown field `x`, expected one of `a`, `b`", "unknown field `x`, expected one of `a`, `b`"),
            (
                "unknown variant `gif`, expected one of `text`, `image`",
                "unknown variant `gif`, expected one of `text`, `image`",
            ),
        ];
        for (serde, ours) in cases {
            assert_eq!(in_contract_terms(serde), ours, "{serde}");
        }
    }

    #[test]
    fn strips_the_position_from_serde_messages() {
        assert_eq!(
            without_position("unknown field `x`, expected `a` at line 1 column 5"),
            "unknown field `x`, expected `a`"
        );
        assert_eq!(without_position("missing field `a`"), "missing field `a`");
    }
}
