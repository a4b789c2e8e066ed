//! Mailbox connectors: IMAP and POP3 mailboxes that employees forward suspicious emails to,
//! pulled on their own. Each connector is a background task ([`Supervisor`]) that connects over
//! TLS, logs in, takes the messages waiting, stores each through `service::imports` (a draft, or
//! an event with `commit`), and only then marks it processed on the server (flag, move or
//! delete; POP3: delete or leave, UIDL remembered). A crash between storing and marking takes the
//! message again, and the import, idempotent by content hash, returns the stored one: at least
//! once on the wire, exactly once in Harpoon.
//!
//! `imap.rs` and `pop3.rs` speak the protocols, `tls.rs` is the one TLS client path,
//! `secret.rs` seals stored passwords, `manage.rs` holds the administrator's use cases
//! (create, change, delete, the configuration file's connectors).

pub mod imap;
pub mod manage;
pub mod pop3;
pub mod secret;
pub mod tls;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::db::connectors::{self as store, ConnectorRow};
use crate::db::{Db, DbError, now_micros};
use crate::service::imports::pipeline::{Importer, Then};
use crate::service::imports::{self, ImportRequest};
use crate::service::leases::Leases;
use crate::settings::{AfterImport, ConnectorSettings, MailProtocol, MailTls, MailboxSettings, SecretRules};
use secret::SealKey;

/// Why a connector session failed. The texts become the connector's `last_error`: they never
/// hold a credential.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("login refused: {0}")]
    Auth(String),
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("storing a message: {0}")]
    Store(String),
}

impl From<DbError> for ConnectorError {
    fn from(e: DbError) -> Self {
        ConnectorError::Store(e.to_string())
    }
}

/// The configuration file's mailboxes, each checked (names unique, fields, secrets).
pub fn validate_config(mailboxes: &[MailboxSettings], rules: &SecretRules) -> Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for m in mailboxes {
        if !names.insert(m.name.as_str()) {
            return Err(format!("connectors.mailboxes: '{}' is defined twice", m.name));
        }
        validate(m)
            .and_then(|()| check_secrets(m, rules))
            .map_err(|e| format!("connectors.mailboxes '{}': {e}", m.name))?;
    }
    Ok(())
}

/// Checks one connector's configuration (name, host, the after-import action for the
/// protocol, the flag, the default event metadata).
pub fn validate(m: &MailboxSettings) -> Result<(), String> {
    let name_ok = !m.name.is_empty()
        && m.name.len() <= 64
        && m.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!("name '{}' must be 1-64 letters, digits, - or _", m.name.escape_debug()));
    }
    if m.host.trim().is_empty() || m.host.contains(char::is_whitespace) {
        return Err("host is required".into());
    }
    if m.username.is_empty() || m.username.contains(['\r', '\n']) {
        return Err("username is required (one line)".into());
    }
    if m.port == Some(0) {
        return Err("port 0 is not a port".into());
    }
    if let Some(var) = &m.password_env
        && (var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(format!("password_env '{}' is not an environment variable name", var.escape_debug()));
    }
    match (m.protocol, after_of(m)) {
        (MailProtocol::Imap, AfterImport::Leave) => {
            return Err("IMAP connectors mark messages: after must be flag, move or delete".into());
        }
        (MailProtocol::Pop3, AfterImport::Flag | AfterImport::Move) => {
            return Err("POP3 connectors delete or leave messages: after must be delete or leave".into());
        }
        (MailProtocol::Imap, AfterImport::Move) => match &m.move_to {
            Some(f) if !f.trim().is_empty() && f != &m.folder => {}
            _ => return Err("after = \"move\" needs move_to, a folder other than folder".into()),
        },
        _ => {}
    }
    if m.protocol == MailProtocol::Imap {
        if m.folder.trim().is_empty() {
            return Err("folder is required".into());
        }
        imap::ProcessedFlag::parse(&m.flag)?;
    }
    m.meta.clone().validated().map_err(|e| format!("meta: {e}"))?;
    Ok(())
}

/// Where a connector's secrets come from: `password_env` only with the configured prefix, a
/// `ca_file` only inside the CA directory (checked here without the disk; again, symbolic links
/// followed, when the file is read).
pub fn check_secrets(m: &MailboxSettings, rules: &SecretRules) -> Result<(), String> {
    if let Some(var) = &m.password_env {
        rules.check_env("password_env", var)?;
    }
    if let Some(ca) = &m.ca_file {
        rules.ca_path(ca)?;
    }
    Ok(())
}

