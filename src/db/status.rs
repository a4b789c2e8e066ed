//! TAXII status resources: one row per request, one detail row per object. Counts are derived
//! from the detail rows, so success + failure + pending = total by construction.

use diesel::prelude::*;

use super::schema::{taxii_status, taxii_status_details};
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

/// Stores a status resource and its details in one transaction; removes expired ones first.
pub fn insert(conn: &mut DbConn, status: &StatusRow, details: &[DetailRow]) -> Result<(), DbError> {
    with_conn!(conn, c => c.transaction::<_, DbError, _>(|c| {
        diesel::delete(taxii_status::table.filter(taxii_status::expires_at.lt(status.request_timestamp)))
            .execute(c)?;
        diesel::insert_into(taxii_status::table).values(status).execute(c)?;
        for chunk in details.chunks(500) {
            diesel::insert_into(taxii_status_details::table).values(chunk).execute(c)?;
        }
        Ok(())
    }))
}

/// A status resource with its details in position order, unless expired.
pub fn get(conn: &mut DbConn, id: &str, now: i64) -> Result<Option<(StatusRow, Vec<DetailRow>)>, DbError> {
    with_conn!(conn, c => {
        let status: Option<StatusRow> = taxii_status::table
            .find(id)
            .filter(taxii_status::expires_at.ge(now))
            .select(StatusRow::as_select())
            .first(c)
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
