//! Subscriptions: Harpoon as a client of other organisations' feeds. Each enabled subscription
//! is a background task ([`Supervisor`]) that, while it holds the lease `subscription:ID`, polls
//! its remote with the protocol's poller (`taxii21.rs`: a TAXII 2.1 collection), validates what
//! comes back like a TAXII POST (`service::ingest::prepare_all`: schemas, patterns, SCO ids, TLP
//! definitions), stores the valid objects in the subscription's own intake collection and moves
//! the protocol's cursor on, page by page. Partner intake (`service::intake`) then makes Review
//! indicators of them, with `subscription:NAME` as source. A crash between storing a page and
//! moving the cursor fetches the page again: an object already in the collection is a duplicate
//! and changes nothing, so every object enters once.
//!
//! `manage.rs` holds the administrator's use cases (create, change, delete, the configuration
//! file's subscriptions) and the view the REST API and the UI show. The secret (password or
//! token) is sealed like connector passwords (`connectors::secret`), bound to the subscription
//! and its URL's origin.

pub mod manage;
pub mod taxii21;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::connectors::secret::{FeedBinding, SealKey};
use crate::db::objects::{self, Added, Writer};
use crate::db::subscriptions::{self as store, SubscriptionRow};
use crate::db::{Db, DbError, now_micros};
use crate::net::{Auth, ClientOptions, HttpClient};
use crate::service::ServiceContext;
use crate::service::leases::Leases;
use crate::service::{ingest, intake};
use crate::settings::{
    FeedAuth, FeedProtocol, FeedSettings, HttpClientSettings, SecretRules, SubscriptionSettings,
};
use crate::stix::schema::StixValidator;

/// Why a poll failed. The texts become the subscription's `last_error`: they never hold a
/// credential.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("configuration: {0}")]
    Config(String),
    /// The remote could not be reached or did not answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// The remote answered, but not as the protocol says (status, media type, document).
    #[error("{0}")]
    Remote(String),
    #[error("storing: {0}")]
    Store(String),
    /// The remote asked to come back later (429 or 503 with `Retry-After`).
    #[error("{message}")]
    Later { message: String, retry_after: Duration },
}

/// The longest `Retry-After` honoured: a remote cannot park a subscription for days.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl SubscriptionError {
    /// How long the remote asked us to wait, if it did.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            SubscriptionError::Later { retry_after, .. } => Some((*retry_after).min(MAX_RETRY_AFTER)),
            _ => None,
        }
    }
}

impl From<DbError> for SubscriptionError {
    fn from(e: DbError) -> Self {
        SubscriptionError::Store(e.to_string())
    }
}

/// The name of a subscription's lease: one instance polls it.
pub fn lease(id: i64) -> String {
    format!("subscription:{id}")
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether a host is this machine's loopback (where a plain-HTTP secret never leaves the host).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The URL of a subscription, checked: `http` or `https`, a host, no user info or fragment.
pub fn parse_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("url '{}': {e}", text.escape_debug()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("url '{url}' must be http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("url '{url}' has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("url must not carry a user or password: use auth, username and the secret".into());
    }
    if url.fragment().is_some() {
        return Err(format!("url '{url}' must not have a #fragment"));
    }
    Ok(url)
}

/// The scheme, host and port of a URL: what a sealed secret is bound to.
pub fn origin_of(url: &url::Url) -> String {
    url.origin().ascii_serialization()
}

/// The configuration file's feeds, each checked (names unique, fields, secrets).
pub fn validate_config(feeds: &[FeedSettings], rules: &SecretRules) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for f in feeds {
        if !names.insert(f.name.as_str()) {
            return Err(format!("subscriptions.feeds: '{}' is defined twice", f.name));
        }
        validate(f)
            .and_then(|()| check_secrets(f, rules))
            .map_err(|e| format!("subscriptions.feeds '{}': {e}", f.name))?;
    }
    Ok(())
}

