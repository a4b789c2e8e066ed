//! Suggested verdicts (issue 20) through REST and the UI: the verdict with its reasons on the
//! draft; `known phish` joining its event with provenance "automatic: matched indicator X", and the
//! undo taking exactly that back; the one-click close of a `likely benign` draft, the auto-close
//! rule off by default and on when enabled; the audit entries; Authentication-Results of an
//! untrusted authserv-id ignored; DKIM verified against a DNS server this test runs on 127.0.0.1
//! holding a key the test generated. Nothing here leaves 127.0.0.1.

use base64::Engine;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

use crate::fixtures::dns::txt_server;
use crate::fixtures::phish::{PHISH_URL, phish, report};
use crate::helpers::{ADMIN_PASSWORD, TestApp, status_json};

async fn spawn_with(adjust: impl FnOnce(&mut harpoon::settings::Settings)) -> TestApp {
    TestApp::spawn_with(|s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.triage.verdicts.brands.insert("PayPal".into(), vec!["paypal.com".into()]);
        s.triage.verdicts.trusted_authserv_ids = vec!["mx.acme-corp.com".into()];
        // The product's defaults (the harness turns both off for the other tests).
        s.triage.verdicts.auto_join_known_phish = true;
        s.triage.verdicts.verify_dkim = true;
        adjust(s);
    })
    .await
}

fn signals(verdict: &Value) -> Vec<String> {
    verdict["reasons"].as_array().unwrap().iter().map(|r| r["signal"].as_str().unwrap().to_string()).collect()
}

