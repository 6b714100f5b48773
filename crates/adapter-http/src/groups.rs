//! Route handlers of groups that change and of message edits: rename, add, remove or leave,
//! edit. Like the other handlers, each parses its input, calls one service, shapes the answer.

use actix_web::{web, HttpResponse};
use chat_domain::{ChatId, MessageId, UserId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::dto::parse_id;
use crate::error::ApiError;
use crate::openapi::{BadRequest, Forbidden, IdInput, NotFound, PayloadTooLarge, ServiceUnavailable, Unauthorized};
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameChatBody {
    /// Trimmed and sanitized like message text, at most 100 characters; nothing left is 400
    /// (a group cannot be unnamed by a rename).
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AddParticipantsBody {
    /// The users to add (repeats and current participants are left out); the group holds at
    /// most `MAX_GROUP_SIZE` (100) participants in all.
    #[schema(value_type = Vec<IdInput>, min_items = 1)]
    user_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditMessageBody {
    /// The same rules as sending: at most 10,000 characters as sent; every HTML tag is removed
    /// and the rest HTML-escaped; nothing but white space left is 400.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    text: String,
}

#[utoipa::path(
    patch, path = "/api/chats/{chatId}", summary = "Rename a group",
    description = "Groups only (a 1:1 chat is 400); any participant renames. The chat's room hears `chat:updated`.", tag = "chats", security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = RenameChatBody,
    responses(
        (status = 200, description = "The renamed chat.", body = wire::Chat),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// `PATCH /api/chats/{chatId}`: 200 with the renamed chat.
pub(crate) async fn rename_chat(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<RenameChatBody>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let view = state.services.chats.rename(caller.0, chat, &body.name).await?;
    Ok(HttpResponse::Ok().json(wire::Chat::from(&view)))
}

#[utoipa::path(
    post, path = "/api/chats/{chatId}/participants", summary = "Add users to a group",
    description = "Groups only (a 1:1 chat is 400); any participant adds, up to `MAX_GROUP_SIZE` (100) participants in all (400 past it). An unknown user is 404. When everyone named is a participant already, the chat is returned unchanged.", tag = "chats", security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = AddParticipantsBody,
    responses(
        (status = 200, description = "The chat as it is now.", body = wire::Chat),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// `POST /api/chats/{chatId}/participants`: 200 with the chat as it is now.
pub(crate) async fn add_participants(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<AddParticipantsBody>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let users = crate::dto::parse_user_ids("userIds", &body.user_ids)?;
    let view = state.services.chats.add_participants(caller.0, chat, &users).await?;
    Ok(HttpResponse::Ok().json(wire::Chat::from(&view)))
}

#[utoipa::path(
    delete, path = "/api/chats/{chatId}/participants/{userId}", summary = "Leave a group, or remove someone (creator only)",
    description = "Groups only (a 1:1 chat is 400). `me` or the caller's own id leaves; the chat's creator names anyone else to remove them (anyone else is 403). Someone who is not a participant is 404.", tag = "chats", security(("bearer" = [])),
    params(
        ("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$"),
        ("userId" = String, Path, description = "`me`, or a user's id.", pattern = "^(me|[0-9a-fA-F]{24})$"),
    ),
    responses(
        (status = 200, description = "Left or removed.", body = wire::Success),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// `DELETE /api/chats/{chatId}/participants/{userId}`: `me` (or the caller's own id) leaves;
/// the creator names anyone else to remove them.
pub(crate) async fn remove_participant(caller: Caller, state: State, path: web::Path<(String, String)>) -> Reply {
    let (chat, user) = path.into_inner();
    let chat: ChatId = parse_id("chatId", &chat)?;
    let target: UserId = if user == "me" { caller.0 } else { parse_id("userId", &user)? };
    state.services.chats.remove_participant(caller.0, chat, target).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}

#[utoipa::path(
    patch, path = "/api/messages/{id}", summary = "Edit a message (sender only)",
    description = "Only the sender, still a participant (else 403); a deleted message is 400. The edit takes the chat's next `seq`, sets `editedAt`, and the chat's room hears `message:updated`.", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "The message's id.", pattern = "^[0-9a-fA-F]{24}$")),
    request_body = EditMessageBody,
    responses(
        (status = 200, description = "The message with its new text and `editedAt`.", body = wire::Message),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// `PATCH /api/messages/{id}`: 200 with the edited message.
pub(crate) async fn edit_message(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<EditMessageBody>,
) -> Reply {
    let id: MessageId = parse_id("id", &path)?;
    let message = state.services.messages.edit(caller.0, id, &body.text).await?;
    Ok(HttpResponse::Ok().json(wire::Message::from(&message)))
}
