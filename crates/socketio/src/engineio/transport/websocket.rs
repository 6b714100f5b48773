//! WebSocket transport: direct connections and upgrades from polling (`2probe` / `3probe` /
//! `5`). The handshake is answered with a [`WsBody`] that writes the session's queue; a direct
//! connection's frames are read by the session's dispatcher task itself, an upgraded one's by
//! the task that ran the probe.

use std::{sync::Arc, time::Duration};

use actix_web::{
    http::header::{self, HeaderValue},
    web, HttpRequest, HttpResponse, HttpResponseBuilder,
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
    session::{EngineSession, TransportKind},
    wsframe::{self, WsMessage, WsReader},
};

/// The `101 Switching Protocols` answer to a valid WebSocket handshake request.
fn handshake(req: &HttpRequest) -> Option<HttpResponseBuilder> {
    actix_http::ws::verify_handshake(req.head()).ok()?;
    let key = req.headers().get(header::SEC_WEBSOCKET_KEY)?;
    let accept = HeaderValue::from_bytes(&actix_http::ws::hash_key(key.as_bytes())).ok()?;
    let mut response = HttpResponse::SwitchingProtocols();
    response.upgrade("websocket").insert_header((header::SEC_WEBSOCKET_ACCEPT, accept));
    Some(response)
}

/// A WebSocket without prior polling: a new session whose open packet is the first frame.
pub(super) fn open(engine: &Arc<Engine>, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let Some(mut response) = handshake(req) else {
        return EioError::BadRequest.response();
    };
    let reader = WsReader::new(body, engine.config.max_payload);
    let session = engine.open_session(TransportKind::WebSocket, Handshake::of(req.head()), Some(reader));
    response.streaming(WsBody::new(session, None))
}

/// A WebSocket for an existing polling session: probe, then take over the session.
pub(super) fn upgrade(
    engine: &Engine,
    session: Arc<EngineSession>,
    req: &HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    let Some(mut response) = handshake(req) else {
        return EioError::BadRequest.response();
    };
    if !session.begin_upgrade() {
        // Already upgraded, upgrading, or a WebSocket session from the start: like the reference
        // server, accept the connection and close it at once (a refused handshake would be
        // reported as an error by clients). The session is left alone.
        let link = Arc::new(ProbeLink::default());
        link.close();
        return response.streaming(WsBody::new(session, Some(link)));
    }
    let reader = WsReader::new(body, engine.config.max_payload);
    let link = Arc::new(ProbeLink::default());
    actix_web::rt::spawn(probe(Arc::clone(&session), reader, Arc::clone(&link), engine.config.upgrade_timeout));
    response.streaming(WsBody::new(session, Some(link)))
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
