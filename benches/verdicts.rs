//! Suggested-verdict benchmark (issue 20; not a timed test). Over `HARPOON_CORPUS` (default
//! `../shared/corpus`): every phishing and benign email imported through the real import path
//! (`service::imports::import`, a fresh database) with verdicts on; then
//!   1. quality: verdicts per class, phishing suggested `likely benign` (goal 0), benign suggested
//!      `likely benign` (goal >= 50 %), ROC AUC of the score (goal >= 0.95), on all files, on the
//!      even-numbered ones (where weights were looked at) and on the odd-numbered held-out half;
//!      the reasons of every benign miss;
//!   2. cost: importing the phishing corpus with verdicts off and on, same process, fresh
//!      databases, alternated (goal: on adds <= 20 %);
//!   3. known-phish auto-join: every phishing draft committed, then each email reported again by
//!      someone else (forwarded as an attachment: new bytes, same phish) must join the event its
//!      first report went to (goal 100 %), on SQLite and, with `BENCH_PG_URL`, PostgreSQL.
//!
//! No network: DKIM asks `BENCH_DNS`, by default a DNS server the bench runs on 127.0.0.1 that
//! answers "no such name" to everything (a working resolver; `BENCH_DNS=127.0.0.1:9`, where
//! nothing answers, measures a resolver outage instead).
//! Run: `scripts/bench-verdicts` (writes benches/verdicts/results-<date>.md); `BENCH_PARTS=join`
//! (or `quality`, `cost`, comma-separated) runs only those parts.

mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use harpoon::db::{Db, verdicts};
use harpoon::service::ServiceContext;
use harpoon::service::imports::{self, EventMeta, ImportRequest};
use harpoon::settings::Settings;

/// Brands an organisation would configure: the most impersonated brands of the public brand-
/// phishing reports (Check Point, Vade, Cloudflare 2022-2025), with their own domains. A
/// configuration, the same for every email; not derived from this corpus.
const BRANDS: &[(&str, &[&str])] = &[
    (
        "microsoft",
        &[
            "microsoft.com",
            "office.com",
            "office365.com",
            "live.com",
            "outlook.com",
            "microsoftonline.com",
            "sharepoint.com",
            "onedrive.com",
            "hotmail.com",
        ],
    ),
    ("office365", &["microsoft.com", "office.com", "office365.com"]),
    ("outlook", &["microsoft.com", "outlook.com", "live.com", "office.com"]),
    (
        "google",
        &[
            "google.com",
            "gmail.com",
            "googlemail.com",
            "youtube.com",
            "googleusercontent.com",
            "googleapis.com",
            "gstatic.com",
        ],
    ),
    ("apple", &["apple.com", "icloud.com", "me.com"]),
    ("amazon", &["amazon.com", "amazon.co.uk", "amazon.de", "amazonaws.com", "amazonses.com"]),
    ("paypal", &["paypal.com", "paypal.me"]),
    ("netflix", &["netflix.com"]),
    ("linkedin", &["linkedin.com"]),
    ("facebook", &["facebook.com", "fb.com", "facebookmail.com"]),
    ("instagram", &["instagram.com"]),
    ("whatsapp", &["whatsapp.com"]),
    ("dhl", &["dhl.com", "dhl.de"]),
    ("fedex", &["fedex.com"]),
    ("docusign", &["docusign.com", "docusign.net"]),
    ("dropbox", &["dropbox.com"]),
    ("adobe", &["adobe.com"]),
    ("wellsfargo", &["wellsfargo.com"]),
    ("chase", &["chase.com", "jpmorgan.com"]),
    ("coinbase", &["coinbase.com"]),
    ("binance", &["binance.com"]),
    ("metamask", &["metamask.io"]),
    ("walmart", &["walmart.com"]),
];

struct Email {
    path: PathBuf,
    phish: bool,
    /// Numbered even: the half whose results were looked at while choosing weights.
    even: bool,
    raw: Vec<u8>,
}

