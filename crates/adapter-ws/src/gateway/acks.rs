//! Ack shapes of the contract: `{success: true, ...}` or `{success: false, error}` with the
//! short machine-readable codes, translated from the domain's errors.

use chat_domain::Error;
use serde_json::{json, Value};

/// The contract's error code for a domain error.
pub fn error_code(err: &Error) -> &'static str {
    match err {
        Error::Invalid(_) | Error::Conflict(_) => "invalid_payload",
        Error::Unauthorized | Error::InvalidCredentials => "unauthorized",
        Error::Forbidden(_) => "forbidden",
        Error::NotFound(_) => "not_found",
        Error::RateLimited { .. } => "rate_limited",
        Error::Unavailable => "unavailable",
        Error::Internal => "internal",
    }
}

/// `{success: false, error, message}`; `retryAfterMs` is added for `rate_limited`. The
/// `message` is the domain's client-safe text (absent for internal failures).
pub fn failure(err: &Error) -> Value {
    let mut body = json!({ "success": false, "error": error_code(err) });
    match err {
        Error::RateLimited { retry_after } => {
            let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
            body["retryAfterMs"] = json!(ms);
        }
        Error::Invalid(m) | Error::Forbidden(m) | Error::NotFound(m) | Error::Conflict(m) => {
            body["message"] = json!(m);
        }
        _ => {}
    }
    body
}

/// An ack for a payload that does not have the event's shape.
pub fn invalid_payload(message: &str) -> Value {
    json!({ "success": false, "error": "invalid_payload", "message": message })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rate_limited_carries_retry_after_ms() {
        let body = failure(&Error::RateLimited { retry_after: Duration::from_millis(1500) });
        assert_eq!(body, json!({"success": false, "error": "rate_limited", "retryAfterMs": 1500}));
    }

    #[test]
    fn internal_failures_say_nothing_more() {
        assert_eq!(failure(&Error::Internal), json!({"success": false, "error": "internal"}));
        assert_eq!(failure(&Error::Unavailable), json!({"success": false, "error": "unavailable"}));
        assert_eq!(failure(&Error::forbidden("no"))["error"], "forbidden");
    }
}
