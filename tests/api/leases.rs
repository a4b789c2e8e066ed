//! Leases (ARCHITECTURE.md, "Leases"): several instances on one database, one of them stops
//! (`background.kill()`: its heartbeat, sweep, periodic loops and connectors stop, nothing is
//! released, as in a crash) or is simulated dead (a lease row held by an instance that does not
//! exist, already expired); another takes its work over within the lease time. Also: the
//! bounded run queue, capped script timeouts, `killpg` of a script's whole group, `/readyz`.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use harpoon::db::{leases, now_micros};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fixtures::phish::{PHISH_URL, phish};
use crate::helpers::{TestApp, status_json};

/// Short leases so that a take-over happens within a few seconds.
fn short_leases(s: &mut harpoon::settings::Settings) {
    s.cluster.lease_secs = 1;
    s.cluster.sweep_secs = 1;
    s.triage.intake_interval_secs = 1;
    s.organisation.domains = vec!["acme-corp.com".into()];
}

const DEAD: &str = "dead-host-1-00000000";

/// A lease held by an instance that stopped a minute ago.
async fn dead_lease(app: &TestApp, name: &str) {
    let name = name.to_string();
    let taken = app
        .db
        .run(move |conn| leases::acquire(conn, &name, DEAD, now_micros(), now_micros() - 60_000_000))
        .await
        .unwrap();
    assert!(taken, "the test's lease row is stored");
}

async fn lease(app: &TestApp, name: &str) -> Option<leases::LeaseRow> {
    let name = name.to_string();
    app.db.run(move |conn| leases::get(conn, &name)).await.unwrap()
}

/// Polls `check` every 100 ms until it gives a value, for at most `secs`.
async fn within<T, F: std::future::Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {secs} s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An Active-able URL indicator (imported and committed through REST): its id.
async fn url_indicator(app: &TestApp) -> i64 {
    let id = app.import_id(&phish("bob@acme-corp.com", "leases")).await;
    let (status, body) = app.commit(id, json!({})).await;
    assert!(status.is_success(), "{body}");
    app.indicator("url", PHISH_URL).await["id"].as_i64().unwrap()
}

fn write_script(dir: &std::path::Path, name: &str, body: &str, timeout: Value) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let manifest = json!({ "version": 1, "name": name, "description": format!("test script {name}"),
                           "applies_to": ["url", "domain", "ipv4"], "timeout_secs": timeout });
    std::fs::write(dir.join(format!("{name}.json")), manifest.to_string()).unwrap();
}

/// A scripts directory with `slow` (30 s, without output) and `quick` (answers at once).
fn scripts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_script(dir.path(), "slow", "#!/bin/sh\ncat > /dev/null\nsleep 30\n", json!(60));
    write_script(
        dir.path(),
        "quick",
        "#!/bin/sh\ncat > /dev/null\necho '{\"version\":1,\"notes\":[\"quick\"]}'\n",
        json!(10),
    );
    dir
}

