//! TAXII 2.1 held against real clients: the OASIS `taxii2-client` 2.3.0 driving a running server
//! (`tests/oracle/taxii_driver.py`), every served page through `stix2-validator` 3.2.0 strict,
//! the paging habits of Elastic (follow-ups send only `next` and `limit`) and OpenCTI (`next`
//! plus the original `added_after`), cursors across two server instances on one database, and an
//! `added_after` poller racing four concurrent writers.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use harpoon::db::Backend;
use harpoon::stix::objects::{
    DomainName, Identity, Indicator, IntrusionSet, Ipv4Addr, ObservedData, Relationship, Sdo, Sighting,
    StixObject, Url,
};
use harpoon::stix::{Pattern, PatternTerm, StixId, StixTimestamp, TaxiiTimestamp, Tlp, Tlp1, Tlp2};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TAXII, TestApp, TestDb};
use crate::oracle;

const ROOT: &str = "/taxii2/root";

// ---------------------------------------------------------------------------------------------
// Objects

fn ts(text: &str) -> StixTimestamp {
    StixTimestamp::parse(text).unwrap()
}

/// A realistic, strictly valid indicator for domain number `i` (created `i` ms after a base).
fn indicator(i: usize, org: &StixId) -> Indicator {
    let created = StixTimestamp::from_micros(1_709_287_200_000_000 + (i as i64) * 1_000).unwrap();
    let pattern = Pattern::new(PatternTerm::domain_name(&format!("d{i}.evil-example.com")).unwrap());
    Indicator::new(&pattern, created)
        .unwrap()
        .created_at(created)
        .described(&format!("Phishing domain {i}"), "Extracted from a reported spear-phish")
        .with_type("malicious-activity")
        .created_by(org)
        .unwrap()
        .with_tlp(Tlp::V2(Tlp2::Amber))
}

fn org() -> Identity {
    Identity::organization("ACME Corp").unwrap().created_at(ts("2024-01-01T00:00:00.000Z"))
}

/// `n` indicators (numbered from `start`) as JSON.
fn indicators(start: usize, n: usize, org: &StixId) -> Vec<Value> {
    (start..start + n).map(|i| StixObject::from(indicator(i, org)).to_value().unwrap()).collect()
}

/// A collection's worth of different kinds: identity, TLP markings, indicators (one revoked),
/// SCOs, observed-data, relationships, a sighting.
fn mixed_objects() -> Vec<Value> {
    let org = org();
    let org_id = org.id().clone();
    let created = ts("2024-03-01T10:00:00.123Z");
    let mut objects: Vec<StixObject> = vec![org.into()];
    for tlp in Tlp::all() {
        objects.push(tlp.definition().into());
    }
    let ipv4 = Ipv4Addr::new("203.0.113.9").unwrap();
    let internal = Ipv4Addr::new("10.1.2.3").unwrap();
    let domain = DomainName::new("evil-example.com").unwrap().resolves_to(&ipv4.id().unwrap()).unwrap();
    let url = Url::from_iri("https://evil-example.com/pay?invoice=4711").unwrap();
    objects.push(ipv4.clone().into());
    objects.push(internal.clone().into());
    objects.push(domain.clone().into());
    objects.push(url.clone().into());

    let set = IntrusionSet::new("Invoice Phishers").unwrap().created_at(created);
    let set = IntrusionSet { description: Some("Invoice fraud crew".to_owned()), ..set };
    let set_id = set.id().clone();
    objects.push(set.into());

    let mut first = None;
    for i in 0..12 {
        let ind = indicator(10_000 + i, &org_id);
        if first.is_none() {
            first = Some(ind.clone());
        }
        objects.push(ind.into());
    }
    let first = first.unwrap();
    objects.push(first.revoke(ts("2024-03-02T00:00:00Z")).unwrap().into());

    let observed = ObservedData::new(
        ts("2024-03-01T11:00:00Z"),
        ts("2024-03-01T12:00:00Z"),
        3,
        vec![internal.id().unwrap(), ipv4.id().unwrap()],
    )
    .unwrap()
    .created_at(created)
    .created_by(&org_id)
    .unwrap()
    .with_tlp(Tlp::V1(Tlp1::Green));
    let observed_id = observed.id().clone();
    objects.push(observed.into());
    for r in [
        Relationship::based_on(first.id(), &observed_id).unwrap(),
        Relationship::resolves_to(&domain.id().unwrap(), &ipv4.id().unwrap()).unwrap(),
        Relationship::related_to(&url.id().unwrap(), &domain.id().unwrap()).unwrap(),
        Relationship::indicates(first.id(), &set_id).unwrap(),
    ] {
        objects.push(r.created_at(created).created_by(&org_id).unwrap().into());
    }
    let sighting = Sighting::new(first.id())
        .unwrap()
        .seen(3, ts("2024-03-01T11:00:00Z"), ts("2024-03-01T12:00:00Z"))
        .unwrap()
        .where_sighted(&org_id)
        .unwrap()
        .observed(&observed_id)
        .unwrap()
        .created_at(created)
        .created_by(&org_id)
        .unwrap();
    objects.push(sighting.into());
    objects.iter().map(|o| o.to_value().unwrap()).collect()
}

fn bundle(objects: &[Value]) -> Value {
    json!({ "type": "bundle", "id": StixId::new_v4("bundle").unwrap(), "objects": objects })
}

/// Wraps each page in a bundle and runs `validate.py` once on all of them (the validator is slow
/// to start: one Python process per test, not per page); panics with every error and warning.
fn assert_pages_strictly_valid(pages: &[Vec<Value>], what: &str) {
    let bundles: Vec<Value> = pages.iter().map(|p| bundle(p)).collect();
    let out = oracle::run("validate.py", &json!({ "objects": bundles }));
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), pages.len());
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result["valid"], true, "{what}, page {i}: {result}");
        assert_eq!(result["errors"], json!([]), "{what}, page {i}: {result}");
        assert_eq!(result["warnings"], json!([]), "{what}, page {i}: {result}");
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Who a raw request authenticates as.
#[derive(Clone)]
struct As {
    user: String,
    password: String,
}

