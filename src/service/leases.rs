//! Leases (design.md §8, ARCHITECTURE.md "Leases"): the one way instances sharing a database
//! agree on who does what, with no protocol of their own. This module owns the instance's
//! holder id, the heartbeat that renews every lease it holds, the ownership test of periodic
//! jobs ([`Leases::hold`]) and the sweep that takes over the background work of instances that
//! stopped: a pending TAXII ingest is finished, a queued operation run is run, a running one is
//! closed `interrupted`, an unfinished UI import job is closed (its uploaded bytes lived in the
//! memory of the instance that stopped).
//!
//! Names: `run:ID`, `ui-job:ID`, `taxii-ingest:STATUS` (background work), `job:NAME`,
//! `connector:ID` and `subscription:ID` (periodic jobs).

use std::sync::Arc;
use std::time::Duration;

use crate::db::leases as store;
use crate::db::{Db, DbError, now_micros};
use crate::settings::ClusterSettings;

/// What an interrupted operation run says.
pub const RUN_INTERRUPTED: &str = "the instance running it stopped";

/// Prefixes of the names of background work.
const RUN: &str = "run:";
const UI_JOB: &str = "ui-job:";
const INGEST: &str = "taxii-ingest:";

/// This instance's side of the leases.
#[derive(Clone, Debug)]
pub struct Leases {
    db: Db,
    holder: Arc<str>,
    ttl: Duration,
    sweep: Duration,
}

/// `hostname-pid-random`: unique per process, and says which machine and process to look at.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    let mut random = [0u8; 4];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
    format!("{host}-{}-{}", std::process::id(), hex::encode(random))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Leases {
    pub fn new(db: Db, settings: &ClusterSettings) -> Self {
        Self {
            db,
            holder: instance_id().into(),
            ttl: Duration::from_secs(settings.lease_secs.max(1)),
            sweep: Duration::from_secs(settings.sweep_secs.max(1)),
        }
    }

    /// How long a job that is not held here waits before trying again: a third of the lease
    /// time, so a stopped holder's job moves within about one lease time.
    pub fn retry_interval(&self) -> Duration {
        (self.ttl / 3).max(Duration::from_millis(200))
    }

    /// This instance's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn expiry(&self) -> i64 {
        now_micros().saturating_add(micros(self.ttl))
    }

    /// Takes (or renews) `name` for this instance: true when this instance holds it. A database
    /// error counts as "not held": doing a job twice is worse than doing it a little later.
    pub async fn hold(&self, name: &str) -> bool {
        let (name, holder, until) = (name.to_string(), self.holder.clone(), self.expiry());
        match self.db.run(move |conn| store::acquire(conn, &name, &holder, now_micros(), until)).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("cannot take a lease: {e}");
                false
            }
        }
    }

    /// Gives `name` up (the work is done, or the job stops here).
    pub async fn release(&self, name: &str) {
        let (name, holder) = (name.to_string(), self.holder.clone());
        if let Err(e) = self.db.run(move |conn| store::release(conn, &name, &holder)).await {
            tracing::warn!("cannot release a lease: {e}");
        }
    }

    /// Gives up every lease of this instance (a graceful stop: others take over at once).
    pub async fn release_all(&self) {
        let holder = self.holder.clone();
        if let Err(e) = self.db.run(move |conn| store::release_all(conn, &holder)).await {
            tracing::warn!("cannot release the leases: {e}");
        }
    }

    /// Renews every lease of this instance, every third of the lease time, forever.
    pub async fn heartbeat_loop(self) {
        let mut tick = tokio::time::interval((self.ttl / 3).max(Duration::from_millis(200)));
        loop {
            tick.tick().await;
            let (holder, until) = (self.holder.clone(), self.expiry());
            if let Err(e) = self.db.run(move |conn| store::renew_all(conn, &holder, until)).await {
                tracing::warn!("cannot renew the leases: {e}");
            }
        }
    }

    /// Takes over expired background work at start and every `sweep_secs`, forever.
    pub async fn sweep_loop<R: RunResumer>(self, operations: R) {
        let mut tick = tokio::time::interval(self.sweep);
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep(&operations).await {
                tracing::warn!("cannot look for work to take over: {e}");
            }
        }
    }

    /// One sweep: every expired lease of background work, and every unfinished piece of work
    /// older than the lease time that has no lease at all, is claimed (compare-and-set: one
    /// instance wins) and then resumed or closed. Returns how many were taken over.
    pub async fn sweep<R: RunResumer>(&self, operations: &R) -> Result<usize, DbError> {
        let (holder, until, ttl) = (self.holder.clone(), self.expiry(), micros(self.ttl));
        let claimed = self
            .db
            .run(move |conn| {
                let now = now_micros();
                let mut claimed = Vec::new();
                let mut leased = std::collections::HashSet::new();
                for prefix in [RUN, UI_JOB, INGEST] {
                    for lease in store::with_prefix(conn, prefix)? {
                        if lease.expires_at < now
                            && lease.holder != *holder
                            && store::take_over(conn, &lease.name, &lease.holder, &holder, now, until)?
                        {
                            claimed.push(lease.name.clone());
                        }
                        leased.insert(lease.name);
                    }
                }
                let before = now.saturating_sub(ttl);
                let unleased = store::unfinished_runs(conn, before)?
                    .into_iter()
                    .map(|id| format!("{RUN}{id}"))
                    .chain(
                        store::unfinished_jobs(conn, before)?.into_iter().map(|id| format!("{UI_JOB}{id}")),
                    )
                    // Any age: storing an upload twice at once is safe (`ingest::drain`), so one
                    // accepted a moment ago by a live instance may be helped along.
                    .chain(
                        store::unfinished_ingests(conn, i64::MAX)?
                            .into_iter()
                            .map(|id| format!("{INGEST}{id}")),
                    )
                    .filter(|name| !leased.contains(name))
                    .collect::<Vec<_>>();
                for name in unleased {
                    if store::claim_unleased(conn, &name, &holder, until)? {
                        claimed.push(name);
                    }
                }
                Ok::<_, DbError>(claimed)
            })
            .await?;
        let count = claimed.len();
        for name in claimed {
            tracing::info!(work = %name, "taking over work whose holder stopped");
            let (this, operations) = (self.clone(), operations.clone());
            // Apart: one long TAXII upload must not delay the next take-over.
            tokio::spawn(async move { this.resume(&name, &operations).await });
        }
        Ok(count)
    }

    /// Resumes or closes one piece of work this instance has just taken over.
    async fn resume<R: RunResumer>(&self, name: &str, operations: &R) {
        if let Some(id) = name.strip_prefix(RUN).and_then(|id| id.parse::<i64>().ok()) {
            // The run keeps its lease while it runs again; `execute` releases it at the end.
            match operations.take_over(id).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(run = id, "cannot take over the run: {e}"),
            }
        } else if let Some(id) = name.strip_prefix(UI_JOB).and_then(|id| id.parse::<i64>().ok()) {
            if let Err(e) = self.db.run(move |conn| close_job(conn, id)).await {
                tracing::warn!(job = id, "cannot close the import job: {e}");
            }
        } else if let Some(status_id) = name.strip_prefix(INGEST)
            && let Err(e) = super::ingest::drain(self.db.clone(), status_id.to_string()).await
        {
            // Released below: unleased and old, the next sweep (here or elsewhere) tries again.
            tracing::warn!(status = %status_id, "cannot finish the TAXII upload: {e}");
        }
        self.release(name).await;
    }
}

