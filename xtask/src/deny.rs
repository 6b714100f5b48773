//! `cargo deny check` for `cargo xtask test`: advisories, licenses, duplicate versions and
//! sources, offline. The machine that runs the tests reaches package registries only, so the
//! RustSec advisory database is vendored (`xtask/advisory-db/`, a snapshot of its `crates/`
//! directory; `SNAPSHOT` says which commit and when) and laid out here the way cargo-deny
//! expects a database it fetched itself; cargo-deny runs `--offline` (no fetch of anything).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{run, Result};

/// The directory cargo-deny looks for under `db-path` for the default database URL
/// (`https://github.com/rustsec/advisory-db`): its last path segment and the XxHash64 of the
/// URL. Seen in `cargo deny -L debug --offline check advisories` ("Opening advisory database at ...").
const DB_DIR: &str = "advisory-db-3157b0e258782691";

/// The version installed when cargo-deny is missing.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// Runs every check of `deny.toml` against the vendored advisories.
pub fn check(root: &Path) -> Result {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let deny = cargo_deny(&target)?;
    let db_root = target.join("advisory-db");
    lay_out_database(&root.join("xtask/advisory-db"), &db_root.join(DB_DIR))?;
    // cargo-deny reads the whole dependency graph, every platform's crates included, and
    // `--offline` forbids cargo to download any: fetch them first (from the registry, which the
    // machine does reach), or a fresh machine lacks the ones no build of ours needed.
    run(crate::cargo().current_dir(root).args(["fetch", "--locked"]))?;
    // Through cargo, as `cargo deny`, with the binary's directory first on PATH.
    let dir = deny.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))
        .map_err(|e| format!("PATH: {e}"))?;
    run(crate::cargo().env("PATH", path).env("CHAT_ADVISORY_DB", &db_root).args([
        "deny",
        "--locked",
        "--offline",
        "check",
        "advisories",
        "licenses",
        "bans",
        "sources",
    ]))
}

/// `cargo-deny` from `PATH` or `~/.cargo/bin`, else the copy cached under `target/tools`,
/// installed there (`cargo install --locked`) when missing.
fn cargo_deny(target: &Path) -> Result<PathBuf> {
    let cached = target.join("tools/bin/cargo-deny");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let candidates = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|d| d.join("cargo-deny")).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(home.map(|h| h.join("bin/cargo-deny")))
        .chain([cached.clone()]);
    for candidate in candidates {
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    let tools = target.join("tools");
    run(crate::cargo()
        .args(["install", "--locked", "cargo-deny", "--version", CARGO_DENY_VERSION, "--root"])
        .arg(&tools))?;
    Ok(cached)
}

/// Copies the vendored `crates/` into `db` afresh, and gives it the `.git/FETCH_HEAD` whose
/// modification time cargo-deny reads as the time of the last fetch: the snapshot's commit
/// time, so that `maximum-db-staleness` judges the snapshot's real age.
fn lay_out_database(vendored: &Path, db: &Path) -> Result {
    let snapshot = fs::read_to_string(vendored.join("SNAPSHOT")).map_err(|e| format!("advisory-db/SNAPSHOT: {e}"))?;
    let unix: u64 = snapshot
        .lines()
        .find_map(|line| line.strip_prefix("unix "))
        .and_then(|secs| secs.trim().parse().ok())
        .ok_or("advisory-db/SNAPSHOT has no `unix <seconds>` line")?;
    if db.exists() {
        fs::remove_dir_all(db).map_err(|e| format!("removing {}: {e}", db.display()))?;
    }
    copy_dir(&vendored.join("crates"), &db.join("crates"))?;
    fs::create_dir_all(db.join(".git")).map_err(|e| format!("{}: {e}", db.display()))?;
    let fetch_head = db.join(".git/FETCH_HEAD");
    fs::write(&fetch_head, snapshot.as_bytes()).map_err(|e| format!("{}: {e}", fetch_head.display()))?;
    let file =
        fs::File::options().write(true).open(&fetch_head).map_err(|e| format!("{}: {e}", fetch_head.display()))?;
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
        .map_err(|e| format!("{}: {e}", fetch_head.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result {
    fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", from.display()))?;
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &dest)?;
        } else {
            fs::copy(&source, &dest).map_err(|e| format!("{}: {e}", source.display()))?;
        }
    }
    Ok(())
}
