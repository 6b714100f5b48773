//! WebSocket connections taken off actix-web's HTTP dispatcher. Served through
//! [`HttpServer`](crate::HttpServer), actix-http hands every request that asks for a protocol
//! upgrade to [`takeover`] together with its TCP stream, and from then on the connection has no
//! HTTP machinery left on it: the dispatcher's 8 KiB read and 8 KiB write buffers are freed
//! with it. Reading goes through a buffer on the stack into the frame decoder, and writing hands
//! the queued frames to the kernel straight from their shared buffers (one vectored write per
//! batch, a plain `send` for a lone frame), so an idle connection holds no I/O buffer at all.
//!
//! The handshake is checked exactly as on the actix-web route (same errors, same bodies), the
//! session and its probe logic are the same; only the bytes move differently.

use std::{
    collections::VecDeque,
    future::Future,
    io::{self, IoSlice},
    pin::Pin,
    rc::Rc,
    sync::Arc,
    task::{ready, Context, Poll},
    time::{Duration, Instant},
};

use actix_codec::Framed;
use actix_http::{h1::Codec, Request, RequestHead};
use actix_service::{fn_service, ServiceFactory};
use actix_web::http::header::{self, HeaderValue};
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{FutureExt as _, Stream};
use tokio::{io::AsyncWriteExt, net::TcpStream};

use super::{
    classify,
    request::EioError,
    websocket::{self, WsTarget},
    ws_body::{ProbeLink, WsBody, FINAL_FLUSH_TIMEOUT},
};
use crate::engineio::{
    engine::Engine,
    handshake::Handshake,
    reason::DisconnectReason,
    session::{EngineSession, TransportKind},
    wsframe::WsReader,
};

/// How long a closing connection reads and discards what the client still sends, waiting for
/// its end of the connection, before it closes the socket (as actix-http's
/// `client_disconnect_timeout`): closing with unread bytes would reset the connection and could
/// destroy the close frame on its way.
const LINGER: Duration = Duration::from_secs(1);

/// Most frames handed to one vectored write.
const MAX_SLICES: usize = 64;

/// Vectored writes in a row before the writer yields to other tasks of its thread.
const WRITE_ROUNDS: u8 = 16;

/// An Engine.IO endpoint served on WebSocket connections taken over: its path (without the
/// trailing slash, which is accepted too) and its engine.
#[derive(Clone)]
pub(crate) struct Mount {
    pub(crate) path: &'static str,
    /// The path with its trailing slash, as the app's route names it.
    pub(crate) route: &'static str,
    pub(crate) engine: Arc<Engine>,
}

/// A WebSocket handshake answered by a connection taken over, for the application's request
/// log and metrics (its middleware never sees these requests).
#[derive(Debug)]
pub struct UpgradeRequest<'a> {
    /// The request method (a WebSocket handshake is a `GET`).
    pub method: &'a actix_web::http::Method,
    /// The request path, without the query string (which may carry a token).
    pub path: &'a str,
    /// The Engine.IO endpoint it was for, as mounted on the app (`/socket.io/`), if any.
    pub route: Option<&'static str>,
    /// The status it was answered with: 101, an Engine.IO error's 400 or 403, or 404.
    pub status: u16,
    /// How long the answer took to decide.
    pub elapsed: Duration,
}

