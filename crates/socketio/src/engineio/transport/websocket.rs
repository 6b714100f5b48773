//! WebSocket transport: direct connections and upgrades from polling (`2probe` / `3probe` /
//! `5`). The handshake is answered with a [`WsBody`] that writes the session's queue; a direct
//! connection's frames are read by the session's dispatcher task itself, an upgraded one's by
//! the task that ran the probe. On the actix-web route the `101` response's body is the
//! writer; on a connection taken over (`takeover`) the same body is written by the connection
//! itself.

use std::{sync::Arc, time::Duration};

use actix_http::RequestHead;
use actix_web::{
    http::{
        header::{self, HeaderValue},
        Method,
    },
    web, HttpRequest, HttpResponse,
};

use super::{
    request::EioError,
    ws_body::{ProbeLink, WsBody},
};
use crate::engineio::{
    engine::Engine,
    handshake::Handshake,
    inbound::{on_websocket_message, Step},
    packet::{self, ClientPacket},
    session::{ClientClose, EngineSession, TransportKind},
    wsframe::{self, WsMessage, WsReader},
};

/// What a valid WebSocket handshake request gets; `accept` is its `Sec-WebSocket-Accept`.
pub(super) enum WsTarget {
    /// A WebSocket without prior polling: a new session whose open packet is the first frame.
    Open { accept: HeaderValue },
    /// A WebSocket for an existing polling session: probe, then take over the session.
    Upgrade { accept: HeaderValue, session: Arc<EngineSession> },
    /// Already upgraded, upgrading, or a WebSocket session from the start: like the reference
    /// server, accept the connection and close it at once (a refused handshake would be
    /// reported as an error by clients). The session is left alone.
    Refuse { accept: HeaderValue, session: Arc<EngineSession> },
}

/// Judges a request for the WebSocket transport (its origin, transport and version already
/// checked) with session id `sid`. Starts the upgrade of the session it names.
pub(super) fn target(engine: &Engine, head: &RequestHead, sid: Option<&str>) -> Result<WsTarget, EioError> {
    let Some(sid) = sid else {
        if head.method != Method::GET {
            return Err(EioError::BadHandshakeMethod);
        }
        return Ok(WsTarget::Open { accept: accept(head)? });
    };
    let session = engine.session(sid).ok_or(EioError::UnknownSid)?;
    if session.client_close() != ClientClose::No {
        // Closed by the client and only kept for the GET that gets the noop.
        return Err(EioError::UnknownSid);
    }
    let accept = accept(head)?;
    if session.begin_upgrade() {
        Ok(WsTarget::Upgrade { accept, session })
    } else {
        Ok(WsTarget::Refuse { accept, session })
    }
}

/// The `Sec-WebSocket-Accept` of a valid WebSocket handshake request.
fn accept(head: &RequestHead) -> Result<HeaderValue, EioError> {
    let is_upgrade = head.method == Method::GET
        && head
            .headers
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_upgrade {
        return Err(EioError::BadRequest);
    }
    actix_http::ws::verify_handshake(head).map_err(|_| EioError::BadRequest)?;
    let key = head.headers.get(header::SEC_WEBSOCKET_KEY).ok_or(EioError::BadRequest)?;
    HeaderValue::from_bytes(&actix_http::ws::hash_key(key.as_bytes())).map_err(|_| EioError::BadRequest)
}

/// Serves `target` on the actix-web route: a `101` whose streaming body writes the session.
pub(super) fn serve(engine: &Arc<Engine>, target: WsTarget, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let switching = |accept: HeaderValue| {
        let mut response = HttpResponse::SwitchingProtocols();
        response.upgrade("websocket").insert_header((header::SEC_WEBSOCKET_ACCEPT, accept));
        response
    };
    match target {
        WsTarget::Open { accept } => {
            let reader = WsReader::new(body, engine.config.max_payload);
            let session = engine.open_session(TransportKind::WebSocket, Handshake::of(req.head()), Some(reader));
            switching(accept).streaming(WsBody::new(session, None))
        }
        WsTarget::Upgrade { accept, session } => {
            let reader = WsReader::new(body, engine.config.max_payload);
            let link = Arc::new(ProbeLink::default());
            spawn_probe(engine, Arc::clone(&session), reader, Arc::clone(&link));
            switching(accept).streaming(WsBody::new(session, Some(link)))
        }
        WsTarget::Refuse { accept, session } => {
            let link = Arc::new(ProbeLink::default());
            link.close();
            switching(accept).streaming(WsBody::new(session, Some(link)))
        }
    }
}

/// Runs the probe of an upgrade in a task of its own, reading `reader`.
pub(super) fn spawn_probe(engine: &Engine, session: Arc<EngineSession>, reader: WsReader, link: Arc<ProbeLink>) {
    // A local task: the reader is tied to the worker thread that serves the connection.
    actix_web::rt::spawn(probe(session, reader, link, engine.config.upgrade_timeout));
}

/// The probe phase of an upgrade. Polling keeps carrying the session until `5` arrives; any
/// other packet, an error or the timeout closes this WebSocket only and polling goes on.
async fn probe(session: Arc<EngineSession>, mut reader: WsReader, link: Arc<ProbeLink>, timeout: Duration) {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            () = session.closed() => break,
            message = reader.next_message() => match message {
                Some(Ok(WsMessage::Text(text))) => match packet::decode_text(&text) {
                    Ok(ClientPacket::Ping(data)) if data == "probe" => {
                        link.send(wsframe::text_frame(packet::PROBE_PONG.as_bytes()));
                        session.upgrade_probed();
                    }
                    Ok(ClientPacket::Upgrade) if session.is_probed() => {
                        session.finish_upgrade();
                        link.attach();
                        tracing::debug!(sid = %session.sid, "upgraded to websocket");
                        return forward(session, reader).await;
                    }
                    _ => break,
                },
                Some(Ok(WsMessage::Ping(data))) => link.send(wsframe::pong_frame(&data)),
                Some(Ok(WsMessage::Pong)) => {}
                _ => break,
            }
        }
    }
    session.abort_upgrade();
    link.close();
}

/// Reads an upgraded WebSocket into the dispatcher's channel until the session closes. While
/// the channel is full the connection is not read (back-pressure on a client that floods
/// faster than its handlers run); writing goes on in the response body meanwhile.
async fn forward(session: Arc<EngineSession>, mut reader: WsReader) {
    let Some(inbound) = session.inbound().cloned() else {
        return;
    };
    loop {
        let message = tokio::select! {
            message = reader.next_message() => message,
            () = session.closed() => return,
        };
        match on_websocket_message(&session, message) {
            Step::Forward(message) => tokio::select! {
                // An error means the dispatcher is gone, which only happens once the session
                // is closed.
                sent = inbound.send(message) => if sent.is_err() { return },
                () = session.closed() => return,
            },
            Step::Continue => {}
            Step::Closed => return,
        }
    }
}
