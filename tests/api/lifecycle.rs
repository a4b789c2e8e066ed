//! Accounts over their whole life (issue 14, parts 5, 6 and 8): disable/enable, reset, change
//! one's own password, role change and delete over REST, the UI and the CLI; the password policy;
//! the last administrator kept; another instance catching up within the token TTL; failed logins
//! throttled on every edge without locking the real user out; audit retention; connector and
//! Splunk secrets kept where they belong.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::phish::{phish, report};
use crate::helpers::{ADMIN_PASSWORD, TestApp, status_json};

impl TestApp {
    async fn patch_user(&self, name: &str, body: Value) -> (StatusCode, Value) {
        self.patch_json(&format!("/api/v1/users/{name}"), &body).await
    }

    /// `GET /api/v1/me` with Basic credentials.
    async fn me_as(&self, user: &str, password: &str) -> StatusCode {
        self.get("/api/v1/me").basic_auth(user, Some(password)).send().await.unwrap().status()
    }

    async fn me_with_token(&self, token: &str) -> StatusCode {
        self.get("/api/v1/me").bearer_auth(token).send().await.unwrap().status()
    }

    async fn audit(&self) -> String {
        let body = self.get_ok("/api/v1/audit").await;
        body.to_string()
    }

    /// A UI page with this session cookie: its status (303 to the login page once ended).
    async fn ui_status(&self, cookie: &str) -> StatusCode {
        self.get("/ui/events").header(COOKIE, cookie).send().await.unwrap().status()
    }
}

