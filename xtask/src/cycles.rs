//! The `socketio` crate is built in layers (Engine.IO below Socket.IO), so its modules must not
//! import each other in a cycle, and nothing in `engineio` may reach into the layer above. This
//! test scans every file's `use` trees and paths (`crate::`, `super::`, `self::`, child modules)
//! as text, builds the dependency graph between files and fails with the cycles it finds.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs;
use std::path::Path;

/// The crate whose module graph is checked, relative to the workspace root.
const CRATE_SRC: &str = "crates/socketio/src";

/// The lower layer: modules under it may only depend on modules under it.
const LOWER_LAYER: &str = "engineio";

/// The graph node of the crate root (`lib.rs`).
const ROOT: &str = "crate";

/// Module dependency graph: file node -> the file nodes it references.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// A token of Rust source with comments and literals already removed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Splits Rust source into identifiers, `::` and punctuation, dropping comments, string, byte
/// string, raw string and char literals (so a path inside a string or a doc comment is not an
/// import), and lifetimes.
fn tokenize(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i = skip_block_comment(&chars, i);
        } else if c == '"' {
            i = skip_string(&chars, i + 1);
        } else if c == '\'' {
            i = skip_char_or_lifetime(&chars, i);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // Byte strings and raw strings start with an identifier-like prefix.
            match (word.as_str(), chars.get(i).copied()) {
                ("b", Some('"')) => i = skip_string(&chars, i + 1),
                ("b", Some('\'')) => i = skip_char_or_lifetime(&chars, i),
                ("r" | "br", Some('"' | '#')) => i = skip_raw_string(&chars, i),
                _ => tokens.push(Token::Ident(word)),
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
        } else if c == ':' && next == Some(':') {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            if !c.is_whitespace() {
                tokens.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    tokens
}

/// `i` is at `/*`; returns the index after the matching `*/` (block comments nest).
fn skip_block_comment(chars: &[char], mut i: usize) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
            depth += 1;
            i += 2;
        } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// `i` is just after the opening quote; returns the index after the closing one.
fn skip_string(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// `i` is at the `#`s or quote after `r`; returns the index after the closing `"#...`.
fn skip_raw_string(chars: &[char], mut i: usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1;
    while i < chars.len() {
        if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

/// `i` is at a `'`: skips a char literal (`'x'`, `'\n'`, `'\u{1e}'`) or just the quote of a
/// lifetime, whose name then reads as an ordinary identifier.
fn skip_char_or_lifetime(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        let mut j = i + 2;
        while j < chars.len() && chars[j] != '\'' {
            j += 1;
        }
        return j + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        return i + 3;
    }
    i + 1
}

/// The module path of a file relative to `src`: `lib.rs` is the root, `a.rs` and `a/mod.rs`
/// are `a`, `a/b.rs` is `a::b`.
fn module_of(relative: &str) -> Vec<String> {
    let relative = relative.strip_suffix(".rs").unwrap_or(relative);
    let mut parts: Vec<String> = relative.split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("lib" | "mod" | "main")) {
        parts.pop();
    }
    parts
}

fn node_name(module: &[String]) -> String {
    if module.is_empty() {
        ROOT.to_owned()
    } else {
        module.join("::")
    }
}

/// Expands one `use` tree starting at `tokens[*i]` into full paths (a glob keeps its prefix,
/// `self` in braces means the prefix itself, `as` renames are dropped).
fn use_tree(tokens: &[Token], i: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        match tokens.get(*i) {
            Some(Token::Punct('{')) => {
                *i += 1;
                loop {
                    match tokens.get(*i) {
                        Some(Token::Punct('}')) | None => {
                            *i += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *i += 1,
                        Some(_) => use_tree(tokens, i, path.clone(), out),
                    }
                }
            }
            Some(Token::Punct('*')) => {
                *i += 1;
                out.push(path);
                return;
            }
            Some(Token::PathSep) => *i += 1,
            Some(Token::Ident(name)) => {
                if name != "self" || path.is_empty() {
                    path.push(name.clone());
                }
                *i += 1;
                if tokens.get(*i) != Some(&Token::PathSep) {
                    if tokens.get(*i) == Some(&Token::Ident("as".to_owned())) {
                        *i += 2;
                    }
                    out.push(path);
                    return;
                }
            }
            _ => {
                out.push(path);
                return;
            }
        }
    }
}

/// One file's module and the module paths (inline `mod x { ... }` included) its paths start
/// from, paired with each path.
struct FileRefs {
    module: Vec<String>,
    /// `(the inline module the path appears in, the path as written)`.
    paths: Vec<(Vec<String>, Vec<String>)>,
    /// Inline modules declared in this file (`mod tests { ... }`), as full module paths.
    inline: Vec<Vec<String>>,
}

/// Collects the paths a file writes: every `use` tree, and every path in code (`crate::x`,
/// `super::x`, `self::x`, `child::x`).
fn file_refs(module: Vec<String>, source: &str) -> FileRefs {
    let tokens = tokenize(source);
    let mut refs = FileRefs { module: module.clone(), paths: Vec::new(), inline: Vec::new() };
    // Inline modules open at a brace depth and close when the depth returns to it.
    let mut scope: Vec<(Vec<String>, usize)> = vec![(module, 0)];
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let current = scope.last().map(|(m, _)| m.clone()).unwrap_or_default();
        match &tokens[i] {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if scope.len() > 1 && scope.last().is_some_and(|(_, d)| *d == depth) {
                    scope.pop();
                }
                i += 1;
            }
            Token::Ident(word) if word == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Punct('{'))) = (tokens.get(i + 1), tokens.get(i + 2)) {
                    let mut inner = current;
                    inner.push(name.clone());
                    refs.inline.push(inner.clone());
                    scope.push((inner, depth));
                }
                i += 2;
            }
            Token::Ident(word) if word == "use" => {
                i += 1;
                let mut trees = Vec::new();
                use_tree(&tokens, &mut i, Vec::new(), &mut trees);
                refs.paths.extend(trees.into_iter().map(|path| (current.clone(), path)));
            }
            // The start of a path in code: `crate::`, `super::`, `self::`, or a name that may
            // be a child module (`polling::poll(..)`); `resolve` drops other crates and types.
            Token::Ident(word)
                if tokens.get(i + 1) == Some(&Token::PathSep)
                    && !matches!(tokens.get(i.wrapping_sub(1)), Some(Token::PathSep)) =>
            {
                let mut path = vec![word.clone()];
                i += 1;
                while tokens.get(i) == Some(&Token::PathSep) {
                    match tokens.get(i + 1) {
                        Some(Token::Ident(name)) => path.push(name.clone()),
                        _ => break,
                    }
                    i += 2;
                }
                refs.paths.push((current, path));
            }
            _ => i += 1,
        }
    }
    refs
}

