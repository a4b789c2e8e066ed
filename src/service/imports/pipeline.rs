//! The import use case from end to end, the one every edge calls (REST, UI and its background
//! jobs, CLI, mailbox connectors): files in (an mbox split into its messages), each message
//! checked, looked up by content hash, extracted *without* a database connection, stored (a draft,
//! or a failed import when nothing could be read), optionally committed into an event, and — for
//! callers that must never drop an email (connectors) — refused bytes kept as a failed import.
//!
//! Extraction is CPU- and memory-bound: at most `imports.max_concurrent` emails are extracted at
//! once ([`Importer`]'s slots), on import threads of lower CPU priority (`imports.nice`), so the HTTP workers (a TAXII poller, the UI) are served first when the
//! cores are busy. Requests (REST, UI) beyond the slots queue up to `imports.max_queued`
//! requests and `imports.max_queued_bytes` bytes of bodies held, and are then refused as busy
//! (after their body is read and dropped, so the client reads the answer instead of a reset), so
//! a burst of pushes can neither exhaust the memory nor starve the TAXII pollers of CPU and pool
//! connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::{Notify, Semaphore};

use super::{
    Checked, Committed, Draft, EventMeta, ImportRequest, ImportState, Imported, Prepared, check, commit,
    record_failure,
};
use crate::db::imports::ImportRow;
use crate::db::imports::{self as store, NewImport};
use crate::db::{Db, DbError, jobs, now_micros};
use crate::db::{DbConn, write_tx};
use crate::extract::{self, InputKind};
use crate::service::ServiceContext;
use crate::service::ServiceError;
use crate::service::leases::{Leases, ui_job_lease};
use crate::service::verdict::actions as verdict;
use crate::service::whitelist;
use crate::settings::ImportSettings;

/// An email to import and the name the caller knows it by (a file, `file #3` for an mbox's
/// third message, a mailbox key).
#[derive(Debug, Clone)]
pub struct Message {
    pub label: String,
    pub request: ImportRequest,
}

/// The messages in one uploaded file, labelled: an mbox becomes its messages (`name #n`),
/// anything else is one message.
pub fn messages_in(name: &str, raw: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    if extract::detect_input(&raw) != InputKind::Mbox {
        return vec![(name.to_string(), raw)];
    }
    let parts = extract::split_mbox(&raw);
    let many = parts.len() > 1;
    parts
        .into_iter()
        .enumerate()
        .map(|(n, part)| (if many { format!("{name} #{}", n + 1) } else { name.to_string() }, part.to_vec()))
        .collect()
}

/// What happens after a message is stored.
#[derive(Debug, Clone, Default)]
pub struct Then {
    /// Commit a new draft into an event as this actor (with the request's metadata). A failed
    /// commit leaves the draft for the analyst and is reported in [`Outcome::committed`].
    pub commit_as: Option<String>,
    /// Keep an email refused before storing (empty, too large) as a failed import with its raw
    /// bytes instead of returning the refusal: for sources that must never drop one.
    pub keep_refused: bool,
}

/// What became of one message.
#[derive(Debug)]
pub struct Outcome {
    pub imported: Imported,
    /// `Some` when a commit was asked for and the import was a draft.
    pub committed: Option<Result<Committed, ServiceError>>,
}

/// One message through the whole use case, blocking (a CLI thread or the blocking pool). The
/// duplicate look-up and the store each take a pool connection for their statements only; the
/// extraction between them holds none.
pub fn run_one(
    db: &Db,
    ctx: &ServiceContext,
    req: ImportRequest,
    then: &Then,
) -> Result<Outcome, ServiceError> {
    let (raw, source) = then.keep_refused.then(|| (req.raw.clone(), req.source.clone())).unzip();
    let result = import_one(db, ctx, req);
    crate::metrics::global().import(match &result {
        Ok(Imported { created: true, .. }) => "created",
        Ok(_) => "existing",
        Err(_) => "failed",
    });
    let imported = match (result, raw, source) {
        (Ok(imported), ..) => imported,
        (Err(ServiceError::Invalid(why)), Some(raw), Some(source)) => {
            let row = record_failure(&mut *db.conn_sized(raw.len())?, &raw, &source, &why)?;
            return Ok(Outcome { imported: Imported { row, created: true }, committed: None });
        }
        (Err(e), ..) => return Err(e),
    };
    let committed = match &then.commit_as {
        Some(actor) if imported.row.state == super::ImportState::Draft => {
            // The metadata stored on the draft applies (`commit` merges it with what it is given).
            let result = commit(&mut *db.conn()?, ctx, imported.row.id, actor, EventMeta::default());
            if let Err(e) = &result {
                tracing::warn!(import = imported.row.id, "cannot commit the draft: {e}");
            }
            Some(result)
        }
        _ => None,
    };
    Ok(Outcome { imported, committed })
}

