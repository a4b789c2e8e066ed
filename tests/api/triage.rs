//! The triage workflow through the REST API: import → QA (prune, whitelist, metadata) → commit
//! into a spear-phish event → indicators Active → published in `active-indicators` (read with the
//! OASIS taxii2-client and in a plain-text export) → whitelisting revokes (and leaves the export)
//! → the same phish reported again joins the event.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::phish::{PHISH_HOST, PHISH_IP, PHISH_URL, phish, report};
use crate::helpers::assert_strictly_valid;
use crate::helpers::{TestApp, status_json};
use crate::oracle;

fn item<'a>(draft: &'a Value, kind: &str, value: &str) -> Option<&'a Value> {
    draft["items"].as_array().unwrap().iter().find(|i| i["type"] == kind && i["value"] == value)
}

fn indicator_for<'a>(objects: &'a [Value], pattern_value: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|o| {
            o["type"] == "indicator"
                && o["pattern"].as_str().unwrap_or("").contains(&format!("'{pattern_value}'"))
        })
        .collect()
}

#[tokio::test]
async fn the_seed_scenario_end_to_end() {
    let app = TestApp::spawn_acme().await;
    let first = report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-alice"));
    let id = app.import_id(&first).await;
    qa_shows_what_was_extracted(&app, id).await;
    qa_whitelists_and_prunes(&app, id).await;
    let event_id = commit_makes_the_event(&app, id, &first).await;
    let [url, host, ip] = the_analyst_sets_them_active(&app).await;
    let password = a_firewall_polls_with_the_oasis_client(&app).await;
    let export_token = a_firewall_reads_a_plain_text_export(&app).await;
    whitelisting_revokes_downstream(&app, &password, &export_token, &ip).await;
    a_second_report_joins_the_event(&app, event_id, &url, &host).await;

    // The event as STIX passes the strict validator.
    let bundle = app.get_ok(&format!("/api/v1/events/{event_id}/stix")).await;
    let result = oracle::run("validate.py", &json!({ "bundle": bundle }));
    assert_eq!(result["results"][0]["valid"], true, "{}", result["results"][0]["errors"]);
}

/// QA: what was extracted, with the ESMTPS id not taken for an IP.
async fn qa_shows_what_was_extracted(app: &TestApp, id: i64) {
    let d = app.draft(id).await;
    assert_eq!(d["state"], "draft");
    assert_eq!(d["reporter"], "alice@acme-corp.com");
    assert!(item(&d, "url", PHISH_URL).is_some(), "{d}");
    assert!(item(&d, "domain", PHISH_HOST).is_some(), "{d}");
    assert_eq!(item(&d, "ipv4", PHISH_IP).unwrap()["state"], "proposed");
    assert!(
        !d["items"].as_array().unwrap().iter().any(|i| i["type"] == "ipv4" && i["value"] != PHISH_IP),
        "only the sender's IP: {d}"
    );
    // The organisation's own domain is kept as context, never proposed.
    let own = item(&d, "email", "help@acme-corp.com").expect("own address kept");
    assert_eq!(own["state"], "whitelisted", "{own}");
    // Provenance: a span into a decoded text.
    let url_item = item(&d, "url", PHISH_URL).unwrap();
    assert!(url_item["details"]["provenance"][0]["end"].as_u64().unwrap() > 0);
}

