//! The `draft_verdicts` and `seen_domains` tables (issue 20): a draft's suggested verdict with its
//! reasons and the action taken on it, and the registered domains seen in imports. Also the few
//! reads the verdict's signals need (indicators by value, links) and the writes that undo a join.

use diesel::prelude::*;

use super::schema::{
    draft_verdicts as dv, event_recipients as er, indicator_events as ie, indicators as ind,
    seen_domains as sd,
};
use super::{DbConn, DbError, with_conn};

const CHUNK: usize = 500;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = dv)]
pub struct VerdictRow {
    pub import_id: i64,
    pub verdict: String,
    pub score: i32,
    pub reasons: String,
    pub computed_at: i64,
    pub inputs_version: i32,
    pub action: Option<String>,
    pub action_by: Option<String>,
    pub action_at: Option<i64>,
    pub action_detail: Option<String>,
    pub undone_at: Option<i64>,
    pub undone_by: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dv)]
pub struct NewVerdict<'a> {
    pub import_id: i64,
    pub verdict: &'a str,
    pub score: i32,
    pub reasons: &'a str,
    pub computed_at: i64,
    pub inputs_version: i32,
}

/// Stores (or replaces) a draft's verdict; an action recorded before is kept.
pub fn upsert(conn: &mut DbConn, new: &NewVerdict<'_>) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(dv::table)
        .values(new)
        .on_conflict(dv::import_id)
        .do_update()
        .set((
            dv::verdict.eq(new.verdict),
            dv::score.eq(new.score),
            dv::reasons.eq(new.reasons),
            dv::computed_at.eq(new.computed_at),
            dv::inputs_version.eq(new.inputs_version),
        ))
        .execute(c))?;
    Ok(())
}

pub fn get(conn: &mut DbConn, import_id: i64) -> Result<Option<VerdictRow>, DbError> {
    Ok(
        with_conn!(conn, c => dv::table.find(import_id).select(VerdictRow::as_select()).get_result(c).optional())?,
    )
}

/// The verdicts of these imports (a list page).
pub fn of_imports(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<VerdictRow>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        out.extend(with_conn!(conn, c => dv::table
            .filter(dv::import_id.eq_any(chunk))
            .select(VerdictRow::as_select())
            .load(c))?);
    }
    Ok(out)
}

/// Records an action; only when none is pending (a second click or a race loses). Returns
/// whether it was recorded.
pub fn set_action(
    conn: &mut DbConn,
    import_id: i64,
    action: &str,
    by: &str,
    detail: &str,
    at: i64,
) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(
            dv::table.find(import_id).filter(dv::action.is_null().or(dv::undone_at.is_not_null())))
        .set((
            dv::action.eq(Some(action)),
            dv::action_by.eq(Some(by)),
            dv::action_at.eq(Some(at)),
            dv::action_detail.eq(Some(detail)),
            dv::undone_at.eq(None::<i64>),
            dv::undone_by.eq(None::<String>),
        ))
        .execute(c))?;
    Ok(n == 1)
}

/// Marks the pending action undone; returns whether there was one.
pub fn set_undone(conn: &mut DbConn, import_id: i64, by: &str, at: i64) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::update(
            dv::table.find(import_id).filter(dv::action.is_not_null()).filter(dv::undone_at.is_null()))
        .set((dv::undone_at.eq(Some(at)), dv::undone_by.eq(Some(by))))
        .execute(c))?;
    Ok(n == 1)
}

/// An indicator a draft's value matched: id, kind, value, status, and the events it is linked to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownValue {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub status: String,
    pub events: Vec<i64>,
}

