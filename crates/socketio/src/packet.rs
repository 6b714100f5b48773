//! Socket.IO v5 packet codec: `socketioxide-parser-common` for the packet grammar, plus the
//! payload rules of the reference parser (event arrays, auth objects, `_placeholder`s, caps).

use std::{collections::VecDeque, sync::atomic::Ordering};

use bytes::Bytes;
use bytestring::ByteString;
use serde::{ser::SerializeSeq, Serialize};
use serde_json::Value;
use socketioxide_core::{
    packet::{Packet, PacketData},
    parser::{Parse, ParseError, ParserState},
    Str, Value as SioValue,
};
use socketioxide_parser_common::CommonParser;

use crate::{
    engineio::frame::Frame,
    payload::{EmitError, Payload},
};

/// Event names a client may not send and the server may not emit (reference: `RESERVED_EVENTS`).
const RESERVED_EVENTS: [&str; 6] =
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

pub(crate) fn is_reserved_event(event: &str) -> bool {
    RESERVED_EVENTS.contains(&event)
}

/// Refuses to emit an event name that is reserved.
pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if is_reserved_event(event) {
        return Err(EmitError::ReservedEvent(event.to_owned()));
    }
    Ok(())
}

/// A complete, validated packet from a client.
#[derive(Debug)]
pub(crate) enum Incoming {
    Connect {
        ns: Str,
        auth: Value,
    },
    Disconnect {
        ns: Str,
    },
    Event {
        ns: Str,
        event: String,
        payload: Payload,
        ack: Option<i64>,
    },
    /// An acknowledgement of a server emit; the server never asks for one, so it is dropped.
    Ack {
        ns: Str,
    },
}

/// The client sent something that is not a valid Socket.IO packet; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SioDecodeError {
    #[error("malformed packet: {0}")]
    Parse(ParseError),
    #[error("packet announces {0} binary attachments, more than allowed")]
    TooManyAttachments(usize),
    #[error("text packet received while binary attachments were expected")]
    ExpectedBinary,
    #[error("binary packet received outside a binary event")]
    UnexpectedBinary,
    #[error("invalid packet payload: {0}")]
    InvalidPayload(&'static str),
    #[error("packet type not allowed from a client")]
    Forbidden,
}

/// Reassembles packets of one connection from Engine.IO messages.
#[derive(Debug)]
pub(crate) struct Decoder {
    /// The packet waiting for its binary attachments, if any. Boxed and only while one waits:
    /// the parser's state is 0.14 KiB, and every idle connection would carry it.
    awaiting_binary: Option<Box<ParserState>>,
    max_attachments: usize,
}

impl Decoder {
    pub(crate) fn new(max_attachments: usize) -> Self {
        Self { awaiting_binary: None, max_attachments }
    }

    /// Decodes a text message. `Ok(None)` means the packet waits for binary attachments.
    pub(crate) fn text(&mut self, text: String) -> Result<Option<Incoming>, SioDecodeError> {
        if self.awaiting_binary.is_some() {
            return Err(SioDecodeError::ExpectedBinary);
        }
        // A text packet leaves nothing in the state unless it announces attachments.
        let state = ParserState::default();
        match CommonParser.decode_str(&state, Str::from(text)) {
            Ok(packet) => classify(packet).map(Some),
            Err(ParseError::NeedsMoreBinaryData) => {
                let announced = state.incoming_binary_cnt.load(Ordering::Acquire);
                if announced > self.max_attachments {
                    return Err(SioDecodeError::TooManyAttachments(announced));
                }
                self.awaiting_binary = Some(Box::new(state));
                Ok(None)
            }
            Err(err) => Err(SioDecodeError::Parse(err)),
        }
    }

    /// Decodes a binary message (an attachment of the pending binary packet).
    pub(crate) fn binary(&mut self, data: Bytes) -> Result<Option<Incoming>, SioDecodeError> {
        let Some(state) = self.awaiting_binary.as_deref() else {
            return Err(SioDecodeError::UnexpectedBinary);
        };
        match CommonParser.decode_bin(state, data) {
            Ok(packet) => {
                self.awaiting_binary = None;
                classify(packet).map(Some)
            }
            Err(ParseError::NeedsMoreBinaryData) => Ok(None),
            Err(err) => Err(SioDecodeError::Parse(err)),
        }
    }
}

