//! The architecture, enforced (as rust-analyzer's `tidy` does): ARCHITECTURE.md's invariants
//! checked over the source text, so that a change breaking one fails the suite instead of waiting
//! for a reviewer. Known exceptions are listed by file and must still be exceptions: fixing one
//! without removing it from its list fails too (the lists only shrink).

use std::path::{Path, PathBuf};

fn sources() -> Vec<(String, String)> {
    sources_under("src")
}

/// Every `.rs` file under `dir` (relative to the package root), sorted: its path and text.
fn sources_under(dir: &str) -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join(dir), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Code lines only: comments (line and doc) are prose, not dependencies.
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Rule {
    what: &'static str,
    /// Which files the rule applies to.
    applies: fn(&str) -> bool,
    /// Any of these in the code is a violation.
    forbidden: &'static [&'static str],
    /// Files allowed to break it for now (the list only shrinks).
    known: &'static [&'static str],
}

const EDGES_NAMING_DB: &[&str] = &[
    "src/api/accounts.rs",
    "src/api/collections.rs",
    "src/api/connectors.rs",
    "src/api/error.rs",
    "src/api/events.rs",
    "src/api/exports.rs",
    "src/api/health.rs",
    "src/api/imports.rs",
    "src/api/indicators.rs",
    "src/api/whitelist.rs",
    "src/taxii/api_root.rs",
    "src/taxii/collections.rs",
    "src/taxii/discovery.rs",
    "src/taxii/error.rs",
    "src/taxii/filters.rs",
    "src/taxii/manifest.rs",
    "src/taxii/objects.rs",
    "src/taxii/pages.rs",
    "src/taxii/status.rs",
    "src/taxii/versions.rs",
    "src/web/account.rs",
    "src/web/dashboard.rs",
    "src/web/drafts.rs",
    "src/web/error.rs",
    "src/web/events.rs",
    "src/web/indicators.rs",
    "src/web/admin.rs",
    "src/web/connectors.rs",
    "src/web/feeds.rs",
    "src/web/whitelist.rs",
    "src/web/session.rs",
];

fn rules() -> Vec<Rule> {
    vec![
        Rule {
            what: "diesel appears only in src/db/",
            applies: |f| !f.starts_with("src/db/"),
            forbidden: &["diesel::", "use diesel"],
            known: &[],
        },
        Rule {
            what: "actix appears only in the HTTP edges (api/, taxii/, web/, http/) and startup.rs",
            applies: |f| {
                !["src/api/", "src/taxii/", "src/web/", "src/http/", "src/startup.rs"]
                    .iter()
                    .any(|d| f.starts_with(d))
            },
            forbidden: &["actix_web", "actix_multipart", "actix_rt"],
            known: &[],
        },
        Rule {
            what: "only net.rs builds an HTTP client",
            applies: |f| f != "src/net.rs",
            forbidden: &["reqwest::"],
            known: &[],
        },
        Rule {
            what: "stix/ and extract/ do no I/O",
            applies: |f| f.starts_with("src/stix/") || f.starts_with("src/extract/"),
            forbidden: &[
                "std::fs",
                "TcpStream",
                "TcpListener",
                "UdpSocket",
                "ToSocketAddrs",
                "std::process",
                "std::env",
                "tokio::",
            ],
            known: &[],
        },
        Rule {
            what: "stix/ and extract/ import nothing above them",
            applies: |f| f.starts_with("src/stix/") || f.starts_with("src/extract/"),
            forbidden: &[
                "crate::db",
                "crate::service",
                "crate::api",
                "crate::web",
                "crate::taxii",
                "crate::http",
                "crate::connectors",
                "crate::subscriptions",
                "crate::settings",
                "crate::startup",
                "crate::cli",
                "crate::net",
            ],
            known: &[],
        },
        Rule {
            what: "service/, db/, connectors/ and subscriptions/ never import an HTTP edge",
            applies: |f| {
                ["src/service/", "src/db/", "src/connectors/", "src/subscriptions/"]
                    .iter()
                    .any(|d| f.starts_with(d))
            },
            forbidden: &[
                "crate::api",
                "crate::web",
                "crate::taxii",
                "crate::http",
                "crate::startup",
                "crate::cli",
            ],
            known: &[],
        },
        Rule {
            what: "an HTTP edge never imports another edge",
            applies: |f| ["src/api/", "src/web/", "src/taxii/"].iter().any(|d| f.starts_with(d)),
            forbidden: &[],
            known: &[],
        },
        Rule {
            what: "db/ reads one row with get_result, never first (its bound `LIMIT ?` makes SQLite \
                   prepare the statement again at every run: ARCHITECTURE.md, invariants)",
            applies: |f| f.starts_with("src/db/"),
            forbidden: &[".first(c)", ".first($c)", ".first(conn)", ".first::<"],
            known: &[],
        },
        Rule {
            what: "edges reach storage through service/ (ARCHITECTURE: edges → service → db)",
            applies: |f| ["src/api/", "src/web/", "src/taxii/"].iter().any(|d| f.starts_with(d)),
            forbidden: &["crate::db"],
            known: EDGES_NAMING_DB,
        },
    ]
}

