//! The `indicators` table and what hangs off it: tags, sources, event links, history,
//! relationships between indicators, and links to partners' STIX objects.

use diesel::prelude::*;

use super::schema::{
    indicator_events as ie, indicator_history as ih, indicator_links as il, indicator_relations as ir,
    indicator_sources as isrc, indicator_tags as it, indicators as ind,
};
use super::types::text_set;
use super::{DbConn, DbError, with_conn};
use crate::extract::ObservableKind;

text_set! {
    /// An indicator's status.
    pub enum Status("indicators.status") {
        Review = "review",
        Active = "active",
        Indirect = "indirect",
        Whitelisted = "whitelisted",
        Expired = "expired",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = ind)]
pub struct IndicatorRow {
    pub id: i64,
    pub kind: ObservableKind,
    pub value: String,
    pub status: Status,
    pub score: i32,
    pub tlp: crate::stix::Tlp2,
    pub description: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub status_changed_at: i64,
    pub expires_at: Option<i64>,
    pub stix_id: String,
    pub stix_created: Option<i64>,
    pub stix_modified: Option<i64>,
    pub stix_observed_id: Option<String>,
    pub stix_based_on_id: Option<String>,
    pub whitelist_rule_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ind)]
pub struct NewIndicator {
    pub kind: ObservableKind,
    pub value: String,
    pub status: Status,
    pub score: i32,
    pub tlp: String,
    pub description: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub status_changed_at: i64,
    pub stix_id: String,
    pub whitelist_rule_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A change to an indicator's state; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = ind)]
pub struct IndicatorChanges {
    pub status: Option<Status>,
    pub score: Option<i32>,
    pub tlp: Option<String>,
    pub description: Option<Option<String>>,
    pub status_changed_at: Option<i64>,
    pub expires_at: Option<Option<i64>>,
    pub stix_id: Option<String>,
    pub stix_created: Option<Option<i64>>,
    pub stix_modified: Option<Option<i64>>,
    pub stix_observed_id: Option<Option<String>>,
    pub stix_based_on_id: Option<Option<String>>,
    pub whitelist_rule_id: Option<Option<i64>>,
    pub updated_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ih)]
pub struct HistoryRow {
    pub id: i64,
    pub indicator_id: i64,
    pub at: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ih)]
pub struct NewHistory {
    pub indicator_id: i64,
    pub at: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ir)]
pub struct RelationRow {
    pub source_id: i64,
    pub rel_type: String,
    pub target_id: i64,
    pub stix_id: String,
    pub origin: String,
    pub created_at: i64,
}

const CHUNK: usize = 400;

/// Inserts indicators that do not exist yet and returns the rows of all of them, with whether
/// each was created now. The unique (kind, value) constraint decides: two parallel commits of
/// one value make one indicator.
pub fn upsert(conn: &mut DbConn, new: &[NewIndicator]) -> Result<Vec<(IndicatorRow, bool)>, DbError> {
    let mut created: Vec<i64> = Vec::new();
    match conn {
        // A multi-row INSERT … RETURNING answers only the rows it inserted.
        DbConn::Postgres(c) => {
            for chunk in new.chunks(CHUNK) {
                let ids: Vec<i64> = diesel::insert_into(ind::table)
                    .values(chunk)
                    .on_conflict((ind::kind, ind::value))
                    .do_nothing()
                    .returning(ind::id)
                    .get_results(c)?;
                created.extend(ids);
            }
        }
        // diesel runs SQLite batch inserts row by row; a row skipped on conflict returns nothing,
        // so each row is asked on its own (cheap: SQLite has no round trips).
        DbConn::Sqlite(c) => {
            for row in new {
                let id: Option<i64> = diesel::insert_into(ind::table)
                    .values(row)
                    .on_conflict((ind::kind, ind::value))
                    .do_nothing()
                    .returning(ind::id)
                    .get_result(c)
                    .optional()?;
                created.extend(id);
            }
        }
    }
    let mut out = Vec::with_capacity(new.len());
    for chunk in new.chunks(CHUNK) {
        let values: Vec<&str> = chunk.iter().map(|n| n.value.as_str()).collect();
        let mut kinds: Vec<&str> = chunk.iter().map(|n| n.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        let rows: Vec<IndicatorRow> = with_conn!(conn, c => ind::table
            .filter(ind::kind.eq_any(&kinds))
            .filter(ind::value.eq_any(&values))
            .select(IndicatorRow::as_select())
            .load(c))?;
        for n in chunk {
            if let Some(row) = rows.iter().find(|r| r.kind == n.kind && r.value == n.value) {
                let is_new = created.contains(&row.id);
                out.push((row.clone(), is_new));
            }
        }
    }
    Ok(out)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<IndicatorRow>, DbError> {
    Ok(with_conn!(conn, c => ind::table.find(id).select(IndicatorRow::as_select()).get_result(c).optional())?)
}

/// The indicator row, locked for update on PostgreSQL (SQLite's write transaction already
/// excludes other writers).
pub fn get_for_update(conn: &mut DbConn, id: i64) -> Result<Option<IndicatorRow>, DbError> {
    Ok(match conn {
        DbConn::Sqlite(c) => ind::table.find(id).select(IndicatorRow::as_select()).get_result(c).optional(),
        DbConn::Postgres(c) => {
            ind::table.find(id).select(IndicatorRow::as_select()).for_update().get_result(c).optional()
        }
    }?)
}

pub fn by_value(conn: &mut DbConn, kind: &str, value: &str) -> Result<Option<IndicatorRow>, DbError> {
    Ok(with_conn!(conn, c => ind::table
        .filter(ind::kind.eq(kind))
        .filter(ind::value.eq(value))
        .select(IndicatorRow::as_select())
        .get_result(c)
        .optional())?)
}

pub fn update(conn: &mut DbConn, id: i64, changes: &IndicatorChanges) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(ind::table.find(id)).set(changes).execute(c))?;
    Ok(())
}

