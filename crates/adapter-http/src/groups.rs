//! Route handlers of groups that change and of message edits: rename, add, remove or leave,
//! edit. Like the other handlers, each parses its input, calls one service, shapes the answer.

use actix_web::{web, HttpResponse};
use chat_domain::{ChatId, MessageId, UserId};
use serde::Deserialize;

use crate::auth::Caller;
use crate::dto::parse_id;
use crate::error::ApiError;
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameChatBody {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct AddParticipantsBody {
    user_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditMessageBody {
    text: String,
}

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

/// `POST /api/chats/{chatId}/participants`: 200 with the chat as it is now.
pub(crate) async fn add_participants(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    body: web::Json<AddParticipantsBody>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let users = body
        .user_ids
        .iter()
        .map(|raw| raw.parse().map_err(|_| ApiError::bad_request("each value in userIds must be a mongodb id")))
        .collect::<Result<Vec<UserId>, ApiError>>()?;
    let view = state.services.chats.add_participants(caller.0, chat, &users).await?;
    Ok(HttpResponse::Ok().json(wire::Chat::from(&view)))
}

/// `DELETE /api/chats/{chatId}/participants/{userId}`: `me` (or the caller's own id) leaves;
/// the creator names anyone else to remove them.
pub(crate) async fn remove_participant(caller: Caller, state: State, path: web::Path<(String, String)>) -> Reply {
    let (chat, user) = path.into_inner();
    let chat: ChatId = parse_id("chatId", &chat)?;
    let target: UserId = if user == "me" { caller.0 } else { parse_id("userId", &user)? };
    state.services.chats.remove_participant(caller.0, chat, target).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}

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