impl As {
    fn admin() -> Self {
        Self { user: "admin".into(), password: ADMIN_PASSWORD.into() }
    }
    fn new(user: &str, password: &str) -> Self {
        Self { user: user.into(), password: password.into() }
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
    fn objects(&self) -> Vec<Value> {
        self.body["objects"].as_array().cloned().unwrap_or_default()
    }
    fn next(&self) -> Option<String> {
        self.body["next"].as_str().map(str::to_string)
    }
    fn more(&self) -> bool {
        self.body["more"].as_bool().unwrap_or(false)
    }
}

async fn send(rb: reqwest::RequestBuilder) -> Resp {
    let resp = rb.send().await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp { status, headers, body }
}

/// GET `path` (under the API root) with query pairs.
async fn get(app: &TestApp, who: &As, path: &str, query: &[(&str, String)]) -> Resp {
    send(
        app.get(&format!("{ROOT}/{path}"))
            .basic_auth(&who.user, Some(&who.password))
            .header("Accept", TAXII)
            .query(query),
    )
    .await
}

/// POSTs an envelope; asserts a complete 202 status with every object a success.
async fn post_all(app: &TestApp, who: &As, collection: &str, objects: &[Value]) -> Value {
    let resp = send(
        app.post(&format!("{ROOT}/collections/{collection}/objects/"))
            .basic_auth(&who.user, Some(&who.password))
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string()),
    )
    .await;
    assert_eq!(resp.status, StatusCode::ACCEPTED, "{}", resp.body);
    assert_eq!(resp.body["status"], "complete", "{}", resp.body);
    assert_eq!(resp.body["success_count"], objects.len(), "{}", resp.body);
    resp.body
}

fn ok(result: &Value) -> &Value {
    assert!(result.get("error").is_none(), "the client failed: {result}");
    result
}

fn ids_of(objects: &[Value]) -> Vec<String> {
    objects.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

/// Asserts `seen` holds every id of `expected` exactly once, in the same order.
fn assert_exactly_once_in_order(seen: &[String], expected: &[String], what: &str) {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(5).collect();
    assert!(dupes.is_empty(), "{what}: served more than once: {dupes:?}");
    let seen_set: HashSet<&str> = seen.iter().map(String::as_str).collect();
    let missing: Vec<_> = expected.iter().filter(|id| !seen_set.contains(id.as_str())).take(5).collect();
    assert!(missing.is_empty(), "{what}: never served (of {}): {missing:?}", expected.len());
    assert_eq!(seen.len(), expected.len(), "{what}: count");
    assert!(seen == expected, "{what}: not in date-added order");
}

// ---------------------------------------------------------------------------------------------
// 1. The OASIS client: discovery, API root, collections, auth

/// The collections a `collections` step listed: id → (title, can_read, can_write).
fn collections_seen(result: &Value) -> HashMap<String, (String, bool, bool)> {
    ok(result)["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                (
                    c["title"].as_str().unwrap().to_string(),
                    c["can_read"].as_bool().unwrap(),
                    c["can_write"].as_bool().unwrap(),
                ),
            )
        })
        .collect()
}

/// The client raised with a 401, the Basic challenge and a TAXII error resource.
fn assert_refused_with_a_challenge(result: &Value, how: &str) {
    let error = &result["error"];
    assert_eq!(error["type"], "HTTPError", "{how}: {result}");
    assert_eq!(error["status"], 401, "{how}: {result}");
    assert!(error["www_authenticate"].as_str().unwrap_or("").contains("Basic"), "{how}: {result}");
    assert_eq!(error["body"]["http_status"], "401", "{how}: a TAXII error resource: {result}");
}

#[tokio::test]
async fn taxii_client_discovery_api_root_collections_and_every_auth_method() {
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice", "analyst").await;
    let bob = app.add_user("bob", "reader").await;
    let carol = app.add_user("carol", "reader").await;
    let shared = app.add_collection("Shared with partners", &["bob"], &["alice"], false).await;
    let public = app.add_collection("Public feed", &[], &[], true).await;
    let hidden = app.add_collection("Internal only", &[], &[], false).await;
    let (_, token) = app.token_for("alice", &alice).await;
    let public_objects = indicators(0, 25, org().id());
    post_all(&app, &As::admin(), &public, &public_objects).await;

    let basic = |u: &str, p: &str| json!({ "mode": "basic", "user": u, "password": p });
    let list = |auth: Value| json!({ "scenario": "collections", "auth": auth });
    let steps = vec![
        json!({ "scenario": "discovery" }),
        json!({ "scenario": "api_root" }),
        list(basic("alice", &alice)),
        list(basic("bob", &bob)),
        list(basic("carol", &carol)),
        list(basic("admin", ADMIN_PASSWORD)),
        list(json!({ "mode": "token", "token": token })),
        list(json!({ "mode": "bearer", "token": token })),
        list(json!({ "mode": "basic_token", "user": "anything", "token": token })),
        list(basic("alice", "not-alices-password")),
        json!({ "scenario": "discovery", "auth": basic("alice", "not-alices-password") }),
        list(json!({ "mode": "token", "token": format!("{token}x") })),
        list(basic("nobody", "whatever-password")),
        // Anonymous: only the public-read collection, readable page by page with cursors.
        list(json!({ "mode": "none" })),
        json!({ "scenario": "pages", "auth": { "mode": "none" }, "collection": public, "endpoint": "objects", "per_request": 10 }),
        json!({ "scenario": "pages", "auth": { "mode": "none" }, "collection": shared, "endpoint": "objects" }),
    ];
    let r = app.taxii_driver(basic("alice", &alice), steps).await;

    let discovery = ok(&r[0]);
    let root_url = format!("{}/taxii2/root/", app.url);
    assert_eq!(discovery["title"], "Harpoon TAXII 2.1");
    assert_eq!(discovery["api_roots"], json!([root_url]));
    assert_eq!(discovery["default"], root_url);

    let api_root = ok(&r[1]);
    assert_eq!(api_root["versions"], json!([TAXII]));
    assert_eq!(api_root["max_content_length"], 100 * 1024 * 1024);
    assert_eq!(api_root["title"], "Harpoon");

    // What each user sees, with can_read/can_write computed for that user.
    let seen = collections_seen;
    let alice_sees = seen(&r[2]);
    assert_eq!(alice_sees.len(), 2, "{alice_sees:?}");
    assert_eq!(alice_sees[&shared], ("Shared with partners".into(), true, true));
    assert_eq!(alice_sees[&public], ("Public feed".into(), true, false));
    let bob_sees = seen(&r[3]);
    assert_eq!(bob_sees.len(), 2, "{bob_sees:?}");
    assert_eq!(bob_sees[&shared], ("Shared with partners".into(), true, false));
    let carol_sees = seen(&r[4]);
    assert_eq!(carol_sees.len(), 1, "{carol_sees:?}");
    assert_eq!(carol_sees[&public], ("Public feed".into(), true, false));
    let admin_sees = seen(&r[5]);
    // Admins also see the built-in, read-only `active-indicators` feed.
    assert_eq!(admin_sees.len(), 4, "{admin_sees:?}");
    assert!(admin_sees.values().any(|c| c == &("Active indicators".to_string(), true, false)));
    assert_eq!(admin_sees[&hidden], ("Internal only".into(), true, true));
    assert!(admin_sees[&public].2, "admins write everywhere");

    // The token works as `Token`, as `Bearer` and as a Basic password: alice's view each time.
    for (i, how) in [(6, "Token"), (7, "Bearer"), (8, "Basic with the token as password")] {
        assert_eq!(seen(&r[i]), alice_sees, "{how}");
    }

    // Wrong credentials: the client raises with the 401 and the challenge.
    for (i, how) in [
        (9, "wrong password"),
        (10, "wrong password on discovery"),
        (11, "wrong token"),
        (12, "unknown user"),
    ] {
        assert_refused_with_a_challenge(&r[i], how);
    }

    let anonymous_sees = seen(&r[13]);
    assert_eq!(anonymous_sees.len(), 1, "{anonymous_sees:?}");
    assert_eq!(anonymous_sees[&public], ("Public feed".into(), true, false));
    let envelopes = ok(&r[14])["envelopes"].as_array().unwrap().clone();
    assert_eq!(envelopes.len(), 3);
    let anonymous_ids: Vec<String> =
        envelopes.iter().flat_map(|e| ids_of(e["objects"].as_array().unwrap())).collect();
    assert_exactly_once_in_order(&anonymous_ids, &ids_of(&public_objects), "anonymous as_pages");
    assert_eq!(r[15]["error"]["status"], 401, "a private collection, anonymously: {}", r[15]);
}