fn load(dir: &Path, phish: bool) -> Vec<Email> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter_map(|p| {
            let raw = std::fs::read(&p).ok()?;
            let stem = p.file_stem()?.to_string_lossy().to_string();
            let digits: String = stem.chars().rev().take_while(char::is_ascii_digit).collect();
            let n: u64 = digits.chars().rev().collect::<String>().parse().unwrap_or(0);
            Some(Email { path: p, phish, even: n.is_multiple_of(2), raw })
        })
        .collect()
}

/// A DNS server on 127.0.0.1 that answers every query "no such name" at once: a resolver that
/// works (none of the corpus's signing keys can be fetched offline), so the cost part measures
/// Harpoon's own work rather than timeouts. Returns its address.
fn nxdomain_server() -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("DNS socket: {e}"));
    let addr = socket.local_addr().unwrap_or_else(|e| panic!("DNS socket: {e}"));
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            if let Some(answer) = nxdomain(buf.get(..n).unwrap_or_default()) {
                let _ = socket.send_to(&answer, peer);
            }
        }
    });
    addr.to_string()
}

/// The NXDOMAIN answer to one query: its id and question, no records.
fn nxdomain(query: &[u8]) -> Option<Vec<u8>> {
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    let question = query.get(12..at + 4)?;
    let mut out = Vec::with_capacity(12 + question.len());
    out.extend_from_slice(query.get(..2)?);
    out.push(0x80 | (query.get(2)? & 0x79)); // QR, the query's opcode and RD
    out.push(0x83); // RA, NXDOMAIN
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(question);
    Some(out)
}

fn settings(url: &str, dir: &Path, on: bool) -> Settings {
    let mut s = Settings::default();
    s.database.url = Some(url.to_string());
    s.database.pool_size = 2;
    s.data_dir = dir.to_path_buf();
    s.organisation.domains = vec!["harpoon-bench.example".into()];
    static DNS: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| std::env::var("BENCH_DNS").unwrap_or_else(|_| nxdomain_server()));
    s.operations.nslookup.resolver = DNS.clone();
    s.operations.nslookup.timeout_secs = 1;
    s.triage.verdicts.enabled = on;
    s.triage.verdicts.brands = BRANDS
        .iter()
        .map(|(n, d)| ((*n).to_string(), d.iter().map(|x| (*x).to_string()).collect()))
        .collect();
    s
}

/// A fresh database: a file in `dir` for SQLite, a new database under `BENCH_PG_URL`.
fn fresh(backend: &str, dir: &Path, name: &str) -> Option<String> {
    match backend {
        "sqlite" => Some(format!("sqlite://{}/{name}.db", dir.display())),
        _ => {
            let base = std::env::var("BENCH_PG_URL").ok()?;
            let admin = format!("{base}/postgres");
            let run = |sql: &str| {
                std::process::Command::new("psql").args([admin.as_str(), "-qtAc", sql]).output().ok()
            };
            run(&format!("DROP DATABASE IF EXISTS {name}"))?;
            run(&format!("CREATE DATABASE {name}"))?;
            Some(format!("{base}/{name}"))
        }
    }
}

fn open(url: &str, dir: &Path, on: bool) -> (Db, ServiceContext) {
    open_with(url, dir, on, None)
}

/// `dns`: the resolver DKIM asks instead of the bench's own.
fn open_with(url: &str, dir: &Path, on: bool, dns: Option<&str>) -> (Db, ServiceContext) {
    let mut s = settings(url, dir, on);
    if let Some(d) = dns {
        s.operations.nslookup.resolver = d.to_string();
    }
    let db = harpoon::startup::open_database(&s).unwrap_or_else(|e| panic!("database {url}: {e}"));
    let ctx = harpoon::startup::triage_context(&db, &s).unwrap_or_else(|e| panic!("triage context: {e}"));
    (db, ctx)
}

fn import(
    db: &Db,
    ctx: &ServiceContext,
    raw: Vec<u8>,
    label: &str,
) -> Option<harpoon::db::imports::ImportRow> {
    let req = ImportRequest {
        raw,
        source: "bench".into(),
        source_metadata: Some(serde_json::json!({ "file": label })),
        actor: Some("bench".into()),
        meta: EventMeta::default(),
    };
    imports::pipeline::run_one(db, ctx, req, &imports::pipeline::Then::default()).ok().map(|o| o.imported.row)
}

