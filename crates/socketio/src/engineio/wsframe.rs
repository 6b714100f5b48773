//! The WebSocket wire format as this server needs it: unmasked server frames written once and
//! shared by every recipient, and a reader of client frames that refuses an oversize frame as
//! soon as its header declares the size, before any of its body is buffered.

use std::{
    io,
    pin::Pin,
    rc::Weak,
    task::{ready, Context, Poll},
};

use actix_http::ws::{OpCode, Parser, ProtocolError};
use actix_web::web;
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::Stream;
use tokio::net::TcpStream;

/// First byte of a final text frame.
const TEXT: u8 = 0x81;
/// First byte of a final binary frame.
const BINARY: u8 = 0x82;
/// First byte of a close frame.
const CLOSE: u8 = 0x88;
/// First byte of a pong frame.
const PONG: u8 = 0x8A;

/// Largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// The read buffer starts this small: most client messages (acks, events, pongs) fit, and an
/// idle connection should hold as little as possible.
const INITIAL_READ_BUFFER: usize = 256;

/// The close frame the server sends last (no status code, no reason).
pub(crate) const CLOSE_FRAME: Bytes = Bytes::from_static(&[CLOSE, 0]);

/// Appends one unmasked, final server frame with `first` as its first byte.
fn put_frame(dst: &mut BytesMut, first: u8, payload: &[u8]) {
    let len = payload.len();
    if len < 126 {
        // The branch guarantees the length fits the 7-bit field.
        dst.put_slice(&[first, len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        dst.put_slice(&[first, 126]);
        dst.put_u16(len);
    } else {
        dst.put_slice(&[first, 127]);
        dst.put_u64(len as u64);
    }
    dst.put_slice(payload);
}

/// Bytes a frame of `len` payload bytes takes on the wire, header included.
fn frame_len(len: usize) -> usize {
    len + match len {
        0..126 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    }
}

/// A complete text frame followed by one binary frame per attachment, in one buffer: what one
/// Engine.IO message with attachments is on a WebSocket.
pub(crate) fn message_frames(text: &[u8], attachments: &[Bytes]) -> Bytes {
    let total = frame_len(text.len()) + attachments.iter().map(|a| frame_len(a.len())).sum::<usize>();
    let mut dst = BytesMut::with_capacity(total);
    // An empty text is no Engine.IO packet (it would be `4` at least): a bare binary message.
    if !text.is_empty() {
        put_frame(&mut dst, TEXT, text);
    }
    for attachment in attachments {
        put_frame(&mut dst, BINARY, attachment);
    }
    dst.freeze()
}

/// A text frame carrying `text`.
pub(crate) fn text_frame(text: &[u8]) -> Bytes {
    message_frames(text, &[])
}

/// The answer to a client's WebSocket ping, echoing its payload (at most 125 bytes).
pub(crate) fn pong_frame(payload: &[u8]) -> Bytes {
    let payload = &payload[..payload.len().min(MAX_CONTROL_PAYLOAD)];
    let mut dst = BytesMut::with_capacity(2 + payload.len());
    put_frame(&mut dst, PONG, payload);
    dst.freeze()
}

/// A complete message from the client, continuations joined.
#[derive(Debug, PartialEq)]
pub(crate) enum WsMessage {
    Text(String),
    Binary(Bytes),
    Ping(Bytes),
    Pong,
    Close,
}

/// Why the client's byte stream cannot be read further.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum WsReadError {
    /// A frame or message larger than the payload limit (declared or accumulated).
    #[error("message larger than the payload limit")]
    TooLarge,
    /// A text message that is not UTF-8.
    #[error("text message is not valid utf-8")]
    Utf8,
    /// Anything else RFC 6455 forbids (unmasked frame, bad opcode, stray continuation, ...).
    #[error("websocket protocol error: {0}")]
    Protocol(String),
    /// The connection ended or failed below the WebSocket layer.
    #[error("connection error")]
    Io,
}

impl From<ProtocolError> for WsReadError {
    fn from(err: ProtocolError) -> Self {
        match err {
            ProtocolError::Overflow => Self::TooLarge,
            other => Self::Protocol(other.to_string()),
        }
    }
}

/// The payload length a frame header at the start of `buf` declares, once enough of the header
/// is there to know it (2, 4 or 10 bytes).
fn declared_len(buf: &[u8]) -> Option<u64> {
    let short = *buf.get(1)? & 0x7F;
    match short {
        126 => Some(u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?]))),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            Some(u64::from_be_bytes(bytes))
        }
        short => Some(u64::from(short)),
    }
}

/// A message being reassembled from a fragmented text or binary message.
struct Partial {
    text: bool,
    data: BytesMut,
}

/// Decodes client frames from bytes as they arrive, with `max_payload` bounding every frame and
/// every reassembled message.
pub(crate) struct WsDecoder {
    buf: BytesMut,
    partial: Option<Partial>,
    max_payload: usize,
}

