//! Operations: actions on an indicator that find more intelligence (docs/operations.md). This
//! module owns the registry (the built-ins and the script operations of the configured
//! directory, each with its description, the indicator types it applies to, its parameters, a
//! timeout and a concurrency limit) and the runner: a run is stored `queued`, executes as a
//! background tokio task (never on an HTTP worker; database work through `Db::run`), is bounded
//! in time, and ends `succeeded`, `failed` or `timed_out` with its output, what it created and
//! its error (or `interrupted` when the instance running it stopped: `service::leases`). A
//! panicking operation fails its run and nothing else. The queue is bounded
//! (`operations.max_queued_runs`, then `ServiceError::Busy`). Findings are applied by
//! `findings::apply`, the same indicator code a commit uses.

pub mod findings;
pub mod nslookup;
pub mod script;
pub mod splunk;
pub mod url_to_fqdn;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use super::ServiceError;
use super::leases::{Leases, RUN_INTERRUPTED, run_lease};
use crate::db::indicators::{self as ind, IndicatorRow};
pub use crate::db::operations::RunStatus;
use crate::db::operations::{self as store, NewRun, RunEnd, RunRow, SightingRow};
use crate::db::{Db, DbError, now_micros};
use crate::extract::ObservableKind;
use crate::service::ServiceContext;
use crate::settings::OperationsSettings;

pub use findings::{Findings, Node, Observable, Relation, Sighted};

/// The type of a run parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    Integer,
    String,
    Boolean,
}

/// A parameter a run may set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    pub default: Value,
    pub description: String,
}

/// What the registry says about an operation (`GET /api/v1/indicators/{id}/operations`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationInfo {
    pub name: String,
    pub description: String,
    /// Indicator types (`url`, `domain`, `ipv4`, …).
    pub applies_to: Vec<String>,
    pub parameters: Vec<ParamSpec>,
}

impl OperationInfo {
    pub fn applies(&self, kind: &str) -> bool {
        self.applies_to.iter().any(|k| k == kind)
    }

