//! Pre-serialized outbound messages, shared by reference between every recipient.

use std::sync::Arc;

use bytes::Bytes;
use bytestring::ByteString;

/// One Socket.IO packet, already encoded as an Engine.IO message, ready to be queued for any
/// number of sockets of the namespace it was built for.
///
/// Cloning is cheap (reference counts only): a broadcast serializes once and every recipient's
/// queue holds the same buffers. Build one with
/// [`Namespace::event_frame`](crate::Namespace::event_frame) and send it with
/// [`Namespace::broadcast_frame_to`](crate::Namespace::broadcast_frame_to) (or release it first
/// after a catch-up with [`Socket::release_room`](crate::Socket::release_room), as
/// [`AckSender::into_frame`](crate::AckSender::into_frame) does for an acknowledgement).
#[derive(Debug, Clone)]
pub struct Frame {
    /// The Engine.IO message packet: `4` followed by the Socket.IO packet text.
    pub(crate) text: ByteString,
    /// Binary attachments, sent as separate Engine.IO binary messages after the text.
    pub(crate) attachments: Option<Arc<[Bytes]>>,
    pub(crate) droppable: bool,
    /// The per-chat sequence number of the event this frame carries, if any; used to drop a
    /// live frame that a catch-up replay already delivered.
    pub(crate) seq: Option<u64>,
}

impl Frame {
    pub(crate) fn new(text: ByteString, attachments: Vec<Bytes>) -> Self {
        Self { text, attachments: (!attachments.is_empty()).then(|| attachments.into()), droppable: false, seq: None }
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
        self.text.len() + self.attachments.as_deref().map_or(0, |a| a.iter().map(Bytes::len).sum())
    }

    /// The Engine.IO text packet (`4` + Socket.IO packet), for assertions.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The binary attachments, in order.
    pub(crate) fn attachments(&self) -> &[Bytes] {
        self.attachments.as_deref().unwrap_or(&[])
    }
}
