//! Building and running the server. [`build_app`] is the one `App` both `harpoon serve` and the
//! integration tests run; [`Application`] binds it (port 0 in tests) with optional TLS.
//! `anyhow` is allowed here: startup errors end the process with one clear line.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, NormalizePath, TrailingSlash};
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::connectors::Supervisor;
use crate::connectors::secret::SealKey;
use crate::db::{DatabaseUrl, Db, PoolOptions};
use crate::extract::ObservableKind;
use crate::http::Draining;
use crate::http::browser::Proxies;
use crate::service::ServiceContext;
use crate::service::auth::{Authenticator, CacheOptions};
use crate::service::imports::pipeline::Importer;
use crate::service::indicators::Policy;
use crate::service::leases::Leases;
use crate::service::operations::Registry;
use crate::service::publish::{Publisher, TlpVersion};
use crate::service::verdict::VerdictConfig;
use crate::service::verdict::auth::DkimVerifier;
use crate::settings::Settings;
use crate::stix::parse_tlp;
use crate::stix::schema::StixValidator;
use crate::taxii::TaxiiState;
use crate::taxii::cursor::CursorKey;

/// The whole configuration checked: the settings' own rules, then each component's (mailbox
/// connectors and subscriptions check their own sections).
pub fn validate(settings: &Settings) -> Result<(), crate::settings::SettingsError> {
    use crate::settings::SettingsError;
    settings.validate()?;
    let rules = settings.secret_rules();
    crate::connectors::validate_config(&settings.connectors.mailboxes, &rules)
        .map_err(SettingsError::Invalid)?;
    crate::subscriptions::validate_config(&settings.subscriptions.feeds, &rules)
        .map_err(SettingsError::Invalid)?;
    Ok(())
}
/// Everything a request handler may need, shared by all workers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub auth: web::Data<Authenticator>,
    pub taxii: web::Data<TaxiiState>,
    pub triage: web::Data<ServiceContext>,
    /// The import use case with its concurrency limit (every edge imports through it).
    pub importer: web::Data<Importer>,
    pub connectors: web::Data<Supervisor>,
    /// The remote feeds this instance polls.
    pub subscriptions: web::Data<crate::subscriptions::Supervisor>,
    pub operations: web::Data<Registry>,
    pub proxies: web::Data<Proxies>,
    /// This instance's side of the leases (design.md §8).
    pub leases: web::Data<Leases>,
    /// Whether this instance is stopping (`/readyz` says so).
    pub draining: web::Data<Draining>,
}

