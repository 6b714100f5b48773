//! Route handlers: each extracts its input, calls one service, and shapes the answer.
//!
//! No business rule lives here; the services decide, the handlers translate.

use actix_web::{web, HttpRequest, HttpResponse};
use chat_domain::{ChatId, MessageId, SendMessage};

use crate::auth::Caller;
use crate::dto::{parse_id, CreateChatBody, HistoryQuery, LoginBody, RegisterBody, SearchQuery, SendMessageBody};
use crate::error::ApiError;
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

/// Attempts are counted against the client's address (see [`crate::ClientAddress`]) and the
/// email; a refusal is 429 `too many attempts` with `Retry-After`.
pub(crate) async fn register(req: HttpRequest, state: State, body: web::Json<RegisterBody>) -> Reply {
    let client = state.client_address.of(&req);
    let session = state
        .services
        .auth
        .register_from(client, &body.email, &body.username, &body.password)
        .await
        .map_err(ApiError::from_attempt)?;
    Ok(HttpResponse::Created().json(wire::AuthSession::from(&session)))
}

pub(crate) async fn login(req: HttpRequest, state: State, body: web::Json<LoginBody>) -> Reply {
    let client = state.client_address.of(&req);
    let session =
        state.services.auth.login_from(client, &body.email, &body.password).await.map_err(ApiError::from_attempt)?;
    Ok(HttpResponse::Ok().json(wire::AuthSession::from(&session)))
}

/// Revokes every token of the caller issued until now (this one included), on every node, and
/// disconnects the caller's sockets. `{success: true}`.
pub(crate) async fn logout(caller: Caller, state: State) -> Reply {
    state.services.auth.logout(caller.0).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}

pub(crate) async fn me(caller: Caller, state: State) -> Reply {
    let user = state.services.auth.me(caller.0).await?;
    Ok(HttpResponse::Ok().json(wire::User::from(&user)))
}

/// Other users are shown as [`wire::PublicUser`], without their emails. Past the caller's
/// search budget the answer is 429 `too many attempts` with `Retry-After` (the budget is kept
/// by the attempt limiter, and "too many messages" would mislead).
pub(crate) async fn search_users(caller: Caller, state: State, query: web::Query<SearchQuery>) -> Reply {
    let needle = query.search.as_deref().unwrap_or("");
    let users = state.services.auth.search(caller.0, needle).await.map_err(ApiError::from_attempt)?;
    Ok(HttpResponse::Ok().json(users.iter().map(wire::PublicUser::from).collect::<Vec<_>>()))
}

/// Past the creator's budget of new chats, 429 `too many attempts` with `Retry-After`.
pub(crate) async fn create_chat(caller: Caller, state: State, body: web::Json<CreateChatBody>) -> Reply {
    let participants = body.participants()?;
    let (view, created) = state
        .services
        .chats
        .create(caller.0, &participants, body.name.as_deref())
        .await
        .map_err(ApiError::from_attempt)?;
    let mut response = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(response.json(wire::Chat::from(&view)))
}

/// `GET /api/chats?limit=&before=`: both optional, kept as text so that a malformed value is
/// answered with the same messages as message pages give.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ChatListQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    before: Option<String>,
}

pub(crate) async fn list_chats(caller: Caller, state: State, query: web::Query<ChatListQuery>) -> Reply {
    let limit = match &query.limit {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| ApiError::bad_request("limit must be an integer"))?),
    };
    let before: Option<ChatId> = query.before.as_deref().map(|raw| parse_id("before", raw)).transpose()?;
    let chats = state.services.chats.list(caller.0, limit, before).await?;
    Ok(HttpResponse::Ok().json(chats.iter().map(wire::Chat::from).collect::<Vec<_>>()))
}

pub(crate) async fn get_chat(caller: Caller, state: State, path: web::Path<String>) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let view = state.services.chats.get(caller.0, chat).await?;
    Ok(HttpResponse::Ok().json(wire::Chat::from(&view)))
}

/// A repeated `clientId` answers 201 with the stored message as well, so a retry looks exactly
/// like the first attempt.
pub(crate) async fn send_message(caller: Caller, state: State, body: web::Json<SendMessageBody>) -> Reply {
    let request = SendMessage {
        chat: body.chat()?,
        text: &body.text,
        kind: body.kind.as_deref(),
        client_id: body.client_id.as_deref(),
    };
    let message = state.services.messages.send(caller.0, request).await?;
    Ok(HttpResponse::Created().json(wire::Message::from(&message)))
}

/// Serves both `/api/chats/{chatId}/messages` and its alias `/api/messages/chats/{chatId}`.
pub(crate) async fn history(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let (cursor, limit) = query.page()?;
    let page = state.services.messages.history(caller.0, chat, cursor, limit).await?;
    Ok(HttpResponse::Ok().json(wire::MessagePage::from(&page)))
}

pub(crate) async fn delete_message(caller: Caller, state: State, path: web::Path<String>) -> Reply {
    let id: MessageId = parse_id("id", &path)?;
    state.services.messages.soft_delete(caller.0, id).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}
