//! TAXII 2.1 protocol tests: every endpoint, the filters of spec §3.4.1, pagination, media types
//! and every failure code of the spec's tables, through raw HTTP.

use harpoon::db::collections::{CollectionRow, GrantRow};
use harpoon::service::collections::{self, CollectionSpec};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TAXII, TestApp, status_json};

const ROOT: &str = "/taxii2/root";

async fn collection(app: &TestApp, spec: CollectionSpec) -> CollectionRow {
    app.db
        .run(move |conn| Ok::<_, harpoon::db::DbError>(collections::create(conn, &spec)))
        .await
        .unwrap()
        .unwrap()
}

async fn simple_collection(app: &TestApp, alias: &str) -> CollectionRow {
    collection(
        app,
        CollectionSpec {
            title: format!("Collection {alias}"),
            alias: Some(alias.into()),
            ..CollectionSpec::default()
        },
    )
    .await
}

fn admin(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.request(method, path).basic_auth("admin", Some(ADMIN_PASSWORD)).header("Accept", TAXII)
}

fn indicator(id: &str, modified: &str, name: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2024-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"
    })
}

fn url_sco(n: usize) -> Value {
    let value = format!("https://phish{n}.example/login");
    let id = harpoon::stix::StixId::sco("url", &json!({ "value": value })).unwrap();
    json!({ "type": "url", "spec_version": "2.1", "id": id.to_string(), "value": value })
}

