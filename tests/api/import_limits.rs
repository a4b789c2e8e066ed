//! The import use case's limits (issue 15): a bounded number of import requests is admitted
//! (extracting, or waiting for a slot); the next waits for room with its body unread (a bounded
//! time, a bounded number of such requests), or, past that, is refused before its body is read,
//! with 503 and `Retry-After`, on the analyst's and on the intake token's path alike, and is
//! accepted again once the queue has room.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{ADMIN_PASSWORD, TestApp, status_json};

fn phish(n: usize) -> Vec<u8> {
    format!(
        "From: <it@evil-{n}.example.net>\r\nTo: alice@corp.example\r\nSubject: Limits #{n}\r\n\
         Message-ID: <limits-{n}@evil.example.net>\r\nContent-Type: text/plain\r\n\r\n\
         Reset at http://reset-{n}.evil.example.net/now\r\n"
    )
    .into_bytes()
}

/// 100 KiB of text around a link: more than the tests' 64 KiB byte budget on its own.
fn over_budget(n: usize) -> Vec<u8> {
    let mut body = phish(n);
    body.extend(std::iter::repeat_n(b"filler line of the slow upload\r\n".as_slice(), 3200).flatten());
    body
}

/// `phish(n)` followed by a line of `len` bytes `fill`.
fn large(n: usize, fill: u8, len: usize) -> Vec<u8> {
    let mut body = phish(n);
    body.extend(std::iter::repeat_n(fill, len));
    body.extend_from_slice(b"\r\n");
    body
}

#[tokio::test]
async fn imports_beyond_the_queue_are_told_to_retry_and_the_intake_receipt_is_unchanged() {
    let app = TestApp::spawn_with(|s| {
        s.imports.max_concurrent = 1;
        s.imports.max_queued = 0;
        s.imports.max_wait_secs = 0;
    })
    .await;
    let (status, v) =
        app.post_json("/api/v1/tokens", &json!({ "label": "gateway", "scope": "intake" })).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let intake = v["token"].as_str().expect("token").to_string();
    // Warm the password cache, so the slow request below is admitted quickly.
    app.as_admin(app.get("/api/v1/me")).send().await.expect("me");

    // An upload whose body is still arriving holds the only place. Until the server has admitted
    // it, a probe may take the place instead (and the slow upload is then the one refused): give
    // it a moment, probe, and on a loaded machine start over with a longer moment.
    let slow_body = phish(1);
    let (_, rest) = slow_body.split_at(20);
    let mut held = None;
    for (attempt, wait_ms) in [(1usize, 300u64), (2, 600), (3, 1200), (4, 2400)] {
        let slow = slow_upload(&app.url, &slow_body[..20], slow_body.len()).await;
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        for n in 0..10 {
            let resp = app
                .post("/api/v1/imports")
                .bearer_auth(&intake)
                .header("Content-Type", "message/rfc822")
                .body(phish(100 * attempt + n))
                .send()
                .await
                .expect("request");
            if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
                held = Some((slow, resp));
                break;
            }
        }
        if held.is_some() {
            break;
        }
    }
    let (mut slow, refused) = held.expect("a push while the queue is full is refused");
    let retry = refused.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert!(retry.as_deref().and_then(|r| r.parse::<u64>().ok()).is_some_and(|s| s > 0), "{retry:?}");
    let (_, problem) = status_json(refused).await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("try again")), "{problem}");
    let analyst = app
        .as_admin(app.post("/api/v1/imports"))
        .header("Content-Type", "message/rfc822")
        .body(phish(2))
        .send()
        .await
        .expect("request");
    assert_eq!(analyst.status(), StatusCode::SERVICE_UNAVAILABLE);

    // The slow upload finishes and is stored; then pushes are accepted again, same receipt.
    slow.write_all(rest).await.expect("the rest");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let (status, receipt) = status_json(
        app.post("/api/v1/imports")
            .bearer_auth(&intake)
            .header("Content-Type", "message/rfc822")
            .body(phish(3))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{receipt}");
    assert_eq!(receipt, json!({ "accepted": 1, "failed": [] }));
}

/// A raw import request whose head and first body bytes are sent, the rest held back.
async fn slow_upload(url: &str, first: &[u8], len: usize) -> tokio::net::TcpStream {
    let addr = url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let auth =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("admin:{ADMIN_PASSWORD}"));
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: message/rfc822\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.expect("head");
    slow.write_all(first).await.expect("first bytes");
    slow.flush().await.expect("flush");
    slow
}

