//! A plain Engine.IO server with no protocol on top: every message the client sends comes back
//! as is (text as text, binary as binary). It is the server the Engine.IO protocol's own test
//! suite expects at `/engine.io/`; the conformance server mounts it there.

use std::sync::Arc;

use bytestring::ByteString;

use super::{
    engine::{Engine, SessionHandler},
    frame::Frame,
    inbound::InboundRx,
    session::{EngineSession, Inbound},
};

/// Echoes every message of every session.
pub(crate) struct Echo;

impl SessionHandler for Echo {
    fn on_open(&self, engine: &Arc<Engine>, session: Arc<EngineSession>, inbound: InboundRx) {
        // A local task: a direct WebSocket's reader is the request body of this worker thread.
        actix_web::rt::spawn(run(Arc::clone(engine), session, inbound));
    }
}

async fn run(engine: Arc<Engine>, session: Arc<EngineSession>, mut inbound: InboundRx) {
    loop {
        tokio::select! {
            biased;
            Some(message) = inbound.recv() => {
                let frame = match message {
                    Inbound::Text(text) => {
                        let mut packet = String::with_capacity(text.len() + 1);
                        packet.push('4');
                        packet.push_str(&text);
                        Frame::new(ByteString::from(packet), Vec::new())
                    }
                    Inbound::Binary(data) => Frame::binary(data),
                };
                // A refused push closes the session (slow consumer) or finds it closed: the
                // next turn sees it.
                let _ = session.push_frame(frame);
            }
            () = session.closed() => break,
        }
    }
    engine.remove_session(&session.sid);
}