/// Seen again: `last_seen` moves forward (never back).
pub fn touch_seen(conn: &mut DbConn, ids: &[i64], at: i64) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        with_conn!(conn, c => diesel::update(ind::table.filter(ind::id.eq_any(chunk)).filter(ind::last_seen.lt(at)))
            .set((ind::last_seen.eq(at), ind::updated_at.eq(at)))
            .execute(c))?;
    }
    Ok(())
}

pub fn link_events(conn: &mut DbConn, ids: &[i64], event_id: i64, at: i64) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|id| (ie::indicator_id.eq(*id), ie::event_id.eq(event_id), ie::linked_at.eq(at)))
            .collect();
        with_conn!(conn, c => diesel::insert_into(ie::table).values(&rows).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

/// Records a source (an import, a partner, an operation) for each indicator.
pub fn add_source(conn: &mut DbConn, ids: &[i64], source: &str, at: i64) -> Result<(), DbError> {
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|id| {
                (
                    isrc::indicator_id.eq(*id),
                    isrc::source.eq(source),
                    isrc::first_at.eq(at),
                    isrc::last_at.eq(at),
                )
            })
            .collect();
        with_conn!(conn, c => diesel::insert_into(isrc::table)
            .values(&rows)
            .on_conflict((isrc::indicator_id, isrc::source))
            .do_update()
            .set(isrc::last_at.eq(at))
            .execute(c))?;
    }
    Ok(())
}

pub fn sources(conn: &mut DbConn, id: i64) -> Result<Vec<(String, i64, i64)>, DbError> {
    Ok(with_conn!(conn, c => isrc::table
        .filter(isrc::indicator_id.eq(id))
        .order(isrc::first_at.asc())
        .select((isrc::source, isrc::first_at, isrc::last_at))
        .load(c))?)
}

pub fn add_history(conn: &mut DbConn, entries: &[NewHistory]) -> Result<(), DbError> {
    for chunk in entries.chunks(CHUNK) {
        with_conn!(conn, c => diesel::insert_into(ih::table).values(chunk).execute(c))?;
    }
    Ok(())
}

pub fn history(conn: &mut DbConn, id: i64) -> Result<Vec<HistoryRow>, DbError> {
    Ok(with_conn!(conn, c => ih::table
        .filter(ih::indicator_id.eq(id))
        .order(ih::id.asc())
        .select(HistoryRow::as_select())
        .load(c))?)
}

pub fn tags(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, String)>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = with_conn!(conn, c => it::table
            .filter(it::indicator_id.eq_any(chunk))
            .order((it::indicator_id.asc(), it::tag.asc()))
            .select((it::indicator_id, it::tag))
            .load(c))?;
        out.extend(rows);
    }
    Ok(out)
}

pub fn add_tags(conn: &mut DbConn, ids: &[i64], tags: &[String]) -> Result<(), DbError> {
    if tags.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK / 4) {
        let rows: Vec<_> = chunk
            .iter()
            .flat_map(|id| tags.iter().map(move |t| (it::indicator_id.eq(*id), it::tag.eq(t.as_str()))))
            .collect();
        with_conn!(conn, c => diesel::insert_into(it::table).values(&rows).on_conflict_do_nothing().execute(c))?;
    }
    Ok(())
}

