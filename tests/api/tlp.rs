//! TLP on every way out (issue 14), as a matrix: every TLP level × every way out — the computed
//! `active-indicators` collection, an event shared into a partner collection, a partner's POST
//! into its writable collection, each export format, and the sightings and notes operations
//! publish. Each object is judged by its own TLP (not only its event's), a relationship goes with
//! its ends, and lowering a ceiling stops serving what is above it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_json};

/// The levels, least to most restrictive, with the name each URL of the test carries.
const LEVELS: [(&str, &str); 5] =
    [("clear", "clear"), ("green", "green"), ("amber", "amber"), ("amber+strict", "strict"), ("red", "red")];

const TLP2_IDS: [&str; 5] = [
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
];
const TLP1_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

fn url_of(name: &str) -> String {
    format!("http://{name}.tlp-matrix.net/lvl-{name}")
}

fn rank(level: &str) -> usize {
    LEVELS.iter().position(|(l, _)| *l == level).unwrap()
}

/// Every object a collection serves (all pages), as the admin reads it.
async fn served(app: &TestApp, collection: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut path = format!("/taxii2/root/collections/{collection}/objects/?limit=50");
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let resp = app.as_admin(app.taxii_get(&path)).send().await.unwrap();
        let (status, env) = status_json(resp).await;
        assert_eq!(status, StatusCode::OK, "{env}");
        out.extend(env["objects"].as_array().cloned().unwrap_or_default());
        match env["next"].as_str() {
            Some(n) if env["more"] == true => next = Some(n.to_string()),
            _ => return out,
        }
    }
}

fn has_indicator_for(objects: &[Value], url: &str) -> bool {
    objects.iter().any(|o| o["type"] == "indicator" && o["pattern"].as_str().unwrap_or("").contains(url))
}

fn has_url_sco(objects: &[Value], url: &str) -> bool {
    objects.iter().any(|o| o["type"] == "url" && o["value"] == url)
}

/// One email naming a URL per TLP level, committed as an event of TLP `event_tlp`; then each
/// URL indicator gets its level and becomes Active. Returns the event id and the URL
/// indicators (level name → indicator JSON).
async fn event_with_a_url_per_level(app: &TestApp, event_tlp: &str) -> (i64, Vec<(String, Value)>) {
    let urls: Vec<String> = LEVELS.iter().map(|(_, n)| url_of(n)).collect();
    let raw = format!(
        "From: x@phish-sender-test.com\r\nTo: bob@acme-corp.com\r\nSubject: tlp matrix\r\n\
         Message-ID: <tlp-matrix@phish-sender-test.com>\r\n\r\nSee {}\r\n",
        urls.join(" and ")
    );
    let id = app.import_id(&raw).await;
    let (status, c) = app.commit(id, json!({ "tlp": event_tlp })).await;
    assert!(status.is_success(), "{c}");
    let event_id = c["event_id"].as_i64().unwrap();
    let mut out = Vec::new();
    for (level, name) in LEVELS {
        let row = app.indicator("url", &url_of(name)).await;
        let id = row["id"].as_i64().unwrap();
        let (status, body) =
            app.patch_json(&format!("/api/v1/indicators/{id}"), &json!({ "tlp": level })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.push((level.to_string(), app.set_status(id, "active").await));
    }
    (event_id, out)
}

async fn create_collection(app: &TestApp, body: Value) -> Value {
    let (status, c) = app.post_json("/api/v1/collections", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    c
}

fn spawn_with_sighting_script(dir: &std::path::Path) -> impl FnOnce(&mut harpoon::settings::Settings) {
    use std::os::unix::fs::PermissionsExt;
    let scripts = dir.join("ops");
    std::fs::create_dir(&scripts).unwrap();
    let script = scripts.join("sight");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > /dev/null\necho '{\"version\":1,\"sightings\":[{\"count\":1,\
         \"first_seen\":\"2026-11-30T10:00:00Z\",\"last_seen\":\"2026-11-30T11:00:00Z\",\
         \"hosts\":[\"10.1.2.3\"]}],\"notes\":[\"seen on the proxy\"]}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        scripts.join("sight.json"),
        json!({ "version": 1, "name": "sight", "description": "a sighting and a note",
                "applies_to": ["url"], "timeout_secs": 20 })
        .to_string(),
    )
    .unwrap();
    move |s: &mut harpoon::settings::Settings| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.scripts.dir = Some(scripts);
    }
}

