//! Pre-serialized outbound messages, shared by reference between every recipient.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use bytestring::ByteString;

use super::wsframe;

/// One Socket.IO packet, already encoded as an Engine.IO message, ready to be queued for any
/// number of sockets of the namespace it was built for.
///
/// Cloning is cheap (one reference count): a broadcast serializes once and every recipient's
/// queue holds the same buffers, including the complete WebSocket frames, built once on first
/// use (server frames are unmasked, so the same bytes serve every recipient). Build one with
/// [`Namespace::event_frame`](crate::Namespace::event_frame) and send it with
/// [`Namespace::broadcast_frame_to`](crate::Namespace::broadcast_frame_to) (or release it first
/// after a catch-up with [`Socket::release_room`](crate::Socket::release_room), as
/// [`AckSender::into_frame`](crate::AckSender::into_frame) does for an acknowledgement).
#[derive(Debug, Clone)]
pub struct Frame {
    encoded: Arc<Encoded>,
    pub(crate) droppable: bool,
    /// The per-chat sequence number of the event this frame carries, if any; used to drop a
    /// live frame that a catch-up replay already delivered.
    pub(crate) seq: Option<u64>,
}

/// The buffers every recipient of a frame shares.
#[derive(Debug)]
struct Encoded {
    /// The Engine.IO message packet: `4` followed by the Socket.IO packet text.
    text: ByteString,
    /// Binary attachments, sent as separate Engine.IO binary messages after the text.
    attachments: Box<[Bytes]>,
    /// The text frame and one binary frame per attachment, as one WebSocket byte sequence.
    websocket: OnceLock<Bytes>,
}

impl Frame {
    pub(crate) fn new(text: ByteString, attachments: Vec<Bytes>) -> Self {
        let encoded = Encoded { text, attachments: attachments.into_boxed_slice(), websocket: OnceLock::new() };
        Self { encoded: Arc::new(encoded), droppable: false, seq: None }
    }

    /// A binary Engine.IO message with no text packet before it (only the plain Engine.IO echo
    /// of the conformance server sends one; Socket.IO binary always follows a text packet).
    pub(crate) fn binary(data: Bytes) -> Self {
        Self::new(ByteString::new(), vec![data])
    }

    /// Marks the frame as expendable (for example a typing indicator): when a client's
    /// outbound queue is full, droppable frames are discarded instead of disconnecting it.
    #[must_use]
    pub fn droppable(mut self) -> Self {
        self.droppable = true;
        self
    }

    /// Tags the frame with the sequence number of the event it carries (see
    /// [`Socket::release_room`](crate::Socket::release_room)).
    #[must_use]
    pub fn with_seq(mut self, seq: u64) -> Self {
        self.seq = Some(seq);
        self
    }

    /// The sequence number the frame was tagged with.
    pub fn seq(&self) -> Option<u64> {
        self.seq
    }

    /// Bytes this frame counts against an outbound queue: text plus attachments.
    pub(crate) fn size(&self) -> usize {
        self.encoded.text.len() + self.encoded.attachments.iter().map(Bytes::len).sum::<usize>()
    }

    /// The Engine.IO text packet (`4` + Socket.IO packet).
    pub(crate) fn text(&self) -> &ByteString {
        &self.encoded.text
    }

    /// The binary attachments, in order.
    pub(crate) fn attachments(&self) -> &[Bytes] {
        &self.encoded.attachments
    }

    /// The complete WebSocket frames of this message, built by the first WebSocket that sends
    /// it and shared with every later one.
    pub(crate) fn websocket_bytes(&self) -> &Bytes {
        self.encoded.websocket.get_or_init(|| wsframe::message_frames(self.encoded.text.as_bytes(), self.attachments()))
    }
}
