//! Project automation, the one entry point: `cargo xtask test` (the README's test command),
//! `cargo xtask provision` and `cargo xtask bench`.

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
        _ => {
            eprintln!("usage: cargo xtask <test|provision|bench> [args passed to cargo test]");
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

/// Format check, clippy with warnings denied, then every test in the workspace with the
/// services the tests need provisioned and their locations passed in the environment.
fn test(extra: &[String]) -> Result {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"]))?;
    let services = provision::all(&root())?;
    // The end-to-end suites start the real binaries, so build them first.
    run(cargo().args(["build", "--locked", "-p", "app", "-p", "adapter-ws", "--bins", "--examples"]))?;
    let mut cmd = cargo();
    cmd.args(["test", "--workspace", "--locked"]).args(extra);
    services.export(&mut cmd);
    run(&mut cmd)
}

fn bench(_extra: &[String]) -> Result {
    Err("no benchmarks yet".into())
}