/// ROC AUC by Mann-Whitney: the chance a random phish scores above a random benign email.
fn auc(phish: &[i32], benign: &[i32]) -> f64 {
    if phish.is_empty() || benign.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in phish {
        for b in benign {
            wins += match p.cmp(b) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    wins / (phish.len() as f64 * benign.len() as f64)
}

struct Judged {
    phish: bool,
    even: bool,
    file: String,
    verdict: String,
    score: i32,
    reasons: Vec<harpoon::service::verdict::Reason>,
}

fn quality_table(out: &mut String, judged: &[Judged]) {
    out.push_str("| part | phishing | phishing → likely benign (goal 0) | benign | benign → likely benign (goal ≥ 50 %) | ROC AUC (goal ≥ 0.95) | phishing verdicts | benign verdicts |\n|---|---|---|---|---|---|---|---|\n");
    for (part, keep) in [("all", None), ("even (looked at)", Some(true)), ("odd (held out)", Some(false))] {
        let set: Vec<&Judged> = judged.iter().filter(|j| keep.is_none_or(|k| j.even == k)).collect();
        let count = |phish: bool| set.iter().filter(|j| j.phish == phish).count();
        let benign_as =
            |phish: bool| set.iter().filter(|j| j.phish == phish && j.verdict == "likely_benign").count();
        let scores =
            |phish: bool| set.iter().filter(|j| j.phish == phish).map(|j| j.score).collect::<Vec<_>>();
        let spread = |phish: bool| {
            let mut m: BTreeMap<&str, usize> = BTreeMap::new();
            for j in set.iter().filter(|j| j.phish == phish) {
                *m.entry(j.verdict.as_str()).or_default() += 1;
            }
            m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let (np, nb) = (count(true), count(false));
        out.push_str(&format!(
            "| {part} | {np} | **{}** | {nb} | **{} ({:.1} %)** | **{:.4}** | {} | {} |\n",
            benign_as(true),
            benign_as(false),
            100.0 * benign_as(false) as f64 / nb.max(1) as f64,
            auc(&scores(true), &scores(false)),
            spread(true),
            spread(false),
        ));
    }
}

fn main() {
    let corpus = PathBuf::from(std::env::var("HARPOON_CORPUS").unwrap_or_else(|_| "../shared/corpus".into()));
    let phishing = load(&corpus.join("phishing"), true);
    let benign = load(&corpus.join("benign"), false);
    assert!(!phishing.is_empty() && !benign.is_empty(), "no corpus at {}", corpus.display());
    let work = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let dir = work.path();
    let mut out = String::new();

    // `BENCH_PARTS=quality,cost,join` (any of them; default all) runs only those parts.
    let parts = std::env::var("BENCH_PARTS").unwrap_or_else(|_| "quality,cost,join".into());
    let want = |p: &str| parts.split(',').any(|x| x.trim() == p);
    if want("quality") {
        let (judged, unjudged) = quality(dir, &phishing, &benign);
        quality_report(&mut out, &judged, unjudged);
    }
    if want("cost") {
        cost(&mut out, dir, &phishing);
    }
    if want("join") {
        join(&mut out, dir, &phishing);
    }
    println!("{out}");
}

/// Part 1, quality: phishing and benign interleaved, so "newly seen" favours neither. The
/// emails judged, and how many got no verdict.
fn quality(dir: &Path, phishing: &[Email], benign: &[Email]) -> (Vec<Judged>, usize) {
    let mut all: Vec<&Email> = Vec::new();
    for i in 0..phishing.len().max(benign.len()) {
        all.extend(phishing.get(i));
        all.extend(benign.get(i));
    }
    let url = fresh("sqlite", dir, "quality").unwrap_or_default();
    let (db, ctx) = open(&url, dir, true);
    let mut judged = Vec::new();
    let mut unjudged = 0;
    for e in &all {
        let name = e.path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let Some(row) = import(&db, &ctx, e.raw.clone(), &name) else {
            unjudged += 1;
            continue;
        };
        let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
        match verdicts::get(&mut conn, row.id).ok().flatten() {
            Some(v) => judged.push(Judged {
                phish: e.phish,
                even: e.even,
                file: name,
                verdict: v.verdict,
                score: v.score,
                reasons: harpoon::service::verdict::reasons_of(&v.reasons),
            }),
            None => unjudged += 1,
        }
    }
    (judged, unjudged)
}

fn quality_report(out: &mut String, judged: &[Judged], unjudged: usize) {
    // `BENCH_DUMP=FILE`: one JSON line per judged email (file, class, half, score, reasons), for
    // looking at the even half's scores offline (fitting weights by hand or by regression).
    if let Ok(path) = std::env::var("BENCH_DUMP") {
        let lines: Vec<String> = judged
            .iter()
            .map(|j| {
                serde_json::json!({
                    "file": j.file, "phish": j.phish, "even": j.even, "verdict": j.verdict,
                    "score": j.score, "reasons": j.reasons,
                })
                .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    out.push_str("## Quality (SQLite, every email through the import path, fresh database)\n\n");
    quality_table(out, judged);
    out.push_str(&format!(
        "\nEmails without a verdict (failed imports: nothing could be read): {unjudged}.\n"
    ));
    let mut signals: BTreeMap<(String, bool), usize> = BTreeMap::new();
    for j in judged {
        for r in &j.reasons {
            *signals.entry((r.signal.clone(), j.phish)).or_default() += 1;
        }
    }
    out.push_str("\n### How often each signal spoke\n\n| signal | phishing | benign |\n|---|---|---|\n");
    let names: std::collections::BTreeSet<&String> = signals.keys().map(|(s, _)| s).collect();
    for s in names {
        let n = |p: bool| signals.get(&(s.clone(), p)).copied().unwrap_or(0);
        out.push_str(&format!("| `{s}` | {} | {} |\n", n(true), n(false)));
    }
    let phish_benign: Vec<&Judged> =
        judged.iter().filter(|j| j.phish && j.verdict == "likely_benign").collect();
    if !phish_benign.is_empty() {
        out.push_str("\n### Phishing suggested likely benign\n\n");
        for j in phish_benign {
            out.push_str(&format!("- {} (score {})\n", j.file, j.score));
        }
    }
    out.push_str("\n### Benign misses (benign emails not suggested likely benign) and their reasons\n\n");
    for j in judged.iter().filter(|j| !j.phish && j.verdict != "likely_benign") {
        let why: Vec<String> = j
            .reasons
            .iter()
            .filter(|r| r.weight != 0)
            .map(|r| {
                format!(
                    "{} {:+} ({})",
                    r.signal,
                    r.weight,
                    r.evidence.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        out.push_str(&format!("- {} → {} {}: {}\n", j.file, j.verdict, j.score, why.join("; ")));
    }
}

/// Part 2, cost: the phishing corpus imported with verdicts off and on (with a resolver that
/// answers, and with one that never does), alternated, best of two.
fn cost(out: &mut String, dir: &Path, phishing: &[Email]) {
    let configs: [(&str, bool, Option<&str>); 3] = [
        ("off", false, None),
        ("on", true, None),
        ("on, the resolver down (127.0.0.1:9)", true, Some("127.0.0.1:9")),
    ];
    // Wall time and this process's CPU time (every thread: the DKIM lookups' too); on a
    // shared machine the wall time includes waiting for a core.
    let mut times: BTreeMap<usize, Vec<(Duration, f64)>> = BTreeMap::new();
    for round in 0..2 {
        for (k, (_, on, dns)) in configs.iter().enumerate() {
            let url = fresh("sqlite", dir, &format!("cost_{round}_{k}")).unwrap_or_default();
            let (db, ctx) = open_with(&url, dir, *on, *dns);
            let (start, cpu) = (Instant::now(), common::cpu_ticks().unwrap_or_default());
            for e in phishing {
                let _ = import(&db, &ctx, e.raw.clone(), "cost");
            }
            let cpu_s = common::cpu_ticks().unwrap_or_default().saturating_sub(cpu) as f64 / 100.0;
            times.entry(k).or_default().push((start.elapsed(), cpu_s));
        }
    }
    let best = |k: usize| {
        let t = times.get(&k).map(Vec::as_slice).unwrap_or_default();
        let wall = t.iter().map(|(w, _)| *w).min().unwrap_or_default().as_secs_f64();
        let cpu = t.iter().map(|(_, c)| *c).fold(f64::INFINITY, f64::min);
        (wall, if cpu.is_finite() { cpu } else { 0.0 })
    };
    let (off_wall, off_cpu) = best(0);
    out.push_str(&format!(
        "\n## Cost (SQLite, {} phishing emails imported one after another, best of 2 alternated rounds; load {})\n\n| verdicts | wall time | emails/s | CPU time | added to import time: wall / CPU (goal ≤ 20 %) |\n|---|---|---|---|---|\n",
        phishing.len(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    ));
    for (k, (name, _, _)) in configs.iter().enumerate() {
        let (wall, cpu) = best(k);
        out.push_str(&format!(
            "| {name} | {wall:.2} s | {:.0} | {cpu:.2} s | {} |\n",
            phishing.len() as f64 / wall.max(1e-9),
            if k == 0 {
                String::new()
            } else {
                format!(
                    "**{:.1} % / {:.1} %**",
                    100.0 * (wall / off_wall.max(1e-9) - 1.0),
                    100.0 * (cpu / off_cpu.max(1e-9) - 1.0)
                )
            }
        ));
    }
}

/// Part 3, the known-phish auto-join, per backend.
fn join(out: &mut String, dir: &Path, phishing: &[Email]) {
    out.push_str("\n## Known-phish auto-join (every phish committed, then reported again by someone else)\n\n| backend | committed | re-reported | suggested known phish | joined the same event (goal 100 %) |\n|---|---|---|---|---|\n");
    for backend in ["sqlite", "postgres"] {
        let Some(url) = fresh(backend, dir, "harpoon_bench_verdicts") else {
            out.push_str(&format!("| {backend} | skipped (BENCH_PG_URL not set) | | | |\n"));
            continue;
        };
        let (db, ctx) = open(&url, dir, true);
        let mut firsts: Vec<(&Email, i64)> = Vec::new();
        for e in phishing {
            let Some(row) = import(&db, &ctx, e.raw.clone(), "first") else { continue };
            let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
            let event = if row.state == harpoon::service::imports::ImportState::Draft {
                imports::commit(&mut conn, &ctx, row.id, "bench", EventMeta::default())
                    .ok()
                    .map(|c| c.event_id)
            } else {
                row.event_id
            };
            if let Some(ev) = event {
                firsts.push((e, ev));
            }
        }
        let (mut known, mut same) = (0, 0);
        for (k, (e, event)) in firsts.iter().enumerate() {
            let again = forwarded(&e.raw, k);
            let Some(row) = import(&db, &ctx, again, "again") else { continue };
            let mut conn = db.conn().unwrap_or_else(|e| panic!("{e}"));
            if verdicts::get(&mut conn, row.id).ok().flatten().is_some_and(|v| v.verdict == "known_phish") {
                known += 1;
            }
            if row.state == harpoon::service::imports::ImportState::Committed && row.event_id == Some(*event)
            {
                same += 1;
            }
        }
        let n = firsts.len();
        out.push_str(&format!(
            "| {backend} | {n} | {n} | {known} | **{same} ({:.1} %)** |\n",
            100.0 * same as f64 / n.max(1) as f64
        ));
        drop(db);
    }
}

/// The phish as another employee reports it: forwarded as an attachment (new bytes).
fn forwarded(raw: &[u8], k: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Employee {k} <employee{k}@harpoon-bench.example>\r\nTo: security@harpoon-bench.example\r\n\
         Subject: Fwd: suspicious\r\nMessage-ID: <report-{k}@harpoon-bench.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b-{k}-harpoon\"\r\n\r\n--b-{k}-harpoon\r\n\
         Content-Type: text/plain\r\n\r\nThis looks like phishing.\r\n--b-{k}-harpoon\r\n\
         Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"phish.eml\"\r\n\r\n"
    )
    .into_bytes();
    m.extend_from_slice(raw);
    m.extend_from_slice(format!("\r\n--b-{k}-harpoon--\r\n").as_bytes());
    m
}
