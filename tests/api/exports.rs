//! Exports for devices that cannot speak TAXII: each format's content (text with wildcards, CSV
//! quoting, Suricata rules loaded by Debian's `suricata -T`, a STIX bundle that passes the OASIS
//! validator in strict mode), the token in the header and in the URL, filters, the whitelist,
//! stable SIDs, keyset pages, and the errors.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use harpoon::db::indicators::{self as store, NewIndicator};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_json};
use crate::oracle;

const DAY_US: i64 = 86_400_000_000;

/// An indicator to seed: type, value, status, score, TLP, tags, days since last seen.
struct Seed(&'static str, &'static str, &'static str, i32, &'static str, &'static [&'static str], i64);

/// Seeds indicators straight into the store (the triage path is the seed scenario's business).
async fn seed(app: &TestApp, seeds: Vec<Seed>) -> BTreeMap<String, i64> {
    let now = harpoon::db::now_micros();
    app.db
        .run(move |conn| {
            let mut ids = BTreeMap::new();
            for Seed(kind, value, status, score, tlp, tags, age_days) in seeds {
                let seen = now - age_days * DAY_US;
                let new = NewIndicator {
                    kind: harpoon::extract::ObservableKind::from_name(kind).unwrap(),
                    value: value.into(),
                    status: harpoon::db::indicators::Status::from_name(status).unwrap(),
                    score,
                    tlp: tlp.into(),
                    description: None,
                    first_seen: seen - DAY_US,
                    last_seen: seen,
                    status_changed_at: seen,
                    stix_id: format!("indicator--{}", uuid::Uuid::new_v4()),
                    whitelist_rule_id: None,
                    created_at: seen,
                    updated_at: seen,
                };
                let (row, _) = store::upsert(conn, &[new])?.remove(0);
                let tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                store::add_tags(conn, &[row.id], &tags)?;
                ids.insert(value.to_string(), row.id);
            }
            Ok::<_, harpoon::db::DbError>(ids)
        })
        .await
        .unwrap()
}

fn the_usual() -> Vec<Seed> {
    vec![
        Seed(
            "url",
            "http://secure-login.paypa1-verify.com/account/update.php?id=1;x=\"2\"",
            "active",
            80,
            "green",
            &["paypal", "=cmd"],
            1,
        ),
        Seed("domain", "paypa1-verify.com", "active", 70, "green", &["paypal"], 2),
        Seed("ipv4", "82.118.16.98", "active", 60, "amber", &["infra,hosting"], 3),
        Seed("ipv6", "2a00:1450:4001:82a::200e", "active", 50, "clear", &[], 4),
        Seed(
            "sha256",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "active",
            90,
            "green",
            &[],
            5,
        ),
        Seed("email", "security@paypa1-verify.com", "active", 40, "red", &[], 40),
        Seed("domain", "review-only.example.net", "review", 30, "green", &[], 1),
        Seed("domain", "expired-one.example.org", "expired", 30, "green", &[], 100),
    ]
}

async fn create_export(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.post_json("/api/v1/exports", &body).await
}

/// The feed as the admin reads it.
async fn feed(app: &TestApp, name: &str) -> (StatusCode, String, String) {
    let resp = app.as_admin(app.get(&format!("/api/v1/exports/{name}/feed"))).send().await.unwrap();
    let status = resp.status();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

async fn feed_ok(app: &TestApp, name: &str) -> String {
    let (status, _, body) = feed(app, name).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn lines(text: &str) -> BTreeSet<String> {
    text.lines().map(str::to_string).collect()
}

#[tokio::test]
async fn the_text_export_is_one_value_per_line_with_wildcards_on_request() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    app.make_export(json!({ "name": "edl-all", "format": "text" })).await;
    app.make_export(json!({ "name": "edl-domains", "format": "text", "filters": { "type": ["domain"] },
                "options": { "domain_wildcards": true } }))
        .await;
    app.make_export(json!({ "name": "edl-urls", "format": "text", "filters": { "type": ["url"] },
                "options": { "strip_url_scheme": true } }))
        .await;
    let (status, ct, all) = feed(&app, "edl-all").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "text/plain; charset=utf-8");
    // Active only by default, in id order, every type; not the TLP:RED email address (the
    // default ceiling is AMBER).
    assert_eq!(
        all.lines().collect::<Vec<_>>(),
        vec![
            "http://secure-login.paypa1-verify.com/account/update.php?id=1;x=\"2\"",
            "paypa1-verify.com",
            "82.118.16.98",
            "2a00:1450:4001:82a::200e",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        ]
    );
    assert_eq!(feed_ok(&app, "edl-domains").await, "paypa1-verify.com\n*.paypa1-verify.com\n");
    assert_eq!(
        feed_ok(&app, "edl-urls").await,
        "secure-login.paypa1-verify.com/account/update.php?id=1;x=\"2\"\n"
    );
}

