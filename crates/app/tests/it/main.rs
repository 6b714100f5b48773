//! The `chat-server` binary's command line: `--help` lists every environment variable of the
//! README's configuration table, `--version` prints the version, and an unknown argument is
//! refused before anything starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn chat_server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_chat-server")).args(args).output().expect("run chat-server")
}

/// The variables of the README's configuration table (its first column).
fn readme_variables() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let table = readme.split("## Configuration").nth(1).expect("a configuration section");
    let vars: Vec<String> = table
        .lines()
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    assert!(vars.len() >= 10, "found only {vars:?}");
    vars
}

#[test]
fn help_lists_every_configuration_variable() {
    let out = chat_server(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let missing: Vec<String> = readme_variables().into_iter().filter(|v| !help.contains(v.as_str())).collect();
    assert!(missing.is_empty(), "--help does not name {missing:?}:\n{help}");
    assert!(help.contains("Usage: chat-server"), "{help}");
}

#[test]
fn version_prints_the_package_version() {
    let out = chat_server(&["--version"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), format!("chat-server {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn an_unknown_argument_is_refused_by_name() {
    let out = chat_server(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--no-such-flag"));
}