#[tokio::test]
async fn an_administrator_disables_enables_resets_and_changes_roles_over_rest() {
    let app = TestApp::spawn().await;
    let bob = app.add_user("bob", "analyst").await;
    let (_, token) = app.token_for("bob", &bob).await;
    let (_, ui) = app.login("bob", &bob).await;
    let ui = ui.expect("bob logs in to the UI");
    assert_eq!(app.ui_status(&ui.cookie).await, StatusCode::OK);

    // Not for analysts.
    let resp = app
        .request(Method::PATCH, "/api/v1/users/admin")
        .basic_auth("bob", Some(&bob))
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // Disabled: password, token and UI session stop at once on this instance.
    let (status, body) = app.patch_user("bob", json!({ "disabled": true })).await;
    assert_eq!((status, body["disabled"].as_bool()), (StatusCode::OK, Some(true)), "{body}");
    assert_eq!(app.me_as("bob", &bob).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_with_token(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.ui_status(&ui.cookie).await, StatusCode::SEE_OTHER);
    let (_, again) = app.login("bob", &bob).await;
    assert!(again.is_none(), "a disabled user cannot log in to the UI");

    // Enabled again: the password and the token work again (disabling revokes nothing).
    let (status, _) = app.patch_user("bob", json!({ "disabled": false })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.me_as("bob", &bob).await, StatusCode::OK);
    assert_eq!(app.me_with_token(&token).await, StatusCode::OK);

    // A role change shows at once, for the password and the token alike.
    let (status, body) = app.patch_user("bob", json!({ "role": "reader" })).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("reader")), "{body}");
    let (_, me) = status_json(app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(me["role"], "reader");
    let (status, _) = crate::helpers::status_json(
        app.post("/api/v1/imports")
            .basic_auth("bob", Some(&bob))
            .header("Content-Type", "message/rfc822")
            .body("Subject: x\r\n\r\nx")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a reader imports nothing");

    // A reset: the policy applies, the old password stops, the new one works.
    for (weak, why) in
        [("short-pw", "at least 12"), ("Password1234", "too common"), ("bob-bob-bob-bob", "besides")]
    {
        let (status, body) = app.patch_user("bob", json!({ "password": weak })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{weak}: {body}");
    }
    let (status, _) = app.patch_user("bob", json!({ "password": "a-brand-new-passphrase" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.me_as("bob", &bob).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_as("bob", "a-brand-new-passphrase").await, StatusCode::OK);

    let (status, body) = app.patch_user("bob", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.patch_user("nobody", json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.patch_user("bob", json!({ "role": "root" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Every change audited with actor and target; never a password.
    let audit = app.audit().await;
    for needle in ["user.update", "disabled", "enabled", "role analyst -> reader", "password reset"] {
        assert!(audit.contains(needle), "{needle} in {audit}");
    }
    assert!(!audit.contains("a-brand-new-passphrase") && !audit.contains(&bob));
}

#[tokio::test]
async fn the_last_active_administrator_stays() {
    let app = TestApp::spawn().await;
    for (body, why) in [(json!({ "disabled": true }), "disable"), (json!({ "role": "analyst" }), "demote")] {
        let (status, body) = app.patch_user("admin", body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["detail"].as_str().unwrap().contains(&format!("cannot {why}")), "{body}");
    }
    let resp = app.as_admin(app.request(Method::DELETE, "/api/v1/users/admin")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A disabled administrator does not count.
    app.add_user("root2", "admin").await;
    let (status, _) = app.patch_user("root2", json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.patch_user("admin", json!({ "role": "reader" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // With another active administrator, the first may go.
    let (status, _) = app.patch_user("root2", json!({ "disabled": false })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.patch_user("admin", json!({ "role": "analyst" })).await;
    assert_eq!((status, body["role"].as_str()), (StatusCode::OK, Some("analyst")));
}

#[tokio::test]
async fn users_change_their_own_password() {
    let app = TestApp::spawn().await;
    let carol = app.add_user("carol", "reader").await;
    let (_, token) = app.token_for("carol", &carol).await;
    let (_, ui) = app.login("carol", &carol).await;
    let ui = ui.expect("login");
    let change = |current: &str, new: &str| {
        app.post("/api/v1/me/password")
            .basic_auth("carol", Some(&carol))
            .json(&json!({ "current": current, "new": new }))
            .send()
    };
    let resp = change("not-her-password", "a-fresh-long-passphrase").await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, body) = status_json(change(&carol, &carol).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = status_json(change(&carol, "qwertyuiop123").await.unwrap()).await;
    assert!(status == StatusCode::BAD_REQUEST && body.to_string().contains("too common"), "{body}");
    let resp = change(&carol, "a-fresh-long-passphrase").await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_as("carol", &carol).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_as("carol", "a-fresh-long-passphrase").await, StatusCode::OK);
    assert_eq!(app.ui_status(&ui.cookie).await, StatusCode::SEE_OTHER, "UI sessions ended");
    assert_eq!(app.me_with_token(&token).await, StatusCode::OK, "tokens stay");
    let audit = app.audit().await;
    assert!(audit.contains("user.password_change") && !audit.contains("a-fresh-long-passphrase"));

    // The UI page, for every logged-in user.
    let (_, ui) = app.login("carol", "a-fresh-long-passphrase").await;
    let ui = ui.expect("login");
    let page = app.get("/ui/account").header(COOKIE, &ui.cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Change my password"));
    let post = |current: &str, new: &str, confirm: &str| {
        app.post("/ui/account/password")
            .header(COOKIE, &ui.cookie)
            .form(&[("csrf", ui.csrf.as_str()), ("current", current), ("new", new), ("confirm", confirm)])
            .send()
    };
    let resp = post("wrong-current-one", "another-good-passphrase", "another-good-passphrase").await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp =
        post("a-fresh-long-passphrase", "another-good-passphrase", "another-typo-passphrase").await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp =
        post("a-fresh-long-passphrase", "another-good-passphrase", "another-good-passphrase").await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()[LOCATION], "/ui/login");
    assert_eq!(app.ui_status(&ui.cookie).await, StatusCode::SEE_OTHER);
    assert_eq!(app.me_as("carol", "another-good-passphrase").await, StatusCode::OK);
}

#[tokio::test]
async fn a_deleted_user_loses_its_access_and_keeps_its_name_in_what_it_made() {
    let app = TestApp::spawn().await;
    let dave = app.add_user("dave", "analyst").await;
    let (_, token) = app.token_for("dave", &dave).await;
    let (status, body) = status_json(
        app.post("/api/v1/imports")
            .basic_auth("dave", Some(&dave))
            .header("Content-Type", "message/rfc822")
            .body(report("dave@acme-corp.com", &phish("dave@acme-corp.com", "d1")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let import = body["imports"][0]["id"].as_i64().unwrap();
    let resp = app.as_admin(app.request(Method::DELETE, "/api/v1/users/dave")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_as("dave", &dave).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_with_token(&token).await, StatusCode::UNAUTHORIZED);
    let draft = app.draft(import).await;
    assert!(draft.to_string().contains("\"dave\""), "its author's name stays: {draft}");
    let (_, tokens) =
        status_json(app.as_admin(app.get("/api/v1/tokens?all=true")).send().await.unwrap()).await;
    assert!(tokens.as_array().unwrap().iter().all(|t| t["label"] != "test"), "its tokens are gone: {tokens}");
    let audit = app.audit().await;
    assert!(audit.contains("user.delete") && audit.contains("\"dave\""), "{audit}");
    let resp = app.as_admin(app.request(Method::DELETE, "/api/v1/users/dave")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // The name is free again, for a new account that inherits nothing.
    let dave2 = app.add_user("dave", "reader").await;
    assert_eq!(app.me_with_token(&token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.me_as("dave", &dave2).await, StatusCode::OK);
}

#[tokio::test]
async fn another_instance_stops_a_disabled_user_within_the_token_ttl() {
    let app = TestApp::spawn().await;
    let erin = app.add_user("erin", "analyst").await;
    let (_, token) = app.token_for("erin", &erin).await;
    let other = app.spawn_sharing().await;
    // The other instance has verified both and cached them (passwords for 60 s).
    assert_eq!(other.me_as("erin", &erin).await, StatusCode::OK);
    assert_eq!(other.me_with_token(&token).await, StatusCode::OK);
    let (status, _) = app.patch_user("erin", json!({ "disabled": true })).await;
    assert_eq!(status, StatusCode::OK);
    let disabled_at = Instant::now();
    let mut stopped = (None, None);
    while (stopped.0.is_none() || stopped.1.is_none()) && disabled_at.elapsed() < Duration::from_secs(10) {
        if stopped.0.is_none() && other.me_as("erin", &erin).await == StatusCode::UNAUTHORIZED {
            stopped.0 = Some(disabled_at.elapsed());
        }
        if stopped.1.is_none() && other.me_with_token(&token).await == StatusCode::UNAUTHORIZED {
            stopped.1 = Some(disabled_at.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let limit = Duration::from_millis(5_600);
    assert!(stopped.0.is_some_and(|t| t <= limit), "cached password stopped after {stopped:?}");
    assert!(stopped.1.is_some_and(|t| t <= limit), "cached token stopped after {stopped:?}");
    drop(other);
}

/// 60 wrong passwords from one address: the later ones are refused with 429 and `Retry-After`
/// on REST, TAXII and the UI login alike, while the real user, from another address, still logs
/// in (and, its credentials then cached, from the throttled address too).
#[tokio::test]
async fn sixty_wrong_passwords_are_throttled_without_locking_the_user_out() {
    let app = TestApp::spawn().await;
    let alice = app.add_user("alice", "analyst").await;
    let mut refused = 0;
    let mut retry_after = None;
    for i in 0..60 {
        let resp =
            app.get("/api/v1/me").basic_auth("alice", Some(format!("guess-{i}"))).send().await.unwrap();
        match resp.status() {
            StatusCode::UNAUTHORIZED => assert_eq!(refused, 0, "attempt {i}: answered after a 429"),
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                retry_after =
                    resp.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            }
            other => panic!("attempt {i}: {other}"),
        }
    }
    assert!(refused >= 50, "{refused} of 60 refused");
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After: {retry_after:?}");
    // The right password from this address is refused too while it waits (not cached yet)...
    assert_eq!(app.me_as("alice", &alice).await, StatusCode::TOO_MANY_REQUESTS);
    // ... on TAXII (its own error resource) and in the UI login.
    let taxii = app.taxii_get("/taxii2/").basic_auth("alice", Some("guess-taxii")).send().await.unwrap();
    assert_eq!(taxii.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(taxii.headers().contains_key(RETRY_AFTER));
    let (_, body) = status_json(taxii).await;
    assert_eq!(body["http_status"], "429");
    let (resp, session) = app.login("alice", "guess-ui").await;
    assert!(session.is_none());
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key(RETRY_AFTER));
    assert!(resp.text().await.unwrap().contains("Too many failed logins"));

    // From another address the real user logs in: one attacker cannot lock it out.
    let elsewhere = reqwest::Client::builder().local_address("127.0.0.2".parse().ok()).build().unwrap();
    let resp = elsewhere
        .get(format!("{}/api/v1/me", app.url))
        .basic_auth("alice", Some(&alice))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // Verified credentials are answered from the cache, before any throttling.
    assert_eq!(app.me_as("alice", &alice).await, StatusCode::OK);
    // Another user from the throttled address is not held back (a spray needs more names).
    assert_eq!(app.me_as("admin", ADMIN_PASSWORD).await, StatusCode::OK);
    let audit = app.audit().await;
    assert!(audit.contains("auth.failure") && !audit.contains("guess-1"));
}

#[tokio::test]
async fn the_cli_runs_the_account_lifecycle() {
    let app = TestApp::spawn().await;
    let frank = app.add_user("frank", "analyst").await;
    assert_eq!(app.me_as("frank", &frank).await, StatusCode::OK);
    let url = app.database_url();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_harpoon"))
            .env_clear()
            .env("HARPOON_LOG", "error")
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--database-url")
            .arg(&url)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["user", "disable", "frank"], None);
    assert!(ok && out.contains("disabled"), "{out}");
    // The running server learns of it from the database within the token TTL.
    let deadline = Instant::now() + Duration::from_secs(8);
    while app.me_as("frank", &frank).await == StatusCode::OK && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.me_as("frank", &frank).await, StatusCode::UNAUTHORIZED);
    let (ok, out) = run(&["user", "enable", "frank"], None);
    assert!(ok, "{out}");
    let (ok, out) = run(&["user", "set-role", "frank", "reader"], None);
    assert!(ok && out.contains("role reader"), "{out}");
    let (ok, out) = run(&["user", "reset-password", "frank", "--password-stdin"], Some("tooshort-11\n"));
    assert!(!ok && out.contains("at least 12"), "{out}");
    let (ok, out) = run(&["user", "reset-password", "frank"], None);
    let generated = out.lines().find_map(|l| l.strip_prefix("password: ")).unwrap_or_default().to_string();
    assert!(ok && generated.len() == 24, "{out}");
    let (ok, out) = run(&["user", "passwd", "frank"], Some("wrong-current-pass\nfrank-next-passphrase\n"));
    assert!(!ok && out.contains("current password is wrong"), "{out}");
    let (ok, out) = run(&["user", "passwd", "frank"], Some(&format!("{generated}\nfrank-next-passphrase\n")));
    assert!(ok, "{out}");
    assert_eq!(app.me_as("frank", "frank-next-passphrase").await, StatusCode::OK);
    let (ok, out) = run(&["user", "disable", "admin"], None);
    assert!(!ok && out.contains("last active administrator"), "{out}");
    let (ok, out) = run(&["user", "delete", "frank"], None);
    assert!(ok && out.contains("deleted"), "{out}");
    let (ok, _) = run(&["user", "delete", "frank"], None);
    assert!(!ok);
    let audit = app.audit().await;
    assert!(audit.contains("\"actor\":\"cli\"") && audit.contains("user.delete"), "{audit}");
    assert!(!audit.contains("frank-next-passphrase") && !audit.contains(&generated));
}

#[tokio::test]
async fn administrators_manage_accounts_in_the_ui_and_readers_see_no_connector_errors() {
    let app = TestApp::spawn_with(|s| {
        s.connectors.backoff_initial_ms = 100;
        s.connectors.backoff_max_secs = 1;
        s.connectors.timeout_secs = 2;
    })
    .await;
    let gina = app.add_user("gina", "reader").await;
    let (_, admin) = app.login("admin", ADMIN_PASSWORD).await;
    let admin = admin.expect("admin logs in");
    let (_, reader) = app.login("gina", &gina).await;
    let reader = reader.expect("reader logs in");
    let page = app.get("/ui/admin").header(COOKIE, &admin.cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("action=\"/ui/admin/users/gina\""), "per-user actions");
    let act = |fields: &[(&str, &str)]| {
        let mut form = vec![("csrf", admin.csrf.as_str())];
        form.extend_from_slice(fields);
        app.post("/ui/admin/users/gina").header(COOKIE, &admin.cookie).form(&form).send()
    };
    let resp = act(&[("action", "role"), ("role", "analyst")]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.ui_status(&reader.cookie).await, StatusCode::SEE_OTHER, "her sessions ended");
    let (_, me) =
        status_json(app.get("/api/v1/me").basic_auth("gina", Some(&gina)).send().await.unwrap()).await;
    assert_eq!(me["role"], "analyst");
    let resp = act(&[("action", "reset"), ("password", "too-short")]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = act(&[("action", "disable")]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.me_as("gina", &gina).await, StatusCode::UNAUTHORIZED);
    let resp = act(&[("action", "enable")]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let resp = act(&[("action", "role"), ("role", "reader")]).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    // Without the CSRF token nothing happens.
    let resp = app
        .post("/ui/admin/users/gina")
        .header(COOKIE, &admin.cookie)
        .form(&[("action", "delete")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    // A connector that fails: administrators see why, readers only that it fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (status, body) = app
        .post_json(
            "/api/v1/connectors",
            &json!({ "name": "down", "protocol": "imap", "host": "127.0.0.1", "port": dead,
                           "username": "phish", "password": "mailbox-secret-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, c) =
            status_json(app.as_admin(app.get("/api/v1/connectors/down")).send().await.unwrap()).await;
        if c["health"]["last_error"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "the connector never failed: {c}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, reader) = app.login("gina", &gina).await;
    let reader = reader.expect("reader logs in");
    let as_reader =
        app.get("/ui/connectors").header(COOKIE, &reader.cookie).send().await.unwrap().text().await.unwrap();
    let as_admin =
        app.get("/ui/connectors").header(COOKIE, &admin.cookie).send().await.unwrap().text().await.unwrap();
    assert!(as_reader.contains("down") && as_reader.contains("error"), "health is shown: {as_reader}");
    assert!(as_admin.contains("last error") && as_admin.contains("cannot connect"), "{as_admin}");
    assert!(!as_reader.contains("last error") && !as_reader.contains("cannot connect"), "{as_reader}");
    let resp = app.get("/api/v1/connectors").basic_auth("gina", Some(&gina)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app.get("/ui/admin").header(COOKIE, &reader.cookie).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn connector_secrets_stay_bound_and_come_only_from_allowed_places() {
    let dir = tempfile::tempdir().unwrap();
    let ca_dir = dir.path().join("ca");
    std::fs::create_dir(&ca_dir).unwrap();
    std::fs::write(ca_dir.join("corp.pem"), "not checked until used").unwrap();
    std::fs::write(dir.path().join("outside.pem"), "secret").unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside.pem"), ca_dir.join("link.pem")).unwrap();
    let ca = ca_dir.clone();
    let app = TestApp::spawn_with(move |s| {
        s.connectors.enabled = false;
        s.security.ca_dir = Some(ca);
    })
    .await;
    let create = |extra: Value| {
        let mut body = json!({ "name": "reports", "protocol": "imap", "host": "mail.example.org",
                               "username": "phish", "password": "mailbox-secret-1" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        app.as_admin(app.post("/api/v1/connectors")).json(&body).send()
    };
    let outside = dir.path().join("outside.pem");
    for (extra, why) in [
        (json!({ "password": null, "password_env": "HOME" }), "HARPOON_SECRET_"),
        (json!({ "ca_file": "/etc/ssl/certs/ca-certificates.crt" }), "outside the CA directory"),
        (json!({ "ca_file": outside }), "outside the CA directory"),
        (json!({ "ca_file": "../outside.pem" }), "'..'"),
        (json!({ "ca_file": "link.pem" }), "symbolic link"),
        (json!({ "ca_file": "missing.pem" }), "cannot read"),
    ] {
        let (status, body) = status_json(create(extra.clone()).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{extra}: {body}");
    }
    let (status, body) = status_json(create(json!({ "ca_file": "corp.pem" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = status_json(
        create(json!({ "name": "envpw", "password": null, "password_env": "HARPOON_SECRET_IMAP" }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let patch = |name: &str, body: Value| {
        app.as_admin(app.request(Method::PATCH, &format!("/api/v1/connectors/{name}"))).json(&body).send()
    };
    // The stored password does not follow the connector to another server or account.
    for change in [json!({ "host": "attacker.example.net" }), json!({ "username": "someone-else" })] {
        let (status, body) = status_json(patch("reports", change.clone()).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("give \"password\" again"), "{body}");
    }
    let (status, body) = status_json(patch("reports", json!({ "folder": "Phish" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "other changes keep the password: {body}");
    assert_eq!(body["password_set"], true);
    let (status, body) =
        status_json(patch("reports", json!({ "host": "MAIL.example.org" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the same host in another case: {body}");
    let (status, body) = status_json(
        patch("reports", json!({ "host": "mail2.example.org", "password": "mailbox-secret-2" }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["host"].as_str()), (StatusCode::OK, Some("mail2.example.org")), "{body}");
    // A connector without a stored password may move: nothing secret goes with it.
    let (status, _) =
        status_json(patch("envpw", json!({ "host": "elsewhere.example.org" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        status_json(patch("envpw", json!({ "password_env": "AWS_SECRET_ACCESS_KEY" })).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn old_audit_entries_are_pruned() {
    let app = TestApp::spawn().await;
    let old = harpoon::db::now_micros() - 400 * 86_400_000_000;
    let recent = harpoon::db::now_micros() - 300 * 86_400_000_000;
    app.db
        .run(move |conn| {
            for (at, what) in [(old, "ancient"), (recent, "recent")] {
                let mut entry = harpoon::db::audit::AuditEntry::new("test.entry").target(what);
                entry.at = at;
                harpoon::db::audit::insert(conn, &entry)?;
            }
            Ok::<_, harpoon::db::DbError>(())
        })
        .await
        .unwrap();
    // A second instance starts its retention task (365 days by default) at once.
    let other = app.spawn_sharing().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut audit = app.audit().await;
    while audit.contains("ancient") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        audit = app.audit().await;
    }
    assert!(!audit.contains("ancient") && audit.contains("recent"), "{audit}");
    drop(other);
}

/// A flood of wrong passwords from many addresses (no throttling applies: a few per address)
/// fills the argon2 queue; beyond it the flood gets 503 with `Retry-After`, while a user who
/// logged in before from its address keeps its own argon2 slot. The cache is off, so every one of
/// the user's requests pays a real password check.
#[tokio::test]
async fn a_flood_of_bad_passwords_does_not_starve_a_known_user() {
    let app = TestApp::spawn_with(|s| s.auth.password_cache_ttl_secs = 0).await;
    // The admin logs in once from 127.0.0.1: that pair is now known good.
    assert_eq!(app.me_as("admin", ADMIN_PASSWORD).await, StatusCode::OK);
    let started = Instant::now();
    assert_eq!(app.me_as("admin", ADMIN_PASSWORD).await, StatusCode::OK);
    let quiet = started.elapsed();

    let mut flood = tokio::task::JoinSet::new();
    for i in 0..96u32 {
        let source = format!("127.0.1.{}", 10 + i / 3);
        let client = reqwest::Client::builder().local_address(source.parse().ok()).build().unwrap();
        let url = format!("{}/api/v1/me", app.url);
        flood.spawn(async move {
            let resp =
                client.get(url).basic_auth(format!("spray{i}"), Some("Winter2026!x")).send().await.unwrap();
            (resp.status(), resp.headers().contains_key(RETRY_AFTER))
        });
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut during = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(app.me_as("admin", ADMIN_PASSWORD).await, StatusCode::OK);
        during.push(started.elapsed());
    }
    let mut busy = 0;
    let mut refused = 0;
    while let Some(result) = flood.join_next().await {
        match result.unwrap() {
            (StatusCode::SERVICE_UNAVAILABLE, true) => busy += 1,
            (StatusCode::UNAUTHORIZED, _) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    let flood_time = started.elapsed();
    eprintln!(
        "known user alone: {quiet:?}; during a flood of 96 bad logins: {during:?}; \
         flood: {refused} checked (401), {busy} turned away (503) in {flood_time:?}"
    );
    assert!(busy > 0, "the queue is bounded: {refused} checked");
    let worst = during.iter().max().copied().unwrap_or_default();
    assert!(worst < quiet * 4 + Duration::from_millis(500), "known user starved: {during:?} vs {quiet:?}");
}
