//! TAXII status resources: one row per request, one detail row per object. Counts are derived
//! from the detail rows, so success + failure + pending = total by construction.

use diesel::prelude::*;

use super::schema::{taxii_pending, taxii_status, taxii_status_details};
use super::{DbConn, DbError, with_conn};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = taxii_status)]
pub struct StatusRow {
    pub id: String,
    pub collection_id: String,
    pub user_id: Option<i64>,
    pub status: String,
    pub request_timestamp: i64,
    pub total_count: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = taxii_status_details)]
pub struct DetailRow {
    pub status_id: String,
    pub position: i64,
    pub stix_id: String,
    pub version: String,
    pub outcome: String,
    pub message: Option<String>,
}

/// An object waiting to be stored by the background worker.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = taxii_pending)]
pub struct PendingRow {
    pub status_id: String,
    pub position: i64,
    pub collection_id: String,
    pub json: String,
}

/// Stores a status resource, its details and any pending objects in one transaction; removes
/// expired statuses first.
pub fn insert(
    conn: &mut DbConn,
    status: &StatusRow,
    details: &[DetailRow],
    pending: &[PendingRow],
) -> Result<(), DbError> {
    with_conn!(conn, c => c.transaction::<_, DbError, _>(|c| {
        diesel::delete(taxii_status::table.filter(taxii_status::expires_at.lt(status.request_timestamp)))
            .execute(c)?;
        diesel::insert_into(taxii_status::table).values(status).execute(c)?;
        for chunk in details.chunks(500) {
            diesel::insert_into(taxii_status_details::table).values(chunk).execute(c)?;
        }
        for chunk in pending.chunks(500) {
            diesel::insert_into(taxii_pending::table).values(chunk).execute(c)?;
        }
        Ok(())
    }))
}

/// The next pending objects of a status, in request order.
pub fn pending(conn: &mut DbConn, status_id: &str, limit: i64) -> Result<Vec<PendingRow>, DbError> {
    Ok(with_conn!(conn, c => taxii_pending::table
        .filter(taxii_pending::status_id.eq(status_id))
        .order(taxii_pending::position.asc())
        .limit(limit)
        .select(PendingRow::as_select())
        .load(c))?)
}

/// Statuses that still have pending objects (to resume after a restart).
pub fn unfinished(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    Ok(with_conn!(conn, c => taxii_pending::table
        .select(taxii_pending::status_id)
        .distinct()
        .load(c))?)
}

/// Marks a status complete once nothing is pending.
pub fn finish(conn: &mut DbConn, status_id: &str) -> Result<(), DbError> {
    with_conn!(conn, c => diesel::update(taxii_status::table.find(status_id))
        .set(taxii_status::status.eq("complete"))
        .execute(c))?;
    Ok(())
}

/// A status resource with its details in position order, unless expired.
pub fn get(conn: &mut DbConn, id: &str, now: i64) -> Result<Option<(StatusRow, Vec<DetailRow>)>, DbError> {
    with_conn!(conn, c => {
        let status: Option<StatusRow> = taxii_status::table
            .find(id)
            .filter(taxii_status::expires_at.ge(now))
            .select(StatusRow::as_select())
            .get_result(c)
            .optional()?;
        let Some(status) = status else { return Ok(None) };
        let details = taxii_status_details::table
            .filter(taxii_status_details::status_id.eq(id))
            .order(taxii_status_details::position.asc())
            .select(DetailRow::as_select())
            .load(c)?;
        Ok(Some((status, details)))
    })
}