impl AppState {
    /// Builds the shared state: loads (or creates) the server-wide keys from the database and
    /// compiles the STIX schemas once.
    pub fn new(db: Db, settings: Settings) -> anyhow::Result<Self> {
        let auth = Authenticator::new(
            db.clone(),
            CacheOptions {
                ttl: Duration::from_secs(settings.auth.password_cache_ttl_secs),
                capacity: settings.auth.password_cache_capacity,
            },
        );
        let mut conn = db.conn()?;
        let key_hex = crate::db::secrets::get_or_create(&mut conn, "taxii-cursor-key", || {
            let mut key = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            hex::encode(key)
        })?;
        let seal_key = SealKey::load(&mut conn)?;
        drop(conn);
        let cursor_key = CursorKey::from_hex(&key_hex).context("the stored TAXII cursor key is corrupt")?;
        let proxies = Proxies::parse(&settings.server.trusted_proxies, settings.server.tls_cert.is_some())
            .map_err(|e| anyhow::anyhow!("server.{e}"))?;
        let triage = triage_context(&db, &settings)?;
        let validator = Arc::new(StixValidator::new().context("the embedded STIX schemas do not compile")?);
        let triage = web::Data::new(triage);
        let leases = Leases::new(db.clone(), &settings.cluster);
        let importer = Importer::new(db.clone(), triage.clone().into_inner(), &settings.imports);
        let connectors = Supervisor::new(
            db.clone(),
            importer.clone(),
            &settings.connectors,
            settings.secret_rules(),
            seal_key.clone(),
            leases.clone(),
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let subscriptions = crate::subscriptions::Supervisor::new(
            crate::subscriptions::Services {
                db: db.clone(),
                ctx: triage.clone().into_inner(),
                validator: validator.clone(),
                key: seal_key,
                leases: leases.clone(),
            },
            &settings.subscriptions,
            settings.operations.http.clone(),
            settings.secret_rules(),
            settings.triage.default_tlp.clone(),
        )
        .map_err(|e| anyhow::anyhow!("subscriptions: {e}"))?;
        let operations = Registry::new(
            db.clone(),
            triage.clone().into_inner(),
            &settings.operations,
            &settings.secret_rules(),
            leases.clone(),
        )
        .map_err(|e| anyhow::anyhow!("operations: {e}"))?;
        Ok(Self {
            db,
            operations: web::Data::new(operations),
            settings: Arc::new(settings),
            auth: web::Data::new(auth),
            taxii: web::Data::new(TaxiiState { validator, cursor_key, served: Arc::default() }),
            triage,
            importer: web::Data::new(importer),
            connectors: web::Data::new(connectors),
            subscriptions: web::Data::new(subscriptions),
            proxies: web::Data::new(proxies),
            leases: web::Data::new(leases),
            draining: web::Data::default(),
        })
    }
}

/// Builds the triage context: the expiry policy from the settings, the shipped whitelist rules,
/// and the publisher (the `active-indicators` collection and our identity, created if missing).
pub fn triage_context(db: &Db, settings: &Settings) -> anyhow::Result<ServiceContext> {
    let t = &settings.triage;
    let mut expiry_days = std::collections::HashMap::new();
    for (kind, days) in &t.expiry_days {
        let k = ObservableKind::from_name(kind)
            .with_context(|| format!("triage.expiry_days: unknown indicator type '{kind}'"))?;
        expiry_days.insert(k, *days);
    }
    anyhow::ensure!(t.default_score <= 100, "triage.default_score must be 0-100");
    let default_tlp = parse_tlp(&t.default_tlp).map_err(|e| anyhow::anyhow!("triage.default_tlp: {e}"))?;
    let tlp_version = match t.tlp_version {
        1 => TlpVersion::V1,
        2 => TlpVersion::V2,
        other => anyhow::bail!("triage.tlp_version must be 1 or 2, not {other}"),
    };
    let mut conn = db.conn()?;
    crate::service::whitelist::ensure_defaults(&mut conn, &settings.organisation.domains)
        .map_err(|e| anyhow::anyhow!("whitelist defaults: {e}"))?;
    let publisher = Publisher::ensure(&mut conn, &settings.organisation.name, tlp_version)
        .map_err(|e| anyhow::anyhow!("active-indicators collection: {e}"))?;
    for title in crate::service::collections::dotted_titles(&mut conn).unwrap_or_default() {
        tracing::warn!("collection title '{title}' contains '.', which some TAXII consumers split on");
    }
    let domains: Vec<&str> = settings.organisation.domains.iter().map(String::as_str).collect();
    Ok(ServiceContext {
        publisher,
        policy: Policy {
            expiry_days,
            default_score: t.default_score,
            default_tlp: default_tlp.level().to_string(),
        },
        extract: settings.extract.options(&domains, &[]),
        url_to_fqdn_at_commit: settings.operations.url_to_fqdn_at_commit,
        verdicts: verdict_config(settings)?,
        campaigns: settings.campaigns.enabled,
    })
}

/// The verdict settings checked, with the DKIM verifier over the configured resolver.
fn verdict_config(settings: &Settings) -> anyhow::Result<VerdictConfig> {
    let v = &settings.triage.verdicts;
    let dkim = if v.verify_dkim && v.enabled {
        let ns = &settings.operations.nslookup;
        let server = DkimVerifier::server_of(&ns.resolver)
            .map_err(|e| anyhow::anyhow!("operations.nslookup.resolver: {e}"))?;
        let timeout = std::time::Duration::from_secs(ns.timeout_secs.max(1));
        Some(DkimVerifier::new(server, timeout).map_err(|e| anyhow::anyhow!("triage.verdicts: {e}"))?)
    } else {
        None
    };
    VerdictConfig::new(v, &settings.organisation.domains, dkim).map_err(|e| anyhow::anyhow!(e))
}

/// The application: every route, shared state and the security headers.
pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let headers = DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"));
    App::new()
        .app_data(web::Data::new(state.db.clone()))
        .app_data(web::Data::from(state.settings.clone()))
        .app_data(state.auth.clone())
        .app_data(state.taxii.clone())
        .app_data(state.triage.clone())
        .app_data(state.importer.clone())
        .app_data(state.connectors.clone())
        .app_data(state.subscriptions.clone())
        .app_data(state.operations.clone())
        .app_data(web::Data::new(crate::service::verdict::actions::Verdicts::new(state.db.clone())))
        .app_data(state.proxies.clone())
        .app_data(state.leases.clone())
        .app_data(state.draining.clone())
        .configure(crate::api::routes)
        .configure(crate::taxii::routes)
        .configure(crate::web::routes)
        .wrap(NormalizePath::new(TrailingSlash::Trim))
        .wrap(headers)
        // HSTS whenever the client spoke HTTPS: TLS here, or at a trusted proxy that says so.
        .wrap_fn(|req, srv| {
            let https = crate::http::browser::is_https(req.request());
            let fut = srv.call(req);
            async move {
                let mut res = fut.await?;
                if https {
                    res.headers_mut().insert(
                        actix_web::http::header::STRICT_TRANSPORT_SECURITY,
                        actix_web::http::header::HeaderValue::from_static("max-age=31536000"),
                    );
                }
                Ok(res)
            }
        })
        .wrap(actix_web::middleware::from_fn(observe))
}