fn import_one(db: &Db, ctx: &ServiceContext, req: ImportRequest) -> Result<Imported, ServiceError> {
    let checked = check(ctx, req)?;
    if let Some(row) = checked.existing(&mut *db.conn()?)? {
        return Ok(Imported { row, created: false });
    }
    let prepared = checked.extract(ctx);
    store_draft(&mut *db.conn_sized(prepared.raw_len())?, ctx, prepared)
}

/// The import use case for the server: the database, the triage context and the limits.
/// Cheap to clone (shared state behind `Arc`s).
#[derive(Clone)]
pub struct Importer {
    db: Db,
    ctx: Arc<ServiceContext>,
    /// One permit per email extracted and stored at a time.
    slots: Arc<Semaphore>,
    /// Requests admitted (running or waiting for a slot).
    admitted: Arc<AtomicUsize>,
    max_admitted: usize,
    /// Body bytes the admitted requests hold.
    held: Arc<AtomicU64>,
    max_held: u64,
    /// Told when an admitted request gives its place and bytes back.
    released: Arc<Notify>,
    /// Requests waiting for a place, and how many and how long may.
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    max_wait: Duration,
    /// Where extraction runs.
    threads: ImportThreads,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("free_slots", &self.slots.available_permits())
            .field("admitted", &self.admitted.load(Ordering::Relaxed))
            .field("max_admitted", &self.max_admitted)
            .field("held_bytes", &self.held.load(Ordering::Relaxed))
            .field("max_held", &self.max_held)
            .finish_non_exhaustive()
    }
}

/// A request's place among the admitted ones and the body bytes it holds, given back when
/// dropped.
#[derive(Debug)]
pub struct Admission {
    admitted: Arc<AtomicUsize>,
    held: Arc<AtomicU64>,
    max_held: u64,
    /// Bytes this request holds (counted in `held`).
    mine: u64,
    /// Told on drop once the admission was given out (a place taken and given back at once by
    /// a refused attempt wakes no one: waiters would wake each other in a loop).
    released: Option<Arc<Notify>>,
}

impl Admission {
    /// Body bytes this request holds.
    pub fn held(&self) -> u64 {
        self.mine
    }

    /// Holds body bytes up to `total` for this request (a declared `Content-Length` before the
    /// body is read, or the length read so far). Busy when the bytes held by every admitted
    /// request would pass `imports.max_queued_bytes`, unless this request is the only one
    /// holding any (one body larger than the budget is still imported, alone).
    pub fn cover(&mut self, total: u64) -> Result<(), ServiceError> {
        let Some(more) = total.checked_sub(self.mine).filter(|m| *m > 0) else {
            return Ok(());
        };
        let before = self.held.fetch_add(more, Ordering::AcqRel);
        let others = before - self.mine;
        if others > 0 && before + more > self.max_held {
            self.held.fetch_sub(more, Ordering::AcqRel);
            return Err(ServiceError::Busy(format!(
                "the import queue holds {} MB of bodies already; try again shortly",
                others >> 20
            )));
        }
        self.mine = total;
        Ok(())
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.admitted.fetch_sub(1, Ordering::AcqRel);
        self.held.fetch_sub(self.mine, Ordering::AcqRel);
        if let Some(released) = &self.released {
            released.notify_waiters();
        }
    }
}

/// A request's place among those waiting for admission, given back when dropped.
struct WaitingPlace(Arc<AtomicUsize>);

impl WaitingPlace {
    fn take(waiting: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        if waiting.fetch_add(1, Ordering::AcqRel) >= max {
            waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Self(waiting.clone()))
    }
}