fn classify(packet: Packet) -> Result<Incoming, SioDecodeError> {
    let ns = packet.ns;
    match packet.inner {
        PacketData::Connect(auth) => Ok(Incoming::Connect { ns, auth: parse_auth(auth)? }),
        PacketData::Disconnect => Ok(Incoming::Disconnect { ns }),
        PacketData::Event(value, ack) | PacketData::BinaryEvent(value, ack) => {
            let (event, payload) = parse_event(value)?;
            Ok(Incoming::Event { ns, event, payload, ack })
        }
        PacketData::EventAck(value, _) | PacketData::BinaryAck(value, _) => {
            let (text, _) = str_value(value)?;
            serde_json::from_str::<Vec<serde::de::IgnoredAny>>(text.as_str())
                .map_err(|_| SioDecodeError::InvalidPayload("ack payload must be an array"))?;
            Ok(Incoming::Ack { ns })
        }
        PacketData::ConnectError(_) => Err(SioDecodeError::Forbidden),
    }
}

fn str_value(value: SioValue) -> Result<(Str, Vec<Bytes>), SioDecodeError> {
    match value {
        SioValue::Str(text, bins) => Ok((text, bins.map(Vec::from).unwrap_or_default())),
        SioValue::Bytes(_) => Err(SioDecodeError::InvalidPayload("unexpected binary value")),
    }
}

/// The CONNECT payload must be a JSON object when present; absent means `{}`.
fn parse_auth(auth: Option<SioValue>) -> Result<Value, SioDecodeError> {
    let Some(auth) = auth else {
        return Ok(Value::Object(serde_json::Map::new()));
    };
    let (text, _) = str_value(auth)?;
    match serde_json::from_str::<Value>(text.as_str()) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(SioDecodeError::InvalidPayload("auth must be a JSON object")),
    }
}

/// An event payload is `[name, ...args]` with a string (or number) name that is not reserved;
/// every `_placeholder` must point at a received attachment.
fn parse_event(value: SioValue) -> Result<(String, Payload), SioDecodeError> {
    let (text, attachments) = str_value(value)?;
    let mut args: VecDeque<Value> = serde_json::from_str(text.as_str())
        .map_err(|_| SioDecodeError::InvalidPayload("event payload must be an array"))?;
    let event = match args.pop_front() {
        Some(Value::String(name)) if !is_reserved_event(&name) => name,
        Some(Value::Number(number)) => number.to_string(),
        _ => return Err(SioDecodeError::InvalidPayload("invalid event name")),
    };
    let args = Vec::from(args);
    if !args.iter().all(|arg| placeholders_valid(arg, attachments.len())) {
        return Err(SioDecodeError::InvalidPayload("illegal attachments"));
    }
    Ok((event, Payload { args, attachments }))
}

fn placeholders_valid(value: &Value, attachment_count: usize) -> bool {
    match value {
        Value::Array(items) => items.iter().all(|v| placeholders_valid(v, attachment_count)),
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => map
            .get("num")
            .and_then(Value::as_u64)
            .is_some_and(|num| usize::try_from(num).is_ok_and(|num| num < attachment_count)),
        Value::Object(map) => map.values().all(|v| placeholders_valid(v, attachment_count)),
        _ => true,
    }
}

// ----- encoding -----

/// `[event?, ...args]` serialized without building an intermediate array.
struct Args<'a> {
    event: Option<&'a str>,
    args: &'a [Value],
}

impl Serialize for Args<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.args.len() + 1))?;
        if let Some(event) = self.event {
            seq.serialize_element(event)?;
        }
        for arg in self.args {
            seq.serialize_element(arg)?;
        }
        seq.end()
    }
}

/// An EVENT with one argument: `["event", data]`.
pub(crate) fn event_frame<T: Serialize + ?Sized>(ns: &Str, event: &str, data: &T) -> serde_json::Result<Frame> {
    let json = serde_json::to_string(&(event, data))?;
    Ok(encode(Packet::event(ns.clone(), str_value_of(json, Vec::new()))))
}

