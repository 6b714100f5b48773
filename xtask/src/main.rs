//! Project automation, the one entry point: `cargo xtask test` (the README's test command),
//! `cargo xtask provision` and `cargo xtask bench`.

#[cfg(test)]
mod cycles;
mod deny;
mod provision;
#[cfg(test)]
mod tidy;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("provision") => provision::all(&root()).map(|_| ()),
        Some("bench") => bench(&args[1..]),
        Some("deny") => deny::check(&root()),
        _ => {
            eprintln!("usage: cargo xtask <test|provision|bench|deny> [args passed to cargo test]");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run(cmd: &mut Command) -> Result {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().map_err(|e| format!("could not start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

/// Format check, clippy with warnings denied, cargo deny (advisories, licenses, duplicate
/// versions, sources; offline), then every test in the workspace with the
/// services the tests need provisioned and their locations passed in the environment.
fn test(extra: &[String]) -> Result {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    deny::check(&root())?;
    let services = provision::all(&root())?;
    // The end-to-end suites start the real binaries, so build them first.
    run(cargo().args(["build", "--locked", "-p", "app", "-p", "socketio", "--bins", "--examples"]))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--locked"]).args(extra);
    services.export(&mut cmd);
    run(&mut cmd)
}

/// Builds release binaries, starts a `chat-server` on a free port with a fresh embedded store
/// and no rate limits, and runs the `chat-bench` load generator against it. Extra arguments go
/// to `chat-bench`: `[users] [group-size] [messages-per-user] [idle-connections]`.
///
/// `cargo xtask bench flood [registrations] [failed-logins] [concurrency]` runs the
/// registration and login flood instead, twice, each time on a fresh server: with the attempt
/// limits off (what hashing costs in memory and in latency of unrelated requests), then with
/// the default limits (what the 429s spare).
fn bench(extra: &[String]) -> Result {
    if extra.first().map(String::as_str) == Some("rig") {
        return rig(&extra[1..]);
    }
    run(cargo().args(["build", "--release", "--locked", "-p", "app", "-p", "bench"]))?;
    // The load generator registers all its users from one address; the attempt limits would
    // refuse most of them.
    let limits_off = [("AUTH_LIMIT_PER_EMAIL_PER_MINUTE", "0"), ("AUTH_LIMIT_PER_ADDRESS_PER_MINUTE", "0")];
    if extra.first().map(String::as_str) == Some("flood") {
        eprintln!("xtask: flood with the attempt limits off (hashing alone bounds the work)");
        bench_once(&limits_off, extra)?;
        eprintln!("xtask: flood with the default attempt limits (10 per email, 60 per address per minute)");
        return bench_once(&[], extra);
    }
    bench_once(&limits_off, extra)
}

/// The shared rig's scenarios, each against the Node peer, the limit server, the socketioxide
/// peer and this project's release `chat-server` in one `compare.sh` run, so the figures are
/// ratios measured side by side (`idle` also runs the same build from a clean heap, see below).
/// `cargo xtask bench rig [scenario...]` (default: all four:
/// `fanout` (the fanout sweep), `pairs` (the pairs sweep), `idle`, `history`; `receipts` runs
/// the pairs sweep with the server's delivery receipts off and on). The rig lives in
/// `../shared/rig` and is built once into `$RIG_OUT` (default `/tmp/chat-rig`) when missing.
fn rig(scenarios: &[String]) -> Result {
    let rig = root().join("..").join("shared").join("rig");
    if !rig.join("compare.sh").is_file() {
        return Err(format!("the benchmark rig is not at {}", rig.display()));
    }
    let out = std::env::var("RIG_OUT").unwrap_or_else(|_| "/tmp/chat-rig".to_owned());
    if !std::path::Path::new(&out).join("target/release/loadgen").is_file() {
        run(Command::new(rig.join("build.sh")).env("RIG_OUT", &out))?;
    }
    run(cargo().args(["build", "--release", "--locked", "-p", "app"]))?;
    let project = root().join("target").join("release").join("chat-server");
    let all = ["fanout", "pairs", "idle", "history"].map(str::to_owned);
    let chosen = if scenarios.is_empty() { &all[..] } else { scenarios };
    // The rig registers every user from 127.0.0.1; the contract's attempt limits (60 per
    // address per minute) would make setup take a quarter of an hour. Its fan-out senders each
    // send from one socket at up to 300 messages a second (the sweep's last steps): past the
    // socket event budget (50 a second), which would refuse them as the message limit would
    // (the rig turns that one off with RATE_LIMIT_PER_MINUTE=0). The peers have neither.
    let server_env = "AUTH_LIMIT_PER_ADDRESS_PER_MINUTE=0 AUTH_LIMIT_PER_EMAIL_PER_MINUTE=0 SOCKET_EVENTS_PER_SECOND=0";
    for scenario in chosen {
        if scenario == "receipts" {
            // The receipts issue's measure: the pairs sweep with the server's own delivery
            // receipts on, against the same build with them off, beside the limit server.
            eprintln!("xtask: rig receipts (pairs sweep, delivery receipts off and on)");
            let off = format!("DELIVERY_RECEIPT_INTERVAL_MS=0 {}", project.display());
            run(Command::new(rig.join("compare.sh"))
                .arg("sweep")
                .args(["target/release/limit", &off])
                .arg(&project)
                .args(["--", "--shape", "pairs"])
                .env("RIG_OUT", &out)
                .env("NAMES", "limit|receipts-off|chat-server")
                .env("SERVER_ENV", server_env))?;
            continue;
        }
        let (name, extra): (&str, &[&str]) = match scenario.as_str() {
            "fanout" => ("sweep", &[]),
            "pairs" => ("sweep", &["--", "--shape", "pairs"]),
            "idle" => ("idle", &[]),
            "history" => ("history", &[]),
            other => return Err(format!("unknown rig scenario {other}: fanout, pairs, idle, history or receipts")),
        };
        eprintln!("xtask: rig {scenario}");
        let mut servers = ["node peer-node/server.mjs", "target/release/limit", "target/release/peer-socketioxide"]
            .map(str::to_owned)
            .to_vec();
        servers.push(project.display().to_string());
        let mut names = "node|limit|socketioxide|chat-server".to_owned();
        if scenario == "idle" {
            // The rig reads the RSS "before" right after 1,000 registrations, and whether the
            // allocator has handed their hashing memory back by then swings our figure between
            // about 2 and 7 KiB (docs/performance.md). The same build returning freed pages at
            // once measures from a clean heap: the cost a connection really adds.
            servers.push(format!("MIMALLOC_PURGE_DELAY=0 {}", project.display()));
            names.push_str("|clean-heap");
        }
        run(Command::new(rig.join("compare.sh"))
            .arg(name)
            .args(&servers)
            .args(extra)
            .env("RIG_OUT", &out)
            .env("NAMES", names)
            .env("SERVER_ENV", server_env))?;
    }
    Ok(())
}

/// Starts a release `chat-server` with a fresh store, no message rate limit and `env`, runs
/// `chat-bench` with `args` against it, and stops the server.
fn bench_once(env: &[(&str, &str)], args: &[String]) -> Result {
    let release = root().join("target").join("release");
    let data = root().join("target").join("bench-data");
    let _ = std::fs::remove_dir_all(&data);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let mut server = Command::new(release.join("chat-server"))
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("DATA_DIR", &data)
        .env("RATE_LIMIT_PER_MINUTE", "0")
        .env("JWT_SECRET", "bench-secret-0123456789abcdef0123456789")
        .env("RUST_LOG", "warn")
        // The bench opens its idle sockets as the same 100 users (about 21 each).
        .env("SOCKETS_PER_USER", "0")
        .envs(env.iter().copied())
        .spawn()
        .map_err(|e| format!("cannot start chat-server: {e}"))?;
    let ready = wait_for_port(port, std::time::Duration::from_secs(30));
    let outcome = if ready {
        run(Command::new(release.join("chat-bench"))
            .arg(format!("http://127.0.0.1:{port}"))
            .arg(server.id().to_string())
            .args(args))
    } else {
        Err(format!("chat-server did not listen on port {port} within 30 s"))
    };
    let _ = server.kill();
    let _ = server.wait();
    outcome
}

/// Polls until something accepts connections on the port, or the time is up.
fn wait_for_port(port: u16, limit: std::time::Duration) -> bool {
    let started = std::time::Instant::now();
    while started.elapsed() < limit {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}