/// Whitelist what is wrong (LinkedIn, a suffix rule), prune something.
async fn qa_whitelists_and_prunes(app: &TestApp, id: i64) {
    let d = app.draft(id).await;
    let linkedin = item(&d, "url", "https://www.linkedin.com/company/paypal").expect("linkedin url").clone();
    let (status, body) = app
        .post_json(
            &format!("/api/v1/imports/{id}/items/{}/whitelist", linkedin["id"]),
            &json!({ "match_kind": "suffix", "pattern": "linkedin.com", "reason": "social media footer" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let d = app.draft(id).await;
    assert_eq!(item(&d, "url", "https://www.linkedin.com/company/paypal").unwrap()["state"], "whitelisted");
    assert_eq!(
        item(&d, "domain", "www.linkedin.com").map(|i| i["state"].clone()),
        Some(json!("whitelisted"))
    );
    let sender_addr = item(&d, "email", "security@paypa1-verify.com").map(|i| i["id"].clone());
    if let Some(sender) = sender_addr {
        let (status, body) = status_json(
            app.as_admin(
                app.request(reqwest::Method::PATCH, &format!("/api/v1/imports/{id}/items/{sender}")),
            )
            .json(&json!({ "state": "pruned" }))
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["state"], "pruned");
    }
}

/// Commit → event; the raw email stays retrievable byte for byte.
async fn commit_makes_the_event(app: &TestApp, id: i64, first: &str) -> i64 {
    let (status, c) = app
        .commit(id, json!({ "title": "PayPal limited-account phish", "tlp": "green", "tags": ["paypal"] }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["merged"], false);
    let event_id = c["event_id"].as_i64().unwrap();
    let raw = app.as_admin(app.get(&format!("/api/v1/imports/{id}/raw"))).send().await.unwrap();
    assert_eq!(raw.headers()["content-type"], "message/rfc822");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), first.as_bytes());
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event_id}"))).send().await.unwrap()).await;
    assert_eq!(ev["title"], "PayPal limited-account phish");
    assert_eq!(ev["tlp"], "green");
    let values: Vec<&str> =
        ev["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert!(
        values.contains(&PHISH_URL) && values.contains(&PHISH_HOST) && values.contains(&PHISH_IP),
        "{values:?}"
    );
    assert!(
        !values.iter().any(|v| v.contains("linkedin")),
        "whitelisted values are not indicators: {values:?}"
    );
    assert!(!values.contains(&"security@paypa1-verify.com"), "pruned: {values:?}");
    event_id
}

/// Set the URL, FQDN and IP Active: they are published, the URL related to its host.
async fn the_analyst_sets_them_active(app: &TestApp) -> [Value; 3] {
    let url = app.indicator("url", PHISH_URL).await;
    let host = app.indicator("domain", PHISH_HOST).await;
    let ip = app.indicator("ipv4", PHISH_IP).await;
    assert_eq!(url["status"], "review");
    assert_eq!(url["tags"], json!(["paypal"]));
    for i in [&url, &host, &ip] {
        let after = app.set_status(i["id"].as_i64().unwrap(), "active").await;
        assert_eq!(after["status"], "active");
        assert_eq!(after["published"], true);
    }
    let (_, rel) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", url["id"]))).send().await.unwrap(),
    )
    .await;
    assert_eq!(rel["relationships"][0]["relationship_type"], "related-to", "{rel}");
    assert_eq!(rel["relationships"][0]["indicator"]["value"], PHISH_HOST);
    [url, host, ip]
}

/// A firewall account reads active-indicators with the OASIS client; returns its password.
async fn a_firewall_polls_with_the_oasis_client(app: &TestApp) -> String {
    let password = app.add_user("firewall", "reader").await;
    app.grant("active-indicators", "firewall", true, false).await;
    let objects = app.poll_active("firewall", &password, None).await;
    for v in [PHISH_URL, PHISH_HOST, PHISH_IP] {
        let found = indicator_for(&objects, v);
        assert_eq!(found.len(), 1, "one indicator for {v}");
        assert_eq!(found[0]["revoked"], Value::Null);
        assert!(found[0]["valid_until"].is_null());
    }
    assert!(objects.iter().any(|o| o["type"] == "identity"));
    assert!(objects.iter().any(|o| o["type"] == "relationship" && o["relationship_type"] == "based-on"));
    assert_strictly_valid(&objects);
    password
}

/// The plain-text export as a firewall reads it, with a token in the URL.
async fn read_export(app: &TestApp, export_token: &str) -> String {
    let resp = app.get("/api/v1/exports/firewall-edl/feed").query(&[("token", export_token)]).send().await;
    let resp = resp.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.text().await.unwrap()
}

