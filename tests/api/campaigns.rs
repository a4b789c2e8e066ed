//! Campaigns over REST and the UI: drafts sharing a kit's path shape, a registered domain or a
//! near-duplicate body are grouped at import (and campaigns merge when a draft links two);
//! mail providers and whitelisted values link nothing; bulk actions act on the whole group and
//! are audited.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, status_json};

fn mail(from: &str, subject: &str, message_id: &str, body: &str) -> String {
    let content_type = if body.starts_with('<') { "text/html" } else { "text/plain" };
    format!(
        "From: {from}\r\nTo: vic@acme-corp.com\r\nSubject: {subject}\r\nDate: Tue, 29 Nov 2016 06:59:10 -0800\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

async fn campaigns(app: &TestApp) -> Vec<Value> {
    app.get_ok("/api/v1/campaigns").await["campaigns"].as_array().cloned().unwrap_or_default()
}

async fn campaign_of(app: &TestApp, draft: i64) -> Option<i64> {
    for c in campaigns(app).await {
        let id = c["id"].as_i64().unwrap();
        let v = app.get_ok(&format!("/api/v1/campaigns/{id}")).await;
        if v["drafts"].as_array().unwrap().iter().any(|d| d["import"]["id"] == draft) {
            return Some(id);
        }
    }
    None
}

#[tokio::test]
async fn drafts_sharing_a_kit_or_a_domain_form_one_explained_campaign() {
    let app = TestApp::spawn_acme().await;
    let a = app
        .import_id(&mail(
            "billing@evil-one.xyz",
            "Invoice overdue",
            "a1@x",
            "Pay now: http://evil-one.xyz/wp-content/x/9f86d081884c7d65/login.php?u=vic@acme-corp.com",
        ))
        .await;
    let b = app
        .import_id(&mail(
            "it@other-bad.xyz",
            "Mailbox full",
            "b1@x",
            "Verify: https://cdn.other-bad.xyz/wp-content/x/0123abcd4567ef89/login.php?u=ana@acme-corp.com",
        ))
        .await;
    let c = app
        .import_id(&mail("noreply@evil-one.xyz", "Second notice", "c1@x", "See https://evil-one.xyz/pay"))
        .await;
    // Benign mail from a provider, linking platforms: never glued to anything.
    let benign1 = app.import_id(&mail(
            "friend@gmail.com",
            "Lunch?",
            "d1@x",
            "See https://www.linkedin.com/in/someone and https://docs.google.com/document/d/1AbC9dEfGh2IjKlMn3OpQr/edit",
        ),
    )
    .await;
    let benign2 = app.import_id(&mail(
            "other@gmail.com",
            "Photos",
            "e1@x",
            "Here: https://docs.google.com/document/d/9ZyX8wVu7TsRq6PoNm5LkJ/edit https://www.linkedin.com/in/me",
        ),
    )
    .await;

    let list = campaigns(&app).await;
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["drafts"], 3, "{list:?}");
    assert_eq!(list[0]["open_drafts"], 3);
    let v = app.get_ok(&format!("/api/v1/campaigns/{id}")).await;
    let members: Vec<i64> =
        v["drafts"].as_array().unwrap().iter().map(|d| d["import"]["id"].as_i64().unwrap()).collect();
    assert_eq!(members, vec![a, b, c], "{v}");
    let shared: Vec<(String, String)> = v["shared_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kind"].as_str().unwrap().to_string(), k["value"].as_str().unwrap().to_string()))
        .collect();
    assert!(shared.contains(&("path".into(), "/wp-content/x/{hex}/login.php?u".into())), "{shared:?}");
    assert!(shared.contains(&("domain".into(), "evil-one.xyz".into())), "{shared:?}");
    // The recipients' own domain is in every email's links: never a key.
    assert!(!shared.iter().any(|(_, v)| v.contains("acme-corp")), "{shared:?}");
    // Each member says why it joined.
    let b_reasons = &v["drafts"][1]["linked_by"];
    assert!(
        b_reasons.as_array().unwrap().iter().any(|l| l["kind"] == "path" && l["with"] == a),
        "{b_reasons}"
    );
    assert_eq!(campaign_of(&app, benign1).await, None);
    assert_eq!(campaign_of(&app, benign2).await, None);

    // The UI shows the same, escaped.
    let (_, ui) = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let ui = ui.expect("admin session");
    let list = ui.get(&app, "/ui/campaigns").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"/ui/campaigns/{id}\"")), "{list}");
    let page = ui.get(&app, &format!("/ui/campaigns/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("/wp-content/x/{hex}/login.php?u"), "{page}");
    assert!(page.contains(&format!("href=\"/ui/drafts/{b}\"")), "{page}");
    assert!(page.contains("id=\"campaign-commit\""), "{page}");
}

#[tokio::test]
async fn a_draft_linking_two_campaigns_merges_them_and_whitelisted_values_link_nothing() {
    let app = TestApp::spawn_acme().await;
    let d1 = app.import_id(&mail("a@dee.xyz", "s1", "m1@x", "go https://dee.xyz/a")).await;
    let _d2 = app.import_id(&mail("b@dee.xyz", "s2", "m2@x", "go https://dee.xyz/b")).await;
    let e1 = app.import_id(&mail("a@ee-bad.xyz", "s3", "m3@x", "go https://ee-bad.xyz/a")).await;
    let _e2 = app.import_id(&mail("b@ee-bad.xyz", "s4", "m4@x", "go https://ee-bad.xyz/b")).await;
    let x = campaign_of(&app, d1).await.expect("dee.xyz campaign");
    let y = campaign_of(&app, e1).await.expect("ee-bad.xyz campaign");
    assert_ne!(x, y);
    let both = app
        .import_id(&mail(
            "c@elsewhere-evil.xyz",
            "s5",
            "m5@x",
            "go https://dee.xyz/c and https://ee-bad.xyz/c",
        ))
        .await;
    let list = campaigns(&app).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["drafts"], 5);
    let merged = list[0]["id"].as_i64().unwrap();
    assert_eq!(merged, x.min(y));
    assert_eq!(campaign_of(&app, both).await, Some(merged));
    // The merged-away campaign answers with the one it went into.
    let gone = app.get_ok(&format!("/api/v1/campaigns/{}", x.max(y))).await;
    assert_eq!(gone["id"], merged);

    // A whitelisted domain links nothing.
    let (s, w) = status_json(
        app.as_admin(app.post("/api/v1/whitelist"))
            .json(
                &json!({ "match_kind": "suffix", "pattern": "partner-portal.xyz", "reason": "our supplier" }),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let p1 = app.import_id(&mail("x@partner-portal.xyz", "q1", "p1@x", "https://partner-portal.xyz/a")).await;
    let p2 = app.import_id(&mail("y@partner-portal.xyz", "q2", "p2@x", "https://partner-portal.xyz/b")).await;
    assert_eq!(campaign_of(&app, p1).await, None);
    assert_eq!(campaign_of(&app, p2).await, None);
}

fn kit_page(name: &str, host: &str) -> String {
    format!(
        "<html><body><div class=\"card main\"><h1>Your mailbox is almost full</h1>\
         <p>Dear user, your account storage has reached the allowed quota. To avoid losing incoming \
         messages please verify your account within 24 hours using the secure portal below.</p>\
         <a class=\"btn\" href=\"https://{host}/{name}\">Verify now</a>\
         <p class=\"foot\">IT Service Desk, all rights reserved. This is an automated message, do not reply.</p>\
         </div></body></html>"
    )
}

#[tokio::test]
async fn near_duplicate_bodies_on_unrelated_hosts_are_one_campaign() {
    let app = TestApp::spawn_acme().await;
    let a = app
        .import_id(&mail("desk@first-host.xyz", "Quota", "h1@x", &kit_page("alice", "first-host.xyz")))
        .await;
    let b = app
        .import_id(&mail("desk@second-host.xyz", "Quota", "h2@x", &kit_page("bob", "second-host.xyz")))
        .await;
    let c = campaign_of(&app, a).await.expect("a campaign by body");
    assert_eq!(campaign_of(&app, b).await, Some(c));
    let v = app.get_ok(&format!("/api/v1/campaigns/{c}")).await;
    assert!(v["shared_keys"].as_array().unwrap().iter().any(|k| k["kind"] == "html"), "{}", v["shared_keys"]);
}

#[tokio::test]
async fn bulk_actions_act_on_the_whole_campaign_and_are_audited() {
    let app = TestApp::spawn_acme().await;
    let mut drafts = Vec::new();
    for (i, who) in ["alice", "bob", "carol"].iter().enumerate() {
        drafts.push(
            app.import_id(&mail(
                &format!("{who}@kit-sender{i}.xyz"),
                "Pay",
                &format!("k{i}@x"),
                &format!("https://kit-host{i}.xyz/secure/office/{}/index.php", "ab12cd34ef56ab78"),
            ))
            .await,
        );
    }
    let id = campaign_of(&app, drafts[0]).await.expect("campaign");
    // A reader may look but not act.
    let reader = app.add_user("rea", "reader").await;
    let r = app
        .post(&format!("/api/v1/campaigns/{id}/commit"))
        .basic_auth("rea", Some(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r =
        app.get(&format!("/api/v1/campaigns/{id}")).basic_auth("rea", Some(&reader)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let (s, out) = app
        .post_json(&format!("/api/v1/campaigns/{id}/commit"), &json!({ "title": "Office kit wave" }))
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let event = out["event_id"].as_i64().expect("one event");
    assert_eq!(out["done"].as_array().unwrap().len(), 3, "{out}");
    for d in &drafts {
        let v = app.draft(*d).await;
        assert_eq!(v["state"], "committed", "{v}");
        assert_eq!(v["event_id"], event, "{v}");
    }
    let v = app.get_ok(&format!("/api/v1/campaigns/{id}")).await;
    assert_eq!(v["events"], json!([event]));
    // Nothing left to commit.
    let r = app.as_admin(app.post(&format!("/api/v1/campaigns/{id}/commit"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);

    let (s, out) = app
        .post_json(
            &format!("/api/v1/campaigns/{id}/indicators/status"),
            &json!({ "status": "active", "type": "url" }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let done = out["done"].as_array().unwrap();
    assert_eq!(done.len(), 3, "one URL per email: {out}");
    for i in done {
        let v = app.get_ok(&format!("/api/v1/indicators/{i}")).await;
        assert_eq!(v["status"], "active", "{v}");
    }

    // Abandon: another campaign's open drafts.
    let x1 = app.import_id(&mail("a@spam-wave.xyz", "Win", "w1@x", "https://spam-wave.xyz/a")).await;
    let x2 = app.import_id(&mail("b@spam-wave.xyz", "Win", "w2@x", "https://spam-wave.xyz/b")).await;
    let other = campaign_of(&app, x1).await.expect("campaign");
    let (s, out) = status_json(
        app.as_admin(app.post(&format!("/api/v1/campaigns/{other}/abandon"))).send().await.unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    for d in [x1, x2] {
        assert_eq!(app.draft(d).await["state"], "abandoned");
    }

    let audit = app.get_ok("/api/v1/audit?limit=50").await;
    let actions: Vec<String> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e["action"].as_str().unwrap_or(""), e["target"].as_str().unwrap_or("")))
        .collect();
    for want in [
        format!("campaign.commit campaign {id}"),
        format!("campaign.status.active campaign {id}"),
        format!("campaign.abandon campaign {other}"),
    ] {
        assert!(actions.contains(&want), "{want} not in {actions:?}");
    }
}
