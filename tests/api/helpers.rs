//! The `TestApp` harness: the same app as `harpoon serve`, on port 0, with a fresh database per
//! test. `TEST_DATABASE_URL=postgres://…` switches every test to PostgreSQL with a schema of its
//! own; otherwise each test gets a SQLite file in a temporary directory.

use harpoon::db::{Backend, DatabaseUrl, Db};
use harpoon::service::accounts;
use harpoon::settings::Settings;
use harpoon::startup::{self, Application, Background};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A database that exists for one test only.
pub struct TestDb {
    pub url: String,
    pg_schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub fn fresh() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(base) if base.starts_with("postgres") => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let url = harpoon::db::testing::create_pg_schema(&base, &schema)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL={base} must be reachable: {e}"));
                Self { url, pg_schema: Some((base, schema)), _dir: dir }
            }
            Some(other) => panic!("TEST_DATABASE_URL must be a postgres:// URL, got {other}"),
            None => {
                let url = format!("sqlite://{}", dir.path().join("harpoon.db").display());
                Self { url, pg_schema: None, _dir: dir }
            }
        }
    }

    /// The backend every test in this run is expected to use.
    pub fn expected_backend() -> Backend {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(u) if !u.is_empty() => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    pub fn connect(&self) -> Db {
        let url = DatabaseUrl::parse(&self.url).expect("test URL parses");
        Db::connect(&url, &harpoon::db::PoolOptions::default()).expect("test database connects")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg_schema.take() {
            // Best effort: a leftover schema only costs disk space in the test database.
            let _ = harpoon::db::testing::drop_pg_schema(&base, &schema);
        }
    }
}

/// The settings every test server starts from: the test's database, a free port, one worker.
/// Tests never ask the system's resolver (no DKIM key lookups unless a test points the resolver
/// at its own DNS server), and a re-imported phish stays a draft unless the test is about the
/// automatic join (`tests/api/verdicts.rs` turns the product's defaults back on).
fn test_settings(url: &str, data_dir: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = Some(url.to_string());
    settings.database.pool_size = 4;
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.workers = 1;
    settings.data_dir = data_dir.to_path_buf();
    settings.triage.verdicts.verify_dkim = false;
    settings.triage.verdicts.auto_join_known_phish = false;
    settings
}

/// A running Harpoon on a free port.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The instance's background tasks (leases, periodic jobs, connectors): `kill()` makes it
    /// look dead to the other instances.
    pub background: Background,
    /// Stops the HTTP server (the subscription tests restart a remote on its port).
    pub server: actix_web::dev::ServerHandle,
    /// Dropped with the app: the test's database disappears with it.
    _test_db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with settings adjusted by `adjust` (after the test defaults are applied).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        // Server-side errors in a failing test's output (`cargo test` captures it otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,harpoon=warn"))
            .with_test_writer()
            .try_init();
        let test_db = TestDb::fresh();
        let mut settings = test_settings(&test_db.url, test_db._dir.path());
        adjust(&mut settings);
        let (db, app) = {
            tokio::task::spawn_blocking(move || {
                let db = startup::open_database(&settings).expect("database opens and migrates");
                accounts::bootstrap_admin(&db, Some(ADMIN_PASSWORD.into())).expect("admin bootstrap");
                (db.clone(), (db, settings))
            })
            .await
            .expect("setup task")
        };
        let app = Application::build(app.1, app.0).expect("server binds");
        let url = app.url();
        let background = app.background();
        let server = app.server_handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Under actix's 5 s keep-alive, so a pooled connection is never one the server
            // has just closed (a test that waits on a Python oracle would see it).
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("client");
        Self { url, client, db, background, server, _test_db: test_db }
    }

    /// The URL of this app's database (for the CLI run against it).
    pub fn database_url(&self) -> String {
        self._test_db.url.clone()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{}", self.url, path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn as_admin(&self, rb: RequestBuilder) -> RequestBuilder {
        rb.basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// Creates a user through the REST API as the admin; returns its password.
    pub async fn add_user(&self, name: &str, role: &str) -> String {
        let password = format!("{name}-password-123");
        let resp = self
            .as_admin(self.post("/api/v1/users"))
            .json(&serde_json::json!({ "username": name, "role": role, "password": password }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), StatusCode::CREATED, "{}", resp.text().await.unwrap_or_default());
        password
    }

    /// Issues an API token for `name` (authenticating as that user with `password`).
    pub async fn token_for(&self, name: &str, password: &str) -> (i64, String) {
        let body = self
            .post("/api/v1/tokens")
            .basic_auth(name, Some(password))
            .json(&serde_json::json!({ "label": "test" }))
            .send()
            .await
            .expect("request");
        assert_eq!(body.status(), StatusCode::CREATED);
        let v: Value = body.json().await.expect("json");
        (v["id"].as_i64().expect("id"), v["token"].as_str().expect("token").to_string())
    }
}