// ---------------------------------------------------------------------------------------------
// 1. The OASIS client: add_objects, status, manifest, versions, get, delete

/// What `push_versions` added to `cid`: one indicator in three versions, others, an invalid one.
struct Pushed {
    cid: String,
    auth: Value,
    /// The indicator of three versions.
    id: String,
    v1: Indicator,
    v2: Indicator,
    v3: Indicator,
    /// A single-version indicator (the first of `others`).
    single: String,
    others: Vec<Value>,
    /// The status of the first envelope.
    status: Value,
}

fn version_of(o: &Indicator) -> String {
    o.common().modified.to_string()
}

fn value_of(o: &Indicator) -> Value {
    StixObject::from(o.clone()).to_value().unwrap()
}

#[tokio::test]
async fn taxii_client_add_objects_status_manifest_versions_get_and_delete() {
    let app = TestApp::spawn().await;
    let p = push_versions(&app).await;
    object_and_versions_endpoints_page(&app, &p).await;
    let r = read_and_delete_steps(&app, &p).await;
    status_and_manifest_read_back(&p, &r);
    gets_select_versions(&p, &r);
    deletes_select_versions(&p, &r);
}

/// Adds one indicator in three versions, plus others, an exact duplicate and an invalid object
/// (and a bundle in a second collection); checks the statuses.
async fn push_versions(app: &TestApp) -> Pushed {
    let alice = app.add_user("alice", "analyst").await;
    let cid = app.add_collection("Inbound", &[], &["alice"], false).await;
    let bundled_cid = app.add_collection("Inbound bundles", &[], &["alice"], false).await;
    let org = org();
    let org_id = org.id().clone();
    let v1 = indicator(1, &org_id);
    let v2 = v1.new_version(ts("2024-03-05T00:00:00.000Z")).unwrap();
    let v3 = v2.new_version(ts("2024-03-06T00:00:00.000Z")).unwrap();
    let id = v1.id().to_string();
    let value = value_of;
    let mut invalid = value(&indicator(2, &org_id));
    invalid.as_object_mut().unwrap().remove("pattern");
    let invalid_id = invalid["id"].as_str().unwrap().to_string();
    let others = indicators(3, 4, &org_id);
    let single = others[0]["id"].as_str().unwrap().to_string();
    let mut first_envelope = vec![StixObject::from(org).to_value().unwrap(), value(&v1), value(&v2)];
    first_envelope.extend(others.iter().cloned());
    first_envelope.push(invalid);
    let second_envelope = vec![value(&v3), value(&v1)]; // a new version and an exact duplicate

    let auth = json!({ "mode": "basic", "user": "alice", "password": alice });
    let r = app.taxii_driver(auth.clone(),
        vec![
            json!({ "scenario": "add_objects", "collection": cid, "envelope": { "objects": first_envelope } }),
            json!({ "scenario": "add_objects", "collection": cid, "envelope": { "objects": second_envelope } }),
            // Some producers POST a STIX bundle rather than a TAXII envelope.
            json!({ "scenario": "add_objects", "collection": bundled_cid, "envelope": bundle(&indicators(20, 3, &org_id)) }),
        ],
    )
    .await;
    let bundled = ok(&r[2]);
    assert_eq!(
        (bundled["total_count"].as_u64(), bundled["success_count"].as_u64()),
        (Some(3), Some(3)),
        "{bundled}"
    );
    let status = ok(&r[0]);
    assert_eq!(status["status"], "complete", "{status}");
    assert_eq!(status["total_count"], 8, "{status}");
    assert_eq!(status["success_count"], 7, "{status}");
    assert_eq!(status["failure_count"], 1, "{status}");
    assert_eq!(status["pending_count"], 0, "{status}");
    let failure = &status["failures"][0];
    assert_eq!(failure["id"], invalid_id.as_str(), "{status}");
    assert!(!failure["message"].as_str().unwrap_or("").is_empty(), "a failure says why: {status}");
    assert!(failure["message"].as_str().unwrap().contains("pattern"), "the message names the rule: {status}");
    for detail in status["successes"].as_array().unwrap() {
        assert!(detail["version"].is_string(), "version in every detail: {status}");
    }
    let status2 = ok(&r[1]);
    assert_eq!(status2["total_count"], 2, "{status2}");
    assert_eq!(status2["success_count"], 2, "an exact duplicate is accepted: {status2}");
    for s in [status, status2] {
        let sum = ["success_count", "failure_count", "pending_count"]
            .iter()
            .map(|k| s[k].as_u64().unwrap())
            .sum::<u64>();
        assert_eq!(Some(sum), s["total_count"].as_u64(), "counts add up: {s}");
        assert_eq!(s["successes"].as_array().unwrap().len() as u64, s["success_count"].as_u64().unwrap());
        assert_eq!(s["failures"].as_array().unwrap().len() as u64, s["failure_count"].as_u64().unwrap());
    }
    Pushed { cid, auth, id, v1, v2, v3, single, others, status: status.clone() }
}

