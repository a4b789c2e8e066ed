//! The `events`, `event_recipients` and `event_shares` tables: spear-phish events, who received
//! and reported them, and where they were shared.

use diesel::prelude::*;

use super::schema::{event_recipients as er, event_shares as es, events as ev, indicator_events as ie};
use super::types::JsonText;
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ev)]
pub struct EventRow {
    pub id: i64,
    pub stix_id: String,
    pub title: String,
    pub event_type: String,
    pub happened_at: Option<i64>,
    pub description: Option<String>,
    pub tlp: crate::stix::Tlp2,
    pub tags: JsonText<Vec<String>>,
    pub adversary: Option<String>,
    pub message_id: Option<String>,
    pub fingerprint: Option<String>,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = ev)]
pub struct NewEvent<'a> {
    pub stix_id: &'a str,
    pub title: &'a str,
    pub event_type: &'a str,
    pub happened_at: Option<i64>,
    pub description: Option<&'a str>,
    pub tlp: &'a str,
    pub tags: &'a str,
    pub adversary: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
    pub created_by: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Metadata an analyst may change after the commit.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = ev)]
pub struct EventChanges<'a> {
    pub title: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub happened_at: Option<Option<i64>>,
    pub description: Option<Option<&'a str>>,
    pub tlp: Option<&'a str>,
    pub tags: Option<&'a str>,
    pub adversary: Option<Option<&'a str>>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = er)]
pub struct RecipientRow {
    pub event_id: i64,
    pub address: String,
    pub role: String,
    pub import_id: Option<i64>,
    pub added_at: i64,
}

/// The event this report belongs to: same Message-ID, else same fingerprint.
pub fn find_match(
    conn: &mut DbConn,
    message_id: Option<&str>,
    fingerprint: Option<&str>,
) -> Result<Option<EventRow>, DbError> {
    if let Some(mid) = message_id {
        let found = with_conn!(conn, c => ev::table
            .filter(ev::message_id.eq(mid))
            .select(EventRow::as_select())
            .get_result(c)
            .optional())?;
        if found.is_some() {
            return Ok(found);
        }
    }
    if let Some(fp) = fingerprint {
        return Ok(with_conn!(conn, c => ev::table
            .filter(ev::fingerprint.eq(fp))
            .select(EventRow::as_select())
            .get_result(c)
            .optional())?);
    }
    Ok(None)
}

/// Inserts an event; `None` when another commit inserted the same Message-ID or fingerprint
/// first (the caller then joins that event).
pub fn insert(conn: &mut DbConn, new: &NewEvent<'_>) -> Result<Option<EventRow>, DbError> {
    Ok(with_conn!(conn, c => diesel::insert_into(ev::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(EventRow::as_returning())
        .get_result(c)
        .optional())?)
}

pub fn get(conn: &mut DbConn, id: i64) -> Result<Option<EventRow>, DbError> {
    Ok(with_conn!(conn, c => ev::table.find(id).select(EventRow::as_select()).get_result(c).optional())?)
}

pub fn update(conn: &mut DbConn, id: i64, changes: &EventChanges<'_>) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(ev::table.find(id)).set(changes).execute(c))?;
    Ok(())
}

pub fn touch(conn: &mut DbConn, id: i64, now: i64) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(ev::table.find(id)).set(ev::updated_at.eq(now)).execute(c))?;
    Ok(())
}

/// Events newest first, keyset-paged by id; optionally only those linked to an indicator.
pub fn list(
    conn: &mut DbConn,
    indicator: Option<i64>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, DbError> {
    Ok(with_conn!(conn, c => {
        let mut q = ev::table.select(EventRow::as_select()).order(ev::id.desc()).limit(limit).into_boxed();
        if let Some(indicator) = indicator {
            q = q.filter(ev::id.eq_any(ie::table.filter(ie::indicator_id.eq(indicator)).select(ie::event_id)));
        }
        if let Some(before) = before {
            q = q.filter(ev::id.lt(before));
        }
        q.load(c)
    })?)
}

/// Adds recipients (or reporters); an address already on the event is kept as it was.
pub fn add_recipients(
    conn: &mut DbConn,
    event_id: i64,
    import_id: i64,
    people: &[(String, &str)],
    now: i64,
) -> Result<usize, DbError> {
    let rows: Vec<_> = people
        .iter()
        .map(|(address, role)| {
            (
                er::event_id.eq(event_id),
                er::address.eq(address.as_str()),
                er::role.eq(*role),
                er::import_id.eq(Some(import_id)),
                er::added_at.eq(now),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(
        with_conn!(conn, c => diesel::insert_into(er::table).values(&rows).on_conflict_do_nothing().execute(c))?,
    )
}

pub fn recipients(conn: &mut DbConn, event_id: i64) -> Result<Vec<RecipientRow>, DbError> {
    Ok(with_conn!(conn, c => er::table
        .filter(er::event_id.eq(event_id))
        .order(er::address.asc())
        .select(RecipientRow::as_select())
        .load(c))?)
}

/// Distinct recipients per event, for lists.
pub fn recipient_counts(conn: &mut DbConn, event_ids: &[i64]) -> Result<Vec<(i64, i64)>, DbError> {
    Ok(with_conn!(conn, c => er::table
        .filter(er::event_id.eq_any(event_ids))
        .group_by(er::event_id)
        .select((er::event_id, diesel::dsl::count_star()))
        .load(c))?)
}

pub fn record_share(
    conn: &mut DbConn,
    event_id: i64,
    collection_id: &str,
    report_stix_id: &str,
    by: &str,
    now: i64,
) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::insert_into(es::table)
        .values((
            es::event_id.eq(event_id),
            es::collection_id.eq(collection_id),
            es::report_stix_id.eq(report_stix_id),
            es::shared_by.eq(by),
            es::shared_at.eq(now),
        ))
        .on_conflict((es::event_id, es::collection_id))
        .do_update()
        .set((es::shared_by.eq(by), es::shared_at.eq(now)))
        .execute(c))?;
    Ok(())
}

/// Where an event was shared: (collection id, report id, when).
pub fn shares(conn: &mut DbConn, event_id: i64) -> Result<Vec<(String, String, i64)>, DbError> {
    Ok(with_conn!(conn, c => es::table
        .filter(es::event_id.eq(event_id))
        .select((es::collection_id, es::report_stix_id, es::shared_at))
        .load(c))?)
}

/// The report id an event already has in a collection (re-sharing makes a new version of it).
pub fn share_of(conn: &mut DbConn, event_id: i64, collection_id: &str) -> Result<Option<String>, DbError> {
    Ok(with_conn!(conn, c => es::table
        .filter(es::event_id.eq(event_id))
        .filter(es::collection_id.eq(collection_id))
        .select(es::report_stix_id)
        .get_result(c)
        .optional())?)
}

/// The event whose STIX grouping has this id.
pub fn by_stix_id(conn: &mut DbConn, stix_id: &str) -> Result<Option<EventRow>, DbError> {
    Ok(with_conn!(conn, c => ev::table
        .filter(ev::stix_id.eq(stix_id))
        .select(EventRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Events by id (those that exist), ascending.
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<EventRow>, DbError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(400) {
        out.extend(with_conn!(conn, c => ev::table
            .filter(ev::id.eq_any(chunk))
            .order(ev::id.asc())
            .select(EventRow::as_select())
            .load(c))?);
    }
    Ok(out)
}