impl WsDecoder {
    pub(crate) fn new(max_payload: usize) -> Self {
        Self { buf: BytesMut::new(), partial: None, max_payload }
    }

    /// Adds bytes read from the connection.
    pub(crate) fn extend(&mut self, chunk: &[u8]) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(INITIAL_READ_BUFFER.max(chunk.len()));
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete message, `None` if more bytes are needed. A frame whose header
    /// declares more than the limit is an error as soon as the header is complete.
    pub(crate) fn next_message(&mut self) -> Result<Option<WsMessage>, WsReadError> {
        loop {
            if let Some(declared) = declared_len(&self.buf) {
                if declared > self.max_payload as u64 {
                    return Err(WsReadError::TooLarge);
                }
            }
            let Some((fin, opcode, data)) = Parser::parse(&mut self.buf, true, self.max_payload)? else {
                self.release_if_idle();
                return Ok(None);
            };
            let data = data.unwrap_or_default();
            self.release_if_idle();
            if let Some(message) = self.on_frame(fin, opcode, data)? {
                return Ok(Some(message));
            }
        }
    }

    /// An emptied read buffer is released rather than kept for the next message: an idle
    /// connection holds no read buffer at all (a message costs one allocation, and no large
    /// message pins memory afterwards).
    fn release_if_idle(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }

    fn on_frame(&mut self, fin: bool, opcode: OpCode, data: BytesMut) -> Result<Option<WsMessage>, WsReadError> {
        match opcode {
            OpCode::Text | OpCode::Binary => {
                if self.partial.is_some() {
                    return Err(WsReadError::Protocol("new message inside a fragmented one".into()));
                }
                let text = opcode == OpCode::Text;
                if fin {
                    return finish(text, data).map(Some);
                }
                self.partial = Some(Partial { text, data });
                Ok(None)
            }
            OpCode::Continue => {
                let Some(partial) = self.partial.as_mut() else {
                    return Err(WsReadError::Protocol("continuation without a message".into()));
                };
                if partial.data.len().saturating_add(data.len()) > self.max_payload {
                    return Err(WsReadError::TooLarge);
                }
                partial.data.extend_from_slice(&data);
                if !fin {
                    return Ok(None);
                }
                let Some(Partial { text, data }) = self.partial.take() else {
                    return Ok(None);
                };
                finish(text, data).map(Some)
            }
            OpCode::Ping => Ok(Some(WsMessage::Ping(data.freeze()))),
            OpCode::Pong => Ok(Some(WsMessage::Pong)),
            OpCode::Close => Ok(Some(WsMessage::Close)),
            OpCode::Bad => Err(WsReadError::Protocol("bad opcode".into())),
        }
    }
}

fn finish(text: bool, data: BytesMut) -> Result<WsMessage, WsReadError> {
    if text {
        String::from_utf8(data.to_vec()).map(WsMessage::Text).map_err(|_| WsReadError::Utf8)
    } else {
        Ok(WsMessage::Binary(data.freeze()))
    }
}

/// Bytes read from the socket at once, into a buffer on the stack (an idle connection keeps no
/// read buffer; the decoder keeps what a message needs).
const READ_CHUNK: usize = 16 * 1024;

/// Where the client's bytes come from.
enum Source {
    /// The request body of the upgrade, on the actix-web route.
    Payload(web::Payload),
    /// The connection itself, taken off actix's HTTP dispatcher. Its writer owns the stream;
    /// once the writer is done with it, the connection has ended for the reader too.
    Socket(Weak<TcpStream>),
}

/// The client's half of a WebSocket connection, decoded.
pub(crate) struct WsReader {
    source: Source,
    decoder: WsDecoder,
    done: bool,
}

impl WsReader {
    /// Reads the request body of an upgrade served by actix-web.
    pub(crate) fn new(payload: web::Payload, max_payload: usize) -> Self {
        Self { source: Source::Payload(payload), decoder: WsDecoder::new(max_payload), done: false }
    }

    /// Reads a connection taken over, starting with `leftover` (what was read with the
    /// request).
    pub(crate) fn from_socket(stream: Weak<TcpStream>, leftover: &[u8], max_payload: usize) -> Self {
        let mut decoder = WsDecoder::new(max_payload);
        if !leftover.is_empty() {
            decoder.extend(leftover);
        }
        Self { source: Source::Socket(stream), decoder, done: false }
    }