/// Paging on the object and versions endpoints too: `more` and `next` on each page.
async fn object_and_versions_endpoints_page(app: &TestApp, p: &Pushed) {
    let (cid, id, v) = (&p.cid, &p.id, version_of);
    let (v1, v2, v3) = (p.v1.clone(), p.v2.clone(), p.v3.clone());
    let paged = |endpoint: &str, filters: Value| json!({ "scenario": "pages", "collection": cid, "endpoint": endpoint, "object": id, "per_request": 1, "filters": filters });
    let r = app
        .taxii_driver(
            p.auth.clone(),
            vec![paged("versions", json!({})), paged("object", json!({ "version": "all" }))],
        )
        .await;
    let versions_pages = ok(&r[0])["envelopes"].as_array().unwrap().clone();
    let object_pages = ok(&r[1])["envelopes"].as_array().unwrap().clone();
    // taxii2-client counts `objects` to size later pages: on versions it finds none and drops
    // `limit`, so the second page is the server default (both remaining versions).
    assert_eq!(versions_pages.len(), 2, "{versions_pages:?}");
    assert_eq!(versions_pages[0]["versions"], json!([v(&v1)]));
    assert_eq!(versions_pages[0]["more"], true);
    assert!(versions_pages[0]["next"].is_string(), "next when more on versions: {versions_pages:?}");
    assert_eq!(versions_pages[1]["versions"], json!([v(&v2), v(&v3)]));
    assert_eq!(versions_pages[1]["more"], false);
    assert_eq!(object_pages.len(), 3, "{object_pages:?}");
    for (page, (expected, more)) in object_pages.iter().zip([(&v1, true), (&v2, true), (&v3, false)]) {
        assert_eq!(page["objects"].as_array().unwrap().len(), 1, "{page}");
        assert_eq!(page["objects"][0]["modified"], v(expected), "{page}");
        assert_eq!(page["more"], more, "{page}");
        assert_eq!(page["next"].is_string(), more, "next exactly when more: {page}");
    }
}

/// Status, manifest, versions, get and delete in one run of the client; the results in order.
async fn read_and_delete_steps(app: &TestApp, p: &Pushed) -> Vec<Value> {
    let (cid, id, single, others, v) = (&p.cid, &p.id, &p.single, &p.others, version_of);
    let status_id = p.status["id"].as_str().unwrap().to_string();
    let step = |scenario: &str, filters: Value| json!({ "scenario": scenario, "collection": cid, "object": id, "filters": filters });
    app.taxii_driver(
        p.auth.clone(),
        vec![
            json!({ "scenario": "status", "status_id": status_id }),
            json!({ "scenario": "manifest", "collection": cid }),
            json!({ "scenario": "manifest", "collection": cid, "filters": { "version": "all" } }),
            step("versions", json!({})),
            step("get_object", json!({})),
            step("get_object", json!({ "version": "all" })),
            step("get_object", json!({ "version": "first" })),
            step("get_object", json!({ "version": v(&p.v2) })),
            step("delete_object", json!({ "version": "first" })),
            step("versions", json!({})),
            step("delete_object", json!({ "version": "all" })),
            step("get_object", json!({})),
            step("versions", json!({})),
            json!({ "scenario": "manifest", "collection": cid, "filters": { "version": "all" } }),
            json!({ "scenario": "status", "status_id": "1b2a9c36-0d3e-4d1c-9a53-0f6f5a0c3e11" }),
            json!({ "scenario": "delete_object", "collection": cid, "object": single }),
            json!({ "scenario": "get_object", "collection": cid, "object": single }),
            json!({ "scenario": "manifest", "collection": cid, "filters": { "version": "all" } }),
            // Deleted, then pushed again by a partner: it is back, as a new addition.
            json!({ "scenario": "add_objects", "collection": cid, "envelope": { "objects": [others[0]] } }),
            json!({ "scenario": "get_object", "collection": cid, "object": single }),
            json!({ "scenario": "manifest", "collection": cid, "filters": { "version": "all" } }),
        ],
    )
    .await
}

