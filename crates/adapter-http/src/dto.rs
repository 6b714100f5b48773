//! Request DTOs: what the routes accept, strictly (unknown fields are refused), and their
//! translation into domain values. Response shapes live in the `wire` crate.

use std::str::FromStr;

use chat_domain::{ChatId, MessageId, PageCursor, PageLimit, UserId};
use serde::Deserialize;

use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    pub email: String,
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    pub search: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateChatBody {
    participants: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
}

impl CreateChatBody {
    pub fn participants(&self) -> Result<Vec<UserId>, ApiError> {
        self.participants
            .iter()
            .map(|raw| {
                raw.parse().map_err(|_| ApiError::bad_request("each value in participants must be a mongodb id"))
            })
            .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SendMessageBody {
    chat: String,
    pub text: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
}

impl SendMessageBody {
    pub fn chat(&self) -> Result<ChatId, ApiError> {
        parse_id("chat", &self.chat)
    }
}

/// `?limit=&skip=` or `?limit=&before=`. Values are taken as text and parsed here, so each
/// mistake gets its own message.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    limit: Option<String>,
    #[serde(default)]
    skip: Option<String>,
    #[serde(default)]
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
