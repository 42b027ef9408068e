//! The module tree's rules, checked on the source (`cargo test --lib layering`):
//!
//! * no import cycle: no module (file) reaches, through the paths it names, a module that reaches
//!   it back — between folders or inside one;
//! * each folder calls only the folders below it ([`MAY_CALL`]): `schema` never `apply`, `ledger`,
//!   `citus` or `api`;
//! * no function needs scrolling: none is longer than [`MAX_FN_LINES`] lines, its `fn` line to
//!   its closing brace (test modules, `#[cfg(test)]`, left out; issue 21).
//!
//! A reference is every path the code names (`use` lines and paths in expressions, tests
//! included) that starts with `crate::`, `super::`, `self::` or a child module the file declares;
//! comments are left out. The longest prefix of the path that is a module file is the target.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The top-level modules (folders, or files at the top of src/) and what each may call.
const MAY_CALL: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "apply",
            "deferred",
            "ledger",
            "citus",
            "tenant",
            "schema",
            "privilege",
            "error",
            "ident",
        ],
    ),
    (
        "apply",
        &[
            "deferred",
            "dependencies",
            "ledger",
            "citus",
            "schema",
            "privilege",
            "error",
            "ident",
        ],
    ),
    (
        "deferred",
        &[
            "dependencies",
            "ledger",
            "schema",
            "privilege",
            "error",
            "ident",
        ],
    ),
    // what the objects an apply or a deferred step leaves may depend on (SPI, nothing of revos's)
    ("dependencies", &[]),
    (
        "ledger",
        &["citus", "schema", "privilege", "error", "ident"],
    ),
    (
        "citus",
        &["schema", "privilege", "invalidation", "error", "ident"],
    ),
    // set_tenant: the catalog's tenant types, the pinned search_path
    (
        "tenant",
        &["schema", "privilege", "invalidation", "error", "ident"],
    ),
    // revos.current_user_id(): the JWT's sub claim (the membership tenancy mode)
    ("user", &["schema"]),
    // revos.current_tenant_ids(): the JWT's tenant_ids array, else current_tenant_id() (claims mode)
    ("tenant_ids", &["schema", "ledger"]),
    ("schema", &["error", "ident"]),
    // how revos acts: the pinned search_path, another role; SPI-free, below every runtime folder
    ("privilege", &[]),
    // revos's one relcache callback, which the caches of catalog answers share
    ("invalidation", &[]),
    ("ident", &["error"]),
    ("error", &[]),
    ("layering", &[]),
    // the crate root: `_PG_init` installs tenant routing (citus::route)
    ("crate", &["citus"]),
];

/// A module by its path from the crate root (`["schema", "plan"]`; the root is `[]`).
type Module = Vec<String>;

/// Every `.rs` file under `src` as its module path, with its text.
fn modules(src: &Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut m: Module = rel.iter().map(|s| s.to_string_lossy().into()).collect();
            if matches!(m.last().map(String::as_str), Some("mod" | "lib")) {
                m.pop();
            }
            out.insert(m, std::fs::read_to_string(&path).expect("a source file"));
        }
    }
    out
}

/// The text without `//` comments (doc comments included).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths named at byte `at` of `s` (a `use` group `a::{b, c::{d}}` names several), each as
/// its segments, and where the path ends.
fn paths_at(s: &str, at: usize) -> (Vec<Vec<String>>, usize) {
    let b = s.as_bytes();
    let mut i = at;
    let mut segs: Vec<String> = vec![];
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'{' {
            let mut out = vec![];
            i += 1;
            loop {
                while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    break;
                }
                let (inner, end) = paths_at(s, i);
                out.extend(inner.into_iter().map(|p| [segs.clone(), p].concat()));
                i = end.max(i + 1);
                // `as alias` and anything else up to the next item
                while i < b.len() && b[i] != b',' && b[i] != b'}' {
                    i += 1;
                }
            }
            return (out, i + 1);
        }
        if i < b.len() && b[i] == b'*' && !segs.is_empty() {
            segs.push("*".into());
            return (vec![segs], i + 1);
        }
        let start = i;
        while i < b.len() && ident_char(b[i] as char) {
            i += 1;
        }
        if i == start {
            break;
        }
        segs.push(s[start..i].to_string());
        if s[i..].starts_with("::") {
            i += 2;
        } else {
            break;
        }
    }
    (vec![segs], i)
}