/// A firewall that cannot speak TAXII reads a plain-text export with a token in the URL; returns
/// the token.
async fn a_firewall_reads_a_plain_text_export(app: &TestApp) -> String {
    app.make_export(json!({ "name": "firewall-edl", "format": "text" })).await;
    let export_token = app.admin_token("edl", "export", &["firewall-edl"]).await;
    let edl = read_export(app, &export_token).await;
    let edl_lines: Vec<&str> = edl.lines().collect();
    for v in [PHISH_URL, PHISH_HOST, PHISH_IP] {
        assert!(edl_lines.contains(&v), "{v} in the export: {edl}");
    }
    export_token
}

/// Whitelisting the IP revokes it downstream: a poller with added_after sees only that, and it
/// leaves the export.
async fn whitelisting_revokes_downstream(app: &TestApp, password: &str, export_token: &str, ip: &Value) {
    let page = app
        .taxii_get("/taxii2/root/collections/active-indicators/objects/")
        .basic_auth("firewall", Some(password))
        .send()
        .await
        .unwrap();
    let last = page.headers()["X-TAXII-Date-Added-Last"].to_str().unwrap().to_string();
    let (status, body) = app.post_json("/api/v1/whitelist", &json!({ "match_kind": "exact", "pattern": PHISH_IP, "applies_to": "ipv4", "reason": "shared hosting" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["whitelisted"], json!([ip["id"]]));
    let changes = app.poll_active("firewall", password, Some(&last)).await;
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["id"], ip["stix_id"]);
    assert_eq!(changes[0]["revoked"], true);
    assert_strictly_valid(&changes);
    let ip_after = app.indicator("ipv4", PHISH_IP).await;
    assert_eq!(ip_after["status"], "whitelisted");
    // ... and takes it out of the export; the URL and the FQDN stay.
    let edl = read_export(app, export_token).await;
    let edl_lines: Vec<&str> = edl.lines().collect();
    assert!(!edl_lines.contains(&PHISH_IP), "{edl}");
    assert!(edl_lines.contains(&PHISH_URL) && edl_lines.contains(&PHISH_HOST), "{edl}");
    let (_, history) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}/history", ip["id"]))).send().await.unwrap(),
    )
    .await;
    let steps: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["field"] == "status")
        .map(|h| (h["from"].as_str().unwrap(), h["to"].as_str().unwrap()))
        .collect();
    assert_eq!(steps, vec![("review", "active"), ("active", "whitelisted")]);
}

