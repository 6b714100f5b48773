//! Group commit: one thread owns the write connection and commits writes in batches.
//!
//! Callers send requests over a channel and wait on a oneshot. The writer thread takes every
//! request waiting (up to [`MAX_BATCH`]), runs them inside one `BEGIN IMMEDIATE` transaction,
//! each inside its own `SAVEPOINT` (a request that fails is rolled back to its savepoint and
//! answered with its error; the others go on), commits once, and only then answers every
//! request: an `Ok` still means the write is on disk, but one fsync covers the whole batch.
//! A request arriving while a batch commits waits for the next one.
//!
//! Each request sees the writes of the requests before it in its batch (they share the
//! transaction), so read-then-write rules (clientId dedup, seq allocation, the UNIQUE
//! constraints) hold within a batch exactly as between batches.
//!
//! The transaction and savepoint statements are prepared once and reused from the
//! connection's statement cache ([`exec`]): `execute_batch` would parse the SQL text again for
//! every request, which showed up as a good part of the writer thread's time.

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};

use chat_domain::error::StoreError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::{DbError, DbResult};
use crate::versions::{Scope, Versions};

/// The most requests one transaction takes; more wait for the next batch.
pub(crate) const MAX_BATCH: usize = 256;

/// One write, run inside the batch transaction.
trait Write: Send {
    /// Runs the request on `conn` (inside its savepoint); false when it failed, so that its
    /// savepoint is rolled back. A panic is caught and becomes the request's error.
    fn run(&mut self, conn: &Connection) -> bool;

    /// Answers the caller: its own result when the batch committed (or when the request
    /// itself failed), else the error that ended the batch.
    fn answer(self: Box<Self>, batch: Result<(), &DbError>);

    /// What the request may change, for the cached reads it makes stale.
    fn scope(&self) -> Scope;
}

struct Pending<T, F> {
    op: Option<F>,
    scope: Scope,
    result: Option<DbResult<T>>,
    reply: oneshot::Sender<DbResult<T>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> DbResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(op) = self.op.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| op(conn))).unwrap_or_else(|panic| Err(panicked(&*panic)));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self: Box<Self>, batch: Result<(), &DbError>) {
        let result = match (self.result, batch) {
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Ok(_)) | None, Err(batch)) => Err(batch.duplicate()),
            (None, Ok(())) => Err(DbError::refused("the sqlite writer never ran the request")),
        };
        // The caller may have gone away (its future dropped); the write stands all the same.
        let _ = self.reply.send(result);
    }

    fn scope(&self) -> Scope {
        self.scope
    }
}

/// What the writer thread is asked to do.
enum Request {
    /// A write, batched with the others waiting.
    Write(Box<dyn Write>),
    /// Work on the bare connection, outside any transaction, between batches: the WAL
    /// checkpoint, and every read of an in-memory database (which has no other connection).
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// The handle on the writer thread. Dropping it lets the thread finish the requests already
/// queued, close the connection and end; the drop waits for that.
pub(crate) struct Writer {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
    commits: Arc<AtomicU64>,
    versions: Arc<Versions>,
    /// Requests sent and not yet taken by the thread (tests wait on it instead of sleeping).
    queued: Arc<AtomicUsize>,
}

impl Writer {
    /// Starts the writer thread, which owns `conn` from now on.
    pub(crate) fn start(conn: Connection) -> DbResult<Self> {
        let (requests, queue) = mpsc::channel();
        let commits = Arc::new(AtomicU64::new(0));
        let versions = Arc::new(Versions::new());
        let queued = Arc::new(AtomicUsize::new(0));
        let (counter, waiting) = (Arc::clone(&commits), Arc::clone(&queued));
        let bumps = Arc::clone(&versions);
        let thread = thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, &queue, &Commits { count: &counter, versions: &bumps }, &waiting))
            .map_err(|e| DbError::refused(format!("cannot start the sqlite writer thread: {e}")))?;
        Ok(Self { requests: Some(requests), thread: Some(thread), commits, versions, queued })
    }

    /// Runs `op` inside the next batch transaction, in its own savepoint, and returns its
    /// result once the batch has committed (so `Ok` means durable) and the versions of
    /// `scope` have moved (so no cached read from before it is served again).
    pub(crate) async fn write<T, F>(&self, scope: Scope, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Write(Box::new(Pending { op: Some(op), scope, result: None, reply })))?;
        finish(answer.await)
    }

    /// Runs `op` on the bare connection between batches, outside any transaction.
    pub(crate) async fn alone<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Alone(Box::new(move |conn: &mut Connection| {
            let result = catch_unwind(AssertUnwindSafe(|| op(conn))).unwrap_or_else(|panic| Err(panicked(&*panic)));
            let _ = reply.send(result);
        })))?;
        finish(answer.await)
    }

    /// [`Self::alone`] for code that is not async (tests); blocks the calling thread.
    #[cfg(test)]
    pub(crate) fn alone_blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Alone(Box::new(move |conn: &mut Connection| {
            let _ = reply.send(op(conn));
        })))?;
        finish(answer.blocking_recv())
    }

    /// The counters this writer moves as it commits.
    pub(crate) fn versions(&self) -> &Versions {
        &self.versions
    }

    /// How many batch transactions have committed.
    pub(crate) fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// How many requests are waiting for the thread to take them.
    #[cfg(test)]
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        let stopped = || StoreError::other(DbError::refused("the sqlite writer has stopped"));
        let requests = self.requests.as_ref().ok_or_else(stopped)?;
        self.queued.fetch_add(1, Ordering::AcqRel);
        requests.send(request).map_err(|_| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            stopped()
        })
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has served what is queued.
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            // Never join from the writer thread itself (a request holding the last handle).
            if thread.thread().id() != thread::current().id() && thread.join().is_err() {
                tracing::error!("the sqlite writer thread panicked");
            }
        }
    }
}

