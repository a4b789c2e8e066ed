//! Who reaches what (design.md §7, docs/security.md): every route of every edge, walked with every
//! role and token scope on a populated database and checked against the documented table; the
//! table itself checked against the route tables, so a new route needs a decision. Plus partner
//! onboarding as the README says it, token limits, cross-site refusals and trusted proxies.

use std::collections::BTreeSet;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::phish::{phish, report};
use crate::helpers::UiSession;
use crate::helpers::{TestApp, status_json};

/// The callers of the table's columns, in its order.
const CALLERS: [&str; 7] = ["admin", "analyst", "reader", "partner", "intake", "export", "anonymous"];

#[derive(Debug, Clone)]
struct Row {
    method: String,
    /// The full path as documented, e.g. `/api/v1/imports/{id}`.
    path: String,
    allowed: [bool; 7],
}

fn documented() -> Vec<Row> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/security.md"))
        .expect("docs/security.md");
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 9 || !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&cells[0]) {
            continue;
        }
        let mut allowed = [false; 7];
        for (i, cell) in cells[2..].iter().enumerate() {
            allowed[i] = match *cell {
                "yes" => true,
                "no" => false,
                other => panic!("docs/security.md: '{other}' in {line}"),
            };
        }
        rows.push(Row { method: cells[0].into(), path: cells[1].trim_matches('`').into(), allowed });
    }
    rows
}

fn served() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (prefix, table) in [
        ("/api/v1", harpoon::api::ROUTES),
        ("/taxii2", harpoon::taxii::ROUTES),
        ("/ui", harpoon::web::ROUTES),
    ] {
        for r in table {
            all.insert((r.method.to_string(), format!("{prefix}{}", r.path)));
        }
    }
    all
}

#[test]
fn every_route_is_documented() {
    let doc: BTreeSet<(String, String)> = documented().into_iter().map(|r| (r.method, r.path)).collect();
    let served = served();
    let undocumented: Vec<_> = served.difference(&doc).collect();
    let stale: Vec<_> = doc.difference(&served).collect();
    assert!(undocumented.is_empty(), "routes without a line in docs/security.md: {undocumented:?}");
    assert!(stale.is_empty(), "docs/security.md lists routes that are not served: {stale:?}");
    for row in documented().iter().filter(|r| r.path.starts_with("/ui")) {
        // The UI takes no token: a request carrying one is anonymous.
        assert_eq!(row.allowed[4], row.allowed[6], "{} {}: intake column ≠ anonymous", row.method, row.path);
        assert_eq!(row.allowed[5], row.allowed[6], "{} {}: export column ≠ anonymous", row.method, row.path);
    }
}

/// What the walk needs: a user of each role, tokens, and one of every kind of thing a path names.
struct World {
    passwords: [(String, String); 4],
    intake: String,
    export: String,
    import_id: i64,
    item_id: i64,
    event_id: i64,
    indicator_id: i64,
    whitelist_id: i64,
    token_id: i64,
    collection: String,
    object: String,
    status_id: String,
    run_id: i64,
}