impl Drop for WaitingPlace {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A draft (or failed import) one upload made, as listed to the uploader and kept in a
/// background job's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Made {
    pub id: i64,
    pub subject: String,
    pub created: bool,
}

/// What a batch of messages became: `(label, outcome)` and `(label, why)` per message.
#[derive(Debug, Default)]
pub struct Batch {
    pub imported: Vec<(String, Outcome)>,
    pub failed: Vec<(String, String)>,
}

/// A background import's progress, stored in its job row after each message (`{}` before the
/// first).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JobProgress {
    pub imported: Vec<Made>,
    pub failed: Vec<(String, String)>,
}

impl Made {
    pub fn of(row: &ImportRow, created: bool) -> Self {
        Self { id: row.id, subject: row.subject.clone().unwrap_or_else(|| "(no subject)".into()), created }
    }
}

impl Importer {
    pub fn new(db: Db, ctx: Arc<ServiceContext>, settings: &ImportSettings) -> Self {
        let slots = settings.concurrency();
        Self {
            db,
            ctx,
            slots: Arc::new(Semaphore::new(slots)),
            admitted: Arc::default(),
            max_admitted: slots.saturating_add(settings.max_queued),
            held: Arc::default(),
            max_held: settings.max_queued_bytes,
            released: Arc::default(),
            waiting: Arc::default(),
            max_waiting: settings.max_waiting,
            max_wait: Duration::from_secs(settings.max_wait_secs),
            threads: ImportThreads::start(slots, settings.nice),
        }
    }

    pub fn ctx(&self) -> &ServiceContext {
        &self.ctx
    }

    /// Admits a request (REST, UI) before its body is read: refused as busy when the slots and
    /// the queue are taken, so a client learns it at once and retries later.
    pub fn admit(&self) -> Result<Admission, ServiceError> {
        let mut admission = self.try_admit(None)?;
        admission.released = Some(self.released.clone());
        Ok(admission)
    }

    /// One attempt at a place (and at `declared` body bytes); a refused attempt wakes no one.
    fn try_admit(&self, declared: Option<u64>) -> Result<Admission, ServiceError> {
        let before = self.admitted.fetch_add(1, Ordering::AcqRel);
        let mut admission = Admission {
            admitted: self.admitted.clone(),
            held: self.held.clone(),
            max_held: self.max_held,
            mine: 0,
            released: None,
        };
        if before >= self.max_admitted {
            return Err(ServiceError::Busy(format!(
                "the import queue is full ({before} running or waiting); try again shortly"
            )));
        }
        if let Some(len) = declared {
            admission.cover(len)?;
        }
        Ok(admission)
    }

