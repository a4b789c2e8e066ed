//! `harpoon extract`: every golden email and every email of the shared corpus (phishing, `.msg`,
//! benign) become STIX bundles that the OASIS validator accepts in strict mode; bad input is a clear
//! error that does not stop the batch.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use harpoon::extract::{self, ExtractOptions};
use serde_json::Value;

use crate::oracle::repo_root;

fn harpoon_extract(args: &[&str], files: &[PathBuf]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_harpoon"))
        .env("HARPOON_LOG", "error")
        .env("HARPOON_DATA_DIR", "/nonexistent/harpoon-extract-must-not-touch-this")
        .arg("extract")
        .args(args)
        .args(files)
        .output()
        .unwrap()
}

fn files_in(dir: PathBuf, ext: &str, take: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    files.truncate(take);
    files
}

fn bundle_of(files: &[PathBuf]) -> Value {
    let out = harpoon_extract(&[], files);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON bundle")
}

fn assert_strictly_valid(bundle: &Value, label: &str) {
    let result = crate::oracle::run("validate.py", &serde_json::json!({ "bundle": bundle }));
    let r = &result["results"][0];
    assert_eq!(r["valid"], true, "{label}: {}", r["errors"]);
}

#[test]
fn golden_emails_become_strictly_valid_bundles() {
    let files = files_in(repo_root().join("tests/fixtures/mail"), "eml", usize::MAX);
    assert!(files.len() >= 60, "{} golden emails", files.len());
    let bundle = bundle_of(&files);
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    let count = |t: &str| objects.iter().filter(|o| o["type"] == t).count();
    // One raw artifact per input that holds a message (a pasted body alone has none); messages
    // that share From and Subject share an email-message id.
    assert!(
        count("artifact") + 2 >= files.len(),
        "{} artifacts for {} inputs",
        count("artifact"),
        files.len()
    );
    assert!(count("email-message") >= 15, "{}", count("email-message"));
    for t in ["url", "domain-name", "ipv4-addr", "email-addr", "file", "relationship", "vulnerability"] {
        assert!(count(t) > 0, "no {t} in the golden bundle");
    }
    // Every email-message keeps its raw bytes.
    let ids: std::collections::HashSet<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
    for m in objects.iter().filter(|o| o["type"] == "email-message") {
        assert!(ids.contains(m["raw_email_ref"].as_str().unwrap()), "{m}");
    }
    assert_strictly_valid(&bundle, "golden");
}

fn emails_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            emails_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "eml" || x == "msg") {
            out.push(p);
        }
    }
}

/// What `harpoon extract FILE` prints, made in-process by the same calls (`cli::extract`):
/// spawning 1,732 debug binaries cost 49 s, the extraction itself 10 s.
fn bundle_line(corpus: &Path, file: &Path, options: &ExtractOptions) -> Vec<u8> {
    let raw = std::fs::read(file).unwrap();
    let messages = if extract::detect_input(&raw) == extract::InputKind::Mbox {
        extract::split_mbox(&raw)
    } else {
        vec![raw.as_slice()]
    };
    let extractions: Vec<_> = messages.iter().map(|m| extract::extract(m, options)).collect();
    let pairs: Vec<(&[u8], &extract::Extraction)> = messages.iter().copied().zip(&extractions).collect();
    let (bundle, _skipped) = extract::bundle::to_bundle(&pairs).unwrap();
    let label = file.strip_prefix(corpus).unwrap_or(file).display().to_string();
    serde_json::to_vec(&serde_json::json!({ "label": label, "bundle": bundle })).unwrap()
}

/// Every email of the shared corpus (phishing, msg and benign: 1,732 files) as the bundle
/// `harpoon extract FILE` prints for it, every one strictly valid for the OASIS validator, all
/// checked by one Python process (`validate.py --lines`, two workers). The corpus is
/// `../shared/corpus` or `HARPOON_CORPUS`; a missing one fails.
#[test]
fn every_corpus_email_becomes_a_strictly_valid_bundle() {
    if crate::helpers::TestDb::expected_backend() != harpoon::db::Backend::Sqlite {
        // No database involved, and the longest oracle run: once per suite (the SQLite run).
        eprintln!("the SQLite run validates the corpus");
        return;
    }
    let corpus = std::env::var_os("HARPOON_CORPUS")
        .map_or_else(|| repo_root().join("../shared/corpus"), PathBuf::from);
    let mut files = Vec::new();
    for folder in ["phishing", "msg", "benign"] {
        emails_under(&corpus.join(folder), &mut files);
    }
    assert!(
        files.len() >= 1700,
        "the shared corpus is incomplete: {} files in {}",
        files.len(),
        corpus.display()
    );
    let started = Instant::now();
    let options = ExtractOptions::for_organisation(&[], &[]);
    let (corpus, options) = (corpus.as_path(), &options);
    let halves: Vec<&[PathBuf]> = files.chunks(files.len().div_ceil(2)).collect();
    let lines: Vec<Vec<u8>> = std::thread::scope(|scope| {
        let workers: Vec<_> = halves
            .iter()
            .map(|half| {
                scope.spawn(move || half.iter().map(|f| bundle_line(corpus, f, options)).collect::<Vec<_>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    let extracted = started.elapsed();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let result = crate::oracle::run_lines("validate.py", lines);
    let results = result["results"].as_array().unwrap();
    eprintln!(
        "corpus: {} bundles ({:.1} MB of JSON): extraction {:.1} s, stix2-validator {:.1} s",
        results.len(),
        bytes as f64 / 1e6,
        extracted.as_secs_f64(),
        (started.elapsed() - extracted).as_secs_f64()
    );
    assert_eq!(results.len(), files.len());
    let invalid: Vec<String> = results
        .iter()
        .filter(|r| r["valid"] != true)
        .map(|r| format!("{}: {}", r["label"].as_str().unwrap_or_default(), r["errors"]))
        .collect();
    assert!(
        invalid.is_empty(),
        "{} of {} bundles are not strictly valid:\n{}",
        invalid.len(),
        results.len(),
        invalid.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn table_and_json_formats_and_unreadable_input() {
    let esmtp = repo_root().join("tests/fixtures/mail/esmtp_id_received.eml");
    let out = harpoon_extract(&["--format", "table"], std::slice::from_ref(&esmtp));
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("TYPE") && table.contains("proposed"), "{table}");

    let out = harpoon_extract(&["--format", "json"], std::slice::from_ref(&esmtp));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let x = &json[0]["extraction"];
    assert!(x["observables"].as_array().is_some_and(|o| !o.is_empty()));
    assert!(x["observables"][0]["provenance"][0]["start"].is_u64(), "spans are printed");

    // An unreadable file fails the run, after the readable ones were printed.
    let missing = PathBuf::from("/nonexistent/nothing.eml");
    let out = harpoon_extract(&[], &[esmtp, missing]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot read /nonexistent/nothing.eml"), "{stderr}");
    let bundle: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(bundle["objects"].as_array().is_some_and(|o| !o.is_empty()));
    // Garbage is not unreadable: it parses as pasted text and yields what it holds.
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.bin");
    std::fs::write(&garbage, b"\x00\xff\xfe garbage http://evil.example/x \x01").unwrap();
    let out = harpoon_extract(&[], &[garbage]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
