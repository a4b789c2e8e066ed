//! Three instances behind a real nginx on one PostgreSQL database (issue 17), started by
//! `scripts/cluster` (the same script an operator uses for a demo) from the test build's
//! `harpoon` binary. The instances are separate processes: a crash is a SIGKILL, a restart is a
//! SIGTERM (graceful: draining, leases released) and a new process on the same port.
//!
//! Several instances need PostgreSQL (SQLite is one process, design.md §8): on the SQLite pass
//! of the test command these tests return at once; the PostgreSQL pass runs them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harpoon::db::{Backend, leases};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::fixtures::dovecot::{Dovecot, PASSWORD};
use crate::helpers::{TestDb, status_json};

const ADMIN: &str = "cluster-admin-password";

/// A cluster of this test's own, taken down on drop (also when the test fails).
struct Cluster {
    dir: tempfile::TempDir,
    url: String,
    db: TestDb,
    client: reqwest::Client,
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/cluster")
}

impl Cluster {
    /// `instances` Harpoons + nginx; `extra` is TOML added to every instance's configuration.
    fn up(instances: usize, extra: &str) -> Self {
        let nginx = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nginx-env")).output();
        assert!(
            nginx.is_ok_and(|o| o.status.success()),
            "nginx is not installed: run scripts/nginx-env (the cluster test needs a real nginx)"
        );
        let db = TestDb::fresh();
        let dir = tempfile::tempdir().expect("temp dir");
        let extra_file = dir.path().join("extra.toml");
        std::fs::write(&extra_file, extra).expect("extra config");
        let out = Command::new(script())
            .args(["up", "--dir"])
            .arg(dir.path())
            .arg("--instances")
            .arg(instances.to_string())
            .arg("--database-url")
            .arg(&db.url)
            .arg("--binary")
            .arg(env!("CARGO_BIN_EXE_harpoon"))
            .arg("--config-extra")
            .arg(&extra_file)
            .args(["--admin-password", ADMIN, "--lease-secs", "3", "--sweep-secs", "1"])
            .env("HARPOON_SECRET_MAILBOX", PASSWORD)
            .output()
            .expect("scripts/cluster runs");
        let mut cluster = Cluster {
            url: String::new(),
            dir,
            db,
            client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client"),
        };
        assert!(out.status.success(), "scripts/cluster up failed: {}\n{}", stderr(&out), cluster.logs());
        let state: Value = serde_json::from_slice(&out.stdout).expect("state JSON");
        cluster.url = state["url"].as_str().expect("url").to_string();
        cluster
    }

    fn run(&self, command: &str, n: usize) -> Value {
        let out = Command::new(script())
            .arg(command)
            .arg(n.to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .env("HARPOON_SECRET_MAILBOX", PASSWORD)
            .output()
            .expect("scripts/cluster runs");
        assert!(out.status.success(), "scripts/cluster {command} {n}: {}\n{}", stderr(&out), self.logs());
        serde_json::from_slice(&out.stdout).expect("state JSON")
    }

    /// The instance whose process holds a lease (holders are `host-pid-random`).
    fn holder_of(&self, lease: &str) -> Option<usize> {
        let db = self.db.connect();
        let name = lease.to_string();
        let row = db.conn().ok().and_then(|mut c| leases::get(&mut c, &name).ok().flatten())?;
        let pid: u32 = row.holder.rsplit('-').nth(1)?.parse().ok()?;
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(self.dir.path().join("state.json")).ok()?).ok()?;
        state["instances"].as_array()?.iter().position(|i| i["pid"].as_u64() == Some(u64::from(pid)))
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path()).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                all += &format!(
                    "--- {}\n{}\n",
                    path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
        all
    }

    fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.url)).basic_auth("admin", Some(ADMIN))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("down").arg("--dir").arg(self.dir.path()).output();
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn on_postgres() -> bool {
    if TestDb::expected_backend() == Backend::Postgres {
        return true;
    }
    eprintln!("the cluster tests run on the PostgreSQL pass (several instances need PostgreSQL)");
    false
}

/// A distinct phishing email (its own URL host), as a mail gateway pushes it.
fn email(tag: &str, n: usize) -> String {
    format!(
        "From: \"Payroll\" <payroll@{tag}-{n}.example.net>\r\nTo: alice@corp.example\r\n\
         Subject: Salary review {tag} {n}\r\nMessage-ID: <{tag}-{n}@example.net>\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n\
         Review it at http://review-{n}.{tag}.example.net/salary now.\r\n"
    )
}