    /// Admits a REST request whose body is not read yet, holding its declared length: when the
    /// queue is full it waits for a place (up to `imports.max_wait_secs`, and only
    /// `imports.max_waiting` requests at once) instead of being refused at once. A waiting
    /// request holds its connection, not its body (unread, it stays with the client), while a
    /// refused one has to be read to the end and dropped for the client to read the 503.
    pub async fn admit_waiting(&self, declared: Option<u64>) -> Result<Admission, ServiceError> {
        let deadline = tokio::time::Instant::now() + self.max_wait;
        let mut queued: Option<WaitingPlace> = None;
        loop {
            // Registered before the attempt, so a release between the attempt and the wait is
            // not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            let refused = match self.try_admit(declared) {
                Ok(mut admission) => {
                    admission.released = Some(self.released.clone());
                    return Ok(admission);
                }
                Err(e) => e,
            };
            if queued.is_none() {
                if self.max_wait.is_zero() {
                    return Err(refused);
                }
                queued = Some(WaitingPlace::take(&self.waiting, self.max_waiting).ok_or(refused)?);
            } else if tokio::time::Instant::now() >= deadline {
                return Err(refused);
            }
            let _ = tokio::time::timeout_at(deadline, released).await;
        }
    }

    /// Imports one message when a slot is free (waiting for it), on a thread of its own at the
    /// extraction priority.
    pub async fn import(&self, req: ImportRequest, then: &Then) -> Result<Outcome, ServiceError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| ServiceError::Internal("the import slots are closed".into()))?;
        let (db, ctx, then) = (self.db.clone(), self.ctx.clone(), then.clone());
        self.threads.run(move || run_one(&db, &ctx, req, &then)).await?
    }

    /// Keeps bytes that are not to be imported (a connector's message cut at the size limit, or
    /// one set aside as poison) as a failed import with the reason.
    pub async fn keep_failed(
        &self,
        raw: Vec<u8>,
        source: String,
        why: String,
    ) -> Result<ImportRow, ServiceError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            record_failure(&mut *db.conn_sized(raw.len())?, &raw, &source, &why)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("import task: {e}")))?
    }

    /// The messages of uploaded files ([`requests`]) split off the HTTP workers: an mbox of
    /// thousands of emails is scanned and copied, which would stall every request on that worker.
    pub async fn requests(
        &self,
        files: Vec<(String, Vec<u8>)>,
        source: String,
        source_metadata: Option<Value>,
        actor: Option<String>,
        meta: EventMeta,
    ) -> Result<Vec<Message>, ServiceError> {
        tokio::task::spawn_blocking(move || {
            requests(files, &source, source_metadata.as_ref(), actor.as_deref(), &meta)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("import task: {e}")))
    }

    /// Imports messages one after the other. A storage failure (the database is away) stops
    /// the batch and is returned; any other failure is listed with the message's label.
    pub async fn import_all(&self, messages: Vec<Message>, then: &Then) -> Result<Batch, DbError> {
        let mut batch = Batch::default();
        for Message { label, request } in messages {
            match self.import(request, then).await {
                Ok(outcome) => batch.imported.push((label, outcome)),
                Err(ServiceError::Db(e)) => return Err(e),
                Err(e) => batch.failed.push((label, e.to_string())),
            }
        }
        Ok(batch)
    }

    /// Starts a background import of `messages` for user `user_id`, which keeps the upload's
    /// `admission` (its place and bytes in the queue) until it ends: a job row whose progress is
    /// stored after each message (the progress page works from any instance), held by the
    /// lease `ui-job:ID` while this instance works on it (closed as interrupted by another
    /// instance if this one stops). Returns the job's id.
    pub async fn start_job(
        &self,
        leases: &Leases,
        user_id: i64,
        messages: Vec<Message>,
        then: Then,
        admission: Admission,
    ) -> Result<i64, DbError> {
        let total = i64::try_from(messages.len()).unwrap_or(i64::MAX);
        let job = self.db.run(move |conn| jobs::insert(conn, user_id, "import", total, now_micros())).await?;
        let job_id = job.id;
        let leases = leases.clone();
        leases.hold(&ui_job_lease(job_id)).await;
        let importer = self.clone();
        tokio::spawn(async move {
            importer.run_job(job_id, messages, &then).await;
            drop(admission);
            leases.release(&ui_job_lease(job_id)).await;
        });
        Ok(job_id)
    }

    async fn run_job(&self, job_id: i64, messages: Vec<Message>, then: &Then) {
        let mut progress = JobProgress::default();
        for Message { label, request } in messages {
            match self.import(request, then).await {
                Ok(o) => progress.imported.push(Made::of(&o.imported.row, o.imported.created)),
                Err(ServiceError::Db(e)) => progress.failed.push(("(storage)".into(), e.to_string())),
                Err(e) => progress.failed.push((label, e.to_string())),
            }
            if let Err(e) = self.store_progress(job_id, &progress, None).await {
                tracing::warn!("import job {job_id}: {e}");
            }
        }
        if let Err(e) = self.store_progress(job_id, &progress, Some(now_micros())).await {
            tracing::warn!("import job {job_id}: {e}");
        }
    }

    async fn store_progress(
        &self,
        job_id: i64,
        p: &JobProgress,
        finished: Option<i64>,
    ) -> Result<(), DbError> {
        let text = serde_json::to_string(p).unwrap_or_else(|_| "{}".into());
        let counts =
            (i64::try_from(p.imported.len()).unwrap_or(0), i64::try_from(p.failed.len()).unwrap_or(0));
        self.db.run(move |conn| jobs::update(conn, job_id, counts, &text, finished)).await
    }
}

/// A job for an import thread.
type Job = Box<dyn FnOnce() + Send>;

