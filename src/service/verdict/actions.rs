//! Verdicts in the store and the rules the team controls: a new draft's verdict is computed and
//! stored right after the draft (never failing the import); a `known phish` joins its event when
//! `auto_join_known_phish` says so; a `likely benign` draft is closed by one click or, when an
//! admin turned `auto_close_likely_benign` on, at once. Every action is audited and can be undone:
//! the draft is reopened, and a join takes back exactly what it added to the event. A close queues
//! the reporter's `benign` answer (`service::notify`); an undo withdraws an answer not yet sent.

use serde::{Deserialize, Serialize};

use super::auth::DkimCheck;
use super::{Assessment, Facts, INPUTS_VERSION, Known, Verdict, decide, reasons, reasons_json, reasons_of};
use crate::db::audit::{self, AuditEntry};
use crate::db::imports::{self as drafts, ImportState, NewItem, SameEmailKey};
use crate::db::verdicts::{self as store, NewVerdict, VerdictRow};
use crate::db::{Db, DbConn, Transient, events, now_micros, reads, savepoint, write_tx};
use crate::extract::Extraction;
use crate::service::ServiceContext;
use crate::service::ServiceError;
use crate::service::imports::{self, EventMeta};
use crate::service::notify::{self, FinalVerdict};

/// Who acts when a rule acts.
pub const AUTOMATIC: &str = "automatic";

/// What an action changed, kept so that it can be undone exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionDetail {
    /// `automatic: matched indicator 7 (domain evil.example)`, or who clicked.
    pub provenance: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<i64>,
    /// Indicators linked to the event by this join (they were not before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked: Vec<i64>,
    /// Indicators the join created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<i64>,
}

/// A stored verdict as the edges show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVerdict {
    pub verdict: Verdict,
    pub score: i32,
    pub reasons: Vec<super::Reason>,
    pub computed_at: i64,
    pub inputs_version: i32,
    pub action: Option<String>,
    pub action_by: Option<String>,
    pub action_at: Option<i64>,
    pub action_detail: Option<ActionDetail>,
    pub undone_at: Option<i64>,
    pub undone_by: Option<String>,
}

impl StoredVerdict {
    pub fn of(row: VerdictRow) -> Self {
        Self {
            verdict: Verdict::parse(&row.verdict).unwrap_or(Verdict::Unknown),
            score: row.score,
            reasons: reasons_of(&row.reasons),
            computed_at: row.computed_at,
            inputs_version: row.inputs_version,
            action: row.action,
            action_by: row.action_by,
            action_at: row.action_at,
            action_detail: row.action_detail.as_deref().and_then(|d| serde_json::from_str(d).ok()),
            undone_at: row.undone_at,
            undone_by: row.undone_by,
        }
    }

    /// An action taken and not undone.
    pub fn pending_action(&self) -> Option<&str> {
        self.action.as_deref().filter(|_| self.undone_at.is_none())
    }
}

pub fn get(conn: &mut DbConn, import_id: i64) -> Result<Option<StoredVerdict>, ServiceError> {
    Ok(stored(conn, import_id)?)
}

/// [`get`] inside a storage closure (a draft's page reads it with the draft).
pub fn stored(conn: &mut DbConn, import_id: i64) -> Result<Option<StoredVerdict>, crate::db::DbError> {
    Ok(store::get(conn, import_id)?.map(StoredVerdict::of))
}

/// The verdict use cases for the HTTP edges, each on the blocking pool.
#[derive(Clone)]
pub struct Verdicts {
    db: Db,
}

impl Verdicts {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut DbConn) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        self.db.run(move |conn| Ok::<_, crate::db::DbError>(work(conn))).await?
    }

    pub async fn get(&self, id: i64) -> Result<Option<StoredVerdict>, ServiceError> {
        self.run(move |conn| get(conn, id)).await
    }

    pub async fn close(&self, id: i64, actor: String) -> Result<StoredVerdict, ServiceError> {
        self.run(move |conn| close(conn, id, &actor)).await
    }

    pub async fn undo(&self, id: i64, actor: String) -> Result<StoredVerdict, ServiceError> {
        self.run(move |conn| undo(conn, id, &actor)).await
    }
}

