//! Crafted hostile inputs (issue 15 part 3; `tests/fixtures/hostile/generate.py`) imported
//! through REST: the server stays up, each import ends — stored as a draft, or failed with a
//! reason — and the limit that stopped the email is recorded on the draft. Peak memory and time
//! are measured by `scripts/bench-hostile` (a benchmark, not a timed test); the connector path
//! is in `connectors.rs`.

use serde_json::Value;

use crate::fixtures::hostile::{hostile_input, warning_kinds};
use crate::helpers::{TestApp, status_json};

/// Imports one input through REST and returns its draft, after checking the server answers.
async fn import_through_rest(app: &TestApp, name: &str) -> Value {
    let raw = hostile_input(name);
    let ct = if name.ends_with(".msg") { "application/vnd.ms-outlook" } else { "message/rfc822" };
    let (status, body) = status_json(
        app.as_admin(app.post("/api/v1/imports"))
            .header("Content-Type", ct)
            .body(raw)
            .timeout(std::time::Duration::from_secs(600))
            .send()
            .await
            .expect("the import is answered"),
    )
    .await;
    let health = app.get("/healthz").send().await.expect("the server is still up");
    assert!(health.status().is_success(), "healthz after {name}: {}", health.status());
    assert!(status.is_success(), "{name}: {status} {body}");
    let id = body["imports"][0]["id"].as_i64().unwrap_or_else(|| panic!("{name}: no import in {body}"));
    app.draft(id).await
}

/// Imports `name` and checks that one of `kinds` is among its limit hits.
async fn ends_with_limit(name: &str, kinds: &[&str]) -> Value {
    let app = TestApp::spawn().await;
    let draft = import_through_rest(&app, name).await;
    let got = warning_kinds(&draft);
    assert!(kinds.iter().any(|k| got.iter().any(|g| g == k)), "{name}: wanted one of {kinds:?}, got {got:?}");
    assert_eq!(draft["state"], "draft", "{name}: stored as a draft");
    draft
}

#[tokio::test]
async fn nested_zip_bombs_spend_the_one_budget_and_say_so() {
    let draft = ends_with_limit("nested-zip-bombs.eml", &["budget"]).await;
    let w = draft["warnings"].to_string();
    assert!(w.contains("budget"), "{w}");
}

#[tokio::test]
async fn overlapping_zip_entries_are_bounded_by_the_archive_limits() {
    ends_with_limit("overlap-zip-bomb.eml", &["archive_limit", "budget"]).await;
}

#[tokio::test]
async fn twenty_five_text_members_are_read_within_the_limits() {
    let draft = ends_with_limit("text-members.eml", &["observable_limit", "budget"]).await;
    // The members were read: their links are on the draft.
    let items = draft["items"].to_string();
    assert!(items.contains("hostile-test.top"), "no member was scanned");
}

#[tokio::test]
async fn a_msg_whose_storages_share_one_sector_chain_is_read_once() {
    let draft = ends_with_limit("msg-shared-sectors.msg", &["too_many_parts"]).await;
    let w = draft["warnings"].to_string();
    assert!(w.contains("shares its sectors"), "{w}");
}

#[tokio::test]
async fn ten_thousand_mime_parts_stop_at_the_parts_limit() {
    ends_with_limit("mime-10000-parts.eml", &["too_many_parts"]).await;
}

#[tokio::test]
async fn rfc822_nested_a_hundred_deep_stops_at_the_nesting_limit() {
    ends_with_limit("rfc822-nested-100.eml", &["nesting_depth", "mime_depth"]).await;
}

#[tokio::test]
async fn a_header_line_over_a_megabyte_is_cut() {
    ends_with_limit("header-1mb.eml", &["header_too_long"]).await;
}

#[tokio::test]
async fn an_html_body_with_100000_links_keeps_the_first_values() {
    ends_with_limit("html-100k-links.eml", &["observable_limit"]).await;
}

#[tokio::test]
async fn a_50_mb_base64_part_is_read_within_the_limits() {
    // Within every limit: decoded, kept and scanned whole.
    let app = TestApp::spawn().await;
    let draft = import_through_rest(&app, "base64-50mb.eml").await;
    assert_eq!(draft["state"], "draft");
    assert!(draft["items"].to_string().contains("hostile-test.top"), "the part was not scanned");
}
