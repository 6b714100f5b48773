//! The flood scenario (`chat-bench <base-url> <server-pid> flood [registrations] [failed-logins]
//! [concurrency]`): against a fresh server, a burst of registrations and failed logins from
//! many concurrent clients, while the server's RSS is sampled every 50 ms and an unrelated
//! signed-in client keeps reading `/api/users/me` and `/api/chats`; then the RSS after 1000
//! registrations from 8 concurrent clients.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{ms, percentile, rss_kib, Result};

/// How often the server's RSS is read during the flood.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Read pairs (`/users/me` + `/chats`) of the unrelated client before the flood.
const BASELINE_READS: usize = 200;

struct Settings {
    registrations: usize,
    failed_logins: usize,
    concurrency: usize,
}

fn settings(args: &[String]) -> Result<Settings> {
    let num = |i: usize, default: usize| -> Result<usize> {
        Ok(args.get(i).map(|s| s.parse()).transpose()?.unwrap_or(default))
    };
    Ok(Settings { registrations: num(0, 400)?, failed_logins: num(1, 400)?, concurrency: num(2, 64)?.max(1) })
}

/// Status code → count, for the summary line.
type Statuses = BTreeMap<u16, usize>;

async fn call(http: &reqwest::Client, url: String, body: Value) -> Result<(u16, Value)> {
    let res = http.post(url).json(&body).send().await?;
    let status = res.status().as_u16();
    let body = res.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// One read pair of the unrelated client; its latency.
async fn read_pair(http: &reqwest::Client, api: &str, token: &str) -> Result<Duration> {
    let started = Instant::now();
    for path in ["users/me", "chats"] {
        let res = http.get(format!("{api}/{path}")).bearer_auth(token).send().await?;
        if !res.status().is_success() {
            return Err(format!("GET /api/{path}: {}", res.status()).into());
        }
        res.bytes().await?;
    }
    Ok(started.elapsed())
}

/// Runs `jobs` numbered jobs over `concurrency` workers, counting the statuses they answer.
async fn burst<F, Fut>(jobs: usize, concurrency: usize, job: F) -> Statuses
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u16>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, job) = (next.clone(), job.clone());
            tokio::spawn(async move {
                let mut statuses = Statuses::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= jobs {
                        return statuses;
                    }
                    // A transport error (connection refused, reset) counts as status 0.
                    *statuses.entry(job(n).await.unwrap_or(0)).or_default() += 1;
                }
            })
        })
        .collect();
    let mut total = Statuses::new();
    for worker in workers {
        for (status, count) in worker.await.unwrap_or_default() {
            *total.entry(status).or_default() += count;
        }
    }
    total
}