/// Resolves a path written in module `from` to the deepest known module it names. `None` for a
/// path into another crate.
fn resolve(from: &[String], path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let (mut current, rest) = match path.first().map(String::as_str) {
        Some("crate") => (Vec::new(), &path[1..]),
        Some("super" | "self") => (from.to_vec(), path),
        Some(first) => {
            // Edition 2018: a `use` path may start with a child module of the current module.
            let mut child = from.to_vec();
            child.push(first.to_owned());
            if !known.contains(&child) {
                return None;
            }
            (from.to_vec(), path)
        }
        None => return None,
    };
    for segment in rest {
        match segment.as_str() {
            "super" => {
                current.pop();
            }
            "self" => {}
            name => {
                let mut next = current.clone();
                next.push(name.to_owned());
                if !known.contains(&next) {
                    break;
                }
                current = next;
            }
        }
    }
    Some(current)
}

/// The dependency graph between files given `(path relative to src, contents)` pairs. Paths to
/// an inline module count as paths to the file that holds it.
fn module_graph(files: &[(String, String)]) -> Graph {
    let refs: Vec<FileRefs> = files.iter().map(|(relative, source)| file_refs(module_of(relative), source)).collect();
    let mut file_of: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for file in &refs {
        file_of.insert(file.module.clone(), file.module.clone());
        for inline in &file.inline {
            file_of.insert(inline.clone(), file.module.clone());
        }
    }
    let known: BTreeSet<Vec<String>> = file_of.keys().cloned().collect();
    let mut graph = Graph::new();
    for file in &refs {
        let from = node_name(&file.module);
        let edges = graph.entry(from.clone()).or_default();
        for (scope, path) in &file.paths {
            let Some(target) = resolve(scope, path, &known) else { continue };
            let target = node_name(file_of.get(&target).unwrap_or(&target));
            if target != from {
                edges.insert(target);
            }
        }
    }
    graph
}

