//! Request DTOs: what the routes accept, strictly (unknown fields are refused), and their
//! translation into domain values. Response shapes live in the `wire` crate.

use std::str::FromStr;

use chat_domain::{ChatId, MessageId, PageCursor, PageLimit, UserId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;
use crate::openapi::IdInput;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    /// Trimmed and lowercased; unique among users.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 1 to 64 characters once trimmed, no control characters, no `<`, `>` or `&` (the
    /// pattern: none of those anywhere, and something besides white space).
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f<>&]*[^\s\u0000-\u001f\u007f-\u009f<>&][^\u0000-\u001f\u007f-\u009f<>&]*$"
    )]
    pub username: String,
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
}

/// Formats are not checked: input that cannot name an account is `invalid credentials` (401).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchQuery {
    /// Part of a username (ignoring case) or a whole email; trimmed, at most 100 characters;
    /// missing or empty lists everyone else (up to 20).
    #[serde(default)]
    #[param(max_length = 100)]
    pub search: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateChatBody {
    /// The other members (the caller is added when absent; repeats are dropped). Two people
    /// make a 1:1 chat, which is unique per pair; at most `MAX_GROUP_SIZE` (100) members in
    /// all, the caller included.
    #[schema(value_type = Vec<IdInput>, min_items = 1)]
    participants: Vec<String>,
    /// Trimmed and sanitized like message text, at most 100 characters; blank means unnamed.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
}

impl CreateChatBody {
    pub fn participants(&self) -> Result<Vec<UserId>, ApiError> {
        parse_user_ids("participants", &self.participants)
    }
}

/// Every id of a list field (`participants`, `userIds`), or 400 naming the field.
pub(crate) fn parse_user_ids(field: &str, raw: &[String]) -> Result<Vec<UserId>, ApiError> {
    raw.iter()
        .map(|id| id.parse().map_err(|_| ApiError::bad_request(format!("each value in {field} must be a mongodb id"))))
        .collect()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SendMessageBody {
    /// The chat's id.
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    chat: String,
    /// At most 10,000 characters as sent; every HTML tag is removed and the rest HTML-escaped;
    /// nothing but white space left is 400.
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    pub text: String,
    /// `text` when absent.
    #[serde(default, rename = "type")]
    #[schema(value_type = Option<wire::MessageType>)]
    pub kind: Option<String>,
    /// Makes retries safe: a repeated `clientId` from the same sender returns the stored message.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 128, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub client_id: Option<String>,
}

impl SendMessageBody {
    pub fn chat(&self) -> Result<ChatId, ApiError> {
        parse_id("chat", &self.chat)
    }
}

/// `?limit=&skip=` or `?limit=&before=`. Values are taken as text and parsed here, so each
/// mistake gets its own message.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// How many messages, 1 to 100; 50 when absent.
    #[serde(default)]
    #[param(value_type = Option<u8>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// Skip this many newest messages (not with `before`).
    #[serde(default)]
    #[param(value_type = Option<u64>, format = "uint64", minimum = 0, maximum = 18_446_744_073_709_551_615_usize)]
    skip: Option<String>,
    /// Messages older than this one, which must be a message of this chat (not with `skip`).
    #[serde(default)]
    #[param(value_type = Option<String>, pattern = "^[0-9a-fA-F]{24}$")]
    before: Option<String>,
}

impl HistoryQuery {
    pub fn page(&self) -> Result<(PageCursor, PageLimit), ApiError> {
        let limit = match &self.limit {
            None => None,
            Some(raw) => Some(raw.parse::<i64>().map_err(|_| ApiError::bad_request("limit must be an integer"))?),
        };
        let limit = PageLimit::parse(limit)?;
        let cursor = match (&self.skip, &self.before) {
            (Some(_), Some(_)) => return Err(ApiError::bad_request("skip and before must not be combined")),
            (Some(raw), None) => PageCursor::Skip(
                raw.parse::<u64>().map_err(|_| ApiError::bad_request("skip must be a non-negative integer"))?,
            ),
            (None, Some(raw)) => PageCursor::Before(parse_id::<MessageId>("before", raw)?),
            (None, None) => PageCursor::Skip(0),
        };
        Ok((cursor, limit))
    }
}

/// Parses a path or body id, refusing anything but 24 hexadecimal characters with the message
/// class-validator's `IsMongoId` gives.
pub(crate) fn parse_id<T: FromStr>(field: &str, raw: &str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::bad_request(format!("{field} must be a mongodb id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<&str>, skip: Option<&str>, before: Option<&str>) -> HistoryQuery {
        HistoryQuery { limit: limit.map(Into::into), skip: skip.map(Into::into), before: before.map(Into::into) }
    }

    #[test]
    fn page_defaults_to_fifty_from_the_newest() {
        let (cursor, limit) = query(None, None, None).page().unwrap();
        assert_eq!(cursor, PageCursor::Skip(0));
        assert_eq!(limit.get(), 50);
    }

    #[test]
    fn page_refuses_bad_limits_skips_and_cursors() {
        for (limit, skip, before) in [
            (Some("0"), None, None),
            (Some("101"), None, None),
            (Some("ten"), None, None),
            (Some("1.5"), None, None),
            (Some(""), None, None),
            (None, Some("-1"), None),
            (None, Some("x"), None),
            (None, None, Some("nope")),
            (None, Some("0"), Some("0123456789abcdef01234567")),
        ] {
            let error = query(limit, skip, before).page().unwrap_err();
            assert_eq!(error.status().as_u16(), 400, "{limit:?} {skip:?} {before:?}");
        }
    }

    #[test]
    fn page_reads_skip_and_before() {
        let (cursor, limit) = query(Some("100"), Some("7"), None).page().unwrap();
        assert_eq!((cursor, limit.get()), (PageCursor::Skip(7), 100));
        let (cursor, _) = query(Some("1"), None, Some("0123456789abcdef01234567")).page().unwrap();
        assert_eq!(cursor, PageCursor::Before("0123456789abcdef01234567".parse().unwrap()));
    }
}