#[test]
fn the_architecture_holds() {
    let files = sources();
    let mut broken = Vec::new();
    for rule in rules() {
        for (file, text) in files.iter().filter(|(f, _)| (rule.applies)(f)) {
            let code = code(text);
            let mut hits: Vec<&str> = rule.forbidden.iter().copied().filter(|p| code.contains(p)).collect();
            // The edge rule: api/ may not name web or taxii, and so on.
            if rule.what.starts_with("an HTTP edge") {
                let own = file.split('/').nth(1).unwrap_or("");
                for edge in ["api", "web", "taxii"] {
                    if edge != own && code.contains(&format!("crate::{edge}::")) {
                        hits.push(edge);
                    }
                }
            }
            let known = rule.known.contains(&file.as_str());
            match (hits.is_empty(), known) {
                (false, false) => broken.push(format!("{file}: {} (found {hits:?})", rule.what)),
                (true, true) => broken
                    .push(format!("{file}: no longer breaks \"{}\": remove it from the list", rule.what)),
                _ => {}
            }
        }
        for known in rule.known {
            assert!(
                files.iter().any(|(f, _)| f == known),
                "{known} is listed for \"{}\" but does not exist",
                rule.what
            );
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn every_module_says_what_it_owns() {
    let missing: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| !text.trim_start().starts_with("//!"))
        .map(|(f, _)| f)
        .collect();
    assert!(missing.is_empty(), "modules without a `//!` doc: {missing:?}");
}

/// The layers, bottom up (ARCHITECTURE.md, "Layers"): a module names only modules of a lower
/// layer. HTTP edges never name each other (the edge rule above); `lib.rs` and `main.rs` only
/// declare and start.
const LAYERS: &[(&str, u8)] = &[
    ("stix", 0),
    ("extract", 1),
    ("domain", 1),
    ("settings", 2),
    ("tls", 2),
    ("logging", 2),
    ("metrics", 2),
    ("db", 3),
    ("net", 3),
    ("service", 4),
    ("connectors", 5),
    ("subscriptions", 6),
    ("http", 7),
    ("api", 8),
    ("taxii", 8),
    ("web", 8),
    ("startup", 9),
    ("cli", 10),
];

/// The module a source file defines, as a path (`service::imports::pipeline`).
fn module_of(file: &str) -> Vec<String> {
    let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// A `crate::` or `super::` path, or the `{` of a group after `crate::`.
static PATH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"\b(crate::|(?:super::)+)((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*|\{)")
        .unwrap()
});
/// The leading path of each item of a group.
static LEAD: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(?:^|,)\s*((?:[A-Za-z_][A-Za-z0-9_]*::)*[A-Za-z_][A-Za-z0-9_]*)").unwrap()
});

/// Every module path a file's code names through `crate::` or `super::` (and `crate::{…}`
/// groups), resolved to absolute paths. Test modules (`#[cfg(test)]` on) are left out.
fn named_paths(file: &str, text: &str) -> Vec<Vec<String>> {
    let code = code(text);
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let me = module_of(file);
    let mut out = Vec::new();
    for c in PATH.captures_iter(code) {
        let head = c.get(1).unwrap().as_str();
        let base: Vec<String> = if head == "crate::" {
            Vec::new()
        } else {
            // `super` of `a/b.rs` (module a::b) is `a`; of `a/b/mod.rs` (module a::b) also `a`.
            let ups = head.matches("super").count();
            me[..me.len().saturating_sub(ups)].to_vec()
        };
        let rest = c.get(2).unwrap();
        let items: Vec<String> = if rest.as_str() == "{" {
            // A group: each item's leading path, to the group's end at depth 0.
            let after = &code[rest.end()..];
            let mut depth = 0;
            let mut end = after.len();
            for (i, ch) in after.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            // Only the top level of the group: nested groups' items start after their `{`.
            LEAD.captures_iter(&after[..end]).map(|m| m[1].to_owned()).collect()
        } else {
            vec![rest.as_str().trim_end_matches("::").to_owned()]
        };
        for item in items {
            let mut path = base.clone();
            path.extend(item.split("::").filter(|s| !s.is_empty() && *s != "self").map(str::to_owned));
            out.push(path);
        }
    }
    out
}