async fn post(app: &TestApp, alias: &str, objects: Vec<Value>) -> (StatusCode, Value) {
    status_json(
        admin(app, Method::POST, &format!("{ROOT}/collections/{alias}/objects/"))
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let resp = admin(app, Method::GET, path).send().await.unwrap();
    let headers = resp.headers().clone();
    let (s, v) = status_json(resp).await;
    (s, v, headers)
}

fn ids(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn assert_taxii_error(resp: &Response, status: StatusCode) {
    assert_eq!(resp.status(), status);
    assert_eq!(resp.headers()["content-type"], TAXII, "{status}");
}

#[tokio::test]
async fn discovery_and_api_root() {
    let app = TestApp::spawn().await;
    let resp = app.get("/taxii2/").send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get("www-authenticate").is_some());
    let (_, body) = status_json(resp).await;
    assert_eq!(body["http_status"], "401");

    let (status, disc, _) = get(&app, "/taxii2/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(disc["default"], format!("{}/taxii2/root/", app.url));
    assert_eq!(disc["api_roots"], json!([format!("{}/taxii2/root/", app.url)]));
    assert!(disc["title"].is_string());

    let (status, root, _) = get(&app, "/taxii2/root/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(root["versions"], json!([TAXII]));
    assert_eq!(root["max_content_length"], 100 * 1024 * 1024);

    let (status, err, _) = get(&app, "/taxii2/nope/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["http_status"], "404");
}

#[tokio::test]
async fn media_types_paths_and_error_bodies() {
    let app = TestApp::spawn().await;
    for accept in [TAXII, "application/taxii+json", "*/*", "application/json"] {
        let resp = app.as_admin(app.get("/taxii2/")).header("Accept", accept).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{accept}");
        assert_eq!(resp.headers()["content-type"], TAXII);
    }
    let resp = app
        .as_admin(app.get("/taxii2/"))
        .header("Accept", "application/taxii+json;version=2.0")
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::NOT_ACCEPTABLE);
    for path in [
        "/taxii2",
        "/taxii2/root",
        "/taxii2//root//",
        "/taxii2/root/collections",
        "/taxii2/root/collections/",
    ] {
        let resp = admin(&app, Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
    let resp = admin(&app, Method::GET, "/taxii2/root/nothing/here/").send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::NOT_FOUND);
    simple_collection(&app, "c").await;
    let resp = admin(&app, Method::PUT, "/taxii2/root/collections/c/objects/").send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::METHOD_NOT_ALLOWED);
    let (_, body) = status_json(resp).await;
    assert_eq!(body["http_status"], "405");
    assert!(body["title"].is_string() && body["description"].is_string());
}

#[tokio::test]
async fn collections_are_visible_only_to_who_may_use_them() {
    let app = TestApp::spawn().await;
    let pw_r = app.add_user("reader1", "reader").await;
    let pw_w = app.add_user("writer1", "analyst").await;
    let pw_x = app.add_user("outsider", "analyst").await;
    let private = collection(
        &app,
        CollectionSpec {
            title: "Private".into(),
            alias: Some("private".into()),
            readers: vec!["reader1".into()],
            writers: vec!["writer1".into()],
            ..CollectionSpec::default()
        },
    )
    .await;
    let public = collection(
        &app,
        CollectionSpec { title: "Public".into(), public_read: true, ..CollectionSpec::default() },
    )
    .await;

    let list = |user: &'static str, pw: String| {
        let rb = app.get("/taxii2/root/collections/").basic_auth(user, Some(pw));
        async move { status_json(rb.send().await.unwrap()).await }
    };
    let (_, v) = list("reader1", pw_r.clone()).await;
    let mine: Vec<_> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["title"].as_str().unwrap().to_string(),
                c["can_read"].as_bool().unwrap(),
                c["can_write"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(mine, [("Private".to_string(), true, false), ("Public".to_string(), true, false)]);
    let (_, v) = list("writer1", pw_w.clone()).await;
    assert_eq!(v["collections"][0]["can_write"], true);
    let (_, v) = list("outsider", pw_x.clone()).await;
    assert_eq!(v["collections"].as_array().unwrap().len(), 1, "only the public one: {v}");

    existence_does_not_leak_and_writing_needs_a_grant(&app, &private, &public, &pw_r, &pw_w, &pw_x).await;
    a_write_only_grant_may_add_only(&app, &private, &pw_x).await;
}

/// Existence does not leak: 404 for an authenticated outsider, 401 for anonymous. Anonymous
/// reads of the public collection work, writes do not; a reader may not write (403), the writer
/// may (202).
async fn existence_does_not_leak_and_writing_needs_a_grant(
    app: &TestApp,
    private: &CollectionRow,
    public: &CollectionRow,
    pw_r: &str,
    pw_w: &str,
    pw_x: &str,
) {
    let resp = app
        .get(&format!("{ROOT}/collections/{}/", private.id))
        .basic_auth("outsider", Some(pw_x))
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::NOT_FOUND);
    let resp = app.get(&format!("{ROOT}/collections/{}/objects/", private.id)).send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::UNAUTHORIZED);
    // Anonymous reads of the public collection work; writes do not.
    let resp = app.get(&format!("{ROOT}/collections/{}/objects/", public.id)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = app
        .post(&format!("{ROOT}/collections/{}/objects/", public.id))
        .header("Content-Type", TAXII)
        .body("{\"objects\":[]}")
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::UNAUTHORIZED);
    // A reader may not write (403); the writer may (202).
    let body = json!({ "objects": [url_sco(1)] }).to_string();
    let resp = app
        .post("/taxii2/root/collections/private/objects/")
        .basic_auth("reader1", Some(pw_r))
        .header("Content-Type", TAXII)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::FORBIDDEN);
    let resp = app
        .post("/taxii2/root/collections/private/objects/")
        .basic_auth("writer1", Some(pw_w))
        .header("Content-Type", TAXII)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

/// Write-only grant: may add, may not read (403), may not delete (needs both).
async fn a_write_only_grant_may_add_only(app: &TestApp, private: &CollectionRow, pw_x: &str) {
    app.db
        .run({
            let id = private.id.clone();
            move |conn| {
                let uid = harpoon::db::users::by_name(conn, "outsider")?.unwrap().id;
                harpoon::db::collections::set_grant(
                    conn,
                    &GrantRow { user_id: uid, collection_id: id, can_read: false, can_write: true },
                )
            }
        })
        .await
        .unwrap();
    let resp = app
        .get("/taxii2/root/collections/private/objects/")
        .basic_auth("outsider", Some(pw_x))
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::FORBIDDEN);
    let resp = app
        .request(
            Method::DELETE,
            &format!("{ROOT}/collections/private/objects/{}/", url_sco(1)["id"].as_str().unwrap()),
        )
        .basic_auth("outsider", Some(pw_x))
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn post_answers_202_with_a_stored_consistent_status() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "in").await;
    let good = indicator("indicator--11111111-1111-4111-8111-111111111111", "2024-01-02T00:00:00.000Z", "v1");
    let mut bad = good.clone();
    bad["id"] = json!("indicator--22222222-2222-4222-8222-222222222222");
    bad.as_object_mut().unwrap().remove("pattern");
    let (status, st) = post(&app, "in", vec![good.clone(), bad, url_sco(1), good.clone()]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{st}");
    assert_eq!(st["status"], "complete");
    assert_eq!(st["total_count"], 4);
    assert_eq!(st["success_count"], 3, "the exact duplicate is accepted: {st}");
    assert_eq!(st["failure_count"], 1);
    assert_eq!(st["pending_count"], 0);
    let failure = &st["failures"][0];
    assert_eq!(failure["id"], "indicator--22222222-2222-4222-8222-222222222222");
    assert!(failure["message"].as_str().unwrap().contains("/pattern"), "{failure}");
    assert!(st["successes"].as_array().unwrap().iter().all(|d| d["version"].is_string()));

    let (status, again, _) = get(&app, &format!("{ROOT}/status/{}/", st["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, st, "the stored status is what POST answered");
    // Another user does not see it.
    let pw = app.add_user("other", "analyst").await;
    let resp = app
        .get(&format!("{ROOT}/status/{}/", st["id"].as_str().unwrap()))
        .basic_auth("other", Some(&pw))
        .send()
        .await
        .unwrap();
    assert_taxii_error(&resp, StatusCode::NOT_FOUND);

    let (_, manifest, _) = get(&app, &format!("{ROOT}/collections/in/manifest/")).await;
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 2, "duplicates add no record: {manifest}");
}

#[tokio::test]
async fn post_rejects_wrong_media_type_oversize_and_non_envelopes() {
    let app = TestApp::spawn_with(|s| s.taxii.max_content_length = 2000).await;
    simple_collection(&app, "in").await;
    let path = format!("{ROOT}/collections/in/objects/");
    let send = |ct: &'static str, body: String| {
        admin(&app, Method::POST, &path).header("Content-Type", ct).body(body).send()
    };
    assert_taxii_error(&send("text/plain", "{}".into()).await.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_taxii_error(
        &send("application/taxii+json;version=2.0", "{}".into()).await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    );
    let big = json!({ "objects": (0..40).map(url_sco).collect::<Vec<_>>() }).to_string();
    assert!(big.len() > 2000);
    assert_taxii_error(&send(TAXII, big).await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE);
    for not_envelope in ["[]", "{\"objects\": 3}", "{\"foo\": []}", "\"objects\""] {
        assert_taxii_error(
            &send(TAXII, not_envelope.into()).await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    assert_taxii_error(&send(TAXII, "{\"objects\": [".into()).await.unwrap(), StatusCode::BAD_REQUEST);
    // Nothing of the above was stored.
    let (_, env, _) = get(&app, &path).await;
    assert_eq!(env["objects"], json!([]), "an empty page still carries objects: {env}");
    assert_eq!(env["more"], false);
}

#[tokio::test]
async fn versions_and_the_version_filter() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "v").await;
    let id = "indicator--33333333-3333-4333-8333-333333333333";
    for (m, name) in [("2024-01-02T00:00:00.000Z", "v1"), ("2024-01-03T00:00:00.000Z", "v2")] {
        post(&app, "v", vec![indicator(id, m, name)]).await;
    }
    // An older version arriving late does not become the latest.
    post(&app, "v", vec![indicator(id, "2024-01-01T12:00:00.000Z", "v0")]).await;
    post(&app, "v", vec![url_sco(7)]).await;
    let objects = format!("{ROOT}/collections/v/objects/");
    let names = |env: &Value| -> Vec<String> {
        env["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|o| o["name"].as_str().map(str::to_string))
            .collect()
    };
    let (_, env, _) = get(&app, &objects).await;
    assert_eq!(names(&env), ["v2"], "default is last");
    let (_, env, _) = get(&app, &format!("{objects}?match[version]=first")).await;
    assert_eq!(names(&env), ["v0"]);
    let (_, env, _) = get(&app, &format!("{objects}?match[version]=all")).await;
    assert_eq!(names(&env), ["v1", "v2", "v0"], "ascending by date added");
    let (_, env, _) = get(&app, &format!("{objects}?match[version]=first,last")).await;
    assert_eq!(names(&env), ["v2", "v0"]);
    let (_, env, _) = get(&app, &format!("{objects}?match[version]=2024-01-02T00:00:00Z")).await;
    assert_eq!(names(&env), ["v1"], "exact timestamps in any RFC 3339 form");

    let (_, versions, headers) = get(&app, &format!("{objects}{id}/versions/")).await;
    assert_eq!(
        versions["versions"],
        json!(["2024-01-02T00:00:00.000Z", "2024-01-03T00:00:00.000Z", "2024-01-01T12:00:00.000Z"])
    );
    assert!(
        headers.contains_key("x-taxii-date-added-first") && headers.contains_key("x-taxii-date-added-last")
    );
    let (_, manifest, _) = get(&app, &format!("{ROOT}/collections/v/manifest/?match[version]=all")).await;
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 4, "one record per version");
    assert!(
        manifest["objects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["media_type"] == "application/stix+json;version=2.1")
    );

    let (_, one, _) = get(&app, &format!("{objects}{id}/")).await;
    assert_eq!(names(&one), ["v2"]);
    let (_, one, _) = get(&app, &format!("{objects}{id}/?match[version]=all")).await;
    assert_eq!(names(&one).len(), 3);
    let (status, _, _) =
        get(&app, &format!("{objects}indicator--44444444-4444-4444-8444-444444444444/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&app, &format!("{objects}not-an-id/")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// An object endpoint asks "is it in the collection?" only when its page is empty (a found
/// object costs one statement less); the answers stay what they were: 404 for an absent object
/// before any other complaint, 200 with nothing for a present one that no version matches.
#[tokio::test]
async fn object_endpoints_answer_404_first_and_an_unmatched_version_with_nothing() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "o").await;
    let id = "indicator--55555555-5555-4555-8555-555555555555";
    post(&app, "o", vec![indicator(id, "2024-01-02T00:00:00.000Z", "only")]).await;
    let objects = format!("{ROOT}/collections/o/objects/");
    let absent = "indicator--66666666-6666-4666-8666-666666666666";
    let (status, env, _) = get(&app, &format!("{objects}{id}/?match[version]=2000-01-01T00:00:00Z")).await;
    assert_eq!(status, StatusCode::OK, "{env}");
    assert!(ids(&env).is_empty(), "{env}");
    for path in [format!("{objects}{absent}/"), format!("{objects}{absent}/versions/")] {
        let (status, _, _) = get(&app, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let (status, _, _) = get(&app, &format!("{path}?next=not-a-cursor")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "an absent object is 404 before a bad cursor: {path}");
    }
    let (status, _, _) = get(&app, &format!("{objects}{id}/?next=not-a-cursor")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a present object with a bad cursor");
    let (status, env, _) = get(&app, &format!("{objects}{id}/versions/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env["versions"], json!(["2024-01-02T00:00:00.000Z"]));
}

#[tokio::test]
async fn filters_by_id_type_spec_version_and_added_after() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "f").await;
    let a = "indicator--55555555-5555-4555-8555-555555555555";
    post(&app, "f", vec![indicator(a, "2024-01-02T00:00:00.000Z", "a"), url_sco(1), url_sco(2)]).await;
    let base = format!("{ROOT}/collections/f/objects/");
    let (_, env, _) = get(&app, &format!("{base}?match[type]=url")).await;
    assert_eq!(ids(&env).len(), 2);
    let (_, env, _) = get(&app, &format!("{base}?match[type]=url,indicator&match[id]={a}")).await;
    assert_eq!(ids(&env), [a]);
    let (_, env, _) = get(&app, &format!("{base}?match[spec_version]=2.0")).await;
    assert_eq!(env["objects"], json!([]));
    let (_, env, _) = get(&app, &format!("{base}?match[spec_version]=2.1")).await;
    assert_eq!(ids(&env).len(), 3);

    // added_after is strictly exclusive.
    let (_, manifest, _) = get(&app, &format!("{ROOT}/collections/f/manifest/")).await;
    let first_added = manifest["objects"][0]["date_added"].as_str().unwrap().to_string();
    let (_, env, headers) = get(&app, &format!("{base}?added_after={first_added}")).await;
    assert_eq!(ids(&env).len(), 2);
    assert_ne!(headers["x-taxii-date-added-first"].to_str().unwrap(), first_added);
    // Nothing after the future: an empty page, no date headers at all.
    let (status, env, headers) = get(&app, &format!("{base}?added_after=2999-01-01T00:00:00Z")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(env, json!({ "more": false, "objects": [] }));
    assert!(
        !headers.contains_key("x-taxii-date-added-first") && !headers.contains_key("x-taxii-date-added-last")
    );

    for bad in [
        "added_after=2024-01-01T00:00:00Z&added_after=2024-01-02T00:00:00Z",
        "limit=0",
        "limit=abc",
        "match[version]=all,last",
        "added_after=not-a-time",
        "match[id]=nope",
        "next=forged.cursor",
    ] {
        let resp = admin(&app, Method::GET, &format!("{base}?{bad}")).send().await.unwrap();
        assert_taxii_error(&resp, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn pagination_follows_next_with_or_without_the_filters() {
    let app = TestApp::spawn_with(|s| s.taxii.max_page_size = 120).await;
    simple_collection(&app, "p").await;
    let all: Vec<Value> = (0..250).map(url_sco).collect();
    for chunk in all.chunks(100) {
        let (status, st) = post(&app, "p", chunk.to_vec()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(st["success_count"], chunk.len());
    }
    let base = format!("{ROOT}/collections/p/objects/");
    // limit above the server maximum is capped.
    let (_, env, _) = get(&app, &format!("{base}?limit=500")).await;
    assert_eq!(ids(&env).len(), 120);
    assert_eq!(env["more"], true);

    for resend_filters in [false, true] {
        let mut seen: Vec<String> = Vec::new();
        let mut last_header = String::new();
        let (_, mut env, mut headers) = get(&app, &format!("{base}?limit=100&match[type]=url")).await;
        loop {
            let page = ids(&env);
            let first = headers["x-taxii-date-added-first"].to_str().unwrap().to_string();
            assert!(first > last_header, "pages ascend by date added");
            last_header = headers["x-taxii-date-added-last"].to_str().unwrap().to_string();
            seen.extend(page);
            if env["more"] == false {
                assert!(env.get("next").is_none());
                break;
            }
            let next = env["next"].as_str().unwrap().to_string();
            let query = if resend_filters {
                format!("next={next}&limit=100&match[type]=url")
            } else {
                format!("next={next}&limit=100")
            };
            (_, env, headers) = get(&app, &format!("{base}?{query}")).await;
        }
        let expected: Vec<String> = all.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(seen, expected, "every object once, in order (filters re-sent: {resend_filters})");
    }
    // A cursor is bound to its endpoint.
    let (_, env, _) = get(&app, &format!("{base}?limit=10")).await;
    let next = env["next"].as_str().unwrap();
    let (status, _, _) = get(&app, &format!("{ROOT}/collections/p/manifest/?next={next}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn delete_removes_versions_and_keeps_flags_right() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "d").await;
    let id = "indicator--66666666-6666-4666-8666-666666666666";
    for (m, n) in [
        ("2024-01-01T00:00:00.000Z", "v1"),
        ("2024-01-02T00:00:00.000Z", "v2"),
        ("2024-01-03T00:00:00.000Z", "v3"),
    ] {
        post(&app, "d", vec![indicator(id, m, n)]).await;
    }
    post(&app, "d", vec![url_sco(1)]).await;
    let obj = format!("{ROOT}/collections/d/objects/{id}/");
    let resp = admin(&app, Method::DELETE, &format!("{obj}?match[version]=last")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], TAXII);
    let (_, one, _) = get(&app, &obj).await;
    assert_eq!(one["objects"][0]["name"], "v2", "the previous version is now the latest");
    let resp = admin(&app, Method::DELETE, &format!("{obj}?match[version]=first")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, vs, _) = get(&app, &format!("{obj}versions/")).await;
    assert_eq!(vs["versions"], json!(["2024-01-02T00:00:00.000Z"]));
    let resp = admin(&app, Method::DELETE, &obj).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, _, _) = get(&app, &obj).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, manifest, _) = get(&app, &format!("{ROOT}/collections/d/manifest/?match[version]=all")).await;
    assert_eq!(manifest["objects"].as_array().unwrap().len(), 1, "only the URL is left: {manifest}");
    let resp = admin(&app, Method::DELETE, &obj).send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_envelope_with_several_versions_and_duplicates() {
    let app = TestApp::spawn().await;
    simple_collection(&app, "e").await;
    let id = "indicator--77777777-7777-4777-8777-777777777777";
    let v1 = indicator(id, "2024-01-01T06:00:00.000Z", "v1");
    let v2 = indicator(id, "2024-01-02T00:00:00.000Z", "v2");
    let v0 = indicator(id, "2024-01-01T00:00:00.000Z", "v0");
    let (_, st) = post(&app, "e", vec![v1.clone(), v2.clone(), v1.clone(), url_sco(3), url_sco(3), v0]).await;
    assert_eq!((st["success_count"].as_u64(), st["failure_count"].as_u64()), (Some(6), Some(0)), "{st}");
    let base = format!("{ROOT}/collections/e/objects/");
    let (_, vs, _) = get(&app, &format!("{base}{id}/versions/")).await;
    assert_eq!(vs["versions"].as_array().unwrap().len(), 3);
    let (_, last, _) = get(&app, &format!("{base}{id}/")).await;
    assert_eq!(last["objects"][0]["name"], "v2");
    let (_, first, _) = get(&app, &format!("{base}{id}/?match[version]=first")).await;
    assert_eq!(first["objects"][0]["name"], "v0");
    let (_, all, _) = get(&app, &format!("{base}?match[version]=all")).await;
    assert_eq!(ids(&all).len(), 4, "three versions and one URL: {all}");
    // The same envelope again changes nothing.
    let (_, st) = post(&app, "e", vec![v1, v2, url_sco(3)]).await;
    assert_eq!(st["success_count"], 3);
    let (_, again, _) = get(&app, &format!("{base}?match[version]=all")).await;
    assert_eq!(ids(&again), ids(&all));
}

async fn wait_complete(app: &TestApp, status_id: &str) -> Value {
    for _ in 0..200 {
        let (status, st, _) = get(app, &format!("{ROOT}/status/{status_id}/")).await;
        assert_eq!(status, StatusCode::OK);
        if st["status"] == "complete" {
            return st;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("status {status_id} never completed");
}

#[tokio::test]
async fn large_posts_are_stored_in_the_background_with_a_truthful_status() {
    let app = TestApp::spawn_with(|s| s.taxii.background_threshold = 10).await;
    simple_collection(&app, "bg").await;
    let mut objects: Vec<Value> = (0..60).map(url_sco).collect();
    objects.push(json!({ "type": "url", "id": "url--bad" }));
    let (status, st) = post(&app, "bg", objects).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(st["total_count"], 61);
    assert_eq!(st["failure_count"], 1, "invalid objects fail at once: {st}");
    let counts = |s: &Value| {
        s["success_count"].as_u64().unwrap()
            + s["failure_count"].as_u64().unwrap()
            + s["pending_count"].as_u64().unwrap()
    };
    assert_eq!(counts(&st), 61);
    let done = wait_complete(&app, st["id"].as_str().unwrap()).await;
    assert_eq!((done["success_count"].as_u64(), done["pending_count"].as_u64()), (Some(60), Some(0)));
    assert!(
        done["successes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["version"].as_str().is_some_and(|v| !v.is_empty()))
    );
    let (_, env, _) = get(&app, &format!("{ROOT}/collections/bg/objects/?limit=1000")).await;
    assert_eq!(ids(&env).len(), 60);
}

#[tokio::test]
async fn an_upload_interrupted_by_a_stop_is_finished_at_the_next_start() {
    // What a server that stopped right after answering 202 leaves behind: a pending status.
    let test_db = crate::helpers::TestDb::fresh();
    let db = test_db.connect();
    db.migrate().unwrap();
    let coll = db
        .run(|conn| {
            harpoon::service::accounts::bootstrap_admin_conn(conn, ADMIN_PASSWORD)?;
            Ok::<_, harpoon::db::DbError>(collections::create(
                conn,
                &CollectionSpec {
                    title: "Resume".into(),
                    alias: Some("resume".into()),
                    ..CollectionSpec::default()
                },
            ))
        })
        .await
        .unwrap()
        .unwrap();
    let validator = harpoon::stix::schema::StixValidator::new().unwrap();
    let prepared: Vec<_> =
        (0..30).map(|n| harpoon::service::ingest::prepare(&validator, &url_sco(n).to_string())).collect();
    let request = harpoon::service::ingest::Request {
        collection_id: coll.id.clone(),
        user_id: Some(1),
        now: harpoon::db::now_micros(),
        retention_micros: 3_600_000_000,
        background_threshold: 0,
    };
    let accepted =
        db.run(move |conn| harpoon::service::ingest::accept(conn, &request, prepared)).await.unwrap();
    let harpoon::service::ingest::Accepted::Background(status_id) = accepted else { panic!("{accepted:?}") };
    let pending = db.run(harpoon::db::status::unfinished).await.unwrap();
    assert_eq!(pending, std::slice::from_ref(&status_id), "nothing stored yet");

    let url = test_db.url.clone();
    let app = TestApp::spawn_with(move |s| s.database.url = Some(url)).await;
    let done = wait_complete(&app, &status_id).await;
    assert_eq!(done["success_count"], 30);
    let (_, env, _) = get(&app, &format!("{ROOT}/collections/resume/objects/?limit=1000")).await;
    assert_eq!(ids(&env).len(), 30);
}

#[tokio::test]
async fn api_roots_keep_their_collections_apart() {
    let app = TestApp::builder().api_root("partners", "Partner sharing").spawn().await;
    collection(
        &app,
        CollectionSpec {
            title: "Shared".into(),
            alias: Some("shared".into()),
            api_root: "partners".into(),
            ..CollectionSpec::default()
        },
    )
    .await;
    simple_collection(&app, "internal").await;
    let (_, disc, _) = get(&app, "/taxii2/").await;
    assert_eq!(disc["api_roots"].as_array().unwrap().len(), 2);
    let (_, root, _) = get(&app, "/taxii2/partners/").await;
    assert_eq!(root["title"], "Partner sharing");
    let titles = |v: &Value| -> Vec<String> {
        v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, p, _) = get(&app, "/taxii2/partners/collections/").await;
    assert_eq!(titles(&p), ["Shared"]);
    let (_, r, _) = get(&app, "/taxii2/root/collections/").await;
    // The default root also holds the built-in `active-indicators` feed.
    assert_eq!(titles(&r), ["Active indicators", "Collection internal"]);
    // A collection is reachable under its own root only.
    let (status, _, _) = get(&app, "/taxii2/root/collections/shared/objects/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&app, "/taxii2/partners/collections/shared/objects/").await;
    assert_eq!(status, StatusCode::OK);
    // Status resources need credentials.
    let resp = app.get("/taxii2/root/status/00000000-0000-4000-8000-000000000000/").send().await.unwrap();
    assert_taxii_error(&resp, StatusCode::UNAUTHORIZED);
}

/// Every paged read is counted per collection (requests, objects or manifest records) and the
/// counts reach the database within the flush interval: the dashboard's "served in the last day".
#[tokio::test]
async fn reads_are_counted_for_the_dashboard() {
    let app = TestApp::spawn_with(|s| s.taxii.served_flush_secs = 1).await;
    let row = simple_collection(&app, "counted").await;
    let quiet = simple_collection(&app, "quiet").await;
    let objects: Vec<Value> = (0..5).map(url_sco).collect();
    assert_eq!(post(&app, "counted", objects).await.0, StatusCode::ACCEPTED);
    for path in ["objects/", "objects/?limit=2", "manifest/"] {
        let (status, _, _) = get(&app, &format!("{ROOT}/collections/counted/{path}")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // A refused read is not traffic served.
    let refused = app.get(&format!("{ROOT}/collections/counted/objects/")).header("Accept", TAXII).send();
    assert_eq!(refused.await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let counted = loop {
        let served = harpoon::service::served::last_day(&app.db).await.unwrap();
        if let Some(found) = served.iter().find(|(id, _, _)| *id == row.id).filter(|(_, r, _)| *r >= 3) {
            assert!(!served.iter().any(|(id, _, _)| *id == quiet.id), "{served:?}");
            break found.clone();
        }
        assert!(std::time::Instant::now() < deadline, "not flushed: {served:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!((counted.1, counted.2), (3, 5 + 2 + 5), "3 requests; 5 objects, 2 objects, 5 records");
}

/// PostgreSQL plans a cached statement afresh at every execution for as long as its generic
/// plan looks costlier; get-by-id's page query must settle on its generic plan (two index
/// lookups), or every request pays the planner (ARCHITECTURE.md, "Invariants").
#[tokio::test]
async fn get_by_id_settles_on_a_reusable_plan_on_postgresql() {
    use diesel::prelude::*;
    use harpoon::db::objects::{self, PageQuery, VersionFilter};
    use harpoon::db::{Backend, DbConn, DbError};

    #[derive(QueryableByName, Debug)]
    struct Plans {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        generic_plans: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        custom_plans: i64,
    }
    if crate::helpers::TestDb::expected_backend() != Backend::Postgres {
        return;
    }
    let app = TestApp::spawn().await;
    let collection = simple_collection(&app, "g").await;
    // Enough rows that a generic plan guessing ten ids would rather scan the collection.
    let (status, _) = post(&app, "g", (0..2000).map(url_sco).collect()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = url_sco(7)["id"].as_str().unwrap().to_string();
    let plans = app
        .db
        .run(move |conn| {
            let q = PageQuery {
                collection_id: collection.id.clone(),
                ids: vec![id],
                versions: VersionFilter::last(),
                limit: 100,
                ..PageQuery::default()
            };
            // The statistics autovacuum would have gathered by now in a running server.
            let DbConn::Postgres(c) = conn else { unreachable!() };
            diesel::sql_query("ANALYZE collection_objects, stix_objects").execute(c)?;
            for _ in 0..8 {
                assert_eq!(objects::page(conn, &q, true)?.len(), 1);
            }
            let DbConn::Postgres(c) = conn else { unreachable!() };
            Ok::<_, DbError>(
                diesel::sql_query(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
                     WHERE statement LIKE '%\"stix_objects\".\"stix_id\" %ORDER BY \"collection_objects\".%'",
                )
                .load::<Plans>(c)?,
            )
        })
        .await
        .unwrap();
    assert_eq!(plans.len(), 1, "{plans:?}");
    // PostgreSQL tries five custom plans before it weighs the generic one.
    assert!(
        plans[0].custom_plans <= 5 && plans[0].generic_plans >= 3,
        "planned afresh every time: {plans:?}"
    );
}
