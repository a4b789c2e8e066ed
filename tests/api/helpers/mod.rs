//! The `TestApp` harness: the same app as `harpoon serve`, on port 0, with a fresh database per
//! test. `TEST_DATABASE_URL=postgres://…` switches every test to PostgreSQL with a schema of its
//! own; otherwise each test gets a SQLite file in a temporary directory.
//!
//! Every instance is started by one builder, [`TestAppBuilder`]: `TestApp::builder()` then the
//! settings a test needs (`.settings(..)`, or the stand-ins' `.org_domain(..)`, `.dns(..)`,
//! `.splunk(..)`, `.mailbox(..)`), optionally `.sharing(&app)` for a second instance on the same
//! database, then `.spawn()`. `TestApp::spawn()`, `spawn_acme()`, `spawn_with`,
//! `spawn_sharing(_with)` and `spawn_pair` are shortcuts through it. The request helpers are
//! methods on `TestApp`:
//! `rest.rs` (imports, drafts, commits, indicators, users, tokens, collections, runs),
//! `taxii.rs` (the OASIS taxii2-client driver, polls, strict validation), `ui.rs` (a logged-in
//! browser session).

mod rest;
mod taxii;
pub mod ui;

pub use taxii::{TAXII, assert_strictly_valid};
pub use ui::UiSession;

use harpoon::db::{Backend, DatabaseUrl, Db};
use harpoon::service::accounts;
use harpoon::settings::Settings;
use harpoon::startup::{self, Application, Background};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::fixtures::dovecot::Dovecot;
use crate::fixtures::splunk::Splunk;

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

    /// The same database for a second instance, which does not own it: dropping it leaves the
    /// database alone (`pg_schema: None`).
    fn shared(&self) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        Self { url: self.url.clone(), pg_schema: None, _dir: dir }
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

type Adjust<'a> = Box<dyn FnOnce(&mut Settings) + 'a>;

/// How a [`TestApp`] is started: the settings adjustments (applied in order, after the test
/// defaults) and, for a second instance, the app whose database it shares.
#[must_use = "a builder does nothing until `.spawn()`"]
pub struct TestAppBuilder<'a> {
    adjust: Vec<Adjust<'a>>,
    sharing: Option<&'a TestApp>,
}

impl<'a> TestAppBuilder<'a> {
    /// Adjusts the settings (after the test defaults and the adjustments given before).
    pub fn settings(mut self, adjust: impl FnOnce(&mut Settings) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// The organisation's own mail domain (its addresses are never indicators).
    pub fn org_domain(self, domain: &str) -> Self {
        let domain = domain.to_string();
        self.settings(move |s| s.organisation.domains = vec![domain])
    }

    /// A second TAXII API root `name` (titled `title`) beside `root`.
    pub fn api_root(self, name: &str, title: &str) -> Self {
        let root = harpoon::settings::ApiRootSettings {
            name: name.into(),
            title: title.into(),
            description: String::new(),
        };
        self.settings(move |s| s.taxii.api_roots.push(root))
    }

    /// `nslookup` asks this DNS server (a stand-in on 127.0.0.1).
    pub fn dns(self, server: std::net::SocketAddr) -> Self {
        let resolver = server.to_string();
        self.settings(move |s| s.operations.nslookup.resolver = resolver)
    }

    /// `splunk-search` asks this Splunk stand-in, trusting its CA with its token.
    pub fn splunk(self, splunk: &Splunk) -> Self {
        let (ca, token, url) = (splunk.ca_file.clone(), splunk.token_file.clone(), splunk.url());
        self.settings(move |s| {
            s.operations.splunk.url = url;
            s.security.ca_dir = ca.parent().map(|d| d.to_path_buf());
            s.operations.splunk.ca_file = Some(ca);
            s.operations.splunk.token_file = Some(token);
        })
    }

    /// Connectors trust the Dovecot stand-in's CA directory and poll, time out and back off fast.
    pub fn mailbox(self, dovecot: &Dovecot) -> Self {
        let ca_dir = dovecot.ca_dir();
        self.settings(move |s| {
            s.security.ca_dir = Some(ca_dir);
            s.connectors.poll_interval_secs = 1;
            s.connectors.timeout_secs = 5;
            s.connectors.backoff_initial_ms = 100;
            s.connectors.backoff_max_secs = 1;
        })
    }

    /// A second instance on `app`'s database (same cursor key, same users and collections): what
    /// two `harpoon serve` processes behind a load balancer are. The returned app does not own
    /// the database; drop it before `app`.
    pub fn sharing(mut self, app: &'a TestApp) -> Self {
        self.sharing = Some(app);
        self
    }

    pub async fn spawn(self) -> TestApp {
        // Server-side errors in a failing test's output (`cargo test` captures it otherwise).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("warn,harpoon=warn"))
            .with_test_writer()
            .try_init();
        let test_db = match self.sharing {
            Some(app) => app._test_db.shared(),
            None => TestDb::fresh(),
        };
        let mut settings = test_settings(&test_db.url, test_db._dir.path());
        for adjust in self.adjust {
            adjust(&mut settings);
        }
        let (db, settings) = open(settings).await;
        start(db, settings, test_db)
    }
}

/// Opens (and migrates) the database and bootstraps the admin, on the blocking pool.
async fn open(settings: Settings) -> (Db, Settings) {
    tokio::task::spawn_blocking(move || {
        let db = startup::open_database(&settings).expect("database opens and migrates");
        accounts::bootstrap_admin(&db, Some(ADMIN_PASSWORD.into())).expect("admin bootstrap");
        (db, settings)
    })
    .await
    .expect("setup task")
}

/// Binds the server, runs it in the background and gives it a client.
fn start(db: Db, settings: Settings, test_db: TestDb) -> TestApp {
    let app = Application::build(settings, db.clone()).expect("server binds");
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
    TestApp { url, client, db, background, server, _test_db: test_db }
}

impl TestApp {
    pub fn builder<'a>() -> TestAppBuilder<'a> {
        TestAppBuilder { adjust: Vec::new(), sharing: None }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// ACME Corp's app: `acme-corp.com` is the organisation's own domain (the seed phish's
    /// recipients and reporters are there).
    pub async fn spawn_acme() -> Self {
        Self::builder().org_domain(crate::fixtures::phish::ORG_DOMAIN).spawn().await
    }

    /// Spawns with settings adjusted by `adjust` (after the test defaults are applied).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        Self::builder().settings(adjust).spawn().await
    }

    /// A second instance on this app's database; see [`TestAppBuilder::sharing`].
    pub async fn spawn_sharing(&self) -> TestApp {
        Self::builder().sharing(self).spawn().await
    }

    /// [`Self::spawn_sharing`] with settings adjusted by `adjust`.
    pub async fn spawn_sharing_with(&self, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        Self::builder().sharing(self).settings(adjust).spawn().await
    }

    /// Two instances started at the same moment on one fresh database: they race the
    /// migrations, the admin bootstrap and the creation of the shared cursor key. The first
    /// owns the database; drop the second before it.
    pub async fn spawn_pair() -> (TestApp, TestApp) {
        let test_db = TestDb::fresh();
        let second = test_db.shared();
        let (a, b) = tokio::join!(
            open(test_settings(&test_db.url, test_db._dir.path())),
            open(test_settings(&second.url, second._dir.path()))
        );
        let b = start(b.0, b.1, second);
        let a = start(a.0, a.1, test_db);
        (a, b)
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
}

/// Status and JSON body of a response.
pub async fn status_json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
