//! Hidden links through an import (issue 16): a Safe Links wrapper's target is proposed, the
//! wrapper itself kept as whitelisted context with its reason, and the default wrapper rules
//! are shipped.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::status_json;
use crate::triage::{import_id, spawn};

const TARGET: &str = "https://login.wrapped-phish.top/o365";

fn raw() -> String {
    let wrapper = format!(
        "https://eur01.safelinks.protection.outlook.com/?url={}&amp;data=05%7C01&amp;reserved=0",
        TARGET.replace(':', "%3A").replace('/', "%2F")
    );
    format!(
        "From: IT <it@wrapped-phish.top>\r\nTo: alice@acme-corp.com\r\nSubject: Mailbox full\r\n\
Message-ID: <w1@wrapped-phish.top>\r\nDate: Mon, 4 Mar 2024 09:14:55 +0000\r\nContent-Type: text/html\r\n\r\n\
<p>Your mailbox is full: <a href=\"{wrapper}\">review</a></p>\r\n"
    )
}

#[tokio::test]
async fn a_wrapped_link_proposes_its_target_and_keeps_the_wrapper_as_context() {
    let app = spawn().await;
    let id = import_id(&app, &raw()).await;
    let (status, d) =
        status_json(app.as_admin(app.get(&format!("/api/v1/imports/{id}"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let items = d["items"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| items.iter().find(|i| pred(i)).cloned();
    let target = find(&|i| i["type"] == "url" && i["value"] == TARGET).expect("target extracted");
    assert_eq!(target["state"], "proposed", "{target}");
    let wrapper = find(&|i| i["type"] == "url" && i["value"].as_str().unwrap_or("").contains("safelinks"))
        .expect("wrapper kept");
    assert_eq!(wrapper["state"], "whitelisted", "{wrapper}");
    assert!(wrapper.to_string().contains("redirect_wrapper"), "{wrapper}");
    let host = find(&|i| i["type"] == "domain" && i["value"] == "eur01.safelinks.protection.outlook.com")
        .expect("wrapper host kept");
    assert_eq!(host["state"], "whitelisted", "{host}");
}