/// The status resource is stored: fetched again it says the same. Manifest: one record per
/// object (latest version) by default; all versions on request.
fn status_and_manifest_read_back(p: &Pushed, r: &[Value]) {
    let (status, id, v) = (&p.status, &p.id, version_of);
    let (v1, v2, v3) = (p.v1.clone(), p.v2.clone(), p.v3.clone());
    let again = ok(&r[0]);
    for k in ["id", "status", "total_count", "success_count", "failure_count", "pending_count", "failures"] {
        assert_eq!(again[k], status[k], "status {k}");
    }

    let manifest = ok(&r[1])["objects"].as_array().unwrap().clone();
    assert_eq!(manifest.len(), 6, "identity, the indicator, 4 others: {manifest:?}");
    let mine: Vec<_> = manifest.iter().filter(|m| m["id"] == id.as_str()).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["version"], v(&v3));
    assert_eq!(mine[0]["media_type"], "application/stix+json;version=2.1");
    let all = ok(&r[2])["objects"].as_array().unwrap().clone();
    assert_eq!(all.len(), 8, "{all:?}");
    let mine: Vec<String> = all
        .iter()
        .filter(|m| m["id"] == id.as_str())
        .map(|m| m["version"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(mine, vec![v(&v1), v(&v2), v(&v3)], "in date-added order");
    let added: Vec<&str> = all.iter().map(|m| m["date_added"].as_str().unwrap()).collect();
    assert!(added.windows(2).all(|w| w[0] < w[1]), "date_added strictly increasing: {added:?}");
    for a in &added {
        assert!(TaxiiTimestamp::parse(a).is_ok() && a.len() == 27, "6 fractional digits and Z: {a}");
    }
}

/// Versions and get: the last version by default, every, first or an exact one on request.
fn gets_select_versions(p: &Pushed, r: &[Value]) {
    let v = version_of;
    let (v1, v2, v3) = (p.v1.clone(), p.v2.clone(), p.v3.clone());
    let versions = ok(&r[3]);
    assert_eq!(versions["versions"], json!([v(&v1), v(&v2), v(&v3)]), "{versions}");
    assert_eq!(versions["more"], false);

    let latest = ok(&r[4])["objects"].as_array().unwrap().clone();
    assert_eq!(latest.len(), 1, "default is the last version");
    assert_eq!(latest[0]["modified"], v(&v3));
    assert_eq!(latest[0], value_of(&v3), "served as posted");
    let every: Vec<String> = ok(&r[5])["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["modified"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(every, vec![v(&v1), v(&v2), v(&v3)]);
    let first = ok(&r[6])["objects"].as_array().unwrap().clone();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["modified"], v(&v1));
    let exact = ok(&r[7])["objects"].as_array().unwrap().clone();
    assert_eq!(exact.len(), 1);
    assert_eq!(exact[0]["modified"], v(&v2));
}

/// Delete: match[version] selects versions; once every version is gone the object 404s and
/// leaves the manifest. Pushed again, it is back as a new addition.
fn deletes_select_versions(p: &Pushed, r: &[Value]) {
    let (id, single, others, v) = (&p.id, &p.single, &p.others, version_of);
    let (v2, v3) = (p.v2.clone(), p.v3.clone());
    ok(&r[8]);
    assert_eq!(ok(&r[9])["versions"], json!([v(&v2), v(&v3)]), "only the first version went");
    ok(&r[10]);
    assert_eq!(r[11]["error"]["status"], 404, "{}", r[11]);
    assert_eq!(r[12]["error"]["status"], 404, "{}", r[12]);
    let after = ok(&r[13])["objects"].as_array().unwrap().clone();
    assert_eq!(after.len(), 5, "{after:?}");
    assert!(after.iter().all(|m| m["id"] != id.as_str()), "{after:?}");
    assert_eq!(r[14]["error"]["status"], 404, "unknown status: {}", r[14]);
    // A single-version object deleted without filters.
    ok(&r[15]);
    assert_eq!(r[16]["error"]["status"], 404, "{}", r[16]);
    let after = ok(&r[17])["objects"].as_array().unwrap().clone();
    assert_eq!(after.len(), 4, "{after:?}");
    assert!(after.iter().all(|m| m["id"] != single.as_str()), "{after:?}");
    assert_eq!(ok(&r[18])["success_count"], 1, "{}", r[18]);
    assert_eq!(ok(&r[19])["objects"][0], others[0], "served again after re-adding");
    let again = ok(&r[20])["objects"].as_array().unwrap().clone();
    assert_eq!(again.len(), 5, "{again:?}");
    assert_eq!(again.last().unwrap()["id"], single.as_str(), "re-added last, by date_added: {again:?}");
}

/// Issue 3: "DELETE per spec §5.7 …, the object then 404s and leaves the manifest;
/// `match[version]` selects versions". Without `match[version]` the server applies the GET
/// default (`last`) and deletes only the newest version, so the object stays (as its previous
/// version) in the manifest.
#[tokio::test]
async fn taxii_client_delete_without_a_version_filter_removes_every_version() {
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice", "analyst").await;
    let cid = app.add_collection("Inbound", &[], &["alice"], false).await;
    let org_id = org().id().clone();
    let v1 = indicator(1, &org_id);
    let v2 = v1.new_version(ts("2024-03-05T00:00:00.000Z")).unwrap();
    let v3 = v2.new_version(ts("2024-03-06T00:00:00.000Z")).unwrap();
    let id = v1.id().to_string();
    let objects: Vec<Value> =
        [v1, v2, v3].into_iter().map(|o| StixObject::from(o).to_value().unwrap()).collect();
    post_all(&app, &As::new("alice", &alice), &cid, &objects).await;
    let auth = json!({ "mode": "basic", "user": "alice", "password": alice });
    let step = |scenario: &str| json!({ "scenario": scenario, "collection": cid, "object": id });
    let r = app
        .taxii_driver(
            auth,
            vec![
                step("delete_object"),
                step("get_object"),
                step("versions"),
                json!({ "scenario": "manifest", "collection": cid, "filters": { "version": "all" } }),
            ],
        )
        .await;
    ok(&r[0]);
    assert_eq!(r[1]["error"]["status"], 404, "the object is still served after DELETE: {}", r[1]);
    assert_eq!(r[2]["error"]["status"], 404, "versions are still listed after DELETE: {}", r[2]);
    assert_eq!(ok(&r[3])["objects"], json!([]), "the manifest still lists it: {}", r[3]);
}

// ---------------------------------------------------------------------------------------------
// 1 + 2. as_pages through 5,000 objects; sampled pages pass the strict validator

/// The object ids of a `sweep` step, page after page.
fn swept_ids(sweep: &Value) -> Vec<String> {
    sweep["pages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()))
        .collect()
}

/// A sweep of the 5,000 in pages of `page_size`: `more` and `next` exactly until the last page,
/// every object and every manifest record once in order, date_added strictly increasing.
fn assert_whole_sweep(sweep: &Value, page_size: usize, expected: &[String]) {
    let pages = sweep["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 5_000 / page_size, "pages of {page_size}");
    for (i, page) in pages.iter().enumerate() {
        let last = i + 1 == pages.len();
        assert_eq!(page["more"], !last, "page {i} of {page_size}");
        assert_eq!(page["has_next"], !last, "next exactly when more (page {i} of {page_size})");
        assert_eq!(page["ids"].as_array().unwrap().len(), page_size, "page {i}");
    }
    assert_exactly_once_in_order(&swept_ids(sweep), expected, &format!("objects, pages of {page_size}"));

    let manifest = sweep["manifest"].as_array().unwrap();
    assert_eq!(sweep["manifest_pages"], 5_000 / page_size);
    assert_exactly_once_in_order(&ids_of(manifest), expected, &format!("manifest, pages of {page_size}"));
    let added: Vec<i64> = manifest
        .iter()
        .map(|m| TaxiiTimestamp::parse(m["date_added"].as_str().unwrap()).unwrap().as_micros())
        .collect();
    assert!(added.windows(2).all(|w| w[0] < w[1]), "manifest date_added strictly increasing");
}

#[tokio::test]
async fn taxii_client_as_pages_sweeps_5000_objects_once_in_date_added_order() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice", "analyst").await;
    let cid = app.add_collection("Big feed", &[], &["alice"], false).await;
    let org = org();
    let org_id = org.id().clone();
    let mut all = vec![StixObject::from(org).to_value().unwrap()];
    all.extend(indicators(0, 4_999, &org_id));
    let expected = ids_of(&all);
    let envelopes: Vec<Value> = all.chunks(1_000).map(|c| json!({ "objects": c })).collect();
    assert_eq!(envelopes.len(), 5);

    let auth = json!({ "mode": "basic", "user": "alice", "password": alice });
    let mut r = app
        .taxii_driver(
            auth.clone(),
            vec![json!({ "scenario": "add_many", "collection": cid, "envelopes": envelopes })],
        )
        .await;
    let posted = started.elapsed();
    r.extend(
        app.taxii_driver(auth,
            vec![
                json!({ "scenario": "sweep", "collection": cid, "per_request": 0, "keep_pages": [0, 24, 49] }),
                json!({ "scenario": "sweep", "collection": cid, "per_request": 2000 }),
            ],
        )
        .await,
    );
    let swept = started.elapsed();
    for s in ok(&r[0])["statuses"].as_array().unwrap() {
        assert_eq!(s["status"], "complete", "{s}");
        assert_eq!(s["total_count"], 1_000, "{s}");
        assert_eq!(s["success_count"], 1_000, "{s}");
    }

    // per_request 0: no limit sent, the server default (100). per_request 2000: above the server
    // maximum, so the server serves 1000 and the client adapts (as_pages warns and follows).
    for (sweep, page_size) in [(ok(&r[1]), 100), (ok(&r[2]), 1000)] {
        assert_whole_sweep(sweep, page_size, &expected);
    }

    // The client's own filters on every follow-up (as_pages re-sends them with `next`):
    // added_after = the date_added of object 2,500 (exclusive) and match[type].
    let cut = ok(&r[1])["manifest"][2_499]["date_added"].as_str().unwrap().to_string();
    let filtered = app
        .taxii_driver(
            json!({ "mode": "basic", "user": "alice", "password": alice }),
            vec![json!({
                "scenario": "sweep", "collection": cid, "per_request": 500,
                "filters": { "added_after": cut, "type": "indicator" },
            })],
        )
        .await;
    let filtered_at = started.elapsed();
    let sweep = ok(&filtered[0]);
    let seen = swept_ids(sweep);
    assert_eq!(sweep["pages"].as_array().unwrap().len(), 5);
    assert_exactly_once_in_order(&seen, &expected[2_500..], "as_pages with added_after and match[type]");
    assert_exactly_once_in_order(
        &ids_of(sweep["manifest"].as_array().unwrap()),
        &expected[2_500..],
        "manifest as_pages with added_after and match[type]",
    );

    // 2. What the server served, page by page, passes stix2-validator strict.
    let kept = ok(&r[1])["kept"].as_array().unwrap().clone();
    assert_eq!(kept.len(), 3);
    let pages: Vec<Vec<Value>> = kept.iter().map(|e| e["objects"].as_array().unwrap().clone()).collect();
    assert!(pages.iter().all(|p| p.len() == 100));
    tokio::task::spawn_blocking(move || assert_pages_strictly_valid(&pages, "the 5,000 sweep"))
        .await
        .unwrap();
    eprintln!(
        "5,000 objects: setup + 5 POSTs through taxii2-client {posted:?}; 2 as_pages sweeps \
         (objects and manifest, pages of 100 and 1000) {:?}; a filtered sweep {:?}; strict \
         validation of 3 pages {:?}",
        swept - posted,
        filtered_at - swept,
        started.elapsed() - filtered_at
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Every page of a mixed-type collection passes the strict validator

#[tokio::test]
async fn taxii_client_every_page_of_a_mixed_collection_passes_strict_validation() {
    let app = TestApp::spawn().await;
    let admin = As::admin();
    let cid = app.add_collection("Mixed", &[], &[], false).await;
    let objects = mixed_objects();
    post_all(&app, &admin, &cid, &objects).await;

    let types: HashSet<&str> = objects.iter().map(|o| o["type"].as_str().unwrap()).collect();
    for t in [
        "identity",
        "marking-definition",
        "indicator",
        "relationship",
        "ipv4-addr",
        "domain-name",
        "url",
        "observed-data",
        "sighting",
        "intrusion-set",
    ] {
        assert!(types.contains(t), "no {t}");
    }

    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut q = vec![("limit", "7".to_string()), ("match[version]", "all".to_string())];
        if let Some(n) = &next {
            q.push(("next", n.clone()));
        }
        let resp = get(&app, &admin, &format!("collections/{cid}/objects/"), &q).await;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
        assert_eq!(resp.header("content-type").as_deref(), Some(TAXII));
        pages.push(resp.objects());
        next = resp.next();
        if !resp.more() {
            assert!(next.is_none());
            break;
        }
    }
    let served: Vec<Value> = pages.iter().flatten().cloned().collect();
    assert_eq!(served.len(), objects.len(), "every version once");
    assert_eq!(served, objects, "served as posted, in order");
    assert_eq!(pages.len(), objects.len().div_ceil(7));
    let n = pages.len();
    // The posted set first (a failure there is the test's fault, not the server's), then each page.
    let mut bundles = vec![objects.clone()];
    bundles.extend(pages);
    tokio::task::spawn_blocking(move || {
        assert_pages_strictly_valid(&bundles, "posted set (page 0), then served pages")
    })
    .await
    .unwrap();
    eprintln!("{n} pages of a mixed collection ({} objects) passed strict validation", objects.len());
}

// ---------------------------------------------------------------------------------------------
// 3. Elastic-style and OpenCTI-style paging

/// Posts `n` indicators in POSTs of 1,000; returns their ids in posting order.
async fn fill(app: &TestApp, who: &As, cid: &str, n: usize) -> Vec<String> {
    let org_id = org().id().clone();
    let all = indicators(0, n, &org_id);
    for chunk in all.chunks(1_000) {
        post_all(app, who, cid, chunk).await;
    }
    ids_of(&all)
}

/// The `date_added` of every object, in order (a manifest sweep with raw HTTP).
async fn date_added(app: &TestApp, who: &As, cid: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut next = None;
    loop {
        let mut q = vec![("limit", "1000".to_string())];
        if let Some(n) = next {
            q.push(("next", n));
        }
        let resp = get(app, who, &format!("collections/{cid}/manifest/"), &q).await;
        assert_eq!(resp.status, StatusCode::OK);
        for m in resp.objects() {
            out.push((m["id"].as_str().unwrap().to_string(), m["date_added"].as_str().unwrap().to_string()));
        }
        next = resp.next();
        if !resp.more() {
            return out;
        }
    }
}

#[tokio::test]
async fn taxii_client_elastic_and_opencti_style_paging_return_every_object_once() {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let admin = As::admin();
    let cid = app.add_collection("Feed", &[], &[], false).await;
    let ids = fill(&app, &admin, &cid, 3_000).await;
    let manifest = date_added(&app, &admin, &cid).await;
    assert_eq!(manifest.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(), ids);
    // X-TAXII-Date-Added-First/Last on manifest, object and versions too.
    let m = get(&app, &admin, &format!("collections/{cid}/manifest/"), &[("limit", "5".to_string())]).await;
    assert_eq!(m.header("x-taxii-date-added-first"), Some(manifest[0].1.clone()), "manifest");
    assert_eq!(m.header("x-taxii-date-added-last"), Some(manifest[4].1.clone()), "manifest");
    for endpoint in ["", "versions/"] {
        let r = get(&app, &admin, &format!("collections/{cid}/objects/{}/{endpoint}", ids[10]), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{endpoint}: {}", r.body);
        assert_eq!(r.header("x-taxii-date-added-first"), Some(manifest[10].1.clone()), "object {endpoint}");
        assert_eq!(r.header("x-taxii-date-added-last"), Some(manifest[10].1.clone()), "object {endpoint}");
    }
    // Nothing after the last object: an empty 200, headers omitted or echoing added_after.
    let last = manifest.last().unwrap().1.clone();
    let empty =
        get(&app, &admin, &format!("collections/{cid}/objects/"), &[("added_after", last.clone())]).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.objects().is_empty() && !empty.more() && empty.next().is_none(), "{}", empty.body);
    for h in ["x-taxii-date-added-first", "x-taxii-date-added-last"] {
        let v = empty.header(h);
        assert!(v.is_none() || v.as_deref() == Some(last.as_str()), "{h} on an empty page: {v:?}");
    }

    // Start after the 500th object: added_after is exclusive.
    let cut = manifest[499].1.clone();
    let expected: Vec<String> = ids[500..].to_vec();
    let path = format!("collections/{cid}/objects/");

    // Elastic: the first request has the filters; follow-ups send only next and limit.
    let mut seen = Vec::new();
    let mut q = vec![("added_after", cut.clone()), ("limit", "250".to_string())];
    let mut requests = 0;
    loop {
        let resp = get(&app, &admin, &path, &q).await;
        requests += 1;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
        let objects = resp.objects();
        if let (Some(first), Some(last)) = (objects.first(), objects.last()) {
            let first_added = manifest.iter().find(|(id, _)| first["id"] == id.as_str()).unwrap();
            let last_added = manifest.iter().find(|(id, _)| last["id"] == id.as_str()).unwrap();
            assert_eq!(resp.header("x-taxii-date-added-first"), Some(first_added.1.clone()));
            assert_eq!(resp.header("x-taxii-date-added-last"), Some(last_added.1.clone()));
        }
        seen.extend(ids_of(&objects));
        match resp.next() {
            Some(next) if resp.more() => q = vec![("next", next), ("limit", "250".to_string())],
            _ => break,
        }
    }
    assert_eq!(requests, 10);
    assert_exactly_once_in_order(&seen, &expected, "Elastic-style");

    // OpenCTI: follow-ups send next plus the original added_after (and no limit: server default).
    let mut seen = Vec::new();
    let mut q = vec![("added_after", cut.clone())];
    let mut requests = 0;
    loop {
        let resp = get(&app, &admin, &path, &q).await;
        requests += 1;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
        seen.extend(ids_of(&resp.objects()));
        match resp.next() {
            Some(next) if resp.more() => q = vec![("added_after", cut.clone()), ("next", next)],
            _ => break,
        }
    }
    assert_eq!(requests, 25, "default page 100");
    assert_exactly_once_in_order(&seen, &expected, "OpenCTI-style");

    // A client that re-sends every filter and a different limit on each follow-up.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for limit in [1, 999, 7, 1000, 1000, 1000] {
        let mut q = vec![
            ("added_after", cut.clone()),
            ("limit", limit.to_string()),
            ("match[type]", "indicator".into()),
        ];
        if let Some(n) = &next {
            q.push(("next", n.clone()));
        }
        let resp = get(&app, &admin, &path, &q).await;
        assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
        seen.extend(ids_of(&resp.objects()));
        next = resp.next();
        if !resp.more() {
            break;
        }
    }
    assert_exactly_once_in_order(&seen, &expected, "filters re-sent, limit varying");
    eprintln!("3,000 objects, 3 sweeps of 2,500: {:?}", started.elapsed());
}

/// The same collection addressed by its alias: the cursor continues (it names the collection,
/// not the URL the client used).
async fn a_cursor_continues_through_the_alias(one: &TestApp, two: &TestApp, alice: &As) {
    let alias = "partner-feed";
    let spec = harpoon::service::collections::CollectionSpec {
        title: "Aliased".into(),
        alias: Some(alias.into()),
        writers: vec!["alice".into()],
        ..Default::default()
    };
    let aliased = one
        .db
        .run(move |conn| Ok::<_, harpoon::db::DbError>(harpoon::service::collections::create(conn, &spec)))
        .await
        .unwrap()
        .unwrap()
        .id;
    let aliased_ids = ids_of(
        &post_all(one, alice, &aliased, &indicators(60_000, 30, org().id())).await["successes"]
            .as_array()
            .unwrap()
            .clone(),
    );
    let by_id =
        get(one, alice, &format!("collections/{aliased}/objects/"), &[("limit", "10".to_string())]).await;
    let by_alias =
        get(two, alice, &format!("collections/{alias}/objects/"), &[("next", by_id.next().unwrap())]).await;
    assert_eq!(by_alias.status, StatusCode::OK, "{}", by_alias.body);
    assert_eq!(ids_of(&by_alias.objects()), aliased_ids[10..].to_vec(), "continued through the alias");
}

// ---------------------------------------------------------------------------------------------
// 4. Cursors across two instances; tampered and foreign cursors

#[tokio::test]
async fn taxii_client_cursor_from_one_instance_continues_on_another_and_foreign_cursors_get_400() {
    let one = TestApp::spawn().await;
    let two = one.spawn_sharing().await;
    let alice_pw = one.add_user("alice", "analyst").await;
    let bob_pw = one.add_user("bob", "reader").await;
    let (alice, bob) = (As::new("alice", &alice_pw), As::new("bob", &bob_pw));
    let cid = one.add_collection("Shared", &["bob"], &["alice"], false).await;
    let other = one.add_collection("Other", &["alice"], &[], false).await;
    let ids = fill(&one, &alice, &cid, 1_000).await;
    post_all(&one, &As::admin(), &other, &indicators(50_000, 10, org().id())).await;

    // Pages alternate between the two instances, each continuing the other's cursor.
    let path = format!("collections/{cid}/objects/");
    let mut seen = Vec::new();
    let mut q = vec![("limit", "90".to_string()), ("match[type]", "indicator".to_string())];
    let mut on_two = 0;
    for i in 0.. {
        let app = if i % 2 == 0 { &one } else { &two };
        let resp = get(app, &alice, &path, &q).await;
        assert_eq!(resp.status, StatusCode::OK, "page {i} on instance {}: {}", i % 2 + 1, resp.body);
        if i % 2 == 1 {
            on_two += 1;
        }
        seen.extend(ids_of(&resp.objects()));
        match resp.next() {
            Some(next) if resp.more() => q = vec![("next", next), ("limit", "90".to_string())],
            _ => break,
        }
    }
    assert!(on_two >= 5, "instance two served {on_two} pages");
    assert_exactly_once_in_order(&seen, &ids, "alternating instances");

    // A cursor to tamper with and to take elsewhere.
    let first = get(&one, &alice, &path, &[("limit", "10".to_string())]).await;
    let cursor = first.next().unwrap();
    let on_two = get(&two, &alice, &path, &[("next", cursor.clone())]).await;
    assert_eq!(on_two.status, StatusCode::OK);
    assert_eq!(ids_of(&on_two.objects()), ids[10..110].to_vec(), "continues at object 11 on instance two");

    let (payload, tag) = cursor.split_once('.').unwrap();
    let flip = |s: &str, at: usize| -> String {
        let mut chars: Vec<char> = s.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect()
    };
    // Re-signing is impossible without the key, but a forged payload with the old tag must fail.
    let forged_payload = {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut c: Value = serde_json::from_slice(&engine.decode(payload).unwrap()).unwrap();
        c["c"] = json!(other);
        format!("{}.{tag}", engine.encode(serde_json::to_vec(&c).unwrap()))
    };
    let bad = |what: &'static str, app: &'static str, who: &As, p: String, next: String| {
        (what, app, who.clone(), p, next)
    };
    let manifest_path = format!("collections/{cid}/manifest/");
    let other_path = format!("collections/{other}/objects/");
    let cases = vec![
        bad("payload byte flipped", "one", &alice, path.clone(), format!("{}.{tag}", flip(payload, 5))),
        bad("tag byte flipped", "two", &alice, path.clone(), format!("{payload}.{}", flip(tag, 3))),
        bad("tag removed", "one", &alice, path.clone(), payload.to_string()),
        bad("payload re-encoded with another collection", "two", &alice, other_path.clone(), forged_payload),
        bad("garbage", "one", &alice, path.clone(), "not-a-cursor".into()),
        bad("another collection", "one", &alice, other_path.clone(), cursor.clone()),
        bad("another collection, other instance", "two", &alice, other_path, cursor.clone()),
        bad("another user", "one", &bob, path.clone(), cursor.clone()),
        bad("another user, other instance", "two", &bob, path.clone(), cursor.clone()),
        bad("another endpoint", "one", &alice, manifest_path, cursor.clone()),
    ];
    for (what, instance, who, p, next) in cases {
        let app = if instance == "one" { &one } else { &two };
        let resp = get(app, &who, &p, &[("next", next)]).await;
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{what}: {}", resp.body);
        assert_eq!(resp.header("content-type").as_deref(), Some(TAXII), "{what}");
        assert_eq!(resp.body["http_status"], "400", "{what}: {}", resp.body);
    }
    a_cursor_continues_through_the_alias(&one, &two, &alice).await;

    // Bob may read the collection: his own first page works, only alice's cursor is refused.
    let own = get(&two, &bob, &path, &[("limit", "10".to_string())]).await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(ids_of(&own.objects()), ids[..10].to_vec());
    drop(two);
}

/// Two instances started at the same moment on a fresh database (a deployment's first start):
/// both migrate, bootstrap and load the cursor key; a cursor from either continues on the other.
/// Repeated, since the interesting outcome is a race.
async fn started_together_agree_on_the_cursor_key(rounds: usize) {
    for round in 0..rounds {
        let (one, two) = TestApp::spawn_pair().await;
        let cid = one.add_collection("Feed", &[], &[], false).await;
        let ids = ids_of(
            &post_all(&two, &As::admin(), &cid, &indicators(0, 5, org().id())).await["successes"]
                .as_array()
                .unwrap()
                .clone(),
        );
        let path = format!("collections/{cid}/objects/");
        let first = get(&one, &As::admin(), &path, &[("limit", "2".to_string())]).await;
        let rest = get(&two, &As::admin(), &path, &[("next", first.next().unwrap())]).await;
        assert_eq!(rest.status, StatusCode::OK, "round {round}: {}", rest.body);
        assert_eq!(ids_of(&rest.objects()), ids[2..].to_vec(), "round {round}");
        drop(two);
    }
}

#[tokio::test]
async fn taxii_client_two_instances_started_together_agree_on_the_cursor_key() {
    if TestDb::expected_backend() == Backend::Sqlite {
        eprintln!("SQLite: see taxii_client_two_instances_started_together_on_one_sqlite_file");
        return;
    }
    started_together_agree_on_the_cursor_key(3).await;
}

#[tokio::test]
async fn taxii_client_two_instances_started_together_on_one_sqlite_file() {
    if TestDb::expected_backend() != Backend::Sqlite {
        return; // PostgreSQL: taxii_client_two_instances_started_together_agree_on_the_cursor_key
    }
    started_together_agree_on_the_cursor_key(10).await;
}

// ---------------------------------------------------------------------------------------------
// 5. Concurrent writers and an added_after poller

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii_client_concurrent_writers_on_two_instances_and_an_added_after_poller_see_every_object_once() {
    const WRITERS: usize = 4;
    const POSTS: usize = 25;
    const PER_POST: usize = 20;
    let started = Instant::now();
    let app = std::sync::Arc::new(TestApp::spawn().await);
    // Half the writers and every other poll go through a second instance on the same database.
    let app2 = std::sync::Arc::new(app.spawn_sharing().await);
    let cid = app.add_collection("Busy", &[], &[], false).await;
    let org_id = org().id().clone();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    let mut expected = HashSet::new();
    for w in 0..WRITERS {
        let batches: Vec<Vec<Value>> =
            (0..POSTS).map(|p| indicators(100_000 + (w * POSTS + p) * PER_POST, PER_POST, &org_id)).collect();
        expected.extend(batches.iter().flat_map(|b| ids_of(b)));
        let app = if w % 2 == 0 { app.clone() } else { app2.clone() };
        let (cid, done) = (cid.clone(), done.clone());
        writers.push(tokio::spawn(async move {
            for batch in batches {
                post_all(&app, &As::admin(), &cid, &batch).await;
            }
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }

    // The poller: added_after = the last X-TAXII-Date-Added-Last seen; within a poll it follows
    // `next` to the end. One more poll after the writers finish picks up the tail.
    let path = format!("collections/{cid}/objects/");
    let mut seen: Vec<String> = Vec::new();
    let mut last_added: Option<String> = None;
    let mut polls = 0;
    let mut fruitful_while_writing = 0;
    let mut last_date: i64 = 0;
    loop {
        let finished = done.load(std::sync::atomic::Ordering::SeqCst) == WRITERS;
        polls += 1;
        let before = seen.len();
        let mut q = vec![("limit", "100".to_string())];
        if let Some(a) = &last_added {
            q.push(("added_after", a.clone()));
        }
        loop {
            let instance = if polls % 2 == 0 { &app } else { &app2 };
            let resp = get(instance, &As::admin(), &path, &q).await;
            assert_eq!(resp.status, StatusCode::OK, "{}", resp.body);
            let objects = resp.objects();
            if objects.is_empty() {
                // An empty page: the headers are omitted or echo added_after, never invalid.
                for h in ["x-taxii-date-added-first", "x-taxii-date-added-last"] {
                    let value = resp.header(h);
                    assert!(value.is_none() || value == last_added, "{h} on an empty page: {value:?}");
                }
            } else {
                let first = resp.header("x-taxii-date-added-first").unwrap();
                let last = resp.header("x-taxii-date-added-last").unwrap();
                let first_us = TaxiiTimestamp::parse(&first).unwrap().as_micros();
                assert!(first_us > last_date, "date_added went backwards: {first} after {last_date}");
                last_date = TaxiiTimestamp::parse(&last).unwrap().as_micros();
                last_added = Some(last);
            }
            seen.extend(ids_of(&objects));
            match resp.next() {
                Some(next) if resp.more() => q = vec![("next", next), ("limit", "100".to_string())],
                _ => break,
            }
        }
        if finished {
            break;
        }
        if seen.len() > before {
            fruitful_while_writing += 1;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    drop(app2);
    let total = WRITERS * POSTS * PER_POST;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an object was served twice");
    assert_eq!(seen.len(), total, "objects missed by the poller");
    assert_eq!(unique, expected.iter().collect::<HashSet<_>>());
    assert!(
        fruitful_while_writing >= 3,
        "the poller must see objects while the writers write ({fruitful_while_writing} of {polls} polls)"
    );
    eprintln!(
        "{WRITERS} writers x {POSTS} POSTs x {PER_POST}: {total} objects, {polls} polls \
         ({fruitful_while_writing} with new objects while writing), {:?}",
        started.elapsed()
    );
}