#[tokio::test]
async fn the_csv_export_quotes_fields_and_neutralises_formulas() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    app.make_export(json!({ "name": "sheet", "format": "csv", "filters": { "type": ["url", "ipv4"] } }))
        .await;
    let (status, ct, body) = feed(&app, "sheet").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let records: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(records[0], "type,value,status,score,tlp,first_seen,last_seen,tags");
    assert!(
        records[1].starts_with(
            "url,\"http://secure-login.paypa1-verify.com/account/update.php?id=1;x=\"\"2\"\"\",active,80,green,"
        ),
        "{}",
        records[1]
    );
    assert!(records[1].ends_with(",'=cmd|paypal"), "{}", records[1]);
    assert!(records[2].starts_with("ipv4,82.118.16.98,active,60,amber,"), "{}", records[2]);
    assert!(records[2].ends_with(",\"infra,hosting\""), "{}", records[2]);
    assert_eq!(records[3], "", "CRLF after the last record, nothing else");
    assert_eq!(records.len(), 4);
}

/// A minimal Suricata configuration of our own: no system files, logs in the temp dir.
fn suricata_test(rules: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("suricata.yaml");
    std::fs::write(
        &config,
        format!(
            "%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"any\"\n    EXTERNAL_NET: \"any\"\n\
             default-log-dir: {log}\nlogging:\n  default-log-level: info\n  outputs:\n    - console:\n        enabled: yes\n\
             app-layer:\n  protocols:\n    tls:\n      enabled: yes\n    http:\n      enabled: yes\n    dns:\n      tcp:\n        enabled: yes\n      udp:\n        enabled: yes\n",
            log = dir.path().display()
        ),
    )
    .unwrap();
    let rules_file = dir.path().join("harpoon.rules");
    std::fs::write(&rules_file, rules).unwrap();
    let out = Command::new("suricata")
        .arg("-T")
        .arg("-c")
        .arg(&config)
        .arg("-S")
        .arg(&rules_file)
        .arg("-l")
        .arg(dir.path())
        .output()
        .expect("suricata must be installed for this test (scripts/suricata-env installs Debian's package)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn sids(rules: &str) -> BTreeMap<String, String> {
    rules
        .lines()
        .filter(|l| l.starts_with("alert "))
        .map(|l| {
            let msg = l.split("msg:\"").nth(1).unwrap().split("\"; ").next().unwrap().to_string();
            let sid = l.split("sid:").nth(1).unwrap().split(';').next().unwrap().to_string();
            (msg, sid)
        })
        .collect()
}

#[tokio::test]
async fn suricata_rules_load_in_suricata_and_keep_their_sids() {
    let app = TestApp::spawn().await;
    let ids = seed(&app, the_usual()).await;
    app.make_export(json!({ "name": "ids", "format": "suricata",
                "options": { "domain_protocols": ["dns", "tls", "http"] } }))
        .await;
    let first = feed_ok(&app, "ids").await;
    let rules: Vec<&str> = first.lines().filter(|l| l.starts_with("alert ")).collect();
    // URL 1, domain 3 (DNS, TLS, HTTP), IPv4 1, IPv6 1; no rule for the hash and the address.
    assert_eq!(rules.len(), 6, "{first}");
    assert!(first.lines().all(|l| l.starts_with("alert ") || l.starts_with('#')), "{first}");
    let domain_id = ids["paypa1-verify.com"];
    assert!(
        first.contains(&format!(
            "alert dns any any -> any any (msg:\"Harpoon domain paypa1-verify.com\"; dns.query; dotprefix; \
             content:\".paypa1-verify.com\"; endswith; nocase; metadata:harpoon_indicator {domain_id}; sid:{}; rev:1;)",
            1_000_000_000 + 4 * domain_id
        )),
        "{first}"
    );
    assert!(first.contains("alert ip any any <> [82.118.16.98] any"), "{first}");
    assert!(first.contains("http.uri.raw; content:\"/account/update.php?id=1|3b|x=|22|2|22|\"; startswith;"));

    let (ok, log) = suricata_test(&first);
    assert!(ok, "suricata -T refused the rules:\n{log}\n{first}");
    assert!(log.contains(&format!("{} rules successfully loaded, 0 rules failed", rules.len())), "{log}");

    // A new indicator between generations: every existing rule keeps its SID.
    seed(&app, vec![Seed("domain", "newcomer.example.com", "active", 50, "green", &[], 0)]).await;
    let second = feed_ok(&app, "ids").await;
    let (before, after) = (sids(&first), sids(&second));
    for (msg, sid) in &before {
        assert_eq!(after.get(msg), Some(sid), "{msg}");
    }
    assert_eq!(after.len(), before.len() + 3);
    let all: BTreeSet<&String> = after.values().collect();
    assert_eq!(all.len(), after.len(), "SIDs are distinct");
}

#[tokio::test]
async fn the_stix_export_is_a_strictly_valid_bundle() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    app.make_export(
        json!({ "name": "bundle", "format": "stix", "filters": { "status": ["active", "expired"] } }),
    )
    .await;
    let (status, ct, body) = feed(&app, "bundle").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/stix+json;version=2.1");
    let bundle: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    let indicators: Vec<&Value> = objects.iter().filter(|o| o["type"] == "indicator").collect();
    // Five active (not the TLP:RED email address: the default ceiling is AMBER) and the expired one.
    assert_eq!(indicators.len(), 6, "{body}");
    assert!(objects.iter().any(|o| o["type"] == "identity"));
    let expired = indicators.iter().find(|o| o["name"] == "expired-one.example.org").unwrap();
    assert!(expired["valid_until"].is_string(), "{expired}");
    let labelled = indicators.iter().find(|o| o["name"] == "paypa1-verify.com").unwrap();
    assert_eq!(labelled["labels"], json!(["paypal"]));
    let result =
        tokio::task::spawn_blocking(move || oracle::run("validate.py", &json!({ "bundle": bundle })))
            .await
            .unwrap();
    let r = &result["results"][0];
    assert_eq!(r["valid"], true, "{}", r["errors"]);
}