#[tokio::test]
async fn a_run_left_running_by_a_dead_instance_is_interrupted_and_a_queued_one_is_run_elsewhere() {
    let dir = scripts();
    let ops = dir.path().to_path_buf();
    let with_scripts = move |s: &mut harpoon::settings::Settings| {
        short_leases(s);
        s.operations.scripts.dir = Some(ops.clone());
    };
    let a = TestApp::spawn_with(with_scripts.clone()).await;
    let b = a.spawn_sharing_with(with_scripts).await;
    let url = url_indicator(&a).await;

    // A runs a slow script, then dies.
    let (status, run) = a.start_run(url, "slow", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    within(10, "the run is running", || async { (a.run(id).await["status"] == "running").then_some(()) })
        .await;
    let held = lease(&a, &format!("run:{id}")).await.expect("the run is leased");
    assert_eq!(held.holder, a.background.holder());
    a.background.kill();

    // B closes it: interrupted, with the reason, within the lease time and a sweep.
    let started = Instant::now();
    let run = within(10, "the run is interrupted", || async {
        let r = b.run(id).await;
        (r["status"] == "interrupted").then_some(r)
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(5), "taken over after {:?}", started.elapsed());
    assert_eq!(run["error"], "the instance running it stopped", "{run}");
    assert!(run["finished_at"].is_string(), "{run}");
    within(5, "the run's lease is released", || async {
        lease(&b, &format!("run:{id}")).await.is_none().then_some(())
    })
    .await;

    // A queued run whose holder died is run by B (here: never leased at all, from before leases).
    let queued =
        b.db.run(move |conn| {
            harpoon::db::operations::insert_run(
                conn,
                &harpoon::db::operations::NewRun {
                    operation: "quick",
                    indicator_id: url,
                    status: harpoon::db::operations::RunStatus::Queued,
                    started_by: "admin",
                    parameters: "{}",
                    created_at: now_micros() - 60_000_000,
                },
            )
        })
        .await
        .unwrap();
    let run = within(10, "the queued run is run", || async {
        let r = b.run(queued.id).await;
        (r["status"] == "succeeded").then_some(r)
    })
    .await;
    assert!(run["output"].to_string().contains("quick"), "{run}");
}

#[tokio::test]
async fn a_pending_taxii_ingest_of_a_dead_instance_is_finished_by_another() {
    // What a dead instance left, before the live one starts: an upload accepted (objects
    // pending), leased to the dead instance, never stored.
    let test_db = crate::helpers::TestDb::fresh();
    let db = test_db.connect();
    db.migrate().unwrap();
    let collection = db
        .run(|conn| {
            harpoon::service::accounts::bootstrap_admin_conn(conn, crate::helpers::ADMIN_PASSWORD)?;
            Ok::<_, harpoon::db::DbError>(harpoon::service::collections::create(
                conn,
                &harpoon::service::collections::CollectionSpec {
                    title: "Inbound".into(),
                    alias: Some("inbound".into()),
                    ..Default::default()
                },
            ))
        })
        .await
        .unwrap()
        .unwrap()
        .id;
    let raws: Vec<String> = (0..30)
        .map(|i| {
            format!(
                "{{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--00000000-0000-4000-8000-{i:012}\",\
                 \"created\":\"2026-03-02T09:14:07.120Z\",\"modified\":\"2026-03-02T09:14:07.120Z\",\
                 \"pattern\":\"[domain-name:value = 'a{i}.example']\",\"pattern_type\":\"stix\",\
                 \"valid_from\":\"2026-03-02T09:14:07Z\"}}"
            )
        })
        .collect();
    let validator = harpoon::stix::schema::StixValidator::new().unwrap();
    let refs: Vec<&str> = raws.iter().map(String::as_str).collect();
    let prepared = harpoon::service::ingest::prepare_all(&validator, &refs);
    let request = harpoon::service::ingest::Request {
        collection_id: collection.clone(),
        user_id: None,
        now: now_micros() - 60_000_000,
        retention_micros: 86_400_000_000,
        background_threshold: 0,
    };
    let accepted =
        db.run(move |conn| harpoon::service::ingest::accept(conn, &request, prepared)).await.unwrap();
    let harpoon::service::ingest::Accepted::Background(status_id) = accepted else {
        panic!("background: {accepted:?}")
    };
    let name = format!("taxii-ingest:{status_id}");
    let n = name.clone();
    let leased = db
        .run(move |conn| leases::acquire(conn, &n, DEAD, now_micros(), now_micros() - 60_000_000))
        .await
        .unwrap();
    assert!(leased);

    let url = test_db.url.clone();
    let app = TestApp::spawn_with(move |s| {
        short_leases(s);
        s.database.url = Some(url);
    })
    .await;
    let sid = status_id.clone();
    within(10, "the upload is finished", || {
        let (db, sid) = (app.db.clone(), sid.clone());
        async move {
            let (row, details) =
                db.run(move |conn| harpoon::db::status::get(conn, &sid, 0)).await.unwrap()?;
            (row.status == "complete").then_some(details)
        }
    })
    .await;
    let unfinished = app.db.run(harpoon::db::status::unfinished).await.unwrap();
    assert!(unfinished.is_empty(), "{unfinished:?}");
    within(5, "the lease is released", || async { lease(&app, &name).await.is_none().then_some(()) }).await;
    // Every object is in the collection, once.
    let (status, body) = status_json(
        app.as_admin(app.taxii_get(&format!("/taxii2/root/collections/{collection}/objects/?limit=1000")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["objects"].as_array().map(Vec::len), Some(30), "{body}");
    drop(test_db);
}

#[tokio::test]
async fn a_ui_import_job_of_a_dead_instance_is_closed_with_the_reason() {
    let app = TestApp::spawn_with(short_leases).await;
    let job = app
        .db
        .run(|conn| {
            // One transaction: the live instance's sweep never sees it half made.
            harpoon::db::write_tx(conn, |conn| {
                let admin = harpoon::db::users::by_name(conn, "admin")?.unwrap();
                let job = harpoon::db::jobs::insert(conn, admin.id, "import", 20, now_micros() - 60_000_000)?;
                harpoon::db::jobs::update(conn, job.id, (5, 0), r#"{"imported":[],"failed":[]}"#, None)?;
                let name = format!("ui-job:{}", job.id);
                assert!(leases::acquire(conn, &name, DEAD, now_micros(), now_micros() - 60_000_000)?);
                Ok::<_, harpoon::db::DbError>(job)
            })
        })
        .await
        .unwrap();
    let closed = within(10, "the job is closed", || {
        let db = app.db.clone();
        async move {
            let j = db.run(move |conn| harpoon::db::jobs::get(conn, job.id)).await.unwrap()?;
            j.finished_at.is_some().then_some(j)
        }
    })
    .await;
    assert!(closed.result.contains("(interrupted)"), "{}", closed.result);
    assert!(closed.result.contains("15 of 20 messages were not imported"), "{}", closed.result);
    assert_eq!(closed.failed, 1);
}

#[tokio::test]
async fn a_periodic_job_has_one_owner_and_moves_when_it_dies() {
    let a = TestApp::spawn_with(short_leases).await;
    let b = a.spawn_sharing_with(short_leases).await;
    let holders = [a.background.holder(), b.background.holder()];
    assert_ne!(holders[0], holders[1]);
    let owner =
        within(10, "someone owns the intake", || async { lease(&a, "job:intake").await.map(|l| l.holder) })
            .await;
    assert!(holders.contains(&owner), "{owner} is one of {holders:?}");
    // It stays with its owner while the owner lives (renewed, never stolen).
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(lease(&a, "job:intake").await.map(|l| l.holder).as_deref(), Some(owner.as_str()));
    }
    let (dead, alive) = if owner == holders[0] { (&a, &b) } else { (&b, &a) };
    dead.background.kill();
    let started = Instant::now();
    let new_owner = within(10, "the intake moves", || async {
        lease(alive, "job:intake").await.map(|l| l.holder).filter(|h| *h != owner)
    })
    .await;
    assert_eq!(new_owner, alive.background.holder());
    assert!(started.elapsed() < Duration::from_secs(5), "moved after {:?}", started.elapsed());
    // Graceful stop: every lease released at once.
    alive.background.stop().await;
    let held = alive.db.run(|conn| leases::with_prefix(conn, "")).await.unwrap();
    assert!(held.iter().all(|l| l.holder != new_owner), "{held:?}");
}

/// Of many instances taking over one expired lease at once, exactly one wins.
#[tokio::test]
async fn a_take_over_is_exactly_once() {
    let app = TestApp::spawn_with(short_leases).await;
    for round in 0..5 {
        let name = format!("test:{round}");
        dead_lease(&app, &name).await;
        let tries: Vec<_> = (0..8)
            .map(|i| {
                let (db, name) = (app.db.clone(), name.clone());
                tokio::spawn(async move {
                    db.run(move |conn| {
                        leases::take_over(
                            conn,
                            &name,
                            DEAD,
                            &format!("taker-{i}"),
                            now_micros(),
                            now_micros() + 60_000_000,
                        )
                    })
                    .await
                })
            })
            .collect();
        let mut won = 0;
        for t in tries {
            if t.await.unwrap().unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "round {round}");
        assert!(lease(&app, &name).await.unwrap().holder.starts_with("taker-"));
        // A live lease is not taken, not even by a take-over naming its holder.
        let n = name.clone();
        let holder = lease(&app, &name).await.unwrap().holder;
        let stolen = app
            .db
            .run(move |conn| leases::acquire(conn, &n, "someone-else", now_micros(), now_micros() + 1))
            .await
            .unwrap();
        assert!(!stolen);
        assert_eq!(lease(&app, &name).await.unwrap().holder, holder);
    }
}

#[tokio::test]
async fn the_run_queue_is_bounded() {
    let dir = scripts();
    let ops = dir.path().to_path_buf();
    let app = TestApp::spawn_with(move |s| {
        short_leases(s);
        s.operations.scripts.dir = Some(ops);
        s.operations.max_queued_runs = 2;
    })
    .await;
    let url = url_indicator(&app).await;
    for _ in 0..2 {
        let (status, run) = app.start_run(url, "slow", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    }
    let (status, body) = app.start_run(url, "quick", json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.to_string().contains("run queue is full"), "{body}");
    // The UI says so too, on the page the indicator's script shows by the button.
    let (_, session) = app.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    let resp = session.unwrap().post(&app, &format!("/ui/indicators/{url}/operations/quick"), &[]).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    let page = resp.text().await.unwrap();
    assert!(page.contains("<p class=\"error\">the run queue is full (2 runs queued or running)"), "{page}");
}

#[tokio::test]
async fn a_huge_manifest_timeout_is_capped_and_the_server_starts() {
    let dir = tempfile::tempdir().unwrap();
    write_script(dir.path(), "forever", "#!/bin/sh\ncat > /dev/null\nsleep 30\n", json!(u64::MAX));
    let ops = dir.path().to_path_buf();
    let app = TestApp::spawn_with(move |s| {
        short_leases(s);
        s.operations.scripts.dir = Some(ops);
        s.operations.max_timeout_secs = 1;
    })
    .await;
    let url = url_indicator(&app).await;
    let (status, run) = app.start_run(url, "forever", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_i64().unwrap();
    let run = within(15, "the run times out", || async {
        let r = app.run(id).await;
        (r["status"] == "timed_out").then_some(r)
    })
    .await;
    assert!(run["error"].as_str().unwrap().contains("1 s timeout"), "{run}");
}

/// A script that ends normally but leaves a grandchild (its output detached, so nothing waits
/// for it): the grandchild dies with the group, killed before the script was reaped.
#[tokio::test]
async fn a_scripts_leftover_children_die_with_its_group() {
    let dir = tempfile::tempdir().unwrap();
    write_script(
        dir.path(),
        "leaver",
        "#!/bin/sh\ncat > /dev/null\nsleep 300 </dev/null >/dev/null 2>&1 &\necho $! > leaver.pid\necho '{\"version\":1,\"notes\":[\"left\"]}'\n",
        json!(10),
    );
    let ops = dir.path().to_path_buf();
    let app = TestApp::spawn_with(move |s| {
        short_leases(s);
        s.operations.scripts.dir = Some(ops);
    })
    .await;
    let url = url_indicator(&app).await;
    let (_, run) = app.start_run(url, "leaver", json!({})).await;
    let id = run["id"].as_i64().unwrap();
    let run = within(10, "the run ends", || async {
        let r = app.run(id).await;
        (!matches!(r["status"].as_str(), Some("queued" | "running"))).then_some(r)
    })
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let pid = std::fs::read_to_string(dir.path().join("leaver.pid")).unwrap().trim().to_string();
    within(5, "the grandchild is dead", || {
        let pid = pid.clone();
        async move {
            let alive = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z'))
            });
            (!alive).then_some(())
        }
    })
    .await;
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    status_json(app.get("/readyz").send().await.unwrap()).await
}

#[tokio::test]
async fn readyz_says_ready_and_names_what_fails() {
    let app = TestApp::spawn_with(short_leases).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "draining": "ok"}})
    );

    // Migrations not current (their record gone): 503 naming the check.
    app.db
        .run(|conn| {
            Ok::<_, harpoon::db::DbError>(conn.batch_execute("DROP TABLE __diesel_schema_migrations")?)
        })
        .await
        .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["checks"]["migrations"].as_str().unwrap().contains("not applied"), "{body}");

    // Draining (stopping): 503 naming it, while /healthz still answers.
    let other = TestApp::spawn_with(short_leases).await;
    other.background.stop().await;
    let (status, body) = readyz(&other).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["draining"], "draining", "{body}");
    assert_eq!(other.get("/healthz").send().await.unwrap().status(), StatusCode::OK);
}

/// The database gone under a running app (PostgreSQL: the test's schema dropped): 503 naming
/// the database. (SQLite: a file whose connections are open stays readable to them; the
/// migrations check above is what a SQLite instance can fail.)
#[tokio::test]
async fn readyz_is_503_when_the_database_is_gone() {
    let app = TestApp::spawn_with(short_leases).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    if crate::helpers::TestDb::expected_backend() != harpoon::db::Backend::Postgres {
        return;
    }
    app.db
        .run(|conn| {
            Ok::<_, harpoon::db::DbError>(conn.batch_execute(
                "DO $$ BEGIN EXECUTE 'DROP SCHEMA ' || quote_ident(current_schema()) || ' CASCADE'; END $$",
            )?)
        })
        .await
        .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_ne!(body["checks"]["database"], "ok", "{body}");
}