/// The stored indicators among these (kind, value) pairs, with their events (newest first).
pub fn known_values(conn: &mut DbConn, values: &[(String, String)]) -> Result<Vec<KnownValue>, DbError> {
    let mut found: Vec<KnownValue> = Vec::new();
    let known = |(id, kind, value, status): (i64, String, String, String)| KnownValue {
        id,
        kind,
        value,
        status,
        events: Vec::new(),
    };
    match conn {
        // One lookup per value, each a statement diesel keeps prepared: an `IN (?, ?, …)` list is
        // never cached on SQLite (its SQL changes with its length), and preparing it cost more
        // than the lookups (perf, scripts/bench-triage).
        DbConn::Sqlite(c) => {
            for (kind, value) in values {
                let row: Option<(i64, String, String, String)> = ind::table
                    .filter(ind::kind.eq(kind))
                    .filter(ind::value.eq(value))
                    .select((ind::id, ind::kind, ind::value, ind::status))
                    .get_result(c)
                    .optional()?;
                found.extend(row.map(known));
            }
            for k in &mut found {
                k.events = ie::table
                    .filter(ie::indicator_id.eq(k.id))
                    .order(ie::event_id.desc())
                    .select(ie::event_id)
                    .load(c)?;
            }
        }
        // PostgreSQL sends a list as one array (`= ANY($1)`, prepared once): one round trip per
        // kind, the lookup a range of the (kind, value) index.
        DbConn::Postgres(c) => {
            let mut by_kind: std::collections::BTreeMap<&str, Vec<&str>> = std::collections::BTreeMap::new();
            for (k, v) in values {
                by_kind.entry(k.as_str()).or_default().push(v.as_str());
            }
            for (kind, texts) in by_kind {
                for chunk in texts.chunks(CHUNK) {
                    let rows: Vec<(i64, String, String, String)> = ind::table
                        .filter(ind::kind.eq(kind))
                        .filter(ind::value.eq_any(chunk))
                        .select((ind::id, ind::kind, ind::value, ind::status))
                        .load(c)?;
                    found.extend(rows.into_iter().map(known));
                }
            }
            let ids: Vec<i64> = found.iter().map(|k| k.id).collect();
            for chunk in ids.chunks(CHUNK) {
                let links: Vec<(i64, i64)> = ie::table
                    .filter(ie::indicator_id.eq_any(chunk))
                    .order(ie::event_id.desc())
                    .select((ie::indicator_id, ie::event_id))
                    .load(c)?;
                for (indicator, event) in links {
                    if let Some(k) = found.iter_mut().find(|k| k.id == indicator) {
                        k.events.push(event);
                    }
                }
            }
        }
    }
    Ok(found)
}

/// Which of these registered domains were seen in an import before (per domain on SQLite, as
/// [`known_values`] and for the same reason).
pub fn seen(conn: &mut DbConn, domains: &[String]) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    match conn {
        DbConn::Sqlite(c) => {
            for d in domains {
                let row: Option<String> =
                    sd::table.filter(sd::domain.eq(d)).select(sd::domain).get_result(c).optional()?;
                out.extend(row);
            }
        }
        DbConn::Postgres(c) => {
            for chunk in domains.chunks(CHUNK) {
                out.extend(sd::table.filter(sd::domain.eq_any(chunk)).select(sd::domain).load::<String>(c)?);
            }
        }
    }
    Ok(out)
}

/// Remembers registered domains as seen (the first import that had each is kept).
pub fn remember(conn: &mut DbConn, domains: &[String], import_id: i64, at: i64) -> Result<(), DbError> {
    for chunk in domains.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|d| {
                (sd::domain.eq(d.as_str()), sd::first_import_id.eq(Some(import_id)), sd::first_seen_at.eq(at))
            })
            .collect();
        with_conn!(conn, c => diesel::insert_into(sd::table).values(&rows).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

/// The indicators linked to an event.
pub fn event_indicator_ids(conn: &mut DbConn, event_id: i64) -> Result<Vec<i64>, DbError> {
    Ok(with_conn!(conn, c => ie::table
        .filter(ie::event_id.eq(event_id))
        .select(ie::indicator_id)
        .load(c))?)
}

/// Removes the links of these indicators to an event (undoing a join).
pub fn unlink_event(conn: &mut DbConn, ids: &[i64], event_id: i64) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        with_conn!(conn, c => diesel::delete(ie::table
            .filter(ie::event_id.eq(event_id))
            .filter(ie::indicator_id.eq_any(chunk)))
            .execute(c))?;
    }
    Ok(())
}

/// Removes the recipients and reporters an import added to an event.
pub fn remove_recipients_of(conn: &mut DbConn, event_id: i64, import_id: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::delete(er::table
        .filter(er::event_id.eq(event_id))
        .filter(er::import_id.eq(Some(import_id))))
        .execute(c))?;
    Ok(())
}

/// Deletes those of these indicators that are still in Review and linked to no event (what an
/// undone join created); returns how many.
pub fn delete_orphan_reviews(conn: &mut DbConn, ids: &[i64]) -> Result<usize, DbError> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        n += with_conn!(conn, c => diesel::delete(ind::table
            .filter(ind::id.eq_any(chunk))
            .filter(ind::status.eq("review"))
            .filter(diesel::dsl::not(diesel::dsl::exists(ie::table.filter(ie::indicator_id.eq(ind::id))))))
            .execute(c))?;
    }
    Ok(n)
}