/// Status and JSON body of a response.
pub async fn status_json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Helpers added for the TAXII client tests (`taxii_client.rs`).
impl TestApp {
    /// A second server instance on this app's database (same cursor key, same users and
    /// collections): what two `harpoon serve` processes behind a load balancer are. The returned
    /// app does not own the database; drop it before `self`.
    pub async fn spawn_sharing(&self) -> TestApp {
        self.spawn_sharing_with(|_| {}).await
    }

    /// [`Self::spawn_sharing`] with settings adjusted by `adjust`.
    pub async fn spawn_sharing_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let url = self._test_db.url.clone();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(&url, dir.path());
        adjust(&mut settings);
        let (db, settings) = tokio::task::spawn_blocking(move || {
            let db = startup::open_database(&settings).expect("database opens and migrates");
            accounts::bootstrap_admin(&db, Some(ADMIN_PASSWORD.into())).expect("admin bootstrap");
            (db, settings)
        })
        .await
        .expect("setup task");
        let app = Application::build(settings, db.clone()).expect("server binds");
        let server_url = app.url();
        let background = app.background();
        let server = app.server_handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Under actix's 5 s keep-alive, so a pooled connection is never one the server
            // has just closed (a test that waits on a Python oracle would see it).
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .expect("client");
        // Not the owner: `pg_schema: None` so dropping it leaves the shared database alone.
        let test_db = TestDb { url, pg_schema: None, _dir: dir };
        TestApp { url: server_url, client, db, background, server, _test_db: test_db }
    }

    /// Two instances started at the same moment on one fresh database: they race the
    /// migrations, the admin bootstrap and the creation of the shared cursor key. The first
    /// owns the database; drop the second before it.
    pub async fn spawn_pair() -> (TestApp, TestApp) {
        let test_db = TestDb::fresh();
        let other_dir = tempfile::tempdir().expect("temp dir");
        let settings_for = |dir: &std::path::Path| test_settings(&test_db.url, dir);
        let open = |settings: Settings| {
            tokio::task::spawn_blocking(move || {
                let db = startup::open_database(&settings).expect("database opens and migrates");
                accounts::bootstrap_admin(&db, Some(ADMIN_PASSWORD.into())).expect("admin bootstrap");
                (db, settings)
            })
        };
        let (a, b) =
            tokio::join!(open(settings_for(test_db._dir.path())), open(settings_for(other_dir.path())));
        let (a, b) = (a.expect("setup task"), b.expect("setup task"));
        let client = || {
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
        };
        let start = |(db, settings): (Db, Settings)| {
            let app = Application::build(settings, db.clone()).expect("server binds");
            let url = app.url();
            let background = app.background();
            let server = app.server_handle();
            tokio::spawn(app.run_until_stopped());
            (db, url, background, server)
        };
        let (db_b, url_b, bg_b, srv_b) = start(b);
        let (db_a, url_a, bg_a, srv_a) = start(a);
        let second = TestDb { url: test_db.url.clone(), pg_schema: None, _dir: other_dir };
        (
            TestApp {
                url: url_a,
                client: client(),
                db: db_a,
                background: bg_a,
                server: srv_a,
                _test_db: test_db,
            },
            TestApp {
                url: url_b,
                client: client(),
                db: db_b,
                background: bg_b,
                server: srv_b,
                _test_db: second,
            },
        )
    }

    /// Creates a stored TAXII collection in the `root` API root with read and write grants;
    /// returns its id.
    pub async fn add_collection(
        &self,
        title: &str,
        readers: &[&str],
        writers: &[&str],
        public_read: bool,
    ) -> String {
        let spec = harpoon::service::collections::CollectionSpec {
            title: title.to_string(),
            readers: readers.iter().map(|s| s.to_string()).collect(),
            writers: writers.iter().map(|s| s.to_string()).collect(),
            public_read,
            ..Default::default()
        };
        let row = self
            .db
            .run(move |conn| {
                Ok::<_, harpoon::db::DbError>(harpoon::service::collections::create(conn, &spec))
            })
            .await
            .expect("database reachable")
            .expect("collection created");
        row.id
    }
}
