//! Mailbox connectors against a real Dovecot: each test starts its own
//! (`fixtures::dovecot`), with a self-signed certificate the connector trusts through `ca_file`;
//! what happened to the messages on the server is read with `doveadm`.
//!
//! A missing Dovecot fails the tests (run `scripts/dovecot-env`); it is never a skip.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::dovecot::{Dovecot, PASSWORD};
use crate::helpers::{TestApp, status_json};

/// A distinct phish-like message.
fn phish(n: usize) -> Vec<u8> {
    format!(
        "From: \"IT Support\" <support@evil-{n}.example.net>\r\nTo: alice@corp.example\r\n\
         Subject: Password expires today #{n}\r\nMessage-ID: <phish-{n}@evil.example.net>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n\
         Reset it at http://login-{n}.evil.example.net/reset now.\r\n"
    )
    .into_bytes()
}

impl TestApp {
    async fn create_connector(&self, body: Value) -> Value {
        let (status, v) = self.post_json("/api/v1/connectors", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    async fn connector(&self, name: &str) -> Value {
        self.get_ok(&format!("/api/v1/connectors/{name}")).await
    }

    async fn patch_connector(&self, name: &str, body: Value) -> Value {
        let (status, v) = self.patch_json(&format!("/api/v1/connectors/{name}"), &body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v
    }

    async fn imports(&self) -> Vec<Value> {
        let v = self.get_ok("/api/v1/imports?limit=500").await;
        v["imports"].as_array().expect("imports").clone()
    }

    /// Polls the connector until `done` holds of it, or fails after `secs` with its last state.
    async fn wait_connector(&self, name: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let c = self.connector(name).await;
            if done(&c) {
                return c;
            }
            assert!(Instant::now() < deadline, "connector {name} did not get there: {c:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn taken(c: &Value) -> i64 {
    c["health"]["messages_taken"].as_i64().unwrap_or(-1)
}

fn imap_connector(d: &Dovecot, extra: Value) -> Value {
    let mut body = json!({
        "name": "reports", "protocol": "imap", "host": "127.0.0.1", "port": d.imaps,
        "ca_file": d.ca_file, "username": "alice", "password": PASSWORD,
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

fn pop3_connector(d: &Dovecot, extra: Value) -> Value {
    let mut body = json!({
        "name": "pop", "protocol": "pop3", "host": "127.0.0.1", "port": d.pop3s,
        "ca_file": d.ca_file, "username": "alice", "password": PASSWORD,
    });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

/// Each import's SHA-256 appears once, and the set is `expected` messages' hashes.
fn assert_once_each(imports: &[Value], messages: &[Vec<u8>]) {
    use sha2::Digest;
    let mut got: Vec<String> =
        imports.iter().map(|i| i["sha256"].as_str().expect("sha").to_string()).collect();
    got.sort();
    let mut want: Vec<String> = messages.iter().map(|m| hex::encode(sha2::Sha256::digest(m))).collect();
    want.sort();
    assert_eq!(got, want, "every delivered message imported exactly once");
}

#[tokio::test]
async fn imap_imports_each_message_once_and_picks_up_new_ones_with_idle() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    let mut sent: Vec<Vec<u8>> = (0..3).map(phish).collect();
    for m in &sent {
        d.deliver(m);
    }
    let created = app.create_connector(imap_connector(&d, json!({}))).await;
    assert_eq!(created["password_set"], true);
    assert!(created.get("password").is_none() && !created.to_string().contains(PASSWORD));
    app.wait_connector("reports", 20, |c| taken(c) == 3).await;
    // A message arriving while the connector waits in IDLE is taken at once.
    let arriving = phish(99);
    d.deliver(&arriving);
    sent.push(arriving);
    let c = app.wait_connector("reports", 20, |c| taken(c) == 4).await;
    assert_eq!(c["health"]["status"], "ok", "{c}");
    assert_eq!(c["health"]["messages_failed"], 0);
    assert!(c["health"]["last_success_at"].is_string());
    assert!(c["uid_validity"].is_i64(), "{c}");
    app.wait_connector("reports", 5, |c| c["last_uid"] == 4).await;
    let imports = app.imports().await;
    assert_once_each(&imports, &sent);
    assert!(imports.iter().all(|i| i["source"] == "imap:reports" && i["state"] == "draft"), "{imports:?}");
    assert_eq!(imports[0]["source_metadata"]["connector"], "reports");
    // Processed on the server: flagged with the keyword, nothing left to take.
    assert_eq!(d.count_reaching("INBOX", "KEYWORD $HarpoonImported", 4).await, 4);
    assert_eq!(d.count_reaching("INBOX", "UNKEYWORD $HarpoonImported", 0).await, 0);
    // The same bytes delivered again are one more message on the server, not one more import.
    d.deliver(&phish(1));
    app.wait_connector("reports", 20, |c| taken(c) == 5).await;
    assert_eq!(app.imports().await.len(), 4);
}

/// Aborts the connector's task (what a crash does) while it works through a batch, restarts it,
/// and checks that every message is imported exactly once and moved exactly once.
#[tokio::test]
async fn imap_killed_mid_batch_and_restarted_loses_and_duplicates_nothing() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    let sent: Vec<Vec<u8>> = (0..40).map(phish).collect();
    for m in &sent {
        d.deliver(m);
    }
    app.create_connector(imap_connector(&d, json!({ "after": "move", "move_to": "Processed" }))).await;
    app.wait_connector("reports", 20, |c| taken(c) >= 3).await;
    app.patch_connector("reports", json!({ "enabled": false })).await;
    let at_kill = app.imports().await.len();
    assert!(at_kill < sent.len(), "the kill came after the batch ({at_kill} imported): not mid-batch");
    let c = app.connector("reports").await;
    assert_eq!(c["health"]["running"], false);
    assert!(d.count("INBOX", "ALL") > 0, "messages wait in the inbox while the connector is down");
    app.patch_connector("reports", json!({ "enabled": true })).await;
    app.wait_connector("reports", 30, |c| taken(c) == 40 && c["health"]["status"] == "ok").await;
    assert_once_each(&app.imports().await, &sent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.count("INBOX", "ALL") > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.count("INBOX", "ALL"), 0);
    assert_eq!(d.count_reaching("Processed", "ALL", 40).await, 40, "each message moved once");
}

#[tokio::test]
async fn imap_starttls_polling_commits_and_keeps_a_malformed_message_as_failed() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    // An Outlook .msg (compound file) that is cut short: nothing in it can be read.
    let mut malformed: Vec<u8> = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    // (No NUL bytes: IMAP servers send them as 0x80 without the BINARY extension.)
    malformed.extend_from_slice(b"\xff\xfe this compound file is cut short \x01\x02\x03");
    d.deliver(&phish(1));
    d.deliver(&malformed);
    app.create_connector(imap_connector(
        &d,
        json!({ "port": d.imap, "tls": "starttls", "idle": false, "flag": "\\Seen", "commit": true,
                "meta": { "tags": ["from-mailbox"], "tlp": "green" } }),
    ))
    .await;
    let c = app.wait_connector("reports", 20, |c| taken(c) == 2).await;
    assert_eq!(c["health"]["messages_failed"], 1, "{c}");
    let imports = app.imports().await;
    let good = imports.iter().find(|i| i["state"] != "failed").expect("the phish");
    assert_eq!(good["state"], "committed", "{good}");
    assert!(good["event_id"].is_i64());
    let event = app.get_ok(&format!("/api/v1/events/{}", good["event_id"])).await;
    assert!(event.to_string().contains("from-mailbox"), "default metadata applied: {event}");
    let failed = imports.iter().find(|i| i["state"] == "failed").expect("the malformed message");
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
    let raw = app
        .as_admin(app.get(&format!("/api/v1/imports/{}/raw", failed["id"])))
        .send()
        .await
        .expect("request")
        .bytes()
        .await
        .expect("body");
    assert_eq!(raw.as_ref(), malformed.as_slice(), "the raw bytes are kept verbatim");
    assert_eq!(d.count_reaching("INBOX", "SEEN", 2).await, 2, "both marked processed");
    // Polling: a message delivered later is taken at the next poll.
    d.deliver(&phish(2));
    app.wait_connector("reports", 20, |c| taken(c) == 3).await;
}

#[tokio::test]
async fn imap_wrong_password_and_untrusted_certificate_are_reported_and_retried() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    d.deliver(&phish(1));
    app.create_connector(json!({
        "name": "wrongpass", "protocol": "imap", "host": "127.0.0.1", "port": d.imaps,
        "ca_file": d.ca_file, "username": "alice", "password": "not-the-password",
    }))
    .await;
    app.create_connector(json!({
        "name": "untrusted", "protocol": "imap", "host": "127.0.0.1", "port": d.imaps,
        "ca_file": d.other_ca_file, "username": "alice", "password": PASSWORD,
    }))
    .await;
    let bad = app
        .wait_connector("wrongpass", 20, |c| c["health"]["consecutive_failures"].as_i64() >= Some(2))
        .await;
    assert_eq!(bad["health"]["status"], "error");
    let err = bad["health"]["last_error"].as_str().expect("error");
    assert!(err.starts_with("login refused:") && err.contains("Authentication failed"), "{err}");
    assert!(!bad.to_string().contains("not-the-password"));
    assert!(bad["health"]["next_attempt_at"].is_string());
    let tls = app
        .wait_connector("untrusted", 20, |c| c["health"]["consecutive_failures"].as_i64() >= Some(2))
        .await;
    let err = tls["health"]["last_error"].as_str().expect("error");
    assert!(err.starts_with("TLS:") && err.contains("certificate"), "{err}");
    assert!(app.imports().await.is_empty(), "nothing taken");
    assert_eq!(d.count("INBOX", "ALL"), 1);
    // Fixing the password over REST restarts the connector, which then takes the message.
    app.patch_connector("wrongpass", json!({ "password": PASSWORD })).await;
    app.wait_connector("wrongpass", 20, |c| taken(c) == 1 && c["health"]["status"] == "ok").await;
    // The audit log names the change, never the password.
    let (_, audit) = status_json(app.as_admin(app.get("/api/v1/audit")).send().await.expect("request")).await;
    assert!(audit.to_string().contains("connector.update") && !audit.to_string().contains(PASSWORD));
}

#[tokio::test]
async fn imap_server_that_goes_away_is_retried_until_it_is_back() {
    let mut d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    d.deliver(&phish(1));
    app.create_connector(imap_connector(&d, json!({}))).await;
    app.wait_connector("reports", 20, |c| taken(c) == 1).await;
    d.stop().await;
    // (While Dovecot shuts down a handshake may be cut: "TLS: …"; once it is gone, this.)
    app.wait_connector("reports", 20, |c| {
        c["health"]["status"] == "error"
            && c["health"]["last_error"].as_str().is_some_and(|e| e.starts_with("cannot connect:"))
    })
    .await;
    d.deliver(&phish(2));
    d.run().await;
    // Taken first, then the pass ends and the health turns `ok`.
    let up = app.wait_connector("reports", 20, |c| taken(c) == 2 && c["health"]["status"] == "ok").await;
    assert!(up["health"]["last_success_at"].is_string());
    assert_eq!(app.imports().await.len(), 2);
}

#[tokio::test]
async fn pop3_leaves_messages_remembers_uidl_and_survives_a_restart() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    let mut sent: Vec<Vec<u8>> = (0..3).map(phish).collect();
    for m in &sent {
        d.deliver(m);
    }
    let created = app.create_connector(pop3_connector(&d, json!({}))).await;
    assert_eq!(created["after"], Value::Null, "leave is the POP3 default");
    app.wait_connector("pop", 20, |c| taken(c) == 3).await;
    let late = phish(50);
    d.deliver(&late);
    sent.push(late);
    app.wait_connector("pop", 20, |c| taken(c) == 4).await;
    // Restarted: UIDL says what was taken; several polls later nothing is taken twice.
    app.patch_connector("pop", json!({ "enabled": false })).await;
    app.patch_connector("pop", json!({ "enabled": true })).await;
    let first = app.wait_connector("pop", 20, |c| c["health"]["status"] == "ok").await;
    let polls_from = first["health"]["last_success_at"].clone();
    app.wait_connector("pop", 20, |c| c["health"]["last_success_at"] != polls_from).await;
    assert_eq!(taken(&app.connector("pop").await), 4);
    assert_once_each(&app.imports().await, &sent);
    assert!(app.imports().await.iter().all(|i| i["source"] == "pop3:pop"));
    assert_eq!(d.count("INBOX", "ALL"), 4, "left on the server");
}

#[tokio::test]
async fn pop3_starttls_delete_killed_mid_batch_loses_and_duplicates_nothing() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    let sent: Vec<Vec<u8>> = (0..40).map(phish).collect();
    for m in &sent {
        d.deliver(m);
    }
    app.create_connector(pop3_connector(&d, json!({ "port": d.pop3, "tls": "starttls", "after": "delete" })))
        .await;
    app.wait_connector("pop", 20, |c| taken(c) >= 3).await;
    app.patch_connector("pop", json!({ "enabled": false })).await;
    let at_kill = app.imports().await.len();
    assert!(at_kill < sent.len(), "the kill came after the batch ({at_kill} imported): not mid-batch");
    // Deletions take effect at QUIT only: a session cut short deleted nothing.
    assert_eq!(d.count("INBOX", "ALL"), 40);
    app.patch_connector("pop", json!({ "enabled": true })).await;
    app.wait_connector("pop", 30, |c| taken(c) == 40).await;
    assert_once_each(&app.imports().await, &sent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.count("INBOX", "ALL") > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.count("INBOX", "ALL"), 0, "deleted after they were stored");
}

#[tokio::test]
async fn pop3_wrong_password_server_away_and_malformed_message() {
    let mut d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    app.create_connector(pop3_connector(&d, json!({ "password": "wrong" }))).await;
    let bad =
        app.wait_connector("pop", 20, |c| c["health"]["consecutive_failures"].as_i64() >= Some(2)).await;
    let err = bad["health"]["last_error"].as_str().expect("error");
    assert!(err.starts_with("login refused:"), "{err}");
    app.patch_connector("pop", json!({ "password": PASSWORD })).await;
    let empty = b"\r\n\r\n".to_vec();
    d.deliver(&empty);
    let c = app.wait_connector("pop", 20, |c| taken(c) == 1).await;
    assert_eq!(c["health"]["messages_failed"], 1);
    let imports = app.imports().await;
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0]["state"], "failed");
    assert!(imports[0]["error"].as_str().is_some_and(|e| e.contains("empty")), "{:?}", imports[0]);
    d.stop().await;
    app.wait_connector("pop", 20, |c| {
        c["health"]["status"] == "error"
            && c["health"]["last_error"].as_str().is_some_and(|e| e.starts_with("cannot connect:"))
    })
    .await;
    d.deliver(&phish(7));
    d.run().await;
    app.wait_connector("pop", 20, |c| taken(c) == 2 && c["health"]["status"] == "ok").await;
}

#[tokio::test]
async fn a_config_file_connector_runs_with_its_password_from_the_environment() {
    let d = Dovecot::start().await;
    d.deliver(&phish(1));
    let mailbox = serde_json::from_value(json!({
        "name": "fromfile", "protocol": "imap", "host": "127.0.0.1", "port": d.imaps, "ca_file": d.ca_file,
        "username": "bob", "password_env": "HOME", "after": "delete"
    }))
    .expect("mailbox");
    let ca_dir = d.ca_dir();
    let app = TestApp::spawn_with(|s| {
        s.security.ca_dir = Some(ca_dir);
        // The one variable a test can count on (tests cannot set any: `unsafe` is forbidden).
        s.security.secret_env_prefix = "HOME".into();
        s.connectors.backoff_initial_ms = 100;
        s.connectors.backoff_max_secs = 1;
        s.connectors.mailboxes = vec![mailbox];
    })
    .await;
    let c = app.wait_connector("fromfile", 20, |c| taken(c) == 1).await;
    assert_eq!((c["origin"].as_str(), c["password_set"].as_bool()), (Some("config"), Some(false)));
    assert_eq!(app.imports().await.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while d.count("INBOX", "ALL") > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(d.count("INBOX", "ALL"), 0, "deleted once stored");
}

#[tokio::test]
async fn connectors_are_for_administrators_and_the_config_file_ones_are_read_only() {
    let app = TestApp::spawn_with(|s| {
        s.connectors.enabled = false;
        s.connectors.mailboxes = vec![
            serde_json::from_value(json!({
                "name": "fromfile", "protocol": "imap", "host": "127.0.0.1", "port": 1,
                "username": "alice", "password_env": "HARPOON_SECRET_TEST_CONNECTOR"
            }))
            .expect("mailbox"),
        ];
    })
    .await;
    let c = app.connector("fromfile").await;
    assert_eq!(c["origin"], "config");
    assert_eq!(c["password_env"], "HARPOON_SECRET_TEST_CONNECTOR");
    assert_eq!(c["health"]["status"], "not running in this instance");
    let resp = app
        .as_admin(app.request(reqwest::Method::PATCH, "/api/v1/connectors/fromfile"))
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app
        .as_admin(app.request(reqwest::Method::DELETE, "/api/v1/connectors/fromfile"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Analysts do not see connectors.
    let pw = app.add_user("ana", "analyst").await;
    let resp = app.get("/api/v1/connectors").basic_auth("ana", Some(&pw)).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Validation: a POP3 connector cannot flag; a password or password_env is required.
    for (body, why) in [
        (
            json!({ "name": "p", "protocol": "pop3", "host": "h", "username": "u", "password": "x", "after": "flag" }),
            "flag",
        ),
        (json!({ "name": "p", "protocol": "imap", "host": "h", "username": "u" }), "password"),
        (json!({ "name": "p q", "protocol": "imap", "host": "h", "username": "u", "password": "x" }), "name"),
    ] {
        let (status, v) = app.post_json("/api/v1/connectors", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {v}");
    }
    // Create, list, delete over REST.
    app.create_connector(json!({ "name": "api1", "protocol": "pop3", "host": "127.0.0.1", "port": 1,
                                 "username": "u", "password": "x", "enabled": false }))
        .await;
    let (_, list) =
        status_json(app.as_admin(app.get("/api/v1/connectors")).send().await.expect("request")).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    let resp = app
        .as_admin(app.request(reqwest::Method::DELETE, "/api/v1/connectors/api1"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_intake_token_may_only_push_emails() {
    let app = TestApp::spawn().await;
    let pw = app.add_user("gateway", "analyst").await;
    // Only an administrator issues a scope other than the caller's own credentials'.
    let (status, _) = status_json(
        app.post("/api/v1/tokens")
            .basic_auth("gateway", Some(&pw))
            .json(&json!({ "label": "mail gateway", "scope": "intake" }))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = app
        .post_json(
            "/api/v1/tokens",
            &json!({ "label": "mail gateway", "scope": "intake", "username": "gateway" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["scope"], "intake");
    let token = v["token"].as_str().expect("token").to_string();
    let resp = app
        .post("/api/v1/imports")
        .bearer_auth(&token)
        .header("Content-Type", "message/rfc822")
        .body(phish(1))
        .send()
        .await
        .expect("request");
    let (status, first) = status_json(resp).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first, json!({ "accepted": 1, "failed": [] }), "a receipt, nothing about what is stored");
    // Pushing the same email again learns nothing: the same receipt, byte for byte.
    let again = app
        .post("/api/v1/imports")
        .bearer_auth(&token)
        .header("Content-Type", "message/rfc822")
        .body(phish(1))
        .send()
        .await
        .expect("request");
    assert_eq!(status_json(again).await, (StatusCode::ACCEPTED, first));
    let resp = app
        .post("/api/v1/imports")
        .bearer_auth(&token)
        .json(&json!({ "raw": String::from_utf8(phish(2)).expect("utf8"), "source": "mail-gateway" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    for path in ["/api/v1/imports", "/api/v1/me", "/api/v1/events", "/taxii2/"] {
        let resp = app.get(path).bearer_auth(&token).send().await.expect("request");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let resp = app.post("/api/v1/tokens").bearer_auth(&token).json(&json!({})).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "an intake token cannot mint a wider one");
    let resp = app
        .post("/api/v1/tokens")
        .basic_auth("gateway", Some(&pw))
        .json(&json!({ "scope": "everything" }))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

/// Two instances on one database: one runs the connector (the lease `connector:ID`); when it
/// dies the other takes the mailbox over within the lease time and imports what arrives next,
/// each message once.
#[tokio::test]
async fn one_instance_runs_a_connector_and_another_takes_it_over_when_it_dies() {
    let d = Dovecot::start().await;
    let short_leases = |s: &mut harpoon::settings::Settings| {
        s.cluster.lease_secs = 1;
        s.cluster.sweep_secs = 1;
    };
    let a = TestApp::builder().mailbox(&d).settings(short_leases).spawn().await;
    let mut sent: Vec<Vec<u8>> = (0..2).map(phish).collect();
    for m in &sent {
        d.deliver(m);
    }
    let created = a.create_connector(imap_connector(&d, json!({ "idle": false }))).await;
    a.wait_connector("reports", 20, |c| taken(c) == 2).await;
    // The second instance starts every stored connector too, but only the holder reads the mailbox.
    let b = TestApp::builder().sharing(&a).mailbox(&d).settings(short_leases).spawn().await;
    let lease_name = format!("connector:{}", created["id"].as_i64().expect("id"));
    let holder = |app: &TestApp| {
        let (db, name) = (app.db.clone(), lease_name.clone());
        async move {
            db.run(move |conn| harpoon::db::leases::get(conn, &name)).await.expect("db").map(|l| l.holder)
        }
    };
    for _ in 0..20 {
        assert_eq!(holder(&b).await, Some(a.background.holder()), "the connector stays with its holder");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.background.kill();
    let arriving = phish(7);
    d.deliver(&arriving);
    sent.push(arriving);
    let started = Instant::now();
    b.wait_connector("reports", 20, |c| taken(c) == 3).await;
    assert!(started.elapsed() < Duration::from_secs(10), "taken over after {:?}", started.elapsed());
    assert_eq!(holder(&b).await, Some(b.background.holder()));
    assert_once_each(&b.imports().await, &sent);
    // Marked right after it is counted as taken.
    let deadline = Instant::now() + Duration::from_secs(5);
    while d.count("INBOX", "UNKEYWORD $HarpoonImported") != 0 {
        assert!(Instant::now() < deadline, "every message marked processed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A phish whose draft the test's database refuses to store (see `refuse_poison`).
fn poison() -> Vec<u8> {
    b"From: <boss@evil-poison.example.net>\r\nTo: alice@corp.example\r\nSubject: Poison pill\r\n\
      Message-ID: <poison@evil.example.net>\r\nContent-Type: text/plain\r\n\r\n\
      Open http://poison.evil.example.net/now\r\n"
        .to_vec()
}

/// Makes storing the poison's draft fail every time, on either backend: a trigger refuses the
/// insert of a draft with its subject (a failed import of the same bytes is still accepted).
fn refuse_poison(app: &TestApp) {
    let sql = match crate::helpers::TestDb::expected_backend() {
        harpoon::db::Backend::Sqlite => {
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON imports \
             WHEN NEW.subject = 'Poison pill' AND NEW.state = 'draft' \
             BEGIN SELECT RAISE(ABORT, 'poison refused by the test'); END;"
        }
        harpoon::db::Backend::Postgres => {
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
               IF NEW.subject = 'Poison pill' AND NEW.state = 'draft' THEN \
                 RAISE EXCEPTION 'poison refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_poison BEFORE INSERT ON imports FOR EACH ROW EXECUTE FUNCTION refuse_poison();"
        }
    };
    harpoon::db::testing::execute(&app.db, sql).expect("the trigger");
}

/// The import holding exactly these bytes.
async fn import_of(app: &TestApp, bytes: &[u8]) -> Value {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    app.imports().await.into_iter().find(|i| i["sha256"] == sha.as_str()).expect("an import of the bytes")
}

/// A message whose import fails every time is tried three times (a new session each, after the
/// backoff), then kept as a failed import with its raw bytes and flagged like any other; the
/// messages after it are imported.
#[tokio::test]
async fn imap_poison_message_is_set_aside_after_three_failed_attempts() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    refuse_poison(&app);
    let bad = poison();
    d.deliver(&bad);
    d.deliver(&phish(1));
    d.deliver(&phish(2));
    app.create_connector(imap_connector(&d, json!({ "idle": false }))).await;
    let c = app.wait_connector("reports", 30, |c| taken(c) == 3).await;
    assert_eq!(c["health"]["messages_failed"], 1, "{c}");
    let imports = app.imports().await;
    assert_eq!(imports.len(), 3, "{imports:?}");
    let set_aside = import_of(&app, &bad).await;
    assert_eq!(set_aside["state"], "failed");
    let error = set_aside["error"].as_str().unwrap_or_default();
    assert!(error.contains("after 3 attempts") && error.contains("poison refused by the test"), "{error}");
    let raw = app
        .as_admin(app.get(&format!("/api/v1/imports/{}/raw", set_aside["id"])))
        .send()
        .await
        .expect("raw")
        .bytes()
        .await
        .expect("body");
    assert_eq!(raw.as_ref(), bad.as_slice(), "the raw bytes are kept");
    for n in [1, 2] {
        assert_eq!(import_of(&app, &phish(n)).await["state"], "draft");
    }
    // Processed on the server like the others: nothing is taken again.
    assert_eq!(d.count_reaching("INBOX", "KEYWORD $HarpoonImported", 3).await, 3);
}

/// A message that kills the worker: three attempts were counted by workers that never finished
/// (counted with the worker's own function, as the process dies right after it), then the
/// connector starts again: the message is set aside without a fourth try, the next is imported.
#[tokio::test]
async fn pop3_message_that_killed_the_worker_three_times_is_set_aside() {
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    let bad = poison();
    d.deliver(&bad);
    d.deliver(&phish(1));
    let created = app.create_connector(pop3_connector(&d, json!({ "enabled": false }))).await;
    let id = created["id"].as_i64().expect("id");
    let uid: u32 = d
        .doveadm(&["fetch", "-u", "alice", "uid", "mailbox", "INBOX", "ALL"])
        .lines()
        .find_map(|l| l.strip_prefix("uid: "))
        .expect("the first message's UID")
        .trim()
        .parse()
        .expect("a number");
    let validity: u32 = d
        .doveadm(&["mailbox", "status", "-u", "alice", "uidvalidity", "INBOX"])
        .split_whitespace()
        .find_map(|w| w.strip_prefix("uidvalidity="))
        .expect("uidvalidity=N")
        .parse()
        .expect("a number");
    let first = format!("{uid:08x}{validity:08x}");
    let mut conn = app.db.conn().expect("connection");
    for n in 1..=3 {
        let (attempts, _) = harpoon::db::connectors::count_attempt(&mut conn, id, &first).expect("count");
        assert_eq!(attempts, n);
    }
    drop(conn);
    app.patch_connector("pop", json!({ "enabled": true })).await;
    let c = app.wait_connector("pop", 30, |c| taken(c) == 2).await;
    assert_eq!(c["health"]["messages_failed"], 1, "{c}");
    let set_aside = import_of(&app, &bad).await;
    assert_eq!(set_aside["state"], "failed");
    let error = set_aside["error"].as_str().unwrap_or_default();
    assert!(error.contains("after 3 attempts") && error.contains("the process stopped"), "{error}");
    assert_eq!(set_aside["size"], bad.len());
    assert_eq!(import_of(&app, &phish(1)).await["state"], "draft");
}

/// Crafted hostile inputs (issue 15; `tests/fixtures/hostile/generate.py`) pulled by an IMAP
/// connector: each is taken and stored as a draft with the limit it hit, the messages are
/// marked processed, and the server still answers. (REST: `hostile.rs`.)
#[tokio::test]
async fn imap_takes_hostile_inputs_and_records_their_limits() {
    use crate::fixtures::hostile::{hostile_input, warning_kinds};
    let cases = [
        ("mime-10000-parts.eml", "too_many_parts"),
        ("rfc822-nested-100.eml", "nesting_depth"),
        ("html-100k-links.eml", "observable_limit"),
        ("header-1mb.eml", "header_too_long"),
    ];
    let d = Dovecot::start().await;
    let app = TestApp::builder().mailbox(&d).spawn().await;
    for (name, _) in cases {
        d.deliver(&hostile_input(name));
    }
    app.create_connector(imap_connector(&d, json!({}))).await;
    let c = app.wait_connector("reports", 300, |c| taken(c) == cases.len() as i64).await;
    assert_eq!(c["health"]["messages_failed"], 0, "{c}");
    let health = app.get("/healthz").send().await.expect("the server is still up");
    assert!(health.status().is_success());
    assert_eq!(d.count_reaching("INBOX", "KEYWORD $HarpoonImported", cases.len()).await, cases.len());
    let imports = app.imports().await;
    assert_eq!(imports.len(), cases.len(), "{imports:?}");
    let mut kinds_seen = Vec::new();
    for i in &imports {
        let id = i["id"].as_i64().expect("id");
        let (status, draft) = status_json(
            // A draft of 100,000 links is a large answer; the machine may be loaded.
            app.as_admin(app.get(&format!("/api/v1/imports/{id}")))
                .timeout(Duration::from_secs(300))
                .send()
                .await
                .expect("draft"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{draft}");
        assert_eq!(draft["state"], "draft");
        kinds_seen.extend(warning_kinds(&draft));
    }
    for (name, kind) in cases {
        assert!(kinds_seen.iter().any(|k| k == kind), "{name}: no {kind} among {kinds_seen:?}");
    }
}