/// An EVENT (or BINARY_EVENT) with any arguments and attachments.
pub(crate) fn payload_event_frame(ns: &Str, event: &str, payload: &Payload) -> serde_json::Result<Frame> {
    let json = serde_json::to_string(&Args { event: Some(event), args: &payload.args })?;
    let value = str_value_of(json, payload.attachments.clone());
    Ok(encode(Packet::event(ns.clone(), value)))
}

/// An ACK with one argument: `[data]`.
pub(crate) fn ack_frame<T: Serialize + ?Sized>(ns: &Str, id: i64, data: &T) -> serde_json::Result<Frame> {
    let json = serde_json::to_string(&(data,))?;
    Ok(encode(Packet::ack(ns.clone(), str_value_of(json, Vec::new()), id)))
}

/// An ACK (or BINARY_ACK) with any arguments and attachments.
pub(crate) fn payload_ack_frame(ns: &Str, id: i64, payload: &Payload) -> serde_json::Result<Frame> {
    let json = serde_json::to_string(&Args { event: None, args: &payload.args })?;
    let value = str_value_of(json, payload.attachments.clone());
    Ok(encode(Packet::ack(ns.clone(), value, id)))
}

/// The CONNECT acknowledgement: `0/ns,{"sid":"..."}`.
pub(crate) fn connect_frame(ns: &Str, sid: &str) -> Frame {
    let json = serde_json::json!({ "sid": sid }).to_string();
    encode(Packet::connect(ns.clone(), Some(str_value_of(json, Vec::new()))))
}

/// `1/ns,`.
pub(crate) fn disconnect_frame(ns: &Str) -> Frame {
    encode(Packet::disconnect(ns.clone()))
}

/// CONNECT_ERROR with arbitrary data. `socketioxide` only encodes `{"message": <string>}`, so
/// this one packet is written here: `4` + namespace prefix + JSON.
pub(crate) fn connect_error_frame(ns: &Str, data: &Value) -> Frame {
    let mut text = String::from("44");
    if ns.as_str() != "/" {
        text.push_str(ns.as_str());
        text.push(',');
    }
    text.push_str(&data.to_string());
    Frame::new(ByteString::from(text), Vec::new())
}

fn str_value_of(json: String, attachments: Vec<Bytes>) -> SioValue {
    let bins = (!attachments.is_empty()).then(|| VecDeque::from(attachments));
    SioValue::Str(Str::from(json), bins)
}

