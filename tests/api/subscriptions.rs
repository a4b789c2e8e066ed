//! Subscriptions (issue 18 part 1): Harpoon polling real TAXII 2.1 servers started here on free
//! loopback ports — medallion and OpenTAXII (pinned in tests/oracle/requirements.txt, run by
//! tests/oracle/taxii_peer.py) and a second Harpoon. Every object enters once across pages,
//! restarts of either side and pages fetched again; a dead remote shows as health with back-off;
//! objects a remote should not have sent are refused without stopping the feed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::free_port;
use crate::helpers::{TAXII, TestApp, status_json};

const PEER_USER: &str = "peer";
const PEER_PASSWORD: &str = "peer-password-4711";

/// Subscribers poll every second and retry fast; leases are short so that a stopped instance's
/// subscription moves within seconds.
fn subscriber(s: &mut harpoon::settings::Settings) {
    s.subscriptions.poll_interval_secs = 1;
    s.subscriptions.backoff_initial_ms = 100;
    s.subscriptions.backoff_max_secs = 1;
    s.subscriptions.timeout_secs = 10;
    s.cluster.lease_secs = 2;
    s.cluster.sweep_secs = 1;
}

/// `n` valid STIX indicators, each of one domain `{tag}-{i}.evilcorp-test.net`.
fn indicators(tag: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({
                "type": "indicator", "spec_version": "2.1",
                "id": format!("indicator--{}", uuid::Uuid::new_v4()),
                "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z",
                "name": format!("{tag} {i}"),
                "pattern": format!("[domain-name:value = '{tag}-{i}.evilcorp-test.net']"),
                "pattern_type": "stix", "valid_from": "2026-12-01T00:00:00Z",
                "indicator_types": ["malicious-activity"],
            })
        })
        .collect()
}

/// A reference TAXII server in a child process, restartable on its port with its data.
struct Peer {
    kind: &'static str,
    dir: tempfile::TempDir,
    port: u16,
    page_size: u32,
    child: Option<Child>,
    /// `discovery`, `api_root` and `collection` (id) as the launcher printed them.
    info: Value,
    client: reqwest::Client,
}