async fn populate(app: &TestApp) -> World {
    let analyst = app.add_user("ana", "analyst").await;
    let reader = app.add_user("rea", "reader").await;
    let partner = app.add_user("par", "partner").await;
    let _victim = app.add_user("vic", "reader").await;
    let issue = |body: Value| async move {
        let (s, v) = app.post_json("/api/v1/tokens", &body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (v["id"].as_i64().unwrap(), v["token"].as_str().unwrap().to_string())
    };
    app.make_export(json!({ "name": "edl", "format": "text" })).await;
    let (_, intake) = issue(json!({ "username": "ana", "scope": "intake", "label": "gw" })).await;
    let (_, export) = issue(json!({ "scope": "export", "exports": ["edl"], "label": "fw" })).await;
    let (token_id, _) = issue(json!({ "username": "vic", "label": "victim's" })).await;

    let draft = app.import_id(&report("rea@acme-corp.com", &phish("ana@acme-corp.com", "<a1@x>"))).await;
    let d = app.draft(draft).await;
    let item_id = d["items"][0]["id"].as_i64().unwrap();
    let committed = app.import_id(&phish("vic@acme-corp.com", "<a2@x>")).await;
    let (s, e) = app.commit(committed, json!({ "title": "access walk" })).await;
    assert!(s.is_success(), "{e}");
    let event_id = e["event_id"].as_i64().expect("event id");
    let (_, list) =
        status_json(app.as_admin(app.get("/api/v1/indicators?type=url")).send().await.unwrap()).await;
    let indicator_id = list["indicators"][0]["id"].as_i64().expect("a URL indicator");
    let rule = json!({ "match_kind": "exact", "pattern": "benign.example", "reason": "walk" });
    let (s, w) = app.post_json("/api/v1/whitelist", &rule).await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let (s, r) = app.start_run(indicator_id, "url-to-fqdn", json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{r}");
    let shared = json!({ "title": "Shared", "alias": "shared", "readers": ["ana", "rea", "par"],
                         "writers": ["ana", "rea", "par"] });
    let (s, c) = app.post_json("/api/v1/collections", &shared).await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let collection = c["id"].as_str().unwrap().to_string();
    let object = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let envelope = json!({ "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": object,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'walk.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z" }] });
    let (s, st) = status_json(
        app.as_admin(app.post(&format!("/taxii2/root/collections/{collection}/objects/")))
            .header("Content-Type", "application/taxii+json;version=2.1")
            .header("Accept", "application/taxii+json;version=2.1")
            .body(envelope.to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{st}");
    World {
        passwords: [
            ("admin".into(), crate::helpers::ADMIN_PASSWORD.into()),
            ("ana".into(), analyst),
            ("rea".into(), reader),
            ("par".into(), partner),
        ],
        intake,
        export,
        import_id: draft,
        item_id,
        event_id,
        indicator_id,
        whitelist_id: w["rule"]["id"].as_i64().unwrap(),
        token_id,
        collection,
        object: object.into(),
        status_id: st["id"].as_str().unwrap().into(),
        run_id: r["id"].as_i64().unwrap(),
    }
}

/// The documented path with its parameters filled from the world.
fn concrete(path: &str, w: &World) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let before = if i > 0 { segments[i - 1] } else { "" };
        let filled = match (*seg, before) {
            ("{id}", "imports" | "drafts") => w.import_id.to_string(),
            ("{id}", "events") => w.event_id.to_string(),
            ("{id}", "indicators") => w.indicator_id.to_string(),
            ("{id}", "whitelist") => w.whitelist_id.to_string(),
            ("{id}", "tokens") => w.token_id.to_string(),
            ("{id}", "jobs") => "999999".into(),
            ("{id}", "campaigns" | "outbox") => "999999".into(),
            ("{verdict}", _) => "phish".into(),
            ("{id}.json", "jobs") => "999999.json".into(),
            ("{item}", _) => w.item_id.to_string(),
            ("{name}", "exports") => "edl".into(),
            ("{file}", "feed") => "manifest.json".into(),
            ("{name}", "connectors") => "nowhere".into(),
            ("{name}", "subscriptions") => "nowhere".into(),
            ("{name}", "operations") => "url-to-fqdn".into(),
            ("{name}", "static") => "app.css".into(),
            ("{username}", _) | ("{name}", "users") => "vic".into(),
            ("{collection}", _) => w.collection.clone(),
            ("{root}", _) => "root".into(),
            ("{object}", _) => w.object.clone(),
            ("{status_id}", _) => w.status_id.clone(),
            ("{run_id}", _) => w.run_id.to_string(),
            (s, _) if s.starts_with('{') => panic!("no value for {s} in {path}: add one to access::concrete"),
            (s, _) => s.to_string(),
        };
        out.push(filled);
    }
    out.join("/")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Edge {
    Api,
    Taxii,
    Ui,
}

fn edge_of(path: &str) -> Edge {
    if path.starts_with("/api/") {
        Edge::Api
    } else if path.starts_with("/taxii2") {
        Edge::Taxii
    } else {
        Edge::Ui
    }
}

/// Sends one documented route as one caller; the answer's status and, for a redirect, where to.
async fn send(
    app: &TestApp,
    row: &Row,
    path: &str,
    caller: usize,
    w: &World,
    ui: &[Option<UiSession>],
) -> (StatusCode, String) {
    let method = Method::from_bytes(row.method.as_bytes()).unwrap();
    let edge = edge_of(&row.path);
    let mut rb = app.request(method.clone(), path);
    if edge == Edge::Ui {
        let session = if caller < 4 { ui[caller].as_ref() } else { None };
        if let Some(s) = session {
            rb = rb.header(COOKIE, &s.cookie);
        }
        if method != Method::GET {
            // A form with nothing but the CSRF token: enough to pass the CSRF check, never
            // enough to change anything.
            let csrf = session.map(|s| s.csrf.clone()).unwrap_or_default();
            rb = rb.form(&[("csrf", csrf.as_str())]);
        }
    } else {
        rb = match caller {
            0..=3 => rb.basic_auth(&w.passwords[caller].0, Some(&w.passwords[caller].1)),
            4 => rb.bearer_auth(&w.intake),
            5 => rb.bearer_auth(&w.export),
            _ => rb,
        };
        if edge == Edge::Taxii {
            rb = rb.header("Accept", "application/taxii+json;version=2.1");
            if method == Method::POST {
                rb =
                    rb.header("Content-Type", "application/taxii+json;version=2.1").body("{\"objects\": []}");
            }
        } else if method != Method::GET && method != Method::DELETE {
            rb = rb.json(&json!({}));
        }
    }
    let resp = rb.send().await.unwrap();
    let location = resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (resp.status(), location)
}

fn refused(status: StatusCode, location: &str) -> bool {
    status == StatusCode::UNAUTHORIZED
        || status == StatusCode::FORBIDDEN
        || (status == StatusCode::SEE_OTHER && location.starts_with("/ui/login"))
}

#[tokio::test]
async fn every_route_answers_every_caller_as_documented() {
    let app = TestApp::spawn_acme().await;
    let w = populate(&app).await;
    let mut ui = Vec::new();
    for (name, password) in &w.passwords {
        let (resp, session) = app.login(name, password).await;
        if name == "par" {
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a partner cannot log in to the UI");
            assert!(session.is_none());
        }
        ui.push(session);
    }
    let mut rows = documented();
    // Logging out ends the walk's sessions: last. Logging in is checked above.
    rows.retain(|r| !(r.method == "POST" && r.path == "/ui/login"));
    rows.sort_by_key(|r| r.path.ends_with("/logout"));
    let mut wrong = Vec::new();
    for row in &rows {
        let path = concrete(&row.path, &w);
        for (caller, name) in CALLERS.iter().enumerate() {
            let (status, location) = send(&app, row, &path, caller, &w, &ui).await;
            let expected = row.allowed[caller];
            let ok = if row.path == "/ui/logout" {
                // A logout that happened answers with the bare login page; a refused one sends
                // the browser to log in first.
                (status == StatusCode::SEE_OTHER && location == "/ui/login") == expected
            } else if expected {
                !refused(status, &location) && !status.is_server_error()
            } else if caller == 6 || (edge_of(&row.path) == Edge::Ui && caller >= 3) {
                refused(status, &location)
            } else {
                status == StatusCode::FORBIDDEN
            };
            if !ok {
                wrong.push(format!(
                    "{} {path} as {name}: {status} {location} (documented: {})",
                    row.method,
                    if expected { "yes" } else { "no" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{} answers differ from docs/security.md:\n{}", wrong.len(), wrong.join("\n"));
}

/// The README's partner onboarding, run as written (the `harpoon` commands of "Onboarding a
/// partner organisation", on the server's database): the partner then reaches its collection over
/// TAXII (read and write) and nothing else: no other collection, no REST beyond `/me`, no raw
/// email, no UI.
#[tokio::test]
async fn a_partner_onboarded_as_documented_reaches_its_collections_only() {
    let app = TestApp::spawn_acme().await;
    // Internal data a partner must never see.
    let draft = app.import_id(&phish("ceo@acme-corp.com", "<secret@x>")).await;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("### Onboarding a partner organisation").nth(1).expect("the README section");
    let block = section.split("```sh").nth(1).and_then(|b| b.split("```").next()).expect("its commands");
    let commands: Vec<String> = block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("harpoon "))
        .map(String::from)
        .collect();
    assert_eq!(commands.len(), 3, "{commands:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for command in &commands {
        let args = shell_words(command.trim_start_matches("harpoon "));
        let out = crate::cli::harpoon(dir.path(), &app.database_url()).args(&args).output().unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    let password = outputs[0]
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("a generated password in {:?}", outputs[0]))
        .trim()
        .to_string();
    let token = outputs[1].trim().to_string();
    assert!(token.starts_with("hpt_"), "{token}");
    let (s, _) =
        app.post_json("/api/v1/collections", &json!({ "title": "Internal only", "alias": "internal" })).await;
    assert_eq!(s, StatusCode::CREATED);

    let taxii = |path: &str| app.taxii_get(path).bearer_auth(&token);
    let (s, list) = status_json(taxii("/taxii2/root/collections/").send().await.unwrap()).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let titles: Vec<&str> =
        list["collections"].as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["CERT Example exchange"], "only its own collection is visible");
    assert_eq!(
        taxii("/taxii2/root/collections/cert-example/objects/").send().await.unwrap().status(),
        StatusCode::OK
    );
    for hidden in
        ["/taxii2/root/collections/internal/objects/", "/taxii2/root/collections/active-indicators/objects/"]
    {
        assert_eq!(taxii(hidden).send().await.unwrap().status(), StatusCode::NOT_FOUND, "{hidden}");
    }
    let envelope = json!({ "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--1e8bd6f4-5c6b-4a3d-8a68-0b6f3c4a7a11",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'partner-pushed.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z" }] });
    let pushed = app
        .taxii_post("/taxii2/root/collections/cert-example/objects/", &envelope)
        .basic_auth("cert-example", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), StatusCode::ACCEPTED);

    // Nothing else: REST beyond /me, raw email, the UI.
    let (s, me) = status_json(app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!((s, me["role"].as_str()), (StatusCode::OK, Some("partner")));
    for path in [
        format!("/api/v1/imports/{draft}/raw"),
        "/api/v1/events".into(),
        "/api/v1/indicators".into(),
        "/api/v1/runs".into(),
        "/api/v1/collections".into(),
    ] {
        let r = app.get(&path).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let r = app.get(&path).basic_auth("cert-example", Some(&password)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path} with the password");
    }
    let r = app.post("/api/v1/tokens").bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a partner mints no token");
    let (resp, session) = app.login("cert-example", &password).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(session.is_none(), "a partner has no UI session");
}

/// Tokens cannot outgrow their purpose: bound exports, issuance within the issuer's scope, a
/// token never above its owner's role, expiry, revocation at once.
#[tokio::test]
async fn tokens_cannot_outgrow_their_purpose() {
    let app = TestApp::spawn().await;
    let ana = app.add_user("ana", "analyst").await;
    let rea = app.add_user("rea", "reader").await;
    for name in ["edl", "other"] {
        app.make_export(json!({ "name": name, "format": "text" })).await;
    }
    let mint = |who: (&'static str, String), body: Value| {
        let app = &app;
        async move {
            status_json(
                app.post("/api/v1/tokens").basic_auth(who.0, Some(&who.1)).json(&body).send().await.unwrap(),
            )
            .await
        }
    };
    let admin = ("admin", crate::helpers::ADMIN_PASSWORD.to_string());
    // Only administrators issue for others or another scope.
    assert_eq!(
        mint(("ana", ana.clone()), json!({ "scope": "export", "exports": ["edl"] })).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(mint(("ana", ana.clone()), json!({ "username": "rea" })).await.0, StatusCode::FORBIDDEN);
    assert_eq!(mint(("rea", rea.clone()), json!({ "username": "admin" })).await.0, StatusCode::FORBIDDEN);
    // A reader's own token is a reader's: it changes nothing.
    let (s, v) = mint(("rea", rea.clone()), json!({ "label": "mine" })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let reader_token = v["token"].as_str().unwrap().to_string();
    let r = app
        .post("/api/v1/whitelist")
        .bearer_auth(&reader_token)
        .json(&json!({ "match_kind": "exact", "pattern": "x.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // An export token names existing exports and reads only those.
    assert_eq!(mint(admin.clone(), json!({ "scope": "export" })).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        mint(admin.clone(), json!({ "scope": "export", "exports": ["missing"] })).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        mint(admin.clone(), json!({ "scope": "intake", "exports": ["edl"] })).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        mint(admin.clone(), json!({ "scope": "intake", "username": "rea" })).await.0,
        StatusCode::BAD_REQUEST,
        "an intake token must be able to import"
    );
    let (s, v) = mint(admin.clone(), json!({ "scope": "export", "exports": ["edl"], "label": "fw" })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["exports"], json!(["edl"]));
    let fw = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/api/v1/exports/edl/feed").query(&[("token", &fw)]).send().await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/exports/other/feed").query(&[("token", &fw)]).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    // Expiry: in the past refused; a short one stops working.
    assert_eq!(
        mint(admin.clone(), json!({ "expires_at": "2020-01-01T00:00:00Z" })).await.0,
        StatusCode::BAD_REQUEST
    );
    let soon = chrono::Utc::now() + chrono::Duration::seconds(2);
    let (s, v) = mint(("ana", ana.clone()), json!({ "expires_at": soon.to_rfc3339() })).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let short = v["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/me").bearer_auth(&short).send().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        app.get("/api/v1/me").bearer_auth(&short).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED,
        "an expired token stops, even if it was just verified"
    );
    let (_, listed) =
        status_json(app.get("/api/v1/tokens").basic_auth("ana", Some(&ana)).send().await.unwrap()).await;
    assert!(listed[0]["expires_at"].is_string() && listed[0]["last_used_at"].is_string(), "{listed}");
    // Revocation: at once on this instance, although the token was just cached.
    let (s, v) = mint(("ana", ana.clone()), json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let t = v["token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/me").bearer_auth(&t).send().await.unwrap().status(), StatusCode::OK);
    let r = app
        .request(Method::DELETE, &format!("/api/v1/tokens/{}", v["id"]))
        .basic_auth("ana", Some(&ana))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me").bearer_auth(&t).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

/// A page of another site cannot make a browser with cached credentials change anything.
#[tokio::test]
async fn cross_site_requests_change_nothing() {
    let app = TestApp::spawn_acme().await;
    let raw = phish("x@acme-corp.com", "<csrf@x>");
    type Attempt<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let attempts: Vec<Attempt> = vec![
        ("text/plain", vec![], "Subject: hi\r\n\r\nhttp://csrf.example/\r\n"),
        ("application/x-www-form-urlencoded", vec![], "raw=x"),
        ("multipart/form-data; boundary=b", vec![], "--b--\r\n"),
        ("message/rfc822", vec![("Sec-Fetch-Site", "cross-site")], raw.as_str()),
        ("message/rfc822", vec![("Origin", "https://evil.example")], raw.as_str()),
        ("application/json", vec![("Origin", "null")], "{}"),
    ];
    for (ct, headers, body) in &attempts {
        let mut rb =
            app.as_admin(app.post("/api/v1/imports")).header("Content-Type", *ct).body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.unwrap();
        assert!(
            r.status() == StatusCode::FORBIDDEN || r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{ct} {headers:?}: {}",
            r.status()
        );
    }
    let (_, list) = status_json(app.as_admin(app.get("/api/v1/imports")).send().await.unwrap()).await;
    assert_eq!(list["imports"].as_array().unwrap().len(), 0, "nothing was imported: {list}");
    // TAXII writes likewise.
    let r = app
        .as_admin(app.post("/taxii2/root/collections/active-indicators/objects/"))
        .header("Accept", "application/taxii+json;version=2.1")
        .header("Content-Type", "application/taxii+json;version=2.1")
        .header("Sec-Fetch-Site", "cross-site")
        .body("{\"objects\": []}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The same requests from the same origin, or from a non-browser client, work.
    let r = app
        .as_admin(app.post("/api/v1/imports"))
        .header("Content-Type", "message/rfc822")
        .header("Sec-Fetch-Site", "same-origin")
        .body(raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // Reads stay possible (a browser may open a feed or the API from a bookmark).
    let r = app.as_admin(app.get("/api/v1/me")).header("Sec-Fetch-Site", "cross-site").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// Behind a TLS-terminating proxy listed in `trusted_proxies`: Secure `__Host-` cookies and HSTS;
/// the same headers from anyone else change nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_cookies_are_host_only_and_hsts_is_sent() {
    let trusted = TestApp::spawn_with(|s| s.server.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let r = trusted.get("/ui/login").header("X-Forwarded-Proto", "https").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers().get("strict-transport-security").unwrap(), "max-age=31536000");
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-harpoon_login=") && set.contains("Secure") && set.contains("Path=/"),
        "{set}"
    );
    let plain = trusted.get("/ui/login").send().await.unwrap();
    assert!(plain.headers().get("strict-transport-security").is_none());

    let untrusted = TestApp::spawn_with(|s| s.server.trusted_proxies = vec!["10.9.9.9".into()]).await;
    let r = untrusted.get("/ui/login").header("X-Forwarded-Proto", "https").send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none());
    let set = r.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(set.starts_with("harpoon_login=") && !set.contains("Secure"), "{set}");
    // A bad entry is a startup error, not a silent no-op.
    let settings = {
        let mut s = harpoon::settings::Settings::default();
        s.server.trusted_proxies = vec!["proxy.example".into()];
        s
    };
    let err = harpoon::http::browser::Proxies::parse(&settings.server.trusted_proxies, false).unwrap_err();
    assert!(err.contains("proxy.example"), "{err}");
}

/// Splits a README command line into arguments (double quotes group words; `#` starts a comment).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && current.is_empty() => break,
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}