/// The import threads: long-lived threads at the extraction priority, fed by a channel (one per
/// slot, so a job never waits for one). Threads of their own, not the blocking pool: Linux keeps
/// the nice value per thread, a pool thread would keep it for the database calls it runs next,
/// and an unprivileged process cannot raise it back. Long-lived, not one per import: the
/// allocator keeps per-thread heaps, and a heap per short-lived thread held ~100 MiB more in the
/// soak. They stop when the importer (every clone) is dropped.
#[derive(Clone)]
struct ImportThreads {
    jobs: std::sync::mpsc::Sender<Job>,
    nice: i32,
}

impl ImportThreads {
    fn start(count: usize, nice: i32) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for k in 0..count {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("harpoon-import-{k}"))
                // Extraction recurses (MIME, nested messages, archives) within its depth limits.
                .stack_size(8 << 20)
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panic ends its job (the waiting request hears of it), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = started {
                tracing::error!("cannot start import thread {k}: {e} (imports start a thread each)");
            }
        }
        Self { jobs, nice }
    }

    /// Runs `work` on an import thread (or, when none is running, a new one at the same
    /// priority) and waits for its answer.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ServiceError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The receiver is gone only when the request was dropped; the work is done anyway.
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        if let Err(std::sync::mpsc::SendError(job)) = self.jobs.send(job) {
            let nice = self.nice;
            std::thread::Builder::new()
                .name("harpoon-import".into())
                .stack_size(8 << 20)
                .spawn(move || {
                    lower_priority(nice);
                    job();
                })
                .map_err(|e| ServiceError::Internal(format!("cannot start an import thread: {e}")))?;
        }
        rx.await.map_err(|_| ServiceError::Internal("the import thread stopped before answering".into()))
    }
}

/// Lowers the calling thread's CPU priority by `nice` (Linux: per thread).
fn lower_priority(nice: i32) {
    if nice != 0
        && let Err(e) = rustix::process::setpriority_process(None, nice)
    {
        tracing::debug!("cannot lower the import thread's priority: {e}");
    }
}

/// The requests of one upload: each file's messages with the same source, actor and metadata.
pub fn requests(
    files: Vec<(String, Vec<u8>)>,
    source: &str,
    source_metadata: Option<&Value>,
    actor: Option<&str>,
    meta: &EventMeta,
) -> Vec<Message> {
    files
        .into_iter()
        .flat_map(|(name, raw)| messages_in(&name, raw))
        .map(|(label, raw)| Message {
            label,
            request: ImportRequest {
                raw,
                source: source.to_string(),
                source_metadata: source_metadata.cloned(),
                actor: actor.map(str::to_string),
                meta: meta.clone(),
            },
        })
        .collect()
}