#[test]
fn layers_import_only_downward() {
    let layer = |m: &str| LAYERS.iter().find(|(n, _)| *n == m).map(|(_, l)| *l);
    let mut broken = Vec::new();
    for (file, text) in sources() {
        let me = module_of(&file);
        let Some(top) = me.first().cloned() else { continue };
        let Some(mine) = layer(&top) else {
            broken.push(format!("{file}: top-level module `{top}` has no layer in LAYERS"));
            continue;
        };
        for path in named_paths(&file, &text) {
            let Some(other) = path.first() else { continue };
            if *other == top {
                continue;
            }
            match layer(other) {
                Some(l) if l < mine => {}
                Some(_) => {
                    broken.push(format!("{file} ({top}) names {} above or beside it", path.join("::")))
                }
                None => {}
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// No module reaches itself through others (a parent and its children may name each other).
#[test]
fn no_module_imports_itself_through_others() {
    let files = sources();
    let modules: Vec<Vec<String>> = files.iter().map(|(f, _)| module_of(f)).collect();
    let owner = |path: &[String]| -> Option<usize> {
        (1..=path.len()).rev().find_map(|n| modules.iter().position(|m| m.as_slice() == &path[..n]))
    };
    let related = |a: &[String], b: &[String]| a.starts_with(b) || b.starts_with(a);
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); files.len()];
    for (i, (file, text)) in files.iter().enumerate() {
        for path in named_paths(file, text) {
            if let Some(j) = owner(&path)
                && j != i
                && !related(&modules[i], &modules[j])
                && !edges[i].contains(&j)
            {
                edges[i].push(j);
            }
        }
    }
    let cycles: Vec<Vec<String>> = strongly_connected(&edges)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            let mut names: Vec<String> = c.iter().map(|&i| modules[i].join("::")).collect();
            names.sort();
            names
        })
        .collect();
    let show: Vec<String> = cycles.iter().map(|c| c.join(" ↔ ")).collect();
    assert!(
        cycles.is_empty(),
        "import cycles between modules that are neither ancestor nor descendant of each other \
         (break them; ARCHITECTURE.md, \"Layers\"):\n{}",
        show.join("\n")
    );
}

/// Tarjan's strongly connected components of a graph given as adjacency lists.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct State<'a> {
        edges: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        stack: Vec<usize>,
        on_stack: Vec<bool>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(s: &mut State<'_>, v: usize) {
        s.index[v] = Some(s.next);
        s.low[v] = s.next;
        s.next += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &s.edges[v] {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let n = edges.len();
    let mut s = State {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on_stack: vec![false; n],
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Scenario tests a reader can hold (issue 19): no function under `tests/` is longer than 100
/// lines, signature to closing brace. Split a long one along its story: named steps as
/// functions, or separate tests where the steps are independent; a long data table goes to a
/// fixture.
#[test]
fn test_functions_stay_under_a_hundred_lines() {
    const MAX: usize = 100;
    const STARTS: [&str; 6] =
        ["fn ", "async fn ", "pub fn ", "pub async fn ", "pub(crate) fn ", "pub(crate) async fn "];
    let mut long = Vec::new();
    for (file, text) in sources_under("tests") {
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            let body = line.trim_start();
            let one_line = body.ends_with('}') || body.ends_with(';');
            if one_line || !STARTS.iter().any(|s| body.starts_with(s)) {
                continue;
            }
            let close = format!("{}}}", &line[..line.len() - body.len()]);
            let end = lines[at..].iter().position(|l| *l == close);
            if let Some(end) = end.filter(|end| end + 1 > MAX) {
                long.push(format!("{file}:{} is {} lines: {}", at + 1, end + 1, body));
            }
        }
    }
    assert!(long.is_empty(), "functions over {MAX} lines under tests/:\n{}", long.join("\n"));
}