/// Cycles of the graph as `a -> b -> a`: for each module not on a cycle reported already, the
/// shortest cycle through it (if any).
fn cycles(graph: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen: BTreeSet<&String> = BTreeSet::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        // A shortest path from `start` back to itself, breadth first.
        let mut parent: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue: VecDeque<&String> = VecDeque::from([start]);
        let mut closing = None;
        'search: while let Some(node) = queue.pop_front() {
            for next in graph.get(node).into_iter().flatten() {
                if next == start {
                    closing = Some(node);
                    break 'search;
                }
                if !parent.contains_key(next) {
                    parent.insert(next, node);
                    queue.push_back(next);
                }
            }
        }
        let Some(mut node) = closing else { continue };
        let mut middle = Vec::new();
        while node != start {
            middle.push(node.clone());
            seen.insert(node);
            node = parent[node];
        }
        middle.reverse();
        seen.insert(start);
        let path: Vec<String> = std::iter::once(start.clone()).chain(middle).chain([start.clone()]).collect();
        found.push(path.join(" -> "));
    }
    found
}

/// Edges from the lower layer to any module outside it.
fn layer_violations(graph: &Graph) -> Vec<String> {
    let lower = |node: &str| node == LOWER_LAYER || node.starts_with(&format!("{LOWER_LAYER}::"));
    graph
        .iter()
        .filter(|(from, _)| lower(from))
        .flat_map(|(from, to)| to.iter().filter(|t| !lower(t)).map(move |t| format!("{from} -> {t}")))
        .collect()
}

fn read_sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_sources(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            out.push((relative, fs::read_to_string(&path).unwrap()));
        }
    }
}

fn socketio_graph() -> Graph {
    let src = crate::root().join(CRATE_SRC);
    let mut files = Vec::new();
    read_sources(&src, &src, &mut files);
    assert!(files.len() > 5, "found only {} files under {}", files.len(), src.display());
    module_graph(&files)
}

fn describe(graph: &Graph) -> String {
    graph.iter().map(|(from, to)| format!("  {from} -> {to:?}\n")).collect()
}

#[test]
fn socketio_modules_import_each_other_in_no_cycle() {
    let graph = socketio_graph();
    let found = cycles(&graph);
    assert!(
        found.is_empty(),
        "the socketio crate's modules import each other in a cycle; layer them so arrows point one way:\n{}\n\
         the whole graph:\n{}",
        found.join("\n"),
        describe(&graph)
    );
}

#[test]
fn the_engine_io_layer_knows_nothing_of_the_layer_above() {
    let graph = socketio_graph();
    assert!(graph.contains_key(LOWER_LAYER), "no `{LOWER_LAYER}` module in:\n{}", describe(&graph));
    let violations = layer_violations(&graph);
    assert!(violations.is_empty(), "`{LOWER_LAYER}` must only depend on itself: {violations:#?}");
}

fn planted(files: &[(&str, &str)]) -> Graph {
    module_graph(&files.iter().map(|(p, s)| ((*p).to_owned(), (*s).to_owned())).collect::<Vec<_>>())
}

#[test]
fn the_cycle_rule_catches_a_planted_cycle() {
    let graph = planted(&[
        ("lib.rs", "//! Root.\nmod engineio;\nmod socket;\nmod handler;\npub use socket::Socket;\n"),
        ("engineio/mod.rs", "//! Lower.\npub(crate) mod session;\nfn f() { session::open(); }\n"),
        ("engineio/session.rs", "//! Session.\nuse crate::socket::Socket;\n"),
        ("socket.rs", "//! Socket.\nuse crate::{engineio::session::Session, handler::{self, Handler as H}};\n"),
        ("handler.rs", "//! Handler.\npub trait Handler { fn f(&self, s: &super::socket::Socket); }\n"),
    ]);
    assert_eq!(graph["crate"], BTreeSet::from(["socket".to_owned()]));
    assert_eq!(graph["engineio"], BTreeSet::from(["engineio::session".to_owned()]));
    assert_eq!(cycles(&graph), ["engineio::session -> socket -> engineio::session", "handler -> socket -> handler"]);
    assert_eq!(layer_violations(&graph), ["engineio::session -> socket"]);
}

#[test]
fn comments_strings_test_modules_and_other_crates_make_no_edge() {
    let graph = planted(&[
        ("lib.rs", "//! Root.\nmod a;\nmod b;\n"),
        (
            "a.rs",
            "//! A, see [`crate::b`].\nuse std::fmt;\nuse serde_json::json;\nuse super::b::B;\n\
             /* crate::b::B in a block comment */\nfn f<'a>(x: &'a str) -> char {\n\
             let _ = \"crate::b::B\"; let _ = r#\"super::b \"x\" \"#; let _ = b\"crate::b\"; '{'\n}\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::a::f;\n}\n",
        ),
        ("b.rs", "//! B.\npub struct B;\nimpl B { pub fn new() -> Self { Self } }\n// use crate::a;\n"),
    ]);
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned()]));
    assert!(graph["b"].is_empty(), "{graph:?}");
    assert!(cycles(&graph).is_empty());
}
