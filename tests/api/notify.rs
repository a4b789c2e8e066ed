//! Answers to reporters against a real SMTP server (aiosmtpd, `tests/oracle/smtp_sink.py`) that
//! requires STARTTLS and AUTH, with a certificate the server trusts through `notify.ca_file`:
//! a committed report's reporter gets one plain-text answer, whatever the reported subject
//! tries to inject; a message queued while the server is down goes once it is back; two
//! instances sending from one outbox send each message once; reports per reporter.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::free_port;
use crate::fixtures::phish::{phish, report};
use crate::helpers::{TestApp, status_json};

/// The SMTP password: the value of HOME, read with `password_env = "HOME"` (tests cannot set
/// environment variables: `unsafe` is forbidden).
fn smtp_password() -> String {
    std::env::var("HOME").expect("HOME is set")
}

/// The test CA directory: a certificate for 127.0.0.1 (the trust anchor too) and its key.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("params");
        params.is_ca = rcgen::IsCa::NoCa;
        let cert = params.self_signed(&key).expect("cert");
        std::fs::write(dir.path().join("smtp.pem"), cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("smtp.key"), key.serialize_pem()).expect("write key");
        Self { dir }
    }
}

/// aiosmtpd on a port, writing what it accepts into a directory; killed on drop.
struct Sink {
    child: Child,
    out: tempfile::TempDir,
}