/// Pushes an email until the cluster answers with success (a client of a load balancer retries
/// what failed with a transport error or a 5xx: the import is idempotent by content).
async fn push(c: &Cluster, raw: &str) -> Value {
    for _ in 0..50 {
        let sent = c
            .admin(Method::POST, "/api/v1/imports")
            .header("Content-Type", "message/rfc822")
            .body(raw.to_string())
            .send()
            .await;
        if let Ok(resp) = sent {
            let (status, body) = status_json(resp).await;
            if status.is_success() {
                return body;
            }
            assert!(status.is_server_error(), "an import was refused: {status} {body}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("an import never succeeded through the cluster\n{}", c.logs());
}

/// Every import's SHA-256 → how many imports have it.
async fn imports_by_hash(c: &Cluster) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let mut path = "/api/v1/imports?limit=500".to_string();
    loop {
        let (status, page) = status_json(c.admin(Method::GET, &path).send().await.expect("list")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for i in page["imports"].as_array().expect("imports") {
            *seen.entry(i["sha256"].as_str().expect("sha256").to_string()).or_insert(0) += 1;
        }
        match page["next_before"].as_i64() {
            Some(before) => path = format!("/api/v1/imports?limit=500&before={before}"),
            None => return seen,
        }
    }
}

fn sha256(raw: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(raw.as_bytes()))
}

/// A collection of `n` indicators posted over TAXII; its id.
async fn taxii_collection(c: &Cluster, n: usize) -> (String, BTreeSet<String>) {
    let (status, col) = status_json(
        c.admin(Method::POST, "/api/v1/collections")
            .json(&json!({ "title": "Sweep", "alias": "sweep", "readers": ["admin"], "writers": ["admin"] }))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{col}");
    let id = col["id"].as_str().expect("id").to_string();
    let mut ids = BTreeSet::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let objects: Vec<Value> = chunk
            .iter()
            .map(|i| {
                let id = format!("indicator--{}", uuid::Uuid::new_v4());
                ids.insert(id.clone());
                json!({ "type": "indicator", "spec_version": "2.1", "id": id,
                        "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
                        "name": format!("sweep {i}"), "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
                        "pattern": format!("[url:value = 'http://sweep-{i}.example.org/']") })
            })
            .collect();
        let (status, body) = status_json(
            c.admin(Method::POST, &format!("/taxii2/root/collections/{id}/objects/"))
                .header("Content-Type", "application/taxii+json;version=2.1")
                .header("Accept", "application/taxii+json;version=2.1")
                .json(&json!({ "objects": objects }))
                .send()
                .await
                .expect("post"),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let status_id = body["id"].as_str().expect("status id").to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, s) = status_json(
                c.admin(Method::GET, &format!("/taxii2/root/status/{status_id}/"))
                    .header("Accept", "application/taxii+json;version=2.1")
                    .send()
                    .await
                    .expect("status"),
            )
            .await;
            if s["status"] == "complete" {
                assert_eq!(s["success_count"].as_u64(), Some(chunk.len() as u64), "{s}");
                break;
            }
            assert!(Instant::now() < deadline, "ingest not complete: {s}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    (id, ids)
}

/// One sweep of a collection's objects, `limit` per page, following `next`: the ids in the
/// order served (a failed request is retried, as a TAXII client of a load balancer does).
/// `after_page` runs once, after the given page.
async fn sweep(
    c: &Cluster,
    collection: &str,
    limit: usize,
    mut after_page: impl FnMut(usize),
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next: Option<String> = None;
    for page in 1.. {
        let mut url = format!("/taxii2/root/collections/{collection}/objects/?limit={limit}");
        if let Some(n) = &next {
            url += &format!("&next={n}");
        }
        let mut answer = None;
        for _ in 0..20 {
            let sent = c
                .admin(Method::GET, &url)
                .header("Accept", "application/taxii+json;version=2.1")
                .send()
                .await;
            if let Ok(resp) = sent
                && resp.status() == StatusCode::OK
            {
                answer = Some(resp.json::<Value>().await.expect("envelope"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let envelope = answer.unwrap_or_else(|| panic!("page {page} never answered\n{}", c.logs()));
        ids.extend(
            envelope["objects"]
                .as_array()
                .expect("objects")
                .iter()
                .map(|o| o["id"].as_str().expect("id").to_string()),
        );
        after_page(page);
        if envelope["more"] != true {
            return ids;
        }
        next = Some(envelope["next"].as_str().expect("next").to_string());
    }
    unreachable!()
}

async fn within<T, F: std::future::Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    c: &Cluster,
    mut check: impl FnMut() -> F,
) -> T {
    // Deadlines, not durations: a loaded two-core CI machine gets three times what a quiet one
    // needs, and a passing test waits no longer for it.
    let secs = secs * 3;
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {secs} s: {what}\n{}", c.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn slow_script(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("slow");
    std::fs::write(&path, "#!/bin/sh\ncat > /dev/null\nsleep 60\n").expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let manifest = json!({ "version": 1, "name": "slow", "description": "a run that outlives its instance",
                           "applies_to": ["url"], "timeout_secs": 120 });
    std::fs::write(dir.join("slow.json"), manifest.to_string()).expect("manifest");
}

#[tokio::test]
async fn instances_killed_during_a_sweep_an_import_batch_a_connector_fetch_and_a_run_lose_nothing() {
    if !on_postgres() {
        return;
    }
    let dovecot = Dovecot::start().await;
    let scripts = tempfile::tempdir().expect("scripts dir");
    slow_script(scripts.path());
    let c = Cluster::up(
        3,
        &format!(
            "[security]\nca_dir = \"{ca}\"\n[operations.scripts]\ndir = \"{ops}\"\n\
             [connectors]\npoll_interval_secs = 1\ntimeout_secs = 5\nbackoff_initial_ms = 100\nbackoff_max_secs = 1\n",
            ca = dovecot.ca_dir().display(),
            ops = scripts.path().display(),
        ),
    );

    a_sweep_loses_nothing_when_an_instance_dies(&c).await;
    an_import_batch_loses_nothing_when_an_instance_dies(&c).await;
    a_connector_fetch_loses_nothing_when_its_instance_dies(&c, &dovecot).await;
    a_run_whose_instance_dies_is_interrupted(&c).await;
}

/// Step 1: A TAXII sweep through nginx; an instance dies after the third page.
async fn a_sweep_loses_nothing_when_an_instance_dies(c: &Cluster) {
    let (collection, posted) = taxii_collection(c, 2_000).await;
    let mut killed = false;
    let seen = sweep(c, &collection, 100, |page| {
        if page == 3 && !killed {
            c.run("kill", 1);
            killed = true;
        }
    })
    .await;
    assert!(killed);
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no object twice in one sweep");
    assert_eq!(unique, posted, "every object in the sweep");
    c.run("start", 1);
}

/// Step 2: An import batch pushed through nginx; an instance dies in the middle.
async fn an_import_batch_loses_nothing_when_an_instance_dies(c: &Cluster) {
    let batch: Vec<String> = (0..60).map(|n| email("batch", n)).collect();
    for (n, raw) in batch.iter().enumerate() {
        if n == 20 {
            c.run("kill", 2);
        }
        push(c, raw).await;
    }
    c.run("start", 2);
    let by_hash = imports_by_hash(c).await;
    for raw in &batch {
        assert_eq!(by_hash.get(&sha256(raw)), Some(&1), "every pushed email imported exactly once");
    }
}

/// Step 3: A mailbox connector created over REST (every instance starts it; one holds its lease);
/// the holder dies and another takes it over.
async fn a_connector_fetch_loses_nothing_when_its_instance_dies(c: &Cluster, dovecot: &Dovecot) {
    let messages: Vec<String> = (0..30).map(|n| email("mailbox", n)).collect();
    for m in &messages[..10] {
        dovecot.deliver(m.as_bytes());
    }
    let (status, conn) = status_json(
        c.admin(Method::POST, "/api/v1/connectors")
            .json(
                &json!({ "name": "reports", "protocol": "imap", "host": "127.0.0.1", "port": dovecot.imaps(),
                           "ca_file": dovecot.ca_file(), "username": "alice", "password": PASSWORD }),
            )
            .send()
            .await
            .expect("create connector"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{conn}");
    let lease = format!("connector:{}", conn["id"].as_i64().expect("id"));
    let taken = |want: usize| {
        let messages = &messages;
        async move {
            let by_hash = imports_by_hash(c).await;
            (messages[..want].iter().all(|m| by_hash.contains_key(&sha256(m)))).then_some(())
        }
    };
    within(30, "the first ten messages imported", c, || taken(10)).await;
    let first = within(10, "an instance holds the connector", c, || async { c.holder_of(&lease) }).await;
    for m in &messages[10..] {
        dovecot.deliver(m.as_bytes());
    }
    c.run("kill", first);
    let second = within(20, "another instance takes the connector over", c, || async {
        c.holder_of(&lease).filter(|h| *h != first)
    })
    .await;
    assert_ne!(first, second);
    within(40, "every message imported", c, || taken(30)).await;
    let by_hash = imports_by_hash(c).await;
    for m in &messages {
        assert_eq!(by_hash.get(&sha256(m)), Some(&1), "every delivered message imported exactly once");
    }
    c.run("start", first);
}

/// Step 4: An operation run whose instance dies: another closes it as interrupted.
async fn a_run_whose_instance_dies_is_interrupted(c: &Cluster) {
    let imported = push(c, &email("run", 0)).await;
    let draft = imported["imports"][0]["id"].as_i64().expect("draft id");
    let (status, body) = status_json(
        c.admin(Method::POST, &format!("/api/v1/imports/{draft}/commit"))
            .json(&json!({}))
            .send()
            .await
            .expect("commit"),
    )
    .await;
    assert!(status.is_success(), "{body}");
    let (_, list) = status_json(
        c.admin(Method::GET, "/api/v1/indicators")
            .query(&[("type", "url"), ("value", "http://review-0.run.example.net/salary")])
            .send()
            .await
            .expect("indicator"),
    )
    .await;
    let indicator =
        list["indicators"][0]["id"].as_i64().unwrap_or_else(|| panic!("the URL indicator: {list}"));
    let (status, run) = status_json(
        c.admin(Method::POST, &format!("/api/v1/indicators/{indicator}/operations/slow/runs"))
            .json(&json!({}))
            .send()
            .await
            .expect("run"),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let run_id = run["id"].as_i64().expect("run id");
    let get_run = || async {
        let (_, r) =
            status_json(c.admin(Method::GET, &format!("/api/v1/runs/{run_id}")).send().await.expect("run"))
                .await;
        r
    };
    within(20, "the run is running", c, || async { (get_run().await["status"] == "running").then_some(()) })
        .await;
    let runner =
        within(10, "an instance holds the run", c, || async { c.holder_of(&format!("run:{run_id}")) }).await;
    c.run("kill", runner);
    let run = within(20, "the run is closed by another instance", c, || async {
        let r = get_run().await;
        (r["status"] == "interrupted").then_some(r)
    })
    .await;
    assert_eq!(run["error"], "the instance running it stopped", "{run}");
}

#[tokio::test]
async fn a_rolling_restart_behind_nginx_fails_no_request() {
    if !on_postgres() {
        return;
    }
    let c = Arc::new(Cluster::up(3, ""));
    let (collection, posted) = taxii_collection(&c, 1_000).await;
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));

    // An importer pushing without retries: any failed request counts.
    let importer = {
        let (c, stop, failures) = (c.clone(), stop.clone(), failures.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let raw = email("rolling", n);
                n += 1;
                let resp = c
                    .admin(Method::POST, "/api/v1/imports")
                    .header("Content-Type", "message/rfc822")
                    .body(raw.clone())
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().is_success() => sent.push(raw),
                    Ok(r) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("import failed: {} {}", r.status(), r.text().await.unwrap_or_default());
                    }
                    Err(e) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("import failed: {e}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sent
        })
    };
    // The OASIS taxii2-client sweeping the collection over and over (no retries either).
    let sweeper = {
        let (url, collection, stop) = (c.url.clone(), collection.clone(), stop.clone());
        tokio::task::spawn_blocking(move || {
            let mut sweeps = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let input = json!({ "url": url, "auth": { "mode": "basic", "user": "admin", "password": ADMIN },
                                    "steps": [{ "scenario": "pages", "collection": collection, "endpoint": "objects",
                                                "per_request": 100, "filters": {} }] });
                let out = crate::oracle::run("taxii_driver.py", &input);
                sweeps.push(out["results"][0].clone());
            }
            sweeps
        })
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in 0..3 {
        let c = c.clone();
        let state = tokio::task::spawn_blocking(move || c.run("restart", n)).await.expect("restart");
        assert_eq!(state["instances"][n]["starts"], 2, "instance {n} restarted: {state}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = importer.await.expect("importer");
    let sweeps = sweeper.await.expect("sweeper");

    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no import failed during the rolling restart\n{}",
        c.logs()
    );
    assert!(sent.len() > 20, "the importer kept pushing ({} emails)", sent.len());
    let by_hash = imports_by_hash(&c).await;
    for raw in &sent {
        assert_eq!(by_hash.get(&sha256(raw)), Some(&1), "every email imported once");
    }
    assert!(sweeps.len() >= 2, "the sweeper kept sweeping ({} sweeps)", sweeps.len());
    for s in &sweeps {
        assert!(
            s.get("error").is_none(),
            "a taxii2-client sweep failed during the rolling restart: {s}\n{}",
            c.logs()
        );
        let ids: Vec<String> = s["envelopes"]
            .as_array()
            .expect("envelopes")
            .iter()
            .flat_map(|e| e["objects"].as_array().cloned().unwrap_or_default())
            .map(|o| o["id"].as_str().expect("id").to_string())
            .collect();
        let unique: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!((unique.len(), &unique), (ids.len(), &posted), "every object once per sweep");
    }
}