/// The verdicts of several drafts (a list page).
pub fn of_imports(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, StoredVerdict)>, ServiceError> {
    Ok(store::of_imports(conn, ids)?.into_iter().map(|r| (r.import_id, StoredVerdict::of(r))).collect())
}

/// The email being imported, as the import path has it (so nothing is read back).
#[derive(Debug)]
pub struct NewDraft<'a> {
    pub items: &'a [NewItem],
    pub message_id: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
}

/// A verdict decided before its draft is stored: what `record` writes in the draft's
/// transaction, and what `act` acts on after it.
#[derive(Debug)]
pub struct Decided {
    pub assessment: Assessment,
    /// The email's registered domains, remembered as seen with the draft.
    domains: Vec<String>,
}

/// The import path's first step, before the draft's write transaction (on SQLite a writer
/// holds the one write lock, and the other importers sleep in the busy handler meanwhile: only
/// the two writes of [`record`] go inside). Reads the facts, checks DKIM (DNS), looks the values
/// up and decides. `None` when verdicts are off or could not be worked out (logged: a verdict
/// never fails the import).
pub fn decide_before_storing(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    draft: &NewDraft<'_>,
    raw: &[u8],
    x: &Extraction,
) -> Option<Decided> {
    if !ctx.verdicts.enabled {
        return None;
    }
    let (facts, reported_raw) = Facts::read(raw, x, draft.items);
    let dkim = match (&ctx.verdicts.dkim, reported_raw.as_deref()) {
        (_, Some(_)) if !facts.dkim_signed => DkimCheck::Unsigned,
        (Some(v), Some(r)) => v.verify(r),
        (None, Some(_)) => {
            DkimCheck::Unverifiable("DKIM verification is off (triage.verdicts.verify_dkim)".into())
        }
        (_, None) => DkimCheck::Unverifiable("no RFC 5322 headers to verify (an Outlook file?)".into()),
    };
    match reads(conn, |conn| known(conn, &facts, draft)) {
        Ok(known) => {
            let assessment = decide(&reasons(&facts, &known, &ctx.verdicts, &dkim), &known, &ctx.verdicts);
            Some(Decided { assessment, domains: facts.domains })
        }
        Err(e) => {
            tracing::warn!("no verdict for the draft: {e}");
            None
        }
    }
}

