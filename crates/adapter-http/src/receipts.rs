//! The receipt routes: `POST /api/chats/{chatId}/read` and `/delivered` move the caller's
//! markers, `PATCH /api/messages/{id}/status` is the original backend's `updateStatus`.

use actix_web::{web, HttpResponse};
use chat_domain::receipts::MarkerKind;
use chat_domain::{ChatId, MessageId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::dto::parse_id;
use crate::error::ApiError;
use crate::openapi::{BadRequest, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, Unauthorized};
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

/// `{seq}`: the highest seq the caller has read (or received).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeqBody {
    /// A seq of the chat; one past its end counts as its end, and a marker never moves back.
    #[schema(format = "uint64", minimum = 0, maximum = 18_446_744_073_709_551_615_u64)]
    #[serde(deserialize_with = "wire::whole_number")]
    seq: u64,
}

/// `{status}`: `delivered` or `read`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusBody {
    #[schema(value_type = ReceiptStatus)]
    status: String,
}

/// The marker a status names; only the schema of [`StatusBody::status`], which is read as
/// text so that any other value gets the domain's own message.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum ReceiptStatus {
    Delivered,
    Read,
}

#[utoipa::path(
    post, path = "/api/chats/{chatId}/read", summary = "Move the caller's read marker",
    description = "Participants only. Moves the caller's `readSeq` (and `deliveredSeq`) forward to `seq`, never back; the chat's room hears `receipt:updated` and the caller's devices `chat:unread`.", tag = "chats", security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = SeqBody,
    responses(
        (status = 200, description = "The caller's read marker and unread count now.", body = wire::ReadReply),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]

pub(crate) async fn read(caller: Caller, state: State, path: web::Path<String>, body: web::Json<SeqBody>) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let receipt = state.services.receipts.mark(caller.0, chat, MarkerKind::Read, body.seq).await?;
    Ok(HttpResponse::Ok().json(wire::ReadReply::from(&receipt)))
}

#[utoipa::path(
    post, path = "/api/chats/{chatId}/delivered", summary = "Move the caller's delivered marker",
    description = "Participants only. Moves the caller's `deliveredSeq` forward to `seq`, never back; the chat's room hears `receipt:updated`.", tag = "chats", security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = SeqBody,
    responses(
        (status = 200, description = "The caller's delivered marker now.", body = wire::DeliveredReply),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn delivered(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<SeqBody>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let receipt = state.services.receipts.mark(caller.0, chat, MarkerKind::Delivered, body.seq).await?;
    Ok(HttpResponse::Ok().json(wire::DeliveredReply::from(&receipt)))
}

#[utoipa::path(
    patch, path = "/api/messages/{id}/status", summary = "Mark a message delivered or read",
    description = "The original backend's `updateStatus`: moves the caller's marker named by `status` in the message's chat to that message's `seq`. Participants only; not on one's own message (400).", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "The message's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = StatusBody,
    responses(
        (status = 200, description = "Marked.", body = wire::Success),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn update_status(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<StatusBody>,
) -> Reply {
    let id: MessageId = parse_id("id", &path)?;
    state.services.receipts.mark_message(caller.0, id, &body.status).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}

#[cfg(test)]
mod tests {
    use super::SeqBody;

    fn seq(json: &str) -> Result<u64, String> {
        serde_json::from_str::<SeqBody>(json).map(|body| body.seq).map_err(|e| e.to_string())
    }

    #[test]
    fn seq_is_any_whole_number_however_written() {
        assert_eq!(seq(r#"{"seq": 7}"#), Ok(7));
        assert_eq!(seq(r#"{"seq": 7.0}"#), Ok(7));
        assert_eq!(seq(r#"{"seq": 7e0}"#), Ok(7));
        assert_eq!(seq(r#"{"seq": 0}"#), Ok(0));
        assert_eq!(seq(r#"{"seq": 18446744073709551615}"#), Ok(u64::MAX));
        assert_eq!(seq(r#"{"seq": 3366546672287924.0}"#), Ok(3_366_546_672_287_924));
    }

    #[test]
    fn seq_refuses_fractions_negatives_and_non_numbers() {
        for json in [
            r#"{"seq": 1.5}"#,
            r#"{"seq": -1}"#,
            r#"{"seq": -1.0}"#,
            r#"{"seq": 1e20}"#,
            r#"{"seq": "7"}"#,
            r#"{"seq": null}"#,
            r#"{"seq": true}"#,
        ] {
            let error = seq(json).unwrap_err();
            assert!(error.contains("expected a whole number"), "{json}: {error}");
        }
    }
}
