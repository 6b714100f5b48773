//! Repository rules, checked as an ordinary test: the domain stays pure, every source file
//! says what it is for, and no test is switched off.

use std::fs;
use std::path::{Path, PathBuf};

/// Crates the domain must never depend on: I/O, web, database and wire serialization.
const FORBIDDEN_IN_DOMAIN: &[&str] = &[
    "actix",
    "actix-web",
    "actix-ws",
    "axum",
    "hyper",
    "tokio",
    "mongodb",
    "bson",
    "rusqlite",
    "sqlx",
    "redis",
    "serde",
    "serde_json",
    "reqwest",
    "jsonwebtoken",
    "argon2",
];

fn root() -> PathBuf {
    crate::root()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if name != "target" && name != "node_modules" && !name.starts_with('.') {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["crates", "xtask", "tests"] {
        rust_files(&root().join(dir), &mut files);
    }
    assert!(files.len() > 10, "tidy found only {} source files; is the root right?", files.len());
    files
}

/// The dependency names of one `[...dependencies]` table in a manifest, found without a TOML
/// parser: the keys of lines between that header and the next header.
fn dependency_names(manifest: &str, table: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == format!("[{table}]");
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            if let Some((key, _)) = line.split_once('=') {
                names.push(key.trim().trim_end_matches(".workspace").to_owned());
            }
        }
    }
    names
}

#[test]
fn domain_depends_on_no_io_web_database_or_wire_crate() {
    let manifest = fs::read_to_string(root().join("crates/chat-domain/Cargo.toml")).unwrap();
    let deps = dependency_names(&manifest, "dependencies");
    assert!(deps.contains(&"ammonia".to_owned()), "the parser found the dependencies: {deps:?}");
    let bad: Vec<&String> = deps.iter().filter(|d| FORBIDDEN_IN_DOMAIN.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "chat-domain must stay pure but depends on {bad:?}");
}

#[test]
fn every_source_file_opens_with_a_doc_line() {
    let missing: Vec<PathBuf> = all_sources()
        .into_iter()
        .filter(|p| !fs::read_to_string(p).unwrap_or_default().trim_start().starts_with("//!"))
        .collect();
    assert!(missing.is_empty(), "these files do not open with a `//!` line saying what they are for: {missing:#?}");
}

#[test]
fn no_test_is_ignored() {
    let needle = ["#[", "ignore"].concat();
    let offenders: Vec<PathBuf> =
        all_sources().into_iter().filter(|p| fs::read_to_string(p).unwrap_or_default().contains(&needle)).collect();
    assert!(offenders.is_empty(), "tests must not be switched off: {offenders:#?}");
}

#[test]
fn the_ci_script_runs_the_readme_test_command() {
    let ci = fs::read_to_string(root().join(".ci/run")).unwrap();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains("cargo xtask test"), "README names the test command");
    assert!(ci.lines().any(|l| l.trim_start().starts_with("cargo xtask test")), ".ci/run runs it");
}
