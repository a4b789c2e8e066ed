//! `/metrics` (Prometheus text, administrators or a `metrics` token) and the request id every
//! response echoes.

use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::phish::phish;
use crate::helpers::{TestApp, status_json};

/// The value of one sample line (`name{labels} value`) in an exposition, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.trim().parse::<f64>().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_are_for_administrators_and_metrics_tokens_only() {
    let app = TestApp::spawn_acme().await;
    let reader = app.add_user("rea", "reader").await;
    assert_eq!(app.get("/metrics").send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/metrics").basic_auth("rea", Some(&reader)).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // Only an administrator issues a metrics token; it reaches /metrics and nothing else.
    let (s, _) = status_json(
        app.post("/api/v1/tokens")
            .basic_auth("rea", Some(&reader))
            .json(&json!({ "scope": "metrics" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .post_json("/api/v1/tokens", &json!({ "username": "rea", "scope": "metrics", "label": "prometheus" }))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let before = app.get("/metrics").bearer_auth(&token).send().await.unwrap();
    assert_eq!(before.status(), StatusCode::OK);
    assert!(before.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let before = before.text().await.unwrap();

    // Traffic shows up: requests by route group and status, imports, TAXII reads, the pool.
    let me = r#"harpoon_http_requests_total{group="api:me",method="GET",status="200"}"#;
    for _ in 0..3 {
        assert_eq!(app.as_admin(app.get("/api/v1/me")).send().await.unwrap().status(), StatusCode::OK);
    }
    app.import_id(&phish("m@acme-corp.com", "<metrics@x>")).await;
    let active = app.active_id().await;
    let r = app
        .as_admin(app.taxii_get(&format!("/taxii2/root/collections/{active}/objects/")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let after = app.get("/metrics").bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(sample(&after, me) >= sample(&before, me) + 3.0, "{after}");
    let created = r#"harpoon_imports_total{outcome="created"}"#;
    assert!(sample(&after, created) >= sample(&before, created) + 1.0, "{after}");
    let reads = format!(r#"harpoon_taxii_reads_total{{collection="{active}"}}"#);
    assert!(sample(&after, &reads) >= 1.0, "{after}");
    assert!(
        after.contains(r#"harpoon_http_request_duration_seconds_bucket{le="0.001",group="api:me"}"#)
            || after.contains(r#"harpoon_http_request_duration_seconds_bucket{group="api:me",le="0.001"}"#),
        "{after}"
    );
    assert!(sample(&after, r#"harpoon_db_pool_connections{state="max"}"#) >= 1.0, "{after}");
    assert!(after.trim_end().ends_with("# EOF"));
    // An id-per-path label would grow without bound: groups only.
    assert!(!after.contains("/api/v1/"), "raw paths leaked into labels");
}

#[tokio::test]
async fn every_response_echoes_a_request_id() {
    let app = TestApp::spawn().await;
    let r = app.get("/healthz").header("X-Request-Id", "lb-7f3a.1").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-7f3a.1");
    let r = app.get("/api/v1/me").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 24, "{id}");
    let r = app.get("/healthz").header("X-Request-Id", "not plain; <script>").send().await.unwrap();
    let replaced = r.headers()["x-request-id"].to_str().unwrap();
    assert!(replaced != "not plain; <script>" && replaced.len() == 24, "{replaced}");
    let r = app.get("/taxii2/").header("Accept", "text/html").send().await.unwrap();
    assert!(r.headers().get("x-request-id").is_some(), "errors carry it too");
}
