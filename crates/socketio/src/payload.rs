//! What an event carries (JSON arguments and binary attachments) and why emitting one can fail.

use bytes::Bytes;
use serde_json::Value;

/// The arguments of an event or acknowledgement.
///
/// Binary attachments stay where the client put them as `{"_placeholder":true,"num":i}`
/// objects inside `args`, and their bytes are `attachments[i]`; [`attachment`](Self::attachment)
/// resolves a placeholder. Sending a payload back as-is therefore round-trips binary data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The JSON arguments, in order (the event name is not included).
    pub args: Vec<Value>,
    /// The binary attachments referenced by placeholders in `args`.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// A payload of JSON arguments without attachments.
    pub fn new(args: Vec<Value>) -> Self {
        Self { args, attachments: Vec::new() }
    }

    /// The first argument, where most events carry their data.
    pub fn first(&self) -> Option<&Value> {
        self.args.first()
    }

    /// Adds an attachment and returns the placeholder to put somewhere in `args`.
    pub fn add_attachment(&mut self, data: Bytes) -> Value {
        let num = self.attachments.len();
        self.attachments.push(data);
        serde_json::json!({ "_placeholder": true, "num": num })
    }

    /// The bytes a placeholder object refers to.
    pub fn attachment(&self, placeholder: &Value) -> Option<&Bytes> {
        let object = placeholder.as_object()?;
        if object.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        let num = usize::try_from(object.get("num")?.as_u64()?).ok()?;
        self.attachments.get(num)
    }
}

/// Why an emit did not queue anything.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The data could not be serialized to JSON.
    #[error("payload cannot be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The event name is reserved by Socket.IO (`connect`, `disconnect`, ...).
    #[error("event name {0:?} is reserved")]
    ReservedEvent(String),
    /// The socket is not connected any more.
    #[error("socket is disconnected")]
    Disconnected,
    /// The client's outbound queue is full: a droppable frame was discarded, or the client is
    /// being disconnected as a slow consumer.
    #[error("outbound queue is full")]
    QueueFull,
}