async fn run_sight(app: &TestApp, indicator_id: i64) {
    let (status, run) =
        app.post_json(&format!("/api/v1/indicators/{indicator_id}/operations/sight/runs"), &json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    for _ in 0..300 {
        let (_, r) =
            status_json(app.as_admin(app.get(&format!("/api/v1/runs/{id}"))).send().await.unwrap()).await;
        if !matches!(r["status"].as_str(), Some("queued" | "running")) {
            assert_eq!(r["status"], "succeeded", "{r}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("run {id} never ended");
}

/// The computed collection (AMBER by default) and what operations publish in it: each URL
/// indicator, its sighting and its note are served iff the indicator's own TLP is within the
/// ceiling; lowering the ceiling and raising an indicator's TLP stop serving them.
#[tokio::test]
async fn the_computed_collection_and_operation_findings_stay_within_the_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::spawn_with(spawn_with_sighting_script(dir.path())).await;
    let (_, urls) = event_with_a_url_per_level(&app, "clear").await;
    for (_, row) in &urls {
        run_sight(&app, row["id"].as_i64().unwrap()).await;
    }
    let (_, cols) = status_json(app.as_admin(app.get("/api/v1/collections")).send().await.unwrap()).await;
    let active = cols.as_array().unwrap().iter().find(|c| c["alias"] == "active-indicators").unwrap().clone();
    assert_eq!(active["max_tlp"], "amber", "{active}");

    let check = |objects: &[Value], ceiling: usize, withheld: &[&str]| {
        for (level, row) in &urls {
            let stix_id = row["stix_id"].as_str().unwrap();
            let expected = rank(level) <= ceiling && !withheld.contains(&level.as_str());
            let url = url_of(LEVELS[rank(level)].1);
            assert_eq!(has_indicator_for(objects, &url), expected, "indicator {level} under {ceiling}");
            let sighting = objects.iter().any(|o| o["type"] == "sighting" && o["sighting_of_ref"] == stix_id);
            assert_eq!(sighting, expected, "sighting of {level} under {ceiling}");
            let note = objects.iter().any(|o| {
                o["type"] == "note" && o["object_refs"].as_array().unwrap().iter().any(|r| r == stix_id)
            });
            assert_eq!(note, expected, "note on {level} under {ceiling}");
        }
        // Whatever is served carries nothing above the ceiling.
        for o in objects.iter().filter(|o| o["type"] != "marking-definition") {
            for r in o["object_marking_refs"].as_array().into_iter().flatten() {
                let level = TLP2_IDS.iter().position(|id| r == id).unwrap_or(0);
                assert!(level <= ceiling, "{o}");
            }
        }
    };
    let objects = served(&app, "active-indicators").await;
    check(&objects, rank("amber"), &[]);
    assert!(objects.iter().any(|o| o["type"] == "observed-data"), "observed-data is published");

    // Lowering the ceiling takes effect on what is stored.
    let (status, c) =
        app.patch_json("/api/v1/collections/active-indicators", &json!({ "max_tlp": "green" })).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["max_tlp"], "green");
    check(&served(&app, "active-indicators").await, rank("green"), &[]);

    // An indicator whose own TLP is raised above the ceiling after publication is withheld.
    let green = &urls[1].1;
    let (status, body) =
        app.patch_json(&format!("/api/v1/indicators/{}", green["id"]), &json!({ "tlp": "red" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check(&served(&app, "active-indicators").await, rank("green"), &["green"]);

    // Raised to red: a RED indicator activated from now on is published there.
    let (status, _) =
        app.patch_json("/api/v1/collections/active-indicators", &json!({ "max_tlp": "red" })).await;
    assert_eq!(status, StatusCode::OK);
    let red = &urls[4].1;
    app.set_status(red["id"].as_i64().unwrap(), "expired").await;
    app.set_status(red["id"].as_i64().unwrap(), "active").await;
    assert!(has_indicator_for(&served(&app, "active-indicators").await, &url_of("red")));

    // Only administrators change a ceiling; a level is checked.
    let password = app.add_user("ann", "analyst").await;
    let resp = app
        .request(Method::PATCH, "/api/v1/collections/active-indicators")
        .basic_auth("ann", Some(&password))
        .json(&json!({ "max_tlp": "clear" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, _) =
        app.patch_json("/api/v1/collections/active-indicators", &json!({ "max_tlp": "purple" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, audit) =
        status_json(app.as_admin(app.get("/api/v1/audit?action=collection.tlp")).send().await.unwrap()).await;
    assert!(audit.to_string().contains("max_tlp amber -> green"), "{audit}");
}

/// An event shared into partner collections of every ceiling: refused when the event itself is
/// above it; otherwise each URL is shared iff its own TLP is within it, and no relationship
/// names an object that was left out.
#[tokio::test]
async fn a_shared_event_leaves_out_each_object_above_the_partner_ceiling() {
    let app = TestApp::spawn_acme().await;
    let (event_id, urls) = event_with_a_url_per_level(&app, "green").await;
    for (ceiling, _) in LEVELS {
        let c = create_collection(
            &app,
            json!({ "title": format!("Partners {ceiling}"), "max_tlp": ceiling, "share_target": true }),
        )
        .await;
        assert_eq!(c["max_tlp"], ceiling);
        let cid = c["id"].as_str().unwrap();
        let (status, shared) =
            app.post_json(&format!("/api/v1/events/{event_id}/share"), &json!({ "collection": cid })).await;
        if ceiling == "clear" {
            assert_eq!(status, StatusCode::FORBIDDEN, "a GREEN event into a CLEAR collection: {shared}");
            assert!(served(&app, cid).await.is_empty());
            continue;
        }
        assert_eq!(status, StatusCode::CREATED, "{ceiling}: {shared}");
        let objects = served(&app, cid).await;
        for (level, _) in &urls {
            let url = url_of(LEVELS[rank(level)].1);
            let expected = rank(level) <= rank(ceiling);
            assert_eq!(has_indicator_for(&objects, &url), expected, "indicator {level} into {ceiling}");
            assert_eq!(has_url_sco(&objects, &url), expected, "observable {level} into {ceiling}");
        }
        // Relationships and the report name only objects that were shared.
        let ids: Vec<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
        let relationships: Vec<&Value> = objects.iter().filter(|o| o["type"] == "relationship").collect();
        assert!(!relationships.is_empty(), "the URL-to-domain relationships are shared");
        for r in &relationships {
            for end in ["source_ref", "target_ref"] {
                assert!(ids.contains(&r[end].as_str().unwrap()), "{ceiling}: {r} names a left-out object");
            }
        }
        let report = objects.iter().find(|o| o["type"] == "report").unwrap();
        for r in report["object_refs"].as_array().unwrap() {
            assert!(ids.contains(&r.as_str().unwrap()), "{ceiling}: the report names {r}, not shared");
        }
    }
    // A collection that is not a sharing target refuses, whatever its ceiling.
    let c = create_collection(&app, json!({ "title": "Not for sharing", "max_tlp": "red" })).await;
    let resp = app
        .as_admin(app.post(&format!("/api/v1/events/{event_id}/share")))
        .json(&json!({ "collection": c["id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

fn marked_indicator(n: usize, marking: Option<&str>) -> Value {
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2026-03-02T09:14:07.120Z", "modified": "2026-03-02T09:14:07.120Z",
        "pattern": format!("[domain-name:value = 'partner{n}.example']"), "pattern_type": "stix",
        "valid_from": "2026-03-02T09:14:07Z"
    });
    if let Some(m) = marking {
        o["object_marking_refs"] = json!([m]);
    }
    o
}

/// A partner writer POSTs objects of every TLP (2.0 and 1.0) and an unmarked one into its
/// collection of every ceiling: what is above it is a failure naming the rule, the rest is
/// stored and served; lowering the ceiling stops serving what is above it, the unmarked object
/// (taken at the terms it was sent under) included. Stored in the background (more objects
/// than the threshold), as a large upload is.
#[tokio::test]
async fn a_partner_post_stores_and_serves_only_what_is_within_the_ceiling() {
    let app = TestApp::spawn_with(|s| s.taxii.background_threshold = 2).await;
    let password = app.add_user("partner", "analyst").await;
    let mut objects: Vec<Value> =
        TLP2_IDS.iter().enumerate().map(|(i, id)| marked_indicator(i, Some(id))).collect();
    objects.push(marked_indicator(5, Some(TLP1_RED)));
    objects.push(marked_indicator(6, None));
    // What each object counts as: its TLP, the unmarked one the ceiling.
    let level_of = |i: usize, ceiling: usize| match i {
        0..=4 => i,
        5 => rank("red"),
        _ => ceiling,
    };
    for (ceiling, _) in LEVELS {
        let c = create_collection(
            &app,
            json!({ "title": format!("Inbound {ceiling}"), "max_tlp": ceiling, "writers": ["partner"] }),
        )
        .await;
        let cid = c["id"].as_str().unwrap().to_string();
        let resp = app
            .taxii_post(&format!("/taxii2/root/collections/{cid}/objects/"), &json!({ "objects": objects }))
            .basic_auth("partner", Some(&password))
            .send()
            .await
            .unwrap();
        let (status, mut st) = status_json(resp).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{st}");
        for _ in 0..100 {
            if st["status"] == "complete" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let path = format!("/taxii2/root/status/{}/", st["id"].as_str().unwrap());
            let resp = app.taxii_get(&path).basic_auth("partner", Some(&password)).send().await.unwrap();
            st = status_json(resp).await.1;
        }
        assert_eq!(st["status"], "complete", "{st}");
        let failures = st["failures"].as_array().cloned().unwrap_or_default();
        let stored = served(&app, &cid).await;
        for (i, o) in objects.iter().enumerate() {
            let within = level_of(i, rank(ceiling)) <= rank(ceiling);
            let failure = failures.iter().find(|f| f["id"] == o["id"]);
            assert_eq!(failure.is_none(), within, "object {i} into {ceiling}: {st}");
            if let Some(f) = failure {
                let message = f["message"].as_str().unwrap();
                assert!(message.contains("above the TLP ceiling"), "{message}");
            }
            assert_eq!(stored.iter().any(|s| s["id"] == o["id"]), within, "object {i} served from {ceiling}");
        }
        if ceiling == "red" {
            let (status, _) =
                app.patch_json(&format!("/api/v1/collections/{cid}"), &json!({ "max_tlp": "green" })).await;
            assert_eq!(status, StatusCode::OK);
            let stored = served(&app, &cid).await;
            let ids: Vec<&Value> = stored.iter().map(|s| &s["id"]).collect();
            assert_eq!(ids, [&objects[0]["id"], &objects[1]["id"]], "only CLEAR and GREEN remain");
            // Nor is an object above it found by id.
            let resp = app
                .as_admin(app.taxii_get(&format!(
                    "/taxii2/root/collections/{cid}/objects/{}/",
                    objects[4]["id"].as_str().unwrap()
                )))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        }
    }
}

/// Every export format under its ceiling: AMBER by default, each level when given; a `tlp`
/// filter never widens it.
#[tokio::test]
async fn every_export_format_keeps_under_its_ceiling() {
    let app = TestApp::spawn_acme().await;
    event_with_a_url_per_level(&app, "clear").await;
    for format in ["text", "csv", "suricata", "stix"] {
        for ceiling in [None, Some("clear"), Some("green"), Some("amber"), Some("amber+strict"), Some("red")]
        {
            let name = format!("{format}-{}", ceiling.unwrap_or("default").replace('+', "-"));
            let mut filters =
                json!({ "type": ["url"], "tlp": ["clear", "green", "amber", "amber+strict", "red"] });
            if let Some(c) = ceiling {
                filters["max_tlp"] = json!(c);
            }
            let (status, created) = app
                .post_json("/api/v1/exports", &json!({ "name": name, "format": format, "filters": filters }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            assert_eq!(created["filters"]["max_tlp"], ceiling.unwrap_or("amber"), "{created}");
            let resp = app.as_admin(app.get(&format!("/api/v1/exports/{name}/feed"))).send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.text().await.unwrap();
            let max = rank(ceiling.unwrap_or("amber"));
            for (level, n) in LEVELS {
                let present = body.contains(&format!("lvl-{n}"));
                assert_eq!(present, rank(level) <= max, "{format} under {ceiling:?}: {level}\n{body}");
            }
            if format == "stix" {
                for (i, id) in TLP2_IDS.iter().enumerate() {
                    assert_eq!(body.contains(id), i <= max, "{name}: marking {i}");
                }
            }
        }
    }
}

/// The command line: a ceiling at creation, changed later, shown in the listing.
#[test]
fn the_cli_sets_changes_and_lists_a_ceiling() {
    let db = crate::helpers::TestDb::fresh();
    let dir = tempfile::tempdir().unwrap();
    let harpoon = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HARPOON_LOG", "error")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--database-url")
            .arg(&db.url)
            .args(args)
            .output()
            .unwrap()
    };
    let out = harpoon(&[
        "collection",
        "add",
        "Partners",
        "--alias",
        "partners",
        "--max-tlp",
        "green",
        "--share-target",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = harpoon(&["collection", "add", "Nope", "--max-tlp", "purple"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown TLP level 'purple'"), "{out:?}");
    let listed = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.lines().find(|l| l.contains("partners")).unwrap_or_default().to_string()
    };
    assert!(listed(harpoon(&["collection", "list"])).contains(" green "));
    let out = harpoon(&["collection", "set-tlp", "partners", "red"]);
    assert!(out.status.success(), "{out:?}");
    assert!(listed(harpoon(&["collection", "list"])).contains(" red "));
}
