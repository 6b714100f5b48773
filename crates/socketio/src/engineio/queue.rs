//! Per-session bounded outbound queue: never blocks a sender, sheds droppable frames first.

use std::collections::VecDeque;

use bytes::Bytes;
use bytestring::ByteString;

use super::frame::Frame;

/// An entry of the outbound queue.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// An Engine.IO control packet (open, ping, noop): tiny, never counted, never dropped.
    Control(ByteString),
    /// A Socket.IO packet.
    Frame(Frame),
    /// A WebSocket control frame, complete (a pong to the client's ping): only ever queued
    /// while a WebSocket carries the session, never counted, never dropped.
    WebSocket(Bytes),
}

/// Why a frame was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The session is closed; nothing is written any more.
    Closed,
    /// The queue is full and the frame was droppable, so it was discarded.
    Dropped,
    /// The queue is full of frames that must not be dropped: the client cannot keep up.
    Overflow,
}

/// Frames waiting to be written to one client, bounded in count and bytes.
#[derive(Debug)]
pub(crate) struct Outbound {
    items: VecDeque<Item>,
    frames: usize,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
    closed: bool,
    /// A writer found the queue empty and waits to be woken by the next push; pushes while it
    /// is busy writing wake nobody, so a burst costs one wake-up, not one per frame.
    writer_waiting: bool,
    /// Droppable frames discarded to make room since the last [`take_shed`](Self::take_shed).
    shed: u64,
}

impl Outbound {
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Self {
            items: VecDeque::new(),
            frames: 0,
            bytes: 0,
            max_frames,
            max_bytes,
            closed: false,
            writer_waiting: false,
            shed: 0,
        }
    }

    /// Queues a control packet or WebSocket control frame; `false` once the queue is closed.
    pub(crate) fn push_control(&mut self, item: Item) -> bool {
        if self.closed {
            return false;
        }
        self.items.push_back(item);
        true
    }

    /// Queues a frame without ever waiting. When the bounds would be exceeded, droppable frames
    /// (the new one first, then the oldest queued ones) are discarded; if that is not enough the
    /// frame is refused with [`PushError::Overflow`] and the caller closes the session.
    pub(crate) fn push_frame(&mut self, frame: Frame) -> Result<(), PushError> {
        if self.closed {
            return Err(PushError::Closed);
        }
        let size = frame.size();
        if !self.fits(size) {
            if frame.droppable {
                return Err(PushError::Dropped);
            }
            self.shed_droppable(size);
            if !self.fits(size) {
                return Err(PushError::Overflow);
            }
        }
        self.frames += 1;
        self.bytes += size;
        self.items.push_back(Item::Frame(frame));
        Ok(())
    }

    fn fits(&self, size: usize) -> bool {
        self.frames < self.max_frames && self.bytes.saturating_add(size) <= self.max_bytes
    }

    fn shed_droppable(&mut self, size: usize) {
        let mut index = 0;
        while index < self.items.len() && !self.fits(size) {
            match &self.items[index] {
                Item::Frame(frame) if frame.droppable => {
                    self.frames -= 1;
                    self.bytes -= frame.size();
                    self.items.remove(index);
                    self.shed += 1;
                }
                _ => index += 1,
            }
        }
    }

    /// Takes everything queued, in order, leaving the queue empty.
    pub(crate) fn take(&mut self) -> VecDeque<Item> {
        self.frames = 0;
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }

    /// Moves everything queued to the end of `batch` (whose allocation the writer reuses), or,
    /// when nothing is queued, records that the writer now waits for a wake-up.
    pub(crate) fn take_into(&mut self, batch: &mut VecDeque<Item>) {
        if self.items.is_empty() {
            self.writer_waiting = true;
            return;
        }
        self.frames = 0;
        self.bytes = 0;
        if batch.is_empty() {
            std::mem::swap(&mut self.items, batch);
        } else {
            batch.append(&mut self.items);
        }
    }

    /// How many droppable frames were discarded to make room since the last call.
    pub(crate) fn take_shed(&mut self) -> u64 {
        std::mem::take(&mut self.shed)
    }

    /// Whether a writer waits to be woken (cleared: the caller wakes it).
    pub(crate) fn take_writer_waiting(&mut self) -> bool {
        std::mem::take(&mut self.writer_waiting)
    }

    /// Refuses any further packet; what is already queued can still be taken.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(text: &'static str) -> Frame {
        Frame::new(ByteString::from_static(text), Vec::new())
    }

    fn texts(queue: &mut Outbound) -> Vec<String> {
        queue
            .take()
            .into_iter()
            .map(|item| match item {
                Item::Control(text) => text.to_string(),
                Item::Frame(frame) => frame.text().to_string(),
                Item::WebSocket(bytes) => format!("{bytes:?}"),
            })
            .collect()
    }

    #[test]
    fn keeps_order_and_counts_attachments() {
        let mut queue = Outbound::new(10, 10);
        queue.push_frame(frame("4a")).unwrap();
        assert!(queue.push_control(Item::Control(ByteString::from_static("2"))));
        let with_binary = Frame::new(ByteString::from_static("4b"), vec![Bytes::from_static(&[0; 8])]);
        assert_eq!(queue.push_frame(with_binary), Err(PushError::Overflow));
        queue.push_frame(frame("4c")).unwrap();
        assert_eq!(texts(&mut queue), ["4a", "2", "4c"]);
    }

    #[test]
    fn drops_droppable_frames_before_overflowing() {
        let mut queue = Outbound::new(3, 1000);
        queue.push_frame(frame("4typing1").droppable()).unwrap();
        queue.push_frame(frame("4msg1")).unwrap();
        queue.push_frame(frame("4typing2").droppable()).unwrap();
        // Full: a new droppable frame is discarded itself.
        assert_eq!(queue.push_frame(frame("4typing3").droppable()), Err(PushError::Dropped));
        // A frame that matters evicts the oldest droppable one.
        queue.push_frame(frame("4msg2")).unwrap();
        queue.push_frame(frame("4msg3")).unwrap();
        assert_eq!(queue.push_frame(frame("4msg4")), Err(PushError::Overflow));
        assert_eq!(texts(&mut queue), ["4msg1", "4msg2", "4msg3"]);
        // typing1 and typing2 were shed for msg2 and msg3 (typing3 was refused, not shed).
        assert_eq!(queue.take_shed(), 2);
        assert_eq!(queue.take_shed(), 0);
        queue.push_frame(frame("4msg5")).unwrap();
    }

    #[test]
    fn refuses_everything_once_closed() {
        let mut queue = Outbound::new(3, 1000);
        queue.push_frame(frame("4a")).unwrap();
        queue.close();
        assert_eq!(queue.push_frame(frame("4b")), Err(PushError::Closed));
        assert!(!queue.push_control(Item::Control(ByteString::from_static("2"))));
        assert_eq!(texts(&mut queue), ["4a"]);
    }
}