/// What happens after storing, with the protocol's default.
pub fn after_of(m: &MailboxSettings) -> AfterImport {
    m.after.unwrap_or(match m.protocol {
        MailProtocol::Imap => AfterImport::Flag,
        MailProtocol::Pop3 => AfterImport::Leave,
    })
}

/// The port in force: the configured one or the protocol's default for the TLS mode.
pub fn port_of(m: &MailboxSettings) -> u16 {
    m.port.unwrap_or(match (m.protocol, m.tls) {
        (MailProtocol::Imap, MailTls::Implicit) => 993,
        (MailProtocol::Imap, MailTls::Starttls) => 143,
        (MailProtocol::Pop3, MailTls::Implicit) => 995,
        (MailProtocol::Pop3, MailTls::Starttls) => 110,
    })
}

/// Timing shared by every connector of this instance.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub poll_interval: Duration,
    pub idle_renew: Duration,
    pub timeout: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub rules: SecretRules,
}

impl RunOptions {
    pub fn from_settings(s: &ConnectorSettings, rules: SecretRules) -> Self {
        Self {
            poll_interval: Duration::from_secs(s.poll_interval_secs.max(1)),
            idle_renew: Duration::from_secs(s.idle_renew_secs.max(1)),
            timeout: Duration::from_secs(s.timeout_secs.max(1)),
            backoff_initial: Duration::from_millis(s.backoff_initial_ms.max(10)),
            backoff_max: Duration::from_secs(s.backoff_max_secs.max(1)),
            rules,
        }
    }

    /// The wait before retry number `failures` (1, 2, …): doubling from the initial wait up to
    /// the maximum, with up to 10% random jitter so connectors to one server spread out.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doubled = self.backoff_initial.saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let base = doubled.min(self.backoff_max);
        let jitter = rand::Rng::gen_range(&mut rand::thread_rng(), 0.0..0.1);
        base + base.mul_f64(jitter)
    }
}

/// Attempts at one message before it is set aside as a poison message.
pub const MAX_ATTEMPTS: i64 = 3;

/// One running connector: its configuration and what it needs to store messages.
pub(crate) struct Worker {
    db: Db,
    importer: Importer,
    opts: RunOptions,
    key: SealKey,
    id: i64,
    cfg: MailboxSettings,
    sealed: Option<String>,
    /// Only the holder of `connector:ID` opens sessions.
    leases: Leases,
}

/// What happened to one message taken from a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stored {
    pub import_id: i64,
    /// Kept as a failed import (unreadable, too large).
    pub failed: bool,
}

impl Worker {
    fn from_row(
        row: &ConnectorRow,
        db: Db,
        importer: Importer,
        opts: RunOptions,
        key: SealKey,
        leases: Leases,
    ) -> Result<Self, ConnectorError> {
        let cfg = manage::config_of(row).map_err(|e| ConnectorError::Config(e.to_string()))?;
        Ok(Self { db, importer, opts, key, id: row.id, cfg, sealed: row.password_sealed.clone(), leases })
    }

    /// The password: opened from its sealed form (bound to this connector, host and user), or
    /// read from the named environment variable (only one with the configured prefix).
    fn password(&self) -> Result<String, ConnectorError> {
        match (&self.sealed, &self.cfg.password_env) {
            (Some(sealed), _) => self.key.open(&secret::Binding::of(&self.cfg), sealed),
            (None, Some(var)) => {
                self.opts.rules.check_env("password_env", var).map_err(ConnectorError::Config)?;
                std::env::var(var)
                    .map_err(|_| ConnectorError::Config(format!("the environment variable {var} is not set")))
            }
            (None, None) => Err(ConnectorError::Config("no password: set password or password_env".into())),
        }
    }

    /// The TLS client configuration: the CA file from the CA directory, or the web roots.
    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, ConnectorError> {
        let ca = match &self.cfg.ca_file {
            Some(f) => Some(self.opts.rules.ca_file(f).map_err(ConnectorError::Config)?),
            None => None,
        };
        tls::client_config(ca.as_deref())
    }

    fn source(&self) -> String {
        format!("{}:{}", self.cfg.protocol.as_str(), self.cfg.name)
    }

