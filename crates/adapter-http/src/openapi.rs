//! The OpenAPI 3.1 document of the HTTP API, generated from the code: the `#[utoipa::path]`
//! annotations on the handlers (`routes.rs`, `groups.rs`, `receipts.rs`), the request DTOs
//! (`dto.rs`, and the bodies beside their handlers) and the response types of the `wire`
//! crate, so it cannot drift from what the routes do. Served at `GET /api/docs-json` (the path
//! NestJS's Swagger module uses), with Swagger UI at `/api/docs`.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::routes;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/docs-json";

/// The name of the security scheme authenticated operations refer to (`security(("bearer" = []))`
/// in `routes.rs`).
const BEARER: &str = "bearer";

/// The pattern of an id in input: 24 hexadecimal characters, either case.
pub(crate) const ID_INPUT_PATTERN: &str = "^[0-9a-fA-F]{24}$";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chat-server HTTP API",
        description = "The HTTP half of the wire contract (docs/contract.md). Errors have the NestJS shape \
                       `{statusCode, error, message}`; an unknown route is 404 and a known path under another \
                       method 405 with `Allow`, both in that shape.",
    ),
    paths(
        routes::register,
        routes::login,
        routes::logout,
        routes::me,
        routes::search_users,
        crate::presence::presence,
        routes::create_chat,
        routes::list_chats,
        routes::get_chat,
        crate::groups::rename_chat,
        crate::groups::add_participants,
        crate::groups::remove_participant,
        crate::receipts::read,
        crate::receipts::delivered,
        routes::history,
        routes::history_alias,
        routes::send_message,
        crate::groups::edit_message,
        routes::delete_message,
        crate::receipts::update_status,
        crate::health::health,
    ),
    components(
        schemas(wire::ErrorBody),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, TooManyRequests, ServiceUnavailable),
    ),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "users", description = "The caller and other users"),
        (name = "chats", description = "Chats of the caller"),
        (name = "messages", description = "Messages of a chat"),
        (name = "operations", description = "Probes for load balancers; not part of the contract"),
    ),
)]
struct ApiDoc;

/// The document, built from the annotations.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `GET /api/docs-json`: the document as JSON, serialized once per process.
pub(crate) async fn docs_json(_req: HttpRequest) -> HttpResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let body = JSON.get_or_init(|| match document().to_json() {
        Ok(json) => json,
        // Serializing a document of plain values cannot fail; should it, say so in the log and
        // serve an empty document rather than panic in a worker.
        Err(error) => {
            tracing::error!(%error, "cannot serialize the OpenAPI document");
            "{}".to_owned()
        }
    });
    HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "application/json")).body(body.as_str())
}

/// Swagger UI under `/api/docs/`, reading the document from [`DOCUMENT_PATH`]. Its files are
/// embedded in the binary at build time (utoipa-swagger-ui's `vendored` feature, no download),
/// and the page loads nothing from elsewhere.
pub(crate) fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").config(Config::new([DOCUMENT_PATH]))
}

/// `GET /api/docs` sends the browser to `/api/docs/`, where the UI's relative links resolve.
pub(crate) async fn docs_redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((header::LOCATION, "/api/docs/")).finish()
}

/// Adds the bearer JWT scheme that authenticated operations name.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <jwt>` with the access token register or login issued (HS256, \
                         `sub` = user id, `exp`).",
                    ))
                    .build(),
            ),
        );
    }
}

/// A 24-hex id as input (either case), for request bodies' id arrays.
pub(crate) struct IdInput;

impl PartialSchema for IdInput {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_INPUT_PATTERN))
            .description(Some("An id: 24 hexadecimal characters (either case)."))
            .into()
    }
}

impl ToSchema for IdInput {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("IdInput")
    }
}

/// An error response with the NestJS body.
fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new().schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ErrorBody")))).build(),
    )
}

macro_rules! error_responses {
    ($($name:ident => $description:literal),* $(,)?) => {$(
        #[doc = $description]
        pub(crate) struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_response($description).build().into())
            }
        }
    )*};
}

error_responses! {
    BadRequest => "Bad input: malformed JSON, a wrong content type, an unknown or mistyped field, a bad id, \
                   limit or cursor, or a broken rule (the message says which).",
    Unauthorized => "Missing, malformed, forged or expired token (`unauthorized`); for login, `invalid credentials`.",
    Forbidden => "Authenticated but not allowed: not a participant of the chat, or not the sender.",
    NotFound => "The chat, message or participant does not exist.",
    Conflict => "The email is already registered.",
    PayloadTooLarge => "The body is larger than 128 KiB.",
    ServiceUnavailable => "The store cannot be reached (or, for register and login, every hashing thread stayed busy).",
}

/// 429, with `Retry-After`.
pub(crate) struct TooManyRequests;

impl<'r> ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).build();
        let response = error_response("Past a rate limit; come back after `Retry-After` seconds.")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(seconds))
                    .description(Some("Whole seconds to wait, rounded up, at least 1."))
                    .build(),
            )
            .build();
        ("TooManyRequests", response.into())
    }
}
