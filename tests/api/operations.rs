//! Operations through the REST API: the seed investigation (a committed phish; url-to-fqdn; nslookup
//! against a DNS server this test runs on 127.0.0.1; splunk-search against a stand-in that speaks
//! Splunk's `search/jobs/export` over HTTPS with a certificate the operation trusts by `ca_file`;
//! the sighting served over TAXII and strictly valid), Splunk's failures, and script operations
//! that work, crash, hang or print garbage. Nothing here leaves 127.0.0.1: the DNS server and the
//! Splunk stand-in are in `fixtures/`.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::dns::{PHISH_IPV6, dns_server};
use crate::fixtures::phish::{ORG_DOMAIN, PHISH_HOST, PHISH_IP, PHISH_URL, phish, report};
use crate::fixtures::splunk::{INTERNAL_HOST, SPLUNK_TOKEN, Splunk, splunk_stand_in};
use crate::helpers::{TestApp, assert_strictly_valid, status_json};

// ---- REST helpers -------------------------------------------------------------------------

async fn start_run(app: &TestApp, indicator_id: i64, op: &str, body: Value) -> Value {
    let (status, run) = app.start_run(indicator_id, op, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    assert!(run["status"] == "queued" || run["status"] == "running", "{run}");
    run
}

/// Waits until the run has ended (polls its resource) and returns it.
async fn finished(app: &TestApp, run: &Value) -> Value {
    let id = run["id"].as_i64().unwrap();
    for _ in 0..600 {
        let r = app.run(id).await;
        if !matches!(r["status"].as_str(), Some("queued" | "running")) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("run {id} never ended");
}

async fn run_to_end(app: &TestApp, indicator_id: i64, op: &str, body: Value) -> Value {
    let run = start_run(app, indicator_id, op, body).await;
    finished(app, &run).await
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// The relationships of an indicator as `(type, direction, other value)`.
async fn relations(app: &TestApp, id: i64) -> Vec<(String, String, String)> {
    let full = app.get_ok(&format!("/api/v1/indicators/{id}")).await;
    full["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["relationship_type"].as_str().unwrap().to_string(),
                r["direction"].as_str().unwrap().to_string(),
                r["indicator"]["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn notes(run: &Value) -> String {
    run["output"]["notes"]
        .as_array()
        .map(|n| n.iter().map(|t| t.as_str().unwrap_or("")).collect::<Vec<_>>().join(" | "))
        .unwrap_or_default()
}

/// Imports and commits an email whose body names these URLs; the app must whitelist nothing of them.
async fn commit_urls(app: &TestApp, tag: &str, urls: &[&str]) {
    let raw = format!(
        "From: x@phish-sender-test.com\r\nTo: bob@acme-corp.com\r\nSubject: {tag}\r\nMessage-ID: <{tag}@phish-sender-test.com>\r\n\r\nSee {}\r\n",
        urls.join(" and ")
    );
    let id = app.import_id(&raw).await;
    let (status, body) = app.commit(id, json!({})).await;
    assert!(status.is_success(), "{body}");
}

// ---- the seed investigation ---------------------------------------------------------------

#[tokio::test]
async fn the_seed_investigation_end_to_end() {
    let dns = dns_server(true).await;
    let splunk = splunk_stand_in().await;
    let app = TestApp::builder()
        .org_domain(ORG_DOMAIN)
        .dns(dns)
        .splunk(&splunk)
        .settings(|s| {
            s.organisation.name = "ACME Corp".into();
            // The operation itself is what this test exercises.
            s.operations.url_to_fqdn_at_commit = false;
        })
        .spawn()
        .await;
    let id = app.import_id(&report("alice@acme-corp.com", &phish("alice@acme-corp.com", "m-alice"))).await;
    let (status, body) = app.commit(id, json!({})).await;
    assert!(status.is_success(), "{body}");
    let url = app.indicator("url", PHISH_URL).await;

    what_applies_to_a_url(&app, &url).await;
    let (host, registered) = url_to_fqdn_relates_host_and_registered_domain(&app, &url).await;
    let ip = nslookup_resolves_the_host(&app, &host).await;
    nslookup_follows_cname_mx_and_ptr(&app, &registered, &ip).await;
    splunk_search_sends_what_splunk_documents(&app, &splunk, &url).await;
    let sighting = splunk_search_on_the_ip_is_a_sighting(&app, &splunk, &ip).await;
    the_sighting_is_published_with_its_indicator(&app, &ip, &sighting).await;
    a_search_finding_nothing_is_a_note(&app, &url).await;
}

/// What applies to a URL: not nslookup.
async fn what_applies_to_a_url(app: &TestApp, url: &Value) {
    let ops = app.get_ok(&format!("/api/v1/indicators/{}/operations", id_of(url))).await;
    let names: Vec<&str> = ops.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"url-to-fqdn") && names.contains(&"splunk-search"), "{ops}");
    assert!(!names.contains(&"nslookup"), "{ops}");
    let splunk_info = ops.as_array().unwrap().iter().find(|o| o["name"] == "splunk-search").unwrap();
    assert_eq!(
        splunk_info["parameters"][0],
        json!({ "name": "days", "type": "integer", "default": 7, "description": "Search the last N days" })
    );
}

/// url-to-fqdn: the host related to the URL, the registered domain related to the host. Both
/// indicators.
async fn url_to_fqdn_relates_host_and_registered_domain(app: &TestApp, url: &Value) -> (Value, Value) {
    let run = run_to_end(app, id_of(url), "url-to-fqdn", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["started_by"], "admin");
    assert!(run["duration_ms"].is_i64() && run["finished_at"].is_string(), "{run}");
    let host = app.indicator("domain", PHISH_HOST).await;
    assert!(relations(app, id_of(url)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        PHISH_HOST.into()
    )));
    // The sender's domain was in the email already: merged, not created again.
    let registered = app.indicator("domain", "paypa1-verify.com").await;
    assert!(notes(&run).contains("registered domain: paypa1-verify.com"), "{run}");
    assert!(relations(app, id_of(&host)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        "paypa1-verify.com".into()
    )));
    let full = app.get_ok(&format!("/api/v1/indicators/{}", id_of(&registered))).await;
    let provenance = format!("operation url-to-fqdn run {}", run["id"]);
    assert!(full["sources"].as_array().unwrap().iter().any(|s| s["source"] == provenance.as_str()), "{full}");
    (host, registered)
}

/// nslookup on the FQDN against the test's DNS server: the IP indicator.
async fn nslookup_resolves_the_host(app: &TestApp, host: &Value) -> Value {
    let ops = app.get_ok(&format!("/api/v1/indicators/{}/operations", id_of(host))).await;
    assert!(ops.as_array().unwrap().iter().any(|o| o["name"] == "nslookup"), "{ops}");
    let run = run_to_end(app, id_of(host), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let rels = relations(app, id_of(host)).await;
    assert!(rels.contains(&("resolves-to".into(), "outgoing".into(), PHISH_IP.into())), "{rels:?}");
    assert!(rels.contains(&("resolves-to".into(), "outgoing".into(), PHISH_IPV6.into())), "{rels:?}");
    // The IPv4 address was in the email already (Review, kept); the IPv6 one is new: Indirect.
    let ip = app.indicator("ipv4", PHISH_IP).await;
    assert_eq!(ip["status"], "review");
    let ipv6 = app.indicator("ipv6", PHISH_IPV6).await;
    assert_eq!(ipv6["status"], "indirect");
    assert_eq!(run["created"]["indicators"], json!([id_of(&ipv6)]), "{run}");
    assert!(notes(&run).contains(&format!("A {PHISH_IP}")), "{run}");
    ip
}

/// A CNAME chain is kept: www → secure-login → the addresses; MX listed; PTR for the IP.
async fn nslookup_follows_cname_mx_and_ptr(app: &TestApp, registered: &Value, ip: &Value) {
    let run = run_to_end(app, id_of(registered), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains("MX 10 mail.paypa1-verify.com"), "{run}");
    assert!(notes(&run).contains("has no A record"), "{run}");
    let run = run_to_end(app, id_of(ip), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let mail = app.indicator("domain", "mail.paypa1-verify.com").await;
    assert!(relations(app, id_of(ip)).await.contains(&(
        "related-to".into(),
        "outgoing".into(),
        "mail.paypa1-verify.com".into()
    )));
    // The mail host was in the Received header already (Review, kept).
    assert_eq!(mail["status"], "review");
    assert!(notes(&run).contains("PTR mail.paypa1-verify.com"), "{run}");
}

/// splunk-search on the URL: nothing (a note); what we sent is what Splunk documents.
async fn splunk_search_sends_what_splunk_documents(app: &TestApp, splunk: &Splunk, url: &Value) {
    let run = run_to_end(app, id_of(url), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["created"]["sightings"], 0);
    assert_eq!(run["created"]["notes"], 1);
    assert!(notes(&run).contains("no events"), "{run}");
    {
        let seen = splunk.seen.lock().unwrap();
        let r = seen.last().unwrap();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/services/search/jobs/export"));
        assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {SPLUNK_TOKEN}").as_str()));
        assert_eq!(r.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(r.param("search"), Some(format!("search index=* \"{PHISH_URL}\" | head 1000").as_str()));
        assert_eq!(r.param("output_mode"), Some("json"));
        assert_eq!(r.param("earliest_time"), Some("-7d"));
        assert_eq!(r.param("latest_time"), Some("now"));
    }
}

/// splunk-search on the IP over 3 days: traffic from internal hosts, one sighting (returned).
/// Runs are listed on the indicator and across indicators, newest first.
async fn splunk_search_on_the_ip_is_a_sighting(app: &TestApp, splunk: &Splunk, ip: &Value) -> Value {
    let run = run_to_end(app, id_of(ip), "splunk-search", json!({ "parameters": { "days": 3 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["parameters"], json!({ "days": 3 }));
    assert_eq!(splunk.seen.lock().unwrap().last().unwrap().param("earliest_time"), Some("-3d"));
    assert_eq!(run["created"]["sightings"], 1, "{run}");
    assert_eq!(run["output"]["hosts"], json!([INTERNAL_HOST, "10.20.30.41"]), "{run}");
    assert_eq!(run["output"]["sample"].as_array().unwrap().len(), 3, "{run}");
    let sightings = app.get_ok(&format!("/api/v1/indicators/{}/sightings", id_of(ip))).await;
    let s = &sightings[0];
    assert_eq!(s["count"], 3, "{sightings}");
    assert_eq!(s["hosts"], json!([INTERNAL_HOST, "10.20.30.41"]));
    assert_eq!(s["run_id"], run["id"]);
    assert!(s["description"].as_str().unwrap().contains(PHISH_IP));

    let runs = app.get_ok(&format!("/api/v1/indicators/{}/runs", id_of(ip))).await;
    assert_eq!(runs.as_array().unwrap().len(), 2);
    assert_eq!(runs[0]["operation"], "splunk-search");
    let recent = app.get_ok("/api/v1/runs?limit=3").await;
    assert_eq!(recent.as_array().unwrap().len(), 3);
    assert_eq!(recent[0]["id"], run["id"]);
    s.clone()
}

/// The IP becomes Active: its sighting (found before) is published with it over TAXII.
async fn the_sighting_is_published_with_its_indicator(app: &TestApp, ip: &Value, s: &Value) {
    app.set_status(id_of(ip), "active").await;
    let objects = app.poll_active("admin", crate::helpers::ADMIN_PASSWORD, None).await;
    let ip_stix = app.get_ok(&format!("/api/v1/indicators/{}", id_of(ip))).await["stix_id"].clone();
    let sighting = objects.iter().find(|o| o["type"] == "sighting").expect("a sighting in active-indicators");
    assert_eq!(sighting["id"], s["stix_id"]);
    assert_eq!(sighting["sighting_of_ref"], ip_stix);
    assert_eq!(sighting["count"], 3);
    let identity = objects.iter().find(|o| o["type"] == "identity").unwrap();
    assert_eq!(identity["name"], "ACME Corp");
    assert_eq!(sighting["where_sighted_refs"], json!([identity["id"]]));
    let observed_id = &sighting["observed_data_refs"][0];
    let observed = objects.iter().find(|o| &o["id"] == observed_id).expect("the observed-data is served too");
    let hosts: Vec<&Value> = observed["object_refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| objects.iter().find(|o| &o["id"] == r).expect("the host SCO is served too"))
        .collect();
    assert!(hosts.iter().any(|h| h["type"] == "ipv4-addr" && h["value"] == INTERNAL_HOST), "{hosts:?}");
    assert_strictly_valid(&objects);
}

/// A search on an Active indicator finding nothing is a STIX note about it.
async fn a_search_finding_nothing_is_a_note(app: &TestApp, url: &Value) {
    app.set_status(id_of(url), "active").await;
    let run = run_to_end(app, id_of(url), "splunk-search", json!({ "parameters": { "days": 1 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let url_stix = app.get_ok(&format!("/api/v1/indicators/{}", id_of(url))).await["stix_id"].clone();
    let objects = app.poll_active("admin", crate::helpers::ADMIN_PASSWORD, None).await;
    let note = objects.iter().find(|o| o["type"] == "note").expect("a note in active-indicators");
    assert_eq!(note["object_refs"], json!([url_stix]));
    assert!(note["content"].as_str().unwrap().contains("no events"), "{note}");
    assert_strictly_valid(&objects);
}

// ---- failures -----------------------------------------------------------------------------

#[tokio::test]
async fn bad_requests_are_clear_errors() {
    let app = TestApp::spawn_with(|s| s.organisation.domains = vec!["acme-corp.com".into()]).await;
    commit_urls(&app, "bad-requests", &["http://login.phish-bad-request-test.com/x"]).await;
    let url = app.indicator("url", "http://login.phish-bad-request-test.com/x").await;
    let post = |path: String, body: &'static str| {
        app.as_admin(app.post(&path)).header("Content-Type", "application/json").body(body).send()
    };
    let base = format!("/api/v1/indicators/{}/operations", id_of(&url));
    for (path, body, want) in [
        (format!("{base}/nslookup/runs"), "{}", StatusCode::BAD_REQUEST),
        (format!("{base}/no-such-op/runs"), "{}", StatusCode::NOT_FOUND),
        (format!("{base}/url-to-fqdn/runs"), "{\"parameters\":{\"days\":1}}", StatusCode::BAD_REQUEST),
        (format!("{base}/url-to-fqdn/runs"), "not json", StatusCode::BAD_REQUEST),
        ("/api/v1/indicators/999999/operations/url-to-fqdn/runs".to_string(), "", StatusCode::NOT_FOUND),
    ] {
        let (status, problem) = status_json(post(path.clone(), body).await.unwrap()).await;
        assert_eq!(status, want, "{path} {body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()), "{problem}");
    }
    // Without a body, a run starts; a reader may not start one; anonymous callers get 401.
    let (status, run) = status_json(post(format!("{base}/url-to-fqdn/runs"), "").await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let password = app.add_user("reader1", "reader").await;
    let resp = app
        .post(&format!("{base}/url-to-fqdn/runs"))
        .basic_auth("reader1", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get(&base).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/runs/424242").basic_auth("reader1", Some(&password)).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // Splunk is not configured here: not offered.
    let ops = app.get_ok(&base).await;
    assert!(!ops.as_array().unwrap().iter().any(|o| o["name"] == "splunk-search"), "{ops}");
    // At commit (the default), the URL's host and registered domain became indicators.
    let host = app.indicator("domain", "login.phish-bad-request-test.com").await;
    let registered = app.indicator("domain", "phish-bad-request-test.com").await;
    assert_eq!(registered["status"], "indirect");
    assert!(relations(&app, id_of(&host)).await.contains(&(
        "related-to".into(),
        "incoming".into(),
        "http://login.phish-bad-request-test.com/x".into()
    )));
}

#[tokio::test]
async fn dns_and_splunk_failures_are_clear_results() {
    let dns = dns_server(true).await;
    let silent = dns_server(false).await;
    let splunk = splunk_stand_in().await;
    let app = TestApp::builder()
        .org_domain(ORG_DOMAIN)
        .dns(dns)
        .splunk(&splunk)
        .settings(|s| {
            s.operations.nslookup.timeout_secs = 1;
            s.operations.splunk.timeout_secs = 1;
        })
        .spawn()
        .await;
    commit_urls(
        &app,
        "failures",
        &[
            "http://nothing-here-test.com/a",
            "http://broken-dns-test.com/b",
            "http://bad-search-test.com/c",
            "http://slow-splunk-test.com/d",
        ],
    )
    .await;
    let domain = |v: &'static str| app.indicator("domain", v);
    // NXDOMAIN and SERVFAIL: the run succeeds and says so.
    let run = run_to_end(&app, id_of(&domain("nothing-here-test.com").await), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains("does not exist (NXDOMAIN)"), "{run}");
    assert_eq!(run["created"]["indicators"], json!([]));
    let run = run_to_end(&app, id_of(&domain("broken-dns-test.com").await), "nslookup", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).to_lowercase().contains("fail"), "SERVFAIL is named: {run}");
    // A bad search (400) and a search that outlives the timeout: failed, with Splunk's words.
    let bad = app.indicator("url", "http://bad-search-test.com/c").await;
    let run = run_to_end(&app, id_of(&bad), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("rejected the search (400)"), "{run}");
    assert!(run["error"].as_str().unwrap().contains("unbalanced quotes"), "{run}");
    let slow = app.indicator("url", "http://slow-splunk-test.com/d").await;
    let run = run_to_end(&app, id_of(&slow), "splunk-search", json!({})).await;
    assert!(run["status"] == "failed" || run["status"] == "timed_out", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("no answer within 1 s") || run["status"] == "timed_out",
        "{run}"
    );
    let run = run_to_end(&app, id_of(&bad), "splunk-search", json!({ "parameters": { "days": 0 } })).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("days must be 1-3650"), "{run}");
    let (status, _) = status_json(app.get("/healthz").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    drop(app);
    silent_dns_wrong_token_dead_splunk_untrusted_certificate(silent, &splunk).await;
}

/// A DNS server that never answers, a wrong token (401), a dead Splunk, an untrusted certificate.
async fn silent_dns_wrong_token_dead_splunk_untrusted_certificate(silent: SocketAddr, splunk: &Splunk) {
    let wrong_token = splunk.dir.path().join("wrong-token");
    std::fs::write(&wrong_token, "not-the-token").unwrap();
    let (ca, url) = (splunk.ca_file.clone(), format!("https://127.0.0.1:{}", splunk.addr.port()));
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.nslookup.resolver = silent.to_string();
        s.operations.nslookup.timeout_secs = 1;
        s.operations.splunk.url = url;
        s.security.ca_dir = ca.parent().map(|d| d.to_path_buf());
        s.operations.splunk.ca_file = Some(ca);
        s.operations.splunk.token_file = Some(wrong_token);
    })
    .await;
    commit_urls(&app, "failures-2", &["http://nothing-here-test.com/a"]).await;
    let run = run_to_end(
        &app,
        id_of(&app.indicator("domain", "nothing-here-test.com").await),
        "nslookup",
        json!({}),
    )
    .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("did not answer within 1 s"), "{run}");
    let url = app.indicator("url", "http://nothing-here-test.com/a").await;
    let run = run_to_end(&app, id_of(&url), "splunk-search", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("refused the credentials (401)"), "{run}");
    assert!(run["error"].as_str().unwrap().contains("call not properly authenticated"), "{run}");
    assert!(!run["error"].as_str().unwrap().contains("not-the-token"), "a secret is never shown: {run}");
    drop(app);

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    for (url, ca, why) in [
        (format!("https://127.0.0.1:{}", dead.port()), Some(splunk.ca_file.clone()), "cannot connect"),
        (format!("https://127.0.0.1:{}", splunk.addr.port()), None, "certificate"),
    ] {
        let token = splunk.token_file.clone();
        let app = TestApp::spawn_with(move |s| {
            s.organisation.domains = vec!["acme-corp.com".into()];
            s.operations.splunk.url = url;
            s.security.ca_dir = ca.as_deref().and_then(|c| c.parent()).map(|d| d.to_path_buf());
            s.operations.splunk.ca_file = ca;
            s.operations.splunk.token_file = Some(token);
        })
        .await;
        commit_urls(&app, why.split(' ').next().unwrap(), &["http://nothing-here-test.com/a"]).await;
        let url = app.indicator("url", "http://nothing-here-test.com/a").await;
        let run = run_to_end(&app, id_of(&url), "splunk-search", json!({})).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["error"].as_str().unwrap().to_lowercase().contains(why), "{why}: {run}");
    }
}

// ---- script operations --------------------------------------------------------------------

fn write_script(dir: &std::path::Path, name: &str, body: &str, manifest: Value) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join(format!("{name}.json")), manifest.to_string()).unwrap();
}

fn manifest(name: &str, timeout: u64) -> Value {
    json!({ "version": 1, "name": name, "description": format!("test script {name}"),
            "applies_to": ["ipv4", "domain", "url"], "timeout_secs": timeout })
}

/// The scripts directory: the shipped examples, as an administrator would install them, and
/// scripts that crash, hang, wait at a gate, print garbage or report their environment.
fn install_scripts(scripts: &std::path::Path) {
    std::fs::create_dir(scripts).unwrap();
    let examples = crate::oracle::repo_root().join("operations");
    for f in ["suricata-eve.py", "suricata-eve.json", "template.py", "template.json"] {
        std::fs::copy(examples.join(f), scripts.join(f)).unwrap();
    }
    write_script(
        scripts,
        "crash",
        "#!/bin/sh\necho 'Traceback: something broke' >&2\nexit 3\n",
        manifest("crash", 10),
    );
    write_script(
        scripts,
        "hang",
        "#!/bin/sh\nsleep 300 &\necho $! > hang.pid\nsleep 300\n",
        manifest("hang", 1),
    );
    // Waits until the test opens the gate: shows the per-operation limit (max_concurrent 1).
    let mut gate = manifest("gate", 60);
    gate["max_concurrent"] = json!(1);
    write_script(
        scripts,
        "gate",
        "#!/bin/sh\ncat > /dev/null\nwhile [ ! -f gate.open ]; do sleep 0.05; done\necho '{\"version\":1,\"notes\":[\"passed the gate\"]}'\n",
        gate,
    );
    write_script(
        scripts,
        "garbage",
        "#!/bin/sh\ncat > /dev/null\necho 'this is not JSON'\n",
        manifest("garbage", 10),
    );
    write_script(
        scripts,
        "env-check",
        "#!/bin/sh\ninput=$(cat)\nnames=$(env | cut -d= -f1 | sort | tr '\\n' ' ')\nprintf '{\"version\":1,\"notes\":[\"env: %s\"]}' \"$names\"\n",
        manifest("env-check", 10),
    );
    // A broken manifest is left out; the others still load.
    std::fs::write(scripts.join("broken.json"), "{ not json").unwrap();
}

/// A Suricata EVE log: two events in the window, one too old, one about another address, and a
/// line cut short.
fn write_eve(eve: &std::path::Path) {
    let now = chrono::Utc::now();
    let ts = |h: i64| (now - chrono::Duration::hours(h)).format("%Y-%m-%dT%H:%M:%S%.6f+0000").to_string();
    let events = [
        json!({ "timestamp": ts(5), "event_type": "flow", "src_ip": "10.9.8.7", "dest_ip": PHISH_IP, "dest_port": 443 }),
        json!({ "timestamp": ts(3), "event_type": "tls", "src_ip": "10.9.8.6", "dest_ip": PHISH_IP, "tls": { "sni": PHISH_HOST } }),
        json!({ "timestamp": ts(24 * 40), "event_type": "flow", "src_ip": "10.9.8.5", "dest_ip": PHISH_IP }),
        json!({ "timestamp": ts(1), "event_type": "flow", "src_ip": "10.9.8.7", "dest_ip": "93.184.216.34" }),
    ];
    let text: String = events.iter().map(|e| format!("{e}\n")).collect::<String>() + "{\"half\": ";
    std::fs::write(eve, text).unwrap();
}

#[tokio::test]
async fn script_operations_work_and_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("ops");
    install_scripts(&scripts);
    let eve = dir.path().join("eve.json");
    write_eve(&eve);
    let (ops_dir, eve_path) = (scripts.clone(), eve.display().to_string());
    let app = TestApp::spawn_with(move |s| {
        s.organisation.domains = vec!["acme-corp.com".into()];
        s.operations.scripts.dir = Some(ops_dir);
        s.operations
            .scripts
            .config
            .insert("suricata-eve".into(), [("eve_file".to_string(), eve_path)].into());
        s.operations
            .scripts
            .config
            .insert("template".into(), [("greeting".to_string(), "checked".to_string())].into());
    })
    .await;
    let id = app.import_id(&report("bob@acme-corp.com", &phish("bob@acme-corp.com", "m-bob"))).await;
    let (status, body) = app.commit(id, json!({})).await;
    assert!(status.is_success(), "{body}");
    let ip = app.indicator("ipv4", PHISH_IP).await;
    let ops = app.get_ok(&format!("/api/v1/indicators/{}/operations", id_of(&ip))).await;
    let names: Vec<&str> = ops.as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    for n in ["suricata-eve", "template", "crash", "hang", "garbage", "env-check", "gate", "nslookup"] {
        assert!(names.contains(&n), "{n} in {ops}");
    }
    let host = the_examples_find_sightings_and_notes(&app, &ip).await;
    scripts_run_in_a_clean_environment(&app, &ip).await;
    crash_hang_and_garbage_fail_clearly(&app, &ip, &scripts).await;
    one_gate_run_at_a_time(&app, &host, &scripts).await;

    // The server is fine and runs go on.
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), StatusCode::OK);
    let run = run_to_end(&app, id_of(&ip), "template", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let runs = app.get_ok(&format!("/api/v1/indicators/{}/runs", id_of(&ip))).await;
    assert_eq!(runs.as_array().unwrap().len(), 7);
}

/// The Suricata example: a sighting naming the internal hosts, in the window only. The
/// template, with its configured value. Returns the phish host's indicator.
async fn the_examples_find_sightings_and_notes(app: &TestApp, ip: &Value) -> Value {
    let run = run_to_end(app, id_of(ip), "suricata-eve", json!({ "parameters": { "days": 7 } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["output"]["exit_status"], 0);
    let sightings = app.get_ok(&format!("/api/v1/indicators/{}/sightings", id_of(ip))).await;
    assert_eq!(sightings[0]["count"], 2, "{sightings}");
    assert_eq!(sightings[0]["hosts"], json!(["10.9.8.7", "10.9.8.6"]));
    let host = app.indicator("domain", PHISH_HOST).await;
    let run = run_to_end(app, id_of(&host), "suricata-eve", json!({})).await;
    assert_eq!(run["created"]["sightings"], 1, "{run}");
    let run = run_to_end(app, id_of(&app.indicator("url", PHISH_URL).await), "suricata-eve", json!({})).await;
    assert_eq!(run["created"]["notes"], 1, "{run}");
    assert!(notes(&run).contains("no events"), "{run}");
    let run = run_to_end(app, id_of(ip), "template", json!({ "parameters": { "uppercase": true } })).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(notes(&run).contains(&format!("checked ipv4 {PHISH_IP} (uppercase: True)")), "{run}");
    host
}

/// A clean environment: PATH and LANG (and what the shell itself sets), no inherited secrets.
async fn scripts_run_in_a_clean_environment(app: &TestApp, ip: &Value) {
    let run = run_to_end(app, id_of(ip), "env-check", json!({})).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let env = notes(&run);
    assert!(env.contains("PATH") && env.contains("LANG"), "{env}");
    for inherited in ["HOME", "CARGO", "HARPOON_PYTHON", "USER", "TEST_DATABASE_URL", "RUST"] {
        assert!(!env.contains(inherited), "{inherited} leaked into {env}");
    }
}

/// Crash, hang, garbage: clear failed runs; a hung script's background child dies with it.
async fn crash_hang_and_garbage_fail_clearly(app: &TestApp, ip: &Value, scripts: &std::path::Path) {
    let run = run_to_end(app, id_of(ip), "crash", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("exited with status 3") && error.contains("Traceback: something broke"), "{run}");
    let run = run_to_end(app, id_of(ip), "hang", json!({})).await;
    assert_eq!(run["status"], "timed_out", "{run}");
    assert!(run["error"].as_str().unwrap().contains("killed"), "{run}");
    // The child it left in the background died with it (its process group was killed).
    let pid = std::fs::read_to_string(scripts.join("hang.pid")).unwrap().trim().to_string();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
    };
    for _ in 0..50 {
        if !alive() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(), "the script's background child {pid} outlived the timeout");
    let run = run_to_end(app, id_of(ip), "garbage", json!({})).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(run["error"].as_str().unwrap().contains("not a version 1 result"), "{run}");
    assert_eq!(run["created"]["indicators"], json!([]));
}

/// One gate run at a time: the second waits `queued` while the first runs.
async fn one_gate_run_at_a_time(app: &TestApp, host: &Value, scripts: &std::path::Path) {
    let first = start_run(app, id_of(host), "gate", json!({})).await;
    let second = start_run(app, id_of(host), "gate", json!({})).await;
    let mut running = false;
    for _ in 0..100 {
        let r = app.get_ok(&format!("/api/v1/runs/{}", first["id"])).await;
        if r["status"] == "running" {
            running = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running, "the first gate run started");
    let waiting = app.get_ok(&format!("/api/v1/runs/{}", second["id"])).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert!(waiting["started_at"].is_null(), "{waiting}");
    std::fs::write(scripts.join("gate.open"), "").unwrap();
    for run in [&first, &second] {
        let r = finished(app, run).await;
        assert_eq!(r["status"], "succeeded", "{r}");
        assert!(notes(&r).contains("passed the gate"), "{r}");
    }
}

/// ARCHITECTURE.md: only `net.rs` builds an HTTP client (one TLS, timeout and redirect policy).
#[test]
fn only_net_rs_builds_an_http_client() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = crate::oracle::repo_root().join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    assert!(files.len() > 20);
    for f in files.iter().filter(|f| !f.ends_with("net.rs")) {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("reqwest"),
            "{} names reqwest: outbound HTTP goes through net.rs",
            f.display()
        );
    }
}