/// Checks one subscription's configuration.
pub fn validate(f: &FeedSettings) -> Result<(), String> {
    if !is_name(&f.name) {
        return Err(format!("name '{}' must be 1-64 letters, digits, - or _", f.name.escape_debug()));
    }
    let url = parse_url(&f.url)?;
    if f.collection.trim().is_empty() || f.collection.contains(['\r', '\n']) || f.collection.len() > 300 {
        return Err("collection (an id or a title, one line) is required".into());
    }
    match (f.auth, &f.username) {
        (FeedAuth::Basic, Some(u)) if !u.is_empty() && !u.contains(['\r', '\n', ':']) => {}
        (FeedAuth::Basic, _) => return Err("auth = \"basic\" needs username (one line, no ':')".into()),
        (_, Some(_)) => return Err("username is only for auth = \"basic\"".into()),
        _ => {}
    }
    if f.auth != FeedAuth::None && url.scheme() == "http" && !is_loopback(&url) {
        return Err(format!(
            "auth = \"{}\" over plain http:// would send the secret in clear: use https://",
            f.auth.as_str()
        ));
    }
    if f.client_cert_file.is_some() != f.client_key_file.is_some() {
        return Err("client_cert_file and client_key_file go together".into());
    }
    if f.client_cert_file.is_some() && url.scheme() != "https" {
        return Err("a client certificate needs an https:// url".into());
    }
    if let Some(var) = &f.secret_env
        && (var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(format!("secret_env '{}' is not an environment variable name", var.escape_debug()));
    }
    for t in &f.types {
        let ok = (3..=250).contains(&t.len())
            && t.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !t.starts_with('-')
            && !t.ends_with('-');
        if !ok {
            return Err(format!("types: '{}' is not a STIX type name", t.escape_debug()));
        }
    }
    if let Some(tlp) = &f.tlp {
        crate::stix::parse_tlp(tlp).map_err(|e| format!("tlp: {e}"))?;
    }
    if f.interval_secs == Some(0) {
        return Err("interval_secs must be at least 1".into());
    }
    if f.page_size.is_some_and(|n| n == 0 || n > 10_000) {
        return Err("page_size must be 1-10000".into());
    }
    Ok(())
}

/// Where a subscription's secrets come from: `secret_env` only with the configured prefix, the
/// CA and client certificate files only inside the CA directory (checked here without the
/// disk; again, symbolic links followed, when they are read).
pub fn check_secrets(f: &FeedSettings, rules: &SecretRules) -> Result<(), String> {
    if let Some(var) = &f.secret_env {
        rules.check_env("secret_env", var)?;
    }
    for file in [&f.ca_file, &f.client_cert_file, &f.client_key_file].into_iter().flatten() {
        rules.ca_path(file)?;
    }
    Ok(())
}

/// Timing and limits shared by every subscription of this instance.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub poll_interval: Duration,
    pub timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub page_size: u32,
    pub http: HttpClientSettings,
    pub rules: SecretRules,
}

impl RunOptions {
    pub fn from_settings(s: &SubscriptionSettings, http: HttpClientSettings, rules: SecretRules) -> Self {
        Self {
            poll_interval: Duration::from_secs(s.poll_interval_secs.max(1)),
            timeout: Duration::from_secs(s.timeout_secs.max(1)),
            backoff_initial: Duration::from_millis(s.backoff_initial_ms.max(10)),
            backoff_max: Duration::from_secs(s.backoff_max_secs.max(1)),
            page_size: s.page_size.clamp(1, 10_000),
            http,
            rules,
        }
    }

    /// The wait before retry number `failures` (1, 2, …): doubling from the initial wait up to
    /// the maximum, with up to 10% random jitter so that many subscribers of one server spread.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doubled = self.backoff_initial.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let base = doubled.min(self.backoff_max);
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..0.1);
        base + base.mul_f64(jitter)
    }
}

/// What storing one page did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageOutcome {
    /// Objects new to the collection.
    pub taken: usize,
    /// Objects already there (a page fetched again): nothing changed.
    pub duplicates: usize,
    /// Objects refused, each with its id and the rule it broke.
    pub rejected: Vec<String>,
}

