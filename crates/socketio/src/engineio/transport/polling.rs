//! HTTP long-polling: the handshake GET, the long-polling GET that waits for something to send,
//! and the POST that carries the client's packets.

use std::sync::Arc;

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::request::EioError;
use crate::engineio::{
    engine::Engine,
    handshake::Handshake,
    packet,
    reason::DisconnectReason,
    session::{ClientClose, EngineSession, PollRefusal, TransportKind},
};

fn text(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=UTF-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The first polling GET: a new session, answered with its open packet.
pub(super) fn handshake(engine: &Arc<Engine>, req: &HttpRequest) -> HttpResponse {
    let session = engine.open_session(TransportKind::Polling, Handshake::of(req.head()), None);
    text(packet::encode_payload(&session.take_outbound(), false))
}

/// A long-polling GET: waits until something is queued, then answers with all of it.
pub(super) async fn poll(session: Arc<EngineSession>) -> HttpResponse {
    if session.client_close() == ClientClose::NoopSent {
        // The client closed the session and its GET got the noop: the session is gone.
        return EioError::UnknownSid.response();
    }
    let _guard = match session.begin_poll() {
        Ok(guard) => guard,
        Err(PollRefusal::WrongTransport | PollRefusal::Overlap) => return EioError::BadRequest.response(),
    };
    loop {
        let changed = session.outbound_changed();
        tokio::pin!(changed);
        changed.as_mut().enable();

        let Some(items) = session.take_for_poll() else {
            // Upgraded to WebSocket while this poll was waiting.
            return text(Bytes::from_static(packet::NOOP.as_bytes()));
        };
        let closed = session.is_closed();
        if closed && session.take_close_noop() {
            // The client's close packet: the reference server ends the pending poll with a noop
            // (what was still queued is of no use to a client that is leaving).
            return text(Bytes::from_static(packet::NOOP.as_bytes()));
        }
        if !items.is_empty() || closed {
            return text(packet::encode_payload(&items, closed));
        }
        if session.is_probed() {
            // Let the client finish its pending poll so it can pause polling and upgrade.
            return text(Bytes::from_static(packet::NOOP.as_bytes()));
        }
        changed.await;
    }
}

/// A polling POST: one or more packets from the client, at most `max_payload` bytes.
pub(super) async fn post(max_payload: usize, session: Arc<EngineSession>, body: web::Payload) -> HttpResponse {
    let _guard = match session.begin_post() {
        Ok(guard) => guard,
        Err(PollRefusal::WrongTransport | PollRefusal::Overlap) => return EioError::BadRequest.response(),
    };
    let body = match body.to_bytes_limited(max_payload).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            session.close(DisconnectReason::TransportError);
            return EioError::BadRequest.response();
        }
        Err(_) => {
            session.close(DisconnectReason::PayloadTooLarge);
            return HttpResponse::PayloadTooLarge().finish();
        }
    };
    match packet::decode_payload(&body) {
        Ok(packets) => {
            for packet in packets {
                if session.is_closed() {
                    break;
                }
                session.on_packet(packet).await;
            }
        }
        Err(err) => {
            tracing::debug!(sid = %session.sid, error = %err, "invalid polling payload");
            session.close(DisconnectReason::ParseError);
        }
    }
    // The reference server answers "ok" even when the payload closed the session.
    HttpResponse::Ok().content_type("text/html").body("ok")
}
