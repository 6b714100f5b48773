//! Acknowledgements: the answer to one client event that asked for one.

use std::fmt;

use serde::Serialize;

use crate::{
    engineio::frame::Frame,
    packet,
    payload::{EmitError, Payload},
    socket::Socket,
};

/// Answers one client event that asked for an acknowledgement. Sending consumes it, so an
/// event is acknowledged at most once.
pub struct AckSender {
    socket: Socket,
    id: i64,
}

impl fmt::Debug for AckSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AckSender").field("socket", &self.socket.id()).field("id", &self.id).finish()
    }
}

impl AckSender {
    pub(crate) fn new(socket: Socket, id: i64) -> Self {
        Self { socket, id }
    }

    /// Acknowledges with one argument: the client's callback receives `data`.
    pub fn send<T: Serialize + ?Sized>(self, data: &T) -> Result<(), EmitError> {
        let frame = packet::ack_frame(self.socket.registry().path(), self.id, data)?;
        self.socket.send_frame(frame)
    }

    /// The acknowledgement as a frame, to be queued by
    /// [`Socket::release_room`] ahead of the frames held meanwhile.
    pub fn into_frame<T: Serialize + ?Sized>(self, data: &T) -> Result<Frame, EmitError> {
        Ok(packet::ack_frame(self.socket.registry().path(), self.id, data)?)
    }

    /// Acknowledges with any arguments and binary attachments.
    pub fn send_payload(self, payload: &Payload) -> Result<(), EmitError> {
        let frame = packet::payload_ack_frame(self.socket.registry().path(), self.id, payload)?;
        self.socket.send_frame(frame)
    }
}