fn finish<T>(answer: Result<DbResult<T>, oneshot::error::RecvError>) -> Result<T, StoreError> {
    match answer {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::other(DbError::refused("the sqlite writer dropped the request"))),
    }
}

pub(crate) fn panicked(panic: &(dyn Any + Send)) -> DbError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".to_owned());
    DbError::refused(format!("the sqlite request panicked: {message}"))
}

/// What the writer thread moves as transactions end.
struct Commits<'a> {
    count: &'a AtomicU64,
    versions: &'a Versions,
}

/// The writer thread: serves requests until every sender is gone and the queue is empty.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Request>, commits: &Commits<'_>, queued: &AtomicUsize) {
    let taken = |request: Request| {
        queued.fetch_sub(1, Ordering::AcqRel);
        request
    };
    let mut next = None;
    loop {
        let request = match next.take() {
            Some(request) => request,
            None => match queue.recv() {
                Ok(request) => taken(request),
                Err(mpsc::RecvError) => break,
            },
        };
        let served = match request {
            Request::Alone(op) => catch_unwind(AssertUnwindSafe(|| op(&mut conn))),
            Request::Write(first) => {
                let mut batch = VecDeque::from([first]);
                while batch.len() < MAX_BATCH {
                    match queue.try_recv().map(taken) {
                        Ok(Request::Write(write)) => batch.push_back(write),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                catch_unwind(AssertUnwindSafe(|| run_batch(&conn, batch, commits)))
            }
        };
        if served.is_err() {
            // Requests are caught one by one, so this is a bug of the batching itself; the
            // requests it held were dropped (their callers get an error). Start clean.
            tracing::error!("the sqlite writer recovered from a panic");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
}

/// Runs `batch` in as few transactions as possible (one, unless SQLite itself rolls the
/// transaction back mid-batch) and answers every request after its transaction ended.
fn run_batch(conn: &Connection, mut batch: VecDeque<Box<dyn Write>>, commits: &Commits<'_>) {
    while !batch.is_empty() {
        // IMMEDIATE takes the write lock before the first read, so no read-then-write of the
        // batch can go stale.
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
            for write in batch.drain(..) {
                write.answer(Err(&e));
            }
            return;
        }
        let mut ran = Vec::with_capacity(batch.len());
        let mut lost = None;
        while let Some(mut write) = batch.pop_front() {
            let outcome = in_savepoint(conn, &mut *write);
            ran.push(write);
            if let Err(e) = outcome {
                lost = Some(e);
                break;
            }
        }
        let ended = match lost {
            Some(e) => Err(e),
            None => exec(conn, "COMMIT"),
        };
        match &ended {
            Ok(()) => {
                commits.count.fetch_add(1, Ordering::Relaxed);
                metrics::histogram!("chat_sqlite_write_batch_size").record(ran.len() as f64);
            }
            Err(e) => {
                tracing::warn!(error = %e, requests = ran.len(), "an sqlite write batch was rolled back");
                if !conn.is_autocommit() {
                    let _ = exec(conn, "ROLLBACK");
                }
            }
        }
        let ended = ended.as_ref().map(|_| ());
        // Every cached read the batch may have made stale is stale before any caller hears
        // of the write (a rolled-back batch changed nothing, but costs only a re-read).
        for write in &ran {
            commits.versions.bump(write.scope());
        }
        for write in ran {
            write.answer(ended);
        }
    }
}

/// Runs one request inside its own savepoint, keeping its writes if it succeeded and undoing
/// them if it failed. An error here means the batch transaction cannot go on.
fn in_savepoint(conn: &Connection, write: &mut dyn Write) -> DbResult<()> {
    exec(conn, "SAVEPOINT request")?;
    let ok = write.run(conn);
    if conn.is_autocommit() {
        // Some errors (a full disk, an I/O error) make SQLite roll back the whole transaction.
        return Err(DbError::refused("sqlite rolled back the write batch"));
    }
    if ok {
        exec(conn, "RELEASE request")?;
    } else {
        exec(conn, "ROLLBACK TO request")?;
        exec(conn, "RELEASE request")?;
    }
    Ok(())
}

/// Runs one statement that returns no rows, prepared once per connection and then taken from
/// its statement cache.
fn exec(conn: &Connection, sql: &'static str) -> DbResult<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}
