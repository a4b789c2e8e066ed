//! Accounts, tokens and the one authentication extractor, through the REST edge.

use std::time::Duration;

use harpoon::service::accounts;
use harpoon::service::auth::{AuthError, Authenticator, CacheOptions, Credentials};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{ADMIN_PASSWORD, TestApp, status_json};

#[tokio::test]
async fn health_is_public_and_everything_else_needs_credentials() {
    let app = TestApp::spawn().await;
    let (status, body) = status_json(app.get("/healthz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["database"], "ok");

    let resp = app.get("/api/v1/me").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let challenges: Vec<_> =
        resp.headers().get_all("www-authenticate").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    assert!(challenges.iter().any(|c| c.starts_with("Basic realm=")), "{challenges:?}");
    assert!(challenges.iter().any(|c| c.starts_with("Bearer realm=")), "{challenges:?}");
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let (_, body) = status_json(resp).await;
    assert_eq!(body["status"], 401);
}

#[tokio::test]
async fn basic_password_login_and_wrong_password_is_audited_without_the_secret() {
    let app = TestApp::spawn().await;
    let me = app.get_ok("/api/v1/me").await;
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["authenticated_by"], "password");

    let wrong = "Sup3r-Secret-Guess!";
    let resp = app.get("/api/v1/me").basic_auth("admin", Some(wrong)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = app.get("/api/v1/me").basic_auth("nobody", Some(wrong)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    let audit = app.get_ok("/api/v1/audit?action=auth.failure").await;
    let rows = audit.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{audit}");
    let text = audit.to_string();
    assert!(!text.contains(wrong), "the audit log must not hold the secret: {text}");
    assert!(rows.iter().any(|r| r["target"] == "admin" && r["detail"] == "wrong password"));
    assert!(rows.iter().any(|r| r["target"] == "nobody" && r["detail"] == "unknown user"));
    assert!(rows.iter().all(|r| r["remote_addr"] == "127.0.0.1"));
}

#[tokio::test]
async fn tokens_work_as_bearer_token_and_basic_password_until_revoked() {
    let app = TestApp::spawn().await;
    let password = app.add_user("alice", "analyst").await;
    let (id, token) = app.token_for("alice", &password).await;
    assert!(token.starts_with("hpt_"));

    for rb in [
        app.get("/api/v1/me").bearer_auth(&token),
        app.get("/api/v1/me").header("Authorization", format!("Token {token}")),
        app.get("/api/v1/me").basic_auth("anything", Some(&token)),
    ] {
        let (status, me) = status_json(rb.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["username"], "alice");
        assert_eq!(me["authenticated_by"], format!("token {id}"));
    }

    // A token with one character changed fails.
    let mut tampered = token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == '0' { '1' } else { '0' });
    let resp = app.get("/api/v1/me").bearer_auth(&tampered).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // The token list never shows the secret. Its use is recorded after the request, not awaited
    // by it (src/service/auth.rs): the list is read until it shows, for at most 10 s.
    let mut list = Value::Null;
    for _ in 0..200 {
        list = status_json(app.get("/api/v1/tokens").bearer_auth(&token).send().await.unwrap()).await.1;
        if list[0]["last_used_at"].is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(list[0].get("token").is_none());
    assert!(list[0]["last_used_at"].is_string(), "use is recorded: {list}");

    let resp = app
        .request(Method::DELETE, &format!("/api/v1/tokens/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app.get("/api/v1/me").bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Revoking twice is a clear 404, not a silent success.
    let resp =
        app.as_admin(app.request(Method::DELETE, &format!("/api/v1/tokens/{id}"))).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

/// Another instance (or `harpoon token revoke`) revokes a token behind this server's back: the
/// verified token is taken on trust for at most `TOKEN_TTL`, then refused.
#[tokio::test]
async fn a_token_revoked_elsewhere_stops_working_within_the_token_ttl() {
    let app = TestApp::spawn().await;
    let password = app.add_user("tess", "analyst").await;
    let (id, token) = app.token_for("tess", &password).await;
    let me = || app.get("/api/v1/me").bearer_auth(&token).send();
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    app.db
        .run(move |conn| {
            harpoon::service::accounts::revoke_token(conn, id, "elsewhere")
                .map_err(|e| harpoon::db::DbError::Task(e.to_string()))
        })
        .await
        .unwrap();
    let ttl = harpoon::service::auth::TOKEN_TTL;
    loop {
        let status = me().await.unwrap().status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            revoked_at.elapsed() < ttl + std::time::Duration::from_secs(1),
            "still accepted after {ttl:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn roles_limit_what_users_may_do() {
    let app = TestApp::spawn().await;
    let reader_pw = app.add_user("rita", "reader").await;
    let analyst_pw = app.add_user("andy", "analyst").await;
    let (andy_token_id, _) = app.token_for("andy", &analyst_pw).await;

    let resp = app.get("/api/v1/users").basic_auth("rita", Some(&reader_pw)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let resp = app.get("/api/v1/audit").basic_auth("andy", Some(&analyst_pw)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // Someone else's token: 404, so ids do not reveal what exists.
    let resp = app
        .request(Method::DELETE, &format!("/api/v1/tokens/{andy_token_id}"))
        .basic_auth("rita", Some(&reader_pw))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    // Only admins issue tokens for others.
    let resp = app
        .post("/api/v1/tokens")
        .basic_auth("rita", Some(&reader_pw))
        .json(&serde_json::json!({ "username": "andy" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);

    let users = app.get_ok("/api/v1/users").await;
    let names: Vec<_> = users.as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "andy", "rita"]);
    assert!(users.to_string().find("argon2").is_none(), "hashes never leave the server");
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            serde_json::json!({ "username": "bob", "role": "root", "password": "long-enough-pw" }),
            StatusCode::BAD_REQUEST,
            "unknown role",
        ),
        (
            serde_json::json!({ "username": "bob", "role": "reader", "password": "short" }),
            StatusCode::BAD_REQUEST,
            "too short",
        ),
        (
            serde_json::json!({ "username": "b o b", "role": "reader", "password": "long-enough-pw" }),
            StatusCode::BAD_REQUEST,
            "invalid username",
        ),
        (
            serde_json::json!({ "username": "admin", "role": "reader", "password": "long-enough-pw" }),
            StatusCode::CONFLICT,
            "already exists",
        ),
        (serde_json::json!({ "username": "bob", "role": "reader" }), StatusCode::BAD_REQUEST, "invalid JSON"),
    ];
    for (body, status, needle) in cases {
        let (got, problem) = app.post_json("/api/v1/users", &body).await;
        assert_eq!(got, status, "{body} -> {problem}");
        assert!(problem["detail"].as_str().unwrap().contains(needle), "{problem}");
    }
    let resp = app
        .as_admin(app.post("/api/v1/users"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app.get("/api/v1/me").header("Authorization", "Digest abc").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, problem) = status_json(app.as_admin(app.get("/api/v1/nope")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(problem["detail"].as_str().unwrap().contains("/api/v1/nope"));

    let (_, users) = status_json(app.as_admin(app.get("/api/v1/users")).send().await.unwrap()).await;
    assert_eq!(users.as_array().unwrap().len(), 1, "nothing was created: {users}");
}

#[tokio::test]
async fn paths_are_normalised() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/me", "/api/v1//me", "/api//v1/me"] {
        let resp = app.as_admin(app.get(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn verified_passwords_are_cached_briefly_bounded_and_forgettable() {
    let app = TestApp::spawn().await;
    let auth =
        Authenticator::new(app.db.clone(), CacheOptions { ttl: Duration::from_millis(400), capacity: 2 });
    let creds = |u: &str, p: &str| Credentials::Basic { username: u.into(), password: p.into() };
    let set_password = |name: &'static str, pw: &'static str| {
        let db = app.db.clone();
        async move {
            db.run(move |conn| {
                let user = harpoon::db::users::by_name(conn, name)?.expect("user exists");
                let hash = accounts::hash_password(pw).expect("hash");
                harpoon::db::users::set_password(conn, user.id, &hash)
            })
            .await
            .unwrap()
        }
    };

    let pw_a = app.add_user("a1", "reader").await;
    let pw_b = app.add_user("b1", "reader").await;
    assert_eq!(auth.authenticate(creds("admin", "wrong-password"), None).await, Err(AuthError::Invalid));
    assert_eq!(auth.cached_len(), 0, "failures are never cached");
    let admin = auth.authenticate(creds("admin", ADMIN_PASSWORD), None).await.unwrap();
    assert_eq!(auth.cached_len(), 1);

    // Change the password behind the cache's back: the cached pair is still served...
    set_password("admin", "a-brand-new-password").await;
    assert_eq!(auth.authenticate(creds("admin", ADMIN_PASSWORD), None).await, Ok(admin.clone()));
    // ...until the user is forgotten (what a password change through Harpoon does).
    auth.forget_user(admin.user_id);
    assert_eq!(auth.authenticate(creds("admin", ADMIN_PASSWORD), None).await, Err(AuthError::Invalid));
    auth.authenticate(creds("admin", "a-brand-new-password"), None).await.unwrap();

    // Bounded: more distinct pairs than the capacity evict rather than grow.
    auth.authenticate(creds("a1", &pw_a), None).await.unwrap();
    auth.authenticate(creds("b1", &pw_b), None).await.unwrap();
    assert_eq!(auth.cached_len(), 2);

    // Entries expire: after the TTL a changed password is seen.
    set_password("b1", "b1-changed-password").await;
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(auth.authenticate(creds("b1", &pw_b), None).await, Err(AuthError::Invalid));
}

#[tokio::test]
async fn admins_manage_collections_over_rest() {
    let app = TestApp::spawn().await;
    let pw = app.add_user("bea", "analyst").await;
    let body = serde_json::json!({ "title": "Partners", "alias": "partners", "readers": ["bea"] });
    let resp = app.post("/api/v1/collections").basic_auth("bea", Some(&pw)).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let (status, created) = app.post_json("/api/v1/collections", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["api_root"], "root");
    let (status, dup) = app.post_json("/api/v1/collections", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "titles are unique: {dup}");
    let bad = serde_json::json!({ "title": "X", "readers": ["ghost"] });
    let (status, _) = app.post_json("/api/v1/collections", &bad).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, mine) =
        status_json(app.get("/api/v1/collections").basic_auth("bea", Some(&pw)).send().await.unwrap()).await;
    assert_eq!(mine[0]["can_read"], true);
    assert_eq!(mine[0]["can_write"], false);
    app.grant("partners", "bea", true, true).await;
    let (_, mine) =
        status_json(app.get("/api/v1/collections").basic_auth("bea", Some(&pw)).send().await.unwrap()).await;
    assert_eq!(mine[0]["can_write"], true);
    // The TAXII view agrees with the REST one.
    let (_, taxii) = status_json(
        app.get(&format!("/taxii2/root/collections/{}/", created["id"].as_str().unwrap()))
            .basic_auth("bea", Some(&pw))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((taxii["can_read"].as_bool(), taxii["can_write"].as_bool()), (Some(true), Some(true)));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;
    let (status, doc) = status_json(app.get("/api/v1/openapi.json").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every route of the REST edge's table, with its method, is documented.
    let mut checked = 0;
    for route in harpoon::api::ROUTES {
        let method = route.method.to_ascii_lowercase();
        let path = route.path;
        assert!(doc["paths"][path][&method].is_object(), "{method} {path} is not in openapi.json");
        checked += 1;
    }
    assert!(checked >= 10, "found {checked} routes");
}
