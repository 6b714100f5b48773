//! Repository rules, checked as an ordinary test: the domain stays pure, arrows point only
//! inward (no adapter depends on another), every source file says what it is for, and no test
//! is switched off.

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

/// The adapter crates (`crates/adapter-*`) other adapters must not depend on, in any table.
fn adapter_crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("adapter-"))
        .collect();
    names.sort();
    names
}

/// Crates that are not adapters but link one, so depending on them is depending on an adapter.
fn crates_linking_adapters(adapters: &[String]) -> Vec<String> {
    let mut linking = Vec::new();
    for entry in fs::read_dir(root().join("crates")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(manifest) = fs::read_to_string(entry.path().join("Cargo.toml")) else { continue };
        if !adapters.contains(&name) && adapter_dependencies(&manifest, adapters, &[]).next().is_some() {
            linking.push(name);
        }
    }
    linking
}

/// The adapters (or crates in `linking`) that `manifest` depends on, in any dependency table.
fn adapter_dependencies<'a>(
    manifest: &'a str,
    adapters: &'a [String],
    linking: &'a [String],
) -> impl Iterator<Item = String> + 'a {
    ["dependencies", "dev-dependencies", "build-dependencies"]
        .into_iter()
        .flat_map(move |table| dependency_names(manifest, table))
        .filter(move |dep| adapters.contains(dep) || linking.contains(dep))
}

/// Every `(adapter, dependency)` pair where an adapter crate depends on another adapter, or on
/// a crate that links one.
fn adapter_to_adapter_edges(manifests: &[(String, String)], adapters: &[String], linking: &[String]) -> Vec<String> {
    let mut edges = Vec::new();
    for (name, manifest) in manifests {
        if adapters.contains(name) {
            for dep in adapter_dependencies(manifest, adapters, linking) {
                edges.push(format!("{name} -> {dep}"));
            }
        }
    }
    edges
}

#[test]
fn no_adapter_depends_on_another_adapter() {
    let adapters = adapter_crates();
    assert!(adapters.len() >= 6, "tidy found only these adapters: {adapters:?}");
    let linking = crates_linking_adapters(&adapters);
    let manifests: Vec<(String, String)> = adapters
        .iter()
        .map(|name| (name.clone(), fs::read_to_string(root().join("crates").join(name).join("Cargo.toml")).unwrap()))
        .collect();
    let edges = adapter_to_adapter_edges(&manifests, &adapters, &linking);
    assert!(
        edges.is_empty(),
        "adapters must not depend on each other (compose them in `app`): {edges:?}; crates linking an adapter: {linking:?}"
    );
}

#[test]
fn the_adapter_rule_catches_a_planted_dependency() {
    let adapters = vec!["adapter-a".to_owned(), "adapter-b".to_owned()];
    let clean = "[dependencies]\nchat-domain.workspace = true\n";
    let direct = "[dependencies]\nadapter-b.workspace = true\n";
    let dev = "[dev-dependencies]\nadapter-b = { path = \"../adapter-b\" }\n";
    let through = "[dev-dependencies]\nhelpers.workspace = true\n";
    let linking = vec!["helpers".to_owned()];
    let check = |manifest: &str| {
        adapter_to_adapter_edges(&[("adapter-a".to_owned(), manifest.to_owned())], &adapters, &linking)
    };
    assert!(check(clean).is_empty());
    assert_eq!(check(direct), ["adapter-a -> adapter-b"]);
    assert_eq!(check(dev), ["adapter-a -> adapter-b"]);
    assert_eq!(check(through), ["adapter-a -> helpers"]);
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

/// Longest a source file may be. Longer files are split by topic (one integration-test binary
/// per crate, `tests/it/main.rs` with a module per topic, keeps test files short too).
const MAX_LINES: usize = 500;

#[test]
fn no_source_file_is_over_500_lines() {
    let long: Vec<String> = all_sources()
        .into_iter()
        .filter_map(|p| {
            let lines = fs::read_to_string(&p).unwrap_or_default().lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", p.strip_prefix(root()).unwrap_or(&p).display()))
        })
        .collect();
    assert!(long.is_empty(), "these files are over {MAX_LINES} lines; split them by topic: {long:#?}");
}