    /// The run's parameters: each known one checked against its type, defaults filled in;
    /// unknown ones refused.
    pub fn parameters_for(&self, given: &Map<String, Value>) -> Result<Map<String, Value>, ServiceError> {
        if let Some(unknown) = given.keys().find(|k| !self.parameters.iter().any(|p| &p.name == *k)) {
            let known: Vec<&str> = self.parameters.iter().map(|p| p.name.as_str()).collect();
            return Err(ServiceError::Invalid(format!(
                "{} has no parameter '{unknown}' (it has: {})",
                self.name,
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        let mut out = Map::new();
        for p in &self.parameters {
            let value = given.get(&p.name).cloned().unwrap_or_else(|| p.default.clone());
            let ok = match p.kind {
                ParamType::Integer => value.is_i64() || value.is_u64(),
                ParamType::String => value.is_string(),
                ParamType::Boolean => value.is_boolean(),
            };
            if !ok {
                return Err(ServiceError::Invalid(format!(
                    "parameter '{}' of {} must be {}",
                    p.name,
                    self.name,
                    match p.kind {
                        ParamType::Integer => "an integer",
                        ParamType::String => "a string",
                        ParamType::Boolean => "true or false",
                    }
                )));
            }
            out.insert(p.name.clone(), value);
        }
        Ok(out)
    }
}

/// The indicator an operation runs on.
#[derive(Debug, Clone)]
pub struct Subject {
    pub indicator_id: i64,
    pub kind: ObservableKind,
    pub value: String,
    pub run_id: i64,
}

/// Why an operation produced no findings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    TimedOut(String),
}

/// What runs: a built-in or a script.
#[derive(Debug, Clone)]
enum Runnable {
    Nslookup(nslookup::Nslookup),
    UrlToFqdn,
    Splunk(splunk::Splunk),
    Script(script::Script),
}

impl Runnable {
    async fn run(&self, subject: Subject, params: Map<String, Value>) -> Result<Findings, OpError> {
        match self {
            Runnable::Nslookup(op) => op.run(&subject).await,
            Runnable::UrlToFqdn => url_to_fqdn::run(&subject),
            Runnable::Splunk(op) => op.run(&subject, &params).await,
            Runnable::Script(op) => op.run(&subject, &params).await,
        }
    }
}

struct Entry {
    info: OperationInfo,
    runnable: Runnable,
    timeout: Duration,
    permits: Arc<Semaphore>,
}

/// A run as the edges show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub id: i64,
    pub operation: String,
    pub indicator_id: i64,
    /// `queued`, `running`, `succeeded`, `failed`, `timed_out` or `interrupted` (the instance
    /// running it stopped).
    pub status: String,
    pub started_by: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub parameters: Value,
    /// `notes`, `hosts`, `sample` (and for scripts `exit_status`, `stderr`).
    pub output: Value,
    /// `indicators` (ids), `relationships`, `sightings`, `notes` (counts).
    pub created: Value,
    pub error: Option<String>,
}

/// A sighting as the edges show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SightingView {
    pub id: i64,
    pub stix_id: String,
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    pub hosts: Vec<String>,
    pub description: Option<String>,
    pub run_id: Option<i64>,
}

pub(crate) fn rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

impl RunView {
    pub fn of(row: &RunRow) -> Self {
        let created = match json_of(&row.created) {
            Value::Object(o) if !o.is_empty() => Value::Object(o),
            _ => empty_created(),
        };
        Self {
            id: row.id,
            operation: row.operation.clone(),
            indicator_id: row.indicator_id,
            status: row.status.as_str().to_string(),
            started_by: row.started_by.clone(),
            created_at: rfc3339(row.created_at),
            started_at: row.started_at.map(rfc3339),
            finished_at: row.finished_at.map(rfc3339),
            duration_ms: row.started_at.zip(row.finished_at).map(|(s, f)| (f - s).max(0) / 1000),
            parameters: json_of(&row.parameters),
            output: json_of(&row.output),
            created,
            error: row.error.clone(),
        }
    }
}

impl SightingView {
    pub fn of(row: &SightingRow) -> Self {
        Self {
            id: row.id,
            stix_id: row.stix_id.clone(),
            count: row.count,
            first_seen: rfc3339(row.first_seen),
            last_seen: rfc3339(row.last_seen),
            hosts: row.hosts.0.clone(),
            description: row.description.clone(),
            run_id: row.run_id,
        }
    }
}

fn empty_created() -> Value {
    json!({ "indicators": [], "relationships": 0, "sightings": 0, "notes": 0 })
}

/// The operations this server offers, and the runner.
#[derive(Clone)]
pub struct Registry {
    entries: Arc<Vec<Entry>>,
    db: Db,
    triage: Arc<ServiceContext>,
    /// Each run holds the lease `run:ID` while queued or running here.
    leases: Leases,
    /// Runs queued or running in this instance, and the most there may be.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
}

/// One run counted in `Registry::in_flight`, uncounted when dropped (however the run ends).
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Registry {
    /// The built-ins (splunk-search only when configured) and the script operations of the
    /// configured directory. A script whose manifest is broken is left out with a logged reason.
    pub fn new(
        db: Db,
        triage: Arc<ServiceContext>,
        settings: &OperationsSettings,
        rules: &crate::settings::SecretRules,
        leases: Leases,
    ) -> Result<Self, ServiceError> {
        let max_timeout = Duration::from_secs(settings.max_timeout_secs.max(1));
        let default_timeout = Duration::from_secs(settings.default_timeout_secs.max(1)).min(max_timeout);
        let limit = settings.max_concurrent_runs.max(1);
        let mut entries = Vec::new();
        let mut add = |info: OperationInfo, runnable: Runnable, timeout: Duration, concurrency: usize| {
            entries.push(Entry {
                info,
                runnable,
                timeout,
                permits: Arc::new(Semaphore::new(concurrency.max(1))),
            });
        };
        let ns = nslookup::Nslookup::new(&settings.nslookup)?;
        add(nslookup::info(), Runnable::Nslookup(ns), default_timeout, limit);
        add(url_to_fqdn::info(), Runnable::UrlToFqdn, default_timeout, limit);
        if !settings.splunk.url.trim().is_empty() {
            let sp = splunk::Splunk::new(&settings.splunk, &settings.http, rules)?;
            let timeout = Duration::from_secs(settings.splunk.timeout_secs.max(1)).min(max_timeout);
            add(sp.info(), Runnable::Splunk(sp), timeout + Duration::from_secs(1), limit);
        }
        if let Some(dir) = &settings.scripts.dir {
            for found in script::discover(dir, &settings.scripts) {
                match found {
                    Ok(mut s) => {
                        if s.cap_timeout(max_timeout) {
                            tracing::warn!(
                                operation = %s.info().name,
                                "the manifest's timeout_secs is above operations.max_timeout_secs: cut to {} s",
                                max_timeout.as_secs()
                            );
                        }
                        s.set_default_timeout(default_timeout);
                        // The script kills itself at its timeout; the runner's is a backstop.
                        let timeout = s.timeout(default_timeout) + Duration::from_secs(2);
                        let concurrency = s.max_concurrent().unwrap_or(limit);
                        add(s.info(), Runnable::Script(s), timeout, concurrency);
                    }
                    Err(e) => tracing::warn!("script operation left out: {e}"),
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        if let Some(dup) = entries.iter().find(|e| !seen.insert(e.info.name.clone())) {
            return Err(ServiceError::Invalid(format!("two operations are named '{}'", dup.info.name)));
        }
        Ok(Self {
            entries: Arc::new(entries),
            db,
            triage,
            leases,
            in_flight: Arc::default(),
            max_in_flight: settings.max_queued_runs.max(1),
        })
    }

    /// Every operation.
    pub fn all(&self) -> Vec<OperationInfo> {
        self.entries.iter().map(|e| e.info.clone()).collect()
    }

    /// The operations that apply to an indicator of `kind`.
    pub fn applicable(&self, kind: &str) -> Vec<OperationInfo> {
        self.entries.iter().filter(|e| e.info.applies(kind)).map(|e| e.info.clone()).collect()
    }

    /// The operations applicable to an indicator.
    pub async fn for_indicator(&self, indicator_id: i64) -> Result<Vec<OperationInfo>, ServiceError> {
        let row = self.indicator(indicator_id).await?;
        Ok(self.applicable(row.kind.as_str()))
    }

    async fn indicator(&self, id: i64) -> Result<IndicatorRow, ServiceError> {
        self.db
            .run(move |conn| ind::get(conn, id))
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("indicator {id}")))
    }

    /// Starts a run in the background and returns it as stored (`queued`).
    pub async fn start(
        &self,
        indicator_id: i64,
        name: &str,
        parameters: &Map<String, Value>,
        actor: &str,
    ) -> Result<RunView, ServiceError> {
        let index = self
            .entries
            .iter()
            .position(|e| e.info.name == name)
            .ok_or_else(|| ServiceError::NotFound(format!("operation '{name}'")))?;
        let entry =
            self.entries.get(index).ok_or_else(|| ServiceError::NotFound(format!("operation '{name}'")))?;
        let row = self.indicator(indicator_id).await?;
        if !entry.info.applies(row.kind.as_str()) {
            return Err(ServiceError::Invalid(format!(
                "{name} applies to {}, not to a {} indicator",
                entry.info.applies_to.join(", "),
                row.kind
            )));
        }
        let kind = row.kind;
        let params = entry.info.parameters_for(parameters)?;
        let slot = self.reserve()?;
        let params_text = Value::Object(params.clone()).to_string();
        let (operation, actor_name) = (name.to_string(), actor.to_string());
        let run = self
            .db
            .run(move |conn| {
                store::insert_run(
                    conn,
                    &NewRun {
                        operation: &operation,
                        indicator_id,
                        status: RunStatus::Queued,
                        started_by: &actor_name,
                        parameters: &params_text,
                        created_at: now_micros(),
                    },
                )
            })
            .await?;
        // Leased before anything else can see it unleased for a whole lease time (the sweep
        // leaves younger runs alone).
        self.leases.hold(&run_lease(run.id)).await;
        let subject = Subject { indicator_id, kind, value: row.value.clone(), run_id: run.id };
        let this = self.clone();
        tokio::spawn(async move { this.execute(index, subject, params, slot).await });
        Ok(RunView::of(&run))
    }

    /// Counts one more run in this instance, or refuses it when the queue is full.
    fn reserve(&self) -> Result<InFlight, ServiceError> {
        let max = self.max_in_flight;
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1))
            .map_err(|_| {
                ServiceError::Busy(format!(
                    "the run queue is full ({max} runs queued or running); try again when some have ended"
                ))
            })?;
        Ok(InFlight(self.in_flight.clone()))
    }