pub fn set_tags(conn: &mut DbConn, id: i64, tags: &[String]) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::delete(it::table.filter(it::indicator_id.eq(id))).execute(c))?;
    add_tags(conn, &[id], tags)
}

/// Event ids an indicator is linked to.
pub fn event_ids(conn: &mut DbConn, id: i64) -> Result<Vec<i64>, DbError> {
    Ok(with_conn!(conn, c => ie::table
        .filter(ie::indicator_id.eq(id))
        .order(ie::event_id.asc())
        .select(ie::event_id)
        .load(c))?)
}

/// The (indicator, event) links of these indicators.
pub fn event_links(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<(i64, i64)>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        out.extend(with_conn!(conn, c => ie::table
            .filter(ie::indicator_id.eq_any(chunk))
            .order((ie::indicator_id.asc(), ie::event_id.asc()))
            .select((ie::indicator_id, ie::event_id))
            .load::<(i64, i64)>(c))?);
    }
    Ok(out)
}

/// For each event, the last change (`updated_at`) of any of its indicators, whatever their
/// status: an indicator that left an export still changed what the export says of its event.
pub fn latest_change_by_event(conn: &mut DbConn, event_ids: &[i64]) -> Result<Vec<(i64, i64)>, DbError> {
    let mut out = Vec::new();
    for chunk in event_ids.chunks(CHUNK) {
        let rows: Vec<(i64, Option<i64>)> = with_conn!(conn, c => ie::table
            .inner_join(ind::table)
            .filter(ie::event_id.eq_any(chunk))
            .group_by(ie::event_id)
            .select((ie::event_id, diesel::dsl::max(ind::updated_at)))
            .load(c))?;
        out.extend(rows.into_iter().filter_map(|(e, t)| Some((e, t?))));
    }
    Ok(out)
}

/// The last change of any indicator linked to no event.
pub fn latest_change_without_event(conn: &mut DbConn) -> Result<Option<i64>, DbError> {
    Ok(with_conn!(conn, c => ind::table
        .filter(diesel::dsl::not(ind::id.eq_any(ie::table.select(ie::indicator_id))))
        .select(diesel::dsl::max(ind::updated_at))
        .get_result::<Option<i64>>(c))?)
}

/// The indicators of an event.
pub fn of_event(conn: &mut DbConn, event_id: i64) -> Result<Vec<IndicatorRow>, DbError> {
    Ok(with_conn!(conn, c => ind::table
        .filter(ind::id.eq_any(ie::table.filter(ie::event_id.eq(event_id)).select(ie::indicator_id)))
        .order(ind::id.asc())
        .select(IndicatorRow::as_select())
        .load(c))?)
}

/// Commonalities: for each indicator of the event that other events share, the other events.
pub fn shared_with_other_events(conn: &mut DbConn, event_id: i64) -> Result<Vec<(i64, i64)>, DbError> {
    let mine: Vec<i64> =
        with_conn!(conn, c => ie::table.filter(ie::event_id.eq(event_id)).select(ie::indicator_id).load(c))?;
    Ok(with_conn!(conn, c => ie::table
        .filter(ie::indicator_id.eq_any(&mine))
        .filter(ie::event_id.ne(event_id))
        .order((ie::indicator_id.asc(), ie::event_id.asc()))
        .select((ie::indicator_id, ie::event_id))
        .load(c))?)
}

/// Adds a relationship between two indicators; returns whether it is new.
pub fn relate(conn: &mut DbConn, row: &NewRelation) -> Result<bool, DbError> {
    let n = with_conn!(conn, c => diesel::insert_into(ir::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(n == 1)
}

/// A relationship to add with [`relate`] or [`relate_all`].
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = ir)]
pub struct NewRelation<'a> {
    pub source_id: i64,
    pub rel_type: &'a str,
    pub target_id: i64,
    pub stix_id: String,
    pub origin: &'a str,
    pub created_at: i64,
}

/// Adds relationships, skipping those that exist: one statement per 400 on PostgreSQL (a
/// commit relates every URL to its host and pivots; one round trip each was a tenth of a
/// commit's statements).
pub fn relate_all(conn: &mut DbConn, rows: &[NewRelation]) -> Result<(), DbError> {
    match conn {
        DbConn::Postgres(c) => {
            for chunk in rows.chunks(CHUNK) {
                diesel::insert_into(ir::table).values(chunk).on_conflict_do_nothing().execute(c)?;
            }
        }
        // diesel has no multi-row upsert for SQLite; a cached statement per row costs no round trip.
        DbConn::Sqlite(_) => {
            for row in rows {
                relate(conn, row)?;
            }
        }
    }
    Ok(())
}