/// One running subscription: its configuration and what it needs to store objects.
pub(crate) struct Worker {
    db: Db,
    ctx: Arc<ServiceContext>,
    validator: Arc<StixValidator>,
    opts: RunOptions,
    key: SealKey,
    id: i64,
    collection_id: String,
    cfg: FeedSettings,
    sealed: Option<String>,
    leases: Leases,
}

/// Most characters of one rejection kept in `last_rejected` (the log has the rest).
const MAX_REJECTION: usize = 500;

impl Worker {
    fn from_row(
        row: &SubscriptionRow,
        services: &Services,
        opts: RunOptions,
    ) -> Result<Self, SubscriptionError> {
        let cfg = manage::config_of(row).map_err(|e| SubscriptionError::Config(e.to_string()))?;
        Ok(Self {
            db: services.db.clone(),
            ctx: services.ctx.clone(),
            validator: services.validator.clone(),
            opts,
            key: services.key.clone(),
            id: row.id,
            collection_id: row.collection_id.clone(),
            cfg,
            sealed: row.secret_sealed.clone(),
            leases: services.leases.clone(),
        })
    }

    /// The password or token: opened from its sealed form (bound to this subscription, its
    /// URL's origin and user), or read from the named environment variable.
    fn secret(&self) -> Result<String, SubscriptionError> {
        match (&self.sealed, &self.cfg.secret_env) {
            (Some(sealed), _) => {
                let url = parse_url(&self.cfg.url).map_err(SubscriptionError::Config)?;
                let origin = origin_of(&url);
                let to = FeedBinding {
                    subscription: &self.cfg.name,
                    origin: &origin,
                    username: self.cfg.username.as_deref().unwrap_or(""),
                };
                self.key.open(&to, sealed).map_err(|e| SubscriptionError::Config(e.to_string()))
            }
            (None, Some(var)) => {
                self.opts.rules.check_env("secret_env", var).map_err(SubscriptionError::Config)?;
                std::env::var(var).map_err(|_| {
                    SubscriptionError::Config(format!("the environment variable {var} is not set"))
                })
            }
            (None, None) => {
                Err(SubscriptionError::Config("no secret: set secret (REST, UI) or secret_env".into()))
            }
        }
    }

    /// How requests authenticate.
    pub(crate) fn auth(&self) -> Result<Auth, SubscriptionError> {
        Ok(match self.cfg.auth {
            FeedAuth::None => Auth::None,
            FeedAuth::Basic => Auth::Basic {
                username: self.cfg.username.clone().unwrap_or_default(),
                password: self.secret()?,
            },
            FeedAuth::Token => Auth::Token(self.secret()?),
            FeedAuth::Bearer => Auth::Bearer(self.secret()?),
        })
    }

    /// The HTTP client of this subscription: the shared settings, its CA file and client
    /// certificate (read from the CA directory now, so a changed file is used at the next poll).
    pub(crate) fn client(&self) -> Result<HttpClient, SubscriptionError> {
        let rules = &self.opts.rules;
        let config = |e: String| SubscriptionError::Config(e);
        let ca = self.cfg.ca_file.as_ref().map(|f| rules.ca_file(f)).transpose().map_err(config)?;
        let identity = match (&self.cfg.client_cert_file, &self.cfg.client_key_file) {
            (Some(cert), Some(key)) => {
                let read = |f: &std::path::Path| -> Result<Vec<u8>, SubscriptionError> {
                    let path = rules.ca_file(f).map_err(config)?;
                    std::fs::read(&path).map_err(|e| {
                        SubscriptionError::Config(format!("cannot read {}: {e}", path.display()))
                    })
                };
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                Some(pem)
            }
            _ => None,
        };
        HttpClient::new(
            &self.opts.http,
            &ClientOptions {
                ca_file: ca.as_deref(),
                timeout: self.opts.timeout,
                identity_pem: identity.as_deref(),
            },
        )
        .map_err(|e| SubscriptionError::Config(e.to_string()))
    }

    pub(crate) fn page_size(&self) -> u32 {
        self.cfg.page_size.unwrap_or(self.opts.page_size).clamp(1, 10_000)
    }

