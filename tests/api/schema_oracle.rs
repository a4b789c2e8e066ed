//! Holds Harpoon's STIX schemas (`src/stix/schema.rs`) against the OASIS `stix2-validator` in
//! strict mode on the corpus in `tests/fixtures/stix/{valid,invalid}/`: every valid file must
//! pass both, every invalid file must fail both. Invalid files are named after the rule they
//! break.

use std::fs;
use std::path::Path;

use harpoon::stix::schema::StixValidator;
use serde_json::{Value, json};

/// The corpus floors the brief sets; a shrinking corpus is a failure, not a quieter test.
const MIN_VALID: usize = 40;
const MIN_INVALID: usize = 40;

/// Every STIX type we emit or accept must appear in the valid corpus.
const TYPES_COVERED: &[&str] = &[
    "indicator",
    "relationship",
    "sighting",
    "report",
    "grouping",
    "identity",
    "intrusion-set",
    "vulnerability",
    "note",
    "observed-data",
    "marking-definition",
    "bundle",
    "email-message",
    "email-addr",
    "url",
    "domain-name",
    "ipv4-addr",
    "ipv6-addr",
    "file",
    "artifact",
];

struct Case {
    file: String,
    expect_valid: bool,
    object: Value,
}

fn load(kind: &str, expect_valid: bool) -> Vec<Case> {
    let dir = crate::oracle::repo_root().join("tests/fixtures/stix").join(kind);
    let mut cases: Vec<Case> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| Case {
            file: format!("{kind}/{}", file_name(&path)),
            expect_valid,
            object: serde_json::from_str(&fs::read_to_string(&path).expect("readable"))
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display())),
        })
        .collect();
    cases.sort_by(|a, b| a.file.cmp(&b.file));
    cases
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn verdict(valid: bool) -> &'static str {
    if valid { "valid" } else { "INVALID" }
}

#[test]
fn schema_oracle_corpus_agrees_with_oasis_validator() {
    let valid = load("valid", true);
    let invalid = load("invalid", false);
    assert!(valid.len() >= MIN_VALID, "only {} valid corpus files", valid.len());
    assert!(invalid.len() >= MIN_INVALID, "only {} invalid corpus files", invalid.len());
    for stix_type in TYPES_COVERED {
        assert!(
            valid.iter().any(|c| c.object["type"] == json!(stix_type)),
            "no valid corpus object of type {stix_type}"
        );
        assert!(
            invalid.iter().any(|c| c.object["type"] == json!(stix_type)),
            "no invalid corpus object of type {stix_type}"
        );
    }

    let cases: Vec<Case> = valid.into_iter().chain(invalid).collect();
    let ours = StixValidator::new().expect("embedded schemas compile");
    // One python start for the whole corpus: the validator takes seconds to import.
    let objects: Vec<&Value> = cases.iter().map(|c| &c.object).collect();
    let oracle = crate::oracle::run("validate.py", &json!({ "objects": objects }));
    let results = oracle["results"].as_array().expect("oracle results");
    assert_eq!(results.len(), cases.len(), "one oracle result per object");

    let mut disagreements = Vec::new();
    for (case, oasis) in cases.iter().zip(results) {
        let ours_result = ours.validate(&case.object);
        let ours_valid = ours_result.is_ok();
        let oasis_valid = oasis["valid"].as_bool().expect("oracle verdict");
        if ours_valid == case.expect_valid && oasis_valid == case.expect_valid {
            continue;
        }
        let ours_detail = match &ours_result {
            Ok(()) => String::new(),
            Err(violations) => violations.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "),
        };
        let oasis_detail = oasis["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "))
            .unwrap_or_default();
        disagreements.push(format!(
            "{:<62} {:<8} {:<8} {:<8}\n    ours:  {ours_detail}\n    oasis: {oasis_detail}",
            case.file,
            verdict(case.expect_valid),
            verdict(ours_valid),
            verdict(oasis_valid),
        ));
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} corpus files where our schemas, the OASIS validator and the file's folder do not agree:\n{:<62} {:<8} {:<8} {:<8}\n{}",
        disagreements.len(),
        cases.len(),
        "file",
        "expected",
        "ours",
        "oasis",
        disagreements.join("\n")
    );
}

#[test]
fn schema_oracle_invalid_files_fail_for_one_reason() {
    // An invalid file is named after the one rule it breaks; if our schemas report violations
    // at several places, the file tests more than its name says.
    let ours = StixValidator::new().expect("embedded schemas compile");
    let mut noisy = Vec::new();
    for case in load("invalid", false) {
        if let Err(violations) = ours.validate(&case.object) {
            let mut pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
            pointers.sort_unstable();
            pointers.dedup();
            if pointers.len() > 1 {
                noisy.push(format!("{}: {violations:?}", case.file));
            }
        }
    }
    assert!(noisy.is_empty(), "invalid files breaking more than one property:\n{}", noisy.join("\n"));
}
