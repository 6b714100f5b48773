//! A small pool of dedicated threads for CPU- and memory-heavy work (argon2 hashing), fed
//! through a bounded number of slots.
//!
//! Why its own threads: on Tokio's blocking pool a flood of hashes queues up with (and delays)
//! every other blocking call of the process, storage reads included, and the pool grows to 512
//! threads, each hash holding its 19 MiB at once. Here at most `threads` jobs run; callers wait
//! for a slot at most `queue_wait`, at most `max_waiting` of them at once, and are otherwise
//! refused with [`HashingBusy`] straight away.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chat_domain::ports::HashingBusy;
use tokio::sync::Semaphore;

/// How big the pool is and how long callers wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Jobs running at once, one per thread (at least 1).
    pub threads: usize,
    /// Longest a caller waits for a free thread before it is refused.
    pub queue_wait: Duration,
    /// Most callers waiting at once; one more is refused without waiting.
    pub max_waiting: usize,
}

impl PoolConfig {
    /// One thread per core, a two-second wait, and up to 64 callers waiting per thread.
    pub fn per_core() -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self { threads, queue_wait: Duration::from_secs(2), max_waiting: 64 * threads }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// What the pool has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Jobs holding a thread right now (running, or handed over and about to run).
    pub running: usize,
    /// Callers waiting for a thread right now.
    pub waiting: usize,
    /// Callers refused with [`HashingBusy`] so far.
    pub refused: u64,
}

/// The pool's handle; cheap to clone. The threads stop once every clone is dropped.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: SyncSender<Job>,
    slots: Arc<Semaphore>,
    config: PoolConfig,
    waiting: AtomicUsize,
    refused: AtomicU64,
    started: Instant,
    /// Seconds since `started` of the last warning about refusals, so a flood logs one line
    /// per [`LOG_EVERY_SECS`] rather than one per refusal.
    last_warning: AtomicU64,
}

const LOG_EVERY_SECS: u64 = 10;

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

impl Pool {
    /// Starts `config.threads` threads named `<name>-<n>`. Fails only when the system refuses
    /// to start a thread.
    pub fn start(name: &str, config: PoolConfig) -> std::io::Result<Self> {
        let config = PoolConfig { threads: config.threads.max(1), ..config };
        // Never more jobs in the channel than slots, so sending never blocks.
        let (jobs, receiver) = mpsc::sync_channel::<Job>(config.threads);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..config.threads {
            let receiver = receiver.clone();
            std::thread::Builder::new().name(format!("{name}-{n}")).spawn(move || work(&receiver))?;
        }
        let shared = Shared {
            jobs,
            slots: Arc::new(Semaphore::new(config.threads)),
            config,
            waiting: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            started: Instant::now(),
            last_warning: AtomicU64::new(u64::MAX),
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    pub fn config(&self) -> PoolConfig {
        self.shared.config
    }

    pub fn stats(&self) -> PoolStats {
        let shared = &self.shared;
        PoolStats {
            running: shared.config.threads - shared.slots.available_permits(),
            waiting: shared.waiting.load(Ordering::Relaxed),
            refused: shared.refused.load(Ordering::Relaxed),
        }
    }

    /// Runs `job` on one of the pool's threads and returns its result, or [`HashingBusy`]
    /// when no thread frees up within the wait (or too many callers wait already). A caller
    /// that gives up after its job started does not stop it; the slot frees when it ends.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, HashingBusy> {
        let shared = &self.shared;
        let permit = match shared.slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if shared.waiting.fetch_add(1, Ordering::SeqCst) >= shared.config.max_waiting {
                    shared.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(self.refuse());
                }
                let waited = tokio::time::timeout(shared.config.queue_wait, shared.slots.clone().acquire_owned()).await;
                shared.waiting.fetch_sub(1, Ordering::SeqCst);
                match waited {
                    Ok(Ok(permit)) => permit,
                    // Timed out, or the semaphore closed (it never is).
                    _ => return Err(self.refuse()),
                }
            }
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = job();
            // The slot frees before the caller hears back, so `running` never overstates.
            drop(permit);
            let _ = reply.send(result);
        });
        // Holding a slot means a thread is free or about to be, so this does not block; it
        // fails only if every thread died, which `work` prevents.
        shared.jobs.send(job).map_err(|_| HashingBusy)?;
        // A job that panicked dropped its reply: that caller is refused like a busy one.
        answer.await.map_err(|_| HashingBusy)
    }

    fn refuse(&self) -> HashingBusy {
        let shared = &self.shared;
        let refused = shared.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = shared.started.elapsed().as_secs();
        let last = shared.last_warning.load(Ordering::Relaxed);
        let due = last == u64::MAX || now >= last.saturating_add(LOG_EVERY_SECS);
        if due && shared.last_warning.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            tracing::warn!(
                refused,
                threads = shared.config.threads,
                queue_wait_ms = u64::try_from(shared.config.queue_wait.as_millis()).unwrap_or(u64::MAX),
                "password hashing is saturated; refusing with 503 (refused is the total so far)"
            );
        }
        HashingBusy
    }
}

/// One pool thread: runs jobs until the pool is dropped. A panicking job is contained, so the
/// thread lives on and the slot (dropped while unwinding) frees.
fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while taking one job, never while running it.
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = next else { return };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