    /// Takes over a run whose holder stopped (its lease is this instance's now): a queued run
    /// is run here (true); a running one is closed `interrupted` (false, the lease can go).
    pub async fn take_over(&self, run_id: i64) -> Result<bool, ServiceError> {
        let Some(run) = self.db.run(move |conn| store::get_run(conn, run_id)).await? else {
            return Ok(false);
        };
        match run.status {
            RunStatus::Running => {
                let at = now_micros();
                self.db.run(move |conn| store::interrupt_run(conn, run_id, RUN_INTERRUPTED, at)).await?;
                Ok(false)
            }
            RunStatus::Queued => {
                let found = self.entries.iter().position(|e| e.info.name == run.operation);
                let indicator = self.db.run(move |conn| ind::get(conn, run.indicator_id)).await?;
                let params = match json_of(&run.parameters) {
                    Value::Object(p) => p,
                    _ => Map::new(),
                };
                let (Some(index), Some(row)) = (found, indicator) else {
                    // Nothing to run it with any more: it ends as if it had been interrupted.
                    let at = now_micros();
                    self.db
                        .run(move |conn| {
                            store::mark_running(conn, run_id, at)?;
                            store::interrupt_run(conn, run_id, RUN_INTERRUPTED, at)
                        })
                        .await?;
                    return Ok(false);
                };
                let kind = row.kind;
                let Ok(slot) = self.reserve() else {
                    // Full here: give it back; the next sweep (here or elsewhere) tries again.
                    return Ok(false);
                };
                let subject = Subject { indicator_id: row.id, kind, value: row.value, run_id };
                let this = self.clone();
                tokio::spawn(async move { this.execute(index, subject, params, slot).await });
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The background part of a run: wait for a permit, run bounded in time (a panic is caught
    /// as the inner task's failure), apply the findings, store the end, give the lease up.
    async fn execute(self, index: usize, subject: Subject, params: Map<String, Value>, slot: InFlight) {
        let run_id = subject.run_id;
        self.execute_held(index, subject, params).await;
        drop(slot);
        self.leases.release(&run_lease(run_id)).await;
    }

    async fn execute_held(&self, index: usize, subject: Subject, params: Map<String, Value>) {
        let Some(entry) = self.entries.get(index) else { return };
        let run_id = subject.run_id;
        let _permit = match entry.permits.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return,
        };
        match self.db.run(move |conn| store::mark_running(conn, run_id, now_micros())).await {
            Ok(true) => {}
            // Not queued any more: another instance took it over meanwhile.
            Ok(false) => return,
            Err(e) => {
                tracing::error!(run = run_id, "cannot mark the run running: {e}");
                return;
            }
        }
        let runnable = entry.runnable.clone();
        let inner_subject = subject.clone();
        let mut task = tokio::spawn(async move { runnable.run(inner_subject, params).await });
        let outcome = match tokio::time::timeout(entry.timeout, &mut task).await {
            Err(_) => {
                task.abort();
                Err(OpError::TimedOut(format!(
                    "the run took longer than {} s and was stopped",
                    entry.timeout.as_secs()
                )))
            }
            Ok(Err(join)) if join.is_panic() => Err(OpError::Failed("the operation crashed (panic)".into())),
            Ok(Err(join)) => Err(OpError::Failed(format!("the operation was cancelled: {join}"))),
            Ok(Ok(result)) => result,
        };
        let name = entry.info.name.clone();
        let triage = self.triage.clone();
        let stored = self
            .db
            .run(move |conn| {
                // Closed by another instance meanwhile (it took the run over): nothing of this
                // run is applied, its end is theirs.
                if store::get_run(conn, run_id)?.is_some_and(|r| r.status != RunStatus::Running) {
                    return Ok(false);
                }
                let (status, output, created, error) = match outcome {
                    Ok(findings) => {
                        let output = findings.output();
                        match findings::apply(conn, &triage, &name, &subject, &findings) {
                            Ok(created) => (RunStatus::Succeeded, output, created, None),
                            Err(e) => (
                                RunStatus::Failed,
                                output,
                                empty_created(),
                                Some(format!("storing the findings failed: {e}")),
                            ),
                        }
                    }
                    Err(OpError::Failed(e)) => (RunStatus::Failed, json!({}), empty_created(), Some(e)),
                    Err(OpError::TimedOut(e)) => (RunStatus::TimedOut, json!({}), empty_created(), Some(e)),
                };
                crate::metrics::global().run_ended(&name, status.as_str());
                let end_at = now_micros();
                let output = output.to_string();
                let created = created.to_string();
                store::finish_run(
                    conn,
                    run_id,
                    &RunEnd {
                        status,
                        output: &output,
                        created: &created,
                        error: error.as_deref(),
                        finished_at: end_at,
                    },
                )
            })
            .await;
        match stored {
            Ok(true) => {}
            Ok(false) => tracing::warn!(run = run_id, "the run was closed by another instance meanwhile"),
            Err(e) => tracing::error!(run = run_id, "cannot store the end of the run: {e}"),
        }
    }

    /// One run.
    pub async fn run(&self, run_id: i64) -> Result<RunView, ServiceError> {
        let row = self
            .db
            .run(move |conn| store::get_run(conn, run_id))
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("run {run_id}")))?;
        Ok(RunView::of(&row))
    }

    /// The runs on an indicator, newest first.
    pub async fn runs_of(&self, indicator_id: i64) -> Result<Vec<RunView>, ServiceError> {
        self.indicator(indicator_id).await?;
        let rows = self.db.run(move |conn| store::runs_of(conn, indicator_id, 500)).await?;
        Ok(rows.iter().map(RunView::of).collect())
    }

    /// The latest runs across indicators, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<RunView>, ServiceError> {
        let limit = limit.clamp(1, 500);
        let rows = self.db.run(move |conn| store::recent_runs(conn, limit)).await?;
        Ok(rows.iter().map(RunView::of).collect())
    }

    /// The sightings of an indicator, newest first.
    pub async fn sightings_of(&self, indicator_id: i64) -> Result<Vec<SightingView>, ServiceError> {
        self.indicator(indicator_id).await?;
        let rows = self.db.run(move |conn| store::sightings_of(conn, indicator_id)).await?;
        Ok(rows.iter().map(SightingView::of).collect())
    }
}

impl From<DbError> for OpError {
    fn from(e: DbError) -> Self {
        OpError::Failed(e.to_string())
    }
}

/// Per-operation configuration values as strings, from the settings (scripts' `config`).
pub type ConfigValues = BTreeMap<String, String>;

impl super::leases::RunResumer for Registry {
    fn take_over(&self, run_id: i64) -> impl std::future::Future<Output = Result<bool, ServiceError>> + Send {
        Registry::take_over(self, run_id)
    }
}