/// The second step, inside the draft's own transaction (one commit for the draft and its
/// verdict): stores the verdict and remembers the domains in a savepoint, so that a failure
/// here is logged and rolls back the verdict only, never the import. A transient failure
/// (PostgreSQL's serialization) is returned, for the transaction to be run again whole.
pub fn record(conn: &mut DbConn, id: i64, decided: &Decided) -> Result<(), ServiceError> {
    let a = &decided.assessment;
    let json = reasons_json(&a.reasons);
    let stored = savepoint(conn, |conn| {
        let now = now_micros();
        store::remember(conn, &decided.domains, id, now)?;
        store::upsert(
            conn,
            &NewVerdict {
                import_id: id,
                verdict: a.verdict.as_str(),
                score: a.score,
                reasons: &json,
                computed_at: now,
                inputs_version: INPUTS_VERSION,
            },
        )?;
        Ok::<_, ServiceError>(())
    });
    match stored {
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::warn!(import = id, "the draft's verdict could not be stored: {e}");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// The last step, after the draft is committed: the team's rules act on the verdict (a join is a
/// commit of its own). A failure is logged, never the import's.
pub fn act(conn: &mut DbConn, ctx: &ServiceContext, id: i64, a: &Assessment) {
    if let Err(e) = apply_rules(conn, ctx, id, a) {
        tracing::warn!(import = id, "the automatic action on the verdict failed: {e}");
    }
}

/// What the store knows about the facts (reads only).
fn known(conn: &mut DbConn, facts: &Facts, draft: &NewDraft<'_>) -> Result<Known, ServiceError> {
    let same = same_email_event(conn, draft.message_id, draft.fingerprint)?;
    let mut lookup = facts.values.clone();
    lookup.extend(facts.domains.iter().map(|d| ("domain".to_string(), d.clone())));
    lookup.sort();
    lookup.dedup();
    let found = store::known_values(conn, &lookup)?;
    let seen = store::seen(conn, &facts.domains)?;
    let new_domains: Vec<String> = facts
        .domains
        .iter()
        .filter(|d| !seen.contains(d) && !found.iter().any(|k| k.kind == "domain" && &k.value == *d))
        .cloned()
        .collect();
    let values = found
        .into_iter()
        .filter(|k| facts.values.iter().any(|(t, v)| *t == k.kind && *v == k.value))
        .collect();
    Ok(Known { values, same_phish_event: same, new_domains })
}

/// The event of an earlier report of the same email, by the stronger key first: the Message-ID
/// (an earlier report's own, then an event's founding one), then the fingerprint likewise. The
/// earlier report's own key comes first because the event it joined may have been founded by
/// another email of the campaign.
fn same_email_event(
    conn: &mut DbConn,
    message_id: Option<&str>,
    fingerprint: Option<&str>,
) -> Result<Option<i64>, ServiceError> {
    if let Some(m) = message_id {
        if let Some(e) = drafts::committed_event_of_same(conn, SameEmailKey::MessageId(m))? {
            return Ok(Some(e));
        }
        if let Some(e) = events::find_match(conn, Some(m), None)? {
            return Ok(Some(e.id));
        }
    }
    if let Some(f) = fingerprint {
        if let Some(e) = drafts::committed_event_of_same(conn, SameEmailKey::Fingerprint(f))? {
            return Ok(Some(e));
        }
        return Ok(events::find_match(conn, None, Some(f))?.map(|e| e.id));
    }
    Ok(None)
}

/// The rules an admin turns on or off.
fn apply_rules(conn: &mut DbConn, ctx: &ServiceContext, id: i64, a: &Assessment) -> Result<(), ServiceError> {
    match a.verdict {
        Verdict::KnownPhish if ctx.verdicts.auto_join_known_phish => {
            if let Some(m) = &a.known
                && let Some(event) = m.event
            {
                join(conn, ctx, id, event, &format!("automatic: {}", m.why), AUTOMATIC)?;
            }
        }
        Verdict::LikelyBenign if ctx.verdicts.auto_close_likely_benign => {
            close_as(conn, id, AUTOMATIC, "automatic: suggested likely benign")?;
        }
        _ => {}
    }
    Ok(())
}

/// Commits the draft into `event`, recording what the commit added there.
fn join(
    conn: &mut DbConn,
    ctx: &ServiceContext,
    id: i64,
    event: i64,
    provenance: &str,
    actor: &str,
) -> Result<(), ServiceError> {
    let before = store::event_indicator_ids(conn, event)?;
    let c = imports::commit_into(conn, ctx, id, actor, EventMeta::default(), Some(event))?;
    let linked: Vec<i64> =
        c.created.iter().chain(c.updated.iter()).copied().filter(|i| !before.contains(i)).collect();
    let detail = ActionDetail {
        provenance: provenance.into(),
        event_id: Some(c.event_id),
        linked,
        created: c.created,
    };
    let text = serde_json::to_string(&detail)?;
    write_tx(conn, |conn| {
        store::set_action(conn, id, "joined", actor, &text, now_micros())?;
        audit::insert(
            conn,
            &AuditEntry::new("draft.join")
                .actor(actor)
                .target(format!("import {id}"))
                .detail(format!("{provenance}; joined event {}", c.event_id)),
        )?;
        Ok::<_, ServiceError>(())
    })
}

/// Closes a `likely benign` draft (one click); audited, undoable.
pub fn close(conn: &mut DbConn, id: i64, actor: &str) -> Result<StoredVerdict, ServiceError> {
    let v = get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("verdict of import {id}")))?;
    if v.verdict != Verdict::LikelyBenign {
        return Err(ServiceError::Conflict(format!(
            "import {id} is suggested {}; only a likely benign draft closes in one click (abandon it instead)",
            v.verdict.label()
        )));
    }
    close_as(conn, id, actor, &format!("closed by {actor}: suggested likely benign"))?;
    get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("verdict of import {id}")))
}