fn encode(packet: Packet) -> Frame {
    // The common parser always yields a string value (with attachments set aside) for the
    // packets built above; the binary arm exists for binary parsers such as msgpack.
    match CommonParser.encode(packet) {
        SioValue::Str(text, bins) => {
            let mut message = String::with_capacity(text.len() + 1);
            message.push('4');
            message.push_str(text.as_str());
            Frame::new(ByteString::from(message), bins.map(Vec::from).unwrap_or_default())
        }
        SioValue::Bytes(data) => Frame::new(ByteString::from_static("4"), vec![data]),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(decoder: &mut Decoder, text: &str) -> Result<Option<Incoming>, SioDecodeError> {
        decoder.text(text.to_owned())
    }

    #[test]
    fn decodes_connect_with_and_without_auth() {
        let mut decoder = Decoder::new(10);
        match decode(&mut decoder, "0{\"token\":\"abc\"}").unwrap() {
            Some(Incoming::Connect { ns, auth }) => {
                assert_eq!(ns, "/");
                assert_eq!(auth, json!({"token": "abc"}));
            }
            other => panic!("unexpected {other:?}"),
        }
        match decode(&mut decoder, "0/custom,").unwrap() {
            Some(Incoming::Connect { ns, auth }) => {
                assert_eq!(ns, "/custom");
                assert_eq!(auth, json!({}));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(decode(&mut decoder, "0\"string\"").is_err());
        assert!(decode(&mut decoder, "0[1]").is_err());
    }

    #[test]
    fn decodes_events_with_ack_and_rejects_bad_ones() {
        let mut decoder = Decoder::new(10);
        match decode(&mut decoder, "2/custom,12[\"hi\",1,{\"a\":2}]").unwrap() {
            Some(Incoming::Event { ns, event, payload, ack }) => {
                assert_eq!(ns, "/custom");
                assert_eq!(event, "hi");
                assert_eq!(payload.args, vec![json!(1), json!({"a": 2})]);
                assert_eq!(ack, Some(12));
            }
            other => panic!("unexpected {other:?}"),
        }
        for bad in
            ["2", "2[]", "2{}", "2[{}]", "2[\"disconnect\"]", "2[\"a\"", "4{\"message\":\"x\"}", "7", "3[]", "31{}"]
        {
            assert!(decode(&mut decoder, bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn reassembles_binary_events_and_caps_attachments() {
        let mut decoder = Decoder::new(2);
        let header = "52-[\"bin\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]";
        assert!(decode(&mut decoder, header).unwrap().is_none());
        assert!(matches!(decode(&mut decoder, "2[\"x\"]"), Err(SioDecodeError::ExpectedBinary)));

        let mut decoder = Decoder::new(2);
        assert!(decode(&mut decoder, header).unwrap().is_none());
        assert!(decoder.binary(Bytes::from_static(&[1])).unwrap().is_none());
        match decoder.binary(Bytes::from_static(&[2])).unwrap() {
            Some(Incoming::Event { event, payload, .. }) => {
                assert_eq!(event, "bin");
                assert_eq!(payload.attachments, vec![Bytes::from_static(&[1]), Bytes::from_static(&[2])]);
                assert_eq!(payload.attachment(&payload.args[1]), Some(&Bytes::from_static(&[2])));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(decoder.binary(Bytes::from_static(&[3])), Err(SioDecodeError::UnexpectedBinary)));

        let mut decoder = Decoder::new(2);
        assert!(matches!(decode(&mut decoder, "53-[\"bin\"]"), Err(SioDecodeError::TooManyAttachments(3))));
        let mut decoder = Decoder::new(2);
        assert!(decode(&mut decoder, "51-[\"bin\",{\"_placeholder\":true,\"num\":5}]").unwrap().is_none());
        assert!(matches!(decoder.binary(Bytes::from_static(&[1])), Err(SioDecodeError::InvalidPayload(_))));
    }

    #[test]
    fn encodes_every_server_packet() {
        let root = Str::from("/");
        let custom = Str::from("/custom");
        assert_eq!(event_frame(&root, "e", &json!({"a": 1})).unwrap().text(), "42[\"e\",{\"a\":1}]");
        assert_eq!(event_frame(&custom, "e", &1).unwrap().text(), "42/custom,[\"e\",1]");
        let mut payload = Payload::new(vec![json!("x")]);
        let placeholder = payload.add_attachment(Bytes::from_static(&[9]));
        payload.args.push(placeholder);
        let frame = payload_event_frame(&root, "e", &payload).unwrap();
        assert_eq!(frame.text(), "451-[\"e\",\"x\",{\"_placeholder\":true,\"num\":0}]");
        assert_eq!(frame.attachments(), [Bytes::from_static(&[9])]);
        assert_eq!(ack_frame(&custom, 7, &json!({"ok": true})).unwrap().text(), "43/custom,7[{\"ok\":true}]");
        assert_eq!(
            payload_ack_frame(&root, 3, &payload).unwrap().text(),
            "461-3[\"x\",{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(connect_frame(&custom, "abc").text(), "40/custom,{\"sid\":\"abc\"}");
        assert_eq!(disconnect_frame(&root).text(), "41");
        assert_eq!(disconnect_frame(&custom).text(), "41/custom,");
        assert_eq!(
            connect_error_frame(&root, &json!({"message": "Unauthorized"})).text(),
            "44{\"message\":\"Unauthorized\"}"
        );
        assert_eq!(connect_error_frame(&custom, &json!({"message": "x"})).text(), "44/custom,{\"message\":\"x\"}");
    }
}