/// Told of every upgrade request answered.
pub(crate) type Observer = Arc<dyn Fn(&UpgradeRequest<'_>) + Send + Sync>;

/// What the upgrade service serves.
pub(crate) struct Takeover {
    pub(crate) mounts: Vec<Mount>,
    pub(crate) observer: Option<Observer>,
}

/// The actix-http upgrade service: serves every upgrade request for one of the mounts and
/// refuses any other with 404.
pub(crate) fn takeover(
    takeover: Arc<Takeover>,
) -> impl ServiceFactory<
    (Request, Framed<TcpStream, Codec>),
    Config = (),
    Response = (),
    Error = actix_http::Error,
    InitError = (),
> + Clone {
    fn_service(move |(req, framed): (Request, Framed<TcpStream, Codec>)| {
        let started = Instant::now();
        let (connection, route, status) = accept(&takeover.mounts, &req, framed);
        if let Some(observer) = &takeover.observer {
            let head = req.head();
            let path = head.uri.path();
            observer(&UpgradeRequest { method: &head.method, path, route, status, elapsed: started.elapsed() });
        }
        drop(req);
        connection.run().map(Ok::<_, actix_http::Error>)
    })
}

/// What to do with a connection once its request is read, with the route and status to log:
/// everything that needs the request happens here, so none of it is kept in the connection's
/// future.
fn accept(
    mounts: &[Mount],
    req: &Request,
    framed: Framed<TcpStream, Codec>,
) -> (Connection, Option<&'static str>, u16) {
    let parts = framed.into_parts();
    let stream = Rc::new(parts.io);
    // Bytes the client sent right after its request (its first frames) go to the decoder, and
    // a response to an earlier request on the connection that is not written yet goes first;
    // the dispatcher's buffers are dropped with them.
    let leftover = parts.read_buf;
    let unwritten = parts.write_buf.freeze();
    let head = req.head();
    let path = head.uri.path();
    let Some(mount) = mounts.iter().find(|m| path.strip_suffix('/').unwrap_or(path) == m.path) else {
        return (Connection::refuse(stream, unwritten, not_found()), None, 404);
    };
    let route = Some(mount.route);
    let engine = &mount.engine;
    let cors = cors_headers(engine, head);
    let target = classify(engine, head).and_then(|(query, transport)| match transport {
        // Long-polling is served by the app; an upgrade request cannot be a poll.
        TransportKind::Polling => Err(EioError::BadRequest),
        TransportKind::WebSocket => websocket::target(engine, head, query.sid.as_deref()),
    });
    let (session, probe) = match target {
        Err(err) => {
            return (Connection::refuse(stream, unwritten, error_response(err, &cors)), route, err.status().as_u16())
        }
        Ok(WsTarget::Open { accept }) => {
            let reader = reader(&stream, &leftover, engine);
            let session = engine.open_session(TransportKind::WebSocket, Handshake::of(head), Some(reader));
            return (
                Connection::serve(stream, unwritten, switching(&accept, &cors), WsBody::new(session, None)),
                route,
                101,
            );
        }
        Ok(WsTarget::Upgrade { accept, session }) => {
            let link = Arc::new(ProbeLink::default());
            let reader = reader(&stream, &leftover, engine);
            websocket::spawn_probe(engine, Arc::clone(&session), reader, Arc::clone(&link));
            (session, (accept, link))
        }
        Ok(WsTarget::Refuse { accept, session }) => {
            let link = Arc::new(ProbeLink::default());
            link.close();
            (session, (accept, link))
        }
    };
    let (accept, link) = probe;
    (Connection::serve(stream, unwritten, switching(&accept, &cors), WsBody::new(session, Some(link))), route, 101)
}

fn reader(stream: &Rc<TcpStream>, leftover: &BytesMut, engine: &Engine) -> WsReader {
    WsReader::from_socket(Rc::downgrade(stream), leftover, engine.config.max_payload)
}

/// The CORS headers the actix-web route adds for `cors_any_origin` (`\r\n`-terminated lines).
fn cors_headers(engine: &Engine, head: &RequestHead) -> String {
    let origin = head.headers.get(header::ORIGIN).filter(|_| engine.config.cors_any_origin);
    let Some(origin) = origin.and_then(|o| o.to_str().ok()) else {
        return String::new();
    };
    format!("access-control-allow-origin: {origin}\r\naccess-control-allow-credentials: true\r\nvary: Origin\r\n")
}

/// The `101 Switching Protocols` answer.
fn switching(accept: &HeaderValue, cors: &str) -> Bytes {
    let accept = accept.to_str().unwrap_or_default();
    Bytes::from(format!(
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n{cors}\r\n"
    ))
}

/// An Engine.IO request error, with the body the actix-web route answers it with.
fn error_response(err: EioError, cors: &str) -> Bytes {
    let (status, body) = (err.status(), err.body());
    let reason = status.canonical_reason().unwrap_or_default();
    Bytes::from(format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{cors}\r\n{body}",
        status.as_u16(),
        body.len()
    ))
}

