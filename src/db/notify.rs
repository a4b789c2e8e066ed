//! The `notify_templates` and `notify_outbox` tables (answers to reporters), and the count of
//! reports per reporter (read from `imports`).

use diesel::prelude::*;

use super::schema::{imports as im, notify_outbox as ob, notify_templates as nt};
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = nt)]
pub struct TemplateRow {
    pub verdict: String,
    pub enabled: bool,
    pub subject: String,
    pub body: String,
    pub updated_by: Option<String>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ob)]
pub struct OutboxRow {
    pub id: i64,
    pub import_id: Option<i64>,
    pub verdict: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ob)]
pub struct NewMessage<'a> {
    pub import_id: Option<i64>,
    pub verdict: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub message_id: &'a str,
    pub state: &'a str,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

pub fn templates(conn: &mut DbConn) -> Result<Vec<TemplateRow>, DbError> {
    Ok(with_conn!(conn, c => nt::table.order(nt::verdict).select(TemplateRow::as_select()).load(c))?)
}

pub fn template(conn: &mut DbConn, verdict: &str) -> Result<Option<TemplateRow>, DbError> {
    Ok(
        with_conn!(conn, c => nt::table.find(verdict).select(TemplateRow::as_select()).get_result(c).optional())?,
    )
}

/// Creates or replaces the template of a verdict.
pub fn put_template(conn: &mut DbConn, t: &TemplateRow) -> Result<(), DbError> {
    let values = (
        nt::verdict.eq(&t.verdict),
        nt::enabled.eq(t.enabled),
        nt::subject.eq(&t.subject),
        nt::body.eq(&t.body),
        nt::updated_by.eq(&t.updated_by),
        nt::updated_at.eq(t.updated_at),
    );
    with_conn!(conn, c => diesel::insert_into(nt::table)
        .values(values)
        .on_conflict(nt::verdict)
        .do_update()
        .set((
            nt::enabled.eq(t.enabled),
            nt::subject.eq(&t.subject),
            nt::body.eq(&t.body),
            nt::updated_by.eq(&t.updated_by),
            nt::updated_at.eq(t.updated_at),
        ))
        .execute(c))?;
    Ok(())
}

/// Queues a message; `false` when this draft already has one for this verdict.
pub fn enqueue(conn: &mut DbConn, m: &NewMessage<'_>) -> Result<bool, DbError> {
    let n =
        with_conn!(conn, c => diesel::insert_into(ob::table).values(m).on_conflict_do_nothing().execute(c))?;
    Ok(n == 1)
}

/// Messages due now: queued ones whose time came, and `sending` ones whose claim ran out (their
/// sender stopped mid-way), oldest first.
pub fn due(conn: &mut DbConn, now: i64, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    Ok(with_conn!(conn, c => ob::table
        .filter(ob::state.eq_any(["queued", "sending"]))
        .filter(ob::next_attempt_at.le(now))
        .order((ob::next_attempt_at, ob::id))
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(c))?)
}

/// Claims a due message for one attempt until `until` (compare-and-set on the state and time
/// read, so of two senders exactly one wins). True when claimed.
pub fn claim(conn: &mut DbConn, row: &OutboxRow, until: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(
        ob::table
            .find(row.id)
            .filter(ob::state.eq(&row.state))
            .filter(ob::next_attempt_at.eq(row.next_attempt_at))
            .filter(ob::attempts.eq(row.attempts)),
    )
    .set((ob::state.eq("sending"), ob::next_attempt_at.eq(until), ob::attempts.eq(row.attempts + 1)))
    .execute(c))?;
    Ok(n == 1)
}

pub fn mark_sent(conn: &mut DbConn, id: i64, now: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(ob::table.find(id).filter(ob::state.eq("sending")))
        .set((ob::state.eq("sent"), ob::sent_at.eq(now), ob::last_error.eq(None::<String>)))
        .execute(c))?;
    Ok(())
}

/// An attempt failed: queued again at `next` or, without `next`, failed for good.
pub fn mark_failed(conn: &mut DbConn, id: i64, error: &str, next: Option<i64>) -> Result<(), DbError> {
    let state = if next.is_some() { "queued" } else { "failed" };
    with_conn!(conn, c => diesel::update(ob::table.find(id).filter(ob::state.eq("sending")))
        .set((ob::state.eq(state), ob::last_error.eq(error), ob::next_attempt_at.eq(next.unwrap_or(0))))
        .execute(c))?;
    Ok(())
}

/// Withdraws a draft's answer for `verdict` that is not sent nor being sent (queued, or failed
/// for good). True when there was one.
pub fn withdraw(conn: &mut DbConn, import_id: i64, verdict: &str) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::delete(
        ob::table
            .filter(ob::import_id.eq(import_id))
            .filter(ob::verdict.eq(verdict))
            .filter(ob::state.eq_any(["queued", "failed"])),
    )
    .execute(c))?;
    Ok(n > 0)
}

/// A failed message queued again now (an administrator's retry).
pub fn requeue(conn: &mut DbConn, id: i64, now: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(ob::table.find(id).filter(ob::state.eq("failed")))
        .set((ob::state.eq("queued"), ob::next_attempt_at.eq(now), ob::attempts.eq(0)))
        .execute(c))?;
    Ok(n == 1)
}

/// The outbox, newest first, optionally in one state.
pub fn outbox(conn: &mut DbConn, state: Option<&str>, limit: i64) -> Result<Vec<OutboxRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut q = ob::table.order(ob::id.desc()).limit(limit).select(OutboxRow::as_select()).into_boxed();
        if let Some(s) = state {
            q = q.filter(ob::state.eq(s.to_string()));
        }
        q.load(c)
    })?)
}

/// One reporter's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReporterCount {
    pub reporter: String,
    pub reports: i64,
    /// Reports committed into an event (the analyst's verdict: phish).
    pub phish: i64,
    pub open: i64,
    pub first_at: i64,
    pub last_at: i64,
}

/// (reporter, state, count, first, last) of one group.
type ReporterGroup = (Option<String>, String, i64, Option<i64>, Option<i64>);

/// Reports per reporter (imports with a reporter), most reports first.
pub fn reporters(conn: &mut DbConn, limit: i64) -> Result<Vec<ReporterCount>, DbError> {
    use diesel::dsl::{count_star, max, min};
    let rows: Vec<ReporterGroup> = with_conn!(conn, c => im::table
        .filter(im::reporter.is_not_null())
        .group_by((im::reporter, im::state))
        .select((im::reporter, im::state, count_star(), min(im::created_at), max(im::created_at)))
        .load(c))?;
    let mut by: std::collections::BTreeMap<String, ReporterCount> = std::collections::BTreeMap::new();
    for (reporter, state, n, first, last) in rows {
        let Some(reporter) = reporter else { continue };
        let e = by.entry(reporter.clone()).or_insert(ReporterCount {
            reporter,
            reports: 0,
            phish: 0,
            open: 0,
            first_at: i64::MAX,
            last_at: 0,
        });
        e.reports += n;
        match state.as_str() {
            "committed" => e.phish += n,
            "draft" => e.open += n,
            _ => {}
        }
        e.first_at = e.first_at.min(first.unwrap_or(i64::MAX));
        e.last_at = e.last_at.max(last.unwrap_or(0));
    }
    let mut out: Vec<ReporterCount> = by.into_values().collect();
    out.sort_by(|a, b| {
        b.reports.cmp(&a.reports).then(b.last_at.cmp(&a.last_at)).then(a.reporter.cmp(&b.reporter))
    });
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
}
