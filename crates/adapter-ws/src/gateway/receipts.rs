//! `message:delivered` and `message:read`: a client moves its own markers, as the HTTP routes
//! `POST /api/chats/:chatId/delivered` and `/read` do.

use chat_domain::receipts::MarkerKind;
use chat_domain::UserId;
use serde::Deserialize;
use socketio::Payload;
use wire::acks::{Ack, Failure};

use super::handler::{parse, parse_chat};
use super::ChatGateway;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReceiptPayload {
    chat_id: String,
    #[serde(deserialize_with = "wire::whole_number")]
    seq: u64,
}

impl ChatGateway {
    pub(super) async fn receipt(&self, user: UserId, payload: &Payload, kind: MarkerKind) -> Result<Ack, Failure> {
        let p: ReceiptPayload = parse(payload)?;
        let chat = parse_chat(&p.chat_id)?;
        self.services().receipts.mark(user, chat, kind, p.seq).await.map_err(|e| Failure::from(&e))?;
        Ok(Ack::DONE)
    }
}