/// The queue's byte budget: while an upload holds more than the budget (taken because it was
/// alone), a push declaring a large body is refused — and the client, which sends its whole body
/// anyway, reads the 503 instead of a reset connection (the server reads and drops the rest).
#[tokio::test]
async fn a_push_past_the_byte_budget_reads_its_503_instead_of_a_reset() {
    let app = TestApp::spawn_with(|s| {
        s.imports.max_concurrent = 1;
        s.imports.max_queued = 8;
        s.imports.max_queued_bytes = 64 << 10;
        s.imports.max_wait_secs = 0;
    })
    .await;
    app.as_admin(app.get("/api/v1/me")).send().await.expect("me");
    let slow_body = over_budget(1);
    let (_, rest) = slow_body.split_at(20);
    // Eight megabytes: far past the loopback socket buffers, so an early close would reset it.
    let big = large(2, b'x', 8 << 20);
    let mut held = None;
    for wait_ms in [300u64, 600, 1200, 2400] {
        let slow = slow_upload(&app.url, &slow_body[..20], slow_body.len()).await;
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let resp = app
            .as_admin(app.post("/api/v1/imports"))
            .header("Content-Type", "message/rfc822")
            .body(big.clone())
            .send()
            .await
            .expect("the refused client reads an answer, not a reset");
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            held = Some((slow, resp));
            break;
        }
        // The probe was admitted first (alone): it is a draft now; start over, longer moment.
        assert!(resp.status().is_success(), "{}", resp.status());
    }
    let (mut slow, refused) = held.expect("a push past the byte budget is refused");
    assert!(refused.headers().get("retry-after").is_some());
    let (_, problem) = status_json(refused).await;
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("try again")), "{problem}");

    // The slow upload is stored; the budget is free again and the same push is accepted.
    slow.write_all(rest).await.expect("the rest");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let accepted = app
        .as_admin(app.post("/api/v1/imports"))
        .header("Content-Type", "message/rfc822")
        .body(big)
        .send()
        .await
        .expect("request");
    assert!(accepted.status().is_success(), "{}", accepted.status());
}

/// With waiting on (the default), a push past the byte budget is neither read nor refused: it
/// waits with its body unread until the upload holding the budget is stored, then is taken.
/// Past `max_waiting` waiting requests, the next is refused at once.
#[tokio::test]
async fn a_push_past_the_byte_budget_waits_unread_and_is_taken_when_room_comes() {
    let app = TestApp::spawn_with(|s| {
        s.imports.max_concurrent = 1;
        s.imports.max_queued = 8;
        s.imports.max_queued_bytes = 64 << 10;
        s.imports.max_wait_secs = 60;
        s.imports.max_waiting = 1;
    })
    .await;
    app.as_admin(app.get("/api/v1/me")).send().await.expect("me");
    let slow_body = over_budget(3);
    let (_, rest) = slow_body.split_at(20);
    let big = large(4, b'y', 1 << 20);
    let mut found = None;
    for wait_ms in [300u64, 600, 1200, 2400] {
        let slow = slow_upload(&app.url, &slow_body[..20], slow_body.len()).await;
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        let req = app
            .as_admin(app.post("/api/v1/imports"))
            .header("Content-Type", "message/rfc822")
            .body(big.clone());
        let push = tokio::spawn(async move { req.send().await });
        tokio::time::sleep(Duration::from_millis(800)).await;
        if !push.is_finished() {
            found = Some((slow, push));
            break;
        }
        // The push was admitted before the slow upload (alone): start over, longer moment.
    }
    let (mut slow, push) = found.expect("the push waits for room instead of being refused");
    // A second push past the budget finds the one waiting place taken: refused at once.
    let second = app
        .as_admin(app.post("/api/v1/imports"))
        .header("Content-Type", "message/rfc822")
        .body(big)
        .send()
        .await
        .expect("the refused client reads an answer");
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!push.is_finished());
    // The slow upload is stored: room; the waiting push is taken and stored.
    slow.write_all(rest).await.expect("the rest");
    let mut answer = String::new();
    slow.read_to_string(&mut answer).await.expect("answer");
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let pushed = tokio::time::timeout(Duration::from_secs(60), push)
        .await
        .expect("the waiting push is answered")
        .expect("task")
        .expect("request");
    assert_eq!(pushed.status(), StatusCode::CREATED);
}

/// An email above `db::LARGE_STATEMENT_BYTES` (a PDF attached, say) is stored and read back byte
/// for byte; on PostgreSQL it goes over a connection of its own, so that no pooled connection
/// keeps libpq buffers of its size for the rest of its life.
#[tokio::test]
async fn a_large_email_is_stored_and_read_back_on_a_connection_of_its_own() {
    let app = TestApp::spawn().await;
    let attachment = "QUJD".repeat(3 * (harpoon::db::LARGE_STATEMENT_BYTES / 4));
    let mime = format!(
        "From: <it@evil-7.example.net>\r\nTo: alice@corp.example\r\nSubject: Large\r\n\
         Message-ID: <large-7@evil.example.net>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         Reset at http://reset-7.evil.example.net/now\r\n--b\r\nContent-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=blob.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {attachment}\r\n--b--\r\n"
    );
    let raw = mime.into_bytes();
    assert!(raw.len() > harpoon::db::LARGE_STATEMENT_BYTES);

    let own = app.db.conn_sized(raw.len()).expect("a connection");
    assert_eq!(matches!(own, harpoon::db::Conn::Own(_)), app.db.backend() == harpoon::db::Backend::Postgres);
    drop(own);
    assert!(matches!(app.db.conn_sized(64 << 10).expect("a connection"), harpoon::db::Conn::Pooled(_)));

    let (status, v) = status_json(
        app.as_admin(app.post("/api/v1/imports"))
            .header("Content-Type", "message/rfc822")
            .body(raw.clone())
            .send()
            .await
            .expect("import"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["imports"][0]["id"].as_i64().expect("id");
    assert_eq!(v["imports"][0]["state"], "draft", "{v}");
    let back = app.as_admin(app.get(&format!("/api/v1/imports/{id}/raw"))).send().await.expect("raw");
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(back.bytes().await.expect("body").as_ref(), raw.as_slice());
    let verdict = app.draft(id).await;
    assert!(verdict["verdict"]["verdict"].is_string(), "the verdict is stored with the draft: {verdict}");
}
