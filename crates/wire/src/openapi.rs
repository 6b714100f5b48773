//! Schemas of the OpenAPI document (feature `openapi`) for the wire's scalar formats, which the
//! response types keep as plain strings: an id and a time. Each is a named component, so the
//! document states the format once and every field refers to it.

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// The pattern of an id as the server writes it: 24 lowercase hexadecimal characters.
pub const OBJECT_ID_PATTERN: &str = "^[0-9a-f]{24}$";

/// The pattern of a time as the server writes it: ISO-8601 UTC, milliseconds, `Z`.
pub const TIMESTAMP_PATTERN: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$";

/// An id as the server writes it (a MongoDB ObjectId's text), e.g. `6565f0c2a1b2c3d4e5f60718`.
#[derive(Debug)]
pub struct ObjectId;

impl PartialSchema for ObjectId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(OBJECT_ID_PATTERN))
            .description(Some("An id: 24 lowercase hexadecimal characters (a MongoDB ObjectId)."))
            .examples([serde_json::json!("6565f0c2a1b2c3d4e5f60718")])
            .into()
    }
}

impl ToSchema for ObjectId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ObjectId")
    }
}

/// A time as the server writes it, e.g. `2026-11-25T19:13:00.123Z`.
#[derive(Debug)]
pub struct Timestamp;

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::DateTime)))
            .pattern(Some(TIMESTAMP_PATTERN))
            .description(Some("A time: ISO-8601 UTC with exactly three fractional digits and `Z`."))
            .examples([serde_json::json!("2026-11-25T19:13:00.123Z")])
            .into()
    }
}

impl ToSchema for Timestamp {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
}