#[tokio::test]
async fn a_feed_takes_the_token_in_the_header_or_the_url() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    app.make_export(json!({ "name": "edl", "format": "text", "filters": { "type": ["ipv4"] } })).await;
    let export_token = app.admin_token("firewall", "export", &["edl"]).await;
    let url = "/api/v1/exports/edl/feed";

    let header = app.get(url).bearer_auth(&export_token).send().await.unwrap();
    assert_eq!(header.status(), StatusCode::OK);
    assert_eq!(header.text().await.unwrap(), "82.118.16.98\n");
    let param = app.get(url).query(&[("token", &export_token)]).send().await.unwrap();
    assert_eq!(param.status(), StatusCode::OK);
    assert_eq!(param.text().await.unwrap(), "82.118.16.98\n");
    // Basic with the token as the password (clients that only speak Basic).
    let basic = app.get(url).basic_auth("fw", Some(&export_token)).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);

    // Missing, wrong or malformed credentials: 401 with the challenges.
    let missing = app.get(url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(missing.headers().get("www-authenticate").is_some());
    let (prefix, secret) = export_token.rsplit_once('_').unwrap();
    let wrong = format!("{prefix}_{}", "0".repeat(secret.len()));
    for bad in [wrong.as_str(), "hpt_nonsense", ""] {
        let r = app.get(url).query(&[("token", bad)]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "token={bad}");
        let r = app.get(url).bearer_auth(bad).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "Bearer {bad}");
    }
    // Two identities at once are refused.
    let both =
        app.get(url).bearer_auth(&export_token).query(&[("token", &export_token)]).send().await.unwrap();
    assert_eq!(both.status(), StatusCode::UNAUTHORIZED);

    // An export token reads exports and nothing else.
    for path in ["/api/v1/indicators", "/api/v1/exports", "/api/v1/exports/edl", "/api/v1/me"] {
        let r = app.get(path).bearer_auth(&export_token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let r = app
        .post("/api/v1/exports")
        .bearer_auth(&export_token)
        .json(&json!({ "name": "mine", "format": "text" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The URL parameter is only for feeds: elsewhere it is not a credential.
    let r = app.get("/api/v1/indicators").query(&[("token", &export_token)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // An intake token is not an export token.
    let intake = app.admin_token("firewall", "intake", &[]).await;
    let r = app.get(url).query(&[("token", &intake)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A revoked export token stops working.
    let (_, list) = status_json(app.as_admin(app.get("/api/v1/tokens")).send().await.unwrap()).await;
    let id =
        list.as_array().unwrap().iter().find(|t| t["scope"] == "export").unwrap()["id"].as_i64().unwrap();
    let r = app
        .as_admin(app.request(reqwest::Method::DELETE, &format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = app.get(url).query(&[("token", &export_token)]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A reader may read a feed with its password but not manage exports.
    let password = app.add_user("viewer", "reader").await;
    let r = app.get(url).basic_auth("viewer", Some(&password)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post("/api/v1/exports")
        .basic_auth("viewer", Some(&password))
        .json(&json!({ "name": "mine", "format": "text" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn filters_select_by_status_type_score_tags_tlp_and_age() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    let cases = [
        (json!({ "status": ["review"] }), vec!["review-only.example.net"]),
        (
            json!({ "status": ["active", "expired"], "type": ["domain"] }),
            vec!["paypa1-verify.com", "expired-one.example.org"],
        ),
        (
            json!({ "min_score": 80 }),
            vec![
                "http://secure-login.paypa1-verify.com/account/update.php?id=1;x=\"2\"",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ],
        ),
        (
            json!({ "tags": ["paypal"], "type": ["domain", "url"] }),
            vec![
                "http://secure-login.paypa1-verify.com/account/update.php?id=1;x=\"2\"",
                "paypa1-verify.com",
            ],
        ),
        (json!({ "tlp": ["amber", "clear"] }), vec!["82.118.16.98", "2a00:1450:4001:82a::200e"]),
        // Last seen 2 days ago: in; 3 days ago (a moment before the generation's cut-off): out.
        (
            json!({ "max_age_days": 3, "type": ["domain", "ipv4", "ipv6", "email"] }),
            vec!["paypa1-verify.com"],
        ),
        (
            json!({ "max_age_days": 5, "type": ["domain", "ipv4", "ipv6", "email"] }),
            vec!["paypa1-verify.com", "82.118.16.98", "2a00:1450:4001:82a::200e"],
        ),
    ];
    for (i, (filters, expected)) in cases.iter().enumerate() {
        let name = format!("case-{i}");
        app.make_export(json!({ "name": name, "format": "text", "filters": filters })).await;
        let got = feed_ok(&app, &name).await;
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(lines(&got), expected, "filters {filters}");
    }
    // The stored definition says what was asked, defaults filled in.
    let one = app.get_ok("/api/v1/exports/case-2").await;
    assert_eq!(one["filters"], json!({ "status": ["active"], "min_score": 80, "max_tlp": "amber" }));
    assert_eq!(one["url"], "/api/v1/exports/case-2/feed");
    assert_eq!(one["options"]["sid_base"], 1_000_000_000);
}

#[tokio::test]
async fn whitelisted_values_never_appear() {
    let app = TestApp::spawn().await;
    seed(&app, the_usual()).await;
    for format in ["text", "csv", "suricata", "stix"] {
        app.make_export(json!({ "name": format!("all-{format}"), "format": format })).await;
    }
    let before = feed_ok(&app, "all-text").await;
    assert!(before.contains("82.118.16.98\n"));
    // A rule made over the API whitelists the stored indicator.
    let (status, body) = app
        .post_json(
            "/api/v1/whitelist",
            &json!({ "match_kind": "cidr", "pattern": "82.118.16.0/24", "reason": "our ISP" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // An Active indicator written after the rule (by any path) is still held back by it.
    seed(&app, vec![Seed("ipv4", "82.118.16.7", "active", 50, "green", &[], 0)]).await;
    // A default rule (documentation range) holds back what slipped into the store as Active.
    seed(&app, vec![Seed("ipv4", "192.0.2.10", "active", 50, "green", &[], 0)]).await;
    for format in ["text", "csv", "suricata", "stix"] {
        let body = feed_ok(&app, &format!("all-{format}")).await;
        for value in ["82.118.16.98", "82.118.16.7", "192.0.2.10"] {
            assert!(!body.contains(value), "{format} export shows whitelisted {value}:\n{body}");
        }
        assert!(body.contains("paypa1-verify.com"), "{format}: {body}");
    }
    // Asking for whitelisted indicators is refused.
    let (status, body) = create_export(
        &app,
        json!({ "name": "wl", "format": "text", "filters": { "status": ["whitelisted"] } }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().unwrap().contains("never exported"), "{body}");
}

#[tokio::test]
async fn a_large_export_comes_in_keyset_pages_without_repeats() {
    let app = TestApp::spawn().await;
    // More than two pages (2,000 indicators each), seeded in one batch.
    let n = 4_500;
    let now = harpoon::db::now_micros();
    app.db
        .run(move |conn| {
            let rows: Vec<NewIndicator> = (0..n)
                .map(|i| NewIndicator {
                    kind: harpoon::extract::ObservableKind::Ipv4,
                    value: format!("45.{}.{}.{}", 10 + i / 65_536, (i / 256) % 256, i % 256),
                    status: if i % 10 == 0 {
                        harpoon::db::indicators::Status::Review
                    } else {
                        harpoon::db::indicators::Status::Active
                    },
                    score: 50,
                    tlp: "green".into(),
                    description: None,
                    first_seen: now,
                    last_seen: now,
                    status_changed_at: now,
                    stix_id: format!("indicator--{}", uuid::Uuid::new_v4()),
                    whitelist_rule_id: None,
                    created_at: now,
                    updated_at: now,
                })
                .collect();
            store::upsert(conn, &rows).map(|_| ())
        })
        .await
        .unwrap();
    app.make_export(json!({ "name": "big", "format": "text" })).await;
    let body = feed_ok(&app, "big").await;
    let all: Vec<&str> = body.lines().collect();
    let distinct: BTreeSet<&str> = all.iter().copied().collect();
    assert_eq!(all.len(), n - n / 10, "every active one");
    assert_eq!(distinct.len(), all.len(), "none twice");
}

#[tokio::test]
async fn bad_definitions_and_unknown_exports_get_clear_errors() {
    let app = TestApp::spawn().await;
    let bad = [
        (json!({ "name": "Bad Name", "format": "text" }), "invalid export name"),
        (json!({ "name": "x", "format": "xml" }), "unknown export format"),
        (json!({ "name": "x", "format": "text", "filters": { "type": ["ufo"] } }), "unknown indicator type"),
        (json!({ "name": "x", "format": "text", "filters": { "statuz": ["active"] } }), "unknown field"),
        (json!({ "name": "x", "format": "text", "filters": { "min_score": 101 } }), "0-100"),
        (json!({ "name": "x", "format": "text", "filters": { "tlp": ["purple"] } }), "unknown TLP"),
        (json!({ "name": "x", "format": "text", "filters": { "max_age_days": 0 } }), "max_age_days"),
        (
            json!({ "name": "x", "format": "suricata", "options": { "domain_protocols": ["smtp"] } }),
            "unknown protocol",
        ),
        (json!({ "name": "x", "format": "suricata", "options": { "sid_base": 0 } }), "sid_base"),
    ];
    for (body, message) in bad {
        let (status, problem) = create_export(&app, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(problem["detail"].as_str().unwrap().contains(message), "{body}: {problem}");
    }
    app.make_export(json!({ "name": "edl", "format": "text" })).await;
    let (status, _) = create_export(&app, json!({ "name": "edl", "format": "csv" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, list) = status_json(app.as_admin(app.get("/api/v1/exports")).send().await.unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing else was stored: {list}");
    assert_eq!(list[0]["format"], "text", "the conflict changed nothing");

    let (status, _, _) = feed(&app, "nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = app.as_admin(app.request(reqwest::Method::DELETE, "/api/v1/exports/edl")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _, _) = feed(&app, "edl").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = app.as_admin(app.request(reqwest::Method::DELETE, "/api/v1/exports/edl")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
