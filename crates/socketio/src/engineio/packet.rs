//! Engine.IO v4 packet codec: single packets, the polling payload (`\x1e`-joined) and open packet.

use std::collections::VecDeque;

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use super::{config::EngineConfig, queue::Item};

/// Separator between packets of one HTTP long-polling payload.
pub(crate) const RECORD_SEPARATOR: char = '\x1e';

pub(crate) const PING: &str = "2";
pub(crate) const NOOP: &str = "6";
pub(crate) const CLOSE: &str = "1";
pub(crate) const PROBE_PONG: &str = "3probe";

/// A packet received from a client.
#[derive(Debug, PartialEq)]
pub(crate) enum ClientPacket {
    Close,
    Ping(String),
    Pong,
    Message(String),
    Binary(Bytes),
    Upgrade,
    Noop,
}

/// The client sent something that is not an Engine.IO v4 packet.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum EioDecodeError {
    #[error("empty packet")]
    Empty,
    #[error("unknown packet type")]
    UnknownType,
    #[error("invalid base64 in binary packet")]
    Base64,
    #[error("payload is not valid utf-8")]
    Utf8,
}

/// Decodes one text packet (a WebSocket text frame, or one record of a polling payload).
pub(crate) fn decode_text(text: &str) -> Result<ClientPacket, EioDecodeError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(EioDecodeError::Empty)?;
    let rest = chars.as_str();
    Ok(match kind {
        '1' => ClientPacket::Close,
        '2' => ClientPacket::Ping(rest.to_owned()),
        '3' => ClientPacket::Pong,
        '4' => ClientPacket::Message(rest.to_owned()),
        '5' => ClientPacket::Upgrade,
        '6' => ClientPacket::Noop,
        _ => return Err(EioDecodeError::UnknownType),
    })
}

/// Decodes a polling POST body: records joined by `\x1e`, binary ones as `b<base64>`.
pub(crate) fn decode_payload(body: &[u8]) -> Result<Vec<ClientPacket>, EioDecodeError> {
    let body = std::str::from_utf8(body).map_err(|_| EioDecodeError::Utf8)?;
    body.split(RECORD_SEPARATOR)
        .map(|record| match record.strip_prefix('b') {
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(|data| ClientPacket::Binary(Bytes::from(data)))
                .map_err(|_| EioDecodeError::Base64),
            None => decode_text(record),
        })
        .collect()
}

/// Encodes queued items as one polling response body, optionally ending with a close packet.
pub(crate) fn encode_payload(items: &VecDeque<Item>, close: bool) -> Bytes {
    let mut buf = BytesMut::new();
    let push_record = |buf: &mut BytesMut, record: &[u8]| {
        if !buf.is_empty() {
            buf.put_u8(RECORD_SEPARATOR as u8);
        }
        buf.put_slice(record);
    };
    for item in items {
        match item {
            Item::Control(text) => push_record(&mut buf, text.as_bytes()),
            // Only queued while a WebSocket carries the session, which polling never drains.
            Item::WebSocket(_) => {}
            Item::Frame(frame) => {
                // An empty text is a bare binary message (see `Frame::binary`).
                if !frame.text().is_empty() {
                    push_record(&mut buf, frame.text().as_bytes());
                }
                for attachment in frame.attachments() {
                    let mut record = String::with_capacity(1 + attachment.len().div_ceil(3) * 4);
                    record.push('b');
                    base64::engine::general_purpose::STANDARD.encode_string(attachment, &mut record);
                    push_record(&mut buf, record.as_bytes());
                }
            }
        }
    }
    if close {
        push_record(&mut buf, CLOSE.as_bytes());
    }
    buf.freeze()
}

/// The open packet sent as the first packet of every session.
pub(crate) fn open_packet(sid: &str, offer_websocket: bool, config: &EngineConfig) -> ByteString {
    let upgrades: &[&str] = if offer_websocket { &["websocket"] } else { &[] };
    let body = serde_json::json!({
        "sid": sid,
        "upgrades": upgrades,
        "pingInterval": duration_ms(config.ping_interval),
        "pingTimeout": duration_ms(config.ping_timeout),
        "maxPayload": config.max_payload,
    });
    ByteString::from(format!("0{body}"))
}

fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::engineio::frame::Frame;

    #[test]
    fn decodes_every_client_packet_type() {
        assert_eq!(decode_text("1"), Ok(ClientPacket::Close));
        assert_eq!(decode_text("2probe"), Ok(ClientPacket::Ping("probe".into())));
        assert_eq!(decode_text("3"), Ok(ClientPacket::Pong));
        assert_eq!(decode_text("4hé"), Ok(ClientPacket::Message("hé".into())));
        assert_eq!(decode_text("5"), Ok(ClientPacket::Upgrade));
        assert_eq!(decode_text("6"), Ok(ClientPacket::Noop));
        assert_eq!(decode_text(""), Err(EioDecodeError::Empty));
        assert_eq!(decode_text("0"), Err(EioDecodeError::UnknownType));
        assert_eq!(decode_text("é"), Err(EioDecodeError::UnknownType));
    }

    #[test]
    fn decodes_a_polling_payload_with_binary() {
        let packets = decode_payload(b"4hello\x1ebAQID\x1e3").unwrap();
        assert_eq!(
            packets,
            vec![
                ClientPacket::Message("hello".into()),
                ClientPacket::Binary(Bytes::from_static(&[1, 2, 3])),
                ClientPacket::Pong,
            ]
        );
        assert_eq!(decode_payload(b"b!!"), Err(EioDecodeError::Base64));
        assert_eq!(decode_payload(b"4a\x1e"), Err(EioDecodeError::Empty));
        assert_eq!(decode_payload(&[0xff]), Err(EioDecodeError::Utf8));
    }

    #[test]
    fn encodes_a_batch_with_attachments_and_close() {
        let mut items = VecDeque::new();
        items.push_back(Item::Control(ByteString::from_static(PING)));
        items.push_back(Item::Frame(Frame::new(
            ByteString::from_static("451-[\"e\",{\"_placeholder\":true,\"num\":0}]"),
            vec![Bytes::from_static(&[1, 2, 3])],
        )));
        let body = encode_payload(&items, true);
        assert_eq!(&body[..], b"2\x1e451-[\"e\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID\x1e1");
    }

    #[test]
    fn encodes_a_bare_binary_message_as_one_record() {
        let mut items = VecDeque::new();
        items.push_back(Item::Frame(Frame::new(ByteString::from_static("4hello"), Vec::new())));
        items.push_back(Item::Frame(Frame::binary(Bytes::from_static(&[1, 2, 3, 4]))));
        assert_eq!(&encode_payload(&items, false)[..], b"4hello\x1ebAQIDBA==");
        let frame = Frame::binary(Bytes::from_static(&[1, 2]));
        assert_eq!(&frame.websocket_bytes()[..], &[0x82, 2, 1, 2]);
    }

    #[test]
    fn open_packet_lists_upgrades_only_for_polling() {
        let config = EngineConfig::default();
        let open = open_packet("abc", true, &config);
        let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
        assert_eq!(json["pingInterval"], 25_000);
        assert_eq!(json["pingTimeout"], 20_000);
        assert_eq!(json["maxPayload"], 1_000_000);
        let open = open_packet("abc", false, &config);
        let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        assert_eq!(json["upgrades"], serde_json::json!([]));
    }
}
