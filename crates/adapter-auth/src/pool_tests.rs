//! Tests of the hashing pool: where jobs run, how many at once, and who is refused.

use std::sync::mpsc as std_mpsc;

use super::*;

const PATIENCE: Duration = Duration::from_secs(20);

fn pool(threads: usize, queue_wait: Duration, max_waiting: usize) -> Pool {
    Pool::start("test-hash", PoolConfig { threads, queue_wait, max_waiting }).unwrap()
}

/// Waits until `condition` holds; fails the test after [`PATIENCE`].
async fn until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "never came true: {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Occupies one thread of `pool` until the returned sender sends (or is dropped).
fn block(pool: &Pool) -> (std_mpsc::Sender<()>, tokio::task::JoinHandle<Result<(), HashingBusy>>) {
    let (release, released) = std_mpsc::channel::<()>();
    let pool = pool.clone();
    let handle = tokio::spawn(async move {
        pool.run(move || {
            let _ = released.recv();
        })
        .await
    });
    (release, handle)
}

#[tokio::test]
async fn jobs_run_on_the_pools_own_named_threads() {
    let pool = pool(2, Duration::from_secs(1), 8);
    let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
    let name = name.unwrap_or_default();
    assert!(name.starts_with("test-hash-"), "ran on {name:?}");
    let caller = std::thread::current().id();
    assert_ne!(pool.run(|| std::thread::current().id()).await.unwrap(), caller);
}

#[tokio::test]
async fn the_job_after_the_last_free_thread_waits_for_one() {
    let pool = pool(2, PATIENCE, 8);
    let (release_a, a) = block(&pool);
    let (_release_b, _b) = block(&pool);
    until("both threads busy", || pool.stats().running == 2).await;
    let third = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.run(|| "third").await })
    };
    until("the third caller waits", || pool.stats().waiting == 1).await;
    assert!(!third.is_finished(), "no thread was free");
    assert_eq!(pool.stats().running, 2, "never more jobs than threads");
    release_a.send(()).unwrap();
    assert_eq!(third.await.unwrap(), Ok("third"));
    assert_eq!(a.await.unwrap(), Ok(()));
    assert_eq!(pool.stats().waiting, 0);
    assert_eq!(pool.stats().refused, 0);
}

#[tokio::test]
async fn a_caller_that_waits_past_the_queue_wait_is_refused_busy() {
    let pool = pool(1, Duration::from_millis(5), 8);
    let (release, blocked) = block(&pool);
    until("the thread is busy", || pool.stats().running == 1).await;
    assert_eq!(pool.run(|| ()).await, Err(HashingBusy));
    assert_eq!(pool.stats(), PoolStats { running: 1, waiting: 0, refused: 1 });
    release.send(()).unwrap();
    blocked.await.unwrap().unwrap();
    assert_eq!(pool.run(|| 7).await, Ok(7), "served again once free");
}

#[tokio::test]
async fn callers_beyond_the_waiting_bound_are_refused_without_waiting() {
    // A wait far longer than the test's patience: only the bound can refuse in time.
    let pool = pool(1, Duration::from_secs(3_600), 0);
    let (release, _blocked) = block(&pool);
    until("the thread is busy", || pool.stats().running == 1).await;
    let refused = tokio::time::timeout(PATIENCE, pool.run(|| ())).await;
    assert_eq!(refused, Ok(Err(HashingBusy)));
    release.send(()).unwrap();
}

#[tokio::test]
async fn a_panicking_job_frees_its_thread() {
    let pool = pool(1, PATIENCE, 8);
    let panicked = pool.run(|| -> u32 { panic!("job failed on purpose") }).await;
    assert_eq!(panicked, Err(HashingBusy));
    assert_eq!(pool.run(|| 1).await, Ok(1));
    assert_eq!(pool.stats().running, 0);
}