    /// Stores one message durably (a draft, an event with `commit`, or a failed import that
    /// keeps the bytes) and remembers it under `key`. Only after this returns Ok may the message
    /// be marked processed on the server. `cut` is the size limit when the message was larger
    /// and only its first bytes were fetched.
    ///
    /// The attempt is counted in the database before the message is processed: a message whose
    /// import failed, or killed the process, [`MAX_ATTEMPTS`] times is kept as a failed import
    /// with its raw bytes instead (a poison message), so the connector goes on with the next.
    pub(crate) async fn store(
        &self,
        key: String,
        raw: Vec<u8>,
        cut: Option<usize>,
    ) -> Result<Stored, ConnectorError> {
        let id = self.id;
        // A message without an identity on the server is known by its content.
        let key = if key.is_empty() { format!("sha256:{}", imports::sha256_hex(&raw)) } else { key };
        let counted = key.clone();
        let (attempts, last_error) =
            self.db.run(move |conn| store::count_attempt(conn, id, &counted)).await?;
        let source = self.source();
        let outcome = if attempts > MAX_ATTEMPTS {
            let why = format!(
                "set aside after {MAX_ATTEMPTS} attempts that did not finish (last error: {})",
                last_error.as_deref().unwrap_or("none recorded: the process stopped during the import")
            );
            tracing::warn!(connector = %self.cfg.name, message = %key, "poison message: {why}");
            self.importer
                .keep_failed(raw, source, why)
                .await
                .map(|row| Stored { import_id: row.id, failed: true })
        } else if let Some(limit) = cut {
            let why = format!("the message is larger than {limit} bytes; its first {limit} bytes are kept");
            self.importer
                .keep_failed(raw, source, why)
                .await
                .map(|row| Stored { import_id: row.id, failed: true })
        } else {
            let metadata = match self.cfg.protocol {
                MailProtocol::Imap => {
                    json!({ "connector": self.cfg.name, "folder": self.cfg.folder, "message": key })
                }
                MailProtocol::Pop3 => json!({ "connector": self.cfg.name, "uidl": key }),
            };
            let req = ImportRequest {
                raw,
                source,
                source_metadata: Some(metadata),
                actor: None,
                meta: self.cfg.meta.clone(),
            };
            let then = Then {
                commit_as: self.cfg.commit.then(|| format!("connector:{}", self.cfg.name)),
                keep_refused: true,
            };
            self.importer.import(req, &then).await.map(|o| Stored {
                import_id: o.imported.row.id,
                failed: o.imported.row.state == crate::service::imports::ImportState::Failed,
            })
        };
        match outcome {
            Ok(stored) => {
                self.db
                    .run(move |conn| store::mark_seen(conn, id, &key, stored.import_id, stored.failed))
                    .await?;
                Ok(stored)
            }
            Err(e) => {
                let text = e.to_string();
                // Best effort: the attempt is counted whatever happens here.
                if let Err(e) = self.db.run(move |conn| store::attempt_failed(conn, id, &key, &text)).await {
                    tracing::warn!(connector = %self.cfg.name, "cannot record the failed attempt: {e}");
                }
                Err(ConnectorError::Store(e.to_string()))
            }
        }
    }

    async fn record_success(&self) -> Result<(), ConnectorError> {
        let id = self.id;
        self.db.run(move |conn| store::record_success(conn, id, now_micros())).await?;
        Ok(())
    }

