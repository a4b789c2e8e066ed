//! The web UI over plain HTTP: anonymous callers are sent to the login page, the session cookie's
//! flags, logout, CSRF refusals, the CSP and security headers on every page, downloads that are
//! never rendered, and hostile email text escaped everywhere it is shown.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION};
use serde_json::{Value, json};

use crate::fixtures::hostile::{PAYLOAD_MARKERS, hostile_emails};
use crate::fixtures::phish::{PHISH_URL, phish, report};
use crate::helpers::ui::{cookie_value, hidden};
use crate::helpers::{ADMIN_PASSWORD, TestApp, UiSession, status_json};

#[tokio::test]
async fn ui_anonymous_callers_log_in_with_a_strict_cookie_and_log_out() {
    let app = TestApp::spawn().await;
    let root = app.get("/").send().await.unwrap();
    assert_eq!(root.status(), StatusCode::SEE_OTHER);
    assert_eq!(root.headers()[LOCATION], "/ui");
    for path in ["/ui", "/ui/events/1", "/ui/indicators?q=x", "/ui/admin", "/ui/nothing-here"] {
        let r = app.get(path).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        let to = r.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(to.starts_with("/ui/login?next=%2Fui"), "{path} → {to}");
    }
    // A POST without a session is no login either.
    let r = app.post("/ui/drafts/1/abandon").form(&[("csrf", "x")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Wrong password: the login page again, 401, no session, and the failure audited.
    let (resp, session) = app.login("admin", "wrong-password").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(session.is_none());
    assert!(resp.text().await.unwrap().contains("Wrong user name or password"));
    let (_, audit) = status_json(app.as_admin(app.get("/api/v1/audit")).send().await.unwrap()).await;
    assert!(audit.to_string().contains("admin"), "{audit}");

    let (resp, session) = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/events", "back where the user was going");
    let (_, set) = cookie_value(&resp, "harpoon_session").unwrap();
    let flags = set.to_ascii_lowercase();
    assert!(
        flags.contains("httponly") && flags.contains("samesite=strict") && flags.contains("path=/"),
        "{set}"
    );
    assert!(!flags.contains("secure"), "plain HTTP: no Secure flag: {set}");
    let session = session.unwrap();
    // Only the SHA-256 of the session id is stored.
    let raw_id = session.cookie.trim_start_matches("harpoon_session=").to_string();
    assert_eq!(raw_id.len(), 64);
    let ok = session.get(&app, "/ui").await;
    assert_eq!(ok.status(), StatusCode::OK);

    // An open redirect is not followed.
    let form = app.get("/ui/login").send().await.unwrap();
    let (lc, _) = cookie_value(&form, "harpoon_login").unwrap();
    let token = hidden(&form.text().await.unwrap(), "csrf");
    let r = app
        .post("/ui/login")
        .header(COOKIE, format!("harpoon_login={lc}"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("csrf", &token),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/ui");

    // Logout ends the session everywhere (it is deleted from the database).
    let out = session.post(&app, "/ui/logout", &[]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(out.headers()[LOCATION], "/ui/login");
    assert_eq!(session.get(&app, "/ui").await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn ui_forms_without_the_token_or_from_another_site_are_refused() {
    let app = TestApp::spawn_acme().await;
    let id = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-csrf"))).await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let path = format!("/ui/drafts/{id}/abandon");
    type Fields<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Fields, Fields)> = vec![
        ("no token", vec![], vec![]),
        ("a wrong token", vec![("csrf", "0000")], vec![]),
        (
            "cross-site fetch metadata",
            vec![("csrf", s.csrf.as_str())],
            vec![("Sec-Fetch-Site", "cross-site")],
        ),
        ("a foreign Origin", vec![("csrf", s.csrf.as_str())], vec![("Origin", "http://evil.example")]),
        ("a null Origin", vec![("csrf", s.csrf.as_str())], vec![("Origin", "null")]),
    ];
    for (what, form, headers) in cases {
        let mut rb = app.post(&path).header(COOKIE, &s.cookie).form(&form);
        for (k, v) in headers {
            rb = rb.header(k, v);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{what}");
        assert!(r.text().await.unwrap().contains("did not come from this site"), "{what}");
    }
    // The multipart import checks the token too.
    let fields = [("raw", "Subject: x\r\n\r\nhttp://a.example/\r\n"), ("csrf", "bad")];
    let r = s.post_multipart(&app, "/ui/import", &fields).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Login without its double-submit cookie.
    let r = app
        .post("/ui/login")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let (_, d) =
        status_json(app.as_admin(app.get(&format!("/api/v1/imports/{id}"))).send().await.unwrap()).await;
    assert_eq!(d["state"], "draft", "nothing was abandoned");
    // With the token, same-origin: it works.
    let r = app
        .post(&path)
        .header(COOKIE, &s.cookie)
        .header("Sec-Fetch-Site", "same-origin")
        .header("Origin", app.url.clone())
        .form(&[("csrf", s.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, d) =
        status_json(app.as_admin(app.get(&format!("/api/v1/imports/{id}"))).send().await.unwrap()).await;
    assert_eq!(d["state"], "abandoned");
}

/// Every page's security headers, and hostile text present only escaped.
fn assert_safe(path: &str, resp: &reqwest::Response) {
    let h = resp.headers();
    assert_eq!(h["content-security-policy"], harpoon::web::CSP, "{path}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    assert_eq!(h["x-frame-options"], "DENY", "{path}");
    assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    assert_eq!(h["cache-control"], "no-store", "{path}");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
}

fn assert_escaped(path: &str, body: &str) {
    for marker in PAYLOAD_MARKERS {
        assert!(!body.contains(marker), "{path} shows {marker} unescaped");
    }
    // The one script of every page is ours, external; no inline handler or style attribute.
    assert!(body.matches("<script").count() <= 1, "{path}");
    for script in body.match_indices("<script") {
        assert!(body[script.0..].starts_with("<script src=\"/ui/static/app.js?v="), "{path}");
    }
    assert!(!body.contains(" style="), "{path}: inline style");
    // An HTML body is shown only in a script-less sandboxed iframe.
    for frame in body.match_indices("<iframe") {
        assert!(body[frame.0..].starts_with("<iframe class=\"preview\" sandbox=\"\" srcdoc=\""), "{path}");
    }
}

#[tokio::test]
async fn ui_every_page_has_the_security_headers_and_escapes_hostile_email() {
    let app = TestApp::spawn_acme().await;
    let mut drafts = Vec::new();
    for raw in hostile_emails() {
        drafts.push(app.import_id(&raw).await);
    }
    let (status, c) = app.commit(drafts[0], json!({})).await;
    assert!(status.is_success(), "{c}");
    let event = c["event_id"].as_i64().unwrap();
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    let indicator = ev["indicators"][0]["id"].as_i64().unwrap();
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let mut pages: Vec<String> = [
        "/ui",
        "/ui/import",
        "/ui/drafts",
        "/ui/drafts?state=all",
        "/ui/events",
        "/ui/indicators",
        "/ui/indicators?q=hostile",
        "/ui/whitelist",
        "/ui/exports",
        "/ui/collections",
        "/ui/connectors",
        "/ui/admin",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect();
    pages.extend(drafts.iter().map(|d| format!("/ui/drafts/{d}")));
    pages.push(format!("/ui/events/{event}"));
    pages.push(format!("/ui/events/{event}/stix"));
    pages.push(format!("/ui/indicators/{indicator}"));
    for path in &pages {
        let r = s.get(&app, path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_safe(path, &r);
        assert!(r.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{path}");
        let body = r.text().await.unwrap();
        assert_escaped(path, &body);
    }
    // The hostile subject is there, as text.
    let qa = s.get(&app, &format!("/ui/drafts/{}", drafts[0])).await.text().await.unwrap();
    assert!(
        qa.contains(
            "&lt;script&gt;window.__pwned=1;document.title=&#39;pwned&#39;;alert(1)&lt;/script&gt; invoice"
        ),
        "{qa}"
    );
    assert!(
        qa.contains("srcdoc=\"&lt;html&gt;") || qa.contains("srcdoc=\"&#60;html&#62;"),
        "the HTML body only as an escaped srcdoc"
    );
    // Error pages, the login page and a JSON endpoint carry the headers too.
    for path in ["/ui/events/999999", "/ui/indicators/999999", "/ui/nothing-here"] {
        let r = s.get(&app, path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert_safe(path, &r);
    }
    let r = app.get("/ui/login").send().await.unwrap();
    assert_safe("/ui/login", &r);
    let r = s.get(&app, &format!("/ui/indicators/{indicator}/runs.json")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-security-policy"], harpoon::web::CSP);
    // Assets: long-cached, right types, nosniff.
    let js = s.get(&app, "/ui/static/app.js?v=1").await;
    assert_eq!(js.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(js.headers()["cache-control"].to_str().unwrap().contains("max-age=31536000"));
    assert_eq!(js.headers()["x-content-type-options"], "nosniff");
    let css = s.get(&app, "/ui/static/app.css").await;
    assert_eq!(css.headers()[CONTENT_TYPE], "text/css; charset=utf-8");
}

#[tokio::test]
async fn ui_raw_email_downloads_as_an_attachment_never_inline() {
    let app = TestApp::spawn_acme().await;
    let raw = hostile_emails().remove(0);
    let id = app.import_id(&raw).await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let r = s.get(&app, &format!("/ui/drafts/{id}/raw")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"import-{id}.eml\"").as_str()
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()[CONTENT_TYPE], "message/rfc822");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), raw.as_bytes());
    // The attachment named like markup: a download with a tame name, its bytes as they were.
    let (_, d) =
        status_json(app.as_admin(app.get(&format!("/api/v1/imports/{id}"))).send().await.unwrap()).await;
    let att = d["items"].as_array().unwrap().iter().find(|i| i["section"] == "attachment").unwrap().clone();
    let page = s.get(&app, &format!("/ui/drafts/{id}")).await.text().await.unwrap();
    let link = format!("/ui/drafts/{id}/attachments/{}", att["id"]);
    assert!(page.contains(&link), "{page}");
    let r = s.get(&app, &link).await;
    assert_eq!(r.status(), StatusCode::OK);
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"") && !disposition.contains('<'),
        "{disposition}"
    );
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()[CONTENT_TYPE], "application/octet-stream");
    assert!(String::from_utf8_lossy(&r.bytes().await.unwrap()).contains("<script>alert(8)</script>"));
    // Only attachments of that draft.
    assert_eq!(
        s.get(&app, &format!("/ui/drafts/{id}/attachments/999999")).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// The item of a draft with this type and value.
fn draft_item(d: &Value, kind: &str, value: &str) -> Value {
    d["items"].as_array().unwrap().iter().find(|i| i["type"] == kind && i["value"] == value).cloned().unwrap()
}

#[tokio::test]
async fn ui_qa_actions_and_commit_through_forms() {
    let app = TestApp::spawn().await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let (id, to) = import_through_the_form(&app, &s).await;
    qa_through_the_forms(&app, &s, id, &to).await;
    let (event, event_path, ids) = commit_through_the_form(&app, &s, id).await;
    event_and_indicator_forms(&app, &s, event, &ids).await;
    whitelist_preview_saves_nothing(&app, &s).await;
    // A reader may look but not change.
    let reader = app.add_user("rita", "reader").await;
    let (_, rs) = app.login("rita", &reader).await;
    let rs = rs.unwrap();
    assert_eq!(rs.get(&app, &event_path).await.status(), StatusCode::OK);
    assert_eq!(rs.get(&app, "/ui/admin").await.status(), StatusCode::FORBIDDEN);
    let r =
        rs.post(&app, &format!("/ui/events/{event}/status"), &[("status", "review"), ("ids", &ids[0])]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

/// The import form, with metadata: the draft's id and QA page.
async fn import_through_the_form(app: &TestApp, s: &UiSession) -> (i64, String) {
    let raw = report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-forms"));
    let fields = [
        ("csrf", s.csrf.as_str()),
        ("raw", raw.as_str()),
        ("title", "Forms phish"),
        ("tlp", "amber"),
        ("tags", "paypal, forms"),
    ];
    let r = s.post_multipart(app, "/ui/import", &fields).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let to = r.headers()[LOCATION].to_str().unwrap().to_string();
    let id: i64 = to.trim_start_matches("/ui/drafts/").parse().unwrap();
    let d = app.draft(id).await;
    assert_eq!(d["meta"]["title"], "Forms phish");
    assert_eq!(d["source"], "ui");
    // The QA page highlights the URL where it was found.
    let url = draft_item(&d, "url", PHISH_URL);
    let page = s.get(app, &to).await.text().await.unwrap();
    assert!(page.contains(&format!("data-items=\"{}\">http://</mark>", url["id"])), "{page}");
    (id, to)
}

/// Prune, keep again, prune; whitelist the company domain by suffix; add a value.
async fn qa_through_the_forms(app: &TestApp, s: &UiSession, id: i64, to: &str) {
    let d = app.draft(id).await;
    let linkedin = draft_item(&d, "url", "https://www.linkedin.com/company/paypal");
    for state in ["pruned", "proposed", "pruned"] {
        let r = s
            .post(app, &format!("/ui/drafts/{id}/items/{}/state", linkedin["id"]), &[("state", state)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    }
    let help = draft_item(&d, "email", "help@acme-corp.com");
    assert_eq!(help["state"], "proposed", "no organisation domain configured here");
    let r = s
        .post(
            app,
            &format!("/ui/drafts/{id}/items/{}/whitelist", help["id"]),
            &[("match_kind", "suffix"), ("pattern", "acme-corp.com"), ("reason", "our company")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = s
        .post(
            app,
            &format!("/ui/drafts/{id}/items"),
            &[("type", "domain"), ("value", "missed.paypa1-verify.com")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let bad =
        s.post(app, &format!("/ui/drafts/{id}/items"), &[("type", "ipv4"), ("value", "not-an-ip")]).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("not a valid ipv4"));
    let d = app.draft(id).await;
    assert_eq!(draft_item(&d, "url", "https://www.linkedin.com/company/paypal")["state"], "pruned");
    assert_eq!(draft_item(&d, "email", "help@acme-corp.com")["state"], "whitelisted");
    assert_eq!(draft_item(&d, "domain", "acme-corp.com")["state"], "whitelisted");
    assert_eq!(draft_item(&d, "domain", "missed.paypa1-verify.com")["origin"], "analyst");
    let page = s.get(app, to).await.text().await.unwrap();
    assert!(
        page.contains(&format!("<mark class=\"hl whitelisted\" data-items=\"{}\">help@</mark>", help["id"])),
        "{page}"
    );
}

/// Commit → the event page, with the metadata given at import: the event, its page and the
/// ids of two of its indicators (set Active in bulk).
async fn commit_through_the_form(app: &TestApp, s: &UiSession, id: i64) -> (i64, String, Vec<String>) {
    let r =
        s.post(app, &format!("/ui/drafts/{id}/commit"), &[("title", "Forms phish"), ("tlp", "amber")]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let event_path = r.headers()[LOCATION].to_str().unwrap().to_string();
    let event: i64 = event_path.trim_start_matches("/ui/events/").parse().unwrap();
    let page = s.get(app, &event_path).await.text().await.unwrap();
    assert!(page.contains("<strong id=\"recipient-count\">1</strong>"), "{page}");
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    assert_eq!(ev["tlp"], "amber");
    let values: Vec<&str> =
        ev["indicators"].as_array().unwrap().iter().map(|i| i["value"].as_str().unwrap()).collect();
    assert!(
        !values.iter().any(|v| v.contains("linkedin.com/company") || v.contains("acme-corp")),
        "pruned and whitelisted: {values:?}"
    );
    // Bulk status: two indicators Active at once.
    let ids: Vec<String> =
        ev["indicators"].as_array().unwrap().iter().take(2).map(|i| i["id"].to_string()).collect();
    let r = s
        .post(
            app,
            &format!("/ui/events/{event}/status"),
            &[("status", "active"), ("ids", &ids[0]), ("ids", &ids[1])],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    let active = ev["indicators"].as_array().unwrap().iter().filter(|i| i["status"] == "active").count();
    assert_eq!(active, 2);
    (event, event_path, ids)
}

/// Event metadata from the event page; status and score from the indicator page's form.
async fn event_and_indicator_forms(app: &TestApp, s: &UiSession, event: i64, ids: &[String]) {
    let r = s
        .post(
            app,
            &format!("/ui/events/{event}/meta"),
            &[("title", "Renamed phish"), ("tags", "paypal, renamed"), ("adversary", "")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, ev2) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    assert_eq!(ev2["title"], "Renamed phish");
    assert_eq!(ev2["tags"], json!(["paypal", "renamed"]));
    // Status and score from the indicator page's form.
    let r = s
        .post(
            app,
            &format!("/ui/indicators/{}/status", ids[0]),
            &[("status", "active"), ("score", "85"), ("reason", "confirmed")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, one) =
        status_json(app.as_admin(app.get(&format!("/api/v1/indicators/{}", ids[0]))).send().await.unwrap())
            .await;
    assert_eq!(one["score"], 85);
    let bad = s
        .post(app, &format!("/ui/indicators/{}/status", ids[0]), &[("status", "active"), ("score", "900")])
        .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

/// Whitelist preview lists what a rule would match, saving nothing.
async fn whitelist_preview_saves_nothing(app: &TestApp, s: &UiSession) {
    let r = s
        .post(
            app,
            "/ui/whitelist",
            &[
                ("match_kind", "suffix"),
                ("pattern", "paypa1-verify.com"),
                ("applies_to", "any"),
                ("reason", "test"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("would become whitelisted") && body.contains("secure-login.paypa1-verify.com"),
        "{body}"
    );
}

#[tokio::test]
async fn ui_a_big_mbox_imports_in_the_background_with_progress() {
    let app = TestApp::spawn().await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let mut mbox = String::new();
    for n in 0..14 {
        mbox.push_str(&format!(
            "From phisher@bulk.example Mon Jan  1 00:00:{n:02} 2024\n\
From: phisher@bulk.example\nTo: user{n}@acme-corp.com\nSubject: Bulk phish {n}\n\
Message-ID: <bulk-{n}@bulk.example>\n\nClick http://bulk-{n}.example/login now\n\n"
        ));
    }
    // One message that is not an email at all: it fails, the others go on.
    mbox.push_str("From x Mon Jan  1 00:01:00 2024\n\n\n");
    let boundary = "----harpoon-test-boundary-mbox";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"reports.mbox\"\r\nContent-Type: application/mbox\r\n\r\n{mbox}\r\n\
--{boundary}--\r\n",
        s.csrf
    );
    let r = app
        .post("/ui/import")
        .header(COOKIE, &s.cookie)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let job_path = r.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(job_path.starts_with("/ui/jobs/"), "{job_path}");
    let page = s.get(&app, &job_path).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("id=\"job-progress\""));
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, j) = status_json(s.get(&app, &format!("{job_path}.json")).await).await;
        assert_eq!(status, StatusCode::OK);
        assert!(j["done"].as_i64().unwrap() + j["failed"].as_i64().unwrap() <= j["total"].as_i64().unwrap());
        last = j;
        if last["finished"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last["finished"], true, "{last}");
    assert_eq!(last["total"], 15);
    assert_eq!(last["done"], 14, "{last}");
    assert_eq!(last["failed"], 1, "{last}");
    let page = s.get(&app, &job_path).await.text().await.unwrap();
    assert_eq!(page.matches("href=\"/ui/drafts/").count(), 14, "{page}");
    assert!(page.contains("Bulk phish 13") && page.contains("reports.mbox #15"), "{page}");
    // Another user cannot see it.
    let other = app.add_user("otto", "analyst").await;
    let (_, os) = app.login("otto", &other).await;
    assert_eq!(os.unwrap().get(&app, &job_path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn ui_admin_creates_users_and_tokens_and_revokes_them() {
    let app = TestApp::spawn().await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    let r = s
        .post(
            &app,
            "/ui/admin/users",
            &[("username", "nina"), ("role", "analyst"), ("password", "nina-password-123")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (resp, nina) = app.login("nina", "nina-password-123").await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let nina = nina.unwrap();
    assert_eq!(nina.get(&app, "/ui/admin").await.status(), StatusCode::FORBIDDEN, "analysts are not admins");
    let r = nina
        .post(
            &app,
            "/ui/admin/users",
            &[("username", "x"), ("role", "admin"), ("password", "x-password-1234")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A token, shown once, that works on the REST API; then revoked.
    let r = s.post(&app, "/ui/admin/tokens", &[("label", "firewall"), ("scope", "intake")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let start = page.find("id=\"issued-token\">").unwrap() + "id=\"issued-token\">".len();
    let token = page[start..start + page[start..].find('<').unwrap()].to_string();
    assert!(token.starts_with("hpt_"), "{token}");
    let (_, tokens) =
        status_json(app.as_admin(app.get("/api/v1/tokens?all=true")).send().await.unwrap()).await;
    let id = tokens.as_array().unwrap().iter().find(|t| t["label"] == "firewall").unwrap()["id"].to_string();
    let r = s.post(&app, &format!("/ui/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = s.get(&app, "/ui/admin").await.text().await.unwrap();
    assert!(page.contains("firewall") && page.contains("revoked"), "{page}");
    assert!(!page.contains(&token), "the secret is shown only once");
}

#[tokio::test]
async fn ui_sessions_live_in_the_database_and_are_secure_under_tls() {
    // Two instances on one database: a session made on one is served by the other, and a
    // logout on the second ends it on the first.
    let a = TestApp::spawn().await;
    let b = a.spawn_sharing().await;
    let (_, s) = a.login("admin", ADMIN_PASSWORD).await;
    let s = s.unwrap();
    assert_eq!(s.get(&b, "/ui").await.status(), StatusCode::OK);
    assert_eq!(s.post(&b, "/ui/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(s.get(&a, "/ui").await.status(), StatusCode::SEE_OTHER);
    drop(b);

    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = crate::tls::self_signed(dir.path());
    let app = TestApp::spawn_with(|st| {
        st.server.tls_cert = Some(cert.clone());
        st.server.tls_key = Some(key.clone());
    })
    .await;
    let url = app.url.replace("127.0.0.1", "localhost");
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(root)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(format!("{url}/ui/login")).send().await.unwrap();
    let (lc, set) = cookie_value(&form, "__Host-harpoon_login").unwrap();
    assert!(set.to_ascii_lowercase().contains("secure"), "{set}");
    let token = hidden(&form.text().await.unwrap(), "csrf");
    let r = client
        .post(format!("{url}/ui/login"))
        .header(COOKIE, format!("__Host-harpoon_login={lc}"))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, set) = cookie_value(&r, "__Host-harpoon_session").unwrap();
    let flags = set.to_ascii_lowercase();
    assert!(
        flags.contains("secure") && flags.contains("httponly") && flags.contains("samesite=strict"),
        "{set}"
    );
}

#[tokio::test]
async fn ui_qa_shows_the_limits_hit_during_extraction() {
    let app = TestApp::spawn().await;
    // MIME nested deeper than the limit (32).
    let depth = 40;
    let mut raw = "From: x@limits.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n".to_string();
    for d in 0..depth {
        raw.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{d}\"\r\n\r\n--b{d}\r\n"));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\nhttp://limits.example/deep\r\n");
    for d in (0..depth).rev() {
        raw.push_str(&format!("--b{d}--\r\n"));
    }
    let id = app.import_id(&raw).await;
    let (_, s) = app.login("admin", ADMIN_PASSWORD).await;
    let page = s.unwrap().get(&app, &format!("/ui/drafts/{id}")).await.text().await.unwrap();
    let at = page.find("id=\"warnings\"").unwrap_or_else(|| panic!("no warnings shown: {page}"));
    let shown = &page[at..];
    assert!(shown.contains("Limits hit during extraction") && shown.contains("mime_depth: "), "{shown}");
}
