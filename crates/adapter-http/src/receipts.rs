//! The receipt routes: `POST /api/chats/{chatId}/read` and `/delivered` move the caller's
//! markers, `PATCH /api/messages/{id}/status` is the original backend's `updateStatus`.

use actix_web::{web, HttpResponse};
use chat_domain::receipts::MarkerKind;
use chat_domain::{ChatId, MessageId};
use serde::Deserialize;

use crate::auth::Caller;
use crate::dto::parse_id;
use crate::error::ApiError;
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

/// `{seq}`: the highest seq the caller has read (or received).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeqBody {
    seq: u64,
}

/// `{status}`: `delivered` or `read`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusBody {
    status: String,
}

pub(crate) async fn read(caller: Caller, state: State, path: web::Path<String>, body: web::Json<SeqBody>) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let receipt = state.services.receipts.mark(caller.0, chat, MarkerKind::Read, body.seq).await?;
    Ok(HttpResponse::Ok().json(wire::ReadReply::from(&receipt)))
}

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
