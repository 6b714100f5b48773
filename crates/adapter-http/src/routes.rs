//! Route handlers: each extracts its input, calls one service, and shapes the answer.
//!
//! No business rule lives here; the services decide, the handlers translate.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpRequest, HttpResponse};
use chat_domain::{ChatId, MessageId, SendMessage};

use crate::auth::Caller;
use crate::dto::{parse_id, CreateChatBody, HistoryQuery, LoginBody, RegisterBody, SearchQuery, SendMessageBody};
use crate::error::ApiError;
use crate::openapi::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests, Unauthorized,
};
use crate::HttpState;

type State = web::Data<HttpState>;
type Reply = Result<HttpResponse, ApiError>;

#[utoipa::path(
    post, path = "/api/auth/register", summary = "Register an account",
    description = "Attempts are budgeted per client address and per email (429 with `Retry-After`). New passwords have 8 to 256 characters.", tag = "auth", request_body = RegisterBody,
    responses(
        (status = 201, description = "Registered; the session of the new account.", body = wire::AuthSession),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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

#[utoipa::path(
    post, path = "/api/auth/login", summary = "Sign in", tag = "auth", request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in.", body = wire::AuthSession),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn login(req: HttpRequest, state: State, body: web::Json<LoginBody>) -> Reply {
    let client = state.client_address.of(&req);
    let session =
        state.services.auth.login_from(client, &body.email, &body.password).await.map_err(ApiError::from_attempt)?;
    Ok(HttpResponse::Ok().json(wire::AuthSession::from(&session)))
}

#[utoipa::path(
    post, path = "/api/auth/logout", summary = "Sign out everywhere",
    description = "Revokes every token of the caller issued until now (this one included), on every node, and disconnects the caller's sockets. No body is needed (any is ignored).", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Signed out.", body = wire::Success),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// Revokes every token of the caller issued until now (this one included), on every node, and
/// disconnects the caller's sockets. `{success: true}`.
pub(crate) async fn logout(caller: Caller, state: State) -> Reply {
    state.services.auth.logout(caller.0).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}

#[utoipa::path(
    get, path = "/api/users/me", summary = "The caller's account", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's own account.", body = wire::User),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn me(caller: Caller, state: State) -> Reply {
    let user = state.services.auth.me(caller.0).await?;
    Ok(HttpResponse::Ok().json(wire::User::from(&user)))
}