    /// Runs forever: one session after the other, with backoff after failures.
    async fn run(self) {
        let mut failures: u32 = 0;
        let name = self.cfg.name.clone();
        tracing::info!(connector = %name, protocol = self.cfg.protocol.as_str(), host = %self.cfg.host, "connector started");
        let lease = connector_lease(self.id);
        loop {
            // One instance at a time reads a mailbox; the others look again after a while and
            // take over within a lease time when the holder stops.
            if !self.leases.hold(&lease).await {
                tokio::time::sleep(self.leases.retry_interval()).await;
                continue;
            }
            let outcome = match self.cfg.protocol {
                MailProtocol::Imap => imap::session(&self).await,
                MailProtocol::Pop3 => pop3_session(&self).await,
            };
            let wait = match outcome {
                Ok(()) => {
                    failures = 0;
                    self.cfg.poll_interval_secs.map(Duration::from_secs).unwrap_or(self.opts.poll_interval)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = self.opts.backoff(failures);
                    let text = e.to_string();
                    tracing::warn!(connector = %name, failures, retry_in_ms = wait.as_millis() as u64, "connector session failed: {text}");
                    let (id, now) = (self.id, now_micros());
                    let next = now.saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
                    let n = i64::from(failures);
                    if let Err(e) =
                        self.db.run(move |conn| store::record_error(conn, id, now, &text, n, next)).await
                    {
                        tracing::error!(connector = %name, "cannot record the connector's health: {e}");
                    }
                    wait
                }
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One POP3 session: connect, log in, list, take what is new, delete (per configuration) what
/// is stored, quit (which commits the deletions).
async fn pop3_session(w: &Worker) -> Result<(), ConnectorError> {
    let cfg = &w.cfg;
    let t = w.opts.timeout;
    let tls_config = w.tls_config()?;
    let tcp = tls::connect_tcp(&cfg.host, port_of(cfg), t).await?;
    let mut pop = match cfg.tls {
        MailTls::Implicit => {
            let mut pop = pop3::Pop3::new(tls::handshake(tls_config, &cfg.host, tcp, t).await?, t);
            pop.greeting().await?;
            pop
        }
        MailTls::Starttls => {
            let mut plain = pop3::Pop3::new(tcp, t);
            plain.greeting().await?;
            plain.stls().await?;
            pop3::Pop3::new(tls::handshake(tls_config, &cfg.host, plain.into_inner(), t).await?, t)
        }
    };
    pop.login(&cfg.username, &w.password()?).await?;
    let listing = pop.uidl().await?;
    let waiting: std::collections::HashSet<String> = listing.iter().map(|l| l.uidl.clone()).collect();
    let id = w.id;
    let seen =
        w.db.run(move |conn| {
            store::prune_seen(conn, id, &waiting)?;
            store::seen_keys(conn, id)
        })
        .await?;
    let delete = after_of(cfg) == AfterImport::Delete;
    let limit = w.importer.ctx().extract.max_message_bytes;
    for item in listing {
        if !seen.contains(&item.uidl) {
            let (raw, cut) = pop.retr(item.number, limit).await?;
            w.store(item.uidl.clone(), raw, cut.then_some(limit)).await?;
        }
        if delete {
            pop.dele(item.number).await?;
        }
    }
    pop.quit().await?;
    w.record_success().await
}

/// Runs the connectors of this instance as background tasks, one per enabled connector, on the
/// runtime it was created in (not on an HTTP worker's).
pub struct Supervisor {
    db: Db,
    importer: Importer,
    opts: RunOptions,
    key: SealKey,
    run: bool,
    runtime: tokio::runtime::Handle,
    tasks: Mutex<HashMap<i64, tokio::task::JoinHandle<()>>>,
    /// The `(updated_at, enabled)` of each connector row this instance last applied: another
    /// instance's change (REST, UI) shows as a different pair at the next reconcile.
    applied: Mutex<HashMap<i64, (i64, bool)>>,
    leases: Leases,
}

/// The name of a connector's lease.
pub fn connector_lease(id: i64) -> String {
    format!("connector:{id}")
}

impl std::fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor").field("opts", &self.opts).field("run", &self.run).finish_non_exhaustive()
    }
}

impl Supervisor {
    /// Must be called inside the tokio runtime the connectors are to run on.
    pub fn new(
        db: Db,
        importer: Importer,
        settings: &ConnectorSettings,
        rules: SecretRules,
        key: SealKey,
        leases: Leases,
    ) -> Result<Self, ConnectorError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| ConnectorError::Config("connectors need a tokio runtime".into()))?;
        Ok(Self {
            db,
            importer,
            opts: RunOptions::from_settings(settings, rules),
            key,
            run: settings.enabled,
            runtime,
            tasks: Mutex::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
            leases,
        })
    }

    pub fn key(&self) -> &SealKey {
        &self.key
    }

    /// Where connectors' secrets may come from.
    pub fn rules(&self) -> &SecretRules {
        &self.opts.rules
    }

    /// Starts every enabled connector (at server start).
    pub fn start_all(&self, rows: &[ConnectorRow]) {
        for row in rows {
            self.apply(row);
        }
    }

