//! The wire shapes of receipts: a chat's per-participant markers, the `receipt:updated` and
//! `chat:unread` events, and the replies of the receipt routes.

use chat_domain::receipts::{Markers, Receipt};
use chat_domain::{ChatId, UserId};
use serde::{Deserialize, Serialize};

use crate::id_string;

/// One participant's markers, as a Chat's `receipts` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReceiptEntry {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::ObjectId))]
    pub user_id: String,
    pub delivered_seq: u64,
    pub read_seq: u64,
}

impl From<&Receipt> for ReceiptEntry {
    fn from(r: &Receipt) -> Self {
        Self { user_id: id_string(r.user.0), delivered_seq: r.markers.delivered_seq, read_seq: r.markers.read_seq }
    }
}

/// The payload of `receipt:updated`: a participant's markers after they moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptUpdated {
    pub chat_id: String,
    pub user_id: String,
    pub delivered_seq: u64,
    pub read_seq: u64,
}

impl ReceiptUpdated {
    pub fn new(chat: ChatId, user: UserId, markers: Markers) -> Self {
        Self {
            chat_id: id_string(chat.0),
            user_id: id_string(user.0),
            delivered_seq: markers.delivered_seq,
            read_seq: markers.read_seq,
        }
    }
}

/// The payload of `chat:unread`, to the reader's own devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatUnread {
    pub chat_id: String,
    pub unread_count: u64,
}

impl ChatUnread {
    pub fn new(chat: ChatId, unread_count: u64) -> Self {
        Self { chat_id: id_string(chat.0), unread_count }
    }
}

/// The reply of `POST /api/chats/:chatId/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadReply {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::ObjectId))]
    pub chat_id: String,
    pub read_seq: u64,
    pub unread_count: u64,
}

/// The reply of `POST /api/chats/:chatId/delivered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveredReply {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::ObjectId))]
    pub chat_id: String,
    pub delivered_seq: u64,
}

impl From<&chat_domain::ReceiptState> for ReadReply {
    fn from(state: &chat_domain::ReceiptState) -> Self {
        Self { chat_id: id_string(state.chat.0), read_seq: state.markers.read_seq, unread_count: state.unread_count }
    }
}

impl From<&chat_domain::ReceiptState> for DeliveredReply {
    fn from(state: &chat_domain::ReceiptState) -> Self {
        Self { chat_id: id_string(state.chat.0), delivered_seq: state.markers.delivered_seq }
    }
}