/// Relationships where the indicator is source or target.
pub fn relations(conn: &mut DbConn, id: i64) -> Result<Vec<RelationRow>, DbError> {
    Ok(with_conn!(conn, c => ir::table
        .filter(ir::source_id.eq(id).or(ir::target_id.eq(id)))
        .order(ir::created_at.asc())
        .select(RelationRow::as_select())
        .load(c))?)
}

pub fn link_partner_object(
    conn: &mut DbConn,
    id: i64,
    stix_id: &str,
    collection_id: &str,
    at: i64,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(il::table)
        .values((il::indicator_id.eq(id), il::stix_id.eq(stix_id), il::collection_id.eq(collection_id), il::linked_at.eq(at)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn partner_links(conn: &mut DbConn, id: i64) -> Result<Vec<(String, String)>, DbError> {
    Ok(with_conn!(conn, c => il::table
        .filter(il::indicator_id.eq(id))
        .select((il::stix_id, il::collection_id))
        .load(c))?)
}

/// A search over indicators; every filter is optional. Results ascend by id from `after`.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuery {
    pub kinds: Vec<String>,
    pub statuses: Vec<String>,
    /// Exact canonical value.
    pub value: Option<String>,
    /// Substring of the value.
    pub contains: Option<String>,
    pub event_id: Option<i64>,
    /// Every tag must be present.
    pub tags: Vec<String>,
    pub min_score: Option<i32>,
    pub max_score: Option<i32>,
    pub tlps: Vec<String>,
    /// `last_seen` at or after (microseconds).
    pub seen_since: Option<i64>,
    /// Only indicators linked to no event.
    pub without_event: bool,
    pub after: Option<i64>,
    pub limit: i64,
}

pub fn search(conn: &mut DbConn, q: &IndicatorQuery) -> Result<Vec<IndicatorRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut query = ind::table
            .select(IndicatorRow::as_select())
            .order(ind::id.asc())
            .limit(q.limit)
            .into_boxed();
        if !q.kinds.is_empty() {
            query = query.filter(ind::kind.eq_any(q.kinds.clone()));
        }
        if !q.statuses.is_empty() {
            query = query.filter(ind::status.eq_any(q.statuses.clone()));
        }
        if let Some(v) = &q.value {
            query = query.filter(ind::value.eq(v.clone()));
        }
        if let Some(s) = &q.contains {
            let escaped = s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            query = query.filter(ind::value.like(format!("%{escaped}%")).escape('\\'));
        }
        if let Some(e) = q.event_id {
            query = query.filter(ind::id.eq_any(ie::table.filter(ie::event_id.eq(e)).select(ie::indicator_id)));
        }
        for tag in &q.tags {
            query = query.filter(ind::id.eq_any(it::table.filter(it::tag.eq(tag.clone())).select(it::indicator_id)));
        }
        if let Some(s) = q.min_score {
            query = query.filter(ind::score.ge(s));
        }
        if let Some(s) = q.max_score {
            query = query.filter(ind::score.le(s));
        }
        if !q.tlps.is_empty() {
            query = query.filter(ind::tlp.eq_any(q.tlps.clone()));
        }
        if let Some(t) = q.seen_since {
            query = query.filter(ind::last_seen.ge(t));
        }
        if q.without_event {
            query = query.filter(diesel::dsl::not(ind::id.eq_any(ie::table.select(ie::indicator_id))));
        }
        if let Some(after) = q.after {
            query = query.filter(ind::id.gt(after));
        }
        query.load(c)
    })?)
}

/// Active indicators whose expiry time has passed.
pub fn due_to_expire(conn: &mut DbConn, now: i64, limit: i64) -> Result<Vec<i64>, DbError> {
    Ok(with_conn!(conn, c => ind::table
        .filter(ind::status.eq("active"))
        .filter(ind::expires_at.le(now))
        .order(ind::id.asc())
        .limit(limit)
        .select(ind::id)
        .load(c))?)
}

/// Counts by status (for the dashboard and tests).
pub fn count_by_status(conn: &mut DbConn) -> Result<Vec<(String, i64)>, DbError> {
    Ok(with_conn!(conn, c => ind::table
        .group_by(ind::status)
        .select((ind::status, diesel::dsl::count_star()))
        .load(c))?)
}
