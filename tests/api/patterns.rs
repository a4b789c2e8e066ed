//! STIX patterns read by the grammar at the TAXII edge: a POSTed indicator whose STIX pattern is
//! invalid fails on its own, with the position; partner intake takes the values of a disjunction
//! of equalities, quoted ` AND ` and `]` included, and nothing from a conjunction.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TAXII, TestApp, status_json};

fn partner_indicator(n: u8, pattern: &str, pattern_type: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--6b2a2f1e-{n:04}-4a6e-9c55-1f0d6a3f2b01"),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "x",
        "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": pattern_type,
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

async fn indicator_values(app: &TestApp, value: &str) -> Vec<Value> {
    indicators(app, "value", value).await
}

async fn indicators(app: &TestApp, param: &str, value: &str) -> Vec<Value> {
    let (_, body) = status_json(
        app.as_admin(app.get("/api/v1/indicators")).query(&[(param, value)]).send().await.unwrap(),
    )
    .await;
    body["indicators"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn posted_patterns_are_checked_by_the_grammar_and_intake_reads_them() {
    let app = TestApp::spawn().await;
    let password = app.add_user("partner", "partner").await;
    let resp = app
        .as_admin(app.post("/api/v1/collections"))
        .json(&json!({ "title": "Inbound", "alias": "inbound", "writers": ["partner"], "intake": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let objects = vec![
        partner_indicator(1, "[domain-name:value = 'broken.evil.net' AND]", "stix"),
        partner_indicator(2, "[domain-name:value = 'sigma-not-judged.evil.net' AND]", "sigma"),
        partner_indicator(
            3,
            "[url:value = 'http://x.evil.net/a AND b]' OR domain-name:value IN ('quoted.evil.net', 'second.evil.net')]",
            "stix",
        ),
        partner_indicator(
            4,
            "[domain-name:value = 'both.evil.net'] AND [domain-name:value = 'together.evil.net']",
            "stix",
        ),
    ];
    let resp = app
        .post("/taxii2/root/collections/inbound/objects/")
        .basic_auth("partner", Some(&password))
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .body(json!({ "objects": objects }).to_string())
        .send()
        .await
        .unwrap();
    let (status, st) = status_json(resp).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{st}");
    assert_eq!((st["success_count"].as_u64(), st["failure_count"].as_u64()), (Some(3), Some(1)), "{st}");
    let failure = &st["failures"][0];
    assert_eq!(failure["id"], "indicator--6b2a2f1e-0001-4a6e-9c55-1f0d6a3f2b01");
    let message = failure["message"].as_str().unwrap();
    assert!(
        message.contains(
            "/pattern: invalid STIX pattern at byte 42 (line 1, column 43): expected an object type"
        ),
        "{message}"
    );

    // The intake loop runs every 2 s.
    let mut found = Vec::new();
    for _ in 0..50 {
        found = indicator_values(&app, "second.evil.net").await;
        if !found.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(found.len(), 1, "each value of an IN set became an indicator");
    assert_eq!(indicator_values(&app, "quoted.evil.net").await.len(), 1);
    // The quoted ` AND ` and `]` did not make the pattern a conjunction.
    let urls = indicators(&app, "q", "x.evil.net/a").await;
    assert_eq!(urls.len(), 1, "{urls:?}");
    assert_eq!(urls[0]["type"], "url");
    // A conjunction names no single value; other pattern languages are not read.
    for value in ["both.evil.net", "together.evil.net", "sigma-not-judged.evil.net", "broken.evil.net"] {
        assert_eq!(indicator_values(&app, value).await, Vec::<Value>::new(), "{value}");
    }
}
