//! `harpoon backup` under write load, `harpoon restore` into a fresh database: every import (raw
//! email bytes included), event and STIX object of the backup comes back byte-identical; a
//! quiescent backup equals its source; neither command ever overwrites anything.

use std::sync::atomic::{AtomicBool, Ordering};

use diesel::{Connection, RunQueryDsl};
use harpoon::db::{DatabaseUrl, Db, PoolOptions};
use reqwest::StatusCode;
use serde_json::json;

use crate::fixtures::phish::phish;
use crate::helpers::TestApp;

type Digests = std::collections::BTreeMap<&'static str, std::collections::BTreeMap<i64, String>>;

async fn digests(url: &str) -> Digests {
    let db = Db::connect(&DatabaseUrl::parse(url).unwrap(), &PoolOptions::default()).unwrap();
    db.run(harpoon::db::backup::digests).await.unwrap()
}

/// A new, empty database of the test's backend for a restore; PostgreSQL databases are dropped
/// by the guard.
struct Target {
    url: String,
    pg: Option<(String, String)>,
}

impl Target {
    fn new(app: &TestApp, dir: &std::path::Path, n: usize) -> Self {
        let source = app.database_url();
        if !source.starts_with("postgres") {
            return Self {
                url: format!("sqlite://{}", dir.join(format!("restored-{n}.db")).display()),
                pg: None,
            };
        }
        // The source is a schema of the test database (`…?options=-c search_path=SCHEMA`): the
        // restore gets a database of its own, holding that schema.
        let (base, options) = source.split_once('?').unwrap();
        let name = format!("restore_{}", uuid::Uuid::new_v4().simple());
        let mut admin = diesel::PgConnection::establish(base).unwrap();
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).unwrap();
        let server = base.rsplit_once('/').unwrap().0;
        Self { url: format!("{server}/{name}?{options}"), pg: Some((base.to_string(), name)) }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some((base, name)) = &self.pg
            && let Ok(mut admin) = diesel::PgConnection::establish(base)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

fn cli(dir: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    crate::cli::harpoon(dir, url).args(args).output().unwrap()
}

#[tokio::test]
async fn a_backup_under_write_load_restores_byte_identical() {
    let app = TestApp::spawn_acme().await;
    for i in 0..3 {
        let id = app.import_id(&phish(&format!("u{i}@acme-corp.com"), &format!("<pre{i}@x>"))).await;
        let (s, c) = app.commit(id, json!({ "title": format!("before the backup {i}") })).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("under-load.backup");
    let stop = AtomicBool::new(false);
    // Write load (imports, each a new email) while the backup runs.
    let load = async {
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            app.import_id(&phish(&format!("load{n}@acme-corp.com"), &format!("<load{n}@x>"))).await;
            n += 1;
        }
        n
    };
    let backup = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let (d, url, f) = (dir.path().to_path_buf(), app.database_url(), file.clone());
        let out = tokio::task::spawn_blocking(move || cli(&d, &url, &["backup", f.to_str().unwrap()]))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        out
    };
    let (written, out) = tokio::join!(load, backup);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(written > 0, "no write happened during the backup");

    let target = Target::new(&app, dir.path(), 1);
    let out = cli(dir.path(), &target.url, &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let source = digests(&app.database_url()).await;
    let restored = digests(&target.url).await;
    for (table, rows) in &restored {
        for (key, digest) in rows {
            assert_eq!(source[table].get(key), Some(digest), "{table} {key} differs from its source");
        }
    }
    assert!(!restored["events"].is_empty());
    assert_eq!(
        restored["events"].len(),
        source["events"].len(),
        "every event was committed before the backup"
    );
    assert!(restored["imports"].len() >= 3 && restored["imports"].len() <= source["imports"].len());
    assert!(!restored["stix_objects"].is_empty());

    // Quiet now: a second backup is its source, exactly.
    let quiet = dir.path().join("quiet.backup");
    let out = cli(dir.path(), &app.database_url(), &["backup", quiet.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let target2 = Target::new(&app, dir.path(), 2);
    let out = cli(dir.path(), &target2.url, &["restore", quiet.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(digests(&target2.url).await, digests(&app.database_url()).await);

    // Never over anything: an existing backup file, a database that holds data.
    let out = cli(dir.path(), &app.database_url(), &["backup", quiet.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(dir.path(), &target2.url, &["restore", file.to_str().unwrap()]);
    assert!(!out.status.success(), "a restore over live data");
    assert_eq!(digests(&target2.url).await, digests(&app.database_url()).await, "left untouched");
}