impl Sink {
    fn start(port: u16, certs: &Certs) -> Self {
        let out = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(crate::oracle::python())
            .arg(crate::oracle::repo_root().join("tests/oracle/smtp_sink.py"))
            .arg(port.to_string())
            .arg(certs.dir.path().join("smtp.pem"))
            .arg(certs.dir.path().join("smtp.key"))
            .arg("harpoon")
            .arg(smtp_password())
            .arg(out.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("aiosmtpd starts (scripts/python-env installs it)");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("read");
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start");
        Self { child, out }
    }

    fn messages(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .expect("out dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read_to_string(p).expect("message")).collect()
    }

    async fn wait_for(&self, n: usize) -> Vec<String> {
        for _ in 0..300 {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SMTP server got {} messages, not {n}", self.messages().len());
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn notify_settings(s: &mut harpoon::settings::Settings, port: u16, ca_dir: &Path) {
    s.organisation.domains = vec!["acme-corp.com".into()];
    s.security.ca_dir = Some(ca_dir.to_path_buf());
    s.security.secret_env_prefix = "HOME".into();
    s.notify.enabled = true;
    s.notify.smtp_host = "127.0.0.1".into();
    s.notify.smtp_port = Some(port);
    s.notify.ca_file = Some("smtp.pem".into());
    s.notify.username = "harpoon".into();
    s.notify.password_env = Some("HOME".into());
    s.notify.from = "Security team <security@acme-corp.com>".into();
    s.notify.poll_secs = 1;
    s.notify.backoff_initial_secs = 1;
    s.notify.backoff_max_secs = 1;
    s.notify.timeout_secs = 5;
}

async fn enable(app: &TestApp, verdict: &str, subject: &str, body: &str) {
    let (s, v) = status_json(
        app.as_admin(app.request(reqwest::Method::PUT, &format!("/api/v1/notify/templates/{verdict}")))
            .json(&json!({ "enabled": true, "subject": subject, "body": body }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["enabled"], true);
}

async fn outbox(app: &TestApp) -> Vec<Value> {
    let v = app.get_ok("/api/v1/notify/outbox").await;
    v["messages"].as_array().cloned().unwrap_or_default()
}

/// A phish whose subject (an encoded word) decodes to CR LF, a header and a link.
fn hostile_phish(recipient: &str, message_id: &str) -> String {
    use base64::Engine;
    let subject = "Invoice\r\nBcc: everyone@acme-corp.com\r\n\r\n<b>pay</b> at http://evil.example/x";
    let encoded = base64::engine::general_purpose::STANDARD.encode(subject);
    phish(recipient, message_id)
        .replace("Subject: Your account has been limited", &format!("Subject: =?utf-8?b?{encoded}?="))
}

#[tokio::test]
async fn a_committed_report_is_answered_once_over_starttls_as_plain_text() {
    let certs = Certs::new();
    let port = free_port();
    let sink = Sink::start(port, &certs);
    let ca = certs.dir.path().to_path_buf();
    let app = TestApp::spawn_with(|s| notify_settings(s, port, &ca)).await;
    enable(&app, "phish", "Re: {{subject}}", "You reported \"{{subject}}\" ({{reference}}): {{verdict}}.\n")
        .await;

    let draft =
        app.import_id(&report("rea@acme-corp.com", &hostile_phish("rea@acme-corp.com", "<n1@x>"))).await;
    // An upload with no reporter is never answered.
    let direct = app.import_id(&phish("ana@acme-corp.com", "<n2@x>")).await;
    let (s, c) = app.commit(draft, json!({})).await;
    assert!(s.is_success(), "{c}");
    let (s, c) = app.commit(direct, json!({})).await;
    assert!(s.is_success(), "{c}");

    let got = sink.wait_for(1).await;
    let m = &got[0];
    assert!(m.contains("X-Sink-Tls: yes") && m.contains("X-Sink-Auth: True"), "{m}");
    assert!(m.contains("X-Sink-Rcpt: rea@acme-corp.com"), "{m}");
    let (head, body) = m.split_once("\r\n\r\n").expect("headers and body");
    let headers: Vec<&str> = head.lines().collect();
    // No header was injected: the only Bcc is none, the subject is one (folded) header.
    assert!(!headers.iter().any(|h| h.to_ascii_lowercase().starts_with("bcc:")), "{head}");
    assert!(headers.iter().any(|h| h.eq_ignore_ascii_case("auto-submitted: auto-replied")), "{head}");
    assert!(headers.iter().any(|h| h.to_ascii_lowercase().starts_with("content-type: text/plain")), "{head}");
    let body = body.replace("=\r\n", "");
    assert!(body.contains("HARPOON-"), "{body}");
    assert!(!body.contains("http://evil.example"), "links are defanged: {body}");
    assert!(body.contains("http[://]evil.example"), "{body}");
    assert!(!body.contains("\r\nBcc:"), "{body}");

    // The server has the message a moment before the sender stores `sent`.
    let mut rows = outbox(&app).await;
    for _ in 0..50 {
        if rows.first().is_some_and(|r| r["state"] == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        rows = outbox(&app).await;
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["state"], "sent");
    assert_eq!(rows[0]["recipient"], "rea@acme-corp.com");
    // Several more polls: nothing is sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sink.messages().len(), 1);

    // Reports per reporter count it.
    let v = app.get_ok("/api/v1/reporters").await;
    let r = v["reporters"].as_array().unwrap();
    assert_eq!(r.len(), 1, "{v}");
    assert_eq!(r[0]["reporter"], "rea@acme-corp.com");
    assert_eq!(r[0]["reports"], 1);
    assert_eq!(r[0]["phish"], 1);
}

#[tokio::test]
async fn an_answer_queued_while_the_smtp_server_is_down_goes_once_it_is_back() {
    let certs = Certs::new();
    let port = free_port();
    let ca = certs.dir.path().to_path_buf();
    let app = TestApp::spawn_with(|s| notify_settings(s, port, &ca)).await;
    enable(&app, "not_phish", "Reviewed: {{subject}}", "Thanks for {{subject}}.\n").await;
    let draft = app.import_id(&report("bob@acme-corp.com", &phish("bob@acme-corp.com", "<d1@x>"))).await;
    let r = app.as_admin(app.post(&format!("/api/v1/imports/{draft}/abandon"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The server is down: attempts fail and the message stays queued with the error.
    let mut failed_attempts = 0;
    for _ in 0..100 {
        let rows = outbox(&app).await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        failed_attempts = rows[0]["attempts"].as_i64().unwrap_or(0);
        if failed_attempts >= 2 && rows[0]["state"] == "queued" {
            assert!(rows[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{rows:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(failed_attempts >= 2, "the sender retried");
    let sink = Sink::start(port, &certs);
    let got = sink.wait_for(1).await;
    assert!(got[0].contains("Reviewed: Your account has been limited"), "{}", got[0]);
    for _ in 0..50 {
        if outbox(&app).await[0]["state"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outbox(&app).await[0]["state"], "sent");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.messages().len(), 1, "sent once");
}

#[tokio::test]
async fn two_instances_sending_from_one_outbox_send_each_answer_once() {
    let certs = Certs::new();
    let port = free_port();
    let sink = Sink::start(port, &certs);
    let ca = certs.dir.path().to_path_buf();
    let app = TestApp::spawn_with(|s| notify_settings(s, port, &ca)).await;
    let ca2 = ca.clone();
    let other = app
        .spawn_sharing_with(|s| {
            notify_settings(s, port, &ca2);
            // Short leases: the second instance takes over the sender as soon as it may.
            s.cluster.lease_secs = 1;
        })
        .await;
    enable(&app, "phish", "Confirmed: {{subject}}", "Thanks, {{reporter}}.\n").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let who = format!("user{i}@acme-corp.com");
        let d = app.import_id(&report(&who, &phish(&who, &format!("<t{i}@x>")))).await;
        ids.push(d);
    }
    for (n, d) in ids.iter().enumerate() {
        // Half committed through each instance.
        let target = if n % 2 == 0 { &app } else { &other };
        let (s, c) = target.commit(*d, json!({})).await;
        assert!(s.is_success(), "{c}");
    }
    let got = sink.wait_for(6).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got_after = sink.messages();
    assert_eq!(got_after.len(), 6, "each answer once: {}", got_after.len());
    let mut rcpts: Vec<String> = got
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("X-Sink-Rcpt: ")).map(|l| l[13..].to_string()))
        .collect();
    rcpts.sort();
    rcpts.dedup();
    assert_eq!(rcpts.len(), 6, "{rcpts:?}");
    for _ in 0..50 {
        if outbox(&app).await.iter().all(|m| m["state"] == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(outbox(&app).await.iter().all(|m| m["state"] == "sent"));
    drop(other);
}

#[tokio::test]
async fn templates_are_checked_and_only_administrators_manage_answers() {
    let app = TestApp::spawn_acme().await;
    let v = app.get_ok("/api/v1/notify/templates").await;
    let verdicts: Vec<&str> = v.as_array().unwrap().iter().map(|t| t["verdict"].as_str().unwrap()).collect();
    assert_eq!(verdicts, ["phish", "benign", "not_phish"]);
    assert!(v.as_array().unwrap().iter().all(|t| t["enabled"] == false), "off by default: {v}");
    for (subject, body) in [("Hi {{password}}", "x"), ("Hi", "{{subject"), ("two\nlines", "x"), ("", "x")] {
        let r = app
            .as_admin(app.request(reqwest::Method::PUT, "/api/v1/notify/templates/phish"))
            .json(&json!({ "enabled": true, "subject": subject, "body": body }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{subject:?} {body:?}");
    }
    let r = app
        .as_admin(app.request(reqwest::Method::PUT, "/api/v1/notify/templates/maybe"))
        .json(&json!({ "enabled": true, "subject": "x", "body": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let analyst = app.add_user("ana", "analyst").await;
    let r = app
        .request(reqwest::Method::PUT, "/api/v1/notify/templates/phish")
        .basic_auth("ana", Some(&analyst))
        .json(&json!({ "enabled": true, "subject": "x", "body": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // With the template off, a commit queues nothing.
    let d = app.import_id(&report("rea@acme-corp.com", &phish("rea@acme-corp.com", "<o1@x>"))).await;
    let (s, c) = app.commit(d, json!({})).await;
    assert!(s.is_success(), "{c}");
    assert!(outbox(&app).await.is_empty());
}

/// An internal mailing list's announcement (suggested `likely benign`), reported by an employee.
fn reported_newsletter(reporter: &str) -> String {
    report(
        reporter,
        "From: IT Team <it@acme-corp.com>\r\nTo: staff@acme-corp.com\r\nSubject: Maintenance window\r\n\
         Date: Tue, 29 Nov 2016 06:59:10 -0800\r\nMessage-ID: <maint-1@acme-corp.com>\r\n\
         List-Id: Staff announcements <staff.acme-corp.com>\r\nList-Post: <mailto:staff@acme-corp.com>\r\n\
         Content-Type: text/plain\r\n\r\nThe file servers restart on Saturday at 22:00.\r\n",
    )
}

/// Closing a draft as likely benign (the suggested verdicts' one click) is a final verdict too:
/// the `benign` answer is queued; undoing the close before it was sent withdraws it.
#[tokio::test]
async fn closing_a_likely_benign_report_answers_benign_and_the_undo_withdraws_the_answer() {
    // This instance does not send (`notify.enabled` is off): the answer waits in the outbox.
    let app = TestApp::spawn_acme().await;
    enable(&app, "benign", "Re: {{subject}}", "Thank you: \"{{subject}}\" is {{verdict}}.\n").await;
    let id = app.import_id(&reported_newsletter("rea@acme-corp.com")).await;
    let post = |path: String| {
        let app = &app;
        async move { status_json(app.as_admin(app.post(&path)).send().await.unwrap()).await }
    };
    let (s, v) = post(format!("/api/v1/imports/{id}/close")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = outbox(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (rows[0]["verdict"].as_str(), rows[0]["recipient"].as_str(), rows[0]["state"].as_str()),
        (Some("benign"), Some("rea@acme-corp.com"), Some("queued"))
    );
    let (s, v) = post(format!("/api/v1/imports/{id}/undo")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(outbox(&app).await.is_empty(), "the answer is withdrawn");
    // Closed again: answered again (the withdrawn answer does not count as sent).
    let (s, v) = post(format!("/api/v1/imports/{id}/close")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(outbox(&app).await.len(), 1);
}
