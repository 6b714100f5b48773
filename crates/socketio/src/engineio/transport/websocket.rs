//! WebSocket transport: direct connections and upgrades from polling (`2probe` / `3probe` /
//! `5`), one task per connection that reads client frames and drains the outbound queue.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, Message, ProtocolError};
use futures_util::SinkExt as _;

use super::request::EioError;
use crate::engineio::{
    engine::Engine,
    handshake::Handshake,
    packet::{self, ClientPacket},
    queue::Item,
    reason::DisconnectReason,
    session::{EngineSession, Inbound, TransportKind},
};

/// How long the last frames of a closed session (a DISCONNECT, a CONNECT_ERROR) may take to
/// reach a client before the connection is dropped anyway.
const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A WebSocket without prior polling: a new session whose open packet is the first frame.
pub(super) fn open(engine: &Arc<Engine>, req: &HttpRequest, body: web::Payload) -> HttpResponse {
    let Ok((response, ws, stream)) = actix_ws::handle(req, body) else {
        return EioError::BadRequest.response();
    };
    let stream = limit(stream, engine.config.max_payload);
    let session = engine.open_session(TransportKind::WebSocket, Handshake::of(req));
    actix_web::rt::spawn(run(session, ws, stream));
    response
}

/// A WebSocket for an existing polling session: probe, then take over the session.
pub(super) fn upgrade(
    engine: &Engine,
    session: Arc<EngineSession>,
    req: &HttpRequest,
    body: web::Payload,
) -> HttpResponse {
    if !session.begin_upgrade() {
        return EioError::BadRequest.response();
    }
    let Ok((response, ws, stream)) = actix_ws::handle(req, body) else {
        session.abort_upgrade();
        return EioError::BadRequest.response();
    };
    let stream = limit(stream, engine.config.max_payload);
    actix_web::rt::spawn(probe(session, ws, stream, engine.config.upgrade_timeout));
    response
}

/// Bounds what one client message may make us buffer, frames and continuations alike.
fn limit(stream: actix_ws::MessageStream, max_payload: usize) -> AggregatedMessageStream {
    stream.max_frame_size(max_payload).aggregate_continuations().max_continuation_size(max_payload)
}

/// The probe phase of an upgrade. Polling keeps carrying the session until `5` arrives; any
/// other packet, an error or the timeout closes this WebSocket only and polling goes on.
async fn probe(
    session: Arc<EngineSession>,
    mut ws: actix_ws::Session,
    mut stream: AggregatedMessageStream,
    timeout: Duration,
) {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => break,
            () = session.closed() => break,
            message = stream.recv() => match message {
                Some(Ok(AggregatedMessage::Text(text))) => match packet::decode_text(&text) {
                    Ok(ClientPacket::Ping(data)) if data == "probe" => {
                        if ws.text(packet::PROBE_PONG).await.is_err() {
                            break;
                        }
                        session.upgrade_probed();
                    }
                    Ok(ClientPacket::Upgrade) if session.is_probed() => {
                        session.finish_upgrade();
                        tracing::debug!(sid = %session.sid, "upgraded to websocket");
                        return run(session, ws, stream).await;
                    }
                    _ => break,
                },
                Some(Ok(AggregatedMessage::Ping(data))) => {
                    if ws.pong(&data).await.is_err() {
                        break;
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {}
                _ => break,
            }
        }
    }
    session.abort_upgrade();
    let _ = ws.close(None).await;
}

/// The WebSocket carries the session: reads client frames, writes whatever is queued.
///
/// A message for the dispatcher waits in `pending` while the dispatcher's channel is full; the
/// connection stops reading meanwhile (back-pressure on a client that floods faster than its
/// handlers run) but keeps writing.
async fn run(session: Arc<EngineSession>, mut ws: actix_ws::Session, mut stream: AggregatedMessageStream) {
    let mut pending: Option<Inbound> = None;
    loop {
        let changed = session.outbound_changed();
        tokio::pin!(changed);
        changed.as_mut().enable();

        let items = session.take_outbound();
        if !items.is_empty() && !flush(&session, &mut ws, items).await {
            session.close(DisconnectReason::TransportError);
            break;
        }
        if session.is_closed() {
            break;
        }

        tokio::select! {
            biased;
            () = session.closed() => {}
            () = &mut changed => {}
            permit = session.inbound().reserve(), if pending.is_some() => {
                // An error means the dispatcher is gone, which only happens once the session
                // is closed: the message is dropped with it.
                if let (Ok(permit), Some(message)) = (permit, pending.take()) {
                    permit.send(message);
                }
            }
            message = stream.recv(), if pending.is_none() => match message {
                Some(Ok(AggregatedMessage::Text(text))) => match packet::decode_text(&text) {
                    Ok(packet) => pending = session.on_packet_now(packet),
                    Err(err) => {
                        tracing::debug!(sid = %session.sid, error = %err, "invalid engine.io packet");
                        session.close(DisconnectReason::ParseError);
                    }
                },
                Some(Ok(AggregatedMessage::Binary(data))) => {
                    pending = session.on_packet_now(ClientPacket::Binary(data));
                }
                Some(Ok(AggregatedMessage::Ping(data))) => {
                    let _ = ws.pong(&data).await;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {}
                Some(Ok(AggregatedMessage::Close(_))) | None => {
                    session.close(DisconnectReason::TransportClose);
                }
                Some(Err(ProtocolError::Overflow)) => {
                    session.close(DisconnectReason::PayloadTooLarge);
                }
                Some(Err(err)) => {
                    tracing::debug!(sid = %session.sid, error = %err, "websocket protocol error");
                    session.close(DisconnectReason::TransportError);
                }
            }
        }
    }
    let _ = ws.close(None).await;
}

/// Writes a batch. While the session is open a stalled client is abandoned as soon as the
/// session closes (for example as a slow consumer); the final flush after closing is bounded.
async fn flush(session: &EngineSession, ws: &mut actix_ws::Session, items: VecDeque<Item>) -> bool {
    if session.is_closed() {
        return tokio::time::timeout(FINAL_FLUSH_TIMEOUT, write(ws, items)).await.is_ok_and(|r| r.is_ok());
    }
    tokio::select! {
        result = write(ws, items) => result.is_ok(),
        () = session.closed() => false,
    }
}

/// Feeds every frame into the connection's sink and flushes once at the end.
async fn write(ws: &mut actix_ws::Session, items: VecDeque<Item>) -> Result<(), actix_ws::Closed> {
    for item in items {
        match item {
            Item::Control(text) => ws.feed(Message::Text(text)).await?,
            Item::Frame(frame) => {
                ws.feed(Message::Text(frame.text.clone())).await?;
                for attachment in frame.attachments() {
                    ws.feed(Message::Binary(attachment.clone())).await?;
                }
            }
        }
    }
    ws.flush().await
}