/// The modules `m` (text `text`) names, among `known`.
fn references(m: &Module, text: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let s = code(text);
    // child modules declared in this file (`mod x;`), which the file may name bare
    let children: BTreeSet<String> = s
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let l = l.strip_prefix("pub ").unwrap_or(l);
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.trim().to_string())
        })
        .collect();
    // `super` inside an inline module (`mod tests { … }`) is this file's module
    let inline_from = s
        .lines()
        .scan(0usize, |pos, l| {
            let at = *pos;
            *pos += l.len() + 1;
            Some((at, l))
        })
        .find(|(_, l)| {
            let t = l.trim_start();
            let t = t
                .strip_prefix("pub(crate) ")
                .or_else(|| t.strip_prefix("pub "))
                .unwrap_or(t);
            t.starts_with("mod ") && t.trim_end().ends_with('{')
        })
        .map_or(usize::MAX, |(at, _)| at);
    let mut out = BTreeSet::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let starts_word = i == 0 || !(ident_char(b[i - 1] as char) || b[i - 1] == b':');
        if !starts_word || !ident_char(b[i] as char) {
            i += 1;
            continue;
        }
        let (paths, end) = paths_at(&s, i);
        for p in paths {
            if let Some(target) = resolve(m, &p, i >= inline_from, &children, known) {
                if &target != m {
                    out.insert(target);
                }
            }
        }
        i = end.max(i + 1);
    }
    out
}

/// The module a path names (its longest prefix that is a module), if it starts with `crate`,
/// `super`, `self` or a child module; None for the crate root and for anything else.
fn resolve(
    m: &Module,
    p: &[String],
    in_inline_mod: bool,
    children: &BTreeSet<String>,
    known: &BTreeSet<Module>,
) -> Option<Module> {
    // a bare `super` / `self` / `crate` (as in `pub(super)`) names no path
    if p.len() < 2 {
        return None;
    }
    let first = p[0].as_str();
    let (mut abs, rest): (Module, &[String]) = match first {
        "crate" => (vec![], &p[1..]),
        "self" => (m.clone(), &p[1..]),
        "super" => {
            let mut base = m.clone();
            let supers = p.iter().take_while(|s| *s == "super").count();
            // in an inline module the first `super` is this file's module
            let up = supers - usize::from(in_inline_mod);
            for _ in 0..up {
                base.pop()?;
            }
            (base, &p[supers..])
        }
        c if children.contains(c) => (m.clone(), p),
        _ => return None,
    };
    let mut best = abs.clone();
    for seg in rest {
        abs.push(seg.clone());
        if known.contains(&abs) {
            best = abs.clone();
        }
    }
    (!best.is_empty()).then_some(best)
}

/// The module graph of the source: each module and the modules it names.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = modules(src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(m, text)| (m.clone(), references(m, text, &known)))
        .collect()
}

/// The modules reachable from `m`.
fn reachable<'a>(m: &'a Module, g: &'a BTreeMap<Module, BTreeSet<Module>>) -> BTreeSet<&'a Module> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<&Module> = g.get(m).into_iter().flatten().collect();
    while let Some(n) = todo.pop() {
        if seen.insert(n) {
            todo.extend(g.get(n).into_iter().flatten());
        }
    }
    seen
}

/// The cycles of the graph: each group of modules that reach each other (strongly connected,
/// more than one module), sorted.
fn cycles(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let reach: BTreeMap<&Module, BTreeSet<&Module>> =
        g.keys().map(|m| (m, reachable(m, g))).collect();
    let mut out: Vec<Vec<Module>> = vec![];
    for m in g.keys() {
        if out.iter().any(|c| c.contains(m)) {
            continue;
        }
        let group: Vec<Module> = g
            .keys()
            .filter(|n| *n == m || (reach[m].contains(n) && reach[n].contains(m)))
            .cloned()
            .collect();
        if group.len() > 1 {
            out.push(group);
        }
    }
    out
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".into()
    } else {
        m.join("::")
    }
}