    /// Adds the next bytes to the decoder: `None` at the end of the connection.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<(), WsReadError>>> {
        let stream = match &mut self.source {
            Source::Payload(payload) => {
                return Pin::new(payload).poll_next(cx).map(|chunk| {
                    chunk.map(|chunk| chunk.map(|chunk| self.decoder.extend(&chunk)).map_err(|_| WsReadError::Io))
                })
            }
            Source::Socket(stream) => stream.upgrade(),
        };
        let Some(stream) = stream else {
            return Poll::Ready(None);
        };
        loop {
            if ready!(stream.poll_read_ready(cx)).is_err() {
                return Poll::Ready(Some(Err(WsReadError::Io)));
            }
            let mut chunk = [0_u8; READ_CHUNK];
            match stream.try_read(&mut chunk) {
                Ok(0) => return Poll::Ready(None),
                Ok(read) => {
                    self.decoder.extend(&chunk[..read]);
                    return Poll::Ready(Some(Ok(())));
                }
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return Poll::Ready(Some(Err(WsReadError::Io))),
            }
        }
    }

    /// The next message; `None` once the connection ended, or after an error was reported.
    pub(crate) fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<WsMessage, WsReadError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match self.decoder.next_message() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(err) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
            }
            match ready!(self.poll_fill(cx)) {
                Some(Ok(())) => {}
                Some(Err(err)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
                None => {
                    self.done = true;
                    return Poll::Ready(None);
                }
            }
        }
    }

    pub(crate) async fn next_message(&mut self) -> Option<Result<WsMessage, WsReadError>> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A masked client frame, as a browser would send it.
    fn client_frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut out = vec![first];
        match payload.len() {
            len @ 0..126 => out.push(0x80 | len as u8),
            len @ 126..=0xFFFF => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn writes_server_frames_of_every_length_class() {
        assert_eq!(&text_frame(b"2")[..], &[0x81, 1, b'2']);
        let medium = text_frame(&[b'x'; 300]);
        assert_eq!(&medium[..4], &[0x81, 126, 1, 44]);
        assert_eq!(medium.len(), 304);
        let large = message_frames(b"4", &[Bytes::from(vec![7; 70_000])]);
        assert_eq!(&large[..3], &[0x81, 1, b'4']);
        assert_eq!(&large[3..5], &[0x82, 127]);
        assert_eq!(u64::from_be_bytes(large[5..13].try_into().unwrap()), 70_000);
        assert_eq!(large.len(), 3 + 10 + 70_000);
        assert_eq!(&pong_frame(b"hi")[..], &[0x8A, 2, b'h', b'i']);
    }

    #[test]
    fn reads_messages_split_anywhere_and_joins_continuations() {
        let mut bytes = client_frame(0x81, b"4hello");
        bytes.extend(client_frame(0x02, b"ab"));
        bytes.extend(client_frame(0x89, b"p"));
        bytes.extend(client_frame(0x80, b"cd"));
        bytes.extend(client_frame(0x88, b""));
        let mut decoder = WsDecoder::new(100);
        let mut messages = Vec::new();
        for byte in bytes {
            decoder.extend(&[byte]);
            while let Some(message) = decoder.next_message().unwrap() {
                messages.push(message);
            }
        }
        assert_eq!(
            messages,
            [
                WsMessage::Text("4hello".into()),
                WsMessage::Ping(Bytes::from_static(b"p")),
                WsMessage::Binary(Bytes::from_static(b"abcd")),
                WsMessage::Close,
            ]
        );
    }

    #[test]
    fn refuses_an_oversize_frame_from_its_header_alone() {
        for declared in [101_u64, 64 << 20, i64::MAX as u64] {
            let mut header = vec![0x81, 0x80 | 127];
            header.extend_from_slice(&declared.to_be_bytes());
            let mut decoder = WsDecoder::new(100);
            decoder.extend(&header);
            assert_eq!(decoder.next_message(), Err(WsReadError::TooLarge), "{declared}");
        }
        let mut decoder = WsDecoder::new(100);
        decoder.extend(&[0x81, 0x80 | 126, 0x01]);
        assert_eq!(decoder.next_message(), Ok(None));
        decoder.extend(&[0x00]);
        assert_eq!(decoder.next_message(), Err(WsReadError::TooLarge));
    }

    #[test]
    fn bounds_reassembled_messages_and_rejects_protocol_errors() {
        let mut decoder = WsDecoder::new(4);
        decoder.extend(&client_frame(0x01, b"abc"));
        decoder.extend(&client_frame(0x80, b"de"));
        assert_eq!(decoder.next_message(), Err(WsReadError::TooLarge));

        let mut decoder = WsDecoder::new(10);
        decoder.extend(&client_frame(0x80, b"x"));
        assert!(matches!(decoder.next_message(), Err(WsReadError::Protocol(_))));

        let mut decoder = WsDecoder::new(10);
        decoder.extend(&client_frame(0x81, &[0xff]));
        assert_eq!(decoder.next_message(), Err(WsReadError::Utf8));

        let mut decoder = WsDecoder::new(10);
        decoder.extend(&[0x81, 0x01, b'x']);
        assert!(matches!(decoder.next_message(), Err(WsReadError::Protocol(_))));
    }
}