    pub(crate) fn cfg(&self) -> &FeedSettings {
        &self.cfg
    }

    /// The protocol's cursor as stored (`None`: from the start).
    pub(crate) async fn cursor(&self) -> Result<Option<String>, SubscriptionError> {
        let id = self.id;
        Ok(self.db.run(move |conn| store::cursor(conn, id)).await?)
    }

    /// Stores the cursor alone (a page that brought nothing, a cursor the remote forgot).
    pub(crate) async fn set_cursor(&self, cursor: String) -> Result<(), SubscriptionError> {
        let id = self.id;
        self.db.run(move |conn| store::advance(conn, id, &cursor, 0, 0, None)).await?;
        Ok(())
    }

    /// One page: each object validated like a TAXII POST, the valid ones stored in the
    /// subscription's collection, then the cursor moved to `cursor` and the counters raised,
    /// then partner intake reads what is new. Objects of a type the subscription does not take
    /// (a remote ignoring `match[type]`) are skipped. A refused object is counted and named in
    /// `last_rejected`; it never stops the feed.
    pub(crate) async fn store_page(
        &self,
        raws: Vec<String>,
        cursor: String,
    ) -> Result<PageOutcome, SubscriptionError> {
        let (id, collection, name) = (self.id, self.collection_id.clone(), self.cfg.name.clone());
        let (validator, ctx, types) = (self.validator.clone(), self.ctx.clone(), self.cfg.types.clone());
        let outcome = self
            .db
            .run(move |conn| {
                let wanted: Vec<&str> = raws
                    .iter()
                    .map(String::as_str)
                    .filter(|raw| types.is_empty() || type_of(raw).is_none_or(|t| types.contains(&t)))
                    .collect();
                let mut outcome = PageOutcome::default();
                let mut valid = Vec::new();
                for p in ingest::prepare_all(&validator, &wanted) {
                    match p.object {
                        Ok(object) => valid.push(object),
                        Err(why) => outcome.rejected.push(format!("{} {}: {why}", p.id, p.version)),
                    }
                }
                for chunk in valid.chunks(2000) {
                    let added = objects::add_to_collection(conn, &collection, chunk, Writer::Client)?;
                    for (object, added) in chunk.iter().zip(added) {
                        match added {
                            Added::New { .. } => outcome.taken += 1,
                            Added::Duplicate { .. } => outcome.duplicates += 1,
                            Added::Conflict => {
                                outcome.rejected.push(format!("{}: {}", object.stix_id, objects::CONFLICT))
                            }
                        }
                    }
                }
                let last = outcome.rejected.last().map(|r| clip(r, MAX_REJECTION));
                let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
                store::advance(
                    conn,
                    id,
                    &cursor,
                    count(outcome.taken),
                    count(outcome.rejected.len()),
                    last.as_deref(),
                )?;
                Ok::<_, DbError>(outcome)
            })
            .await?;
        for why in &outcome.rejected {
            tracing::warn!(subscription = %name, "object refused: {why}");
        }
        if outcome.taken > 0 {
            // The indicators now, not at the next tick of the intake loop.
            if let Err(e) = self.db.run(move |conn| intake::run(conn, &ctx)).await {
                tracing::error!(subscription = %self.cfg.name, "partner intake: {e}");
            }
        }
        Ok(outcome)
    }

    async fn record_success(&self) -> Result<(), SubscriptionError> {
        let id = self.id;
        self.db.run(move |conn| store::record_success(conn, id, now_micros())).await?;
        Ok(())
    }