fn close_as(conn: &mut DbConn, id: i64, actor: &str, provenance: &str) -> Result<(), ServiceError> {
    let detail = ActionDetail { provenance: provenance.into(), ..ActionDetail::default() };
    let text = serde_json::to_string(&detail)?;
    write_tx(conn, |conn| {
        let now = now_micros();
        if !drafts::transition(conn, id, ImportState::Draft, ImportState::Abandoned, None, now)? {
            return Err(ServiceError::Conflict(format!("import {id} is not an open draft")));
        }
        if !store::set_action(conn, id, "closed", actor, &text, now)? {
            return Err(ServiceError::Conflict(format!("import {id} has an action already")));
        }
        // Closed as benign is a final verdict: the reporter may be answered.
        notify::on_final_verdict(conn, id, FinalVerdict::Benign)?;
        audit::insert(
            conn,
            &AuditEntry::new("draft.close").actor(actor).target(format!("import {id}")).detail(provenance),
        )?;
        Ok(())
    })
}

/// Undoes the pending action: a closed draft is reopened; a joined one leaves the event (its
/// recipients, the links it added, the indicators it created that nothing else holds) and is a
/// draft again.
pub fn undo(conn: &mut DbConn, id: i64, actor: &str) -> Result<StoredVerdict, ServiceError> {
    write_tx(conn, |conn| {
        let v = get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("verdict of import {id}")))?;
        let now = now_micros();
        let what = match v.pending_action() {
            Some("closed") => {
                if !drafts::transition(conn, id, ImportState::Abandoned, ImportState::Draft, None, now)? {
                    return Err(ServiceError::Conflict(format!("import {id} is no longer closed")));
                }
                notify::on_verdict_undone(conn, id, FinalVerdict::Benign)?;
                "reopened the draft".to_string()
            }
            Some("joined") => {
                let d = v.action_detail.clone().unwrap_or_default();
                let event =
                    d.event_id.ok_or_else(|| ServiceError::Internal("a join without its event".into()))?;
                let row =
                    drafts::get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("import {id}")))?;
                if row.state != ImportState::Committed || row.event_id != Some(event) {
                    return Err(ServiceError::Conflict(format!("import {id} is no longer in event {event}")));
                }
                store::unlink_event(conn, &d.linked, event)?;
                store::remove_recipients_of(conn, event, id)?;
                let removed = store::delete_orphan_reviews(conn, &d.created)?;
                drafts::transition(conn, id, ImportState::Committed, ImportState::Draft, None, now)?;
                notify::on_verdict_undone(conn, id, FinalVerdict::Phish)?;
                format!(
                    "left event {event} ({} links and {removed} new indicators taken back)",
                    d.linked.len()
                )
            }
            _ => return Err(ServiceError::Conflict(format!("import {id} has no action to undo"))),
        };
        store::set_undone(conn, id, actor, now)?;
        audit::insert(
            conn,
            &AuditEntry::new("draft.undo").actor(actor).target(format!("import {id}")).detail(what),
        )?;
        get(conn, id)?.ok_or_else(|| ServiceError::NotFound(format!("verdict of import {id}")))
    })
}