/// Stores a prepared email: whitelist marking, and the draft (or a failed import when nothing
/// could be read) with its items in one insert; the existing import when the same bytes were
/// stored meanwhile. Every import path (REST, UI, background jobs, CLI, connectors) stores its
/// drafts here, through `pipeline::run_one`.
pub fn store_draft(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    prepared: Prepared,
) -> Result<Imported, ServiceError> {
    let Prepared { checked: Checked { req, hash }, extraction: x } = prepared;
    let rules = whitelist::load(conn)?;
    let draft = Draft::build(&x, &rules);
    let reported = x.reported();
    let now = now_micros();
    let extraction_json =
        serde_json::to_string(&x).map_err(|e| ServiceError::Internal(format!("extraction JSON: {e}")))?;
    let failed = x.messages.is_empty() && x.observables.is_empty();
    let error = failed.then(|| {
        let why: Vec<String> = x.warnings.iter().map(|w| w.detail.clone()).collect();
        if why.is_empty() { "no message or indicator could be read".to_string() } else { why.join("; ") }
    });
    let meta_json = serde_json::to_string(&req.meta).unwrap_or_else(|_| "{}".into());
    let source_metadata = req.source_metadata.as_ref().map(Value::to_string);
    let input_kind =
        serde_json::to_value(x.input).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    let new = NewImport {
        content_sha256: &hash,
        raw: &req.raw,
        raw_size: i64::try_from(req.raw.len()).unwrap_or(i64::MAX),
        source: &req.source,
        source_metadata: source_metadata.as_deref(),
        input_kind: &input_kind,
        state: if failed { ImportState::Failed } else { ImportState::Draft },
        error: error.as_deref(),
        extraction: Some(&extraction_json),
        subject: reported.and_then(|m| m.subject.as_deref()),
        sender: draft.sender.as_deref(),
        reporter: draft.reporter.as_deref(),
        message_id: draft.message_id.as_deref(),
        fingerprint: Some(&draft.fingerprint),
        meta: &meta_json,
        created_by: req.actor.as_deref(),
        created_at: now,
        updated_at: now,
    };
    // The verdict is decided before the write transaction (facts, DKIM, lookups), stored inside
    // it (one commit with the draft), and the team's rules act on it after.
    let decided = if failed {
        None
    } else {
        let new_draft = verdict::NewDraft {
            items: &draft.items,
            message_id: draft.message_id.as_deref(),
            fingerprint: Some(&draft.fingerprint),
        };
        verdict::decide_before_storing(conn, ctx, &new_draft, &req.raw, &x)
    };
    let id = write_tx(conn, |conn| {
        let id = store::insert(conn, &new, &draft.items)?;
        // A new draft joins the campaign of the drafts it shares keys with, in the same
        // transaction (so the draft and its grouping commit together).
        if let Some(id) = id
            && ctx.campaigns
        {
            crate::service::campaigns::on_import(conn, id, &x, &rules)?;
        }
        // `id` is Some when the draft is new: its verdict is stored once, here.
        if let (Some(id), Some(d)) = (id, &decided) {
            verdict::record(conn, id, d)?;
        }
        Ok::<_, ServiceError>(id)
    })?;
    if let (Some(id), Some(d)) = (id, &decided) {
        verdict::act(conn, ctx, id, &d.assessment);
    }
    let row = match id {
        Some(id) => store::get(conn, id)?,
        None => store::by_hash(conn, &hash)?,
    }
    .ok_or_else(|| ServiceError::NotFound("import".into()))?;
    Ok(Imported { row, created: id.is_some() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mbox_becomes_its_messages_labelled_and_anything_else_one() {
        let mbox = b"From a@example.org Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n\n\
                     From b@example.org Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n"
            .to_vec();
        let got = messages_in("reports.mbox", mbox);
        let labels: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["reports.mbox #1", "reports.mbox #2"]);
        assert!(got[1].1.starts_with(b"From b@") || got[1].1.starts_with(b"Subject: two"), "{:?}", got[1]);
        let one = messages_in("x.eml", b"Subject: hi\r\n\r\nbody\r\n".to_vec());
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].0, "x.eml");
    }

    fn admission(held: &Arc<AtomicU64>, max_held: u64) -> Admission {
        Admission {
            admitted: Arc::new(AtomicUsize::new(1)),
            held: held.clone(),
            max_held,
            mine: 0,
            released: None,
        }
    }

    #[test]
    fn admitted_requests_hold_bodies_within_the_byte_budget_and_one_large_body_alone() {
        let held = Arc::new(AtomicU64::new(0));
        let mut a = admission(&held, 100);
        let mut b = admission(&held, 100);
        a.cover(60).unwrap();
        a.cover(30).unwrap(); // less than held: nothing more
        assert!(matches!(b.cover(50), Err(ServiceError::Busy(_))));
        assert_eq!(held.load(Ordering::Acquire), 60, "a refused cover holds nothing");
        b.cover(40).unwrap();
        let mut c = admission(&held, 100);
        assert!(c.cover(1).is_err(), "the budget is full");
        drop(a);
        assert_eq!(held.load(Ordering::Acquire), 40);
        assert!(c.cover(200).is_err(), "larger than the budget while another body is held");
        drop(b);
        c.cover(200).expect("a body larger than the budget is taken alone");
        let mut d = admission(&held, 100);
        assert!(d.cover(1).is_err());
        drop(c);
        drop(d);
        assert_eq!(held.load(Ordering::Acquire), 0);
    }

    #[test]
    fn requests_carry_the_upload_s_source_actor_and_metadata() {
        let meta = EventMeta { title: Some("t".into()), ..EventMeta::default() };
        let files = vec![("a.eml".to_string(), b"Subject: a\r\n\r\nx\r\n".to_vec())];
        let got = requests(files, "ui", None, Some("alice"), &meta);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].label.as_str(), got[0].request.source.as_str()), ("a.eml", "ui"));
        assert_eq!(got[0].request.actor.as_deref(), Some("alice"));
        assert_eq!(got[0].request.meta, meta);
    }
}