/// The top-level module a module belongs to (its folder, or itself).
fn top(m: &Module) -> &str {
    m.first().map_or("crate", String::as_str)
}

/// Every edge that leaves its folder for one it may not call.
fn forbidden(g: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<String> {
    let rules: BTreeMap<&str, &[&str]> = MAY_CALL.iter().copied().collect();
    let mut out = vec![];
    for (m, targets) in g {
        for t in targets {
            let (from, to) = (top(m), top(t));
            let allowed = from == to || rules.get(from).is_some_and(|r| r.contains(&to));
            if !allowed {
                out.push(format!("{} -> {}", name(m), name(t)));
            }
        }
    }
    out
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycle() {
    let g = graph(&src());
    let found: Vec<String> = cycles(&g)
        .iter()
        .map(|c| c.iter().map(name).collect::<Vec<_>>().join(", "))
        .collect();
    assert!(
        found.is_empty(),
        "modules that import each other (directly or round a circle):\n{}",
        found.join("\n")
    );
}

#[test]
fn each_folder_calls_only_the_ones_below_it() {
    let g = graph(&src());
    let bad = forbidden(&g);
    assert!(
        bad.is_empty(),
        "references against MAY_CALL:\n{}",
        bad.join("\n")
    );
    // every top-level module has its rule (a new folder must say what it may call)
    let rules: BTreeSet<&str> = MAY_CALL.iter().map(|(m, _)| *m).collect();
    let tops: BTreeSet<&str> = g.keys().filter(|m| !m.is_empty()).map(top).collect();
    let missing: Vec<&&str> = tops.difference(&rules).collect();
    assert!(missing.is_empty(), "no MAY_CALL rule for {missing:?}");
}

/// The check reads the tree it is meant to: every subsystem, and edges it must see.
#[test]
fn the_graph_is_the_source() {
    let g = graph(&src());
    let m = |s: &str| -> Module { s.split("::").map(String::from).collect() };
    for folder in ["schema", "apply", "ledger", "citus"] {
        assert!(g.contains_key(&m(folder)), "{folder}/mod.rs not found");
    }
    for (from, to) in [
        ("api", "apply"),                     // use crate::apply::{…}
        ("apply", "apply::pg_catalog"),       // use pg_catalog::{…} (a child, bare)
        ("schema::plan", "schema::validate"), // use crate::schema::validate::tests::{…}
        ("apply::shadow", "schema::evolve"),  // a path in an expression
        ("ledger::event_chain", "ledger::event_hash"),
    ] {
        assert!(
            g[&m(from)].contains(&m(to)),
            "{from} -> {to} not seen; {from} names {:?}",
            g[&m(from)]
        );
    }
}

#[test]
fn paths_and_cycles_are_read_as_written() {
    let known: BTreeSet<Module> = [
        vec![],
        vec!["a".into()],
        vec!["a".into(), "b".into()],
        vec!["c".into()],
    ]
    .into_iter()
    .collect();
    let a_b: Module = vec!["a".into(), "b".into()];
    let refs = references(
        &vec!["c".into()],
        "use crate::{a::{b::X, Y as Z}};\n// crate::nothing\nfn f() { crate::v1!(); }",
        &known,
    );
    assert_eq!(
        refs,
        [vec!["a".to_string()], a_b.clone()].into_iter().collect()
    );
    // `super` in a file's inline test module is the file itself; outside it, the parent
    let refs = references(
        &a_b,
        "fn f() { super::g() }\nmod tests {\n use super::*;\n}",
        &known,
    );
    assert_eq!(refs, [vec!["a".to_string()]].into_iter().collect());

    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    g.insert(vec!["a".into()], [a_b.clone()].into_iter().collect());
    g.insert(a_b.clone(), [vec!["c".into()]].into_iter().collect());
    g.insert(vec!["c".into()], BTreeSet::new());
    assert!(cycles(&g).is_empty());
    g.insert(vec!["c".into()], [vec!["a".into()]].into_iter().collect());
    assert_eq!(cycles(&g).iter().map(Vec::len).collect::<Vec<_>>(), [3]);
}

// ---- function length ----------------------------------------------------------------------------

/// The longest a function may be: its `fn` line to its closing brace (issue 21: no function that
/// needs scrolling).
const MAX_FN_LINES: usize = 100;

/// The text with comments, string literals (raw ones too) and char literals blanked to spaces,
/// newlines kept: what is left of its braces and `;` are the code's own, on their own lines.
fn blanked(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let prev_ident = i > 0 && ident_char(b[i - 1] as char);
        if b[i..].starts_with(b"//") {
            let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    (depth, j) = (depth + 1, j + 2);
                } else if b[j..].starts_with(b"*/") {
                    (depth, j) = (depth - 1, j + 2);
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !prev_ident && (b[i] == b'r' || b[i..].starts_with(b"br")) {
            // a raw string r"…", r#"…"# (or a raw identifier r#name, left alone)
            let r = if b[i] == b'b' { i + 1 } else { i };
            let hashes = b[r + 1..].iter().take_while(|c| **c == b'#').count();
            let quote = r + 1 + hashes;
            if quote < b.len() && b[quote] == b'"' {
                let close = format!("\"{}", "#".repeat(hashes));
                let end = text[quote + 1..]
                    .find(&close)
                    .map_or(b.len(), |n| quote + 1 + n + close.len());
                blank(&mut out, i, end);
                i = end;
            } else {
                i += 1;
            }
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' {
            // a char literal ('x', '\n', '\u{7f}'), or a lifetime ('a) left alone
            let ch_len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
            if b.get(i + 1) == Some(&b'\\') {
                let end = text[i + 2..].find('\'').map_or(b.len(), |n| i + 2 + n + 1);
                blank(&mut out, i, end);
                i = end;
            } else if b.get(i + 1 + ch_len) == Some(&b'\'') {
                blank(&mut out, i, i + 2 + ch_len);
                i += 2 + ch_len;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where the item starting at byte `at` of blanked code `s` ends: after the `}` that closes its
/// first `{`, or after its `;`, whichever comes first outside brackets; `at` itself if neither.
/// The second value is whether it had a body (`{ … }`).
fn item_end(s: &str, at: usize) -> (usize, bool) {
    let b = s.as_bytes();
    let mut nest = 0i32; // ( and [
    let mut i = at;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' => nest += 1,
            b')' | b']' => nest -= 1,
            b';' if nest == 0 => return (i + 1, false),
            b'{' if nest == 0 => {
                let mut depth = 0;
                for (j, c) in b.iter().enumerate().skip(i) {
                    match c {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                return (j + 1, true);
                            }
                        }
                        _ => {}
                    }
                }
                return (b.len(), true);
            }
            _ => {}
        }
        i += 1;
    }
    (at, false)
}

/// The byte spans of the items under `#[cfg(test)]` in blanked code `s`, and the names of the
/// test modules it declares in files of their own (`#[cfg(test)] mod name;`).
fn test_items(s: &str) -> (Vec<(usize, usize)>, Vec<String>) {
    let (mut spans, mut files) = (vec![], vec![]);
    for (at, _) in s.match_indices("#[cfg(test)]") {
        let mut i = at;
        // this attribute and any after it
        loop {
            i += s[i..].len() - s[i..].trim_start().len();
            if !s[i..].starts_with("#[") {
                break;
            }
            let mut depth = 0;
            let close = s.bytes().enumerate().skip(i + 1).find(|(_, c)| {
                depth += i32::from(*c == b'[') - i32::from(*c == b']');
                depth == 0
            });
            i = close.map_or(s.len(), |(j, _)| j + 1);
        }
        let (end, body) = item_end(s, i);
        let head: Vec<&str> = s[i..end].split_whitespace().collect();
        let head: Vec<&str> = head
            .into_iter()
            .skip_while(|w| w.starts_with("pub"))
            .collect();
        if !body && head.first() == Some(&"mod") {
            if let Some(name) = head.get(1) {
                files.push(name.trim_end_matches(';').to_string());
            }
        }
        spans.push((at, end));
    }
    (spans, files)
}

/// Every function of blanked code `s` outside `skip` with its name, the line of its `fn` (from 1)
/// and its length in lines, its `fn` line to its closing brace.
fn functions(s: &str, skip: &[(usize, usize)]) -> Vec<(String, usize, usize)> {
    let b = s.as_bytes();
    let line_of = |at: usize| s[..at].matches('\n').count() + 1;
    let mut out = vec![];
    for (at, _) in s.match_indices("fn") {
        let word = (at == 0 || !ident_char(b[at - 1] as char))
            && b.get(at + 2).is_some_and(u8::is_ascii_whitespace);
        if !word || skip.iter().any(|(from, to)| (*from..*to).contains(&at)) {
            continue;
        }
        let rest = s[at + 2..].trim_start();
        let name: String = rest.chars().take_while(|c| ident_char(*c)).collect();
        if name.is_empty() {
            continue; // `fn(…)` as a type, or a macro's `fn $name`
        }
        let (end, body) = item_end(s, at);
        if body {
            out.push((name, line_of(at), line_of(end - 1) - line_of(at) + 1));
        }
    }
    out
}

/// The functions of the source longer than `max` lines, as `file:line name (n lines)`; test
/// modules (`#[cfg(test)]`, inline or in files of their own) left out.
fn long_functions(src: &Path, max: usize) -> Vec<String> {
    let files = modules(src);
    let code: BTreeMap<&Module, String> = files.iter().map(|(m, t)| (m, blanked(t))).collect();
    let mut test_modules: BTreeSet<Module> = BTreeSet::new();
    for (m, s) in &code {
        for name in test_items(s).1 {
            test_modules.insert([(*m).clone(), vec![name]].concat());
        }
    }
    let mut out = vec![];
    for (m, s) in &code {
        if test_modules.iter().any(|t| m.starts_with(t)) {
            continue;
        }
        for (f, line, n) in functions(s, &test_items(s).0) {
            if n > max {
                out.push(format!("{}:{line} {f} ({n} lines)", name(m)));
            }
        }
    }
    out
}

#[test]
fn no_function_needs_scrolling() {
    let long = long_functions(&src(), MAX_FN_LINES);
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines (split them into named steps):\n{}",
        long.join("\n")
    );
}

/// The length check counts what it is meant to, each case alone.
#[test]
fn function_lengths_are_read_as_written() {
    let body = |n: usize| "    x();\n".repeat(n);
    // a function of n lines: `fn` line, n - 2 lines of body, closing brace
    let f = |name: &str, n: usize| format!("fn {name}() {{\n{}}}\n", body(n - 2));
    let lengths = |text: &str| -> Vec<(String, usize)> {
        let s = blanked(text);
        functions(&s, &test_items(&s).0)
            .into_iter()
            .map(|(name, _, n)| (name, n))
            .collect()
    };
    assert_eq!(lengths(&f("a", 100)), [("a".into(), 100)]);
    assert_eq!(lengths(&f("a", 101)), [("a".into(), 101)]);
    // braces and `fn` in strings, raw strings, chars and comments are not code
    let noisy = "fn a() -> [u8; 2] {\n    let s = \"fn x() { \\\" {\";\n    let r = r#\"{ \" }\"#;\n    let c = '{';\n    // }\n    /* } /* } */ */\n    let l: &'static str = s;\n}\nfn b() {}\n";
    assert_eq!(lengths(noisy), [("a".into(), 8), ("b".into(), 1)]);
    // a declaration without a body, `fn` as a type: no function
    assert_eq!(
        lengths("trait T { fn t(&self); }\ntype F = fn(u8) -> u8;\n"),
        Vec::<(String, usize)>::new()
    );
    // a `#[cfg(test)]` module is left out, the function after it is not
    let t = format!(
        "#[cfg(test)]\nmod tests {{\n{}}}\n{}",
        f("long", 200),
        f("b", 3)
    );
    assert_eq!(lengths(&t), [("b".into(), 3)]);
    let (_, files) = test_items(&blanked("#[cfg(test)]\n#[allow(x)]\npub mod fuzz;\n"));
    assert_eq!(files, ["fuzz"]);
}
