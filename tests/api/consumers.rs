//! Real TAXII consumers' documented calls, replayed request by request (headers, auth form,
//! `added_after` format, `limit`, how `next` is followed). What each replay is based on is
//! cited in tests/oracle/consumers/README.md; taxii2-client itself runs in taxii_client.rs.

use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_json};

const TAXII21: &str = "application/taxii+json;version=2.1";

/// A partner `feed` reading a collection of five indicators; its password and an API token.
struct Feed {
    app: TestApp,
    collection: String,
    password: String,
    token: String,
}

impl Feed {
    fn objects_url(&self) -> String {
        format!("/taxii2/root/collections/{}/objects/", self.collection)
    }
}

fn indicator(n: usize) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": format!("i{n}"),
        "indicator_types": ["malicious-activity"], "pattern": format!("[domain-name:value = 'c{n}.evil.example']"),
        "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"
    })
}

async fn feed() -> Feed {
    let app = TestApp::spawn().await;
    let password = app.add_user("feed", "partner").await;
    let (status, col) = status_json(
        app.as_admin(app.post("/api/v1/collections"))
            .json(&json!({ "title": "Harpoon feed", "alias": "feed", "readers": ["feed"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{col}");
    let collection = col["id"].as_str().unwrap().to_string();
    let (status, st) = status_json(
        app.as_admin(app.post(&format!("/taxii2/root/collections/{collection}/objects/")))
            .header("Accept", TAXII21)
            .header("Content-Type", TAXII21)
            .body(json!({ "objects": (1..=5).map(indicator).collect::<Vec<_>>() }).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, st["success_count"].as_u64()), (StatusCode::ACCEPTED, Some(5)), "{st}");
    let (status, t) = status_json(
        app.as_admin(app.post("/api/v1/tokens"))
            .json(&json!({ "username": "feed", "label": "consumer" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    Feed { app, collection, password, token }
}

async fn get(rb: RequestBuilder) -> (StatusCode, Value, HeaderMap) {
    let resp = rb.send().await.unwrap();
    let headers = resp.headers().clone();
    let (status, body) = status_json(resp).await;
    (status, body, headers)
}

/// The path of an absolute URL the server advertised (discovery lists API roots as URLs).
fn path_of(url: &str) -> String {
    url.find("/taxii2/").map_or(url, |at| &url[at..]).to_string()
}

fn ids(body: &Value) -> Vec<String> {
    body["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
}

fn all_five() -> BTreeSet<String> {
    (1..=5).map(|n| indicator(n)["id"].as_str().unwrap().to_string()).collect()
}

/// Elastic's Custom Threat Intelligence (`ti_custom`) TAXII mode: a CEL program that sends
/// `added_after` (Go RFC 3339, the agent's zone) and `limit`, follows `next` *without*
/// re-sending `added_after`, maps `body.objects` unchecked, and keeps
/// `X-TAXII-Date-Added-Last` as the next run's `added_after`.
#[tokio::test]
async fn elastic_ti_custom_cel_program() {
    let f = feed().await;
    let url = f.objects_url();
    let mut seen = BTreeSet::new();
    let mut last = None;
    // A Go `time.RFC3339` in a +02:00 zone, query-encoded.
    let mut query = vec![
        ("added_after".to_string(), "2024-01-01T02:00:00+02:00".to_string()),
        ("limit".into(), "2".into()),
    ];
    loop {
        let (status, body, headers) =
            get(f.app.get(&url).query(&query).header("Accept", TAXII21).bearer_auth(&f.token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(ids(&body));
        last = headers.get("X-TAXII-Date-Added-Last").map(|v| v.to_str().unwrap().to_string()).or(last);
        match body["next"].as_str() {
            Some(next) if !next.is_empty() => {
                query = vec![("next".into(), next.into()), ("limit".into(), "2".into())]
            }
            _ => break,
        }
    }
    assert_eq!(seen, all_five());
    // The next run: nothing new, and still an `objects` array to map.
    let (status, body, _) = get(f
        .app
        .get(&url)
        .query(&[("added_after", last.unwrap().as_str()), ("limit", "2")])
        .header("Accept", TAXII21)
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["objects"], json!([]), "an empty page still has objects: {body}");
    assert_eq!(body["more"], false);
}

/// Cortex XSOAR's TAXII 2 feed (`TAXII2ApiModule` over taxii2-client): user name
/// `_api_token_key` turns the password into `Authorization: Token <key>`; discovery, then the
/// collection found by title; `added_after` as `%Y-%m-%dT%H:%M:%S.%fZ`; `limit=100`; `next`
/// followed with the filters re-sent.
#[tokio::test]
async fn cortex_xsoar_taxii2_feed() {
    let f = feed().await;
    let auth = format!("Token {}", f.token);
    let (status, discovery, _) =
        get(f.app.get("/taxii2/").header("Accept", TAXII21).header("Authorization", &auth)).await;
    assert_eq!(status, StatusCode::OK, "{discovery}");
    let root = path_of(discovery["api_roots"][0].as_str().unwrap());
    let (status, collections, _) = get(f
        .app
        .get(&format!("{root}collections/"))
        .header("Accept", TAXII21)
        .header("Authorization", &auth))
    .await;
    assert_eq!(status, StatusCode::OK, "{collections}");
    let found =
        collections["collections"].as_array().unwrap().iter().find(|c| c["title"] == "Harpoon feed").unwrap();
    assert_eq!(found["can_read"], true);
    let url = format!("{root}collections/{}/objects/", found["id"].as_str().unwrap());
    let mut seen = BTreeSet::new();
    let mut next: Option<String> = None;
    loop {
        let mut query =
            vec![("added_after", "2023-12-31T23:59:59.000000Z".to_string()), ("limit", "3".to_string())];
        if let Some(n) = &next {
            query.push(("next", n.clone()));
        }
        let (status, body, _) =
            get(f.app.get(&url).query(&query).header("Accept", TAXII21).header("Authorization", &auth)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(ids(&body));
        next = body["next"].as_str().map(str::to_string);
        if body["more"] != true {
            break;
        }
    }
    assert_eq!(seen, all_five());
}

/// OpenCTI's taxii2 connector: `collections` configured as `<api root>.<collection title>` and
/// split on `.` (so a title must not hold one); `added_after` a naive `datetime.now()` minus
/// the interval, formatted by taxii2-client; `response["objects"]` read unchecked.
#[tokio::test]
async fn opencti_taxii2_connector() {
    let f = feed().await;
    let (_, discovery, _) =
        get(f.app.get("/taxii2/").header("Accept", TAXII21).basic_auth("feed", Some(&f.password))).await;
    for root in discovery["api_roots"].as_array().unwrap() {
        let (_, collections, _) = get(f
            .app
            .get(&format!("{}collections/", path_of(root.as_str().unwrap())))
            .header("Accept", TAXII21)
            .basic_auth("feed", Some(&f.password)))
        .await;
        for c in collections["collections"].as_array().unwrap() {
            let spec = format!("root.{}", c["title"].as_str().unwrap());
            assert_eq!(spec.split('.').count(), 2, "OpenCTI could not address {spec}");
        }
    }
    // Titles with a `.` are refused at creation.
    let (status, problem) = status_json(
        f.app
            .as_admin(f.app.post("/api/v1/collections"))
            .json(&json!({ "title": "feeds.v2" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(status.is_client_error(), "{status} {problem}");
    assert!(problem.to_string().contains("'.'"), "{problem}");
    // The poll, first page then `more`/`next` with `added_after` re-sent.
    let mut query = vec![("added_after", "2024-01-01T00:00:00.000000Z".to_string())];
    let (status, body, _) = get(f
        .app
        .get(&f.objects_url())
        .query(&query)
        .header("Accept", TAXII21)
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body).into_iter().collect::<BTreeSet<_>>(), all_five());
    // A run with nothing new: "objects" present and empty.
    query[0].1 = "2999-01-01T00:00:00.000000Z".into();
    let (_, body, headers) = get(f
        .app
        .get(&f.objects_url())
        .query(&query)
        .header("Accept", TAXII21)
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(body["objects"], json!([]));
    assert!(headers.get("X-TAXII-Date-Added-Last").is_none_or(|v| v.to_str().unwrap().ends_with('Z')));
}

/// MISP's `taxii21` import module (misp-modules): taxii2-client `Collection(url, user,
/// password)`, `as_pages(get_objects, per_request=100, spec_version="2.1", added_after=<what the
/// user typed>)`, `envelope.get("objects", [])`.
#[tokio::test]
async fn misp_taxii21_import_module() {
    let f = feed().await;
    // What a MISP user types: with or without a zone, a date only.
    for typed in ["2023-12-31T00:00:00", "2023-12-31T00:00:00Z", "2023-12-31T00:00:00+00:00", "2023-12-31"] {
        let (status, body, _) = get(f
            .app
            .get(&f.objects_url())
            .query(&[("limit", "100"), ("match[spec_version]", "2.1"), ("added_after", typed)])
            .header("Accept", TAXII21)
            .basic_auth("feed", Some(&f.password)))
        .await;
        assert_eq!(status, StatusCode::OK, "added_after={typed}: {body}");
        assert_eq!(ids(&body).len(), 5, "added_after={typed}");
    }
    // The manifest and versions endpoints answer an empty page with empty lists too.
    let (_, manifest, _) = get(f
        .app
        .get(&format!("/taxii2/root/collections/{}/manifest/", f.collection))
        .query(&[("added_after", "2999-01-01T00:00:00Z")])
        .header("Accept", TAXII21)
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(manifest["objects"], json!([]), "{manifest}");
    let id = indicator(1)["id"].as_str().unwrap().to_string();
    let (_, versions, _) = get(f
        .app
        .get(&format!("/taxii2/root/collections/{}/objects/{id}/versions/", f.collection))
        .query(&[("added_after", "2999-01-01T00:00:00Z")])
        .header("Accept", TAXII21)
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(versions["versions"], json!([]), "{versions}");
}

/// Microsoft Sentinel's "Threat Intelligence - TAXII" connector: configured with an API root
/// URL, a collection id and a user name/password (the key-as-user-name form that several
/// products offer is replayed here too); reads the collection, then objects with
/// `added_after` for the chosen look-back, following `next`.
#[tokio::test]
async fn microsoft_sentinel_taxii_connector() {
    let f = feed().await;
    // The API key as the Basic user name, with an empty and with any password.
    for password in [None, Some(""), Some("anything")] {
        let (status, root, _) =
            get(f.app.get("/taxii2/root/").header("Accept", TAXII21).basic_auth(&f.token, password)).await;
        assert_eq!(status, StatusCode::OK, "password {password:?}: {root}");
    }
    let (status, col, _) = get(f
        .app
        .get(&format!("/taxii2/root/collections/{}/", f.collection))
        .header("Accept", TAXII21)
        .basic_auth(&f.token, Some("")))
    .await;
    assert_eq!((status, &col["can_read"]), (StatusCode::OK, &json!(true)), "{col}");
    let mut seen = BTreeSet::new();
    let mut query =
        vec![("added_after", "2023-12-31T00:00:00.0000000Z".to_string()), ("limit", "4".to_string())];
    loop {
        let (status, body, _) = get(f
            .app
            .get(&f.objects_url())
            .query(&query)
            .header("Accept", TAXII21)
            .basic_auth(&f.token, Some("")))
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        seen.extend(ids(&body));
        let Some(next) = body["next"].as_str() else { break };
        query = vec![("next", next.to_string())];
    }
    assert_eq!(seen, all_five());
    // A wrong token as the user name is refused, and is no password failure: the right one
    // still works at once.
    let wrong = format!("hpt_{}_{}", "a".repeat(12), "b".repeat(64));
    for _ in 0..12 {
        let (status, _, headers) =
            get(f.app.get("/taxii2/root/").header("Accept", TAXII21).basic_auth(&wrong, Some(""))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.get("WWW-Authenticate").is_some());
    }
    let (status, _, _) =
        get(f.app.get("/taxii2/root/").header("Accept", TAXII21).basic_auth(&f.token, None::<&str>)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        get(f.app.get("/taxii2/root/").header("Accept", TAXII21).basic_auth("feed", Some(&f.password))).await;
    assert_eq!(status, StatusCode::OK, "the user's password login is not throttled by token failures");
}

/// What TAXII 2.0 clients and vendor builds send beside the protocol: a `Range` header
/// (TAXII 2.0 paging) and unknown query parameters are ignored, not refused.
#[tokio::test]
async fn taxii20_range_and_unknown_parameters_are_ignored() {
    let f = feed().await;
    let (status, body, _) = get(f
        .app
        .get(&f.objects_url())
        .query(&[("match[type]", "indicator"), ("x-vendor", "1"), ("page", "2"), ("sort", "asc")])
        .header("Accept", TAXII21)
        .header("Range", "items 0-1")
        .basic_auth("feed", Some(&f.password)))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ids(&body).len(), 5, "Range does not page a TAXII 2.1 response");
}