async fn audit(app: &TestApp, action: &str) -> Vec<Value> {
    let (status, body) = status_json(
        app.as_admin(app.get("/api/v1/audit")).query(&[("action", action)]).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

/// A mailing list's internal announcement: nothing to act on, plain text.
/// Another email of the campaign: another sender and subject, the same phishing URL.
fn invoice(message_id: &str, extra: &str) -> String {
    format!(
        "From: Billing <billing@invoices-online.com>\r\nTo: carol@acme-corp.com\r\nSubject: Invoice\r\n\
         Message-ID: <{message_id}@invoices-online.com>\r\nContent-Type: text/plain\r\n\r\nPay at {PHISH_URL} today.\r\n\
         {extra}"
    )
}

/// Commits the draft into an event of its own and sets the phishing URL Active; the event's id
/// and the URL's indicator.
async fn commit_with_url_active(app: &TestApp, id: i64) -> (i64, Value) {
    let (status, c) = app.commit(id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let url = app.indicator("url", PHISH_URL).await;
    app.set_status(url["id"].as_i64().unwrap(), "active").await;
    (c["event_id"].as_i64().unwrap(), url)
}

fn newsletter(n: u32) -> String {
    format!(
        "From: IT Team <it@acme-corp.com>\r\nTo: staff@acme-corp.com\r\nSubject: Maintenance window {n}\r\n\
         Date: Tue, 29 Nov 2016 06:59:10 -0800\r\nMessage-ID: <maint-{n}@acme-corp.com>\r\n\
         List-Id: Staff announcements <staff.acme-corp.com>\r\nList-Post: <mailto:staff@acme-corp.com>\r\n\
         Content-Type: text/plain\r\n\r\nThe file servers restart on Saturday at 22:00.\r\n"
    )
}

#[tokio::test]
async fn verdicts_known_phish_joins_its_event_with_provenance_and_the_undo_takes_it_back() {
    let app = spawn_with(|_| {}).await;
    // The first report: likely phish, with its reasons, in REST.
    let first = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m1"))).await;
    let d = app.draft(first).await;
    let v = &d["verdict"];
    assert_eq!(v["verdict"], "likely_phish", "{v}");
    assert!(v["score"].as_i64().unwrap() >= 70, "{v}");
    let s = signals(v);
    assert!(
        s.contains(&"lookalike_domain".to_string()) && s.contains(&"display_name_brand".to_string()),
        "{v}"
    );
    let look = v["reasons"].as_array().unwrap().iter().find(|r| r["signal"] == "lookalike_domain").unwrap();
    assert!(look["evidence"].to_string().contains("paypa1-verify.com imitates paypal (homoglyph)"), "{look}");
    let (status, same) =
        status_json(app.as_admin(app.get(&format!("/api/v1/imports/{first}/verdict"))).send().await.unwrap())
            .await;
    assert_eq!((status, &same["verdict"]), (StatusCode::OK, &v["verdict"]));
    // Committed, and the URL becomes Active; another email with that URL (another sender and
    // subject) is known.
    let (event, url) = commit_with_url_active(&app, first).await;
    let other = invoice("inv-1", "Also see https://fresh-campaign-host.com/landing\r\n");
    let joined = app.import_id(&other).await;
    let d = app.draft(joined).await;
    assert_eq!(d["verdict"]["verdict"], "known_phish", "{d}");
    assert_eq!(d["state"], "committed");
    assert_eq!(d["event_id"], event);
    let action = &d["verdict"]["action"];
    assert_eq!(action["action"], "joined");
    assert_eq!(action["by"], "automatic");
    let want = format!("automatic: matched indicator {} (url {PHISH_URL})", url["id"]);
    assert_eq!(action["provenance"], want.as_str(), "{action}");
    let entries = audit(&app, "draft.join").await;
    assert!(entries.iter().any(|e| e["detail"].as_str().unwrap().starts_with(&want)), "{entries:?}");
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    assert!(ev.to_string().contains("carol@acme-corp.com"), "the join added its recipient: {ev}");
    let fresh = app.indicator("domain", "fresh-campaign-host.com").await;
    assert!(ev.to_string().contains("fresh-campaign-host.com"), "and its new indicator: {ev}");

    // A reader cannot undo; an analyst can: the draft is open again, the event as it was.
    let reader_password = app.add_user("rita", "reader").await;
    let r = app.post(&format!("/api/v1/imports/{joined}/undo")).basic_auth("rita", Some(&reader_password));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let (status, undone) = app.post_admin(&format!("/api/v1/imports/{joined}/undo")).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    assert!(undone["action"]["undone_at"].is_string(), "{undone}");
    let d = app.draft(joined).await;
    assert_eq!((d["state"].as_str(), d["event_id"].as_i64()), (Some("draft"), None));
    let (_, ev) =
        status_json(app.as_admin(app.get(&format!("/api/v1/events/{event}"))).send().await.unwrap()).await;
    assert!(!ev.to_string().contains("carol@acme-corp.com"), "{ev}");
    assert!(!ev.to_string().contains("fresh-campaign-host.com"), "{ev}");
    let (status, _) = status_json(
        app.as_admin(app.get(&format!("/api/v1/indicators/{}", fresh["id"]))).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the indicator the join created is gone");
    assert!(
        app.indicator("url", PHISH_URL).await["status"] == "active",
        "what existed before the join stays"
    );
    assert_eq!(audit(&app, "draft.undo").await.len(), 1);
    let (status, _) = app.post_admin(&format!("/api/v1/imports/{joined}/undo")).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing left to undo");

    // The same phish reported by bob: the same email's event, joined at once.
    let again = app.import_id(&report("bob@acme-corp.com", &phish("bob@acme-corp.com", "m1"))).await;
    let d = app.draft(again).await;
    assert_eq!(
        (d["verdict"]["verdict"].as_str(), d["event_id"].as_i64()),
        (Some("known_phish"), Some(event))
    );
}

#[tokio::test]
async fn verdicts_a_re_reported_email_joins_the_event_its_first_report_joined() {
    let app = spawn_with(|_| {}).await;
    let first = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m1"))).await;
    let (event_a, _) = commit_with_url_active(&app, first).await;
    // X: another email of the campaign, joined to event A through the URL.
    let x = invoice("inv-x", "");
    let x_first = app.import_id(&report("carol@acme-corp.com", &x)).await;
    assert_eq!(app.draft(x_first).await["event_id"].as_i64(), Some(event_a));
    // Y: a third email with the URL, put by an analyst into an event of its own (B), which
    // makes B the URL's newest event.
    let y = format!(
        "From: Payroll <pay@salary-portal.net>\r\nTo: dave@acme-corp.com\r\nSubject: Payslip\r\n\
         Message-ID: <pay-y@salary-portal.net>\r\nContent-Type: text/plain\r\n\r\nSee {PHISH_URL} now.\r\n"
    );
    let y_id = app.import_id(&report("dave@acme-corp.com", &y)).await;
    let (status, undone) = app.post_admin(&format!("/api/v1/imports/{y_id}/undo")).await;
    assert_eq!(status, StatusCode::OK, "{undone}");
    let (status, c) = app.commit(y_id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let event_b = c["event_id"].as_i64().unwrap();
    assert_ne!(event_a, event_b);
    // X reported again by someone else: the event X's first report joined, not the URL's newest.
    let x_again = app.import_id(&report("erin@acme-corp.com", &x)).await;
    let d = app.draft(x_again).await;
    assert_eq!(
        (d["verdict"]["verdict"].as_str(), d["state"].as_str(), d["event_id"].as_i64()),
        (Some("known_phish"), Some("committed"), Some(event_a)),
        "{d}"
    );
}

#[tokio::test]
async fn verdicts_auto_join_can_be_turned_off() {
    let app = spawn_with(|s| s.triage.verdicts.auto_join_known_phish = false).await;
    let first = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m1"))).await;
    app.commit(first, json!({})).await;
    let again = app.import_id(&report("bob@acme-corp.com", &phish("bob@acme-corp.com", "m1"))).await;
    let d = app.draft(again).await;
    assert_eq!((d["verdict"]["verdict"].as_str(), d["state"].as_str()), (Some("known_phish"), Some("draft")));
    assert!(d["verdict"]["action"].is_null());
}

#[tokio::test]
async fn verdicts_likely_benign_closes_in_one_click_and_auto_close_is_off_by_default() {
    let app = spawn_with(|_| {}).await;
    let id = app.import_id(&newsletter(1)).await;
    let d = app.draft(id).await;
    assert_eq!(d["verdict"]["verdict"], "likely_benign", "{d}");
    assert_eq!(d["state"], "draft", "the auto-close rule is off by default");
    let s = signals(&d["verdict"]);
    for want in ["everything_whitelisted", "mailing_list", "plain_text"] {
        assert!(s.contains(&want.to_string()), "{want}: {s:?}");
    }
    // A reader cannot close; a likely phish cannot be closed in one click.
    let reader_password = app.add_user("rita", "reader").await;
    let r = app.post(&format!("/api/v1/imports/{id}/close")).basic_auth("rita", Some(&reader_password));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let phishy = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "p1"))).await;
    assert_eq!(app.post_admin(&format!("/api/v1/imports/{phishy}/close")).await.0, StatusCode::CONFLICT);

    let (status, closed) = app.post_admin(&format!("/api/v1/imports/{id}/close")).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(
        (closed["action"]["action"].as_str(), closed["action"]["by"].as_str()),
        (Some("closed"), Some("admin"))
    );
    assert_eq!(app.draft(id).await["state"], "abandoned");
    let entries = audit(&app, "draft.close").await;
    assert_eq!((entries.len(), entries[0]["actor"].as_str()), (1, Some("admin")));
    assert_eq!(app.post_admin(&format!("/api/v1/imports/{id}/undo")).await.0, StatusCode::OK);
    assert_eq!(app.draft(id).await["state"], "draft");

    // The same through the UI: the QA page shows the verdict and its reasons; close, then undo.
    let (_, session) = app.login("admin", ADMIN_PASSWORD).await;
    let s = session.unwrap();
    let page = s.get(&app, &format!("/ui/drafts/{id}")).await.text().await.unwrap();
    assert!(page.contains("id=\"verdict-label\">likely benign<"), "{page}");
    assert!(page.contains("data-signal=\"mailing_list\""), "{page}");
    assert!(page.contains("id=\"verdict-close\""));
    let r = s.post(&app, &format!("/ui/drafts/{id}/close"), &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], format!("/ui/drafts/{id}").as_str());
    let page = s.get(&app, &format!("/ui/drafts/{id}")).await.text().await.unwrap();
    assert!(page.contains("id=\"verdict-action\">closed · closed by admin"), "{page}");
    assert_eq!(s.post(&app, &format!("/ui/drafts/{id}/undo"), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.draft(id).await["state"], "draft");
    assert_eq!(audit(&app, "draft.undo").await.len(), 2);

    // An admin turns the rule on: the next likely benign draft is closed at once, audited.
    let app = spawn_with(|s| s.triage.verdicts.auto_close_likely_benign = true).await;
    let id = app.import_id(&newsletter(2)).await;
    let d = app.draft(id).await;
    assert_eq!(
        (d["state"].as_str(), d["verdict"]["action"]["by"].as_str()),
        (Some("abandoned"), Some("automatic"))
    );
    assert_eq!(audit(&app, "draft.close").await[0]["actor"], "automatic");
    assert_eq!(app.post_admin(&format!("/api/v1/imports/{id}/undo")).await.0, StatusCode::OK);
    assert_eq!(app.draft(id).await["state"], "draft");
}

fn with_auth_results(header: &str) -> String {
    format!(
        "Authentication-Results: {header}\r\nFrom: Bank <alerts@bank.example>\r\nTo: dan@acme-corp.com\r\n\
         Subject: Statement\r\nMessage-ID: <st-{}@bank.example>\r\nContent-Type: text/plain\r\n\r\n\
         Your statement is ready at https://bank.example/statements\r\n",
        header.len()
    )
}

#[tokio::test]
async fn verdicts_believe_only_the_trusted_boundarys_authentication_results() {
    let app = spawn_with(|_| {}).await;
    let forged = app.import_id(&with_auth_results("evil.example; dmarc=pass header.from=bank.example")).await;
    let s = signals(&app.draft(forged).await["verdict"]);
    assert!(!s.contains(&"authenticated".to_string()), "an untrusted authserv-id is ignored: {s:?}");
    let no_id = app.import_id(&with_auth_results("dmarc=pass header.from=bank.example")).await;
    assert!(!signals(&app.draft(no_id).await["verdict"]).contains(&"authenticated".to_string()));
    let pass =
        app.import_id(&with_auth_results("mx.acme-corp.com; dmarc=pass header.from=bank.example")).await;
    assert!(signals(&app.draft(pass).await["verdict"]).contains(&"authenticated".to_string()));
    let fail = app
        .import_id(&with_auth_results("MX.ACME-CORP.COM 1; dmarc=fail (p=reject) header.from=bank.example"))
        .await;
    assert!(signals(&app.draft(fail).await["verdict"]).contains(&"dmarc_fail".to_string()));
}

// ---- DKIM against a DNS server on 127.0.0.1 -----------------------------------------------

#[tokio::test]
async fn verdicts_verify_dkim_against_a_local_dns_server_holding_the_key() {
    let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let dns = txt_server("sel1._domainkey.news.example.com", format!("v=DKIM1; k=ed25519; p={public}")).await;
    let app = spawn_with(|s| {
        s.operations.nslookup.resolver = dns.to_string();
        s.operations.nslookup.timeout_secs = 2;
    })
    .await;
    let message = "From: Sender <news@news.example.com>\r\nTo: erin@acme-corp.com\r\nSubject: Signed news\r\n\
                   Message-ID: <signed-1@news.example.com>\r\nContent-Type: text/plain\r\n\r\n\
                   Read more at https://news.example.com/read\r\n";
    let signature = DkimSigner::from_key(key)
        .domain("news.example.com")
        .selector("sel1")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(message.as_bytes())
        .unwrap()
        .to_header();
    let signed = format!("{signature}{message}");
    let id = app.import_id(&signed).await;
    let v = &app.draft(id).await["verdict"];
    let aligned = v["reasons"].as_array().unwrap().iter().find(|r| r["signal"] == "dkim_aligned");
    assert_eq!(aligned.map(|r| r["evidence"].clone()), Some(json!(["news.example.com"])), "{v}");

    // The body changed after signing: the signature fails.
    let tampered = signed.replace("Read more at", "Log in at");
    let v = &app.draft(app.import_id(&tampered).await).await["verdict"];
    assert!(signals(v).contains(&"dkim_fail".to_string()), "{v}");

    // A selector the DNS does not know: unverifiable, no weight, no error.
    let other = format!("{}{message}", signature.replace("s=sel1", "s=sel2")).replace("signed-1", "signed-2");
    let v = &app.draft(app.import_id(&other).await).await["verdict"];
    let r = v["reasons"].as_array().unwrap().iter().find(|r| r["signal"] == "dkim_unverifiable");
    assert_eq!(r.map(|r| r["weight"].clone()), Some(json!(0)), "{v}");
}