/// Outermost: every request gets a request id (the caller's `X-Request-Id` when plain, else a new
/// one), echoed in the response and carried by the request's log span; its route group, status
/// and latency go to `/metrics`; one `harpoon::access` event per request (off unless the log
/// filter asks for it: `HARPOON_LOG=…,harpoon::access=info`).
async fn observe(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let id = crate::metrics::request_id(req.headers().get("x-request-id").and_then(|v| v.to_str().ok()));
    let group = crate::metrics::route_group(req.match_pattern().as_deref());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id);
    async move {
        let mut res = next.call(req).await?;
        let status = res.status().as_u16();
        let elapsed = started.elapsed();
        crate::metrics::global().request(&group, &method, status, elapsed);
        tracing::info!(
            target: "harpoon::access",
            method = %method,
            group = %group,
            status,
            micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            "request"
        );
        if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
            res.headers_mut().insert(actix_web::http::header::HeaderName::from_static("x-request-id"), v);
        }
        Ok(res)
    }
    .instrument(span)
    .await
}

/// Opens the database named by the settings (creating nothing for a bad URL) and migrates it.
pub fn open_database(settings: &Settings) -> anyhow::Result<Db> {
    let url = DatabaseUrl::parse(&settings.database_url())?;
    let db = Db::connect(
        &url,
        &PoolOptions {
            max_size: settings.database.pool_size,
            connect_timeout: Duration::from_secs(settings.database.connect_timeout_secs.max(1)),
            sqlite_busy_timeout: Duration::from_millis(settings.database.sqlite_busy_timeout_ms),
        },
    )?;
    db.migrate()?;
    // Plans after a restart must not depend on what autovacuum happened to do.
    crate::db::analyze(&mut *db.conn()?)?;
    Ok(db)
}

/// A bound, not yet running, server.
pub struct Application {
    server: Server,
    addr: SocketAddr,
    tls: bool,
    background: Background,
}

/// This instance's background tasks: the lease heartbeat and sweep, the periodic loops and the
/// connectors.
#[derive(Clone)]
pub struct Background {
    tasks: Arc<Vec<tokio::task::AbortHandle>>,
    connectors: web::Data<Supervisor>,
    subscriptions: web::Data<crate::subscriptions::Supervisor>,
    leases: web::Data<Leases>,
    draining: web::Data<Draining>,
}

impl Background {
    /// Stops every background task at once, releasing nothing: as far as the other instances
    /// can tell, this instance died (its leases expire and are taken over).
    pub fn kill(&self) {
        self.draining.start();
        for task in self.tasks.iter() {
            task.abort();
        }
        self.connectors.stop_all_silently();
        self.subscriptions.stop_all_silently();
    }