fn statuses(s: &Statuses) -> String {
    s.iter().map(|(status, count)| format!("{status}×{count}")).collect::<Vec<_>>().join(" ")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub async fn run(base: &str, pid: u32, args: &[String]) -> Result<()> {
    let s = settings(args)?;
    let api = format!("{base}/api");
    let run_id = std::process::id();
    let rss_start = rss_kib(pid);

    // The unrelated client: signed in before the flood, reading before and during it.
    let reader = reqwest::Client::new();
    let body =
        json!({"email": format!("reader{run_id}@example.com"), "username": "reader", "password": "reader-password"});
    let (status, session) = call(&reader, format!("{api}/auth/register"), body).await?;
    if status != 201 {
        return Err(format!("the reader could not register: {status} {session}").into());
    }
    let token = session["accessToken"].as_str().ok_or("no token")?.to_owned();
    let mut before = Vec::with_capacity(BASELINE_READS);
    for _ in 0..BASELINE_READS {
        before.push(read_pair(&reader, &api, &token).await?);
    }
    before.sort();
    let rss_before_flood = rss_kib(pid);

    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut peak = 0_u64;
            let mut samples = 0_usize;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                samples += 1;
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
            (peak, samples)
        })
    };
    let observer = {
        let (done, api, token, reader) = (done.clone(), api.clone(), token.clone(), reader.clone());
        tokio::spawn(async move {
            let mut during = Vec::new();
            let mut errors = 0_usize;
            while !done.load(Ordering::Relaxed) {
                match read_pair(&reader, &api, &token).await {
                    Ok(latency) => during.push(latency),
                    Err(_) => errors += 1,
                }
            }
            (during, errors)
        })
    };

    let http = reqwest::Client::new();
    let flood_started = Instant::now();
    let (registrations, failed_logins) = (s.registrations, s.failed_logins);
    let register = {
        let (http, api) = (http.clone(), api.clone());
        move |n: usize| {
            let (http, api) = (http.clone(), api.clone());
            async move {
                let body = json!({"email": format!("flood{run_id}-{n}@example.com"), "username": format!("flood{n}"), "password": "flood-password"});
                Ok(call(&http, format!("{api}/auth/register"), body).await?.0)
            }
        }
    };
    let registered = burst(registrations, s.concurrency, register).await;
    let login = {
        let (http, api) = (http.clone(), api.clone());
        move |n: usize| {
            let (http, api) = (http.clone(), api.clone());
            async move {
                // Half name accounts just made (wrong password), half name no account at all.
                let email = if n.is_multiple_of(2) && n < registrations {
                    format!("flood{run_id}-{n}@example.com")
                } else {
                    format!("nobody{run_id}-{n}@example.com")
                };
                let body = json!({"email": email, "password": "wrong-password"});
                Ok(call(&http, format!("{api}/auth/login"), body).await?.0)
            }
        }
    };
    let logged_in = burst(failed_logins, s.concurrency, login).await;
    let flood_took = flood_started.elapsed();
    done.store(true, Ordering::Relaxed);
    let (peak, samples) = sampler.await?;
    let (mut during, read_errors) = observer.await?;
    during.sort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_flood = rss_kib(pid);

    // 1000 registrations from 8 concurrent clients, before any socket connects.
    let rss_before_thousand = rss_kib(pid);
    let register = {
        let (http, api) = (http.clone(), api.clone());
        move |n: usize| {
            let (http, api) = (http.clone(), api.clone());
            async move {
                let body = json!({"email": format!("k{run_id}-{n}@example.com"), "username": format!("k{n}"), "password": "thousand-password"});
                Ok(call(&http, format!("{api}/auth/register"), body).await?.0)
            }
        }
    };
    let thousand_started = Instant::now();
    let thousand = burst(1_000, 8, register).await;
    let thousand_took = thousand_started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after_thousand = rss_kib(pid);

    println!(
        "chat-bench flood: {} registrations + {} failed logins from {} concurrent clients",
        s.registrations, s.failed_logins, s.concurrency
    );
    println!("  took                    {:.2} s", flood_took.as_secs_f64());
    println!("  register statuses       {}", statuses(&registered));
    println!("  login statuses          {}", statuses(&logged_in));
    println!(
        "  server RSS              start {}, before flood {}, peak {} (+{} over start, {samples} samples), 2 s after {} (+{})",
        mib(rss_start),
        mib(rss_before_flood),
        mib(peak),
        mib(peak.saturating_sub(rss_start)),
        mib(rss_after_flood),
        mib(rss_after_flood.saturating_sub(rss_start)),
    );
    println!(
        "  unrelated reads before  {} pairs  p50 {}  p99 {}",
        before.len(),
        ms(percentile(&before, 0.5)),
        ms(percentile(&before, 0.99))
    );
    println!(
        "  unrelated reads during  {} pairs  p50 {}  p99 {}  max {}  errors {read_errors}",
        during.len(),
        ms(percentile(&during, 0.5)),
        ms(percentile(&during, 0.99)),
        ms(percentile(&during, 1.0))
    );
    println!(
        "  1000 registrations (8 concurrent) {:.2} s, {}; RSS {} = +{} over start (+{} over before them)",
        thousand_took.as_secs_f64(),
        statuses(&thousand),
        mib(rss_after_thousand),
        mib(rss_after_thousand.saturating_sub(rss_start)),
        mib(rss_after_thousand.saturating_sub(rss_before_thousand)),
    );
    Ok(())
}