/// The same phish reported by a second employee joins the event: two recipients.
async fn a_second_report_joins_the_event(app: &TestApp, event_id: i64, url: &Value, host: &Value) {
    let second = report("bob@acme-corp.com", &phish("bob@acme-corp.com", "m-bob"));
    let id2 = app.import_id(&second).await;
    let (status, c2) = app.commit(id2, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{c2}");
    assert_eq!(c2["merged"], true);
    assert_eq!(c2["event_id"], event_id);
    // Known values are merged, not duplicated (the sender's address, pruned in the first draft,
    // is new in this one).
    for known in [url, host] {
        assert!(c2["updated"].as_array().unwrap().contains(&known["id"]), "{c2}");
        assert!(!c2["created"].as_array().unwrap().contains(&known["id"]), "{c2}");
    }
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event_id}"))).send().await.unwrap()).await;
    assert_eq!(ev["recipient_count"], 2, "{ev}");
    assert_eq!(ev["reports"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn reimporting_the_same_bytes_returns_the_same_draft() {
    let app = TestApp::spawn_acme().await;
    let raw = report("carol@acme-corp.com", &phish("carol@acme-corp.com", "m-carol"));
    let (s1, b1) = app.import(&raw).await;
    let (s2, b2) = app.import(&raw).await;
    assert_eq!(s1, StatusCode::CREATED);
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(b1["imports"][0]["id"], b2["imports"][0]["id"]);
    assert_eq!(b2["imports"][0]["created"], false);
}

#[tokio::test]
async fn parallel_commits_sharing_indicators_create_each_once() {
    let app = TestApp::spawn_acme().await;
    let mut ids = Vec::new();
    for n in 0..8 {
        let raw = format!(
            "From: attacker{n}@evil-sender.net\r\nTo: user{n}@acme-corp.com\r\nSubject: Invoice {n}\r\n\
Message-ID: <inv-{n}@evil-sender.net>\r\n\r\nPay at http://pay.shared-phish.com/inv and http://only{n}.unique-phish.net/x\r\n"
        );
        ids.push(app.import_id(&raw).await);
    }
    let commits = ids.iter().map(|id| app.commit(*id, json!({})));
    let results = futures_util::future::join_all(commits).await;
    let mut events = std::collections::HashSet::new();
    for (status, body) in &results {
        assert_eq!(*status, StatusCode::CREATED, "{body}");
        events.insert(body["event_id"].as_i64().unwrap());
    }
    assert_eq!(events.len(), 8, "eight different phishes, eight events");
    let shared = app.indicator("url", "http://pay.shared-phish.com/inv").await;
    let host = app.indicator("domain", "pay.shared-phish.com").await;
    let created_by: usize =
        results.iter().filter(|(_, b)| b["created"].as_array().unwrap().contains(&shared["id"])).count();
    assert_eq!(created_by, 1, "exactly one commit created the shared indicator");
    let (_, detail) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", host["id"]))).send().await.unwrap(),
    )
    .await;
    assert_eq!(detail["events"].as_array().unwrap().len(), 8);
    // Commonalities: every event lists the shared indicators as shared with the 7 others.
    let any_event = *events.iter().next().unwrap();
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{any_event}"))).send().await.unwrap())
            .await;
    let common = ev["commonalities"].as_array().unwrap();
    assert!(
        common.iter().any(|c| c["indicator"]["value"] == "http://pay.shared-phish.com/inv"
            && c["other_events"].as_array().unwrap().len() == 7),
        "{ev}"
    );
}

/// Commits whose values cross (each phish has the same hosts in another order, and each commit's
/// URL-to-FQDN pivots create rows after its sorted batch) take row locks in crossing orders; on
/// PostgreSQL some become deadlock victims, which the write transaction runs again. Every commit
/// succeeds, every value exists once, linked to every event.
#[tokio::test]
async fn parallel_commits_with_crossing_values_all_succeed() {
    let app = TestApp::spawn_acme().await;
    let hosts: Vec<String> = (0..12).map(|h| format!("h{h}.cross{}-phish.net", h % 4)).collect();
    let mut ids = Vec::new();
    for n in 0..16usize {
        let mut urls: Vec<String> =
            hosts.iter().enumerate().map(|(k, h)| format!("http://{h}/p{}", (k + n) % 3)).collect();
        urls.rotate_left(n % hosts.len());
        if n % 2 == 1 {
            urls.reverse();
        }
        let raw = format!(
            "From: crosser{n}@cross-sender.net\r\nTo: victim{n}@acme-corp.com\r\nSubject: Cross {n}\r\n\
Message-ID: <cross-{n}@cross-sender.net>\r\n\r\nVisit {}\r\n",
            urls.join(" and ")
        );
        ids.push(app.import_id(&raw).await);
    }
    for round in 0..2 {
        let batch: Vec<i64> = ids.iter().copied().skip(round * 8).take(8).collect();
        let results = futures_util::future::join_all(batch.iter().map(|id| app.commit(*id, json!({})))).await;
        for (status, body) in &results {
            assert_eq!(*status, StatusCode::CREATED, "{body}");
        }
    }
    for h in &hosts {
        let d = app.indicator("domain", h).await;
        let (_, detail) = status_json(
            app.as_admin(app.get(&format!("/api/v1/indicators/{}", d["id"]))).send().await.unwrap(),
        )
        .await;
        assert_eq!(detail["events"].as_array().unwrap().len(), 16, "{h}: {detail}");
        // The commit's url-to-fqdn pivots: every URL on the host related to it, the host to its
        // registered domain (created as context: Indirect).
        let related = |dir: &str| {
            detail["relationships"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["relationship_type"] == "related-to" && r["direction"] == dir)
                .map(|r| r["indicator"]["value"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let urls = related("incoming");
        assert_eq!(urls.len(), 3, "{h}: {urls:?}");
        assert!(urls.iter().all(|u| u.starts_with(&format!("http://{h}/p"))), "{urls:?}");
        let registered = h.split_once('.').unwrap().1;
        assert_eq!(related("outgoing"), vec![registered.to_string()], "{h}");
        assert_eq!(app.indicator("domain", registered).await["status"], "indirect");
    }
    let (_, listed) = status_json(
        app.as_admin(app.get("/api/v1/indicators?type=domain&q=cross&limit=500")).send().await.unwrap(),
    )
    .await;
    let mut values: Vec<&str> =
        listed["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    let before = values.len();
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len(), before, "no domain twice: {values:?}");
}

#[tokio::test]
async fn failures_are_clear_and_change_nothing() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&phish("dave@acme-corp.com", "m-dave")).await;
    let counts = |app: &TestApp| {
        let rb = app.as_admin(app.get("/api/v1/indicators"));
        async move { status_json(rb.send().await.unwrap()).await.1["indicators"].as_array().unwrap().len() }
    };
    // Unknown draft.
    assert_eq!(app.commit(999_999, json!({})).await.0, StatusCode::NOT_FOUND);
    // Bad items.
    let items = format!("/api/v1/imports/{id}/items");
    for (kind, value) in [("ipv4", "999.1.1.1"), ("domain", "not a domain"), ("flower", "rose")] {
        let (status, body) = app.post_json(&items, &json!({ "type": kind, "value": value })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{kind} {value}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(value)
                || body["detail"].as_str().unwrap().contains(kind),
            "{body}"
        );
    }
    // A good item is added (canonical form), a duplicate is a conflict.
    let (status, added) =
        app.post_json(&items, &json!({ "type": "domain", "value": "Missed.Evil-Domain.com" })).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["value"], "missed.evil-domain.com");
    let (status, _) =
        app.post_json(&items, &json!({ "type": "domain", "value": "missed.evil-domain.com" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Unauthorised users.
    let password = app.add_user("viewer", "reader").await;
    let resp = app
        .post(&format!("/api/v1/imports/{id}/commit"))
        .basic_auth("viewer", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app.post(&format!("/api/v1/imports/{id}/commit")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app
        .post("/api/v1/imports")
        .header("Content-Type", "message/rfc822")
        .body("x")
        .basic_auth("viewer", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Bad metadata and bad imports.
    assert_eq!(app.commit(id, json!({ "tlp": "purple" })).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.commit(id, json!({ "colour": "red" })).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(app.import("   ").await.0, StatusCode::BAD_REQUEST);
    let resp = app
        .as_admin(app.post("/api/v1/imports"))
        .header("Content-Type", "image/png")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(counts(&app).await, 0, "nothing was committed");
    // Commit once, then twice.
    let (status, body) = app.commit(id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let n = counts(&app).await;
    assert!(n >= 3, "{n}");
    let (status, body) = app.commit(id, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(counts(&app).await, n);
    // A committed draft no longer changes; an abandoned one cannot be committed.
    let resp = app.as_admin(app.post(&format!("/api/v1/imports/{id}/abandon"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let other = app.import_id(&phish("erin@acme-corp.com", "m-erin-unrelated")).await;
    let resp = app.as_admin(app.post(&format!("/api/v1/imports/{other}/abandon"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(app.commit(other, json!({})).await.0, StatusCode::CONFLICT);
    // Indicator changes: bad status, bad score.
    let any = app.indicator("ipv4", PHISH_IP).await;
    for body in [json!({ "status": "deleted" }), json!({ "score": 101 }), json!({ "tlp": "purple" })] {
        let resp = app
            .as_admin(app.request(reqwest::Method::PATCH, &format!("/api/v1/indicators/{}", any["id"])))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(app.indicator("ipv4", PHISH_IP).await, any, "failed changes changed nothing");
}

#[tokio::test]
async fn whitelist_preview_then_save_and_defaults() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&phish("frank@acme-corp.com", "m-frank")).await;
    assert_eq!(app.commit(id, json!({})).await.0, StatusCode::CREATED);
    let rule = json!({ "match_kind": "suffix", "pattern": "*.paypa1-verify.com", "reason": "test" });
    let (status, preview) = app.post_json("/api/v1/whitelist/preview", &rule).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let previewed: Vec<&str> =
        preview["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert!(previewed.contains(&PHISH_URL) && previewed.contains(&PHISH_HOST), "{previewed:?}");
    assert!(!previewed.contains(&PHISH_IP));
    // A preview saves nothing.
    assert_eq!(app.indicator("url", PHISH_URL).await["status"], "review");
    let (status, saved) = app.post_json("/api/v1/whitelist", &rule).await;
    assert_eq!(status, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["whitelisted"].as_array().unwrap().len(), preview["total"].as_u64().unwrap() as usize);
    assert_eq!(app.indicator("url", PHISH_URL).await["status"], "whitelisted");
    // The same rule twice is a conflict; a bad regex is a 400.
    assert_eq!(
        app.as_admin(app.post("/api/v1/whitelist")).json(&rule).send().await.unwrap().status(),
        StatusCode::CONFLICT
    );
    let bad = json!({ "match_kind": "regex", "pattern": "(", "reason": "x" });
    assert_eq!(
        app.as_admin(app.post("/api/v1/whitelist")).json(&bad).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // Shipped: private ranges and the organisation's domains.
    let (_, rules) = status_json(app.as_admin(app.get("/api/v1/whitelist")).send().await.unwrap()).await;
    let patterns: Vec<&str> =
        rules.as_array().unwrap().iter().map(|r| r["pattern"].as_str().unwrap()).collect();
    for p in ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32", "acme-corp.com"] {
        assert!(patterns.contains(&p), "{p} in {patterns:?}");
    }
    // Future extractions mark matches.
    let later = app.import_id(&phish("gina@acme-corp.com", "m-gina")).await;
    let d = app.draft(later).await;
    assert_eq!(item(&d, "url", PHISH_URL).unwrap()["state"], "whitelisted");
}

#[tokio::test]
async fn expiry_and_sharing_by_tlp() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&phish("hank@acme-corp.com", "m-hank")).await;
    let (_, c) = app.commit(id, json!({ "tlp": "amber" })).await;
    let event_id = c["event_id"].as_i64().unwrap();
    let ip = app.indicator("ipv4", PHISH_IP).await;
    let active = app.set_status(ip["id"].as_i64().unwrap(), "active").await;
    assert!(active["expires_at"].is_string(), "IPs expire by default: {active}");

    // The expiry policy: past 30 days an Active IP becomes Expired, with a new STIX version.
    let settings = {
        let mut s = harpoon::settings::Settings::default();
        s.organisation.domains = vec!["acme-corp.com".into()];
        s
    };
    let db = app.db.clone();
    let expired = tokio::task::spawn_blocking(move || {
        let ctx = harpoon::startup::triage_context(&db, &settings).unwrap();
        let in_31_days = harpoon::db::now_micros() + 31 * 86_400_000_000;
        harpoon::service::indicators::expire_due(&mut db.conn().unwrap(), &ctx, in_31_days).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(expired, 1);
    let after = app.indicator("ipv4", PHISH_IP).await;
    assert_eq!(after["status"], "expired");
    let versions = app
        .as_admin(app.taxii_get(&format!(
            "/taxii2/root/collections/active-indicators/objects/{}/versions/",
            ip["stix_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    let (status, v) = status_json(versions).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["versions"].as_array().unwrap().len(), 2, "activation and expiry: {v}");

    // Sharing: a GREEN-only collection refuses an AMBER event; an AMBER one takes it.
    for (title, max) in [("Partners green", "green"), ("Partners amber", "amber")] {
        let resp = app
            .as_admin(app.post("/api/v1/collections"))
            .json(&json!({ "title": title, "share_max_tlp": max }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let (_, cols) = status_json(app.as_admin(app.get("/api/v1/collections")).send().await.unwrap()).await;
    let col = |t: &str| {
        cols.as_array().unwrap().iter().find(|c| c["title"] == t).unwrap()["id"].as_str().unwrap().to_string()
    };
    let share = |collection: String| {
        app.as_admin(app.post(&format!("/api/v1/events/{event_id}/share")))
            .json(&json!({ "collection": collection }))
            .send()
    };
    assert_eq!(share(col("Partners green")).await.unwrap().status(), StatusCode::FORBIDDEN);
    let url = app.indicator("url", PHISH_URL).await;
    app.set_status(url["id"].as_i64().unwrap(), "active").await;
    let (status, shared) = status_json(share(col("Partners amber")).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{shared}");
    let objects = app
        .as_admin(app.taxii_get(&format!("/taxii2/root/collections/{}/objects/", col("Partners amber"))))
        .send()
        .await
        .unwrap();
    let (_, env) = status_json(objects).await;
    let objs = env["objects"].as_array().unwrap();
    let report = objs.iter().find(|o| o["type"] == "report").expect("a report");
    assert_eq!(report["id"], shared["report_id"]);
    assert_eq!(report["labels"], json!(["spearphish"]));
    assert!(indicator_for(objs, PHISH_URL).len() == 1, "the Active URL indicator is shared");
    assert_strictly_valid(objs);
    // RED never leaves.
    let resp = app
        .as_admin(app.request(reqwest::Method::PATCH, &format!("/api/v1/events/{event_id}")))
        .json(&json!({ "tlp": "red" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(share(col("Partners amber")).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn partner_indicators_posted_over_taxii_become_review_indicators() {
    let app = TestApp::spawn_acme().await;
    let password = app.add_user("partner", "partner").await;
    let resp = app
        .as_admin(app.post("/api/v1/collections"))
        .json(&json!({ "title": "Inbound from CERT", "alias": "inbound", "writers": ["partner"], "intake": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let (_, col) = status_json(resp).await;
    let org = json!({ "type": "identity", "spec_version": "2.1", "id": "identity--2d1c6ab3-5e4e-48ac-a32b-f0c01c2836a8",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "CERT", "identity_class": "organization" });
    let partner_indicator = |id: &str, pattern: &str| {
        json!({
        "type": "indicator", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "created_by_ref": org["id"], "name": "x", "description": "from the CERT",
        "indicator_types": ["malicious-activity"], "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z", "confidence": 80,
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"] })
    };
    let envelope = json!({ "objects": [
        org,
        partner_indicator("indicator--6b2a2f1e-1111-4a6e-9c55-1f0d6a3f2b01", "[domain-name:value = 'c2.partner-reported.net' OR ipv4-addr:value = '185.100.87.20']"),
        partner_indicator("indicator--6b2a2f1e-2222-4a6e-9c55-1f0d6a3f2b02", "[ipv4-addr:value = '10.9.8.7']"),
    ]});
    let resp = app
        .taxii_post(&format!("/taxii2/root/collections/{}/objects/", col["id"].as_str().unwrap()), &envelope)
        .basic_auth("partner", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    // The intake loop runs every 2 s.
    let mut found = None;
    for _ in 0..50 {
        let (_, body) = status_json(
            app.as_admin(app.get("/api/v1/indicators"))
                .query(&[("value", "c2.partner-reported.net")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        if let Some(i) = body["indicators"].as_array().and_then(|l| l.first()) {
            found = Some(i.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let domain = found.expect("the partner's domain became an indicator");
    assert_eq!(domain["status"], "review");
    assert_eq!(domain["score"], 80);
    assert_eq!(domain["tlp"], "green");
    let (_, detail) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", domain["id"]))).send().await.unwrap(),
    )
    .await;
    assert_eq!(detail["sources"][0]["source"], "partner:Inbound from CERT");
    assert_eq!(detail["partner_objects"][0]["stix_id"], "indicator--6b2a2f1e-1111-4a6e-9c55-1f0d6a3f2b01");
    let ip = app.indicator("ipv4", "185.100.87.20").await;
    assert_eq!(ip["status"], "review");
    // A value our whitelist covers (a private address) is kept, whitelisted.
    let private = app.indicator("ipv4", "10.9.8.7").await;
    assert_eq!(private["status"], "whitelisted");
}

/// `GET /api/v1/indicators`: every filter of the issue (value, substring, type, status, event,
/// tag, score) and keyset pagination; an indicator's related events.
#[tokio::test]
async fn indicator_search_filters_and_pages() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&report("dave@acme-corp.com", &phish("dave@acme-corp.com", "m-dave"))).await;
    let (status, c) = app.commit(id, json!({ "title": "t", "tags": ["paypal"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let event_id = c["event_id"].as_i64().unwrap();
    let other = app.import_id("From: x@other-sender.net\r\nTo: y@acme-corp.com\r\nSubject: other\r\nMessage-ID: <o@other-sender.net>\r\n\r\nSee http://unrelated-phish.net/a\r\n",
    )
    .await;
    let (status, c2) = app.commit(other, json!({ "title": "other" })).await;
    assert_eq!(status, StatusCode::CREATED, "{c2}");
    let url = app.indicator("url", PHISH_URL).await;
    app.set_status(url["id"].as_i64().unwrap(), "active").await;
    let (code, _) =
        app.patch_json(&format!("/api/v1/indicators/{}", url["id"]), &json!({ "score": 95 })).await;
    assert_eq!(code, StatusCode::OK);

    let search = |query: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let (status, body) =
                status_json(app.as_admin(app.get("/api/v1/indicators")).query(&query).send().await.unwrap())
                    .await;
            assert_eq!(status, StatusCode::OK, "{query:?}: {body}");
            let values: Vec<String> = body["indicators"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["value"].as_str().unwrap().to_string())
                .collect();
            (values, body["next_after"].clone())
        }
    };
    let (all, _) = search(vec![("limit", "1000".into())]).await;
    assert!(all.iter().any(|v| v == "http://unrelated-phish.net/a"), "{all:?}");
    let (of_event, _) = search(vec![("event", event_id.to_string())]).await;
    assert!(of_event.contains(&PHISH_URL.to_string()) && of_event.contains(&PHISH_IP.to_string()));
    assert!(!of_event.iter().any(|v| v.contains("unrelated")), "{of_event:?}");
    let (tagged, _) = search(vec![("tag", "paypal".into())]).await;
    assert_eq!(tagged, of_event, "the event's tags went to its indicators");
    assert!(search(vec![("tag", "nope".into())]).await.0.is_empty());
    assert_eq!(search(vec![("min_score", "90".into())]).await.0, vec![PHISH_URL.to_string()]);
    assert!(!search(vec![("max_score", "90".into())]).await.0.contains(&PHISH_URL.to_string()));
    assert_eq!(search(vec![("status", "active".into())]).await.0, vec![PHISH_URL.to_string()]);
    assert_eq!(
        search(vec![("type", "ipv4".into()), ("status", "review".into())]).await.0,
        vec![PHISH_IP.to_string()]
    );
    assert_eq!(search(vec![("value", PHISH_HOST.into())]).await.0, vec![PHISH_HOST.to_string()]);
    let (contains, _) = search(vec![("q", "unrelated".into())]).await;
    assert!(!contains.is_empty() && contains.iter().all(|v| v.contains("unrelated")), "{contains:?}");

    // Pages of two, following next_after: the same indicators, none twice.
    let mut paged = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut q = vec![("limit", "2".to_string())];
        if let Some(a) = after {
            q.push(("after", a.to_string()));
        }
        let (page, next) = search(q).await;
        assert!(page.len() <= 2);
        paged.extend(page);
        match next.as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, all);

    // Bad filters are 400s.
    for bad in [("status", "bogus"), ("type", "ufo"), ("min_score", "x"), ("colour", "red")] {
        let r = app.as_admin(app.get("/api/v1/indicators")).query(&[bad]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad:?}");
    }

    // An indicator names its related events.
    let (_, detail) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", url["id"]))).send().await.unwrap(),
    )
    .await;
    assert_eq!(detail["events"][0]["id"], event_id, "{detail}");
}