#[utoipa::path(
    get, path = "/api/users", summary = "Search users",
    description = "Other users are shown without their emails. Each user may search `SEARCH_LIMIT_PER_MINUTE` (60) times a minute (429 past it).", tag = "users", security(("bearer" = [])), params(SearchQuery),
    responses(
        (status = 200, description = "Users other than the caller whose username contains the text (ignoring case), \
            or whose email equals it; ordered by username, at most 20.", body = Vec<wire::PublicUser>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// Other users are shown as [`wire::PublicUser`], without their emails. Past the caller's
/// search budget the answer is 429 `too many attempts` with `Retry-After` (the budget is kept
/// by the attempt limiter, and "too many messages" would mislead).
pub(crate) async fn search_users(caller: Caller, state: State, query: web::Query<SearchQuery>) -> Reply {
    let needle = query.search.as_deref().unwrap_or("");
    let users = state.services.auth.search(caller.0, needle).await.map_err(ApiError::from_attempt)?;
    Ok(HttpResponse::Ok().json(users.iter().map(wire::PublicUser::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    post, path = "/api/chats", summary = "Create a chat (or get the existing 1:1 chat)",
    description = "At most `MAX_GROUP_SIZE` (100) participants, the caller included; each user creates at most `CHAT_CREATE_LIMIT_PER_MINUTE` (10) new chats a minute (429). A 1:1 chat returned again answers 200 and costs nothing.", tag = "chats", security(("bearer" = [])), request_body = CreateChatBody,
    responses(
        (status = 201, description = "A new chat; the caller is always a participant.", body = wire::Chat),
        (status = 200, description = "The 1:1 chat of the pair, which already existed.", body = wire::Chat),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ChatListQuery {
    /// How many chats, 1 to 100; 100 when absent.
    #[serde(default)]
    #[param(value_type = Option<u8>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Continue after this chat, the last of the previous page; it must be one of the caller's.
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = "^[0-9a-fA-F]{24}$")]
    before: Option<String>,
}

#[utoipa::path(
    get, path = "/api/chats", summary = "List the caller's chats", tag = "chats", security(("bearer" = [])), params(ChatListQuery),
    responses(
        (status = 200, description = "The caller's chats, most recently active first, `lastMessage` filled.", body = Vec<wire::Chat>),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn list_chats(caller: Caller, state: State, query: web::Query<ChatListQuery>) -> Reply {
    let limit = match &query.limit {
        None => None,
        Some(raw) => Some(raw.parse::<i64>().map_err(|_| ApiError::bad_request("limit must be an integer"))?),
    };
    let before: Option<ChatId> = query.before.as_deref().map(|raw| parse_id("before", raw)).transpose()?;
    let chats = state.services.chats.list(caller.0, limit, before).await?;
    Ok(HttpResponse::Ok().json(chats.iter().map(wire::Chat::from).collect::<Vec<_>>()))
}

#[utoipa::path(
    get, path = "/api/chats/{chatId}", summary = "Get a chat", tag = "chats", security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$")),
    responses(
        (status = 200, description = "The chat (participants only).", body = wire::Chat),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn get_chat(caller: Caller, state: State, path: web::Path<String>) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let view = state.services.chats.get(caller.0, chat).await?;
    Ok(HttpResponse::Ok().json(wire::Chat::from(&view)))
}

#[utoipa::path(
    post, path = "/api/messages", summary = "Send a message",
    description = "Participants only. Rate limited (`RATE_LIMIT_PER_MINUTE`, 30, shared with the socket). A repeated `clientId` answers 201 with the message stored the first time and emits nothing again.", tag = "messages", security(("bearer" = [])), request_body = SendMessageBody,
    responses(
        (status = 201, description = "The message (for a repeated `clientId`, the one stored the first time).", body = wire::Message),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    ),
)]
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
    metrics::counter!("chat_messages_accepted_total", "transport" => "http").increment(1);
    Ok(HttpResponse::Created().json(wire::Message::from(&message)))
}

#[utoipa::path(
    get, path = "/api/chats/{chatId}/messages", summary = "A page of a chat's history",
    description = "The newest `limit` messages older than `before`, or after skipping `skip` newest ones, returned oldest first; soft-deleted messages are not listed. `skip` and `before` together are 400.", tag = "messages",
    security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$"), HistoryQuery),
    responses(
        (status = 200, description = "A page of the chat's history, oldest first.", body = wire::MessagePage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// `/api/chats/{chatId}/messages`; [`history_alias`] serves `/api/messages/chats/{chatId}`.
pub(crate) async fn history(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Reply {
    let chat: ChatId = parse_id("chatId", &path)?;
    let (cursor, limit) = query.page()?;
    let page = state.services.messages.history(caller.0, chat, cursor, limit).await?;
    let body = state.rendered.page(&page).map_err(|e| {
        tracing::error!(error = %e, "a history page did not serialize");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(body))
}

#[utoipa::path(
    get, path = "/api/messages/chats/{chatId}", summary = "A page of a chat's history (alias)",
    description = "The same as `GET /api/chats/{chatId}/messages`, at the path the original backend's docs use.", tag = "messages",
    security(("bearer" = [])),
    params(("chatId" = String, Path, description = "The chat's id.", pattern = "^[0-9a-fA-F]{24}$"), HistoryQuery),
    responses(
        (status = 200, description = "A page of the chat's history, oldest first.", body = wire::MessagePage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
/// The alias of [`history`] the original backend's docs use; its own function only so that
/// the OpenAPI document lists both paths.
pub(crate) async fn history_alias(
    caller: Caller,
    state: State,
    path: web::Path<String>,
    query: web::Query<HistoryQuery>,
) -> Reply {
    history(caller, state, path, query).await
}

#[utoipa::path(
    delete, path = "/api/messages/{id}", summary = "Delete a message (sender only)", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "The message's id.", pattern = "^[0-9a-fA-F]{24}$")),
    responses(
        (status = 200, description = "Deleted (or already deleted).", body = wire::Success),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 503, response = ServiceUnavailable),
    ),
)]
pub(crate) async fn delete_message(caller: Caller, state: State, path: web::Path<String>) -> Reply {
    let id: MessageId = parse_id("id", &path)?;
    state.services.messages.soft_delete(caller.0, id).await?;
    Ok(HttpResponse::Ok().json(wire::Success::YES))
}
