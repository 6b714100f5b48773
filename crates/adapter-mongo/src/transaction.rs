//! Bounded retries of multi-document transactions, as the MongoDB transactions spec asks:
//! the whole transaction again on `TransientTransactionError` (a write conflict, a lost
//! connection, a primary stepping down), the commit again on `UnknownTransactionCommitResult`.
//!
//! Each operation writes its own loop around [`Retry`]: begin a transaction in a new session,
//! run one attempt, hand the session and the attempt's result to [`Retry::finish`], which
//! commits or aborts and says whether to go round again. Keeping the attempt an ordinary
//! `async fn` of the caller (rather than a closure passed in) keeps every future `Send` without
//! boxing.
//!
//! While the server is unreachable nothing here waits twice: an attempt that lost its
//! connection is not aborted by hand (the driver aborts it in the background when the session
//! is dropped), a commit that lost its connection is retried only by the driver itself, and no
//! new attempt starts after a failed server selection. A call thus fails with `Unavailable`
//! after about one server selection timeout.

use std::time::{Duration, Instant};

use chat_domain::error::StoreError;
use mongodb::error::{Error, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::ClientSession;
use rand::Rng;

use crate::error::{is_server_selection, is_transport, store_error};

/// Most attempts of one transaction. Writers contending for one chat conflict and retry;
/// with jittered backoff, dozens of concurrent appends to one chat settle well within this.
const MAX_ATTEMPTS: u32 = 60;
/// Most commit retries after an unknown commit result.
const MAX_COMMIT_ATTEMPTS: u32 = 3;
/// No new attempt starts after this much time; the caller gets `Unavailable` instead.
const TIME_BUDGET: Duration = Duration::from_secs(15);

/// What one attempt decided, before the transaction ends.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// Commit what the attempt wrote, then return `T`.
    Commit(T),
    /// Write nothing (abort), then return `T`.
    Abort(T),
}

/// How a transaction ended, as the caller needs to know it.
#[derive(Debug)]
pub(crate) enum Ended<T> {
    Done(T),
    /// Start the transaction again and run a new attempt.
    Retry,
    /// The attempt or its commit failed with a driver error that is not worth a retry (or
    /// retries are spent); nothing of the transaction was committed, unless the commit's
    /// outcome was unknown. The caller may recognise it (a duplicate key) before
    /// classifying it.
    Failed(Error),
}

pub(crate) struct Retry {
    attempts: u32,
    started: Instant,
}

impl Retry {
    pub(crate) fn new() -> Self {
        Self { attempts: 0, started: Instant::now() }
    }

    /// Commits or aborts the transaction that `outcome` ran in, ending the session.
    pub(crate) async fn finish<T>(
        &mut self,
        mut session: ClientSession,
        outcome: Result<Attempt<T>, Error>,
    ) -> Ended<T> {
        self.attempts += 1;
        match outcome {
            Ok(Attempt::Abort(value)) => {
                abort(&mut session).await;
                Ended::Done(value)
            }
            Ok(Attempt::Commit(value)) => match self.commit(&mut session).await {
                Ok(()) => Ended::Done(value),
                Err(err) => self.after_failure(err).await,
            },
            Err(err) => {
                // The server aborts a transaction by itself when one of its operations fails;
                // the explicit abort tells the driver. Without a connection, asking would only
                // wait out the selection timeout: dropping the session below leaves the abort
                // to the driver, in the background.
                if !is_transport(&err) {
                    abort(&mut session).await;
                }
                drop(session);
                self.after_failure(err).await
            }
        }
    }

    async fn commit(&mut self, session: &mut ClientSession) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            tries += 1;
            match session.commit_transaction().await {
                Ok(()) => return Ok(()),
                // The commit may or may not have happened; committing again is idempotent on
                // the server. A lost connection was already retried once by the driver; asking
                // again would only wait out another selection timeout.
                Err(err)
                    if err.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
                        && !is_transport(&err)
                        && tries < MAX_COMMIT_ATTEMPTS
                        && self.started.elapsed() < TIME_BUDGET =>
                {
                    tracing::debug!(error = %err, "commit result unknown, committing again");
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn after_failure<T>(&mut self, err: Error) -> Ended<T> {
        let transient = err.contains_label(TRANSIENT_TRANSACTION_ERROR);
        // A server that could not even be selected has had its full selection timeout already.
        if transient
            && !is_server_selection(&err)
            && self.attempts < MAX_ATTEMPTS
            && self.started.elapsed() < TIME_BUDGET
        {
            tracing::debug!(error = %err, attempt = self.attempts, "transient transaction error, retrying");
            tokio::time::sleep(self.backoff()).await;
            return Ended::Retry;
        }
        Ended::Failed(err)
    }

    /// Full jitter over an exponentially growing cap (1 ms, 2 ms, ... up to 100 ms), so that
    /// writers that conflicted once do not collide again in lockstep.
    fn backoff(&self) -> Duration {
        let cap_ms = 1u64 << self.attempts.min(7);
        let cap_ms = cap_ms.min(100);
        Duration::from_micros(rand::thread_rng().gen_range(0..=cap_ms * 1000))
    }
}

/// Aborts the session's transaction. A failure to abort needs no handling: the server aborts
/// a transaction on its own when an operation in it failed, or when it times out, and the
/// driver forgets the transaction either way.
async fn abort(session: &mut ClientSession) {
    if let Err(err) = session.abort_transaction().await {
        tracing::debug!(error = %err, "abort transaction failed");
    }
}

/// Classifies the error a transaction ended with. A transient error that outlived its retries
/// (endless write conflicts, a primary that does not come back) means "try again later".
pub(crate) fn transaction_error(err: Error) -> StoreError {
    if err.contains_label(TRANSIENT_TRANSACTION_ERROR) || err.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) {
        StoreError::unavailable(err)
    } else {
        store_error(err)
    }
}