impl Peer {
    async fn start(kind: &'static str, page_size: u32) -> Peer {
        let mut peer = Peer {
            kind,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            page_size,
            child: None,
            info: Value::Null,
            client: reqwest::Client::new(),
        };
        peer.run().await;
        peer
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    async fn run(&mut self) {
        let log = self.dir.path().join(format!("stdout-{}.log", Instant::now().elapsed().as_nanos()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(crate::oracle::python())
            .arg(crate::oracle::repo_root().join("tests/oracle/taxii_peer.py"))
            .arg(self.kind)
            .arg(self.data())
            .arg(self.port.to_string())
            .arg(PEER_USER)
            .arg(PEER_PASSWORD)
            .arg(self.page_size.to_string())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the TAXII peer starts (tests/oracle/taxii_peer.py in the pinned venv)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.starts_with('{')) {
                self.info = serde_json::from_str(line).expect("peer info");
                let answered = self
                    .client
                    .get(self.discovery())
                    .basic_auth(PEER_USER, Some(PEER_PASSWORD))
                    .header("Accept", TAXII)
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == StatusCode::OK);
                if answered {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited ({status}): {text}", self.kind);
            }
            assert!(Instant::now() < deadline, "{} did not come up: {text}", self.kind);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stopped, then started again on the same port with the same data directory.
    async fn restart(&mut self) {
        self.stop();
        self.run().await;
    }

    fn discovery(&self) -> String {
        self.info["discovery"].as_str().expect("discovery").to_string()
    }

    fn objects_url(&self) -> String {
        format!("{}collections/{}/objects/", self.info["api_root"].as_str().expect("root"), self.collection())
    }

    fn collection(&self) -> String {
        self.info["collection"].as_str().expect("collection").to_string()
    }

    async fn post(&self, objects: &[Value]) {
        let resp = self
            .client
            .post(self.objects_url())
            .basic_auth(PEER_USER, Some(PEER_PASSWORD))
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .expect("POST to the peer");
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::ACCEPTED, "{}: {body}", self.kind);
        assert_eq!(body["failure_count"].as_i64().unwrap_or(0), 0, "{}: {body}", self.kind);
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestApp {
    async fn subscribe(&self, body: Value) -> Value {
        let (status, v) = self.post_json("/api/v1/subscriptions", &body).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        assert!(v.get("secret").is_none(), "a secret is never shown: {v}");
        v
    }

    async fn subscription(&self, name: &str) -> Value {
        self.get_ok(&format!("/api/v1/subscriptions/{name}")).await
    }

    /// Polls the subscription until `done` holds of it, or fails after `secs` with its state.
    async fn wait_subscription(&self, name: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.subscription(name).await;
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "subscription {name} did not get there: {s:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every object (every version) of a local collection, read over TAXII as the admin.
    async fn collection_objects(&self, id: &str) -> Vec<Value> {
        let (status, v) = status_json(
            self.as_admin(
                self.get(&format!("/taxii2/root/collections/{id}/objects/?limit=1000&match[version]=all")),
            )
            .header("Accept", TAXII)
            .send()
            .await
            .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v["objects"].as_array().cloned().unwrap_or_default()
    }

    /// [`Self::evil_domains`] once there are at least `n` (partner intake runs right after a
    /// page is stored: the counters may show the objects a moment before the indicators exist).
    async fn evil_domains_at_least(&self, n: usize) -> Vec<Value> {
        self.evil_domains_until(|domains| domains.len() >= n).await
    }

    /// The domains once `done` holds of them, or as they are after 60 s (the caller's asserts
    /// then say what is missing): partner intake runs after a page is stored.
    async fn evil_domains_until(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let domains = self.evil_domains().await;
            if done(&domains) || Instant::now() > deadline {
                return domains;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The domain indicators whose value ends with `.evilcorp-test.net`, with their details.
    async fn evil_domains(&self) -> Vec<Value> {
        let v = self.get_ok("/api/v1/indicators?type=domain&q=.evilcorp-test.net&limit=1000").await;
        let mut out = Vec::new();
        for i in v["indicators"].as_array().expect("indicators") {
            let id = i["id"].as_i64().expect("id");
            let (_, detail) = status_json(
                self.as_admin(self.get(&format!("/api/v1/indicators/{id}"))).send().await.unwrap(),
            )
            .await;
            out.push(detail);
        }
        out
    }
}

fn taken(s: &Value) -> i64 {
    s["health"]["objects_taken"].as_i64().unwrap_or(-1)
}

/// Every object of `expected` is in the collection exactly once, and nothing else is.
fn exactly_once(objects: &[Value], expected: &[Value]) {
    let mut ids: Vec<&str> = objects.iter().map(|o| o["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|o| o["id"].as_str().expect("id")).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "the collection holds each remote object once");
}

/// Each indicator of `tag` is one Review indicator whose source is the subscription and which
/// links to the remote object.
fn indicators_from(domains: &[Value], tag: &str, n: usize, source: &str) {
    let mine: Vec<&Value> = domains
        .iter()
        .filter(|d| d["value"].as_str().is_some_and(|v| v.starts_with(&format!("{tag}-"))))
        .collect();
    assert_eq!(mine.len(), n, "one indicator per remote value: {mine:#?}");
    for d in mine {
        assert_eq!(d["status"], "review", "{d:#}");
        let sources: Vec<&str> =
            d["sources"].as_array().unwrap().iter().filter_map(|s| s["source"].as_str()).collect();
        assert!(sources.contains(&source), "{d:#}");
        let links = d["partner_objects"].as_array().unwrap();
        assert!(
            links.iter().any(|l| l["stix_id"].as_str().is_some_and(|s| s.starts_with("indicator--"))),
            "{d:#}"
        );
    }
}

#[tokio::test]
async fn medallion_is_paged_through_restarted_and_its_lost_next_walked_again() {
    let mut peer = Peer::start("medallion", 3).await;
    let first = indicators("med", 10);
    peer.post(&first).await;
    let app = TestApp::spawn_with(subscriber).await;
    let sub = app
        .subscribe(json!({
            "name": "medallion", "url": peer.discovery(), "collection": "Shared",
            "auth": "basic", "username": PEER_USER, "secret": PEER_PASSWORD, "tlp": "green",
        }))
        .await;
    assert_eq!(sub["secret_set"], true);
    // Ten objects in pages of three (the remote's max_page_size): four pages, each object once.
    let s = app.wait_subscription("medallion", 60, |s| taken(s) == 10 && s["health"]["status"] == "ok").await;
    let local = s["local_collection"]["id"].as_str().unwrap().to_string();
    exactly_once(&app.collection_objects(&local).await, &first);
    let domains = app.evil_domains_at_least(10).await;
    indicators_from(&domains, "med", 10, "subscription:medallion");
    assert!(domains.iter().all(|d| d["tlp"] == "green"), "the subscription's TLP for unmarked objects");

    // The remote restarts (medallion's memory backend forgets what was POSTed) and gets more.
    peer.restart().await;
    let more = indicators("med2", 4);
    peer.post(&more).await;
    app.wait_subscription("medallion", 60, |s| taken(s) == 14).await;
    // A `next` the remote no longer knows: the walk starts again, duplicates change nothing.
    let id = sub["id"].as_i64().unwrap();
    let cursor = app.subscription("medallion").await["health"]["cursor"].clone();
    let mut stale = cursor.clone();
    stale["next"] = json!("forgotten-by-the-remote");
    let text = stale.to_string();
    app.db.run(move |conn| harpoon::db::subscriptions::advance(conn, id, &text, 0, 0, None)).await.unwrap();
    let (status, _) =
        status_json(app.as_admin(app.post("/api/v1/subscriptions/medallion/poll")).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let s = app
        .wait_subscription("medallion", 60, |s| {
            s["health"]["cursor"]["next"].is_null() && s["health"]["status"] == "ok"
        })
        .await;
    assert_eq!(taken(&s), 14, "{s:#}");
    let all: Vec<Value> = first.iter().chain(&more).cloned().collect();
    exactly_once(&app.collection_objects(&local).await, &all);
    indicators_from(&app.evil_domains_at_least(14).await, "med2", 4, "subscription:medallion");
}

#[tokio::test]
async fn objects_a_remote_should_not_send_are_refused_and_the_feed_goes_on() {
    let peer = Peer::start("medallion", 1000).await;
    let good = indicators("good", 3);
    let mut sent = good.clone();
    // medallion stores what it is given: an indicator with a broken pattern and an SCO filed
    // under an id that is not the UUIDv5 of its value.
    let mut broken = indicators("broken", 1).remove(0);
    broken["pattern"] = json!("[domain-name:value = 'x.evilcorp-test.net'");
    sent.push(broken);
    sent.push(json!({
        "type": "domain-name", "spec_version": "2.1",
        "id": format!("domain-name--{}", uuid::Uuid::new_v4()), "value": "forged.evilcorp-test.net",
    }));
    peer.post(&sent).await;
    let app = TestApp::spawn_with(subscriber).await;
    app.subscribe(json!({
        "name": "mixed", "url": peer.discovery(), "collection": peer.collection(),
        "auth": "basic", "username": PEER_USER, "secret": PEER_PASSWORD,
    }))
    .await;
    let s = app.wait_subscription("mixed", 60, |s| taken(s) == 3 && s["health"]["status"] == "ok").await;
    assert_eq!(s["health"]["objects_rejected"], 2, "{s:#}");
    let last = s["health"]["last_rejected"].as_str().unwrap();
    assert!(last.contains("UUIDv5") || last.contains("pattern"), "{last}");
    let local = s["local_collection"]["id"].as_str().unwrap().to_string();
    exactly_once(&app.collection_objects(&local).await, &good);
    // More polls of the same remote take nothing twice and refuse the same two again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = app.subscription("mixed").await;
    assert_eq!(taken(&s), 3, "{s:#}");
    exactly_once(&app.collection_objects(&local).await, &good);
    indicators_from(&app.evil_domains_at_least(3).await, "good", 3, "subscription:mixed");
}

#[tokio::test]
async fn opentaxii_down_is_reported_and_after_its_restart_the_feed_goes_on() {
    let mut peer = Peer::start("opentaxii", 1000).await;
    let first = indicators("ot", 7);
    peer.post(&first).await;
    let app = TestApp::spawn_with(subscriber).await;
    // By title, through the discovery document (OpenTAXII names its API root relatively), in
    // pages of three asked for by the subscriber.
    app.subscribe(json!({
        "name": "opentaxii", "url": peer.discovery(), "collection": "Shared", "page_size": 3,
        "auth": "basic", "username": PEER_USER, "secret": PEER_PASSWORD, "types": ["indicator"],
    }))
    .await;
    let s = app.wait_subscription("opentaxii", 90, |s| taken(s) == 7 && s["health"]["status"] == "ok").await;
    let local = s["local_collection"]["id"].as_str().unwrap().to_string();
    exactly_once(&app.collection_objects(&local).await, &first);

    // The remote goes away: health says so, with the reason, and retries back off.
    peer.stop();
    let s = app
        .wait_subscription("opentaxii", 60, |s| {
            s["health"]["status"] == "error" && s["health"]["consecutive_failures"].as_i64() >= Some(2)
        })
        .await;
    let error = s["health"]["last_error"].as_str().unwrap();
    assert!(error.contains("cannot connect") && error.contains(&peer.port.to_string()), "{error}");
    assert!(s["health"]["next_attempt_at"].is_string(), "{s:#}");
    let (_, metrics) = status_json(app.as_admin(app.get("/metrics")).send().await.unwrap()).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(metrics.contains("harpoon_subscription_healthy{subscription=\"opentaxii\"} 0"), "{metrics}");

    // Back (its SQLite data kept), with more: the cursor resumes, nothing twice, nothing missed.
    peer.restart().await;
    let more = indicators("ot2", 4);
    peer.post(&more).await;
    let s = app.wait_subscription("opentaxii", 90, |s| taken(s) == 11 && s["health"]["status"] == "ok").await;
    assert_eq!(s["health"]["consecutive_failures"], 0);
    let all: Vec<Value> = first.iter().chain(&more).cloned().collect();
    exactly_once(&app.collection_objects(&local).await, &all);
    let domains = app.evil_domains_at_least(11).await;
    indicators_from(&domains, "ot", 7, "subscription:opentaxii");
    indicators_from(&domains, "ot2", 4, "subscription:opentaxii");
}

/// A Harpoon with a collection `feed` that `partner` reads and `feeder` writes.
async fn remote_harpoon() -> (TestApp, String) {
    let remote = TestApp::spawn().await;
    remote.add_user("partner", "partner").await;
    remote.add_user("feeder", "partner").await;
    let id = remote.add_collection("Partner feed", &["partner"], &["feeder"], false).await;
    (remote, id)
}

/// An API token for `partner`, issued by the remote's administrator (partners issue none).
async fn partner_token(remote: &TestApp) -> String {
    let (status, v) = status_json(
        remote
            .as_admin(remote.post("/api/v1/tokens"))
            .json(&json!({"label": "subscriber", "username": "partner"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v["token"].as_str().unwrap().to_string()
}

async fn push(remote: &TestApp, collection: &str, objects: &[Value]) {
    let (status, v) = status_json(
        remote
            .post(&format!("/taxii2/root/collections/{collection}/objects/"))
            .basic_auth("feeder", Some("feeder-password-123"))
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["success_count"].as_u64(), Some(objects.len() as u64), "{v}");
}

#[tokio::test]
async fn another_harpoon_is_read_with_basic_token_and_bearer_and_a_wrong_secret_is_health() {
    let (remote, collection) = remote_harpoon().await;
    let objects = indicators("hb", 9);
    push(&remote, &collection, &objects).await;
    let token = partner_token(&remote).await;
    let app = TestApp::spawn_with(subscriber).await;
    let base =
        json!({ "url": format!("{}/taxii2/", remote.url), "collection": "Partner feed", "page_size": 4 });
    let with = |extra: Value| {
        let mut b = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    app.subscribe(with(
        json!({"name": "basic", "auth": "basic", "username": "partner", "secret": "partner-password-123"}),
    ))
    .await;
    app.subscribe(with(json!({"name": "token", "auth": "token", "secret": token, "collection": collection})))
        .await;
    app.subscribe(with(json!({"name": "bearer", "auth": "bearer", "secret": token, "url": format!("{}/taxii2/root/", remote.url)})))
        .await;
    for name in ["basic", "token", "bearer"] {
        let s = app.wait_subscription(name, 60, |s| taken(s) == 9 && s["health"]["status"] == "ok").await;
        let local = s["local_collection"]["id"].as_str().unwrap().to_string();
        exactly_once(&app.collection_objects(&local).await, &objects);
    }
    // One indicator per value, with every subscription that brought it as a source (each
    // subscription's intake runs after it stored its objects: wait for the three).
    let from_all = |d: &Value| {
        ["basic", "token", "bearer"].iter().all(|name| {
            d["sources"].as_array().is_some_and(|s| {
                s.iter().any(|s| s["source"].as_str() == Some(&format!("subscription:{name}")))
            })
        })
    };
    let domains = app.evil_domains_until(|d| d.len() >= 9 && d.iter().all(from_all)).await;
    assert_eq!(domains.len(), 9, "{domains:#?}");
    for name in ["basic", "token", "bearer"] {
        indicators_from(&domains, "hb", 9, &format!("subscription:{name}"));
    }
    // A wrong password only now: it shares (user, address) with "basic", so its failures get
    // that pair throttled by the remote (429 with Retry-After), which the subscriber honours.
    app.subscribe(with(
        json!({"name": "wrong", "auth": "basic", "username": "partner", "secret": "not-the-password"}),
    ))
    .await;
    let s = app.wait_subscription("wrong", 60, |s| s["health"]["status"] == "error").await;
    let error = s["health"]["last_error"].as_str().unwrap();
    assert!(error.contains("HTTP 401") && error.contains("refused the credentials"), "{error}");
    assert!(!error.contains("not-the-password"), "never the secret: {error}");
    // Changing the server of a stored secret without giving it again is refused.
    let (status, v) = app
        .patch_json("/api/v1/subscriptions/basic", &json!({"url": "https://elsewhere.example/taxii2/"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(v.to_string().contains("give \\\"secret\\\" again"), "{v}");
}

#[tokio::test]
async fn both_sides_restart_and_every_object_enters_once() {
    let (remote, collection) = remote_harpoon().await;
    let first = indicators("rs", 12);
    push(&remote, &collection, &first).await;
    let token = partner_token(&remote).await;
    let feed = json!({
        "name": "partner", "url": format!("{}/taxii2/root/", remote.url), "collection": collection,
        "auth": "bearer", "secret": token, "page_size": 5,
    });
    let a = TestApp::spawn_with(subscriber).await;
    a.subscribe(feed).await;
    let s = a.wait_subscription("partner", 60, |s| taken(s) == 12).await;
    let local = s["local_collection"]["id"].as_str().unwrap().to_string();

    // The subscriber dies; the remote gets more meanwhile; another instance takes the
    // subscription over (its lease expired) and resumes from the stored cursor.
    a.background.kill();
    a.server.stop(false).await;
    let second = indicators("rs2", 6);
    push(&remote, &collection, &second).await;
    let b = a.spawn_sharing_with(subscriber).await;
    let s = b.wait_subscription("partner", 60, |s| taken(s) == 18).await;
    assert_eq!(s["health"]["running"], true, "{s:#}");

    // The remote restarts on its port (same database): down meanwhile, then back with more.
    let addr = remote.url.trim_start_matches("http://").to_string();
    remote.background.kill();
    remote.server.stop(true).await;
    b.wait_subscription("partner", 60, |s| s["health"]["status"] == "error").await;
    let remote2 = remote
        .spawn_sharing_with(|s| {
            s.server.listen = addr.clone();
        })
        .await;
    let third = indicators("rs3", 3);
    push(&remote2, &collection, &third).await;
    let s = b.wait_subscription("partner", 60, |s| taken(s) == 21 && s["health"]["status"] == "ok").await;
    assert_eq!(s["health"]["objects_rejected"], 0, "{s:#}");
    let all: Vec<Value> = first.iter().chain(&second).chain(&third).cloned().collect();
    exactly_once(&b.collection_objects(&local).await, &all);
    let domains = b.evil_domains_at_least(21).await;
    assert_eq!(domains.len(), 21);
    for (tag, n) in [("rs", 12), ("rs2", 6), ("rs3", 3)] {
        indicators_from(&domains, tag, n, "subscription:partner");
    }
    drop(remote2);
    drop(b);
}

#[tokio::test]
async fn the_configuration_file_defines_read_only_subscriptions_and_the_ui_lists_them() {
    let remote = TestApp::spawn().await;
    let collection = remote.add_collection("Public feed", &[], &[], true).await;
    // A public collection is read without credentials.
    let objects = indicators("cf", 2);
    let (status, v) = status_json(
        remote
            .as_admin(remote.post(&format!("/taxii2/root/collections/{collection}/objects/")))
            .header("Accept", TAXII)
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let url = format!("{}/taxii2/", remote.url);
    let app = TestApp::spawn_with(|s| {
        subscriber(s);
        s.subscriptions.feeds = vec![
            serde_json::from_value(json!({
                "name": "public", "url": url, "collection": "Public feed", "interval_secs": 1,
            }))
            .unwrap(),
        ];
    })
    .await;
    let s = app.wait_subscription("public", 60, |s| taken(s) == 2).await;
    assert_eq!(s["origin"], "config");
    let (status, _) = app.patch_json("/api/v1/subscriptions/public", &json!({"enabled": false})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The UI: administrators see the health and subscribe with a form; others are refused.
    let (_, admin) = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let admin = admin.expect("admin session");
    let resp = admin
        .post(
            &app,
            "/ui/subscriptions",
            &[
                ("name", "ui-made"),
                ("url", &format!("{}/taxii2/root/", remote.url)),
                ("collection", &collection),
                ("auth", "none"),
                ("types", "indicator, relationship"),
                ("tlp", "amber+strict"),
                ("interval_secs", "1"),
            ],
        )
        .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", resp.text().await.unwrap_or_default());
    let s = app.wait_subscription("ui-made", 60, |s| taken(s) == 2).await;
    assert_eq!(s["types"], json!(["indicator", "relationship"]));
    let page = admin.get(&app, "/ui/subscriptions").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for needle in [
        "data-subscription=\"public\"",
        "data-subscription=\"ui-made\"",
        "Subscription public",
        "(configuration file)",
    ] {
        assert!(html.contains(needle), "{needle}: {html}");
    }
    let resp = admin.post(&app, "/ui/subscriptions/ui-made", &[("action", "disable")]).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.subscription("ui-made").await["health"]["status"], "disabled");
    let resp = admin.post(&app, "/ui/subscriptions/public", &[("action", "delete")]).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "configuration-file subscriptions stay");
    let password = app.add_user("ana", "analyst").await;
    let (_, analyst) = app.login("ana", &password).await;
    let analyst = analyst.expect("analyst session");
    assert_eq!(analyst.get(&app, "/ui/subscriptions").await.status(), StatusCode::FORBIDDEN);
}