/// Who resumes an operation run taken over from a stopped instance (the operations registry):
/// the leases know that a run is work to take over, not how to run one.
pub trait RunResumer: Clone + Send + Sync + 'static {
    /// True when the run goes on here (it keeps its lease); false when it was closed instead.
    fn take_over(
        &self,
        run_id: i64,
    ) -> impl std::future::Future<Output = Result<bool, super::ServiceError>> + Send;
}

/// The name of an operation run's lease.
pub fn run_lease(id: i64) -> String {
    format!("{RUN}{id}")
}

/// The name of a UI import job's lease.
pub fn ui_job_lease(id: i64) -> String {
    format!("{UI_JOB}{id}")
}

/// The name of a pending TAXII ingest's lease.
pub fn ingest_lease(status_id: &str) -> String {
    format!("{INGEST}{status_id}")
}

/// Closes an import job whose instance stopped: the messages it had not imported were only in
/// that instance's memory, so they are listed as not imported, with the reason. The result is
/// the JSON `web::drafts` writes (`{"imported": [...], "failed": [[label, reason], ...]}`).
fn close_job(conn: &mut crate::db::DbConn, id: i64) -> Result<(), DbError> {
    let Some(job) = crate::db::jobs::get(conn, id)? else { return Ok(()) };
    let mut result: serde_json::Value = serde_json::from_str(&job.result)
        .unwrap_or_else(|_| serde_json::json!({"imported": [], "failed": []}));
    let left = job.total.saturating_sub(job.done).saturating_sub(job.failed);
    let note = serde_json::json!([
        "(interrupted)",
        format!(
            "{RUN_INTERRUPTED_JOB}; {left} of {} messages were not imported: upload them again",
            job.total
        )
    ]);
    match result.get_mut("failed").and_then(serde_json::Value::as_array_mut) {
        Some(failed) => failed.push(note),
        None => result = serde_json::json!({"imported": [], "failed": [note]}),
    }
    crate::db::jobs::close(conn, id, &result.to_string(), now_micros())?;
    Ok(())
}

/// What an interrupted UI import job says.
pub const RUN_INTERRUPTED_JOB: &str = "the instance running this import stopped";