    /// A graceful stop: `/readyz` says draining, background tasks stop, connectors stop, and
    /// every lease is released so that other instances take over at once.
    pub async fn stop(&self) {
        self.draining.start();
        for task in self.tasks.iter() {
            task.abort();
        }
        self.connectors.stop_all();
        self.subscriptions.stop_all();
        self.leases.release_all().await;
    }

    /// This instance's holder id.
    pub fn holder(&self) -> String {
        self.leases.holder().to_string()
    }
}

impl Application {
    /// Binds `settings.server.listen` (port 0 picks a free port) and prepares the server.
    pub fn build(settings: Settings, db: Db) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
        let addr = listener.local_addr()?;
        let tls = match (&settings.server.tls_cert, &settings.server.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
            _ => None,
        };
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(2),
            n => n,
        };
        let state = AppState::new(db.clone(), settings)?;
        let tasks = start_background(&state, db)?;
        let background = Background {
            tasks: Arc::new(tasks),
            connectors: state.connectors.clone(),
            subscriptions: state.subscriptions.clone(),
            leases: state.leases.clone(),
            draining: state.draining.clone(),
        };
        // Blocking work is bounded by the database pool anyway: more blocking threads per worker
        // only add memory (tokio's default allows 512).
        let blocking = usize::try_from(state.settings.database.pool_size).unwrap_or(16).max(4);
        // Signals are `serve`'s (see `termination`): the leases are released before the stop.
        let server = HttpServer::new(move || build_app(state.clone()))
            .disable_signals()
            .workers(workers)
            .worker_max_blocking_threads(blocking)
            // After an early answer to a request whose body is still coming (a push refused as
            // busy), actix reads and drops the rest of the body for this long before closing, so
            // the client reads its 503 instead of a broken pipe; the default 1 s is too short
            // for a 50 MB push on a busy machine.
            .client_disconnect_timeout(std::time::Duration::from_secs(15));
        let is_tls = tls.is_some();
        let server = match tls {
            Some(config) => server.listen_rustls_0_23(listener, config)?,
            None => server.listen(listener)?,
        }
        .run();
        Ok(Self { server, addr, tls: is_tls, background })
    }

    /// What stops this instance's background work (tests stop an instance with it; `serve`
    /// releases the leases with it after a graceful stop).
    pub fn background(&self) -> Background {
        self.background.clone()
    }

    /// Stops accepting connections and finishes the requests in flight (bounded by actix's
    /// shutdown timeout).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL the server answers at.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Resolves at SIGTERM or SIGINT (Ctrl-C).
pub async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The instance's background tasks (leases, periodic jobs, answers to reporters, connectors
/// and subscriptions); their handles, to stop them.
fn start_background(state: &AppState, db: Db) -> anyhow::Result<Vec<tokio::task::AbortHandle>> {
    let leases = state.leases.get_ref().clone();
    let mut tasks = Vec::new();
    let mut spawn = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        tasks.push(tokio::spawn(f).abort_handle());
    };
    // Every lease this instance holds stays its own while it lives (ARCHITECTURE.md, "Leases").
    spawn(Box::pin(leases.clone().heartbeat_loop()));
    // Background work of stopped instances (or of this one's previous run) is taken over:
    // at start and every `cluster.sweep_secs`.
    spawn(Box::pin(leases.clone().sweep_loop(state.operations.get_ref().clone())));
    // Indicators partners POSTed to intake collections become Harpoon indicators.
    spawn(Box::pin(crate::service::intake::intake_loop(
        db.clone(),
        state.triage.clone().into_inner(),
        Duration::from_secs(state.settings.triage.intake_interval_secs.max(1)),
        leases.clone(),
    )));
    // What the TAXII feeds served, counted in memory, added to the database every few
    // seconds. Every instance flushes its own counts (they are additive): not leased.
    spawn(Box::pin(
        state
            .taxii
            .served
            .clone()
            .flush_loop(db.clone(), Duration::from_secs(state.settings.taxii.served_flush_secs.max(1))),
    ));
    // The audit log keeps `audit.retention_days` (one instance prunes).
    spawn(Box::pin(crate::service::accounts::audit_retention_loop(
        db.clone(),
        state.settings.audit.retention_days,
        leases.clone(),
    )));
    // Active indicators past their expiry policy become Expired (a new STIX version each).
    spawn(Box::pin(crate::service::indicators::expiry_loop(
        db.clone(),
        state.triage.clone().into_inner(),
        Duration::from_secs(state.settings.triage.expiry_check_secs.max(1)),
        leases.clone(),
    )));
    // Answers to reporters: the outbox is drained by the instance holding `job:notify`.
    if state.settings.notify.enabled {
        let mailer =
            crate::service::notify::Mailer::new(&state.settings.notify, &state.settings.secret_rules())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        spawn(Box::pin(crate::service::notify::sender_loop(db.clone(), mailer, leases.clone())));
    }
    spawn_mailboxes_and_feeds(state, &db, &mut spawn)?;
    Ok(tasks)
}