    /// Runs forever: one poll after the other, with back-off after failures.
    async fn run(self) {
        let mut failures: u32 = 0;
        let name = self.cfg.name.clone();
        tracing::info!(subscription = %name, protocol = self.cfg.protocol.as_str(), url = %self.cfg.url, "subscription started");
        let lease = lease(self.id);
        loop {
            // One instance at a time polls a subscription; the others look again after a
            // while and take over within a lease time when the holder stops.
            if !self.leases.hold(&lease).await {
                tokio::time::sleep(self.leases.retry_interval()).await;
                continue;
            }
            let outcome = match self.cfg.protocol {
                FeedProtocol::Taxii21 => taxii21::poll(&self).await,
            };
            let outcome = match outcome {
                Ok(()) => self.record_success().await,
                Err(e) => Err(e),
            };
            let wait = match outcome {
                Ok(()) => {
                    failures = 0;
                    self.cfg.interval_secs.map(Duration::from_secs).unwrap_or(self.opts.poll_interval)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    // A remote that says when to come back (a throttled login, a busy server)
                    // is not asked sooner.
                    let wait = self.opts.backoff(failures).max(e.retry_after().unwrap_or_default());
                    let text = e.to_string();
                    tracing::warn!(subscription = %name, failures, retry_in_ms = wait.as_millis() as u64, "poll failed: {text}");
                    let (id, now) = (self.id, now_micros());
                    let next = now.saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
                    let n = i64::from(failures);
                    if let Err(e) =
                        self.db.run(move |conn| store::record_error(conn, id, now, &text, n, next)).await
                    {
                        tracing::error!(subscription = %name, "cannot record the subscription's health: {e}");
                    }
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// The `type` of an object's JSON text, read without parsing the rest.
fn type_of(raw: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_str::<Typed>(raw).ok().map(|t| t.kind)
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let cut = (0..=max).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    format!("{}…", text.get(..cut).unwrap_or(""))
}

/// What a running subscription needs from the instance.
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub ctx: Arc<ServiceContext>,
    pub validator: Arc<StixValidator>,
    pub key: SealKey,
    pub leases: Leases,
}

/// Runs the subscriptions of this instance as background tasks, one per enabled subscription,
/// on the runtime it was created in.
pub struct Supervisor {
    services: Services,
    opts: RunOptions,
    run: bool,
    /// TLP of indicators from unmarked objects when a subscription sets none.
    default_tlp: String,
    runtime: tokio::runtime::Handle,
    tasks: Mutex<HashMap<i64, tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("opts", &self.opts).field("run", &self.run).finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Must be called inside the tokio runtime the subscriptions are to run on.
    pub fn new(
        services: Services,
        settings: &SubscriptionSettings,
        http: HttpClientSettings,
        rules: SecretRules,
        default_tlp: String,
    ) -> Result<Self, SubscriptionError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| SubscriptionError::Config("subscriptions need a tokio runtime".into()))?;
        Ok(Self {
            services,
            opts: RunOptions::from_settings(settings, http, rules),
            run: settings.enabled,
            default_tlp,
            runtime,
            tasks: Mutex::new(HashMap::new()),
        })
    }

    pub fn db(&self) -> &Db {
        &self.services.db
    }

    pub fn key(&self) -> &SealKey {
        &self.services.key
    }

    /// Where subscriptions' secrets may come from.
    pub fn rules(&self) -> &SecretRules {
        &self.opts.rules
    }

    pub fn default_tlp(&self) -> &str {
        &self.default_tlp
    }

    /// Starts every enabled subscription (at server start).
    pub fn start_all(&self, rows: &[SubscriptionRow]) {
        for row in rows {
            self.apply(row);
        }
    }

    /// Brings a subscription's task in line with its row: (re)started if enabled, stopped if
    /// not. A running task is aborted first (at its next await: what it stored stays stored
    /// with its cursor; a page not stored is fetched again).
    pub fn apply(&self, row: &SubscriptionRow) {
        self.stop(row.id);
        if !self.run || !row.enabled {
            return;
        }
        let worker = match Worker::from_row(row, &self.services, self.opts.clone()) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(subscription = %row.name, "cannot start: {e}");
                return;
            }
        };
        let handle = self.runtime.spawn(worker.run());
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(row.id, handle);
        }
    }

    /// The status a subscription has until its first poll ends.
    pub fn initial_status(&self, enabled: bool) -> &'static str {
        match (self.run, enabled) {
            (false, _) => "not running in this instance",
            (true, false) => "disabled",
            (true, true) => "starting",
        }
    }

    /// Stops a subscription's task and gives its lease up (another instance may take it).
    pub fn stop(&self, id: i64) {
        if let Ok(mut tasks) = self.tasks.lock()
            && let Some(handle) = tasks.remove(&id)
        {
            handle.abort();
            let leases = self.services.leases.clone();
            self.runtime.spawn(async move { leases.release(&lease(id)).await });
        }
    }

    /// Stops every subscription's task here (the instance stops).
    pub fn stop_all(&self) {
        let ids: Vec<i64> = self.tasks.lock().map(|t| t.keys().copied().collect()).unwrap_or_default();
        for id in ids {
            self.stop(id);
        }
    }

    /// Stops every subscription's task here and keeps its leases (as a crash would).
    pub fn stop_all_silently(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for (_, handle) in tasks.drain() {
                handle.abort();
            }
        }
    }

    /// Whether a subscription's task is running here.
    pub fn is_running(&self, id: i64) -> bool {
        self.tasks.lock().map(|t| t.get(&id).is_some_and(|h| !h.is_finished())).unwrap_or(false)
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for (_, handle) in tasks.drain() {
                handle.abort();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feed(extra: serde_json::Value) -> FeedSettings {
        let mut base = json!({
            "name": "cert", "url": "https://taxii.example.org/taxii2/", "collection": "Indicators"
        });
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        serde_json::from_value(base).expect("feed")
    }

    #[test]
    fn a_valid_feed_passes_and_defaults_to_taxii21() {
        let f = feed(json!({}));
        assert_eq!((f.protocol, f.auth, f.enabled), (FeedProtocol::Taxii21, FeedAuth::None, true));
        assert!(validate(&f).is_ok());
        assert!(
            validate(&feed(
                json!({"auth": "basic", "username": "u", "types": ["indicator"], "tlp": "green"})
            ))
            .is_ok()
        );
    }

    #[test]
    fn refuses_what_would_leak_or_cannot_work() {
        for (extra, why) in [
            (json!({"name": "a b"}), "name"),
            (json!({"url": "ftp://x.example/"}), "http"),
            (json!({"url": "https://u:p@x.example/"}), "user"),
            (json!({"collection": ""}), "collection"),
            (json!({"auth": "basic"}), "username"),
            (json!({"username": "u"}), "only for"),
            (json!({"auth": "bearer", "url": "http://taxii.example.org/"}), "clear"),
            (json!({"client_cert_file": "c.pem"}), "together"),
            (json!({"types": ["Indicator"]}), "STIX type"),
            (json!({"tlp": "purple"}), "tlp"),
            (json!({"page_size": 0}), "page_size"),
        ] {
            let e = validate(&feed(extra.clone())).expect_err(&extra.to_string());
            assert!(e.contains(why), "{extra}: {e}");
        }
        // Plain HTTP to this machine may carry a secret (tests, a local relay).
        assert!(validate(&feed(json!({"auth": "token", "url": "http://127.0.0.1:9/taxii2/"}))).is_ok());
    }

    #[test]
    fn secrets_come_only_from_where_the_rules_allow() {
        let rules = SecretRules { ca_dir: "/srv/ca".into(), env_prefix: "HARPOON_SECRET_".into() };
        assert!(
            check_secrets(&feed(json!({"secret_env": "HARPOON_SECRET_X", "ca_file": "a.pem"})), &rules)
                .is_ok()
        );
        assert!(check_secrets(&feed(json!({"secret_env": "HOME"})), &rules).is_err());
        assert!(
            check_secrets(
                &feed(json!({"client_cert_file": "/etc/c.pem", "client_key_file": "k.pem"})),
                &rules
            )
            .is_err()
        );
    }

    #[test]
    fn type_is_read_and_long_rejections_are_clipped() {
        assert_eq!(type_of(r#"{"id": "x", "type": "indicator"}"#).as_deref(), Some("indicator"));
        assert_eq!(type_of("[1]"), None);
        assert_eq!(clip("ééé", 3), "é…");
        assert_eq!(clip("abc", 3), "abc");
    }
}