/// An upgrade request for a path that serves no WebSocket.
fn not_found() -> Bytes {
    Bytes::from_static(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
}

/// A connection taken over: what it still has to write, then how it ends.
struct Connection {
    writer: Writer,
    /// The session this connection carries or probes; its close starts the final flush's
    /// deadline.
    session: Option<Arc<EngineSession>>,
}

impl Connection {
    fn refuse(stream: Rc<TcpStream>, unwritten: Bytes, response: Bytes) -> Self {
        Self { writer: Writer::new(stream, None, unwritten, response), session: None }
    }

    fn serve(stream: Rc<TcpStream>, unwritten: Bytes, response: Bytes, body: WsBody) -> Self {
        let session = Some(Arc::clone(body.session()));
        Self { writer: Writer::new(stream, Some(body), unwritten, response), session }
    }

    // Not an `async fn`, which would keep `self` twice in the connection's task (the argument,
    // then what it is moved to) for the connection's whole life.
    #[allow(clippy::manual_async_fn)]
    fn run(self) -> impl Future<Output = ()> {
        let Self { mut writer, session } = self;
        async move {
            // The session's close starts the final flush's deadline. Its future is polled once to
            // register this task with the session's token, and after that only once the session
            // says it is closed: polling it on every write would take the token's lock per delivery
            // (2% of a fan-out's CPU). The timer exists only after the close.
            let mut closed = std::pin::pin!(async {
                match &session {
                    Some(session) => session.closed().await,
                    None => std::future::pending().await,
                }
            });
            let mut registered = false;
            let mut flush_by: Option<Pin<Box<tokio::time::Sleep>>> = None;
            let written = std::future::poll_fn(|cx| {
                if let Poll::Ready(written) = writer.poll_write(cx) {
                    return Poll::Ready(written);
                }
                if flush_by.is_none() && (!registered || session.as_ref().is_some_and(|s| s.is_closed())) {
                    registered = true;
                    if closed.as_mut().poll(cx).is_ready() {
                        flush_by = Some(Box::pin(tokio::time::sleep(FINAL_FLUSH_TIMEOUT)));
                    }
                }
                match flush_by.as_mut().map(|sleep| sleep.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "final flush timed out")))
                    }
                    _ => Poll::Pending,
                }
            })
            .await;
            if let Err(err) = written {
                tracing::debug!(error = %err, "websocket write failed");
                // Only a WebSocket that carries its session takes it down; a failed probe leaves
                // the polling session alone.
                if let Some(body) = writer.body.as_ref().filter(|b| b.carries_session()) {
                    body.session().close(DisconnectReason::TransportError);
                }
                return;
            }
            // Every reader holds a weak reference only, and none is being polled now: the stream is
            // this future's alone.
            let Ok(stream) = Rc::try_unwrap(writer.stream) else {
                return;
            };
            // Boxed: only a closing connection needs its timer.
            Box::pin(linger(stream)).await;
        }
    }
}

/// Ends the connection politely: no more writing, then whatever the client still sends is read
/// and dropped until it closes its end, for at most [`LINGER`].
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    // Read into a buffer on the stack: one kept in this future would be part of every
    // connection's task for the connection's whole life.
    let drain = std::future::poll_fn(|cx| loop {
        if ready!(stream.poll_read_ready(cx)).is_err() {
            return Poll::Ready(());
        }
        let mut sink = [0_u8; 1024];
        match stream.try_read(&mut sink) {
            Ok(0) => return Poll::Ready(()),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Poll::Ready(()),
        }
    });
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The outbound side: what the response body yields (the session's frames, then the close
/// frame), written with vectored writes straight from the frames' buffers.
struct Writer {
    stream: Rc<TcpStream>,
    /// `None` once the body ended (or for a refusal, which writes `pending` only).
    body: Option<WsBody>,
    /// Frames taken from the body and not yet written; released when empty.
    pending: VecDeque<Bytes>,
}

impl Writer {
    fn new(stream: Rc<TcpStream>, body: Option<WsBody>, unwritten: Bytes, response: Bytes) -> Self {
        let pending = [unwritten, response].into_iter().filter(|b| !b.is_empty()).collect();
        Self { stream, body, pending }
    }

    /// Ready once everything was written and the body ended, or on an error.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        for _ in 0..WRITE_ROUNDS {
            while self.pending.len() < MAX_SLICES {
                let Some(body) = self.body.as_mut() else { break };
                match Pin::new(body).poll_next(cx) {
                    Poll::Ready(Some(Ok(bytes))) if bytes.is_empty() => {}
                    Poll::Ready(Some(Ok(bytes))) => self.pending.push_back(bytes),
                    Poll::Ready(Some(Err(err))) => return Poll::Ready(Err(err)),
                    Poll::Ready(None) => self.body = None,
                    Poll::Pending => break,
                }
            }
            if self.pending.is_empty() {
                if self.body.is_none() {
                    return Poll::Ready(Ok(()));
                }
                // An idle connection keeps no queue allocation.
                self.pending = VecDeque::new();
                return Poll::Pending;
            }
            ready!(self.stream.poll_write_ready(cx))?;
            match self.try_write() {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(written) => self.advance(written),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
        // A long burst: let the thread's other connections run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// One system call for everything pending (up to [`MAX_SLICES`] frames): a lone frame,
    /// the common case below saturation, goes out with `send`, which skips the VFS layer that
    /// `writev` crosses (about 2.5% of a fan-out's CPU in the profile).
    fn try_write(&self) -> io::Result<usize> {
        if let (1, Some(frame)) = (self.pending.len(), self.pending.front()) {
            return self.stream.try_write(frame);
        }
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let count =
            self.pending.iter().zip(slices.iter_mut()).map(|(bytes, slice)| *slice = IoSlice::new(bytes)).count();
        self.stream.try_write_vectored(&slices[..count])
    }

    /// Drops `written` bytes from the front of `pending`.
    fn advance(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.pending.front_mut() else { return };
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.pending.pop_front();
        }
    }
}