    /// Brings a connector's task in line with its row: (re)started if enabled, stopped if not.
    /// A running task is aborted first (at its next await: what it had stored stays stored, what
    /// it had not marked is taken again by the new task).
    pub fn apply(&self, row: &ConnectorRow) {
        self.stop(row.id);
        if let Ok(mut applied) = self.applied.lock() {
            applied.insert(row.id, (row.updated_at, row.enabled));
        }
        if !self.run || !row.enabled {
            return;
        }
        let worker = match Worker::from_row(
            row,
            self.db.clone(),
            self.importer.clone(),
            self.opts.clone(),
            self.key.clone(),
            self.leases.clone(),
        ) {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(connector = %row.name, "cannot start: {e}");
                return;
            }
        };
        let handle = self.runtime.spawn(worker.run());
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.insert(row.id, handle);
        }
    }

    /// Brings this instance in line with the connector rows of the database, which other
    /// instances change (a connector created, edited, disabled or deleted over REST or the UI on
    /// another instance): a row not applied here yet, or changed since, is applied; a connector
    /// whose row is gone is stopped. Unchanged connectors are left running.
    pub fn reconcile(&self, rows: &[ConnectorRow]) {
        let applied = self.applied.lock().map(|a| a.clone()).unwrap_or_default();
        for row in rows {
            if applied.get(&row.id) != Some(&(row.updated_at, row.enabled)) {
                self.apply(row);
            }
        }
        for id in applied.keys().filter(|id| !rows.iter().any(|r| r.id == **id)) {
            self.stop(*id);
            if let Ok(mut applied) = self.applied.lock() {
                applied.remove(id);
            }
        }
    }

    /// Reconciles with the database every `period` (one connector list per period; the changes
    /// of the instance that made them are applied at once by its handler).
    pub async fn reconcile_loop(self: Arc<Self>, db: Db, period: Duration) {
        loop {
            tokio::time::sleep(period).await;
            match db.run(store::list).await {
                Ok(rows) => self.reconcile(&rows),
                Err(e) => tracing::warn!("connectors: cannot read the connector list: {e}"),
            }
        }
    }

    /// The status a connector has until its first session ends: stored with its configuration,
    /// before its task starts, so it never overwrites what the task records.
    pub fn initial_status(&self, enabled: bool) -> &'static str {
        match (self.run, enabled) {
            (false, _) => "not running in this instance",
            (true, false) => "disabled",
            (true, true) => "starting",
        }
    }

    /// Stops a connector's task (abort: the same as a crash, which the protocol handling is
    /// built to survive).
    pub fn stop(&self, id: i64) {
        if let Ok(mut tasks) = self.tasks.lock()
            && let Some(handle) = tasks.remove(&id)
        {
            handle.abort();
            // Another instance may take it at once (a disabled one is never taken).
            let leases = self.leases.clone();
            self.runtime.spawn(async move { leases.release(&connector_lease(id)).await });
        }
    }

    /// Stops every connector's task here (the instance stops).
    pub fn stop_all(&self) {
        let ids: Vec<i64> = self.tasks.lock().map(|t| t.keys().copied().collect()).unwrap_or_default();
        for id in ids {
            self.stop(id);
        }
    }

    /// Stops every connector's task here and keeps its leases (as a crash would).
    pub fn stop_all_silently(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for (_, handle) in tasks.drain() {
                handle.abort();
            }
        }
    }

    /// Whether a connector's task is running here.
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

    fn mailbox(protocol: MailProtocol) -> MailboxSettings {
        serde_json::from_value(json!({
            "name": "reports", "protocol": protocol, "host": "mail.example.org", "username": "phish"
        }))
        .expect("mailbox")
    }

    #[test]
    fn defaults_follow_the_protocol() {
        let imap = mailbox(MailProtocol::Imap);
        assert_eq!((after_of(&imap), port_of(&imap)), (AfterImport::Flag, 993));
        let pop = mailbox(MailProtocol::Pop3);
        assert_eq!((after_of(&pop), port_of(&pop)), (AfterImport::Leave, 995));
        assert!(validate(&imap).is_ok() && validate(&pop).is_ok());
    }

    #[test]
    fn rejects_actions_the_protocol_cannot_do() {
        let mut pop = mailbox(MailProtocol::Pop3);
        pop.after = Some(AfterImport::Flag);
        assert!(validate(&pop).is_err());
        let mut imap = mailbox(MailProtocol::Imap);
        imap.after = Some(AfterImport::Move);
        assert!(validate(&imap).is_err(), "move needs move_to");
        imap.move_to = Some("Processed".into());
        assert!(validate(&imap).is_ok());
        imap.flag = "\\Deleted".into();
        assert!(validate(&imap).is_err());
        imap.name = "no spaces".into();
        assert!(validate(&imap).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let opts = RunOptions::from_settings(
            &ConnectorSettings {
                backoff_initial_ms: 100,
                backoff_max_secs: 1,
                ..ConnectorSettings::default()
            },
            crate::settings::Settings::default().secret_rules(),
        );
        let ms = |n| opts.backoff(n).as_millis();
        assert!((100..=110).contains(&ms(1)));
        assert!((200..=220).contains(&ms(2)));
        assert!((1000..=1100).contains(&ms(30)));
    }
}
