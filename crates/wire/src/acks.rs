//! The gateway's replies: the acks of the contract's Socket.IO events (`{success: true, ...}` or
//! `{success: false, error, ...}` with a short machine-readable code) and the data of a refused
//! connection. Field order is the order the contract and its clients have always seen.

use std::borrow::Cow;

use chat_domain::{CatchUpRefusal, Error};
use serde::{Deserialize, Serialize};

use crate::{ChatEvent, Message, Success};

/// The machine-readable code of a failed ack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidPayload,
    Unauthorized,
    Forbidden,
    NotFound,
    RateLimited,
    Unavailable,
    Internal,
}

impl From<&Error> for ErrorCode {
    fn from(err: &Error) -> Self {
        match err {
            Error::Invalid(_) | Error::Conflict(_) => Self::InvalidPayload,
            Error::Unauthorized | Error::InvalidCredentials => Self::Unauthorized,
            Error::Forbidden(_) => Self::Forbidden,
            Error::NotFound(_) => Self::NotFound,
            Error::RateLimited { .. } => Self::RateLimited,
            Error::Unavailable => Self::Unavailable,
            Error::Internal => Self::Internal,
        }
    }
}

/// `{success: false, error}`, plus `message` (the domain's client-safe text, for the errors
/// that have one) or `retryAfterMs` (for `rate_limited`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub success: bool,
    pub error: ErrorCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Cow<'static, str>>,
}

impl Failure {
    fn new(error: ErrorCode) -> Self {
        Self { success: false, error, retry_after_ms: None, message: None }
    }

    /// The ack of a payload that does not have the event's shape.
    pub fn invalid_payload(message: impl Into<Cow<'static, str>>) -> Self {
        Self { message: Some(message.into()), ..Self::new(ErrorCode::InvalidPayload) }
    }

    /// The ack of an event from a socket that is not (or no longer) authenticated.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized)
    }

    /// The ack of an event refused by a rate limit: retry after `retry_after`.
    pub fn rate_limited(retry_after: std::time::Duration) -> Self {
        let ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX).max(1);
        Self { retry_after_ms: Some(ms), ..Self::new(ErrorCode::RateLimited) }
    }

    /// The ack of an event the server failed to handle (the cause is logged, never shown).
    pub fn internal() -> Self {
        Self::new(ErrorCode::Internal)
    }
}

impl From<&Error> for Failure {
    fn from(err: &Error) -> Self {
        let mut failure = Self::new(err.into());
        match err {
            Error::RateLimited { retry_after } => return Self::rate_limited(*retry_after),
            Error::Invalid(m) | Error::Forbidden(m) | Error::NotFound(m) | Error::Conflict(m) => {
                failure.message = Some(m.clone());
            }
            Error::Unauthorized | Error::InvalidCredentials | Error::Unavailable | Error::Internal => {}
        }
        failure
    }
}

/// The ack of `message:send`: `{success: true, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub success: bool,
    pub message: Message,
}

impl Sent {
    pub fn new(message: &chat_domain::Message) -> Self {
        Self { success: true, message: message.into() }
    }
}

/// Why a catch-up was refused, as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUpReason {
    TooFarBehind,
    UnknownSeq,
}

impl From<CatchUpRefusal> for CatchUpReason {
    fn from(refusal: CatchUpRefusal) -> Self {
        match refusal {
            CatchUpRefusal::TooFarBehind => Self::TooFarBehind,
            CatchUpRefusal::UnknownSeq => Self::UnknownSeq,
        }
    }
}

/// The ack of `chat:join` with `sinceSeq`: `{success: true, recovered: true, events}` with the
/// missed events in `seq` order, or `{success: true, recovered: false, reason}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    pub success: bool,
    pub recovered: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<ChatEvent>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<CatchUpReason>,
}

impl CatchUp {
    pub fn recovered(events: &[chat_domain::ChatEvent]) -> Self {
        let events = events.iter().map(ChatEvent::from).collect();
        Self { success: true, recovered: true, events: Some(events), reason: None }
    }

    pub fn not_recovered(refusal: CatchUpRefusal) -> Self {
        Self { success: true, recovered: false, events: None, reason: Some(refusal.into()) }
    }
}

/// The ack of a plain `chat:join` (no `sinceSeq`): `{success: true, lastSeq}`, so that a
/// client knows where the chat stands and can tell a gap in the live events that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Joined {
    pub success: bool,
    pub last_seq: u64,
}

impl Joined {
    pub fn new(last_seq: u64) -> Self {
        Self { success: true, last_seq }
    }
}

impl From<Joined> for Ack {
    fn from(joined: Joined) -> Self {
        Self::Joined(joined)
    }
}

/// Any ack the gateway sends, serialized as the shape it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Ack {
    /// `{success: true}`.
    Done(Success),
    Failed(Failure),
    Sent(Sent),
    CatchUp(CatchUp),
    Joined(Joined),
}

impl Ack {
    /// `{success: true}`.
    pub const DONE: Self = Self::Done(Success::YES);
}

impl From<Failure> for Ack {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}

impl From<Sent> for Ack {
    fn from(sent: Sent) -> Self {
        Self::Sent(sent)
    }
}

impl From<CatchUp> for Ack {
    fn from(catch_up: CatchUp) -> Self {
        Self::CatchUp(catch_up)
    }
}

/// The data of the CONNECT_ERROR that refuses a connection: `{message}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnectError {
    pub message: &'static str,
}

impl ConnectError {
    /// A missing, malformed, forged or dead token.
    pub const UNAUTHORIZED: Self = Self { message: "Unauthorized" };
    /// The user, or the client address, already holds as many sockets as the server allows.
    pub const TOO_MANY_CONNECTIONS: Self = Self { message: "Too many connections" };
    /// The token could not be checked: the store did not answer. The client may retry.
    pub const UNAVAILABLE: Self = Self { message: "Service unavailable" };
}