/// Mailbox connectors and subscriptions: the configuration file's are brought into the
/// database, then every enabled one runs as a background task (sessions only while it holds its
/// lease); those created or changed on another instance start (or stop) here too.
fn spawn_mailboxes_and_feeds(
    state: &AppState,
    db: &Db,
    spawn: &mut impl FnMut(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
) -> anyhow::Result<()> {
    let supervisor = state.connectors.clone();
    let rows = crate::connectors::manage::sync_config(
        &mut *db.conn()?,
        &state.settings.connectors.mailboxes,
        &state.settings.secret_rules(),
        &|enabled| supervisor.initial_status(enabled),
    )
    .map_err(|e| anyhow::anyhow!("connectors: {e}"))?;
    state.connectors.start_all(&rows);
    // Connectors created or changed on another instance start (or stop) here too.
    spawn(Box::pin(
        state
            .connectors
            .clone()
            .into_inner()
            .reconcile_loop(db.clone(), Duration::from_secs(state.settings.cluster.sweep_secs.max(1))),
    ));
    // Subscriptions likewise: the file's into the database, every enabled one polled (only
    // while it holds its lease).
    let subscriptions = state.subscriptions.clone();
    let rows = crate::subscriptions::manage::sync_config(
        &mut *db.conn()?,
        &state.settings.subscriptions.feeds,
        &state.settings.secret_rules(),
        &|enabled| subscriptions.initial_status(enabled),
    )
    .map_err(|e| anyhow::anyhow!("subscriptions: {e}"))?;
    state.subscriptions.start_all(&rows);
    Ok(())
}

/// `harpoon serve`: opens the database, creates the first account if there is none (saying so
/// once), runs the server until SIGTERM or Ctrl-C, then stops it gracefully.
pub fn serve(settings: Settings) -> anyhow::Result<()> {
    use std::io::Write;

    use crate::service::accounts::{self, Bootstrap};

    actix_web::rt::System::new().block_on(async move {
        let db = open_database(&settings)?;
        let preset = std::env::var("HARPOON_ADMIN_PASSWORD").ok();
        let bootstrap = accounts::bootstrap_admin_with(
            &db,
            preset,
            &crate::service::accounts::PasswordPolicy::configured(&settings),
        )?;
        let public_url = settings.server.public_url.clone();
        let app = Application::build(settings, db)?;
        let url = public_url.unwrap_or_else(|| app.url());
        let mut out = std::io::stdout().lock();
        if let Bootstrap::CreatedAdmin { password, generated } = bootstrap {
            if generated {
                writeln!(out, "Created the first account: user 'admin', password: {password}")?;
                writeln!(out, "This password is shown once. Change it or keep it somewhere safe.")?;
            } else {
                writeln!(
                    out,
                    "Created the first account: user 'admin' with the password from HARPOON_ADMIN_PASSWORD."
                )?;
            }
        }
        writeln!(out, "Harpoon is listening on {url}/  (TAXII: {url}/taxii2/, REST: {url}/api/v1/)")?;
        out.flush()?;
        drop(out);
        // SIGTERM or Ctrl-C: readyz says draining, background work stops and its leases are
        // released (other instances take over at once), then the server stops accepting and
        // finishes the requests in flight (bounded by actix's 30 s shutdown timeout).
        let (background, handle) = (app.background(), app.server_handle());
        actix_web::rt::spawn(async move {
            termination().await;
            tracing::info!("stopping: draining requests and releasing leases");
            background.stop().await;
            handle.stop(true).await;
        });
        app.run_until_stopped().await.context("server stopped with an error")
    })
}
